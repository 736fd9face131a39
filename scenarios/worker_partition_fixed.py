"""The fix for ``worker-partition``: a callback publish that outlasts the partition.

The same partition from the broker while the last part returns, with
``task_publish_retry_policy`` retrying 30 times, at most 1 s apart (each
attempt also spends its own reconnects, 4 to 6 s): the publish waits out the
40 s partition, and the callback is published once the network heals.
Runs on both runtimes, cut as in ``worker-partition`` (``docker network
disconnect``, or the worker's own partition proxy).
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="worker-partition-fixed",
    description="the same partition, with publish retries that outlast it: the callback is published after the heal "
                "(both runtimes)",
    expect="completed",
    config={"task_publish_retry_policy": {"max_retries": 30, "interval_start": 0, "interval_step": 0.5,
                                          "interval_max": 1.0}},
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=(0.2, 0.2, 3.0)),),
    faults=(Fault("partition-worker", target="w1", trigger="after-parts-started", delay=1.0,
                  options={"from": "broker", "for": 40.0}),),
    settle=15.0,
)
