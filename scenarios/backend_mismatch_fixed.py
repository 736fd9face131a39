"""The fix for backend-mismatch: the producer and every worker use the same result backend settings."""

import dataclasses

from lab import Worker
from backend_mismatch import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="backend-mismatch-fixed",
    description="the producer and the workers use the same result backend URL",
    expect="completed",
    expect_cause=None,
    fix=None,
    workers=(Worker("w1", concurrency=3),),
)
