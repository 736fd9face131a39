"""The ``exclude-queue`` topology without ``-X celery``: the worker consumes both queues and the chords complete."""

import dataclasses

from exclude_queue import scenario as base

from lab import Worker

scenario = dataclasses.replace(
    base,
    name="exclude-queue-fixed",
    description="the same worker without -X celery: it consumes 'execution' and 'celery'",
    expect="completed",
    expect_cause=None,
    fix=None,
    workers=(Worker("w1", concurrency=2, argv="-Q execution,celery --prefetch-multiplier 1 -O fair"),),
)
