"""The fix for ``worker-partition``: a callback publish that outlasts the partition.

The same partition from the broker while the last part returns, with
``task_publish_retry_policy`` retrying for up to about 30 s: the publish waits
out the 25 s partition, and the callback is published once the network heals.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="worker-partition-fixed",
    description="(docker runtime) the same partition, with publish retries that outlast it: the callback is published after the heal",
    expect="completed",
    config={"task_publish_retry_policy": {"max_retries": 30, "interval_start": 0, "interval_step": 0.5,
                                          "interval_max": 1.0}},
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=(0.2, 0.2, 3.0)),),
    faults=(Fault("partition-worker", target="w1", trigger="after-parts-started", delay=1.0,
                  options={"from": "broker", "for": 25.0}),),
    settle=15.0,
)
