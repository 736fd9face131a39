"""``lab doctor --watch``: a deployment followed as it runs, and a line when a chord becomes at risk.

The first tests are the watch's rules (``lab.doctor.watch.ChordWatch``) on hand-built event lists: no process,
no clock, each rule the events and facts it rests on.  The last ones start a deployment by hand (a plain
``Celery(...)`` app in a ``shop`` package, plain ``celery -A shop.app worker`` lines, its own redis-server)
and run ``python -m lab doctor --watch`` on it as a user would: from the flight recorder, and, without one,
from Celery's events and the broker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import handbuilt
from conftest import wait_for
from handbuilt import run_json, shop_env, write_shop

from lab.doctor.watch import ChordWatch, Facts
from lab.observe.recorder import recorded_events
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
T0 = 1_800_000_000.0


# -- the rules, on hand-built events -------------------------------------------------------------------


def publish(tid, t, **kw):
    return {"event": "publish", "task_id": tid, "t": T0 + t, **kw}


def part(i, t, queue="celery", **kw):
    """Header part ``p<i>`` of chord (group g, callback cb) published by the producer."""
    return publish(f"p{i}", t, name="shop.crunch", queue=queue, group_id="g", group_index=i, chord_callback="cb",
                   by="producer@host", **kw)


def start(tid, t, worker="w1@shop", pid=101, **kw):
    return {"event": "start", "task_id": tid, "t": T0 + t, "worker": worker, "pid": pid, "group_id": "g",
            **({"chord_callback": "cb"} if tid != "cb" else {}), **kw}


def end(tid, t, state="SUCCESS", worker="w1@shop", **kw):
    return {"event": "end", "task_id": tid, "t": T0 + t, "state": state, "worker": worker, "group_id": "g",
            **({"chord_callback": "cb"} if tid != "cb" else {}), **kw}


def callback(t, queue="celery"):
    return publish("cb", t, name="shop.summarize", queue=queue, group_id="g", by="w1@shop")


def facts(t, consumers=None, processes=None):
    return Facts(T0 + t, {"w1@shop": ["celery"]} if consumers is None else consumers,
                 processes if processes is not None else {"w1@shop": {"pid": 100, "pool": [101, 102]}})


def healthy(n=3):
    evs = [part(i, 0.01 * i) for i in range(n)]
    for i in range(n):
        evs += [start(f"p{i}", 0.1 + i * 0.01), end(f"p{i}", 0.2 + i * 0.01)]
    return evs + [callback(0.25), start("cb", 0.3), end("cb", 0.35)]


def states(alerts):
    return [(a.state, a.cause) for a in alerts]


def test_a_healthy_chord_gives_one_line_completed():
    """Nothing at risk on the way: the only line is the callback's end."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    alerts = w.feed(healthy(), now=T0 + 0.4)
    assert states(alerts) == [("completed", None)]
    assert alerts[0].callback_id == "cb" and alerts[0].group_id == "g" and alerts[0].since == T0 + 0.35
    assert w.exit_code() == 0


def test_a_callback_published_to_a_queue_nobody_consumes_is_at_risk_until_a_worker_consumes_it():
    """The callback's publish names queue 'summary'; inspect says w1 consumes only 'celery'."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    evs = [part(i, 0.0) for i in range(2)] + [start("p0", 0.1), end("p0", 0.2), start("p1", 0.1), end("p1", 0.2)]
    assert w.feed(evs, now=T0 + 0.2) == []
    [alert] = w.feed([callback(0.21, queue="summary")], now=T0 + 0.22)
    assert (alert.state, alert.cause) == ("at-risk", "callback-queue-unconsumed")
    assert "'summary'" in alert.reason and alert.since == T0 + 0.21 and alert.source == "recorder"
    assert any("w1@shop consumes celery" in e for e in alert.evidence)
    assert w.tick(T0 + 5) == [] and w.exit_code() == 1  # said once, not again on every tick
    [rec] = w.facts(facts(6, {"w1@shop": ["celery"], "w2@shop": ["summary"]}))
    assert rec.state == "recovered" and "consumed now" in rec.reason
    [done] = w.feed([start("cb", 6.1, worker="w2@shop"), end("cb", 6.2, worker="w2@shop")], now=T0 + 6.3)
    assert done.state == "completed" and any("had been" in e for e in done.evidence)
    assert w.exit_code() == 0


def test_events_in_any_order_link_to_the_same_chord():
    """Each process's recorder flushes on its own: a callback's start may come before its publish."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    evs = list(reversed(healthy()))
    assert states(w.feed(evs, now=T0 + 1)) == [("completed", None)]


def test_a_part_that_started_in_a_process_now_gone_is_lost_and_recovers_when_redelivered():
    """pid 101 ran p1; two readings of w1's processes after it started no longer list it."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    w.feed([part(0, 0), part(1, 0), start("p0", 0.1), end("p0", 0.2), start("p1", 0.1, pid=101)], now=T0 + 0.3)
    gone = {"w1@shop": {"pid": 100, "pool": [102, 103]}}
    assert w.facts(facts(1, processes=gone)) == []  # once is not enough: a fresh child may not be listed yet
    [alert] = w.facts(facts(2, processes=gone))
    assert (alert.state, alert.cause) == ("at-risk", "header-part-lost")
    assert "pid 101 is no longer one of its processes" in alert.reason
    [rec] = w.feed([start("p1", 3, pid=103)], now=T0 + 3)  # acks_late + reject_on_worker_lost: redelivered
    assert rec.state == "recovered"


def test_a_worker_that_stops_answering_loses_its_running_part():
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    w.feed([part(0, 0), start("p0", 0.1)], now=T0 + 0.2)
    w.facts(facts(1, consumers={}, processes={}))
    [alert] = w.facts(facts(2, consumers={}, processes={}))
    assert alert.cause == "header-part-lost" and "has not answered" in alert.reason


def test_chord_keys_that_expire_before_a_running_part_returns():
    """chord_expires 2 s (the producer's, recorded with the publish), re-expired by p0's return at 0.1 s: p1, which
    has run 1.4 s with 0.6 s left, is at risk; once it returns after the expiry and no callback came within the
    grace, stuck."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    exp = {"chord_expires": [2, "result_chord_expires"]}
    w.feed([part(0, 0, **exp), part(1, 0, **exp), start("p0", 0.05), end("p0", 0.1), start("p1", 0.1)], now=T0 + 0.2)
    assert w.tick(T0 + 1.0) == []  # ran 0.9 s, 1.1 s left
    [risk] = w.tick(T0 + 1.5)
    assert (risk.state, risk.cause) == ("at-risk", "chord-size-key-missing") and "0.6 s left" in risk.reason
    w.feed([end("p1", 3.0)], now=T0 + 3.0)
    assert w.tick(T0 + 4.0) == []  # within the grace: the callback's publish may still be on its way
    [stuck] = w.tick(T0 + 5.1)
    assert (stuck.state, stuck.cause) == ("stuck", "chord-size-key-missing")
    assert any("0.9 s after the keys expired" in e for e in stuck.evidence)


def test_returns_that_come_within_the_keys_lifetime_keep_them_alive():
    """Each part return re-expires .s (Celery's chord part return script): parts returning every 1.5 s under a 2 s
    lifetime, 6 s in all, never put the chord at risk, though it runs three times as long as the keys live."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    exp = {"chord_expires": [2, "result_chord_expires"]}
    w.feed([part(i, 0, **exp) for i in range(4)], now=T0 + 0.1)
    alerts = []
    for i in range(4):
        alerts += w.feed([start(f"p{i}", 1.5 * i), end(f"p{i}", 1.5 * (i + 1))], now=T0 + 1.5 * (i + 1))
        alerts += w.tick(T0 + 1.5 * (i + 1) + 0.1)
    assert [a for a in alerts if a.cause == "chord-size-key-missing"] == [], alerts


def test_without_the_recorder_a_missing_publish_proves_nothing():
    """The same history from Celery events: at risk, never stuck."""
    w = ChordWatch(recorded=False, chord_expires=(2, "result_expires"))
    w.facts(facts(0))
    alerts = w.feed([part(0, 0), start("p0", 0.1), end("p0", 3.0)], now=T0 + 3) + w.tick(T0 + 10)
    assert states(alerts) == [("at-risk", "chord-size-key-missing")]
    assert "of the app doctor loaded" in alerts[0].evidence[0]


def test_a_recorder_that_dropped_events_proves_nothing_either():
    w = ChordWatch(recorded=True, chord_expires=(2, "result_expires"))
    w.facts(facts(0))
    [a] = (w.feed([part(0, 0), start("p0", 0.1), {"event": "dropped", "n": 4, "t": T0 + 1}, end("p0", 3.0)], now=T0 + 3)
           + w.tick(T0 + 10))
    assert a.state == "at-risk" and any("dropped 4" in e for e in a.evidence)


def test_a_callback_that_ignores_its_result_runs_but_is_said():
    w = ChordWatch(recorded=True, ignores_result={"shop.summarize"})
    w.facts(facts(0))
    evs = healthy()
    risk = w.feed(evs[:-2], now=T0 + 0.26)
    assert states(risk) == [("at-risk", "result-ignored")]
    [done] = w.feed(evs[-2:], now=T0 + 0.4)
    assert (done.state, done.cause) == ("completed", "result-ignored") and "PENDING" in done.reason
    assert w.exit_code() == 0


def test_a_header_part_that_ignores_its_result_is_at_risk_only_without_native_join():
    """On Redis (native join) Celery 5.7 counts it anyway (the lab's ignore-result scenario): no line."""
    redis_like = ChordWatch(recorded=True, ignores_result={"shop.crunch"})
    redis_like.facts(facts(0))
    assert redis_like.feed([part(0, 0)], now=T0) == []
    database = ChordWatch(recorded=True, ignores_result={"shop.crunch"}, native_join=False)
    database.facts(facts(0))
    assert states(database.feed([part(0, 0)], now=T0)) == [("at-risk", "chord-unlock-retrying")]


def test_a_callback_discarded_as_unregistered_is_stuck():
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    evs = healthy()[:-2] + [{"event": "unregistered", "task_id": "cb", "name": "shop.summarize", "worker": "w9@old",
                             "t": T0 + 0.3}]
    assert states(w.feed(evs, now=T0 + 0.4)) == [("stuck", "callback-unregistered")]
    assert w.exit_code() == 1


def test_a_part_that_failed_fails_the_chord():
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    alerts = w.feed([part(0, 0), start("p0", 0.1), end("p0", 0.2, state="FAILURE", error="ValueError: x")], now=T0 + 1)
    assert states(alerts) == [("failed", "header-part-failed")]
    assert w.exit_code() == 1


def test_the_broker_alone_links_a_waiting_callback_to_its_chord():
    """From Celery events there is no group id: a message seen in the queue (its headers name the group) links it."""
    w = ChordWatch(recorded=False)
    w.facts(facts(0))
    [a] = w.feed([{"event": "queued", "task_id": "cb", "name": "shop.summarize", "queue": "summary", "group_id": "g",
                   "group_index": None, "t": T0 + 1, "length": 1, "source": "broker"}], now=T0 + 1)
    assert (a.state, a.cause, a.callback_id) == ("at-risk", "callback-queue-unconsumed", "cb")
    assert any("waits in queue 'summary'" in e for e in a.evidence)
    # Celery events name only the task id: the callback's start and end still land on this chord
    assert states(w.feed([{"event": "start", "task_id": "cb", "worker": "w2@shop", "t": T0 + 2}], now=T0 + 2)) \
        == [("recovered", "callback-queue-unconsumed")]
    assert states(w.feed([{"event": "end", "task_id": "cb", "state": "SUCCESS", "t": T0 + 3}], now=T0 + 3)) \
        == [("completed", None)]


def test_no_facts_no_queue_claim():
    """Before anyone was asked which queues they consume, a publish to any queue is not called unconsumed."""
    w = ChordWatch(recorded=True)
    assert w.feed([part(0, 0), callback(0.1, queue="summary")], now=T0 + 0.2) == []
    assert states(w.facts(facts(0.3))) == [("at-risk", "callback-queue-unconsumed")]


# -- a deployment built by hand, watched as a user would ----------------------------------------------

APP = '''
import os
import time

from celery import Celery

app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend=os.environ["SHOP_BACKEND"])
if os.environ.get("SHOP_SPLIT"):
    app.conf.task_routes = {"shop.app.summarize": {"queue": "summary"}}
if os.environ.get("SHOP_CHORD_EXPIRES"):
    app.conf.result_chord_expires = float(os.environ["SHOP_CHORD_EXPIRES"])
if os.environ.get("SHOP_RECORDER"):
    from lab.recorder import install

    install(app, os.environ["SHOP_RECORDER"])  # the one line a user adds


@app.task
def crunch(i, delay=0.0):
    time.sleep(delay)
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

slow = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
r = chord([crunch.s(0, slow), crunch.s(1), crunch.s(2)])(summarize.s())
print(json.dumps({"callback": r.id, "group": r.parent.id, "headers": [c.id for c in r.parent.results]}))
'''


def shop(root: Path) -> Path:
    return write_shop(root, APP, SEND)


def env_for(root: Path, broker: str, backend: str, **more: str) -> dict:
    return shop_env(root, SHOP_BROKER=broker, SHOP_BACKEND=backend, **more)


def start_worker(owner: ProcessOwner, root: Path, env: dict, name: str, *args: str):
    return handbuilt.start_worker(owner, root, env, name, "-c", "2", *args)


def send(root: Path, env: dict, *args: str) -> dict:
    done, ids = run_json(root, env, [sys.executable, "-m", "shop.send", *args], timeout=60)
    assert done.returncode == 0, done.stderr
    return ids


class Watch:
    """``python -m lab doctor --app shop.app:app --watch --json`` as a node; its lines read back as objects."""

    def __init__(self, owner: ProcessOwner, root: Path, env: dict, *args: str):
        self.node = owner.spawn("watch", [sys.executable, "-m", "lab", "doctor", "--app", "shop.app:app", "--watch",
                                          "--json", *args], env=env, cwd=root)

    def objects(self) -> list[dict]:
        out = []
        for line in self.node.log_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait(self, pred, bound: float, what: str) -> dict:
        return wait_for(lambda: next((o for o in self.objects() if pred(o)), None), bound,
                        what=lambda: f"{what}; the watch said: {self.node.log_text()[-1500:]}")

    def alert(self, cid: str, state: str, cause: str | None = "any", bound: float = 15) -> dict:
        return self.wait(lambda o: o["kind"] == "alert" and o["callback_id"] == cid and o["state"] == state
                         and (cause == "any" or o["cause"] == cause), bound, f"a {state} line for {cid}")

    def exited(self, bound: float) -> int:
        wait_for(lambda: self.node.returncode is not None, bound, what=lambda: f"the watch's exit: {self.node.log_text()[-800:]}")
        return self.node.returncode


def test_watch_from_the_recorder_says_a_callback_waits_in_an_unconsumed_queue_and_when_it_recovers(tmp_path, lab_results):
    """The recorder's publish of the callback (by the worker that returned the last part, to 'summary', a queue
    w1 does not consume), or its message seen at the head of 'summary', whichever comes first, gives the at-risk
    line at once; a second worker on 'summary' runs it: completed, saying
    it had been at risk.  SIGTERM ends the watch cleanly, exit 0 (nothing left at risk)."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        env = env_for(root, redis.url(0), redis.url(1), SHOP_RECORDER=redis.url(3), SHOP_SPLIT="1",
                      LAB_RESULTS=str(lab_results))
        start_worker(owner, root, env, "w1", "-Q", "celery")
        watch = Watch(owner, root, env)
        head = watch.wait(lambda o: o["kind"] == "watching", 30, "the watch's first line")
        assert head["source"] == "recorder" and head["consumers"] == {"w1@shop": ["celery"]}
        ids = send(root, env)
        risk = watch.alert(ids["callback"], "at-risk", "callback-queue-unconsumed")
        assert risk["group_id"] == ids["group"] and "'summary'" in risk["reason"]
        # whichever came first: the recorded publish, or the message seen at the head of 'summary'
        assert risk["source"] in ("recorder", "broker") and risk["t"] - risk["since"] < 2.0, risk
        published = wait_for(lambda: next((e for e in recorded_events(redis.url(3), ids=[ids["callback"]])["events"]
                                           if e["event"] == "publish" and e["task_id"] == ids["callback"]), None), 10,
                             what="the callback's recorded publish")
        assert published["by"] == "w1@shop" and risk["t"] - published["t"] < 2.0
        start_worker(owner, root, env, "w2", "-Q", "summary")
        done = watch.alert(ids["callback"], "completed")  # a recovered line first if the watch saw w2 before it ran
        assert any("had been at-risk" in e for e in done["evidence"])
        watch.node.send_signal(signal.SIGTERM, group=False)
        assert watch.exited(15) == 0
        last = watch.objects()[-1]
        assert last["kind"] == "stopped" and last["exit_code"] == 0 and not last["open"]
        assert "Traceback" not in watch.node.log_text()


def test_watch_a_healthy_chord_completes_and_for_bounds_the_run(tmp_path, lab_results):
    """One worker consumes everything: the only line about the chord is completed; --for ends the watch, exit 0."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        env = env_for(root, redis.url(0), redis.url(1), SHOP_RECORDER=redis.url(3), LAB_RESULTS=str(lab_results))
        start_worker(owner, root, env, "w1")
        watch = Watch(owner, root, env, "--for", "8")
        watch.wait(lambda o: o["kind"] == "watching", 30, "the watch's first line")
        ids = send(root, env)
        watch.alert(ids["callback"], "completed", None)
        assert watch.exited(30) == 0
    about = [o for o in watch.objects() if o["kind"] == "alert" and o["callback_id"] == ids["callback"]]
    assert [o["state"] for o in about] == ["completed"]
    assert watch.objects()[-1]["kind"] == "stopped"


def test_watch_without_a_recorder_follows_celery_events_and_the_broker(tmp_path, lab_results):
    """No install(app), workers with -E: Celery's events name no group, but the callback's message waiting in
    'summary' does (its headers): the watch links it and says at risk, and exits 1 at the end of --for."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        env = env_for(root, redis.url(0), redis.url(1), SHOP_SPLIT="1", LAB_RESULTS=str(lab_results))
        start_worker(owner, root, env, "w1", "-Q", "celery", "-E")
        watch = Watch(owner, root, env, "--for", "10")
        head = watch.wait(lambda o: o["kind"] == "watching", 30, "the watch's first line")
        assert head["source"] == "celery-events" and any("no flight recorder stream" in n for n in head["notes"])
        ids = send(root, env)
        risk = watch.alert(ids["callback"], "at-risk", "callback-queue-unconsumed")
        assert risk["source"] == "broker" and any("waits in queue 'summary'" in e for e in risk["evidence"])
        assert watch.exited(30) == 1
        assert watch.objects()[-1]["open"][0]["callback_id"] == ids["callback"]


def test_watch_says_when_chord_keys_expire_before_a_slow_part_returns(tmp_path, lab_results):
    """result_chord_expires = 2 s and a part that takes 4 s: at risk while it runs, stuck (proven from the
    recorder: it returned after the keys expired and no callback was published) once it has returned."""
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        env = env_for(root, redis.url(0), redis.url(1), SHOP_RECORDER=redis.url(3), SHOP_CHORD_EXPIRES="2",
                      LAB_RESULTS=str(lab_results))
        start_worker(owner, root, env, "w1")
        watch = Watch(owner, root, env, "--for", "14")
        watch.wait(lambda o: o["kind"] == "watching", 30, "the watch's first line")
        ids = send(root, env, "4")
        risk = watch.alert(ids["callback"], "at-risk", "chord-size-key-missing")
        assert "result_chord_expires" in risk["reason"]
        stuck = watch.alert(ids["callback"], "stuck", "chord-size-key-missing", bound=20)
        assert any("after the keys expired" in e for e in stuck["evidence"])
        assert watch.exited(30) == 1


def test_watch_bad_input_is_one_sentence(tmp_path, lab_results):
    env = {**os.environ, "LAB_RESULTS": str(lab_results), "PYTHONPATH": str(PROJECT_ROOT)}
    for args, word in ((["--watch", "--chord", "x"], "--chord"), (["--for", "3"], "--watch")):
        done = subprocess.run([sys.executable, "-m", "lab", "doctor", "--app", "nowhere:app", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 254, done
        assert word in done.stderr and "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_celery_events_in_the_ledgers_form():
    """What -E gives, mapped: no group or chord in any of them, and a start's pid is not the child's."""
    from lab.observe.task_events import ledger_event

    sent = ledger_event({"type": "task-sent", "uuid": "cb", "name": "shop.summarize", "queue": "summary",
                         "exchange": "", "hostname": "w1@shop", "timestamp": T0})
    assert sent["event"] == "publish" and sent["queue"] == "summary" and "group_id" not in sent
    started = ledger_event({"type": "task-started", "uuid": "cb", "hostname": "w2@shop", "pid": 7, "timestamp": T0})
    assert started["event"] == "start" and started["pid"] is None and started["worker"] == "w2@shop"
    assert ledger_event({"type": "task-failed", "uuid": "x", "exception": "KeyError()", "timestamp": T0})["state"] == "FAILURE"
    assert ledger_event({"type": "worker-offline", "hostname": "w1@shop", "timestamp": T0})["event"] == "worker-offline"
    assert ledger_event({"type": "task-received"}) is None  # no id: nothing to say


def test_the_backend_says_how_a_chord_at_risk_ended():
    """A part lost with its pool child: the worker marks it failed (WorkerLostError) and the backend the callback
    (ChordError). The watch reads the metas of chords at risk with its facts: failed, not at risk forever."""
    w = ChordWatch(recorded=True)
    w.facts(facts(0))
    w.feed([part(0, 0), part(1, 0), start("p0", 0.1), start("p1", 0.1), end("p1", 0.2)], now=T0 + 0.3)
    gone = {"w1@shop": {"pid": 100, "pool": [102, 103]}}
    w.facts(facts(1, processes=gone))
    assert states(w.facts(facts(2, processes=gone))) == [("at-risk", "header-part-lost")]
    f = facts(3, processes=gone)
    f.metas = {"cb": {"status": "FAILURE", "result": {"exc_type": "ChordError",
                                                      "exc_message": ["Dependency p0 raised WorkerLostError(...)"]}}}
    [a] = w.facts(f)
    assert (a.state, a.cause) == ("failed", "header-part-failed") and "WorkerLostError" in a.reason
    assert "it had been at-risk: header-part-lost" in a.reason and w.exit_code() == 1
