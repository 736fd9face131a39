"""Mechanism 15 by ``noeviction``: Redis refuses writes once full.

Catalog claim: confirmed ("OOM errors instead"; "counted as failed", and once
"lost"). Nothing is evicted; storing each part's result fails with
``OutOfMemoryError`` (``command not allowed when used memory > 'maxmemory'``),
Celery treats that as the part failing, and once the filler is deleted the
chord fails with ``ChordError('Dependency … raised OutOfMemoryError')``: loud,
not stuck, in 19 of 20 runs.  In the other run the worker that claimed the
dispatch (``.c``) hit OOM storing that failure, so the chord stayed PENDING
(``part-return-error``).

Fix: ``redis-eviction-fixed``.
"""

import dataclasses

from redis_eviction import scenario as base

scenario = dataclasses.replace(
    base,
    name="redis-eviction-noeviction",
    description="maxmemory 4 MB, noeviction: large results fill Redis and the parts' writes are refused",
    expect="failed",
    expect_cause="header-part-failed",
    redis_options={"maxmemory": "4mb", "maxmemory-policy": "noeviction"},
)
