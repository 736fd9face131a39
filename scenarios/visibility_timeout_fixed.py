"""The fix for visibility-timeout: a ``visibility_timeout`` (30 s) longer than any part, countdown or ETA."""

import dataclasses

from visibility_timeout import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="visibility-timeout-fixed",
    description="as visibility-timeout, with a visibility_timeout (30 s) longer than any part",
    expect="completed",
    expect_cause=None,
    fix=None,
    config={"task_acks_late": True, "worker_prefetch_multiplier": 1,
            "broker_transport_options": {"visibility_timeout": 30, "unacked_restore_interval": 0.5,
                                         "unacked_restore_throttle": 1}},
)
