"""How soon ``lab doctor --watch`` says a chord is at risk once its callback lands in a queue nobody consumes.

    python bench/watch_latency.py [--chords 10] [--size 10] [--modes recorder,events]

A bare topology (``bench.common.BareTopology``: a redis-server and ``celery -A bench.bare_app worker -c 2`` by
hand) whose worker consumes only ``execution``, so every chord's callback (``lab.collect``, routed to
``reports``) lands in a queue nobody consumes.  ``python -m lab doctor --app bench.bare_app:app --watch --json``
follows it, as a user would run it; this script reads its lines as they come (each stamped on receipt) and,
in the same run, a thread polls ``LLEN reports`` as tightly as it can: the moment the callback's message is in
the queue, the baseline a watcher cannot beat.

Per chord, from the callback's publish to the watch's at-risk line (received here):
- ``recorder`` mode (``lab.recorder.install`` in the worker and the producer, the watch following its
  stream): from the recorder's own timestamp of the publish, and from the tight LLEN's rise;
- ``recorder-alone``: the same, with the watch's broker polling off (``run_watch(poll_broker=False)``), so
  each line rests on the recorder's stream alone, as on a broker whose messages cannot be read (RabbitMQ);
- ``events`` mode (no recorder: the watch follows Celery events and polls the broker): from the LLEN's rise.
The issue's target: at most 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis

from bench.common import BareTopology, fmt, load_average, stats, wait
from lab.observe.recorder import recorded_events

TARGET_S = 2.0


class Lines:
    """A process's stdout, each line stamped with ``time.time()`` when it arrived here."""

    def __init__(self, proc: subprocess.Popen):
        self.got: list[tuple[float, str]] = []
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.got.append((time.time(), line))

    def objects(self) -> list[tuple[float, dict]]:
        return [(t, json.loads(line)) for t, line in list(self.got) if line.startswith("{")]


class LlenWatch:
    """A thread that polls ``LLEN key`` back to back and stamps each rise of the length."""

    def __init__(self, port: int, key: str):
        self.client = redis.Redis(port=port, db=0)
        self.key = key
        self.rises: list[tuple[float, int]] = []
        self.polls = 0
        self.stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        last = self.client.llen(self.key)
        while not self.stop.is_set():
            n = self.client.llen(self.key)
            self.polls += 1
            if n > last:
                self.rises.append((time.time(), n))
            last = n


def _cpu(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def one_mode(mode: str, chords: int, size: int, run_dir: Path) -> dict:
    from celery import chord

    recorded = mode.startswith("recorder")
    with BareTopology(run_dir, queues="execution", recorder=recorded) as bare:
        bare.boot()
        app = bare.app
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LAB_RESULTS": str(run_dir / "results")}
        argv = ([sys.executable, "-m", "lab", "doctor", "--app", "bench.bare_app:app", "--watch", "--json"]
                if mode != "recorder-alone" else [sys.executable, __file__, "--child"])
        watch = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, bufsize=1)
        lines = Lines(watch)
        llen = LlenWatch(bare.port, "reports")
        try:
            head = wait(lambda: next((o for _, o in lines.objects() if o.get("kind") == "watching"), None), 60,
                        "the watch's first line")
            t_head, cpu_head = time.time(), _cpu(watch.pid)
            rows = []
            for i in range(chords):
                before = len(llen.rises)
                r = chord([app.signature("lab.part", args=(j, 0.0)) for j in range(size)])(app.signature("lab.collect"))
                line = wait(lambda cid=r.id: next(((t, o) for t, o in lines.objects() if o.get("kind") == "alert"
                                                  and o.get("callback_id") == cid and o.get("state") == "at-risk"), None),
                            30, f"the at-risk line of chord {i}")
                wait(lambda n=before: len(llen.rises) > n, 5, "the callback's message in 'reports' (LLEN)")
                t_line, alert = line
                t_llen = llen.rises[before][0]
                t_pub = None
                if recorded:  # the recorder's own timestamp of the callback's publish
                    t_pub = wait(lambda cid=r.id: next((e["t"] for e in recorded_events(bare.url(3), ids=[cid])["events"]
                                                        if e["event"] == "publish" and e["task_id"] == cid), None),
                                 10, "the callback's recorded publish")
                rows.append({"callback": r.id, "cause": alert.get("cause"), "source": alert.get("source"),
                             "from_llen_s": t_line - t_llen,
                             "from_publish_s": t_line - t_pub if t_pub else None,
                             "llen_after_publish_s": t_llen - t_pub if t_pub else None})
                time.sleep(0.3)  # one chord at a time: each line is its own
            cpu_share = (_cpu(watch.pid) - cpu_head) / (time.time() - t_head)
        finally:
            llen.stop.set()
            watch.terminate()  # SIGTERM: the watch stops cleanly, and says so
            watch.wait(30)
    out = {"mode": mode, "source": head.get("source"), "chords": rows, "llen_polls": llen.polls,
           "watch_cpu_share": cpu_share,
           "from_llen": stats([r["from_llen_s"] for r in rows])}
    if recorded:
        out["from_publish"] = stats([r["from_publish_s"] for r in rows])
        out["llen_after_publish"] = stats([r["llen_after_publish_s"] for r in rows])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chords", type=int, default=10)
    ap.add_argument("--size", type=int, default=10)
    ap.add_argument("--modes", default="recorder,recorder-alone,events")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:  # recorder-alone: the same watch, its broker polling off, so each line rests on the recorder
        from lab.doctor.watch import run_watch
        from lab.observe.config import load_app

        return run_watch(load_app("bench.bare_app:app"), "bench.bare_app:app", as_json=True, poll_broker=False)
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-watch-"))
    print(f"load average before: {load_average()}", flush=True)
    results = []
    for mode in a.modes.split(","):
        got = one_mode(mode, a.chords, a.size, tmp / mode)
        results.append(got)
        causes = sorted({r["cause"] for r in got["chords"]})
        print(f"{mode} (watch source: {got['source']}; causes {causes}; {got['llen_polls']} LLEN polls; the watch's "
              f"CPU while it followed: {100 * got['watch_cpu_share']:.1f} % of one core):", flush=True)
        if mode.startswith("recorder"):
            print(f"  from the recorder's publish to the line: median {fmt(got['from_publish'], digits=3)}", flush=True)
            print(f"  (the message was in the queue {fmt(got['llen_after_publish'], digits=3)} after the recorded publish)")
        print(f"  from the tight LLEN's rise to the line: median {fmt(got['from_llen'], digits=3)}", flush=True)
        firsts = {s: sum(r["source"] == s for r in got["chords"]) for s in ("recorder", "broker", "celery-events")}
        print(f"  the line rested first on: {', '.join(f'{k} {v}' for k, v in firsts.items() if v)}", flush=True)
    worst = max(max(r["from_llen_s"] for r in g["chords"]) for g in results)
    print(f"load average after: {load_average()}")
    print(f"worst, any mode, from the message landing: {worst:.3f} s against the {TARGET_S:g} s target: "
          + ("meets" if worst <= TARGET_S else "does not meet"))
    print(json.dumps({"results": results, "worst_s": worst, "target_s": TARGET_S}))
    return 0 if worst <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
