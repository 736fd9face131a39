"""The fix for chord-unlock-unconsumed: the worker also consumes the callback's queue (-Q execution,reports)."""

import dataclasses

from lab import Worker
from chord_unlock_unconsumed import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="chord-unlock-unconsumed-fixed",
    description="as chord-unlock-unconsumed, with the worker on -Q execution,reports",
    expect="completed",
    expect_cause=None,
    fix=None,
    workers=(Worker("w1", queues=("execution", "reports"), concurrency=2),),
)
