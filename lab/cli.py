"""The command line: ``python -m lab list | run | show | report | records``.

    scenario → topology up → chords sent → observations → verdict with proof → record → RESULTS.md

Output is for a person: what is being started, a progress line while chords
run, a table of chord outcomes, and for a stuck chord its cause in one
sentence with the evidence under it.  ``--json`` adds one JSON object as the
last line of stdout.  Exit codes follow Jepsen: 0 the outcome matches what the
scenario expects, 1 it does not, 2 unknown, 254 bad input, 255 the lab crashed.
A user's mistake gets one sentence, never a traceback.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from lab import records
from lab.errors import LabError
from lab.judge import Verdict, judge, summarize
from lab.scenario import load, load_file, scenario_paths

from lab.views import (EXIT, EXIT_BAD_INPUT, EXIT_CRASH, VERDICT_STYLE, ConsoleReporter, err,  # noqa: F401 (the face)
                       json_line, out, print_proof, verdict_table)


# Commands that live in their own modules, imported only when used (hypothesis and
# the version matrix are slow to import, and `lab run` should not pay for them).
LAZY_COMMANDS = {
    "fuzz": "lab.fuzz.cli:fuzz_cmd",
    "replay": "lab.fuzz.cli:replay_cmd",
    "doctor": "lab.doctor:doctor_cmd",
    "audit": "lab.audit:audit_cmd",
    "matrix": "lab.matrix:matrix_cmd",
    "attach": "lab.attach:attach_cmd",
    "compose": "lab.compose:compose_cmd",
}


# Commands that write the results store: it is checked once their options are parsed, before
# they start any process, so an unwritable store is one sentence and exit 254, not a crash mid-run.
WRITES_STORE = ("run", "fuzz", "replay", "matrix", "attach")


def _checking_store_first(cmd: click.Command) -> click.Command:
    """A copy of ``cmd`` whose body runs only once the store is known to be writable."""
    body = cmd.callback

    @functools.wraps(body)
    def checked(*args: Any, **kwargs: Any) -> Any:
        records.check_store_writable()
        return body(*args, **kwargs)

    checked_cmd = copy.copy(cmd)
    checked_cmd.callback = checked
    return checked_cmd


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *(n for n in LAZY_COMMANDS if self._available(n))])

    @staticmethod
    def _available(name: str) -> bool:
        import importlib.util

        try:
            return importlib.util.find_spec(LAZY_COMMANDS[name].split(":")[0]) is not None
        except ModuleNotFoundError:  # its parent package is not there yet
            return False

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and self._available(name):
            import importlib

            module, attr = LAZY_COMMANDS[name].split(":")
            cmd = getattr(importlib.import_module(module), attr)
        else:
            cmd = super().get_command(ctx, name)
        return _checking_store_first(cmd) if cmd is not None and name in WRITES_STORE else cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A reproducible chord failure lab: real Redis, real Celery workers, verdicts with proof."""


@main.command("list")
def list_cmd() -> None:
    """Every scenario, one line each: name, what it sets up, what it expects."""
    t = Table(show_edge=False, header_style="bold")
    t.add_column("scenario", no_wrap=True)
    t.add_column("expects", no_wrap=True)
    t.add_column("what it sets up", overflow="fold")
    for name, path in scenario_paths().items():
        try:
            s = load_file(path)
        except LabError as e:
            t.add_row(name, "[red]invalid[/red]", str(e))
            continue
        exp = s.expect + (f" ({s.expect_cause})" if s.expect_cause else "")
        t.add_row(name, Text(exp, style=VERDICT_STYLE.get(s.expect, "")), s.description)
    out.print(t)


@main.command()
@click.argument("scenario")
@click.option("--seed", type=int, default=None, help="Seed for chord values; recorded, and replayable.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
@click.option("--runs", type=click.IntRange(1, 1000), default=1, help="Run it this many times (seeds seed, seed+1, ...).")
@click.option("--celery", "celery_versions", default=None, metavar="VERSIONS",
              help="Run it on each of these Celery versions (5.4 = latest 5.4.x, 5.3.6 = exactly), each in its own environment.")
@click.option("--runtime", type=click.Choice(["process", "docker"]), default="process", show_default=True, envvar="LAB_RUNTIME",
              help="Run the topology as local processes, or as containers (needs a Docker engine).")
def run(scenario: str, seed: int | None, as_json: bool, runs: int, celery_versions: str | None, runtime: str) -> None:
    """Bring SCENARIO's topology up, send its chords, print verdicts with proof, and record the run.

    SCENARIO is a name from `lab list` or a path to a scenario script."""
    if celery_versions is not None and runtime != "process":
        raise click.UsageError("--celery runs each version in a local environment; drop --runtime docker to use it.")
    if celery_versions is not None:  # the version matrix for one scenario: lab/matrix.py
        from lab.matrix import run_across_versions

        sys.exit(run_across_versions(scenario, celery_versions, seed, as_json, runs))
    s = load(scenario)
    statuses = []
    for i in range(runs):
        rep = ConsoleReporter(out)
        out.print(f"[bold]{s.name}[/bold]: {s.description}")
        out.print(f"[dim]{s.summary()}; expects {s.expect}[/dim]")
        from lab.run import run_scenario  # imported here: doctor and audit start faster without it

        try:
            result = run_scenario(s, seed=None if seed is None else seed + i, reporter=rep, scenario_ref=scenario,
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
        out.print(f"[dim]recorded as {rec['run_id']}; replay: {rec['replay']}; story: python -m lab show {rec['run_id']}[/dim]")
        statuses.append(o["status"])
        if as_json:
            sys.stdout.flush()
            print(json_line(rec, o), flush=True)
    worst = "mismatched" if "mismatched" in statuses else ("unknown" if "unknown" in statuses else "matched")
    sys.exit(EXIT[worst])


@main.command()
@click.argument("run_ref", default="latest")
@click.option("--json", "as_json", is_flag=True, help="Print the re-judged verdicts as one JSON object.")
@click.option("--svg/--no-svg", default=True, help="Write the timeline as an SVG next to the run's records.")
def show(run_ref: str, as_json: bool, svg: bool) -> None:
    """The whole story of a stored run: topology, timeline, evidence, logs (re-judged now)."""
    rec = records.find(run_ref)
    if rec.get("kind") == "doctor":  # a saved diagnosis: its readings, judged again by the live judge
        from lab.doctor import print_saved

        print_saved(out, rec, as_json)
        return
    obs = rec["observations"]
    verdicts = [v.to_dict() for v in judge(obs)]
    outcome = summarize(obs.get("scenario") or {}, [Verdict.from_dict(v) for v in verdicts])
    stored = [(v["verdict"], v.get("cause")) for v in rec.get("verdicts", [])]
    now = [(v["verdict"], v.get("cause")) for v in verdicts]
    if as_json:
        print(json.dumps({"run_id": rec["run_id"], "verdicts": verdicts, "outcome": outcome,
                          "same_as_stored": stored == now}, default=repr))
        return
    sc = obs.get("scenario") or {}
    out.print(f"[bold]{rec['run_id']}[/bold]  scenario [bold]{rec['scenario']}[/bold] (expects {rec['expected']}), seed {rec['seed']}")
    out.print(f"[dim]{sc.get('description', '')}[/dim]")
    v = rec.get("versions") or {}
    out.print(f"versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + f"; git {rec.get('git')}")
    topo = obs.get("topology") or {}
    out.print(f"topology: redis-server {((topo.get('redis') or {}).get('version'))} on port {((topo.get('redis') or {}).get('port'))}"
              f", broker {topo.get('broker_url')}, backend {topo.get('result_backend')}")
    for w in topo.get("workers") or []:
        out.print(f"  worker {w['name']}: {'-Q ' + ','.join(w['queues']) if w.get('queues') else 'no -Q'}, "
                  f"-c {w['concurrency']} -P {w['pool']}, code {', '.join(w.get('tasks') or [])}; log {w.get('log')}")
    cfg = sc.get("config") or {}
    if cfg:
        out.print("config: " + json.dumps(cfg, default=repr))
    try:
        from lab.timeline import render_terminal, write_svg

        out.print()
        out.print(render_terminal(obs, verdicts, width=min(out.width, 120)))
        if svg:
            path = Path(rec.get("run_dir") or records.run_dir_for(rec["run_id"]))
            if path.exists():
                try:
                    written = write_svg(obs, verdicts, path / "timeline.svg")
                    out.print(f"[dim]timeline written to {written}[/dim]")
                except OSError as e:  # a read-only store can still be read: the story needs no SVG
                    out.print(f"[dim](timeline.svg not written: {e.strerror})[/dim]")
    except ImportError as e:  # the timeline is for teaching; its absence must not hide the verdicts
        out.print(f"[dim](no timeline: {e})[/dim]")
    out.print()
    out.print(verdict_table(verdicts))
    print_proof(out, verdicts)
    if stored != now:
        out.print(f"\n[yellow]note: the stored verdicts were {stored}; the current checker says {now}[/yellow]")
    logs = (obs.get("probe") or {}).get("logs") or {}
    for w, lines in logs.items():
        if lines:
            out.print(f"\n[bold]{w}[/bold] log (evidence lines):")
            for ln in lines[-8:]:
                out.print(f"  [dim]{ln}[/dim]", soft_wrap=True)
    out.print(f"\n[dim]replay: {rec.get('replay')}[/dim]")


@main.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (default: RESULTS.md at the project root).")
def report(output: Path | None) -> None:
    """Regenerate RESULTS.md from every stored run."""
    from lab.report import write_report

    path, n = write_report(output)
    out.print(f"wrote {path} from {n} stored run(s)")


@main.command()
@click.option("--all", "everything", is_flag=True, help="Also remove the containers of runs whose lab is still running.")
@click.option("--dry-run", is_flag=True, help="Only list what would be moved or removed.")
@click.pass_context
def clean(ctx: click.Context, everything: bool, dry_run: bool) -> None:
    """Quarantine the run folders a killed lab left without a record; remove the containers and networks it left.

    A live run's folder is never touched, even with --all: it holds a lock until the run ends."""
    orphaned = records.orphaned_run_dirs(move=not dry_run)
    out.print(records.orphaned_line(orphaned, moved=not dry_run) if orphaned
              else "no run folder to quarantine: every one belongs to a recorded or a live run")
    from lab import docker_runtime

    try:
        ctx.invoke(docker_runtime.clean_cmd, everything=everything, dry_run=dry_run)
    except LabError as e:  # no SDK or no engine: there is no container to look at, and the folders are done
        from rich.markup import escape

        out.print(f"[dim]containers: not checked ({escape(str(e))})[/dim]", soft_wrap=True)


@main.group("records")
def records_cmd() -> None:
    """The stored records: one gzip JSON Lines file per campaign under records/ ($LAB_CAMPAIGN names the current one)."""


@records_cmd.command("list")
def records_list() -> None:
    """Every file of records, in the order they are read: records, bytes."""
    files = records.record_files()
    if not files:
        out.print(f"no stored runs in {records.store_dir()}")
    for f in files:
        n = sum(1 for _ in records.load_all(f))
        out.print(f"{f.relative_to(records.store_dir())}: {n} record(s), {f.stat().st_size:,} bytes")
    out.print(f"[dim]new runs go to {records.runs_file().relative_to(records.store_dir())}[/dim]")


@records_cmd.command("compact")
def records_compact() -> None:
    """Rewrite each campaign as one gzip member (appends make one member each), keeping every record."""
    records.check_store_writable()
    done = records.compact()
    for name, before, after, n in done:
        out.print(f"{name}: {n} record(s), {before:,} → {after:,} bytes")
    if not done:
        out.print(f"no campaign to compact in {records.records_dir()}")


@records_cmd.command("migrate")
def records_migrate() -> None:
    """Move an older lab's runs.jsonl into campaign files, every record byte for byte, then remove it."""
    records.check_store_writable()
    moved = records.migrate()
    if moved is None:
        out.print(f"nothing to migrate: {records.legacy_runs_file()} does not exist")
        return
    total = sum(size for _, _, size in moved["campaigns"])
    out.print(f"moved {moved['records']} record(s) from runs.jsonl ({moved['legacy_bytes']:,} bytes) into "
              f"{len(moved['campaigns'])} campaign(s) ({total:,} bytes); runs.jsonl removed")
    for name, n, size in moved["campaigns"]:
        out.print(f"  records/{name}{records.CAMPAIGN_SUFFIX}: {n} record(s), {size:,} bytes")
    if moved["skipped"]:
        out.print(f"[yellow]{moved['skipped']} line(s) were not records (a torn line) and were left out[/yellow]")


def entry() -> None:
    """Run the CLI with the lab's exit codes and one-sentence errors."""
    try:
        main.main(standalone_mode=False, prog_name="python -m lab")
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.UsageError as e:
        hint = f" (see `python -m lab {e.ctx.info_name} --help`)" if e.ctx and e.ctx.info_name != "python -m lab" else " (see `python -m lab --help`)"
        err.print(f"lab: {e.format_message()}{hint}")
        sys.exit(EXIT_BAD_INPUT)
    except click.Abort:
        err.print("lab: interrupted; every process it started has been stopped.")
        sys.exit(130)
    except LabError as e:
        err.print(f"lab: {e}", soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err.print("lab: interrupted; every process it started has been stopped, and nothing was recorded.")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # a crash of the lab itself: one line, the traceback only on request
        err.print(f"lab crashed: {type(e).__name__}: {e}" + ("" if os.environ.get("LAB_DEBUG") else " (set LAB_DEBUG=1 for the traceback)"))
        if os.environ.get("LAB_DEBUG"):
            traceback.print_exc()
        sys.exit(EXIT_CRASH)
