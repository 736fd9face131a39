"""Mechanism 2, defaulted: only the header is routed; ``celery.chord_unlock`` goes to the default queue.

Catalog claim: confirmed. The callback has no route, so chord_unlock (routed
like the callback) goes to ``celery``; the worker runs with ``-Q execution``
only.  The same silence as ``chord-unlock-unconsumed``, with no route in
sight to blame.  Fix: ``chord-unlock-unconsumed-fixed`` (consume the queue the
callback routes to).
"""

import dataclasses

from chord_unlock_unconsumed import scenario as base

scenario = dataclasses.replace(
    base,
    name="chord-unlock-unconsumed-default",
    description="database backend; only the header is routed (to 'execution'); chord_unlock defaults to 'celery', which no worker consumes",
    config={"task_routes": {"lab.part": {"queue": "execution"}}},
)
