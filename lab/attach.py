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

import json
import random
from pathlib import Path
from typing import Any

import click

from lab.errors import LabError
from lab.runtime.attached import spec_for  # noqa: F401 (lab.attach.spec_for: the spec a container worker runs with)
from lab.scenario import Scenario, load

def attach(scenario: Scenario, spec: dict[str, Any], *, seed: int | None = None, reporter=None,
           scenario_ref: str | None = None):
    """Send ``scenario``'s chords into the running topology ``spec`` names, judge and record them."""
    from lab.run import Reporter, exercise
    from lab.runtime.attached import AttachedRuntime
    from lab.runtime.base import lifecycle

    rep = reporter or Reporter()
    seed = seed if seed is not None else random.randrange(2**31)
    with lifecycle(scenario, AttachedRuntime(spec), on_step=rep.step) as run:
        result = exercise(run.system, seed=seed, reporter=rep, scenario_ref=scenario_ref, started_at=run.started_at)
        run.recorded = True
    return result


@click.command("attach")
@click.argument("scenario")
@click.option("--app-spec", "spec_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The JSON app spec the workers run with (their LAB_APP).")
@click.option("--seed", type=int, default=None)
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def attach_cmd(scenario: str, spec_path: Path, seed: int | None, as_json: bool) -> None:
    """Send SCENARIO's chords into a topology that is already running, and judge them."""
    import sys

    from lab.views import EXIT, ConsoleReporter, json_line, out, print_proof, verdict_table

    s = load(scenario)
    try:
        spec = json.loads(spec_path.read_text())
        missing = {"broker_url", "result_backend", "config", "tasks", "ledger_dir"} - set(spec)
    except ValueError as e:
        raise LabError(f"{spec_path} is not JSON ({e}): give the app spec the workers were started with.") from None
    if missing:
        raise LabError(f"{spec_path} lacks {', '.join(sorted(missing))}: give the app spec the workers were started with.")
    rep = ConsoleReporter(out)
    rep.step(f"waiting for {len(s.workers)} worker(s) on {spec['broker_url']}")
    try:
        result = attach(s, spec, seed=seed, reporter=rep, scenario_ref=scenario)
    finally:
        rep.done()
    out.print(verdict_table(result.record["verdicts"]))
    print_proof(out, result.record["verdicts"])
    out.print(f"\n{result.outcome['status']}: expected {s.expect}; recorded as {result.record['run_id']}")
    if as_json:
        sys.stdout.flush()
        print(json_line(result.record, result.outcome), flush=True)
    sys.exit(EXIT[result.outcome["status"]])
