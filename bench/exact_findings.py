"""Do the saved findings reproduce as exact canvases?  `lab run` on each, and `lab replay --chains both`.

    findings/*.py → ``python -m lab run <id>`` (the canvas as built, judged by its oracle) × RUNS
                  → ``python -m lab replay <id> --chains both`` (each construction path; recorded in the finding)

Every run is a real topology (its own redis-server and workers), recorded in the store
(``$LAB_RESULTS``, campaign ``$LAB_CAMPAIGN``).  Prints one line per finding and a summary; ``--json``
writes the rows to stdout as the last line.

    python bench/exact_findings.py [--runs 3] [--jobs 4] [--only ID ...] [--no-paths]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def lab(*args: str) -> tuple[int, dict, float]:
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "lab", *args, "--json"], capture_output=True, text=True, cwd=ROOT)
    last = (p.stdout.strip().splitlines() or ["{}"])[-1]
    try:
        data = json.loads(last)
    except ValueError:
        data = {"error": (p.stderr.strip().splitlines() or ["?"])[-1]}
    return p.returncode, data, time.time() - t0


def check(fid: str, runs: int, paths: bool) -> dict:
    from lab.fuzz import findings as F
    from lab.fuzz import strategies as S

    data = F.load(fid)
    row = {"id": fid, "kind": data["finding"]["finding_kind"], "run": [], "run_s": []}
    for _ in range(runs):
        rc, out, took = lab("run", fid)
        row["run"].append(out.get("status") or out.get("error") or f"rc={rc}")
        row["run_s"].append(round(took, 2))
    if paths and any(S.chain_paths(s) for s in data["shapes"]):
        rc, out, _ = lab("replay", fid, "--runs", "1", "--chains", "both")
        row["chains"] = (out.get("replay") or {}).get("chains")
        row["construction"] = (F.load(fid)["finding"].get("construction") or {}).get("needs")
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--no-paths", action="store_true", help="skip the construction-path replays")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from lab.fuzz import findings as F

    ids = a.only or sorted(p.stem.replace("_", "-") for p in F.findings_dir().glob("*.py"))
    t0 = time.time()
    rows = []
    with cf.ThreadPoolExecutor(a.jobs) as pool:
        for row in pool.map(lambda fid: check(fid, a.runs, not a.no_paths), ids):
            rows.append(row)
            paths = f"  chains {row['chains']} needs {row.get('construction')}" if "chains" in row else ""
            print(f"{row['id']:45} {row['kind']:38} lab run: {'/'.join(row['run'])}{paths}", flush=True)
    matched = sum(r["run"].count("matched") for r in rows)
    total = sum(len(r["run"]) for r in rows)
    every = sum(1 for r in rows if r["run"] and all(x == "matched" for x in r["run"]))
    secs = sorted(s for r in rows for s in r["run_s"])
    print(f"\n{every}/{len(rows)} findings matched on every `lab run`; {matched}/{total} runs matched; "
          f"median run {secs[len(secs) // 2] if secs else 0:.2f} s; {time.time() - t0:.0f} s in all")
    needs = [r for r in rows if r.get("construction")]
    print(f"{len(needs)} finding(s) need one construction path: "
          + ", ".join(f"{r['id']} ({r['construction']})" for r in needs))
    if a.json:
        print(json.dumps(rows))
    return 0 if every == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
