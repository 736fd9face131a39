"""The fix for the origin case: the worker consumes both queues (-Q execution,celery)."""

import dataclasses

from lab import Worker
from route_glob_mismatch import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="route-glob-mismatch-fixed",
    description="the origin case with the worker started as -Q execution,celery",
    expect="completed",
    expect_cause=None,
    fix=None,
    workers=(Worker("worker", queues=("execution", "celery"), concurrency=4),),
)
