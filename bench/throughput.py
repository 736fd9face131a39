"""Throughput: chords and header tasks per second through the lab, against bare Celery, sizes 10/100/1000.

    python bench/throughput.py [--trials 3]

The same topology both ways (one prefork worker, -c 2, consuming the header's
and the callback's queues) and the same chords (parts of zero duration).  Lab:
``run_scenario`` on a healthy scenario built here; its time is from the send
to the last chord's proven verdict (``timings.header_s`` +
``verdict_after_quiesce_s``), so it pays for the ledger, the probes and the
judge.  Bare: ``bench/bare_app.py`` by hand, from the send to the last
callback's ``get()``.  Boot is excluded on both sides.  Trials alternate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BareTopology, fmt, stats  # noqa: E402
from lab import Chord, Scenario, Worker  # noqa: E402

SIZES = {10: 20, 100: 5, 1000: 1}  # chord size → chords per trial
ROUTES = {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}


def scenario(size: int, count: int) -> Scenario:
    return Scenario(name=f"bench-throughput-{size}", description=f"{count} chord(s) of {size} parts, healthy",
                    expect="completed", config={"task_routes": ROUTES},
                    workers=(Worker("w1", queues=("execution", "reports"), concurrency=2),),
                    chords=(Chord(header=size, duration=0.0, count=count),))


def lab_trial(size: int, count: int, store: Path) -> float:
    from lab.experiments.run import run_scenario

    os.environ["LAB_RESULTS"] = str(store)
    result = run_scenario(scenario(size, count), seed=size)
    if result.outcome["status"] != "matched":
        raise RuntimeError(f"lab throughput run of size {size} did not complete: {result.outcome}")
    t = result.timings
    return t["header_s"] + t["verdict_after_quiesce_s"]


def bare_trial(size: int, count: int, run_dir: Path) -> float:
    from celery import chord

    with BareTopology(run_dir) as bare:
        bare.boot()
        app = bare.app
        t0 = time.time()
        results = [chord([app.signature("lab.part", args=(i, 0.0)) for i in range(size)])(app.signature("lab.collect"))
                   for _ in range(count)]
        for r in results:
            got = r.get(timeout=300)
            assert len(got) == size
        return time.time() - t0


def measure(trials: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-tp-") as tmp:
        for size, count in SIZES.items():
            lab, bare = [], []
            for i in range(trials):
                lab.append(lab_trial(size, count, Path(tmp) / "store"))
                bare.append(bare_trial(size, count, Path(tmp) / f"bare-{size}-{i}"))
            out[size] = {"count": count, "lab_s": stats(lab), "bare_s": stats(bare),
                         "ratio": stats([a / b for a, b in zip(lab, bare)])}
    return out


def markdown(m: dict) -> str:
    lines = ["## Throughput\n",
             "Healthy topology (one worker, -c 2); from the send to the last chord done (lab: its proven verdict; "
             "bare Celery: the last callback's `get()`), boot excluded. Rates are from the medians.\n",
             "| chord size | chords | lab: chords/s · tasks/s | bare: chords/s · tasks/s | time lab / bare (median, range) |",
             "|---:|---:|---|---|---|"]
    for size, r in m.items():
        lab, bare, n = r["lab_s"]["median"], r["bare_s"]["median"], r["count"]
        lines.append(f"| {size} | {n} | {n / lab:.1f} · {n * size / lab:.0f} | {n / bare:.1f} · {n * size / bare:.0f} | "
                     f"{fmt(r['ratio'], unit='×')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    print(markdown(measure(ap.parse_args().trials)))
