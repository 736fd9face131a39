"""Benchmark: what a test costs with the pytest plugin, after the first boot, against pytest-celery's figure.

    python bench/pytest_plugin.py [--tests 20] [--rounds 3] [--json]

Where it sits: outside the lab's flow, measuring the plugin (``lab/testing/``) as a user's suite meets it.  A
small project is written to a temporary folder (a plain ``Celery(...)`` app, one worker line, two lines of
pytest.ini), with a suite of N tests that each assert that a chord of 3 parts completes.  Side by side, in
the same run, alternating:

- **one test**: the suite cut to its first test: pytest's start, the topology's boot, one verdict;
- **N tests**: the whole suite;
- **the same suite, no lab**: N tests that only build the chord (pytest's own cost per test, the floor).

Per-test overhead after the first boot = (wall of N tests - wall of one test) / (N - 1).  pytest-celery cannot
run here (it needs Docker images); its documentation times 2 warm tests at 22.8 s, about 11.4 s a test, which
the issue quotes, and that is the figure this is set against.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PYTEST_CELERY_S_PER_WARM_TEST = 22.8 / 2  # pytest-celery's docs: 2 warm tests in 22.8 s

APP = '''
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def total(parts):
    return sum(parts)
'''

INI = '''
[pytest]
lab_app = shop.worker:app
lab_workers = celery -A shop.worker:app worker -Q celery -c 2
'''


def suite(n: int, *, lab: bool) -> str:
    body = "    assert_chord_completes(chord([add.s(i, 1) for i in range(3)], total.s()))" if lab else \
        "    chord([add.s(i, 1) for i in range(3)], total.s())"
    arg = "assert_chord_completes" if lab else ""
    return "from celery import chord\nfrom shop.worker import add, total\n\n" + "\n".join(
        f"\ndef test_chord_{i}({arg}):\n{body}\n" for i in range(n))


def project(root: Path, n: int, lab: bool) -> Path:
    root.mkdir(parents=True)
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "worker.py").write_text(textwrap.dedent(APP))
    (root / "pytest.ini").write_text(textwrap.dedent(INI))
    (root / "test_chords.py").write_text(suite(n, lab=lab))
    return root


def run(root: Path) -> float:
    env = {**os.environ, "LAB_RESULTS": str(root / "lab-store")}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"the suite in {root} failed (exit {done.returncode}):\n{done.stdout[-2000:]}")
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lab-bench-pytest-"))
    one, many, floor = project(base / "one", 1, True), project(base / "many", args.tests, True), \
        project(base / "floor", args.tests, False)
    walls: dict[str, list[float]] = {"one": [], "many": [], "floor": []}
    load_start = os.getloadavg()
    for r in range(args.rounds):
        for name, root in (("one", one), ("many", many), ("floor", floor)):
            walls[name].append(run(root))
        print(f"round {r + 1}: 1 test {walls['one'][-1]:.2f} s, {args.tests} tests {walls['many'][-1]:.2f} s, "
              f"{args.tests} tests without the lab {walls['floor'][-1]:.2f} s", flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    per_test = (med["many"] - med["one"]) / (args.tests - 1)
    figures = {"tests": args.tests, "rounds": args.rounds, "cpus": os.cpu_count(),
               "median_s": {k: round(v, 2) for k, v in med.items()},
               "walls_s": {k: [round(x, 2) for x in v] for k, v in walls.items()},
               "per_test_after_boot_s": round(per_test, 3),
               "one_test_with_boot_s": round(med["one"], 2),
               "pytest_celery_s_per_warm_test": PYTEST_CELERY_S_PER_WARM_TEST,
               "ratio_to_pytest_celery": round(PYTEST_CELERY_S_PER_WARM_TEST / per_test, 1) if per_test > 0 else None,
               "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]}}
    print(f"\nper test after the first boot: {per_test:.3f} s (median of {args.rounds}: {args.tests} tests "
          f"{med['many']:.2f} s, 1 test {med['one']:.2f} s; pytest alone {med['floor']:.2f} s for {args.tests}); "
          f"pytest-celery's documented warm test: {PYTEST_CELERY_S_PER_WARM_TEST:.1f} s "
          f"({figures['ratio_to_pytest_celery']}x)")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
