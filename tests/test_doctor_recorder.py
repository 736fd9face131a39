"""``lab doctor`` with the flight recorder, against deployments the lab did not build: a plain ``Celery(...)`` app
that calls ``install(app)``, plain ``celery -A shop.app worker`` command lines, chords sent by the package's own
code.  Each test is one of the proofs the recorded history gives where the live state has lost the evidence:

- by callback id after every chord key and result expired: chord-size-key-missing, with when .s was set and
  when it lapsed;
- keys evicted under maxmemory (the recorded lifetime rules expiry out);
- a header part lost with a crashed worker that was restarted under the same name: which pid, and when;
- the callback routed by the publishing worker's own config;
- a chord still running;
- on RabbitMQ, the callback published to a queue with no consumer;
- after every key expired, the producer and the workers on different backends (the backend each recorded);
- a part return Redis refused under maxmemory noeviction (the recorded internal error), keys or no keys;
- a restart of the backend after the header was sent (the recorded backends rule a producer writing elsewhere out);
- after every key expired, a FLUSHDB while the header ran (no publish and no chord error recorded: the count never
  completed), told from a callback publish that failed (its recorded chord error keeps "cannot tell");
- a join that never returns: a nested header member whose recorded return stored no result (join-hang).

Every process is owned (``ProcessOwner``); waits are on evidence (a recorded event, a key, a queue depth), bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import has_traceback, wait_for
from handbuilt import run_json, shop_env, start_worker, write_shop

from lab.observe.recorder import recorded_events
from lab.runtime.process import services as brokers
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis

APP = '''
import os
import time

from celery import Celery

from lab.recorder import install

app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend=os.environ["SHOP_BACKEND"])
if os.environ.get("SHOP_EXPIRES"):
    app.conf.result_expires = int(os.environ["SHOP_EXPIRES"])
if os.environ.get("SHOP_ROUTE_SUMMARY"):  # set in the workers' environment only: their own config routes it
    app.conf.task_routes = {"shop.app.summarize": {"queue": "summary"}}
install(app, os.environ["SHOP_RECORDER"])  # the one line a user adds


@app.task
def crunch(i, seconds=0.0):
    time.sleep(seconds)
    return i


@app.task
def summarize(results):
    return sum(results)
'''

SEND = '''
import json
import sys

from celery import chord

from shop.app import crunch, summarize

seconds = json.loads(sys.argv[1])
r = chord(crunch.s(i, s) for i, s in enumerate(seconds))(summarize.s())
print(json.dumps({"callback": r.id, "group": r.parent.id, "headers": [c.id for c in r.parent.results]}))
'''


def shop(root: Path) -> Path:
    return write_shop(root, APP, SEND)


def env_for(root: Path, broker: str, backend: str, recorder: str, **more: str) -> dict:
    return shop_env(root, SHOP_BROKER=broker, SHOP_BACKEND=backend, SHOP_RECORDER=recorder, **more)


def send(root: Path, env: dict, seconds: list[float]) -> dict:
    done, ids = run_json(root, env, [sys.executable, "-m", "shop.send", json.dumps(seconds)], timeout=60)
    assert done.returncode == 0, done.stderr
    return ids


def doctor(root: Path, env: dict, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done, report = run_json(root, env, [sys.executable, "-m", "lab", "doctor", "--app", "shop.app:app", "--json", *args])
    assert not has_traceback(done.stderr), done.stderr
    assert done.returncode in (0, 1, 2), done.stderr
    return done, report


def recorded(store: str, ident: str, event: str) -> list[dict]:
    return [e for e in recorded_events(store, ids=[ident])["events"] if e["event"] == event]


def test_chord_size_key_missing_is_proven_by_callback_id_after_every_key_and_result_expired(tmp_path):
    """result_expires = 2 s: two parts return at once, the third after 4 s, when .s has lapsed (each return
    re-expires it, so only the gap counts).  Once every chord key and every result has expired, the live state
    names nothing; the recorded history proves chord-size-key-missing, with when .s was set and when it lapsed."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store, SHOP_EXPIRES="2")
        start_worker(owner, root, env, "w1", "-c", "3")
        ids = send(root, env, [0.0, 0.0, 4.0])
        backend = redis.client(1)
        # evidence: the slow part's end is recorded, then every key naming the chord has expired
        wait_for(lambda: len(recorded(store, ids["callback"], "end")) == 3, 30,
                 what=lambda: recorded(store, ids["callback"], "end"))
        wait_for(lambda: not list(backend.scan_iter(f"*{ids['group']}*")) and not any(
            backend.exists(f"celery-task-meta-{t}") for t in ids["headers"]), 15,
            what=lambda: sorted(backend.scan_iter(f"*{ids['group']}*")))
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "chord-size-key-missing"), d
        assert done.returncode == 1
        assert d["ids"]["group_id"] == ids["group"] and sorted(d["ids"]["header_ids"]) == sorted(ids["headers"])
        text = "\n".join(d["evidence"])
        assert "result_expires" in text and "lapsed at" in text and "sent the header at" in text, text
        assert ids["headers"][2] in d["summary"], d  # the part whose return found .s gone
        assert "none dropped" in text
        # the same deployment read without the recorder: nothing names the chord any more
        _, bare = doctor(root, env, "--chord", ids["callback"], "--recorder", "none")
        assert bare["chords"][0]["verdict"] == "unknown", bare["chords"][0]


def test_evicted_size_key_is_told_from_expiry_by_its_recorded_lifetime(tmp_path):
    """The backend is its own Redis with maxmemory and allkeys-random: while a part runs, other keys fill it
    until .s is evicted.  The recorder (on the broker) says .s was to live a day, so it did not expire:
    chord-key-evicted."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        broker = start_redis(owner, tmp_path / "own", {}, name="broker")
        small = start_redis(owner, tmp_path / "own", {"maxmemory": "4mb", "maxmemory-policy": "allkeys-random"},
                            name="backend")
        store = broker.url(3)
        env = env_for(root, broker.url(0), small.url(0), store)
        start_worker(owner, root, env, "w1", "-c", "2")
        ids = send(root, env, [0.0, 6.0])
        backend = small.client(0)
        skey = next(iter(backend.scan_iter(f"*{ids['group']}.s")))
        wait_for(lambda: len(recorded(store, ids["callback"], "start")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "start"))
        filled = 0
        while backend.exists(skey) and filled < 20_000:  # bounded: fill until .s is evicted
            backend.set(f"filler:{filled}", "x" * 1024)
            filled += 1
        assert not backend.exists(skey), f"{skey} survived {filled} KiB of filler"
        wait_for(lambda: len(recorded(store, ids["callback"], "end")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "end"))
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "chord-key-evicted"), d
        text = "\n".join(d["evidence"])
        assert "evicted_keys" in text and "would have expired" in text, text


def test_a_part_lost_with_a_crashed_worker_names_the_pid_and_the_restart(tmp_path):
    """Both parts run on w1 (acks_late off: acked as they start); w1 is SIGKILLed, pool and all, and started again
    under the same name, as a supervisor would.  It answers ping, so only the recorded starts (pid and time)
    against its new pids (inspect stats) prove the parts died with the old process."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        w1 = start_worker(owner, root, env, "w1", "-c", "2")
        ids = send(root, env, [60.0, 60.0])
        wait_for(lambda: len(recorded(store, ids["callback"], "start")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "start"))
        pids = {e["pid"] for e in recorded(store, ids["callback"], "start")}
        w1.send_signal(signal.SIGKILL, group=True)
        wait_for(lambda: not w1.alive(), 10, what=lambda: f"w1 alive: {w1.alive()}")
        start_worker(owner, root, env, "w1", "-c", "2")
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "header-part-lost"), d
        text = "\n".join(d["evidence"])
        assert any(f"pid {p}" in text for p in pids), text
        assert "no longer runs" in text and "w1@shop now runs pid" in text, text


def test_the_callback_routed_by_the_publishing_worker_s_own_config_is_named_from_the_history(tmp_path):
    """The producer's app routes nothing; the worker's own config sends the callback to 'summary', which it does
    not consume.  Doctor, given the producer's app, names the worker that published it there."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, {**env, "SHOP_ROUTE_SUMMARY": "1"}, "w1", "-c", "2", "-Q", "celery")
        ids = send(root, env, [0.0, 0.0])
        wait_for(lambda: recorded(store, ids["callback"], "publish") and any(
            e["task_id"] == ids["callback"] for e in recorded(store, ids["callback"], "publish")), 30,
            what=lambda: recorded(store, ids["callback"], "publish"))
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "callback-queue-unconsumed"), d
        text = "\n".join(d["evidence"])
        assert "recorder: w1@shop published callback" in text and "'summary'" in text, text
        assert "its own config" in text, text
        assert "-Q" in (d["fix"] or "") and "summary" in (d["fix"] or ""), d


def test_a_chord_still_running_is_running_with_its_recorded_starts(tmp_path):
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, env, "w1", "-c", "2")
        ids = send(root, env, [60.0, 60.0])
        wait_for(lambda: len(recorded(store, ids["callback"], "start")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "start"))
        for args in (["--chord", ids["callback"]], ["--group", ids["group"]], ["--chord", ids["headers"][0]]):
            done, report = doctor(root, env, *args)
            d = report["chords"][0]
            assert d["verdict"] == "running", (args, d)
            assert done.returncode == 0
            assert any(e.startswith("recorder: ") for e in d["evidence"]), d


def test_rabbitmq_callback_published_to_a_queue_with_no_consumer_is_proven_by_its_recorded_publish(tmp_path):
    """RabbitMQ broker (messages cannot be read without consuming them), Redis backend and recorder store: the
    worker's own config routes the callback to 'summary', which nobody consumes.  The recorded publish and the
    broker's count (passive declare) prove it, with no elimination."""
    why = brokers.rabbitmq_unavailable()
    if why:
        pytest.skip(why)
    root = shop(tmp_path / "proj")
    vhost_name = f"shop-rec-{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    with ProcessOwner(tmp_path / "own") as owner:
        url, vhost = brokers.rabbitmq_vhost(vhost_name)
        try:
            redis = start_redis(owner, tmp_path / "own", {})
            store = redis.url(3)
            env = env_for(root, url, redis.url(1), store)
            start_worker(owner, root, {**env, "SHOP_ROUTE_SUMMARY": "1"}, "w1", "-c", "2", "-Q", "celery")
            ids = send(root, env, [0.0, 0.0])
            wait_for(lambda: any(e["task_id"] == ids["callback"] for e in recorded(store, ids["callback"], "publish")),
                     30, what=lambda: recorded(store, ids["callback"], "publish"))
            done, report = doctor(root, env, "--chord", ids["callback"])
            d = report["chords"][0]
            assert (d["verdict"], d["cause"]) == ("stuck", "callback-queue-unconsumed"), d
            text = "\n".join(d["evidence"])
            assert "passive declare" in text and "recorder: w1@shop published callback" in text, text
            assert "elimination" not in d["summary"], d
        finally:
            brokers.drop_rabbitmq_vhost(vhost)


def test_a_recorder_that_dropped_events_proves_no_absence_and_doctor_says_so(tmp_path):
    """The recorder's store is its own Redis, killed while a chord runs and started again on the same port: the
    workers drop and count what they could not write.  Asked about that chord, doctor judges on the live state
    (its recorded events, if any, only link ids) and its evidence says how many events were dropped."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        rec = start_redis(owner, tmp_path / "own", {}, name="recorder")
        store = rec.url(0)
        env = env_for(root, redis.url(0), redis.url(1), store, SHOP_ROUTE_SUMMARY="1")
        w1 = start_worker(owner, root, env, "w1", "-c", "2", "-Q", "celery")
        port = rec.port
        rec.stop()
        ids = send(root, env, [0.0, 0.0])  # the producer's and the worker's events of this chord are dropped
        wait_for(lambda: redis.client(0).llen("summary") == 1, 30, what=lambda: redis.client(0).llen("summary"))
        w1.wait_for_log(r"lab recorder: cannot write to", 10)  # evidence: the worker's write failed, and it counts
        rec = start_redis(owner, tmp_path / "own", {}, name="recorder", port=port)
        assert rec.port == port
        later = send(root, env, [0.0])  # the next events written carry the count of those dropped
        wait_for(lambda: any(e["task_id"] == later["callback"] for e in recorded(store, later["callback"], "publish")),
                 30, what=lambda: recorded_events(store)["events"][-3:])
        wait_for(lambda: recorded_events(store)["dropped"] > 0, 10, what=lambda: recorded_events(store)["dropped"])
        for cid in (ids["callback"], later["callback"]):
            done, report = doctor(root, env, "--chord", cid)
            d = report["chords"][0]
            assert (d["verdict"], d["cause"]) == ("stuck", "callback-queue-unconsumed"), d  # the live state proves it
            assert any("dropped" in e and "proves nothing" in e for e in d["evidence"]), d["evidence"]
            assert d["rule"] != "judge (recorded history)", d


def expire_everything(clients, ids: dict) -> int:
    """Make every key naming the chord (its group, callback and parts) expire now, in each backend given; wait until
    they are gone (bounded).  How many there were."""
    keys = [(c, k) for c in clients for ident in (ids["group"], ids["callback"], *ids["headers"])
            for k in c.scan_iter(f"*{ident}*")]
    for c, k in keys:
        c.pexpire(k, 1)
    wait_for(lambda: not any(c.exists(k) for c, k in keys), 10, what=lambda: [k for c, k in keys if c.exists(k)])
    return len(keys)


def test_producer_and_workers_on_different_backends_are_proven_from_the_recorded_backends_after_expiry(tmp_path):
    """The producer stores results in db 1, the worker in db 2.  Once every key of the chord has expired in both,
    nothing in Redis is left to compare; the backend the producer recorded on the header's publish and the one the
    worker recorded on each part's end prove backend-mismatch."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, {**env, "SHOP_BACKEND": redis.url(2)}, "w1", "-c", "2")
        ids = send(root, env, [0.0, 0.0])
        wait_for(lambda: len(recorded(store, ids["callback"], "end")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "end"))
        assert expire_everything([redis.client(1), redis.client(2)], ids) >= 3  # .s in db 1; .j, .d and metas in db 2
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "backend-mismatch"), d
        assert done.returncode == 1
        assert "another database" in d["summary"], d
        text = "\n".join(d["evidence"])
        assert f"{redis.url(1)}: Celery sets .s there" in text, text
        assert f"with result backend {redis.url(2)}: its return was counted there" in text, text


def test_a_part_return_refused_under_noeviction_is_proven_by_the_recorded_error_before_and_after_expiry(tmp_path):
    """The backend is its own Redis, maxmemory 4 MB under noeviction, filled while both parts run: their results are
    refused (OutOfMemoryError outside the task's body), so neither is counted.  The recorded internal errors prove
    part-return-error while .s and a short count remain, and still once every key of the chord has expired."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        broker = start_redis(owner, tmp_path / "own", {}, name="broker")
        small = start_redis(owner, tmp_path / "own", {"maxmemory": "4mb", "maxmemory-policy": "noeviction"},
                            name="backend")
        store = broker.url(3)
        env = env_for(root, broker.url(0), small.url(0), store)
        start_worker(owner, root, env, "w1", "-c", "2")
        ids = send(root, env, [3.0, 3.0])
        wait_for(lambda: len(recorded(store, ids["callback"], "start")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "start"))
        backend = small.client(0)
        import redis as redis_py

        filled = 0
        while filled < 2000:  # bounded: fill until Redis refuses a write
            try:
                backend.set(f"filler:{filled}", "x" * 65536)
            except redis_py.exceptions.OutOfMemoryError:
                break
            filled += 1
        assert filled < 2000, "Redis never refused a write"
        wait_for(lambda: len(recorded(store, ids["callback"], "internal_error")) == 2, 30,
                 what=lambda: recorded_events(store, ids=[ids["callback"]])["events"][-4:])
        for expired in (False, True):
            if expired:
                expire_everything([backend], ids)
            done, report = doctor(root, env, "--chord", ids["callback"])
            d = report["chords"][0]
            assert (d["verdict"], d["cause"]) == ("stuck", "part-return-error"), (expired, d)
            assert "raised OutOfMemoryError in the result backend, which refused the write" in d["summary"], d
            assert ("every chord key has expired since" in d["summary"]) == expired, d["summary"]
            text = "\n".join(d["evidence"])
            assert text.count("Redis refused the write") == 2 and "in mark_as_done" in text, text


def test_a_backend_restart_after_the_header_was_sent_is_proven_with_the_recorded_backends(tmp_path):
    """The backend is its own Redis without persistence, restarted while both parts run: the parts' returns build a
    new .j with no .s.  The live state alone cannot tell a restart from a producer writing elsewhere (unknown); the
    recorder shows the producer set .s in the backend read here and both parts returned there: backend-data-lost."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        broker = start_redis(owner, tmp_path / "own", {}, name="broker")
        backend = start_redis(owner, tmp_path / "own", {}, name="backend")
        store = broker.url(3)
        env = env_for(root, broker.url(0), backend.url(0), store)
        start_worker(owner, root, env, "w1", "-c", "2")
        ids = send(root, env, [3.0, 3.0])
        wait_for(lambda: len(recorded(store, ids["callback"], "start")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "start"))
        backend.restart(persist=False)
        wait_for(lambda: len(recorded(store, ids["callback"], "end")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "end"))
        client = backend.client(0)
        wait_for(lambda: client.exists(f"celery-taskset-meta-{ids['group']}.j") and client.zcard(
            f"celery-taskset-meta-{ids['group']}.j") == 2, 30, what=lambda: sorted(client.scan_iter("*")))
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "backend-data-lost"), d
        assert "lost in that restart" in d["summary"], d
        assert any(e.startswith("recorder: producer@") and "and all 2 parts returned into it" in e
                   for e in d["evidence"]), d["evidence"]
        _, bare = doctor(root, env, "--chord", ids["callback"], "--recorder", "none")
        assert bare["chords"][0]["verdict"] != "stuck", bare["chords"][0]


def test_a_flush_while_the_header_ran_is_proven_after_every_key_expired_by_the_recorded_absence_of_a_chord_error(tmp_path):
    """FLUSHDB on the backend's database while both parts run: their returns build a .j that nothing completes.  Once
    every key of the chord has expired, the recorder (which records chord errors: each part's end says so) shows
    both returns into the backend read here and neither a callback publish nor a chord error: stuck,
    backend-data-lost."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, env, "w1", "-c", "2")
        ids = send(root, env, [2.0, 2.0])
        wait_for(lambda: len(recorded(store, ids["callback"], "start")) == 2, 30,
                 what=lambda: recorded(store, ids["callback"], "start"))
        backend = redis.client(1)
        backend.flushdb()
        ends = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(recorded(store, ids["callback"], "end")), 30,
                        what=lambda: recorded(store, ids["callback"], "end"))
        assert all(e.get("records") == ["chord_error", "return"] for e in ends), ends
        wait_for(lambda: backend.exists(f"celery-taskset-meta-{ids['group']}.j"), 10, what=lambda: sorted(backend.scan_iter("*")))
        expire_everything([backend], ids)
        done, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert (d["verdict"], d["cause"]) == ("stuck", "backend-data-lost"), d
        assert done.returncode == 1
        assert "FLUSHDB/FLUSHALL 1 time(s)" in d["summary"] and "the count never completed" in d["summary"], d
        text = "\n".join(d["evidence"])
        assert "so no dispatch was tried, and none failed" in text and "and all 2 parts returned into it" in text, text
        assert not recorded(store, ids["callback"], "chord_error")


FAILING_SEND = '''
import json

from celery import chord

from shop.app import crunch, summarize

# summarize takes one argument: publishing it with the header's results and two more raises TypeError
r = chord([crunch.s(0, 0.5), crunch.s(1, 0.5)])(summarize.s(1, 2))
print(json.dumps({"callback": r.id, "group": r.parent.id, "headers": [c.id for c in r.parent.results]}))
'''


def test_a_callback_publish_that_failed_is_a_recorded_chord_error_and_a_later_flush_proves_nothing(tmp_path):
    """The callback's publish raises in the worker that returned the last part (its signature rejects the header's
    results), so Celery marks it FAILURE with a ChordError, through chord_error_from_stack, which sends no signal: the
    recorder records it (callback, group, the part, the worker, the error; no arguments).  After a FLUSHDB and every
    key expired, that recorded chord error keeps doctor from calling it a data loss: unknown, likely backend-data-lost."""
    root = write_shop(tmp_path / "proj", APP, FAILING_SEND)
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, env, "w1", "-c", "2")
        done, ids = run_json(root, env, [sys.executable, "-m", "shop.send"], timeout=60)
        assert done.returncode == 0, done.stderr
        errors = wait_for(lambda: recorded(store, ids["callback"], "chord_error"), 30,
                          what=lambda: recorded_events(store, ids=[ids["callback"]])["events"][-4:])
        e = errors[0]
        assert (e["task_id"], e["group_id"], e["name"]) == (ids["callback"], ids["group"], "shop.app.summarize"), e
        assert e["by_task"] in ids["headers"] and e["worker"] == "w1@shop", e
        assert e["error"].startswith("ChordError: Callback error: TypeError"), e
        assert not {"args", "kwargs", "result"} & set(e), e
        backend = redis.client(1)
        _, report = doctor(root, env, "--chord", ids["callback"])
        assert report["chords"][0]["verdict"] == "failed", report["chords"][0]  # its ChordError is still stored
        backend.flushdb()
        expire_everything([backend], ids)
        _, report = doctor(root, env, "--chord", ids["callback"])
        d = report["chords"][0]
        assert d["cause"] != "backend-data-lost" and d["verdict"] != "stuck", d


NESTED_APP = '''
import os

from celery import Celery

from lab.recorder import install

app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend=os.environ["SHOP_BACKEND"])
install(app, os.environ["SHOP_RECORDER"])


@app.task
def part(*args):
    return len(args)


@app.task(bind=True)
def unstored(self, *args):
    self.request.ignore_result = True  # Celery reads it again when it stores the result: this one is never stored
    return 0


@app.task
def summarize(results):
    return 0
'''

NESTED_SEND = '''
import json

from celery import chain, chord, group

from shop.app import part, summarize, unstored

r = chord([chain(part.s(0), group(part.s(1), unstored.s(2))), part.s(3)])(summarize.s())
nested = r.parent.results[0]
print(json.dumps({"callback": r.id, "group": r.parent.id, "nested": nested.id, "unstored": nested.results[1].id}))
'''


def test_a_join_on_a_nested_member_that_stored_no_result_is_proven_a_join_hang(tmp_path):
    """Header [chain(part, group(part, unstored)), part], where ``unstored`` sets request.ignore_result in its body.
    The count completes and the worker that returned the last part joins the saved header; Celery joins the nested
    group's members with .get() and no timeout, so it waits forever for the unstored one.  The recorder records each
    part's return with ``stored``, doctor decodes the saved header's nesting: stuck · join-hang, naming the part, the
    member and why.  Without the recorder doctor cannot tell the join from a slow body: running."""
    from lab.judge import HANG_AFTER_S

    root = write_shop(tmp_path / "proj", NESTED_APP, NESTED_SEND)
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store)
        start_worker(owner, root, env, "w1", "-c", "3")
        done, ids = run_json(root, env, [sys.executable, "-m", "shop.send"], timeout=60)
        assert done.returncode == 0, done.stderr
        # the two parts before the last end, each end saying whether its result was stored; the part that
        # completed the count never ends, so its return, held a second (RETURN_GRACE_S), is written on its own
        ends = wait_for(lambda: (lambda es: es if len(es) == 2 else None)(recorded(store, ids["callback"], "end")), 30,
                        what=lambda: recorded(store, ids["callback"], "end"))
        returns = wait_for(lambda: recorded(store, ids["callback"], "return") or None, 15,
                           what=lambda: recorded_events(store, ids=[ids["callback"]])["events"][-6:])
        hung = [e["task_id"] for e in returns]
        assert len(hung) == 1 and hung[0] not in {e["task_id"] for e in ends}, (returns, ends)
        assert all("stored" in e for e in ends) and not {"args", "kwargs", "result"} & set(returns[0]), (returns, ends)
        stored = {e["task_id"]: e["stored"] for e in (*ends, *returns)}
        assert stored[ids["unstored"]] is False and sum(stored.values()) == 2, stored
        last = max(e["t"] for e in returns)
        wait_for(lambda: time.time() - last > HANG_AFTER_S + 0.5, HANG_AFTER_S + 5, what="the lab's hang bound to pass")
        for args in (["--chord", ids["callback"]], ["--group", ids["group"]]):
            done, report = doctor(root, env, *args)
            d = report["chords"][0]
            assert (d["verdict"], d["cause"]) == ("stuck", "join-hang"), (args, d)
            assert done.returncode == 1
            assert f"header part {hung[0]} returned" in d["summary"] and ids["unstored"] in d["summary"], d["summary"]
            text = "\n".join(d["evidence"])
            assert f"nested group {ids['nested']}" in text and "no timeout" in text, text
            assert f"nested member {ids['unstored']}" in text and "stored false" in text, text
        _, bare = doctor(root, env, "--chord", ids["callback"], "--recorder", "none")
        assert bare["chords"][0]["verdict"] == "running", bare["chords"][0]
