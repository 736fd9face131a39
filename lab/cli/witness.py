"""``lab witness [SCENARIO ...]``: each scenario under the file ledger and under the flight recorder, compared.
"""

from __future__ import annotations

import json
import sys

import click

from lab.views.console import out


@click.command("witness")
@click.argument("scenarios", nargs=-1)
@click.option("--seed", type=int, default=0, show_default=True, help="The seed of both runs of every scenario.")
@click.option("--store", type=click.Choice(["own", "broker"]), default="own", show_default=True,
              help="The recorder's stream: on a redis-server of the run's own, or on the scenario's (db 15), "
                   "as a user's recorder on the broker.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def witness_cmd(scenarios: tuple[str, ...], seed: int, store: str, as_json: bool) -> None:
    """Run each SCENARIO (default: every one) witnessed by the lab's file ledger, then by the flight recorder
    (lab.recorder) with the same seed, and compare the verdicts chord by chord.  Both runs are recorded
    (to $LAB_CAMPAIGN, else the next <date>-<n>-witness campaign); `lab report` shows the comparison.
    Exit 0 when every chord agrees, 1 when one does not, 2 when no scenario could run."""
    from lab.experiments.witness import witness_rows
    from lab.scenario import load, scenario_paths

    names = list(scenarios) or list(scenario_paths())
    for name in names:
        load(name)  # an unknown name or a broken scenario: one sentence, before anything runs

    def show(r: dict) -> None:
        if "skipped" in r:
            out.print(f"{r['scenario']:34} [yellow]skipped[/]: {r['skipped']}", soft_wrap=True)
            return
        same = r["agree"] == r["chords"]
        ledger = ", ".join(sorted(set(r["ledger"])))
        out.print(f"{r['scenario']:34} ledger {ledger:44} recorder "
                  + ("[green]same[/]" if same else f"[red]{', '.join(sorted(set(r['recorder'])))}[/]")
                  + f"  {r['agree']}/{r['chords']}  [dim]{r['elapsed_s']} s[/]", soft_wrap=True)
        for d in r["disagreements"]:
            out.print(f"    chord {d['chord']}: ledger {d['ledger']}, recorder {d['recorder']} "
                      f"[dim](events: ledger {r['events']['ledger']}, recorder {r['events']['recorder']})[/]", soft_wrap=True)

    result = witness_rows(names, seed=seed, on_row=show, recorder="recorder" if store == "own" else "recorder-broker")
    sm = result["summary"]
    out.print(f"\n{sm['ran']} of {sm['scenarios']} scenario(s) ran under both witnesses: {sm['agree']}/{sm['chords']} chords "
              f"agree; {len(sm['disagreements'])} disagreement(s); {len(sm['skipped'])} skipped. "
              f"Campaign {result['campaign']}.", soft_wrap=True)
    for d in sm["disagreements"]:
        out.print(f"  [red]disagreement[/]: {d}", soft_wrap=True)
    if as_json:
        sys.stdout.flush()
        print(json.dumps({"campaign": result["campaign"], "summary": sm, "rows": result["rows"]}, default=repr), flush=True)
    sys.exit(2 if not sm["ran"] else (1 if sm["disagreements"] else 0))
