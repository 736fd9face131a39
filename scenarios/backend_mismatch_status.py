"""Mechanism 11: the status check reads another database than the one the callback wrote to.

Catalog claim: confirmed ("PENDING as seen by the producer, even when the
callback ran"). The producer and the header's worker share db 1, so the chord
completes and the callback is sent; the worker that consumes ``reports`` and
runs the callback was deployed with db 2 and stores its SUCCESS there.  The
producer's ``AsyncResult.state`` reads db 1: PENDING, in every run, although
the ledger shows the callback ran.  Verdict ``unrecorded``.

Fix: ``backend-mismatch-fixed``.
"""

import dataclasses

from lab import Worker
from backend_mismatch import scenario as base

scenario = dataclasses.replace(
    base,
    name="backend-mismatch-status",
    description="the producer and the header's worker share db 1; the worker that runs the callback stores results in db 2",
    expect="unrecorded",
    config={"task_routes": {"lab.collect": {"queue": "reports"}}},
    workers=(Worker("w1", concurrency=3),
             Worker("reporter", queues=("reports",), concurrency=1, config={"result_backend": "redis://{redis}/2"})),
)
