"""The flight recorder (``lab.recorder``) in a deployment the lab did not build: a plain ``Celery(...)`` app that
calls ``install(app)``, plain ``celery -A shop.app worker`` command lines, chords sent by the package's own code.

What the recorder keeps is read back with ``lab.observe.recorder`` (the ledger's own event form): who published
each task to which queue, which worker ran it and how it ended, which chord each part belongs to and how long
the producer keeps that chord's keys; never the arguments or results unless asked; and a store that is down
costs the tasks nothing.  Each process writes its events in batches (one stream entry holds several), within
``FLUSH_S`` of the first, and a pool child that leaves writes what it queued.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import handbuilt
from conftest import wait_for
from handbuilt import run_json, shop_env, write_shop

from lab.observe import ledger
from lab.observe.recorder import recorded_events
from lab.recorder import BATCH, FLUSH_S, StreamSink, redact
from lab.runtime.process.processes import ProcessOwner, free_port
from lab.runtime.process.redis_server import start_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent

APP = '''
import os

from celery import Celery

from lab.recorder import install

app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend=os.environ["SHOP_BACKEND"])
if os.environ.get("SHOP_SPLIT"):
    app.conf.task_routes = {"shop.app.summarize": {"queue": "summary"}}
install(app, os.environ["SHOP_RECORDER"])  # the one line a user adds
if os.environ.get("SHOP_CHORD_EXPIRES"):  # configured after install: read when the first chord is sent
    app.conf.result_chord_expires = int(os.environ["SHOP_CHORD_EXPIRES"])


@app.task
def crunch(i):
    return i


@app.task
def summarize(results):
    return sum(results)
'''

SEND = '''
import json

from celery import chord

from shop.app import crunch, summarize

r = chord(crunch.s(i) for i in range(3))(summarize.s())
print(json.dumps({"callback": r.id, "group": r.parent.id, "headers": [c.id for c in r.parent.results]}))
'''


def shop(root: Path) -> Path:
    return write_shop(root, APP, SEND)


def env_for(root: Path, broker: str, backend: str, recorder: str, **more: str) -> dict:
    return shop_env(root, SHOP_BROKER=broker, SHOP_BACKEND=backend, SHOP_RECORDER=recorder, **more)


def start_worker(owner: ProcessOwner, root: Path, env: dict, name: str = "w1", *args: str):
    return handbuilt.start_worker(owner, root, env, name, "-c", "2", *args)


def send(root: Path, env: dict) -> dict:
    """The package's own code sends one chord of three parts; its ids."""
    done, ids = run_json(root, env, [sys.executable, "-m", "shop.send"], timeout=60)
    assert done.returncode == 0, done.stderr
    return ids


def test_redact_keeps_no_arguments_or_results_unless_asked():
    row = {"event": "end", "task_id": "t", "args": [1], "kwargs": {"k": 2}, "result": 3, "error": "Boom: x\ntraceback"}
    assert redact(row, False) == {"event": "end", "task_id": "t", "error": "Boom: x"}
    assert redact(row, True)["args"] == [1]
    plain = {"event": "start", "task_id": "t", "error": "short"}
    assert redact(plain, False) is plain  # nothing to cut: not copied


def test_the_reader_reads_batched_and_single_event_entries_and_keeps_the_newest(tmp_path):
    """A stream holding entries of the recorder's first form (one event, field ``e``) and of its batched form (a
    JSON array, field ``b``, with a ``dropped`` event inside) reads back as one history in time order; ``limit``
    counts events, not entries (the oldest entry read is cut), and reaches past a page of entries."""
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        client = redis.client(3)
        pipe = client.pipeline(transaction=False)
        for i in range(1200):  # more entries than one page holds
            pipe.xadd("lab:recorder", {"e": json.dumps({"event": "start", "t": i, "pid": 1, "task_id": f"old{i}"})})
        pipe.execute()
        batch = [{"event": "dropped", "t": 1300, "n": 4, "pid": 2}] + [
            {"event": "end", "t": 1300 + i, "pid": 2, "task_id": f"new{i}", "group_id": "g"} for i in range(5)]
        client.xadd("lab:recorder", {"b": json.dumps(batch)})
        client.xadd("lab:recorder", {"b": json.dumps([{"event": "start", "t": 1400, "pid": 2, "task_id": "last"}])})
        store = redis.url(3)
        whole = recorded_events(store)
        assert [e["task_id"] for e in whole["events"]] == [f"old{i}" for i in range(1200)] + [
            f"new{i}" for i in range(5)] + ["last"]
        assert whole["dropped"] == 4 and whole["oldest_t"] == 0
        newest = recorded_events(store, limit=4)["events"]
        assert [e["task_id"] for e in newest] == ["new2", "new3", "new4", "last"]
        assert len(recorded_events(store, limit=1100)["events"]) == 1100 - 1  # the dropped event is not an event
        assert {e["task_id"] for e in recorded_events(store, ids=["g"])["events"]} == {f"new{i}" for i in range(5)}


def test_a_process_writes_its_events_in_batches_soon_after_they_happen(tmp_path):
    """Events written in a burst go in a few stream entries of at most ``BATCH`` events, and are in the store
    within ``FLUSH_S`` and one round trip (a watch following the stream sees them within 2 s)."""
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        sink = StreamSink(redis.url(3))
        ledger.add_sink(sink)
        try:
            t0 = time.monotonic()
            for i in range(3 * BATCH):
                ledger.write("start", task_id=f"t{i}", name="shop.app.crunch", group_id="g")
            wait_for(lambda: len(recorded_events(redis.url(3))["events"]) == 3 * BATCH, 2,
                     what=lambda: f"{len(recorded_events(redis.url(3))['events'])} events in the stream")
            took = time.monotonic() - t0
        finally:
            ledger.remove_sink(sink)
        assert took < FLUSH_S + 1.0, took
        assert redis.client(3).xlen("lab:recorder") == 3  # 30 events, 3 entries
        assert sink.written == 3 * BATCH and sink.entries == 3 and sink.dropped == 0
        assert all("args" not in e for e in recorded_events(redis.url(3))["events"])  # not built: nobody keeps them


def test_a_chord_in_a_hand_built_deployment_is_recorded_end_to_end(tmp_path):
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store, SHOP_SPLIT="1")
        start_worker(owner, root, env, "w1", "-Q", "celery")
        ids = send(root, {**env, "SHOP_CHORD_EXPIRES": "120"})  # the producer's own chord key lifetime
        # evidence, not a sleep: the callback's publish (by the worker that returned the last part) and each part's
        # end are recorded (the last part's end may come in the batch after the publish it follows)
        def seen() -> set:
            return {(e["event"], e.get("task_id")) for e in recorded_events(store, ids=[ids["callback"]])["events"]}

        wait_for(lambda: {("publish", ids["callback"])} | {("end", p) for p in ids["headers"]} <= seen(), 30,
                 what=lambda: sorted(seen()))
        got = recorded_events(store, ids=[ids["callback"]])
    events = got["events"]
    parts = set(ids["headers"])
    published = {e["task_id"]: e for e in events if e["event"] == "publish"}
    assert parts <= set(published) and all(published[p]["queue"] == "celery" for p in parts)
    assert all(published[p]["chord_callback"] == ids["callback"] and published[p]["group_id"] == ids["group"]
               for p in parts)  # chord membership, from the moment each part is sent
    # how long the producer keeps the chord's keys, on each header part's publish (and only there)
    assert all(published[p]["chord_expires"] == [120.0, "result_chord_expires"] for p in parts)
    assert not any("chord_expires" in e for e in events if e["event"] != "publish" or e["task_id"] not in parts)
    ended = [e for e in events if e["event"] == "end" and e["task_id"] in parts]
    assert len(ended) == 3 and all(e["state"] == "SUCCESS" and e["chord_callback"] == ids["callback"] for e in ended)
    assert all(e["worker"] == "w1@shop" for e in ended)
    callback = published[ids["callback"]]
    assert callback["queue"] == "summary" and callback["by"] == "w1@shop"  # routed by the worker's own config
    assert not any(e["event"] == "start" and e["task_id"] == ids["callback"] for e in events)  # nobody consumes 'summary'
    assert all(k not in e for e in events for k in ("args", "kwargs", "result"))
    assert got["dropped"] == 0 and got["oldest_t"] is not None


def test_a_store_that_is_down_costs_the_tasks_nothing_and_says_so_once_per_process(tmp_path):
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
        env = env_for(root, redis.url(0), redis.url(1), nowhere)
        w = start_worker(owner, root, env)
        ids = send(root, env)
        backend = redis.client(1)
        wait_for(lambda: backend.get(f"celery-task-meta-{ids['callback']}"), 30, what="the callback's meta")
        assert json.loads(backend.get(f"celery-task-meta-{ids['callback']}"))["status"] == "SUCCESS"
        w.wait_for_log(r"lab recorder: cannot write to", 10)  # the flusher tries within FLUSH_S of the events
        log = Path(w.log_path).read_text()
        # one warning per process (the worker and its 2 pool children), not one per dropped event (a dozen here)
        assert 1 <= log.count("lab recorder: cannot write to") <= 3, log[-2000:]


def test_a_file_store_keeps_the_same_events(tmp_path):
    root = shop(tmp_path / "proj")
    folder = tmp_path / "recorded"
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        env = env_for(root, redis.url(0), redis.url(1), f"file://{folder}")
        start_worker(owner, root, env)
        ids = send(root, env)
        wait_for(lambda: any(e["event"] == "end" and e.get("task_id") == ids["callback"]
                             for e in recorded_events(f"file://{folder}", ids=[ids["callback"]])["events"]), 30,
                 what="the callback's end in the file store")
    events = recorded_events(f"file://{folder}", ids=[ids["callback"]])["events"]
    assert {e["event"] for e in events} >= {"publish", "start", "end"}
    assert all("args" not in e for e in events)
    assert all(e["chord_expires"] == [86400.0, "result_expires"] for e in events  # Celery's default: a day
               if e["event"] == "publish" and e["task_id"] in ids["headers"])


def test_events_lost_while_the_store_was_down_are_counted_and_those_after_are_kept(tmp_path):
    """The store is down at the first write: its events are dropped and counted.  What comes during the backoff
    stays queued, and the first write once the store is up starts with a ``dropped`` event giving the count."""
    port = free_port()
    sink = StreamSink(f"redis://127.0.0.1:{port}/0")
    ledger.add_sink(sink)
    try:
        with ProcessOwner(tmp_path / "own") as owner:
            for i in range(3):
                ledger.write("start", task_id=f"lost{i}")
            wait_for(lambda: sink.dropped == 3, 5, what=lambda: f"{sink.dropped} dropped")
            redis = start_redis(owner, tmp_path / "own", {}, port=port)
            assert redis.port == port
            for i in range(2):
                ledger.write("start", task_id=f"kept{i}")
            wait_for(lambda: len(recorded_events(redis.url(0))["events"]) == 2, 5,
                     what=lambda: recorded_events(redis.url(0)))
            got = recorded_events(redis.url(0))
    finally:
        ledger.remove_sink(sink)
    assert got["dropped"] == 3 and [e["task_id"] for e in got["events"]] == ["kept0", "kept1"]
    assert sink.dropped == 0 and sink.written == 2


def test_a_pool_child_that_leaves_writes_what_it_queued(tmp_path):
    """Pool children that leave after one task each (``--max-tasks-per-child 1``: billiard ends them with
    ``os._exit``, so no atexit runs) still write their events: the recorder flushes at ``worker_process_shutdown``.
    Each part's start and end are recorded, each from its own pool child."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, env, "w1", "--max-tasks-per-child", "1")
        ids = send(root, env)

        def ended():
            return {e["task_id"]: e for e in recorded_events(store, ids=[ids["callback"]])["events"]
                    if e["event"] == "end"}

        wait_for(lambda: set(ids["headers"]) | {ids["callback"]} <= set(ended()), 30,
                 what=lambda: sorted(ended()))
        events = recorded_events(store, ids=[ids["callback"]])["events"]
    started = {e["task_id"]: e["pid"] for e in events if e["event"] == "start"}
    finished = {e["task_id"]: e["pid"] for e in events if e["event"] == "end"}
    parts = ids["headers"]
    assert set(parts) <= set(started) and all(finished[p] == started[p] for p in parts)
    assert len({started[p] for p in parts}) == 3  # three children, one part each, each gone right after its part
