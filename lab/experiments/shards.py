"""Shards: a campaign cut into parts any job runner can run, and the parts' stores merged back into one.

    a campaign → **shards** (``--shard K/N``: seeds or cells dealt out) → each shard's own store → **merge** → RESULTS.md
    ``lab fuzz --jobs N`` → N shard processes (each its own topology and store) → **merge** → one summary

A shard is ``(k, n)``, shard k of n, 1 <= k <= n.  What it takes is a pure function of ``(k, n)``
and of the campaign's own arguments, so n machines given the same command line and shards 1..n
take every part of the campaign exactly once, and no scheduler is needed:

- ``lab fuzz --shard K/N``: hypothesis run r of the campaign uses seed ``seed + r``; shard k takes
  runs k-1, k-1+n, ... (``lab.fuzz.search.shard_seed``).
- ``lab matrix --shard K/N``: the cells (Celery version × scenario) in a stable order (release, then
  scenario name), cell i to shard ``i % n + 1`` (``partition``).

``lab fuzz --jobs N`` runs N children ``python -m lab fuzz ... --shard k/N`` (``run_jobs``), each owned
by a ``ProcessOwner`` (they die with the lab, SIGKILL included), each with its own topology and its
own store under the parent's ``runs/<campaign>/``; a user's shard K/M with ``--jobs N`` is cut finer,
job j taking shard ``K + (j-1)M`` of ``MN``, so the N jobs together take exactly the seeds of K/M
(``job_shards``).  Then ``merge`` brings every shard's store into the current one: run records by
run id (``lab.records.merge``), the fuzzer's records and finding files with one finding per mechanism
(``lab.fuzz.findings.merge``).  Merging is idempotent: a store merged twice adds nothing the second time.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from lab import records
from lab.errors import LabError
from lab.runtime.process.processes import Node, ProcessOwner

PROJECT_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
Shard = tuple[int, int]
STOP_GRACE_S = 20.0  # a job told to stop (SIGINT) records what it found and tears its topology down within this
POLL_S = 0.2
HEARTBEAT_S = 60.0  # a line this often while jobs run (a job's own progress bar goes to its log)


class ShardError(LabError):
    """A ``--shard`` value that is not K/N with 1 <= K <= N."""


_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_shard(text: str, *, option: str = "--shard") -> Shard:
    """``"3/8"`` → ``(3, 8)``; ShardError (one sentence, exit 254) for anything else."""
    m = _SHARD.fullmatch(text or "")
    if not m:
        raise ShardError(f"{option} {text!r} is not a shard: give K/N, shard K of N, e.g. {option} 3/8.")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ShardError(f"{option} {text}: K must be between 1 and N (and N at least 1), e.g. {option} 1/{max(n, 1)}.")
    return k, n


def shard_text(shard: Shard) -> str:
    return f"{shard[0]}/{shard[1]}"


def partition(items: Iterable[T], shard: Shard, *, key: Callable[[T], Any]) -> list[T]:
    """The items of shard ``(k, n)``: in the order of ``key``, item i goes to shard ``i % n + 1``.

    Returned in their given order.  Equal keys must not occur (a stable order is what makes the
    partition the same on every machine); ValueError if they do."""
    items = list(items)
    k, n = shard
    order = sorted(range(len(items)), key=lambda i: key(items[i]))
    keys = [key(items[i]) for i in order]
    if len(set(map(repr, keys))) != len(keys):
        raise ValueError("partition: two items share a key, so their order is not stable")
    mine = {i for rank, i in enumerate(order) if rank % n == k - 1}
    return [x for i, x in enumerate(items) if i in mine]


def matrix_cell_key(release: tuple[int, ...], spec: str, scenario_label: str, ref: str) -> tuple:
    """The stable order of the matrix's cells: Celery release, then scenario name (then the ref itself)."""
    return (tuple(release), spec, scenario_label, ref)


def job_shards(shard: Shard, jobs: int) -> list[Shard]:
    """Shard ``(K, M)`` cut into ``jobs`` finer shards of ``M*jobs``: job j takes ``K + (j-1)*M``.

    Together they take exactly the hypothesis runs of K/M (seed + K-1 + M*r for every r), so a shard
    means the same seeds whatever ``--jobs`` each machine runs."""
    k, m = shard
    return [(k + (j - 1) * m, m * jobs) for j in range(1, jobs + 1)]


def split_examples(examples: int | None, jobs: int) -> list[int | None]:
    """``examples`` dealt to ``jobs`` jobs as evenly as it goes (the first ones get one more); None stays None.

    A job that would get none is left out, so there are at most ``examples`` jobs."""
    if examples is None:
        return [None] * jobs
    jobs = max(1, min(jobs, examples))
    return [examples // jobs + (1 if j < examples % jobs else 0) for j in range(jobs)]


# -- lab fuzz --jobs: the children ---------------------------------------------------------------


@dataclass
class Job:
    """One child ``lab fuzz --shard k/n``: its store, its log, what it said at the end."""

    shard: Shard
    argv: list[str]
    store: Path
    log: Path
    node: Node | None = None
    started: float = 0.0
    elapsed_s: float = 0.0
    exit_code: int | None = None
    result: dict[str, Any] | None = None  # its --json line
    seen_findings: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"job {shard_text(self.shard)}"

    @property
    def findings_dir(self) -> Path:
        return self.store / "findings"

    def environ(self) -> dict[str, str]:
        paths = [str(PROJECT_ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        env = {**os.environ, "LAB_RESULTS": str(self.store), "LAB_FINDINGS": str(self.findings_dir),
               "PYTHONPATH": os.pathsep.join(paths), "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
        env.pop("FORCE_COLOR", None)
        return env

    def last_words(self) -> str:
        text = self.node.log_text() if self.node else ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("{")]
        return lines[-1] if lines else "it printed nothing"

    def new_findings(self) -> list[dict[str, Any]]:
        """Findings this job saved since last asked (read from its own fuzz.jsonl)."""
        from lab.fuzz.findings import load_records

        new = [r for r in load_records(self.store / "fuzz.jsonl")
               if r.get("kind") == "fuzz-finding" and r.get("id") not in self.seen_findings]
        self.seen_findings.update(r["id"] for r in new)
        return new


def jobs_dir(label: str = "fuzz-jobs") -> Path:
    """Where a ``--jobs`` campaign keeps its jobs' logs and stores: a folder under the store's ``runs/`` (local
    artefacts, like a matrix's cell logs; the records it merges are what is kept)."""
    path = records.run_dir_for(records.new_run_id(label))
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_jobs(base_argv: Sequence[str], shards: Sequence[Shard], examples: Sequence[int | None], folder: Path) -> list[Job]:
    """One job per shard: ``python -m lab fuzz <base_argv> [--examples E] --shard k/n --json``."""
    jobs = []
    for shard, ex in zip(shards, examples):
        name = f"shard-{shard[0]}-of-{shard[1]}"
        argv = [sys.executable, "-m", "lab", "fuzz", *base_argv, *(["--examples", str(ex)] if ex is not None else []),
                "--shard", shard_text(shard), "--json"]
        jobs.append(Job(shard, argv, folder / name, folder / f"{name}.log"))
    return jobs


def parse_json_line(text: str) -> dict[str, Any] | None:
    """The JSON object a ``lab fuzz --json`` prints as its last line."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and "stats" in obj:
                return obj
    return None


def run_jobs(jobs: list[Job], owner: ProcessOwner, *, on_start: Callable[[Job], None] = lambda j: None,
             on_finding: Callable[[Job, dict], None] = lambda j, r: None,
             on_done: Callable[[Job], None] = lambda j: None,
             on_tick: Callable[[float, list[Job]], None] = lambda s, running: None) -> None:
    """Run every job at once, as children of ``owner`` started from this (the main) thread; return when all ended.

    Ctrl-C or SIGTERM here: every job is sent SIGINT, which a fuzz run takes as "stop and record what was
    found", and given ``STOP_GRACE_S`` to do it; then the exception goes on, and the owner kills what is left."""
    for job in jobs:
        job.store.mkdir(parents=True, exist_ok=True)
        job.node = owner.spawn(job.label.replace(" ", "-").replace("/", "-of-"), job.argv, env=job.environ(),
                               log_path=job.log)
        job.started = time.monotonic()
        on_start(job)
    running = list(jobs)
    t0 = next_tick = time.monotonic()
    try:
        while running:
            if time.monotonic() - next_tick >= HEARTBEAT_S:
                next_tick = time.monotonic()
                on_tick(next_tick - t0, running)
            still = []
            for job in running:
                done = job.node.returncode is not None  # before reading: what it saved precedes its exit
                for rec in job.new_findings():
                    on_finding(job, rec)
                if not done:
                    still.append(job)
                    continue
                _finish(job)
                on_done(job)
            running = still
            if running:
                time.sleep(POLL_S)
    except BaseException:
        for job in running:
            job.node.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        while any(j.node.returncode is None for j in running) and time.monotonic() < deadline:
            time.sleep(0.05)
        for job in running:
            if job.node.returncode is not None:
                _finish(job)
                on_done(job)
        raise


def _finish(job: Job) -> None:
    job.elapsed_s = time.monotonic() - job.started
    job.exit_code = job.node.returncode
    job.result = parse_json_line(job.node.log_text())


# -- merging stores -------------------------------------------------------------------------------


@dataclass
class Merged:
    """What one merge brought in, per source store."""

    sources: list[Path]
    runs: dict[str, Any] = field(default_factory=dict)  # lab.records.merge's counts, summed
    fuzz: dict[str, Any] = field(default_factory=dict)  # lab.fuzz.findings.merge's, summed

    @property
    def added(self) -> int:
        return self.runs.get("added", 0) + self.fuzz.get("added", 0)

    def line(self) -> str:
        r, f = self.runs, self.fuzz
        parts = [f"{r.get('added', 0)} run record(s) added ({r.get('present', 0)} already there)",
                 f"{f.get('added', 0)} fuzz record(s) added ({f.get('present', 0)} already there)"]
        if f.get("findings") or f.get("witnesses"):
            parts.append(f"{f.get('findings', 0)} new finding(s), {f.get('witnesses', 0)} more witness(es) of a "
                         "finding of the same mechanism")
        if r.get("run_folders"):
            parts.append(f"{r['run_folders']} run folder(s) copied")
        return f"merged {len(self.sources)} store(s): " + "; ".join(parts)


def check_source(path: Path) -> Path:
    """A shard's store to merge from: LabError (254) if it is not one, or if it is the current store."""
    path = Path(path)
    if not path.is_dir():
        raise LabError(f"--merge {path}: no such folder; give the results store of a shard (its LAB_RESULTS).")
    if path.resolve() == records.store_dir().resolve():
        raise LabError(f"--merge {path} is the current store (LAB_RESULTS) itself; merge other stores into it.")
    if not (records.record_files(path) or (path / "fuzz.jsonl").is_file() or records.diagnoses_file(path).is_file()):
        raise LabError(f"--merge {path} holds no records (no records/, runs.jsonl, fuzz.jsonl or diagnoses.jsonl); "
                       "give the results store of a shard (its LAB_RESULTS).")
    return path


def merge(sources: Sequence[Path], *, findings_dir: Path | None = None, copy_runs: bool = True) -> Merged:
    """Every source store merged into the current one (``LAB_RESULTS``), in the order given.

    Run records by run id, the fuzzer's records by (kind, id, time), finding files into ``findings_dir``
    (default ``findings/`` or ``$LAB_FINDINGS``); a source's finding files are read from its ``findings/``
    folder (the layout ``--jobs`` and examples/ci/fuzz-shards.yml give), else from where its record says."""
    from lab.fuzz import findings as F

    sources = [check_source(Path(s)) for s in sources]
    result = Merged(sources)
    for src in sources:
        for key, n in records.merge(src, copy_runs=copy_runs).items():
            result.runs[key] = result.runs.get(key, 0) + n
        for key, v in F.merge(src, directory=findings_dir).items():
            result.fuzz[key] = result.fuzz.get(key, [] if isinstance(v, list) else 0) + v
    return result


__all__ = ["ShardError", "parse_shard", "shard_text", "partition", "matrix_cell_key", "job_shards", "split_examples",
           "Job", "jobs_dir", "make_jobs", "run_jobs", "parse_json_line", "Merged", "check_source", "merge"]
