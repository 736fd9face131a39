"""Long work: open file descriptors and RSS of one lab process over many runs.

    python bench/long_runs.py [--runs 200] [--scenario healthy] [--store DIR] [--json FILE]

One process runs the scenario ``--runs`` times through ``lab.experiments.run.run_scenario``,
the in-process API ``python -m lab run NAME --runs N`` loops over, and reads
``/proc/self/fd`` and its RSS (psutil) after each run.  It reports both after
the first, the 10th and the last run, and the slope per run (least squares
from the 10th run on, so imports and first-use caches do not count as growth).
The soft ``RLIMIT_NOFILE`` is raised to the hard limit, so a leaking lab still
gets far enough to measure; a run that fails ends the measure, and says so.
The store is a temporary folder unless ``--store`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.common import load_average  # noqa: E402


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # less the one listdir itself holds


def slope(ys: list[float]) -> float:
    """Least-squares growth per run of ``ys`` (0 with fewer than two points)."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in enumerate(ys)) / sum((x - mx) ** 2 for x in range(n))


def measure(scenario: str, runs: int, seed: int, say=print) -> dict:
    from lab.experiments.run import run_scenario
    from lab.scenario import load

    s = load(scenario)
    proc = psutil.Process()
    before = {"fds": open_fds(), "rss_mib": proc.memory_info().rss / 2**20}
    rows: list[dict] = []
    failed = None
    t0 = time.time()
    for i in range(runs):
        try:
            result = run_scenario(s, seed=seed + i, scenario_ref=scenario)
            status = result.outcome["status"]
        except Exception as e:  # EMFILE from a leaking lab, typically: that is the finding
            failed = {"run": i + 1, "error": f"{type(e).__name__}: {str(e).strip()[:200]}"}
            say(f"run {i + 1} failed: {failed['error']}")
            break
        rows.append({"run": i + 1, "fds": open_fds(), "rss_mib": round(proc.memory_info().rss / 2**20, 2), "status": status})
        if i + 1 in (1, 10) or (i + 1) % 25 == 0 or i + 1 == runs:
            say(f"run {i + 1}: {rows[-1]['fds']} fds, RSS {rows[-1]['rss_mib']:.1f} MiB ({status})")
    tail = rows[9:] if len(rows) > 10 else rows
    pick = lambda n: rows[n - 1] if len(rows) >= n else None  # noqa: E731
    return {"scenario": scenario, "runs_asked": runs, "runs_done": len(rows), "failed": failed, "before": before,
            "first": pick(1), "tenth": pick(10), "last": rows[-1] if rows else None,
            "fds_per_run": round(slope([r["fds"] for r in tail]), 3),
            "rss_kib_per_run": round(slope([r["rss_mib"] for r in tail]) * 1024, 1),
            "elapsed_s": round(time.time() - t0, 1), "rows": rows}


def summary(m: dict) -> str:
    def at(row: dict | None) -> str:
        return f"{row['fds']} fds, {row['rss_mib']:.1f} MiB" if row else "-"

    lines = [f"{m['scenario']}: {m['runs_done']}/{m['runs_asked']} runs in {m['elapsed_s']:.0f} s"
             + (f"; stopped at run {m['failed']['run']}: {m['failed']['error']}" if m["failed"] else ""),
             f"  before: {m['before']['fds']} fds, {m['before']['rss_mib']:.1f} MiB",
             f"  run 1: {at(m['first'])}; run 10: {at(m['tenth'])}; run {m['runs_done']}: {at(m['last'])}",
             f"  slope from run 10 on: {m['fds_per_run']:+.2f} fds/run, {m['rss_kib_per_run']:+.1f} KiB RSS/run"]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--scenario", default="healthy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", type=Path, default=None, help="the results store (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=None, help="also write every row as JSON here")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        os.environ["LAB_RESULTS"] = str(a.store or Path(tmp) / "results")
        m = measure(a.scenario, a.runs, a.seed)
    m["load_average"] = {"before": load_before, "after": load_average()}
    m["nofile_limit"] = hard
    print(summary(m))
    print(f"  load average before {load_before}; after {m['load_average']['after']}")
    if a.json:
        a.json.write_text(json.dumps(m, indent=1))
    return 1 if m["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
