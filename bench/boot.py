"""Topology boot: the lab's `run` to "all workers ready", against redis-server + celery worker by hand.

    python bench/boot.py [--trials 7]

Trials alternate lab, bare, lab, bare..., so both see the same machine; the
ratio is taken per pair, then its median.  Lab: from spawning
``python -m lab run healthy`` to the last worker's ready time in its record
(so it includes the CLI's own start).  Bare (``common.BareTopology``): from
spawning redis-server to the worker's first control-ping reply.  Same worker
flags, same concurrency, same task code.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BareTopology, fmt, run_lab, stats  # noqa: E402
from lab import records  # noqa: E402


def lab_boot(store: Path) -> dict[str, float]:
    t0 = time.time()
    done = run_lab(["run", "healthy", "--json"], store, timeout=120)
    recs = list(records.load_all(store))
    if done.returncode not in (0, 1, 2) or not recs:
        raise RuntimeError(f"lab run failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    rec = recs[-1]
    topo = rec["observations"]["topology"]
    ready = max(w["ready_at"] for w in topo["workers"])
    return {"boot_s": ready - t0, "bring_up_s": rec["timings"]["boot_s"], "import_s": rec["started_at"] - t0}


def bare_boot(run_dir: Path) -> dict[str, float]:
    with BareTopology(run_dir) as bare:
        return bare.boot()


def measure(trials: int) -> dict:
    lab, bare, ratios = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
        for i in range(trials):
            lab_t = lab_boot(Path(tmp) / "store")
            bare_t = bare_boot(Path(tmp) / f"bare-{i}")
            lab.append(lab_t)
            bare.append(bare_t)
            ratios.append(lab_t["boot_s"] / bare_t["boot_s"])
    return {
        "lab_boot": stats([x["boot_s"] for x in lab]),
        "lab_cli_start": stats([x["import_s"] for x in lab]),
        "lab_bring_up": stats([x["bring_up_s"] for x in lab]),
        "bare_boot": stats([x["boot_s"] for x in bare]),
        "bare_ready_line": stats([x["ready_line_s"] for x in bare]),
        "ratio_ready_line": stats([a["boot_s"] / b["ready_line_s"] for a, b in zip(lab, bare)]),
        "ratio": stats(ratios),
        "target": 1.2,
    }


def markdown(m: dict) -> str:
    ok = "meets" if m["ratio"]["median"] < m["target"] else "**misses**"
    return "\n".join([
        "## Topology boot\n",
        "`healthy` (one prefork worker, -c 2) through `python -m lab run`, against the same redis-server + "
        "`celery worker` started by hand and ready by ping; trials alternate, the ratio is per pair.\n",
        "| measure | median (spread) |", "|---|---|",
        f"| lab: `run` spawned → all workers ready | {fmt(m['lab_boot'])} |",
        f"| … of which the CLI's own start (imports) | {fmt(m['lab_cli_start'])} |",
        f"| … of which bring_up (redis + workers ready) | {fmt(m['lab_bring_up'])} |",
        f"| bare: redis-server + celery worker by hand → ping | {fmt(m['bare_boot'])} |",
        f"| … the bare worker's own \"ready.\" log line (what the lab waits for), same trials | {fmt(m['bare_ready_line'])} |",
        f"| **ratio lab / bare (ping)** | {fmt(m['ratio'], unit='×')} |",
        f"| ratio lab / bare (its \"ready.\" line) | {fmt(m['ratio_ready_line'], unit='×')} |",
        "", f"Target: under {m['target']}× — {ok} (median, against ready-by-ping as the target defines it; "
        f"against the bare worker's own ready line the lab is {m['ratio_ready_line']['median']:.2f}×).\n",
    ])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=7)
    m = measure(ap.parse_args().trials)
    print(json.dumps(m, indent=1))
    print(markdown(m))
