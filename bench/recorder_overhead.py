"""The flight recorder's overhead: chords through a bare Celery worker with and without ``install(app)``.

    python bench/recorder_overhead.py [--trials 5] [--size 10] [--count 40]

Each trial boots two bare topologies in turn (``bench.common.BareTopology``: a redis-server and
``celery -A bench.bare_app worker -c 2`` by hand), one with the recorder installed in the worker and the
producer (into the same redis-server's db 3), one without, in alternating order; sends ``count`` chords of
``size`` parts (``lab.part`` returning at once, the work the recorder adds to is all overhead) and times
the send to the last callback's result.  Prints tasks per second for both and the ratio, trial by trial.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench.common import BareTopology  # noqa: E402


def trial(size: int, count: int, run_dir: Path, recorder: bool) -> tuple[float, int]:
    from celery import chord

    with BareTopology(run_dir, recorder=recorder) as bare:
        bare.boot()
        app = bare.app
        t0 = time.time()
        results = [chord([app.signature("lab.part", args=(i, 0.0)) for i in range(size)])(app.signature("lab.collect"))
                   for _ in range(count)]
        for r in results:
            assert len(r.get(timeout=300)) == size
        took = time.time() - t0
        recorded = 0
        if recorder:  # the last events are written by the flusher a moment later: wait for them (bounded), then count
            store, deadline = redis.Redis(port=bare.port, db=3), time.time() + 2
            while store.xlen("lab:recorder") < 3 * count * (size + 1) and time.time() < deadline:
                time.sleep(0.02)
            recorded = store.xlen("lab:recorder")
    return took, recorded


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--size", type=int, default=10)
    ap.add_argument("--count", type=int, default=40)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-recorder-"))
    tasks = a.count * (a.size + 1)
    with_s, without_s, ratios, events = [], [], [], []
    for i in range(a.trials):
        order = (True, False) if i % 2 == 0 else (False, True)
        got = {}
        for rec in order:
            got[rec] = trial(a.size, a.count, tmp / f"t{i}-{'rec' if rec else 'bare'}", rec)
        with_s.append(got[True][0])
        without_s.append(got[False][0])
        events.append(got[True][1])
        ratios.append(got[True][0] / got[False][0])
        print(f"trial {i + 1}: with the recorder {tasks / got[True][0]:.0f} tasks/s ({got[True][1]} events), "
              f"without {tasks / got[False][0]:.0f} tasks/s, time ratio {ratios[-1]:.3f}", flush=True)
    print(f"\n{a.count} chords × {a.size} parts (+ callback), {a.trials} trials: with the recorder "
          f"{tasks / statistics.median(with_s):.0f} tasks/s, without {tasks / statistics.median(without_s):.0f} tasks/s "
          f"(medians); time with/without, trial by trial: median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}–{max(ratios):.3f}); {statistics.median(events):.0f} events recorded per trial")
    return 0


if __name__ == "__main__":
    sys.exit(main())
