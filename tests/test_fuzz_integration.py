"""The fuzzer end to end, with real processes: its own redis-server and real celery workers.

Each test brings up one fuzz session (one topology for every example), lets
hypothesis search with a fixed seed, and checks what it reports.  No fixed
sleeps: every example waits on the ledger and the broker.  Afterwards no
redis-server or celery worker is left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from lab.fuzz import findings as F
from lab.fuzz import strategies as S
from lab.fuzz.search import FuzzPlan, Search, shapes_topology
from lab.fuzz.session import FuzzSession
from lab.runtime.process.redis_server import find_redis_server
from lab.scenario import load

PROJECT_ROOT = Path(__file__).resolve().parent.parent

try:
    find_redis_server()
except Exception as e:  # noqa: BLE001 - no redis-server on this machine: these tests cannot run
    pytest.skip(f"needs redis-server: {e}", allow_module_level=True)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LAB_FINDINGS", str(tmp_path / "findings"))
    return tmp_path


def lab_processes() -> list[str]:
    """redis-server and celery worker processes descended from this test process."""
    left = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            if p.status() != psutil.STATUS_ZOMBIE and ("redis-server" in cmd or "celery" in cmd):
                left.append(f"{p.pid} {cmd[:80]}")
        except psutil.Error:
            continue
    return left


def test_fuzzing_a_callback_queue_nobody_consumes_finds_and_shrinks_the_stuck_chord(store):
    """Mechanism 1 (split queues): the callback is routed to 'reports', which no worker consumes.

    With a fixed seed the fuzzer finds a stuck chord whose proof is the callback parked in 'reports',
    shrinks it to a chord of at most a few header tasks, replays it every time, and saves it as a
    scenario file that lab.scenario.load accepts."""
    scenario, consumed = shapes_topology(load("split-queues"))
    plan = FuzzPlan(examples=20, seed=7, queues=(None, *consumed), max_findings=1, replays=2)
    with FuzzSession(scenario) as session:
        found = Search(plan, session).run()
        assert found, "no finding on a topology where no worker consumes the callback's queue"
        record, path = F.save(found[0], session=session, space="shapes", base="split-queues", plan={},
                              directory=store / "findings")
    assert lab_processes() == []
    f = found[0]
    assert f.kind == "stuck/callback-queue-unconsumed"
    shape = f.failing_shape
    assert len(shape.header) <= 3 and S.task_count(shape) <= 4, S.describe(shape)
    assert f.replay["rate"] == 1.0
    assert any("none consumes 'reports'" in line for line in f.outcome.evidence)
    assert record["mechanism"]["id"] == "1"
    loaded = load(str(path))
    assert (loaded.expect, loaded.expect_cause) == ("stuck", "callback-queue-unconsumed")
    again = F.load(str(path))
    assert again["shapes"] == f.shapes and again["finding"]["finding_kind"] == f.kind
    runs = F.load_records()
    assert [r["id"] for r in runs if r["kind"] == "fuzz-finding"] == [record["id"]]


def test_a_healthy_topology_with_a_fixed_seed_reports_no_finding(store):
    """The control: on the healthy topology, 25 examples of flat chords (every behaviour and option) all end
    as their oracle says: completed, or failed / stuck / unrecorded where a part or the callback makes it so."""
    scenario, consumed = shapes_topology(load("healthy"))
    plan = FuzzPlan(examples=25, seed=11, queues=(None, *consumed), nested=False, replays=1)
    with FuzzSession(scenario) as session:
        search = Search(plan, session)
        found = search.run()
    assert lab_processes() == []
    assert found == [], [(f.kind, S.describe(f.failing_shape), f.outcome.summary) for f in found]
    assert search.stats.examples == 25
    assert search.stats.verdicts["completed"] > 0


def _lab(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


def test_as_a_user_fuzz_finds_a_stuck_chord_and_replay_reproduces_it(store):
    """Mechanism 1 through the command line, as a new user would: `lab fuzz` on the broken split-queues
    topology exits 1 with a shrunk finding printed as a runnable scenario; `lab replay <id>` reproduces it
    (exit 0), and `lab run <finding file>` runs it as a scenario that matches (exit 0)."""
    env = {**os.environ, "LAB_RESULTS": str(store / "results"), "LAB_FINDINGS": str(store / "findings")}
    fuzz = _lab("fuzz", "split-queues", "--examples", "10", "--seed", "7", "--max-findings", "1", "--replays", "1", env=env)
    assert fuzz.returncode == 1, fuzz.stdout + fuzz.stderr
    assert "stuck/callback-queue-unconsumed" in fuzz.stdout and "shrunk to:" in fuzz.stdout
    assert "scenario = Scenario(" in fuzz.stdout
    files = sorted((store / "findings").glob("*.py"))
    assert len(files) == 1
    fid = files[0].stem.replace("_", "-")
    replay = _lab("replay", fid, "--runs", "1", env=env)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "reproduced every time" in replay.stdout
    run = _lab("run", str(files[0]), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    bad = _lab("replay", "no-such-finding", env=env)
    assert bad.returncode == 254 and "no finding 'no-such-finding'" in bad.stderr
    assert lab_processes() == []
