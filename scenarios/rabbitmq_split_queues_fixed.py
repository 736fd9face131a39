"""The fix for rabbitmq-split-queues: the worker also consumes the callback's queue."""

import dataclasses

from lab import Worker
from rabbitmq_split_queues import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="rabbitmq-split-queues-fixed",
    description="as rabbitmq-split-queues, with the worker on -Q execution,reports",
    expect="completed",
    expect_cause=None,
    fix=None,
    workers=(Worker("w1", queues=("execution", "reports"), concurrency=2),),
)
