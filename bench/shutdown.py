"""Shutdown: the lab's teardown once the verdict is stored, against a worker's plain warm shutdown.

    python bench/shutdown.py [--trials 5] [--json-log FILE ...]

Lab: ``timings.teardown_s`` of every run of this bench (the catalogue sweeps),
i.e. SIGKILL of every owned process group and reaping, after the record is
written.  It is measured after the record is stored, so it is in the run's
``--json`` line, not in the record: read from the sweeps' output, or from
``--json-log`` files (e.g. the stability batch's ``batch-logs/*.log``).  Bare: a worker by hand (``bench/bare_app.py``) sent SIGTERM
(warm shutdown, what ``Ctrl-C`` or a service manager does) until it exits,
with its redis-server still up, measured ``--trials`` times.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BareTopology, fmt, stats  # noqa: E402


def from_json_logs(paths: list[Path]) -> list[float]:
    """teardown_s of every `python -m lab run --json` line in these files."""
    out = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    t = (json.loads(line).get("timings") or {}).get("teardown_s")
                except ValueError:
                    continue
                if t is not None:
                    out.append(t)
    return out


def warm_shutdown(run_dir: Path) -> float:
    with BareTopology(run_dir) as bare:
        bare.boot()
        t0 = time.time()
        bare.worker.send_signal(signal.SIGTERM, group=False)  # to the worker itself, as a service manager does
        bare.worker._popen.wait(timeout=60)
        return time.time() - t0


def measure(teardowns: list[float], trials: int, source: str = "every run of the catalogue sweeps") -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-down-") as tmp:
        warm = [warm_shutdown(Path(tmp) / f"w{i}") for i in range(trials)]
    return {"lab": stats(teardowns) if teardowns else None, "warm": stats(warm), "source": source}


def markdown(m: dict) -> str:
    lines = ["## Shutdown\n", "| measure | median (spread) |", "|---|---|"]
    if m["lab"]:
        lines.append(f"| lab teardown after the record is stored ({m['source']}) | {fmt(m['lab'])} |")
    lines.append(f"| bare worker, warm shutdown (SIGTERM → exit) | {fmt(m['warm'])} |")
    if m["lab"]:
        lines += ["", f"The lab's teardown is {m['warm']['median'] / max(m['lab']['median'], 1e-3):.0f}× quicker than "
                  "a warm shutdown: it never waits for one, since the verdict is already stored.\n"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--json-log", type=Path, nargs="*", default=[])
    a = ap.parse_args()
    print(markdown(measure(from_json_logs(a.json_log), a.trials, f"{len(a.json_log)} run log(s)")))
