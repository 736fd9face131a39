"""Whole catalogue: every scenario once, sequentially and in parallel up to the machine's cores.

    python bench/catalogue.py [--jobs N] [--store DIR]

Each scenario is one ``python -m lab run NAME --json`` (the CLI's own start
included); docker-only scenarios are skipped.  The records land in the store,
where ``verdict.py`` and ``shutdown.py`` read their timings.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import last_json, run_lab  # noqa: E402
from lab.scenario import DOCKER_FAULT_KINDS, load_file, scenario_paths  # noqa: E402

TARGET_S = 180.0


def runnable() -> list[str]:
    return [n for n, p in scenario_paths().items() if not any(f.kind in DOCKER_FAULT_KINDS for f in load_file(p).faults)]


def one(name: str, store: Path) -> dict:
    t0 = time.time()
    done = run_lab(["run", name, "--json"], store, timeout=300)
    line = last_json(done.stdout) or {}
    return {"name": name, "wall_s": time.time() - t0, "exit": done.returncode, "status": line.get("status"),
            "teardown_s": (line.get("timings") or {}).get("teardown_s"),  # only in the --json line: it comes after the record
            "error": None if line else done.stderr.strip()[-200:]}


def sweep(names: list[str], store: Path, jobs: int) -> dict:
    t0 = time.time()
    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(lambda n: one(n, store), names))
    return {"jobs": jobs, "wall_s": time.time() - t0, "rows": rows}


def measure(store: Path, jobs: int | None = None) -> dict:
    names = runnable()
    jobs = jobs or os.cpu_count() or 2
    seq = sweep(names, store / "sequential", 1)
    par = sweep(names, store / "parallel", jobs)
    return {"scenarios": len(names), "sequential": seq, "parallel": par, "target_s": TARGET_S,
            "slowest": sorted(seq["rows"], key=lambda r: -r["wall_s"])[:6]}


def markdown(m: dict) -> str:
    def verdict(s: float) -> str:
        return "meets" if s < m["target_s"] else "**misses**"

    bad = [r for sweep_ in (m["sequential"], m["parallel"]) for r in sweep_["rows"] if r["status"] not in ("matched",)]
    lines = ["## Whole catalogue\n",
             f"{m['scenarios']} scenarios (every one but the docker-only ones), each `python -m lab run NAME` once.\n",
             "| sweep | wall time | target |", "|---|---|---|",
             f"| sequential | {m['sequential']['wall_s']:.0f} s | < {m['target_s']:.0f} s: {verdict(m['sequential']['wall_s'])} |",
             f"| parallel, {m['parallel']['jobs']} at once | {m['parallel']['wall_s']:.0f} s | < {m['target_s']:.0f} s: "
             f"{verdict(m['parallel']['wall_s'])} |",
             f"| ratio parallel / sequential | {m['parallel']['wall_s'] / m['sequential']['wall_s']:.2f}× | |",
             "", "Slowest scenarios (sequential sweep): "
             + ", ".join(f"{r['name']} {r['wall_s']:.1f} s" for r in m["slowest"]) + ".\n"]
    if bad:
        lines.append("Runs that did not match their expectation in these sweeps: "
                     + ", ".join(f"{r['name']} ({r['status'] or r['error']})" for r in bad) + ".\n")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--store", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cat-") as tmp:
        m = measure(a.store or Path(tmp), a.jobs)
        print(markdown(m))
