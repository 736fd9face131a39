"""Mechanism 6, variant: the stale worker has the callback, with its old signature.

Catalog claim: confirmed. The stale callback runs and raises TypeError; the state is FAILURE.

The chord passes ``collect.s(run_id)``: the current callback takes
``(results, *extra)``, the stale one ``(results)`` only.  A callback the stale
worker takes raises ``TypeError`` and the chord's result is FAILURE: not stuck.
"""

import dataclasses

from lab import Chord, Worker
from multiple_workers import scenario as base

scenario = dataclasses.replace(
    base,
    name="multiple-workers-old-signature",
    description="two workers consume 'reports'; the stale one has the callback with its old signature",
    expect="failed",
    expect_cause=None,
    workers=(
        Worker("current", queues=("execution", "reports"), concurrency=1),
        Worker("stale", queues=("reports",), concurrency=1, tasks=("lab.apps.stale_signature",)),
    ),
    chords=(Chord(header=2, duration=0.02, count=8, callback_args=("run-42",)),),
)
