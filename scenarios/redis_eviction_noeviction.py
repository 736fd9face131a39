"""Mechanism 15 by ``noeviction``: Redis refuses writes once full, and the chord stays PENDING.

Catalog claim: confirmed ("OOM errors instead"; "counted as failed", and once
"lost"), with the outcome decided by how long Redis stays full.  Nothing is
evicted; every write of a part's result is refused with ``OutOfMemoryError``
(``command not allowed when used memory > 'maxmemory'``).  Celery handles the
refused ``mark_as_done`` as the task failing (``app/trace.py``: the store error
is raised outside the body, so ``handle_failure`` runs), but storing that
FAILURE is refused too, and ``mark_as_failure`` counts the part
(``on_chord_part_return``) only after its store succeeded.  The backend's
``ensure()`` retries connection errors only, never OOM.  So while Redis stays
full no part is counted: ``.s`` holds 3, ``.j`` stays short, the callback has
no meta and reads PENDING, and the only trace is the workers' OOM log lines
(``part-return-error``).

Here the filler stays for 2 s (``for``), past the parts' end and their failure
writes.  Earlier runs deleted it as soon as the parts had ended, a few
milliseconds into those writes: then a later write could land, and the chord
failed with ``ChordError('Dependency … raised OutOfMemoryError')`` in most
runs and stayed PENDING in some (the sweep on 2026-12-01 showed both, on old
and new code alike).  A Redis that is full in production stays full, so the
honest outcome is stuck.

Fix: ``redis-eviction-fixed``.
"""

import dataclasses

from redis_eviction import scenario as base

from lab import Fault

scenario = dataclasses.replace(
    base,
    name="redis-eviction-noeviction",
    description="maxmemory 4 MB, noeviction: Redis stays full while the parts return, so their results and failures are refused",
    expect="stuck",
    expect_cause="part-return-error",
    redis_options={"maxmemory": "4mb", "maxmemory-policy": "noeviction"},
    faults=(Fault("fill-redis", trigger="after-parts-started", delay=0.2,
                  options={"db": 1, "limit": 150, "prefix": "celery-task-meta-filler-", "for": 2.0}),),
)
