"""Mechanism 11 by key prefix: the workers set ``global_keyprefix`` on the result backend, the producer does not.

Catalog claim: confirmed. Same Redis, same database: the producer writes
``celery-taskset-meta-<group>.s``, the workers count into
``worker:celery-taskset-meta-<group>.j`` and look for a ``.s`` under their
prefix, which nobody wrote.  Stuck in every run, silently.

Fix: ``backend-mismatch-fixed`` (the same backend settings everywhere).
"""

import dataclasses

from lab import Worker
from backend_mismatch import scenario as base

scenario = dataclasses.replace(
    base,
    name="backend-mismatch-prefix",
    description="the workers set global_keyprefix 'worker:' on the result backend; the producer does not",
    workers=(Worker("w1", concurrency=3, config={"result_backend_transport_options": {"global_keyprefix": "worker:"}}),),
)
