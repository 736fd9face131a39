"""A worker loses the broker mid-header, then comes back (docker runtime only).

The worker ``w1`` runs the whole header.  While its slowest part runs, the
nemesis cuts ``w1`` off from the broker (``docker network disconnect`` of the
run's broker network; the result backend stays reachable) for 25 s.  The part
returns during the partition: its result and its part return reach the
backend, the chord's count completes, and this worker must publish the
callback, to a broker it cannot reach.  Celery retries the publish per
``task_publish_retry_policy`` (3 retries within a second by default), gives up,
and marks the callback FAILURE with ``ChordError('Callback error: ...')``.  The
partition then heals and the worker reconnects, but the chord has failed.
Fix: ``worker-partition-fixed``.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="worker-partition",
    description="(docker runtime) w1 is cut off from the broker while its last header part returns: the callback publish fails",
    expect="failed",
    expect_cause="callback-publish-error",
    fix="worker-partition-fixed",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=(0.2, 0.2, 3.0)),),
    faults=(Fault("partition-worker", target="w1", trigger="after-parts-started", delay=1.0,
                  options={"from": "broker", "for": 25.0}),),
    settle=15.0,
)
