"""A canvas scenario against the same chords as ``lab.Chord``s, and an exported reproducer against `lab run`.

    python bench/canvas_run.py [-n 7]

Pair 1: ``lab run`` of a canvas scenario (``canvas(app)`` of the fuzzer's tasks, sent as built and judged
by the oracle computed from it, through the fuzzer's session) against ``lab run healthy`` (the same
worker, config and work: 3 chords of 3 parts of 0.05 s, as ``lab.Chord``s), both from this tree, each into
its own throwaway store.  Pair 2: ``bash run.sh`` of ``lab export early-order-168d50`` (plain Celery: its
own redis-server, the worker, repro.py) against ``lab run early-order-168d50``.  Whole processes, A B A B ...
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import paired  # noqa: E402
from lab import records  # noqa: E402

CANVAS_HEALTHY = '''
from celery import chord
from lab import Scenario, Worker
from lab.apps.fuzz import bind


def canvas(app):
    fuzz = bind(app)
    return [chord([fuzz.part.s(value=v, duration=0.05) for v in (1, 2, 3)], fuzz.total.s(value=0)) for _ in range(3)]


scenario = Scenario(
    name="healthy-canvas", description="healthy's chords as a canvas", expect="completed",
    config={"task_routes": {"fuzz.part": {"queue": "execution"}, "fuzz.total": {"queue": "reports"}}},
    tasks=("lab.apps.fuzz",), workers=(Worker("w1", queues=("execution", "reports"), concurrency=2),), canvas=canvas,
)
'''


def lab_cmd(store: Path, *args: str) -> list[str]:
    return ["env", "-C", str(ROOT), f"PYTHONPATH={ROOT}", f"LAB_RESULTS={store}", sys.executable, "-m", "lab", *args]


def timings(store: Path, key: str) -> list[float]:
    return [r["timings"][key] for r in records.load_all(store) if key in (r.get("timings") or {})]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=7)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-canvas-"))
    (tmp / "healthy_canvas.py").write_text(CANVAS_HEALTHY)
    print(f"## lab run: a canvas scenario (A) vs lab run healthy, the same chords as lab.Chord (B); n={a.n}", flush=True)
    paired(lab_cmd(tmp / "a", "run", str(tmp / "healthy_canvas.py")), lab_cmd(tmp / "b", "run", "healthy"), n=a.n,
           label_a="canvas", label_b="Chord")
    for key in ("boot_s", "verdict_after_quiesce_s"):
        ca, cb = timings(tmp / "a", key), timings(tmp / "b", key)
        if ca and cb:
            print(f"  {key}: canvas {statistics.median(ca):.3f} s, Chord {statistics.median(cb):.3f} s (medians)")
    export = tmp / "export"
    os.system(" ".join(lab_cmd(tmp / "x", "export", "early-order-168d50", "--to", str(export))) + " > /dev/null")
    env_path = f"PATH={Path(sys.executable).parent}:{os.environ['PATH']}"
    print(f"## exported early-order-168d50: bash run.sh, plain Celery (A) vs lab run early-order-168d50 (B); n={a.n}",
          flush=True)
    paired(["env", "-C", str(export), env_path, "REPRO_PORT=6399", "bash", "run.sh"],
           lab_cmd(tmp / "c", "run", "early-order-168d50"), n=a.n, label_a="export", label_b="lab run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
