"""The version matrix: scenarios run on several Celery versions, side by side.

    scenario × celery version → its environment (lab.experiments.envs) → `python -m lab run` inside it → record → matrix table

For each Celery version asked for, ``lab.experiments.envs`` makes (once) an environment
with that version; the lab then runs ``<env python> -m lab run SCENARIO --seed S
--runs N --json`` with the project on ``PYTHONPATH`` and the same results
store, so the producer and every worker of the run use that version, and each
record carries the versions it really ran with.  A cell is one scenario on one
version, N runs with seeds S, S+1, ...; the same seeds on every version, so
cells differ by the version only.  Cells run in parallel, up to the number of
cores: every run has its own redis-server and workers.

``python -m lab matrix --celery 5.4,5.5,5.6,5.7`` runs every scenario;
``python -m lab run SCENARIO --celery 5.3.6,5.7`` runs one, with its usual
output per version.  A version that cannot be installed gets one line, and its
row (``run``) or column (``matrix``) is marked "install failed"; the other
versions still run.  ``matrix_table`` turns
stored records into the markdown table that RESULTS.md shows.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab import records
from lab.experiments import envs
from lab.errors import LabError
from lab.judge import summarize
from lab.runtime.process.processes import Node, ProcessOwner, install_signal_handlers
from lab.runtime.process.redis_server import find_redis_server
from lab.runtime.process.runtime import ProcessRuntime
from lab.scenario import load
from lab.views.console import EXIT  # the exit codes, defined once

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RUN_BOUND_S = 300.0  # per run of a cell: far above any scenario's own bounds (boot 30 s, quiesce, settle)
STOP_GRACE_S = 10.0  # a cell told to stop (SIGTERM) tears its run down within this
POLL_S = 0.05

out = Console(highlight=False)

# What changed in Celery (or in the kombu of its series) to explain a row that changes with
# the version, shown under the table only while the stored runs do change.  By scenario name.
VERSION_NOTES: dict[str, str] = {
    "reject-ignore": (
        "What changed is Celery's worker: from 5.7.0, a task that raises `Reject(requeue=False)` gets a terminal "
        "FAILURE stored and the `task_failure` signal (`celery/worker/request.py`, `Request.on_failure`, "
        "citing issue #4222), and storing that failure reports the part to the chord, so the callback's meta "
        "becomes `ChordError('Dependency … raised …')`. Up to 5.6.3 the same branch only rejects the message: "
        "no result and no part return are recorded, the chord's count never completes, and the callback stays "
        "PENDING with nothing logged, as the catalog (mechanism 14) says."),
    "visibility-timeout": (
        "The change is in kombu, which each column pins to Celery's minor series. kombu 5.7 sweeps unacked "
        "messages back to their queue every `unacked_restore_interval` seconds, a transport option it added (the "
        "scenario sets 0.5 s, with `unacked_restore_throttle` 1), so a 2.5 s `acks_late` part outlives its 1 s "
        "`visibility_timeout`, is delivered a second time and the callback runs twice. kombu 5.3 to 5.6 ignore "
        "both options: the Redis transport restores once when the worker starts, then from a fixed 10 s timer "
        "that acts on every tenth call (`kombu/transport/redis.py`, `restore_visible(interval=10)`, "
        "`call_repeatedly(10, …)`), so these parts have finished long before any sweep and every chord "
        "completes. On those versions a redelivery needs a task that runs past the next sweep."),
}


# -- one cell: a scenario's runs inside one environment ------------------------------


@dataclass
class Cell:
    """One scenario on one Celery version: what was asked, and what came back."""

    scenario: str  # as given: a name from `lab list` or a path
    spec: str  # the version as asked for ("5.4")
    env: envs.Env | None
    seed: int
    runs: int
    results: list[dict[str, Any]] = field(default_factory=list)  # the JSON line of each run
    exit_code: int | None = None
    error: str | None = None  # why the cell has fewer runs than asked (install, crash, timeout)
    elapsed_s: float = 0.0
    log: Path | None = None

    @property
    def celery(self) -> str:
        return self.env.celery if self.env else self.spec

    @property
    def label(self) -> str:
        return f"{scenario_label(self.scenario)} × celery {self.celery}"

    def status(self) -> str:
        """matched / mismatched / unknown over the cell's runs (install failures and crashes are unknown)."""
        statuses = [r.get("status") for r in self.results]
        if "mismatched" in statuses:
            return "mismatched"
        if self.error or "unknown" in statuses or len(statuses) < self.runs:
            return "unknown"
        return "matched"

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "spec": self.spec, "celery": self.celery, "seed": self.seed,
                "runs": self.runs, "status": self.status(), "error": self.error,
                "matched": sum(1 for r in self.results if r.get("status") == "matched"),
                "outcomes": dict(sum((Counter(r.get("outcomes") or {}) for r in self.results), Counter())),
                "causes": sorted({c for r in self.results for c in r.get("causes") or []}),
                "versions": self.results[-1].get("versions") if self.results else (self.env.versions if self.env else None),
                "run_ids": [r.get("run_id") for r in self.results], "elapsed_s": round(self.elapsed_s, 2),
                "log": str(self.log) if self.log else None}


def scenario_label(ref: str) -> str:
    return Path(ref).stem.replace("_", "-") if ref.endswith(".py") else ref


def child_argv(env: envs.Env, scenario_ref: str, seed: int, runs: int) -> list[str]:
    return [env.python, "-m", "lab", "run", scenario_ref, "--seed", str(seed), "--runs", str(runs), "--json"]


def child_environ(env: envs.Env, *, columns: int | None = None, color: bool = False) -> dict[str, str]:
    """The environment of a run inside ``env``: the project importable, the same results store."""
    paths = [str(PROJECT_ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    child = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "LAB_RESULTS": str(records.store_dir()),
             "PYTHONUNBUFFERED": "1"}
    child.pop("VIRTUAL_ENV", None)
    # Only Celery's stack may differ between versions: every run uses the redis-server the lab itself finds.
    child.setdefault("LAB_REDIS_SERVER", find_redis_server())
    if not env.own:
        child["LAB_CELERY_ENV"] = env.celery  # the record's replay line then names the version
    if columns:
        child["COLUMNS"] = str(columns)
    if color:
        child["FORCE_COLOR"] = "1"
    return child


def parse_run_lines(text: str) -> list[dict[str, Any]]:
    """The JSON object each run prints as a line of its own (`lab run --json`)."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "run_id" in obj and "status" in obj:
            found.append(obj)
    return found


def _last_words(node: Node) -> str:
    lines = [ln.strip() for ln in node.log_text().splitlines() if ln.strip() and not ln.lstrip().startswith("{")]
    return lines[-1] if lines else "it printed nothing"


class CellRunner:
    """Runs cells as child processes of one ProcessOwner, at most ``jobs`` at a time.

    Single-threaded: children are started from the main thread (so they die with
    it) and polled; Ctrl-C or SIGTERM stops every running cell, each tearing its
    own run down, and the owner kills whatever is left.
    """

    def __init__(self, owner: ProcessOwner, log_dir: Path, *, jobs: int,
                 on_start: Callable[[Cell], None] | None = None, on_done: Callable[[Cell], None] | None = None,
                 on_output: Callable[[Cell, str], None] | None = None, columns: int | None = None, color: bool = False):
        self.owner = owner
        self.log_dir = log_dir
        self.jobs = max(1, jobs)
        self.on_start = on_start or (lambda c: None)
        self.on_done = on_done or (lambda c: None)
        self.on_output = on_output
        self.columns = columns
        self.color = color

    def run(self, cells: list[Cell]) -> None:
        pending = [c for c in cells if c.env is not None]
        running: list[tuple[Cell, Node, float, int]] = []  # cell, node, started (monotonic), log offset read
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    cell = pending.pop(0)
                    running.append((cell, self._start(cell), time.monotonic(), 0))
                    self.on_start(cell)
                still = []
                for cell, node, t0, offset in running:
                    offset = self._forward(cell, node, offset)
                    bound = RUN_BOUND_S * cell.runs
                    if node.returncode is None and time.monotonic() - t0 > bound:
                        cell.error = f"timed out after {bound:.0f} s; last line: {_last_words(node)}"
                        self._stop(node)
                    if node.returncode is None:
                        still.append((cell, node, t0, offset))
                        continue
                    self._forward(cell, node, offset)
                    self._finish(cell, node, time.monotonic() - t0)
                    self.on_done(cell)
                running = still
                if running:
                    time.sleep(POLL_S)
        except BaseException:  # Ctrl-C, SIGTERM: let each run tear itself down, then the owner kills the rest
            for cell, node, _, _ in running:
                node.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S
            while any(n.returncode is None for _, n, _, _ in running) and time.monotonic() < deadline:
                time.sleep(POLL_S)
            raise

    def _start(self, cell: Cell) -> Node:
        name = f"{scenario_label(cell.scenario)}@{cell.celery}"
        cell.log = self.log_dir / f"{name}.log"
        n = 1
        while cell.log.exists():  # the same scenario and version twice: each cell keeps its own log
            n += 1
            cell.log = self.log_dir / f"{name}-{n}.log"
        argv = child_argv(cell.env, cell.scenario, cell.seed, cell.runs)
        return self.owner.spawn(name, argv, env=child_environ(cell.env, columns=self.columns, color=self.color),
                                log_path=cell.log)

    def _forward(self, cell: Cell, node: Node, offset: int) -> int:
        if self.on_output is None:
            return offset
        try:
            with open(node.log_path, "rb") as f:
                f.seek(node.log_offset + offset)
                data = f.read()
        except FileNotFoundError:
            return offset
        whole = data[: data.rfind(b"\n") + 1] if node.returncode is None else data
        for line in whole.decode("utf-8", "replace").splitlines():
            if not line.lstrip().startswith('{"scenario"'):  # the JSON lines are collected, not shown
                self.on_output(cell, line)
        return offset + len(whole)

    @staticmethod
    def _stop(node: Node) -> None:
        node.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while node.returncode is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
        node.kill()

    @staticmethod
    def _finish(cell: Cell, node: Node, elapsed: float) -> None:
        cell.elapsed_s = elapsed
        cell.exit_code = node.returncode
        cell.results = parse_run_lines(node.log_text())
        if cell.error is None and len(cell.results) < cell.runs:
            cell.error = (f"{len(cell.results)} of {cell.runs} run(s) finished; `lab run` exited {node.returncode}: "
                          f"{_last_words(node)}")


# -- environments -------------------------------------------------------------------------


@dataclass
class Prepared:
    spec: envs.VersionSpec
    env: envs.Env | None
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        e = self.env
        return {"spec": self.spec.text, "celery": e.celery if e else None, "status": "ready" if e else "install failed",
                "error": self.error, "env": str(e.path) if e and e.path else ("own" if e else None),
                "cached": e.cached if e else None, "build_s": round(e.build_s, 2) if e and e.build_s else None,
                "versions": e.versions if e else None, "installer": e.installer if e else None, "note": e.note if e else None}


def prepare_all(specs: list[envs.VersionSpec], say: Callable[[str], None]) -> list[Prepared]:
    """An environment per version (one line each); a version that fails is marked, never raised."""
    done: list[Prepared] = []
    installer = envs.default_installer()
    for spec in specs:
        t0 = time.monotonic()
        try:
            with out.status(f"celery {spec}: finding the release and its environment ({installer.name})…"):
                env = envs.prepare(spec, installer=installer)
        except envs.InstallFailed as e:
            p = Prepared(spec, None, str(e), time.monotonic() - t0)
            say(f"[red]celery {spec}: install failed[/red]: {e}")
        else:
            p = Prepared(spec, env, None, time.monotonic() - t0)
            v = env.versions
            say(f"celery {spec} → [bold]{env.celery}[/bold] (kombu {v.get('kombu')}, redis-py {v.get('redis-py')}, "
                f"billiard {v.get('billiard')}): {env.describe()}" + (f" [yellow]note: {env.note}[/yellow]" if env.note else ""))
        if any(q.env and p.env and q.env.celery == p.env.celery for q in done):
            say(f"[dim]celery {spec} is the same release as an earlier entry; its cells run once[/dim]")
            continue
        done.append(p)
    return done


def _new_log_dir(kind: str) -> Path:
    # Under runs/ with the per-run folders: each cell's console output, kept for the record.
    path = records.store_dir() / "runs" / f"{kind}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_cells(kind: str, cells: list[Cell], **runner_options: Any) -> Path | None:
    """Run every cell that has an environment; return their logs' folder (None, and no empty folder, when none has)."""
    if not any(c.env is not None for c in cells):
        return None
    log_dir = _new_log_dir(kind)
    with ProcessOwner(log_dir) as owner:
        CellRunner(owner, log_dir, **runner_options).run(cells)
    return log_dir


def worst(statuses: Iterable[str]) -> str:
    statuses = list(statuses)
    return "mismatched" if "mismatched" in statuses else ("unknown" if "unknown" in statuses or not statuses else "matched")


def cell_text(cell: Cell) -> Text:
    if cell.env is None:
        return Text("install failed", style="red")
    if not cell.results:
        return Text(f"error: {cell.error}" if cell.error else "—", style="yellow")
    matched = sum(1 for r in cell.results if r.get("status") == "matched")
    outcomes = sum((Counter(r.get("outcomes") or {}) for r in cell.results), Counter())
    causes = sorted({c for r in cell.results for c in r.get("causes") or []})
    style = {"matched": "green", "mismatched": "red", "unknown": "yellow"}[cell.status()]
    t = Text(f"{matched}/{cell.runs}", style=style)
    t.append(" " + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())))
    if causes:
        t.append(" · " + ", ".join(causes), style="dim")
    if cell.error:
        t.append(f" ({cell.error})", style="yellow")
    return t


# -- `lab run SCENARIO --celery ...` ------------------------------------------------------


def run_across_versions(scenario_ref: str, versions: str, seed: int | None, as_json: bool, runs: int = 1) -> int:
    """Run one scenario on each Celery version asked for; return the exit status (0, 1, 2).

    Each version's run prints its usual story; a table of the versions closes it.
    """
    specs = envs.parse_versions(versions)
    scenario = load(scenario_ref)  # bad input is reported before any environment is made
    refused = ProcessRuntime().refuses(scenario)
    if refused:  # each version's environment runs local processes
        raise LabError(f"{refused.split(':')[0]}, so they need --runtime docker, and --celery runs each version as "
                       "local processes: run it without --celery.")
    ref = str(Path(scenario_ref).resolve()) if Path(scenario_ref).is_file() else scenario_ref
    seed = seed if seed is not None else random.randrange(2**31)
    install_signal_handlers()
    out.print(f"[bold]{scenario.name}[/bold] on celery {', '.join(map(str, specs))} (seed {seed}, {runs} run(s) each)")
    prepared = prepare_all(specs, lambda msg: out.print(msg, soft_wrap=True))
    cells = [Cell(ref, p.spec.text, p.env, seed, runs, error=p.error) for p in prepared]

    def banner(cell: Cell) -> None:
        out.rule(f"celery {cell.celery}" + (" (the lab's own)" if cell.env.own else ""))

    def show(cell: Cell, line: str) -> None:
        out.file.write(line + "\n")
        out.file.flush()

    run_cells("versions", cells, jobs=1, on_start=banner, on_output=show, columns=out.width, color=out.is_terminal)

    out.rule("versions")
    t = Table(show_edge=False, header_style="bold")
    for col in ("celery", "kombu", "redis-py", "outcome", "runs"):
        t.add_column(col, overflow="fold")
    for c in cells:
        v = (c.results[-1].get("versions") if c.results else None) or (c.env.versions if c.env else {}) or {}
        t.add_row(c.celery, v.get("kombu") or "—", v.get("redis-py") or "—", cell_text(c),
                  ", ".join(r.get("run_id", "") for r in c.results) or (c.error or ""))
    out.print(t)
    status = worst(c.status() for c in cells)
    if as_json:
        sys.stdout.flush()
        print(json.dumps({"scenario": scenario.name, "seed": seed, "status": status,
                          "envs": [p.to_dict() for p in prepared], "cells": [c.to_dict() for c in cells]}, default=repr),
              flush=True)
    return EXIT[status]


# -- `lab matrix` ----------------------------------------------------------------------------


def rich_matrix(cells: list[Cell], prepared: list[Prepared]) -> Table:
    t = Table(show_edge=False, header_style="bold", show_lines=False)
    t.add_column("scenario", no_wrap=True)
    for p in prepared:
        t.add_column(f"celery {p.env.celery if p.env else p.spec.text}", overflow="fold")
    by_key = {(c.scenario, c.spec): c for c in cells}
    for ref in dict.fromkeys(c.scenario for c in cells):
        # a shard (`--shard K/N`) has some cells of a row only: the others are another shard's
        t.add_row(scenario_label(ref), *[cell_text(by_key[(ref, p.spec.text)]) if (ref, p.spec.text) in by_key
                                         else Text("another shard", style="dim") for p in prepared])
    return t


# -- the matrix from stored records (RESULTS.md) --------------------------------------------


@dataclass
class CellSummary:
    """A scenario's stored runs on one Celery version, re-judged with the current checker."""

    scenario: str
    celery: str
    expected: str | None = None
    runs: int = 0
    matched: int = 0
    verdicts: Counter = field(default_factory=Counter)
    causes: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)  # "stuck/callback-queue-unconsumed": chords
    errors: Counter = field(default_factory=Counter)
    versions: Counter = field(default_factory=Counter)  # "kombu 5.3.7, redis-py 5.3.1" → runs

    def behaviour(self) -> tuple:
        """What a run on this version does, whatever the count: the verdicts, causes and errors seen."""
        return tuple(sorted(self.verdicts)), tuple(sorted(self.causes)), tuple(sorted(self.errors))

    def text(self) -> str:
        parts = [f"{self.matched}/{self.runs}"]
        parts.append(", ".join(f"{n} {k}" for k, n in sorted(self.verdicts.items())) or "no chords")
        if self.causes:
            parts.append(" ".join(f"`{c}`" for c in sorted(self.causes)))
        if self.errors:
            parts.append("(" + ", ".join(sorted(self.errors)) + ")")
        return " · ".join(parts)


_ERROR_NAMES = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception)|NotRegistered|TimeoutError)\b")


def _errors_of(verdict) -> list[str]:
    """The exception names a failed chord reports, e.g. ``ChordError/TypeError``."""
    if verdict.verdict != "failed":
        return []
    names = list(dict.fromkeys(_ERROR_NAMES.findall(verdict.summary or "")))
    return ["/".join(names)] if names else []


def cell_summaries(recs: Iterable[dict[str, Any]]) -> dict[tuple[str, str], CellSummary]:
    """Stored runs grouped by (scenario, celery version), each re-judged from its raw observations."""
    cells: dict[tuple[str, str], CellSummary] = {}
    for rec in recs:
        celery = (rec.get("versions") or {}).get("celery")
        obs = rec.get("observations")
        if not celery or not isinstance(obs, dict):
            continue
        from lab.fuzz.oracle import judge_observations  # here: a version's environment has no hypothesis

        verdicts = judge_observations(obs)
        outcome = summarize(obs.get("scenario") or {}, verdicts)
        cell = cells.setdefault((rec["scenario"], celery), CellSummary(rec["scenario"], celery))
        cell.expected = rec.get("expected") or cell.expected
        cell.runs += 1
        cell.matched += outcome["status"] == "matched"
        cell.verdicts.update(v.verdict for v in verdicts)
        cell.causes.update(v.cause for v in verdicts if v.cause)
        cell.kinds.update(f"{v.verdict}/{v.cause or ''}" for v in verdicts)
        cell.errors.update(e for v in verdicts for e in _errors_of(v))
        v = rec.get("versions") or {}
        cell.versions[f"kombu {v.get('kombu')}, redis-py {v.get('redis-py')}, billiard {v.get('billiard')}"] += 1
    return cells


def vkey(version: str) -> tuple:
    return envs.release_of(version) or (0, 0, 0)


def _rows(cells: dict[tuple[str, str], CellSummary]) -> dict[str, dict[str, CellSummary]]:
    rows: dict[str, dict[str, CellSummary]] = {}
    for (scenario, celery), cell in cells.items():
        rows.setdefault(scenario, {})[celery] = cell
    return {s: dict(sorted(r.items(), key=lambda kv: vkey(kv[0]))) for s, r in sorted(rows.items()) if len(r) >= 2}


def row_difference(row: dict[str, CellSummary]) -> tuple[str, str] | None:
    """How a scenario's runs differ across versions, against the newest version; None when they do not.

    Returns ``(kind, sentence)``.  ``kind`` is "version" when some version never
    shows what the newest shows (no verdict and cause in common, or other errors):
    a change that comes with the version.  It is "runs" when the versions share
    their outcomes and differ only in how often: variation between runs, which
    3 runs per cell cannot pin on a version.
    """
    newest_v = max(row, key=vkey)
    ref = row[newest_v]
    diffs, kind = [], "runs"
    for version, cell in row.items():
        if version == newest_v:
            continue
        if cell.behaviour() != ref.behaviour():
            diffs.append(f"{version}: {cell.text()} where {newest_v} gives {ref.text()}")
            if not set(cell.kinds) & set(ref.kinds) or (cell.errors and ref.errors and not set(cell.errors) & set(ref.errors)):
                kind = "version"
        elif cell.matched * ref.runs != ref.matched * cell.runs:
            diffs.append(f"{version}: matched {cell.matched}/{cell.runs} where {newest_v} matched {ref.matched}/{ref.runs}")
    return (kind, "; ".join(diffs)) if diffs else None


def differences(cells: dict[tuple[str, str], CellSummary]) -> list[str]:
    """One line per scenario whose runs differ across versions, saying whether the version explains it."""
    lines = []
    for scenario, row in _rows(cells).items():
        diff = row_difference(row)
        if diff:
            lines.append(f"{scenario} ({'changes with the version' if diff[0] == 'version' else 'varies between runs'}): {diff[1]}")
    return lines


_DIFF_WORDS = {None: "no", "runs": "varies between runs", "version": "**yes**"}


def matrix_table(recs: Iterable[dict[str, Any]]) -> str:
    """The version matrix as a markdown section, from stored records ("" when no scenario ran on two versions).

    One row per scenario that ran on at least two Celery versions, one column
    per version; a cell is "matched/runs · chord verdicts · causes (errors)",
    every verdict re-judged from the stored observations.  The last column and
    the paragraphs under the table say what differs from the newest version.
    """
    cells = cell_summaries(recs)
    rows = _rows(cells)
    if not rows:
        return ""
    versions = sorted({v for row in rows.values() for v in row}, key=vkey)
    out_lines = ["## Which Celery versions reproduce it\n",
                 "_Generated from the stored runs by `lab.experiments.matrix.matrix_table`; "
                 "`python -m lab matrix --celery 5.3,5.4,5.5,5.6,5.7` makes them._\n",
                 "Each cell: runs that matched the scenario's expectation / runs on that version, then the chord "
                 "verdicts over those runs, their causes and, for failed chords, the errors. "
                 "Producer and workers of every run used that Celery version.\n",
                 "| scenario | expects | " + " | ".join(f"celery {v}" for v in versions) + " | differs across versions |",
                 "|---|---|" + "---|" * len(versions) + "---|"]
    diffs = {scenario: row_difference(row) for scenario, row in rows.items()}
    for scenario, row in rows.items():
        expected = next((c.expected for c in row.values() if c.expected), "?")
        diff = diffs[scenario]
        out_lines.append(f"| `{scenario}` | {expected} | "
                         + " | ".join(row[v].text() if v in row else "—" for v in versions)
                         + f" | {_DIFF_WORDS[diff[0] if diff else None]} |")
    out_lines.append("")
    stack: dict[str, Counter] = {}
    for row in rows.values():
        for v, cell in row.items():
            stack.setdefault(v, Counter()).update(cell.versions)
    out_lines.append("Versions beside Celery: " + "; ".join(
        f"celery {v}: {', '.join(k for k, _ in stack[v].most_common())}" for v in versions) + ".\n")
    out_lines.append("*Differs across versions*: **yes** when some version never shows the verdict and cause that the "
                     "newest version shows (or fails with other errors): the change comes with the version. "
                     "*Varies between runs* when the versions share their outcomes and differ only in how often.\n")
    changed = [(s, d) for s, d in diffs.items() if d and d[0] == "version"]
    for scenario, (_, sentence) in changed:
        out_lines.append(f"**`{scenario}` changes with the version.** {sentence}."
                         + (f" {VERSION_NOTES[scenario]}" if scenario in VERSION_NOTES else ""))
        out_lines.append("")
    varied = [(s, d) for s, d in diffs.items() if d and d[0] == "runs"]
    if varied:
        out_lines.append("**Varies between runs** (the versions share their outcomes): "
                         + "; ".join(f"`{s}` ({sentence})" for s, (_, sentence) in varied) + ".\n")
    if not changed:
        out_lines.append("No scenario changes its verdict or cause with the Celery version.\n")
    return "\n".join(out_lines) + "\n"
