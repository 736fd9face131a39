"""A lab that survives its own faults: killed at random points, run side by side, or losing its Redis.

Real processes throughout (``python -m lab run`` subprocesses, real redis-server
and celery workers); no timing is asserted, only bounds on waiting.

* SIGKILL, SIGTERM or Ctrl-C (SIGINT) to the lab at a random point of a run,
  in a loop of 20+ tries (seeded, the seed is in the test's output): no process
  of the run is left (redis-server, workers, the reaper), no torn record in
  the records, no vhost or database of the run left on the shared servers,
  and the next run and ``lab report`` read the store without error.
* Two and four runs at once give the same verdicts (verdict and cause per
  chord) as the same scenarios run one after another.
* The run's redis-server (broker and backend) killed in the middle of a run
  that did not plan it: the run ends, within a bound, as ``unknown`` with the
  reason, and records no other verdict.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from conftest import lab_env, has_traceback, stored_records
from lab import records
from lab.runtime.process import services as brokers
from lab.report.stability import describe_signature, run_signature

ROOT = Path(__file__).resolve().parent.parent
TRIES = int(os.environ.get("LAB_FAULT_TRIES", "20"))
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "Ctrl-C": signal.SIGINT}

pytestmark = pytest.mark.slow


def processes_of(store: Path) -> list[psutil.Process]:
    """Every live process started for this store: the lab, its reaper, redis-server, workers (by LAB_RESULTS)."""
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get("LAB_RESULTS") == str(store) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def wait_until_gone(store: Path, bound: float = 15.0) -> list[str]:
    """Wait (bounded) for the store's processes to go; return a description of any that stay."""
    deadline = time.monotonic() + bound
    while True:
        left = processes_of(store)
        if not left or time.monotonic() >= deadline:
            out = []
            for p in left:
                try:
                    out.append(f"{p.pid} {' '.join(p.cmdline())[:100]}")
                    p.kill()
                except psutil.Error:
                    pass
            return out
        time.sleep(0.05)


def assert_store_whole(store: Path) -> None:
    """Every gzip member of every campaign file is one whole JSON record (no torn or half-written one)."""
    stored_records(store)


def run_ids_started(store: Path) -> set[str]:
    runs = store / "runs"
    return {p.name for p in runs.iterdir()} if runs.is_dir() else set()


def rabbitmq_vhosts() -> set[str]:
    done = subprocess.run(["rabbitmqctl", "list_vhosts", "-q"], capture_output=True, text=True, timeout=60)
    return {ln.strip() for ln in done.stdout.splitlines() if ln.strip()}


def postgres_databases() -> set[str]:
    import psycopg2

    conn = psycopg2.connect((brokers.postgres_url() or brokers.POSTGRES_DEFAULT) + "/postgres", connect_timeout=3)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database")
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


def db_name(run_id: str) -> str:
    return "lab_" + "".join(ch if ch.isalnum() else "_" for ch in run_id).lower()


def loop_plan(seed: int, tries: int) -> list[tuple[str, str, float]]:
    """(scenario, signal name, delay after the run's folder appears) per try: Redis runs, and a few on the
    shared RabbitMQ and PostgreSQL when they answer, so vhosts and databases are exercised too."""
    rng = random.Random(seed)
    names = ["split-queues", "healthy", "worker-crash", "header-failure"]
    if brokers.rabbitmq_unavailable() is None:
        names.append("rabbitmq-split-queues")
    if brokers.postgres_unavailable() is None:
        names.append("chord-unlock-unconsumed-postgres")
    plan = [(rng.choice(names), rng.choice(list(SIGNALS)), rng.uniform(0.0, 4.0)) for _ in range(tries)]
    for i, name in enumerate(names[4:]):  # every kind of shared server SIGKILLed mid-run at least once
        plan[i] = (name, "SIGKILL", rng.uniform(0.5, 3.0))
    return plan


@pytest.mark.timeout(1200)  # 20+ real runs: generous on a loaded 2-core machine
def test_killing_the_lab_at_random_points_leaves_nothing_behind(lab_results, tmp_path):
    """20+ runs, each hit by SIGKILL, SIGTERM or Ctrl-C at a random point: after each, no process of the run,
    no torn record, no vhost or database of the run; afterwards a real run and `lab report` read the store."""
    seed = int(os.environ.get("LAB_FAULT_SEED", random.randrange(10**6)))
    print(f"fault loop seed {seed} (LAB_FAULT_SEED={seed} replays it)")
    store = lab_results
    env = lab_env(store)
    outcomes = []
    for i, (name, sig_name, delay) in enumerate(loop_plan(seed, TRIES)):
        before = run_ids_started(store)
        lab = subprocess.Popen([sys.executable, "-m", "lab", "run", name], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not (run_ids_started(store) - before) and lab.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        lab.send_signal(SIGNALS[sig_name])
        try:
            _, err = lab.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            lab.kill()
            pytest.fail(f"try {i}: the lab did not exit within 60 s of {sig_name} ({name}, {delay:.2f} s in)")
        left = wait_until_gone(store)
        assert not left, f"try {i} ({name}, {sig_name} {delay:.2f} s in): processes left behind: {left}"
        assert not has_traceback(err.decode(errors="replace")), f"try {i}: {err.decode(errors='replace')[-500:]}"
        assert_store_whole(store)
        run_ids = run_ids_started(store) - before
        recorded = {r["run_id"] for r in records.load_all(store)}
        if name == "rabbitmq-split-queues":
            lingering = {f"lab-{rid}" for rid in run_ids} & rabbitmq_vhosts()
            assert not lingering, f"try {i} ({sig_name} {delay:.2f} s in): vhost(s) left: {lingering}"
        if name == "chord-unlock-unconsumed-postgres":
            lingering = {db_name(rid) for rid in run_ids} & postgres_databases()
            assert not lingering, f"try {i} ({sig_name} {delay:.2f} s in): database(s) left: {lingering}"
        outcomes.append((name, sig_name, round(delay, 2), lab.returncode, bool(run_ids & recorded)))
    print("\n".join(map(str, outcomes)))
    assert len({o[1] for o in outcomes}) == 3 or TRIES < 10, "every signal was tried"
    # The store is whole for what comes next: a real run, and the report over everything.
    done = subprocess.run([sys.executable, "-m", "lab", "run", "split-queues", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = subprocess.run([sys.executable, "-m", "lab", "report", "--output", str(tmp_path / "RESULTS.md")], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "RESULTS.md").read_text().startswith("# RESULTS")
    assert not wait_until_gone(store)


# -- runs side by side ------------------------------------------------------------------------------

SIDE_BY_SIDE = ["split-queues", "healthy", "header-failure", "backend-mismatch"]


def run_json(name: str, store: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "lab", "run", name, "--json"], cwd=ROOT, env=lab_env(store),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode in (0, 1, 2), done.stderr
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    rec = next(r for r in records.load_all(store) if r["run_id"] == run_id)
    return {"name": name, "signature": describe_signature(run_signature(rec["verdicts"])), "status": rec["outcome"]["status"]}


@pytest.mark.timeout(900)
def test_two_and_four_runs_at_once_give_the_sequential_verdicts(lab_results):
    """The same four scenarios one after another, two at once, then four at once: the same verdict and
    cause for every chord, and no process left behind (each run owns its own redis-server and workers)."""
    alone = {r["name"]: r for r in (run_json(n, lab_results) for n in SIDE_BY_SIDE)}
    for width in (2, 4):
        with ThreadPoolExecutor(width) as pool:
            together = {r["name"]: r for r in pool.map(lambda n: run_json(n, lab_results), SIDE_BY_SIDE)}
        for name in SIDE_BY_SIDE:
            assert together[name]["signature"] == alone[name]["signature"], (width, name, together[name], alone[name])
            assert together[name]["status"] == "matched", (width, together[name])
    assert not wait_until_gone(lab_results)
    assert_store_whole(lab_results)


# -- Redis going away, unplanned ------------------------------------------------------------------


def kill_redis_when_a_part_starts(store: Path, stop: threading.Event, seen: dict) -> None:
    """Watch the run's ledger; SIGKILL its redis-server (a child of this process: the run is in-process)
    once a part started."""
    deadline = time.monotonic() + 90
    while not stop.is_set() and time.monotonic() < deadline:
        started = [p for p in (store / "runs").glob("*/ledger/*.jsonl") if b'"event":"start"' in p.read_bytes()]
        if started:
            for p in psutil.Process().children(recursive=True):
                try:
                    if p.name().startswith("redis-server"):
                        p.kill()
                        seen["killed"] = p.pid
                except psutil.Error:
                    continue
            return
        time.sleep(0.02)


def test_redis_dying_mid_run_ends_the_run_as_unknown_with_the_reason(lab_results):
    """The run's redis-server (broker and result backend) SIGKILLed while the header runs, by no fault of the
    scenario: the run ends within a bound, every chord is `unknown`, and the reason names the lost server."""
    from lab import Chord, Scenario, Worker
    from lab.experiments.run import run_scenario

    scenario = Scenario(name="redis-lost", description="long parts; redis-server dies mid-run, unplanned",
                        expect="completed", workers=(Worker("w1", concurrency=2),),
                        chords=(Chord(header=3, duration=1.5, count=2),))
    stop, seen = threading.Event(), {}
    killer = threading.Thread(target=kill_redis_when_a_part_starts, args=(lab_results, stop, seen), daemon=True)
    killer.start()
    t0 = time.monotonic()
    try:
        result = run_scenario(scenario, seed=1)
    finally:
        stop.set()
        killer.join(timeout=5)
    took = time.monotonic() - t0
    assert seen.get("killed"), "the test never saw a part start, so it killed nothing"
    assert took < 120, f"the run took {took:.0f} s"
    verdicts = result.record["verdicts"]
    assert [v["verdict"] for v in verdicts] == ["unknown"] * len(verdicts), verdicts
    assert all("redis-server" in v["summary"] and "gone" in v["summary"] for v in verdicts), verdicts[0]
    assert result.outcome["status"] == "unknown"
    stored = list(records.load_all())
    assert [r["run_id"] for r in stored] == [result.record["run_id"]]
    assert not wait_until_gone(lab_results)
