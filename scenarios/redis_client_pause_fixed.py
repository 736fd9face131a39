"""The fix for redis-client-pause: a socket timeout longer than any stall (Celery's default, 120 s).

The same 3 s pause: the part returns wait it out and the chord completes.
"""

import dataclasses

from redis_client_pause import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="redis-client-pause-fixed",
    description="the same pause, with the result backend's default socket timeout (120 s)",
    expect="completed",
    expect_cause=None,
    fix=None,
    config={},
)
