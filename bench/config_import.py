"""Config by import against config as JSON: `lab run` wall time and worker boot, this tree against a baseline.

    python bench/config_import.py --baseline /path/to/older/checkout [--scenario split-queues] [-n 7]

Issue 13 made workers import the scenario file for their Celery config (so a regex route or a router
function reaches them as an object), where before they read it from a JSON spec.  ``bench.common.paired`` runs
``python -m lab run SCENARIO`` from this tree (A) and from the baseline tree (B) in turn, A B A B ...,
each into its own throwaway store; then the records' own boot times (spawn to the last worker's
"ready.") are compared, median against median.  A second pair times ``lab run --app`` on
examples/origin_app (the user's own project, stand-ins) against the same topology as a scenario
(``route-glob-mismatch``), both from this tree.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab import records  # noqa: E402
from bench.common import paired  # noqa: E402


def run_cmd(tree: Path, store: Path, args: list[str], cwd: Path | None = None) -> str:
    argv = [sys.executable, "-m", "lab", "run", *args]
    # run from the tree itself: `python -m lab` puts the working directory first on sys.path
    return f"env -C {cwd or tree} PYTHONPATH={tree} LAB_RESULTS={store} " + shlex.join(argv)


def boots(store: Path) -> list[float]:
    return [r["timings"]["boot_s"] for r in records.load_all(store) if r.get("timings", {}).get("boot_s")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout of the lab to compare with (B)")
    ap.add_argument("--scenario", default="split-queues")
    ap.add_argument("-n", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-config-"))
    a_store, b_store = tmp / "a", tmp / "b"
    a = run_cmd(ROOT, a_store, [args.scenario])
    b = run_cmd(args.baseline.resolve(), b_store, [args.scenario])
    print(f"## lab run {args.scenario} (A: this tree, config by import; B: {args.baseline}, config as JSON)", flush=True)
    paired(shlex.split(a), shlex.split(b), n=args.n)
    ba, bb = boots(a_store), boots(b_store)
    if ba and bb:
        print(f"boot (spawn to every worker ready), median of {len(ba)}/{len(bb)}: A {statistics.median(ba):.2f} s, "
              f"B {statistics.median(bb):.2f} s, A/B {statistics.median(ba) / statistics.median(bb):.2f}")
    origin = ROOT / "examples" / "origin_app"
    u_store, s_store = tmp / "user", tmp / "scenario"
    user = run_cmd(ROOT, u_store, ["--app", "myproject.worker:app", "--worker", "celery -A myproject.worker:app worker -c 4",
                                   "--canvas", "myproject.jobs:build_test_run", "--stand-ins"], cwd=origin)
    scen = run_cmd(ROOT, s_store, ["route-glob-mismatch"])
    print("\n## lab run --app examples/origin_app (A) against route-glob-mismatch, the same topology as a scenario (B)", flush=True)
    paired(shlex.split(user), shlex.split(scen), n=args.n)
    bu, bs = boots(u_store), boots(s_store)
    if bu and bs:
        print(f"boot, median: --app {statistics.median(bu):.2f} s, scenario {statistics.median(bs):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
