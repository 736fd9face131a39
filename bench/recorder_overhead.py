"""The flight recorder's overhead: chords through a bare Celery worker with and without ``install(app)``.

    python bench/recorder_overhead.py [--rounds 5] [--trials 6] [--warmup 1] [--size 10] [--count 150] [--control]

A round boots two bare topologies (``bench.common.BareTopology``: a redis-server and ``celery -A
bench.bare_app worker -c 2`` by hand), each with its own producer process: one with the recorder installed in
its worker and its producer (``install(app)``, into the same redis-server's db 3), one without; which is booted
first alternates from round to round.  A trial is a pair of runs, one on each, never at once, the order
alternating (with first in odd trials, without first in even ones), after ``warmup`` pairs that are not
counted; the idle topology costs nothing meanwhile (no heartbeats, no gossip, a recorder with nothing queued
sleeps).  A run sends ``count`` chords of ``size`` parts
(``lab.part`` returning at once: what the recorder adds is all overhead) and times the send to the last
callback's result; it also takes the CPU seconds (user + system) every process of its topology spent
meanwhile: the worker and its pool children, redis-server, and the producer.  A recorded run then waits
(bounded) for all its events to reach the stream.

``--control`` runs the same with the recorder in neither topology: the ratios the bench reads when there is
no difference to read (its own bias and noise).

Printed: each pair's tasks per second and its with/without ratios (wall, CPU); then the medians, range and
interquartile range of the ratios taken pair by pair (a machine that drifts moves both runs of a pair), and
the load average before and after (the figures mean little on a machine others are using).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil
import redis

from bench.common import BareTopology, load_average, stats
from bench.common import fmt as common_fmt

RESULT_TIMEOUT_S = 60  # a callback's result not back by then: the run is reported lost (the worker logs say why)


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:  # a process gone: what it spent is not counted (none should go during a run)
            pass
    return total


def serve(recorder: bool, size: int, run_dir: Path) -> int:
    """One topology and its producer: boot, say ``ready``, then one JSON line per ``run N`` read on stdin."""
    from celery import chord

    with BareTopology(run_dir, recorder=recorder) as bare:
        bare.boot()
        app = bare.app
        worker = psutil.Process(bare.worker.pid)
        roles = {"worker": [worker], "pool children": worker.children(recursive=True),
                 "redis-server": [p for p in psutil.Process().children() if p.name().startswith("redis-server")]}
        store = redis.Redis(port=bare.port, db=3)
        print("ready", flush=True)
        seen = "0-0"  # the last stream entry counted
        for line in sys.stdin:
            if not line.startswith("run "):
                break
            count = int(line.split()[1])
            cpu0, own0, t0 = {r: _cpu(ps) for r, ps in roles.items()}, time.process_time(), time.perf_counter()
            try:
                results = [chord([app.signature("lab.part", args=(i, 0.0)) for i in range(size)])(
                    app.signature("lab.collect")) for _ in range(count)]
                for r in results:
                    assert len(r.get(timeout=RESULT_TIMEOUT_S)) == size
            except Exception as e:  # noqa: BLE001 - said, and the pair is left out
                print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
                continue
            took = time.perf_counter() - t0
            parts = {r: _cpu(ps) - cpu0[r] for r, ps in roles.items()}
            parts["producer"] = time.process_time() - own0
            out = {"wall": took, "cpu": sum(parts.values()), "parts": parts, "events": 0, "entries": 0}
            if recorder:  # the last events reach the stream up to FLUSH_S later: wait for them (bounded), count
                want, deadline = 3 * count * (size + 1), time.monotonic() + 5
                while True:
                    entries = store.xrange("lab:recorder", min=f"({seen}")
                    got = sum(len(json.loads(f[b"b"])) if b"b" in f else 1 for _, f in entries)
                    if got >= want or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                seen = entries[-1][0].decode() if entries else seen
                out["events"], out["entries"] = got, len(entries)
            print(json.dumps(out), flush=True)
    return 0


class Producer:
    """A ``serve`` process, asked for runs one at a time."""

    def __init__(self, recorder: bool, size: int, run_dir: Path, *, control: bool = False):
        role = "rec" if recorder and not control else "bare"
        argv = [sys.executable, __file__, "--serve", role, "--size", str(size), "--dir", str(run_dir)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.name = "with the recorder" if recorder else "without"
        self._expect("ready")

    def _expect(self, what: str) -> str:
        while line := self.proc.stdout.readline():
            if line.startswith(("{", "ready")):  # anything else on stdout is not the bench's
                return line
        raise RuntimeError(f"the topology {self.name} exited before it said {what!r}")

    def run(self, count: int) -> dict:
        self.proc.stdin.write(f"run {count}\n")
        self.proc.stdin.flush()
        return json.loads(self._expect("its run"))

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=6, help="pairs measured per round")
    ap.add_argument("--warmup", type=int, default=1, help="pairs not counted at the start of each round")
    ap.add_argument("--size", type=int, default=10)
    ap.add_argument("--count", type=int, default=150)
    ap.add_argument("--control", action="store_true", help="the recorder in neither topology (an A/A check)")
    ap.add_argument("--serve", choices=("rec", "bare"), help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        return serve(a.serve == "rec", a.size, Path(a.dir))
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-recorder-"))
    tasks = a.count * (a.size + 1)
    load_before = load_average()
    rows: dict[str, list[float]] = {k: [] for k in ("wall", "cpu", "with_tps", "without_tps", "events", "entries")}
    lost = 0
    for rnd in range(a.rounds):  # each round boots both again, the one booted first alternating
        boot = (True, False) if rnd % 2 == 0 else (False, True)
        print(f"round {rnd + 1} ({'with' if boot[0] else 'without'} booted first)", flush=True)
        producers: dict[bool, Producer] = {}
        try:
            for rec in boot:
                producers[rec] = Producer(rec, a.size, tmp / f"r{rnd}-{'rec' if rec else 'bare'}", control=a.control)
            for i in range(a.warmup + a.trials):
                order = (True, False) if i % 2 == 0 else (False, True)
                got = {rec: producers[rec].run(a.count) for rec in order}
                label = "  warm-up" if i < a.warmup else f"  trial {i - a.warmup + 1}"
                errors = [f"{producers[rec].name}: {got[rec]['error']}" for rec in order if "error" in got[rec]]
                if errors:
                    lost += 1
                    print(f"{label}: left out ({'; '.join(errors)})", flush=True)
                    continue
                w, b = got[True], got[False]
                print(f"{label} ({'with' if order[0] else 'without'} first): with the recorder "
                      f"{tasks / w['wall']:.0f} tasks/s ({w['events']:.0f} events in {w['entries']:.0f} stream "
                      f"entries), without {tasks / b['wall']:.0f} tasks/s; with/without: wall "
                      f"{w['wall'] / b['wall']:.3f}, CPU {w['cpu'] / b['cpu']:.3f}", flush=True)
                if i < a.warmup:
                    continue
                rows["wall"].append(w["wall"] / b["wall"])
                rows["cpu"].append(w["cpu"] / b["cpu"])
                rows["with_tps"].append(tasks / w["wall"])
                rows["without_tps"].append(tasks / b["wall"])
                rows["events"].append(w["events"])
                rows["entries"].append(w["entries"])
                for role in w["parts"]:  # where the CPU went: each role's with/without, pair by pair
                    rows.setdefault(f"cpu {role}", []).append(w["parts"][role] / max(b["parts"][role], 1e-3))
        finally:
            for prod in producers.values():
                prod.close()
    if not rows["wall"]:
        print("no pair was measured: every one was left out (above).")
        return 1
    s = {k: stats(v) for k, v in rows.items() if v}

    def fmt(key: str, digits: int) -> str:
        out = common_fmt(s[key], unit="", digits=digits).replace("  (", " (")
        return out[:-1] + f", IQR {s[key]['iqr']:.{digits}f})" if "iqr" in s[key] else out

    if a.control:
        print("\n--control: neither topology has the recorder ('with' below names one of two identical ones)")
    print(f"\n{a.count} chords × {a.size} parts (+ callback) = {tasks} tasks per run, {len(rows['wall'])} pairs "
          f"in {a.rounds} rounds (+ {a.warmup} warm-up a round{f', {lost} left out' if lost else ''}), alternating "
          "order")
    print(f"  tasks/s: with the recorder {fmt('with_tps', 0)}; without {fmt('without_tps', 0)}")
    print(f"  with/without, pair by pair: wall {fmt('wall', 3)}; CPU of every process {fmt('cpu', 3)}")
    print("  CPU with/without by role, pair by pair (medians): " + "; ".join(
        f"{k.removeprefix('cpu ')} {s[k]['median']:.3f}" for k in s if k.startswith("cpu ")))
    print(f"  recorded per run: {s['events']['median']:.0f} events ({3 * tasks} expected) in "
          f"{s['entries']['median']:.0f} stream entries (medians)")
    print(f"  load average before {load_before}; after {load_average()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
