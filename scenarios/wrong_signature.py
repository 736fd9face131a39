"""The origin's first error: the callback takes fewer positional arguments than the chord passes.

Catalog claim: confirmed. FAILURE `ChordError('Callback error: TypeError(...)')`: the worker's `callback.delay()` checks the arguments before publishing, so the callback never runs and never reads PENDING.

``collect_results(self, results)`` is given ``(results, test_run_id)``:
``TypeError: collect_results() takes 2 positional arguments but 3 were given``.
Our reading of the source says the callback's state becomes FAILURE, not
PENDING: the run proves which.  Fix: ``route-glob-mismatch-fixed`` (the
signature with ``test_run_id``).
"""

from lab import Chord, Scenario, Worker

PKG = "lab.apps.origin"

scenario = Scenario(
    name="wrong-signature",
    description="the callback takes (self, results) but the chord passes (results, test_run_id)",
    expect="failed",
    mechanism="6",
    fix="route-glob-mismatch-fixed",
    tasks=(f"{PKG}.tasks", f"{PKG}.tasks.execution.wrong_signature"),
    workers=(Worker("worker", concurrency=4),),
    chords=(Chord(
        header=3,
        duration=0.05,
        header_task=f"{PKG}.tasks.execute_single_test",
        callback=f"{PKG}.tasks.execution.results.collect_results",
        callback_args=("1d91af11-b9bc-48b4-be0b-5d11aa4597ca",),
    ),),
)
