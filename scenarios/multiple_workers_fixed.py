"""The fix for multiple-workers: the stale worker is redeployed with current code."""

import dataclasses

from lab import Worker
from multiple_workers import scenario as base

scenario = dataclasses.replace(
    base,
    name="multiple-workers-fixed",
    description="both workers on 'reports' run the current code",
    expect="completed",
    expect_cause=None,
    fix=None,
    workers=(
        Worker("current", queues=("execution", "reports"), concurrency=1),
        Worker("redeployed", queues=("reports",), concurrency=1),
    ),
)
