"""A worker loses the broker mid-header, then comes back (both runtimes).

The worker ``w1`` runs the whole header.  While its slowest part runs, the
nemesis cuts ``w1`` off from the broker for 40 s; the result backend stays
reachable.  The docker runtime cuts with ``docker network disconnect`` of the
run's broker network; the process runtime with ``w1``'s own partition proxy in
front of the broker, which resets every open connection and every new one
(``lab.runtime.process.partition_proxy``).  The part
returns during the partition: its result and its part return reach the
backend, the chord's count completes, and this worker must publish the
callback, to a broker it cannot reach.  Celery retries the publish per
``task_publish_retry_policy`` (3 retries within a second by default), gives up,
and marks the callback FAILURE with ``ChordError('Callback error: ...')``.  The
partition then heals and the worker reconnects, but the chord has failed.
Why 40 s: Celery 5.7.0 makes the callback publish 4 attempts, each kombu's
connection retries (at 0, 2 and 6 s under ``broker_connection_timeout`` 4 s, a
bound checked only after a connect fails).  A connect refused at once (the
proxy) costs 6 s an attempt, so the publish gives up about 26 s after the cut;
the docker runtime's failing name lookups, about 4 s an attempt (17 s).  With
the 25 s this scenario first had, 5.7.0 outlasted the partition on the process
runtime and the chord completed; 40 s outlasts the publish on both runtimes and
on every release from 5.3.0.
Fix: ``worker-partition-fixed``.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="worker-partition",
    description="w1 is cut off from the broker while its last header part returns: the callback publish fails "
                "(both runtimes: docker network disconnect, or a proxy that resets)",
    expect="failed",
    expect_cause="callback-publish-error",
    fix="worker-partition-fixed",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=(0.2, 0.2, 3.0)),),
    faults=(Fault("partition-worker", target="w1", trigger="after-parts-started", delay=1.0,
                  options={"from": "broker", "for": 40.0}),),
    settle=15.0,
)
