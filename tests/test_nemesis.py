"""The nemesis on real processes: each fault really happens, is written into the timeline, and heals.

No Celery verdicts here: these tests drive ``lab.drive.nemesis.Nemesis`` directly
against a real redis-server (and, for worker faults, a real ``celery worker``)
and check the system's state before and after the heal.  The scenarios in
test_mechanisms.py show what each fault does to a chord.
"""

from __future__ import annotations

from types import SimpleNamespace

import psutil
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lab.runtime.celery_app import build_app, release
from lab.drive.nemesis import Nemesis
from lab.observe.probe import LedgerWatch
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis
from lab.scenario import Fault, Scenario, Worker
from lab.runtime.process.topology import bring_up

from conftest import wait_for


def wait_until(predicate, bound: float = 10.0, what: str = "condition"):
    wait_for(predicate, bound, what)


@pytest.fixture
def owner(tmp_path):
    with ProcessOwner(tmp_path / "run") as o:
        yield o


@pytest.fixture
def redis_only(owner, tmp_path):
    """A topology with just the run's redis-server: enough for the Redis faults."""
    def make(options=None):
        server = start_redis(owner, tmp_path / "run", options or {})
        return SimpleNamespace(redis=server)
    return make


@pytest.fixture
def one_worker(owner, tmp_path):
    """A real topology: redis-server and one prefork worker with two pool children."""
    s = Scenario(name="nemesis-test", description="nemesis test", expect="completed",
                 workers=(Worker("w1", concurrency=2),))
    return bring_up(s, "nemesis-test-000000", tmp_path / "run", owner)


def faults_of(timeline, kind="fault"):
    return [e for e in timeline if e["kind"] == kind]


def test_kill_worker_sigkills_main_and_children_and_the_heal_restarts_it(one_worker):
    """kill-worker: the main process and its pool children die (PDEATHSIG); the heal starts the same worker again, ready, with a new pid."""
    topo = one_worker
    w = topo.worker("w1")
    old_pid, old_kids = w.node.pid, w.node.children_pids()
    assert len(old_kids) == 2
    timeline: list[dict] = []
    nemesis = Nemesis((Fault("kill-worker", trigger="after-sent", target="w1", options={"restart": True}),), topo, timeline)
    nemesis.fire("after-sent")
    wait_until(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                               for p in old_kids), what="the pool children dying with their parent")
    (fault,) = faults_of(timeline)
    assert fault["fault"] == "kill-worker" and fault["target"] == w.hostname
    assert set(fault["pids"]) == {old_pid, *old_kids}
    nemesis.heal_all()
    assert w.node.pid != old_pid and w.node.alive()
    assert w.node.log_text().count(" ready.") == 1  # this life's own ready line
    (heal,) = faults_of(timeline, "heal")
    assert heal["pids"] == [w.node.pid] and "restarted worker w1" in heal["what"]
    assert w.describe()["earlier_lives"][0]["pid"] == old_pid


def test_kill_pool_child_kills_the_child_running_a_header_part(one_worker):
    """kill-pool-child: the victim is the pool child the ledger shows running the part, not just any child."""
    topo = one_worker
    app = build_app(topo.producer_spec)
    try:
        res = app.signature("lab.part", args=(1, 5.0, False)).apply_async()
        watch = LedgerWatch(topo.run_dir / "ledger")
        sent = [{"header_ids": [res.id]}]

        def started():
            watch.poll()
            return any(e["event"] == "start" and e.get("task_id") == res.id for e in watch.events)

        wait_until(started, what="the part starting")
        runner = next(e["pid"] for e in watch.events if e["event"] == "start" and e.get("task_id") == res.id)
        timeline: list[dict] = []
        Nemesis((Fault("kill-pool-child", trigger="after-parts-started", target="w1"),), topo, timeline).fire(
            "after-parts-started", watch, sent)
        (fault,) = faults_of(timeline)
        assert fault["pids"] == [runner]
        def gone() -> bool:
            try:
                return psutil.Process(runner).status() == psutil.STATUS_ZOMBIE
            except (psutil.Error, OSError):  # already reaped, or vanished while /proc was read
                return True

        wait_until(gone, what="the busy child dying")
        assert topo.worker("w1").node.alive()  # the worker itself survives a lost child
    finally:
        release(app)


def test_pause_worker_stops_the_group_and_the_heal_continues_it(one_worker):
    """pause-worker: SIGSTOP freezes the worker and its children; heal_all sends SIGCONT."""
    topo = one_worker
    w = topo.worker("w1")
    timeline: list[dict] = []
    nemesis = Nemesis((Fault("pause-worker", trigger="after-sent", target="w1"),), topo, timeline)
    nemesis.fire("after-sent")
    wait_until(lambda: psutil.Process(w.node.pid).status() == psutil.STATUS_STOPPED, what="the worker stopped")
    nemesis.heal_all()
    wait_until(lambda: psutil.Process(w.node.pid).status() != psutil.STATUS_STOPPED, what="the worker running again")
    assert [e["what"] for e in faults_of(timeline, "heal")] == ["SIGCONT worker w1"]


def test_client_pause_write_blocks_writers_until_the_heal_unpauses(redis_only):
    """client-pause (WRITE): during the pause a client's write cannot complete; the heal's CLIENT UNPAUSE releases it."""
    topo = redis_only()
    timeline: list[dict] = []
    nemesis = Nemesis((Fault("client-pause", trigger="after-sent", options={"for": 60, "mode": "write"}),), topo, timeline)
    nemesis.fire("after-sent")
    impatient = redis.Redis(host="127.0.0.1", port=topo.redis.port, socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.TimeoutError):
        impatient.set("k", "v")
    nemesis.heal_all()
    assert redis.Redis(host="127.0.0.1", port=topo.redis.port, socket_timeout=10).set("k", "v")
    assert faults_of(timeline)[0]["what"] == "CLIENT PAUSE 60000 ms WRITE"
    assert faults_of(timeline, "heal")[0]["what"].startswith("CLIENT UNPAUSE")


def test_client_pause_all_heals_by_running_out(redis_only):
    """client-pause (ALL): Redis holds CLIENT UNPAUSE too, so heal_all waits for the pause to end; after it every client is served."""
    topo = redis_only()
    timeline: list[dict] = []
    nemesis = Nemesis((Fault("client-pause", trigger="after-sent", options={"for": 1.0}),), topo, timeline)
    nemesis.fire("after-sent")
    nemesis.heal_all()
    assert redis.Redis(host="127.0.0.1", port=topo.redis.port, socket_timeout=0.5).set("k", "v")
    assert [e["what"] for e in faults_of(timeline, "heal")] == ["CLIENT PAUSE ran out"]


def test_flushdb_empties_one_database_and_counts_what_it_removed(redis_only):
    """flushdb: the named database is emptied, the others are untouched, the timeline says how many keys went."""
    topo = redis_only()
    topo.redis.client(1).mset({"a": 1, "b": 2})
    topo.redis.client(0).set("queue", 1)
    timeline: list[dict] = []
    Nemesis((Fault("flushdb", trigger="after-sent", options={"db": 1}),), topo, timeline).fire("after-sent")
    assert topo.redis.client(1).dbsize() == 0 and topo.redis.client(0).dbsize() == 1
    assert faults_of(timeline)[0]["what"] == "FLUSHDB on db 1 (2 keys)"


def test_fill_redis_under_noeviction_stops_at_oom_and_the_heal_deletes_the_filler(redis_only):
    """fill-redis: under noeviction the filler stops at Redis's OOM error, which the timeline keeps; the heal deletes every filler key."""
    topo = redis_only({"maxmemory": "2mb", "maxmemory-policy": "noeviction"})
    timeline: list[dict] = []
    nemesis = Nemesis((Fault("fill-redis", trigger="after-sent", options={"db": 2, "chunk": 65536}),), topo, timeline)
    nemesis.fire("after-sent")
    (fault,) = faults_of(timeline)
    assert "maxmemory" in (fault["error"] or "") and fault["written"] > 0
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        topo.redis.client(1).set("x", b"y" * 65536)
    nemesis.heal_all()
    assert topo.redis.client(2).dbsize() == 0
    assert topo.redis.client(1).set("x", b"y" * 65536)


def test_restart_redis_loses_data_without_persistence_and_keeps_it_with(redis_only):
    """restart-redis: same port both times; the keys are gone after a restart without persistence and kept with it."""
    topo = redis_only()
    port = topo.redis.port
    topo.redis.client(1).set("k", "v")
    timeline: list[dict] = []
    Nemesis((Fault("restart-redis", trigger="after-sent", options={"persist": True}),), topo, timeline).fire("after-sent")
    assert topo.redis.port == port and topo.redis.client(1).get("k") == b"v"
    Nemesis((Fault("restart-redis", trigger="after-sent"),), topo, timeline).fire("after-sent")
    assert topo.redis.port == port and topo.redis.client(1).get("k") is None
    assert [f["persist"] for f in faults_of(timeline)] == [True, False]


def test_a_fault_whose_trigger_never_came_is_written_down_not_dropped(redis_only):
    """A fault armed on a trigger the run never reached is noted as skipped, so a run without its fault is visible."""
    topo = redis_only()
    timeline: list[dict] = []
    nemesis = Nemesis((Fault("flushdb", trigger="after-parts-ended"),), topo, timeline)
    nemesis.fire("after-sent")
    nemesis.fire_remaining()
    assert faults_of(timeline) == []
    (skipped,) = faults_of(timeline, "fault-skipped")
    assert "flushdb (after-parts-ended)" in skipped["what"]
