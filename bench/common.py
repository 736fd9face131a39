"""What every benchmark shares: repeated measures, their median and spread, and a bare topology.

    bench/run.py → boot.py, verdict.py, throughput.py, catalogue.py, shutdown.py → BENCHMARKS.md

``BareTopology`` is the yardstick: a redis-server and ``celery worker``
started by hand (``bench/bare_app.py``: the lab's tasks, no ledger), ready
when the worker answers a control ping.  Its processes are owned by a
``lab.runtime.process.processes.ProcessOwner``, so a benchmark leaves nothing behind.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from lab.runtime.process.processes import ProcessOwner, free_port  # noqa: E402
from lab.runtime.process.redis_server import find_redis_server  # noqa: E402

WORKER_FLAGS = ["-P", "prefork", "-l", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"]  # as the lab's


def stats(values: list[float]) -> dict[str, float]:
    """Median and spread (min, max, and the interquartile range when there are enough runs)."""
    vs = sorted(values)
    out = {"n": len(vs), "median": statistics.median(vs), "min": vs[0], "max": vs[-1]}
    if len(vs) >= 4:
        q = statistics.quantiles(vs, n=4)
        out["iqr"] = q[2] - q[0]
    return out


def fmt(s: dict[str, float], unit: str = "s", digits: int = 2) -> str:
    spread = f"{s['min']:.{digits}f}–{s['max']:.{digits}f}"
    return f"{s['median']:.{digits}f} {unit} (n={s['n']}, range {spread})"


def _timed(argv: list[str], timeout: float) -> tuple[float, float, int]:
    """One whole-process run: (wall s, user+sys CPU s of it and its children, exit code)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, proc.returncode


def paired(a: list[str], b: list[str], *, n: int = 7, warmup: int = 1, timeout: float = 600,
           label_a: str = "A", label_b: str = "B") -> dict[str, Any]:
    """Run ``a`` and ``b`` in turn, A B A B ..., after ``warmup`` unrecorded pairs; print and return each
    one's wall and CPU medians and the A/B ratio taken pair by pair (robust to the machine drifting)."""
    rows: dict[str, list[float]] = {"a_wall": [], "b_wall": [], "a_cpu": [], "b_cpu": [], "ratio": []}
    codes: set[int] = set()
    for i in range(warmup + n):
        wa, ca, ra = _timed(a, timeout)
        wb, cb, rb = _timed(b, timeout)
        codes |= {ra, rb}
        if i < warmup:
            continue
        rows["a_wall"].append(wa)
        rows["b_wall"].append(wb)
        rows["a_cpu"].append(ca)
        rows["b_cpu"].append(cb)
        rows["ratio"].append(wa / wb)
    out = {k: stats(v) for k, v in rows.items()}
    print(f"  wall: {label_a} {fmt(out['a_wall'])}; {label_b} {fmt(out['b_wall'])}; "
          f"{label_a}/{label_b} pair by pair {fmt(out['ratio'], unit='')}")
    print(f"  cpu (user+sys, children included): {label_a} {fmt(out['a_cpu'])}; {label_b} {fmt(out['b_cpu'])}"
          + (f"; exit codes seen {sorted(codes)}" if codes - {0} else ""), flush=True)
    return out


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def lab_env(store: Path) -> dict[str, str]:
    return {**os.environ, "LAB_RESULTS": str(store), "PYTHONPATH": str(ROOT)}


def wait(predicate, bound: float, what: str, poll: float = 0.01):
    """Poll ``predicate`` until it returns something truthy; raise naming ``what`` after ``bound`` s."""
    deadline = time.monotonic() + bound
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not seen within {bound:g} s")
        time.sleep(poll)


class BareTopology:
    """redis-server + ``celery -A bench.bare_app worker`` by hand; ``with`` it, and both die at the end."""

    def __init__(self, run_dir: Path, *, concurrency: int = 2, queues: str = "execution,reports", recorder: bool = False):
        self.recorder = recorder  # the flight recorder installed in the worker (and the producer), into db 3
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.concurrency = concurrency
        self.queues = queues
        self.owner = ProcessOwner(self.run_dir)
        self.port = 0
        self.app = None
        self.worker = None

    def __enter__(self) -> "BareTopology":
        return self

    def __exit__(self, *exc) -> None:
        if self.app is not None:
            from lab.runtime.celery_app import release

            release(self.app)
        if self.recorder:
            from lab.recorder import uninstall

            uninstall()  # the next topology's producer must not keep writing to this redis-server
        self.owner.stop_all()

    def boot(self) -> dict[str, float]:
        """Start both by hand; return seconds to redis PONG and to the worker's ping reply."""
        t0 = time.time()
        self.port = free_port()
        self.owner.spawn("redis", [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(self.run_dir)])
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def pong():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait(pong, 10, "redis-server PONG")
        t_redis = time.time()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BARE_BROKER": self.url(0), "BARE_BACKEND": self.url(1)}
        env.pop("BARE_RECORDER", None)
        if self.recorder:
            env["BARE_RECORDER"] = self.url(3)
        self.worker = self.owner.spawn("worker", [sys.executable, "-m", "celery", "-A", "bench.bare_app", "worker",
                                                  "-n", f"bare-{self.port}@bench", "-c", str(self.concurrency),
                                                  "-Q", self.queues, *WORKER_FLAGS], env=env, cwd=self.run_dir)
        os.environ["BARE_BROKER"], os.environ["BARE_BACKEND"] = self.url(0), self.url(1)
        if self.recorder:
            os.environ["BARE_RECORDER"] = self.url(3)
        else:
            os.environ.pop("BARE_RECORDER", None)
        self.app = _fresh_bare_app()
        # a ping sent before the worker listens is lost: ask again every 0.1 s (the reply itself takes ~1 ms)
        wait(lambda: self.app.control.ping(timeout=0.1, limit=1), 60, "the worker's ping reply", poll=0)
        t_ready = time.time()
        return {"redis_s": t_redis - t0, "boot_s": t_ready - t0, "ready_line_s": self._ready_line_at() - t0}

    def _ready_line_at(self) -> float:
        """When the worker logged its own "ready." line (the moment the lab waits for), from the log's timestamp."""
        import datetime

        m = self.worker.wait_for_log(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}):.*\bready\.", 10)
        local = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        return local.timestamp()  # the worker logs local time, as time.time() counts it here

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


def _fresh_bare_app():
    """bench.bare_app read again, so it picks up this topology's URLs."""
    import importlib

    import bench.bare_app as bare

    return importlib.reload(bare).app


def run_lab(args: list[str], store: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=lab_env(store),
                          capture_output=True, text=True, timeout=timeout)


def last_json(stdout: str) -> dict[str, Any] | None:
    import json

    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None
