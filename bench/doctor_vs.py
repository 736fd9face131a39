"""Doctor's wall time against a baseline doctor, on the same live deployment, paired run by run.

    python bench/doctor_vs.py --baseline /path/to/older/checkout [--scenario route-glob-mismatch] [-n 9]

One scenario is brought up and left up (``lab.experiments.live.keep_up``, as the agreement experiment
does); then ``bench.common.paired`` runs ``python -m lab doctor --app lab.worker_app:app --chord <id> --json``
from this tree (A) and from the baseline tree (B) in turn, A B A B ..., by callback id and by group id.
Both doctors read the same broker, backend and workers, so the ratio A/B is what one doctor's reading
costs against the other's.  Nothing is recorded; the deployment is torn down at the end.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import paired  # noqa: E402
from lab.experiments.live import keep_up  # noqa: E402
from lab.scenario import load  # noqa: E402


def doctor_cmd(tree: Path, app_spec: Path, flag: str, ident: str) -> str:
    argv = [sys.executable, "-m", "lab", "doctor", "--app", "lab.worker_app:app", "--json", flag, ident]
    # run from the tree itself: `python -m lab` puts the working directory first on sys.path
    return f"env -C {tree} PYTHONPATH={tree} LAB_APP={app_spec} " + shlex.join(argv)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, required=True, help="a checkout of the lab to compare with (B)")
    ap.add_argument("--scenario", default="route-glob-mismatch")
    ap.add_argument("-n", type=int, default=9, help="runs of each doctor, per id kind")
    args = ap.parse_args()
    os.environ.setdefault("LAB_RESULTS", "/tmp/lab-bench-doctor")
    with keep_up(load(args.scenario)) as live:
        chord = live.sent[0]
        spec = live.app_spec_path()
        print(f"{args.scenario}: lab says {live.verdicts[0].verdict} · {live.verdicts[0].cause}", flush=True)
        for flag, ident in (("--chord", chord["chord_id"]), ("--group", chord["group_id"])):
            a = doctor_cmd(ROOT, spec, flag, ident)
            b = doctor_cmd(args.baseline.resolve(), spec, flag, ident)
            print(f"\n## doctor {flag} (A: this tree, B: {args.baseline})", flush=True)
            paired(shlex.split(a), shlex.split(b), n=args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
