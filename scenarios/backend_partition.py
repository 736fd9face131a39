"""A worker loses the result backend as a header part returns (both runtimes).

While the slowest part runs on ``w1``, the nemesis cuts ``w1`` off from the
result backend for 10 s; the broker stays reachable.  The docker runtime cuts
with ``docker network disconnect`` of the run's backend network; the process
runtime with ``w1``'s own partition proxy in front of the backend, which resets
every open connection and every new one (``lab.runtime.process.partition_proxy``).  The part returns during the partition.
Before ``on_chord_part_return``, ``store_result`` reads the task's meta (a GET
that Celery does not retry: only the SET behind it has a retry policy); redis-py
gives up on the unreachable backend within seconds, the pool child logs
"Exception raised outside body: ConnectionError", and the part return is never
made.  Marking the part failed needs the backend too: the pool child's attempt
and then the main process's ("Pool callback raised exception") fail the same
way.  The ledger says the part ended SUCCESS, yet the backend has neither its
meta nor its ``.j`` entry: the count stays one short of ``.s`` and the callback
never runs.  Seen here too: when the backend came back within a second of the
part's failure (a shorter partition), the main process recorded the failure
and the chord was marked FAILURE with ``ChordError('Dependency ... raised
ConnectionError')`` instead, so how long the partition lasts decides between
failed and stuck.
Fix: ``backend-partition-fixed``.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="backend-partition",
    description="w1 is cut off from the result backend while a header part returns: the part return is lost "
                "(both runtimes: docker network disconnect, or a proxy that resets)",
    expect="stuck",
    expect_cause="part-return-error",
    fix="backend-partition-fixed",
    mechanism="15",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=(0.2, 0.2, 3.0)),),
    faults=(Fault("partition-worker", target="w1", trigger="after-parts-started", delay=1.0,
                  options={"from": "backend", "for": 10.0}),),
    settle=10.0,
)
