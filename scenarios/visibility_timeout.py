"""Mechanism 8: ``acks_late`` parts that run longer than the Redis broker's ``visibility_timeout``.

Catalog claim: confirmed in part, on Celery 5.7. Duplicate executions happen
in every run: each 2.5 s part is still unacknowledged after the 1 s
visibility timeout, so the worker's own restore sweep puts it back in the
queue and it runs again, some parts three times.  The callback does *not* get
a result missing or one twice: 5.7 de-duplicates part returns (``.d``) and
every callback run received exactly the oracle's results.  But the callback
is an ``acks_late`` task too, waits for a free pool slot behind the
duplicates, is redelivered in turn, and runs more than once: verdict
``duplicated``.  (The same scenario on an older 5.x without de-duplication
waits for the version matrix.)

Fix: ``visibility-timeout-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="visibility-timeout",
    description="acks_late parts run 2.5 s on a Redis broker whose visibility_timeout is 1 s",
    expect="duplicated",
    expect_cause="message-redelivered",
    mechanism="8",
    fix="visibility-timeout-fixed",
    config={"task_acks_late": True, "worker_prefetch_multiplier": 1,
            "broker_transport_options": {"visibility_timeout": 1, "unacked_restore_interval": 0.5,
                                         "unacked_restore_throttle": 1}},
    workers=(Worker("w1", concurrency=4),),
    chords=(Chord(header=3, duration=2.5),),
    settle=8.0,
)
