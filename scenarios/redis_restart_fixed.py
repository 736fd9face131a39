"""The fix for redis-restart: persistence (here a SAVE before the restart), so the chord keys survive.

The worker's broker connection drops and comes back after its 2 s retry;
the parts return into a backend that still has ``.s``, and the chord
completes once the worker consumes again.
"""

import dataclasses

from lab import Fault
from redis_restart import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="redis-restart-fixed",
    description="the same restart, with persistence: the data survives",
    expect="completed",
    expect_cause=None,
    fix=None,
    faults=(Fault("restart-redis", trigger="after-parts-started", delay=0.2, options={"persist": True}),),
)
