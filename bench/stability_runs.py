"""Stable verdicts: run every deterministic scenario N times (default 20), two at once at most.

    python bench/stability_runs.py [--runs 20] [--jobs 2] [--store results-stability-staging] [NAME ...]

Each scenario is one `nice python -m lab run NAME --runs N --json` into the
store (default ``results-stability-staging/``, which the lead merges into the
repo's store); the agreement table (``lab.report.stability``) is printed at the end.
Docker-only scenarios are skipped (they need ``--runtime docker``).  Longest
scenarios start first, so two lanes finish together.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab import records  # noqa: E402
from lab.scenario import DOCKER_FAULT_KINDS, load_file, scenario_paths  # noqa: E402
from lab.report.stability import agreement_table  # noqa: E402


def runnable() -> list[str]:
    names = []
    for name, path in scenario_paths().items():
        s = load_file(path)
        if any(f.kind in DOCKER_FAULT_KINDS for f in s.faults):
            continue
        names.append(name)
    return names


def expected_seconds(name: str) -> float:
    """A rough length (work + settle) used only to start the long ones first."""
    s = load_file(scenario_paths()[name])
    work = sum(max(c.durations(), default=0) for c in s.chords)
    return work + s.settle + s.quiet + len(s.workers)


def run_one(name: str, runs: int, store: Path, log_dir: Path) -> dict:
    env = {**os.environ, "LAB_RESULTS": str(store), "PYTHONPATH": str(ROOT)}
    t0 = time.time()
    with open(log_dir / f"{name}.log", "wb") as log:
        done = subprocess.run(["nice", "-n", "5", sys.executable, "-m", "lab", "run", name, "--runs", str(runs), "--json"],
                              stdout=subprocess.PIPE, stderr=log, env=env, cwd=ROOT)
        log.write(done.stdout)
    lines = [json.loads(ln) for ln in done.stdout.decode(errors="replace").splitlines() if ln.startswith("{")]
    statuses = [ln["status"] for ln in lines]
    print(f"{time.strftime('%H:%M:%S')} {name}: {len(lines)}/{runs} runs in {time.time() - t0:.0f}s, exit {done.returncode}, "
          f"{ {s: statuses.count(s) for s in set(statuses)} }", flush=True)
    return {"name": name, "runs": len(lines), "exit": done.returncode}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--store", type=Path, default=ROOT / "results-stability-staging")
    a = ap.parse_args()
    names = a.names or runnable()
    names.sort(key=expected_seconds, reverse=True)
    log_dir = a.store / "batch-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with ThreadPoolExecutor(a.jobs) as pool:
        list(pool.map(lambda n: run_one(n, a.runs, a.store, log_dir), names))
    print(f"{len(names)} scenarios x {a.runs} runs in {time.time() - t0:.0f}s")
    recs = [r for r in records.load_all(a.store) if r["scenario"] in set(names)]
    print(agreement_table(recs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
