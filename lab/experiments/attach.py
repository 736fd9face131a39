"""Attach: exercise a topology that someone else started (containers, a staging box).

    scenario → (topology already up) → chords sent → observations → verdict with proof → record

``python -m lab attach SCENARIO --app-spec spec.json`` takes the same JSON app
spec the workers were started with (``LAB_APP``): broker and backend URLs, the
Celery config, the task modules and the ledger folder, which must be shared
with the workers (a volume).  It waits, by ping, until the scenario's workers
answer, then sends the chords and judges them exactly as a local run does.
It starts and stops nothing, and it refuses scenarios with faults: a nemesis
needs to own the processes it breaks.
"""

from __future__ import annotations

import random
from typing import Any


from lab.runtime.attached import spec_for  # noqa: F401 (lab.experiments.attach.spec_for: the spec a container worker runs with)
from lab.scenario import Scenario

def attach(scenario: Scenario, spec: dict[str, Any], *, seed: int | None = None, reporter=None,
           scenario_ref: str | None = None):
    """Send ``scenario``'s chords into the running topology ``spec`` names, judge and record them."""
    from lab.experiments.run import Reporter, exercise
    from lab.runtime.attached import AttachedRuntime
    from lab.runtime.base import lifecycle

    rep = reporter or Reporter()
    seed = seed if seed is not None else random.randrange(2**31)
    with lifecycle(scenario, AttachedRuntime(spec), on_step=rep.step) as run:
        result = exercise(run.system, seed=seed, reporter=rep, scenario_ref=scenario_ref, started_at=run.started_at)
        run.recorded = True
    return result


