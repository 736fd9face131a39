"""``lab attach``: the lab's flow against a topology it did not start.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lab.errors import LabError
from lab.experiments.attach import attach
from lab.scenario import load


@click.command("attach")
@click.argument("scenario")
@click.option("--app-spec", "spec_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The JSON app spec the workers run with (their LAB_APP).")
@click.option("--seed", type=int, default=None)
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def attach_cmd(scenario: str, spec_path: Path, seed: int | None, as_json: bool) -> None:
    """Send SCENARIO's chords into a topology that is already running, and judge them."""
    import sys

    from lab.views.console import EXIT, ConsoleReporter, json_line, out, print_proof, verdict_table

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
