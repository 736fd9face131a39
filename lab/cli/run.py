"""``lab run SCENARIO``: one run end to end (``lab.experiments.run``), its verdicts and proof.
"""

from __future__ import annotations

import functools
import sys

import click

from lab.errors import LabSetupError
from lab.scenario import load
from lab.scenario.model import judged_by_oracle
from lab.views.console import EXIT, ConsoleReporter, json_line, out, print_proof, verdict_table


@click.command()
@click.argument("scenario", required=False)
@click.option("--seed", type=int, default=None, help="Seed for chord values; recorded, and replayable.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
@click.option("--runs", type=click.IntRange(1, 1000), default=1, help="Run it this many times (seeds seed, seed+1, ...).")
@click.option("--celery", "celery_versions", default=None, metavar="VERSIONS",
              help="Run it on each of these Celery versions (5.4 = latest 5.4.x, 5.3.6 = exactly), each in its own environment.")
@click.option("--runtime", type=click.Choice(["process", "docker"]), default="process", show_default=True, envvar="LAB_RUNTIME",
              help="Run the topology as local processes, or as containers (needs a Docker engine).")
@click.option("--app", "user_app", default=None, metavar="PKG.MODULE:APP",
              help="Your own Celery app (as `celery -A` takes it): run your topology instead of a scenario.")
@click.option("--worker", "worker_lines", multiple=True, metavar="LINE",
              help="With --app: a worker command line as you start it (`celery -A pkg:app worker -Q celery`); repeat per worker.")
@click.option("--canvas", default=None, metavar="PKG.MODULE:FUNC",
              help="With --app: a function that builds (does not send) the chord(s) to send, from your tasks.")
@click.option("--stand-ins", is_flag=True, help="With --app: replace your tasks' bodies with stand-ins of the same signature.")
@click.option("--witness", type=click.Choice(["ledger", "recorder", "recorder-broker"]), default="ledger", show_default=True,
              help="What records the events the judge reads: the lab's file ledger, or the flight recorder "
                   "(lab.recorder) on a redis-server of the run's own (recorder) or on the scenario's (recorder-broker).")
def run(scenario: str | None, seed: int | None, as_json: bool, runs: int, celery_versions: str | None, runtime: str,
        user_app: str | None, worker_lines: tuple[str, ...], canvas: str | None, stand_ins: bool, witness: str) -> None:
    """Bring SCENARIO's topology up, send its chords, print verdicts with proof, and record the run.

    SCENARIO is a name from `lab list` or a path to a scenario script.  Or give your own project instead:
    --app, one --worker per worker command line, and --canvas (with --stand-ins for tasks that need your database)."""
    if user_app is None and (worker_lines or canvas or stand_ins):
        raise click.UsageError("--worker, --canvas and --stand-ins go with --app (your own project).")
    if user_app is not None and (scenario or celery_versions):
        raise click.UsageError("--app runs your own project: give no SCENARIO and no --celery with it.")
    if user_app is not None and not canvas:
        raise click.UsageError("--app needs --canvas PKG.MODULE:FUNC, the function that builds the chord(s) to send.")
    if user_app is None and not scenario:
        raise click.UsageError("give a SCENARIO (a name from `lab list`, or a script), or --app with --canvas.")
    if celery_versions is not None and runtime != "process":
        raise click.UsageError("--celery runs each version in a local environment; drop --runtime docker to use it.")
    if witness != "ledger" and celery_versions is not None:
        raise click.UsageError(f"--witness {witness} runs on this lab's Celery only; drop --celery to use it.")
    if witness != "ledger" and runtime != "process":
        raise click.UsageError(f"--witness {witness} needs the run's redis-servers as local processes; "
                               "drop --runtime docker to use it.")
    if celery_versions is not None:  # the version matrix for one scenario: lab/experiments/matrix.py
        from lab.experiments.matrix import run_across_versions

        sys.exit(run_across_versions(scenario, celery_versions, seed, as_json, runs))
    if user_app is not None:
        from lab.experiments.user_app import replay_args, scenario_for_app

        s, notes = scenario_for_app(user_app, list(worker_lines), canvas, stand_ins=stand_ins)
        scenario = replay_args(user_app, list(worker_lines), canvas, stand_ins)
        for note in notes:
            out.print(f"[dim]{note}[/dim]")
    else:
        s = load(scenario)
    statuses = []
    for i in range(runs):
        rep = ConsoleReporter(out)
        out.print(f"[bold]{s.name}[/bold]: {s.description}")
        out.print(f"[dim]{s.summary()}; expects {s.expect}[/dim]")
        from lab.experiments.run import run_scenario  # imported here: doctor and audit start faster without it

        runner = functools.partial(run_scenario, witness=witness)
        if judged_by_oracle(s):  # a canvas of the fuzzer's tasks: judged by the oracle computed from it
            if witness != "ledger":
                raise LabSetupError(f"scenario {s.name!r} is a canvas run by the fuzzer's session, which follows the file "
                                    f"ledger only: run it without --witness {witness}.")
            try:
                from lab.experiments.canvas_run import run_canvas_scenario  # the fuzzer's stack (hypothesis): only then
            except ImportError as e:
                raise LabSetupError(f"scenario {s.name!r} is a canvas judged by the fuzzer's oracle, which needs {e.name}; "
                                    "install the lab's lock file (requirements.lock) in this environment.") from None

            runner = run_canvas_scenario
        try:
            result = runner(s, seed=None if seed is None else seed + i, reporter=rep, scenario_ref=scenario,
                                  runtime=runtime)
        finally:
            rep.done()
        rec = result.record
        out.print(verdict_table(rec["verdicts"]))
        print_proof(out, rec["verdicts"])
        o = result.outcome
        style = {"matched": "green", "mismatched": "red", "unknown": "yellow"}[o["status"]]
        tm = result.timings
        out.print(f"\n[{style}]{o['status']}[/]: expected {s.expect}, got "
                  + ", ".join(f"{n} {k}" for k, n in sorted(o["outcomes"].items()))
                  + f"  [dim](boot {tm.get('boot_s', 0):.2f}s, verdict {tm.get('verdict_after_quiesce_s', 0):.2f}s after the header quiesced, "
                    f"{rec['elapsed_s']:.1f}s in all; teardown {tm.get('teardown_s', 0):.2f}s)[/dim]")
        witnessed = rec["observations"].get("recorder")
        if witnessed:
            out.print(f"[dim]witness: the flight recorder ({witnessed.get('events')} events read from {witnessed.get('store')}, "
                      f"{witnessed.get('dropped')} dropped by its writers, {witnessed.get('read_errors')} failed reads)[/dim]")
        out.print(f"[dim]recorded as {rec['run_id']}; replay: {rec['replay']}; story: python -m lab show {rec['run_id']}[/dim]")
        statuses.append(o["status"])
        if as_json:
            sys.stdout.flush()
            print(json_line(rec, o), flush=True)
    worst = "mismatched" if "mismatched" in statuses else ("unknown" if "unknown" in statuses else "matched")
    sys.exit(EXIT[worst])
