"""``lab doctor`` checked against the lab: a scenario is brought up and LEFT UP in its final state, and doctor
runs against it as a user would, in a separate process given only the app and one id.

The user's app for a scenario topology is the worker's own app spec (``LAB_APP=runs/<id>/app-<worker>.json``,
``--app lab.worker_app:app``); ``examples/origin_app`` is a plain user project.  Integration tests run real
redis-server and real workers (``lab.experiments.live.keep_up``, every process owned); pure tests check doctor's
decoding of what Celery 5.7 stores, on values copied from real runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import has_traceback

from lab.judge.live import exit_code
from lab.observe.backend import header_ids_from_keys as _header_ids_from_keys
from lab.observe.broker import decode_message, unlock_callback_id, unlock_header_ids
from lab.observe.live import _unregistered_name
from lab.experiments.live import keep_up
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis
from lab.scenario import load

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT_ROOT / "examples" / "origin_app"
SCREEN_LINES = 30  # "one screen"


@pytest.fixture(autouse=True)
def own_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))


def doctor(live, *args: str, cwd: Path = PROJECT_ROOT, env: dict | None = None, columns: int = 100):
    """`python -m lab doctor` in its own process, against the live topology; returns (process, seconds)."""
    t0 = time.time()
    done = subprocess.run([sys.executable, "-m", "lab", "doctor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": str(columns),
                                            **(live.doctor_env() if live else {}), **(env or {})})
    return done, time.time() - t0


def doctor_json(live, *args: str) -> dict:
    done, _ = doctor(live, "--app", "lab.worker_app:app", "--json", *args)
    assert done.returncode in (0, 1, 2), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def only(report: dict) -> dict:
    assert len(report["chords"]) == 1, report
    return report["chords"][0]


# -- the headline: the origin case ---------------------------------------------------------------


@pytest.mark.slow
def test_route_glob_mismatch_cause_and_fix_on_one_screen():
    """Mechanism 1b (the origin): given only the callback id, doctor names the lab's cause, the queue, the
    consumers and the fix, in one screen, exits 1, and reads without consuming (the callback stays queued)."""
    with keep_up(load("route-glob-mismatch")) as live:
        lab = live.verdicts[0]
        assert (lab.verdict, lab.cause) == ("stuck", "callback-queue-unconsumed")
        cid = live.sent[0]["chord_id"]
        broker = live.topology.redis.client(0)
        before = broker.llen("execution")
        done, seconds = doctor(live, "--app", "lab.worker_app:app", "--chord", cid)
        assert done.returncode == 1, done.stderr
        text = done.stdout
        assert "STUCK · callback-queue-unconsumed" in text
        assert "callback collect_results is in queue 'execution', which none of 1 worker(s) consumes (they consume: celery)" in text
        assert "fix: start a worker with `-Q execution,celery`, or route it to 'celery'" in text
        assert "task_routes entry 'lab.apps.origin.tasks.execution.*' matches" in text
        assert len(text.splitlines()) <= SCREEN_LINES, text
        assert broker.llen("execution") == before == 1  # peeked, not consumed
        print(f"\n[doctor on route-glob-mismatch: {seconds:.2f} s wall, {len(text.splitlines())} lines]\n{text}")


@pytest.mark.slow
def test_doctor_finds_the_chord_from_its_group_or_a_header_id_and_writes_nothing():
    """Mechanism 1: from the group id or a header part id doctor finds the callback itself; and a read changes
    no key, no queue and no message in the broker or backend (Celery's own pidbox reply queues aside)."""
    with keep_up(load("split-queues")) as live:
        c = live.sent[0]
        state = lambda: _snapshot(live)  # noqa: E731
        before = state()
        for args in (["--group", c["group_id"]], ["--chord", c["header_ids"][0]]):
            d = only(doctor_json(live, *args))
            assert (d["verdict"], d["cause"]) == ("stuck", "callback-queue-unconsumed"), d
            assert d["ids"]["callback_id"] == c["chord_id"]
            assert set(c["header_ids"]) <= set(d["ids"]["header_ids"])
        assert state() == before


def _snapshot(live) -> dict:
    out = {}
    for db in (0, 1):
        client = live.topology.redis.client(db)
        for key in client.keys("*"):
            k = key.decode()
            if "pidbox" in k or k.startswith("_kombu.binding"):
                continue  # inspect's reply queue: Celery's control channel, not the user's data
            t = client.type(key).decode()
            value = {"string": client.get, "list": lambda x: client.lrange(x, 0, -1), "hash": client.hgetall,
                     "set": client.smembers, "zset": lambda x: client.zrange(x, 0, -1)}.get(t, lambda x: None)(key)
            out[(db, k)] = (t, repr(value))
    return out


# -- every stuck scenario: the same cause as the lab ------------------------------------------------


def _variant_short_expiry_results_kept():
    """short-result-expiry with the results kept for an hour: the chord keys still expire after 1 s, so the
    mechanism is the same, but the part metas survive long enough for doctor to read them."""
    s = load("short-result-expiry")
    return dataclasses.replace(s, config={**s.config, "result_expires": 3600})


STUCK_CASES = [
    # (scenario or builder, which id doctor is given, expected (verdict, cause) -- the lab's)
    ("route-glob-mismatch", "callback", None),
    ("split-queues", "callback", None),
    ("chord-unlock-unconsumed", "callback", None),
    ("ignore-result-database", "callback", None),
    ("worker-crash", "group", None),
    (_variant_short_expiry_results_kept, "group", ("stuck", "chord-size-key-missing")),
]


def _load(ref):
    if callable(ref):
        return ref()
    try:
        return load(ref)
    except Exception as e:  # a scenario another issue has not added yet
        pytest.skip(f"scenario {ref} not available: {e}")


@pytest.mark.slow
@pytest.mark.parametrize("ref,by,expected", STUCK_CASES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_doctor_names_the_labs_cause_for_stuck_scenarios(ref, by, expected):
    """Each stuck mechanism: doctor, given one id, gives the lab's own verdict and cause for the stuck chord."""
    s = _load(ref)
    with keep_up(s) as live:
        lab = next(((v, c) for v, c in zip(live.verdicts, live.sent) if v.verdict == "stuck"), None)
        assert lab is not None, [v.to_dict() for v in live.verdicts]
        v, c = lab
        want = expected or (v.verdict, v.cause)
        assert (v.verdict, v.cause) == want
        d = only(doctor_json(live, "--chord", c["chord_id"]) if by == "callback" else doctor_json(live, "--group", c["group_id"]))
        assert (d["verdict"], d["cause"]) == want, d
        assert d["fix"], d


@pytest.mark.slow
def test_short_expiry_as_shipped_leaves_no_evidence_and_doctor_says_so():
    """Mechanism 4 as the scenario ships it (everything expires after 1 s): by the time a user looks, nothing
    is left to prove it, so doctor says "cannot tell" -- and points at the config as the likely cause."""
    with keep_up(load("short-result-expiry")) as live:
        assert (live.verdicts[0].verdict, live.verdicts[0].cause) == ("stuck", "chord-size-key-missing")
        time.sleep(1.2)  # the chord keys' TTL: the evidence is gone, as for any user who looks later
        d = only(doctor_json(live, "--chord", live.sent[0]["chord_id"]))
        assert d["verdict"] == "unknown" and d["likely_cause"] == "chord-size-key-missing", d
        assert d["missing"]


@pytest.mark.slow
@pytest.mark.parametrize("name,by", [("multiple-workers", "callback"), ("header-failure", "group"),
                                     ("wrong-signature", "callback")])
def test_doctor_names_the_labs_verdict_for_failed_chords(name, by):
    """Mechanisms 6 and 9: a failed chord is failed, with the lab's cause, not stuck."""
    s = _load(name)
    with keep_up(s) as live:
        v, c = live.verdicts[0], live.sent[0]
        assert v.verdict == "failed"
        d = only(doctor_json(live, "--chord", c["chord_id"]) if by == "callback" else doctor_json(live, "--group", c["group_id"]))
        assert (d["verdict"], d["cause"]) == (v.verdict, v.cause), d


@pytest.mark.slow
@pytest.mark.parametrize("name", ["healthy", "route-glob-mismatch-fixed", "short-result-expiry-fixed"])
def test_doctor_never_says_stuck_for_a_completed_chord(name):
    """The control and the fixes: every chord the lab saw complete, doctor calls completed (by callback and group id)."""
    with keep_up(load(name)) as live:
        assert all(v.verdict == "completed" for v in live.verdicts)
        report = doctor_json(live, *[a for c in live.sent for a in ("--chord", c["chord_id"])],
                             *[a for c in live.sent for a in ("--group", c["group_id"])])
        assert [d["verdict"] for d in report["chords"]] == ["completed"] * (2 * len(live.sent)), report["chords"]


@pytest.mark.slow
def test_no_id_overview_finds_the_stuck_chord():
    """With no id, doctor looks at the whole deployment: the unconsumed queue, the chord in it, and the risk."""
    with keep_up(load("route-glob-mismatch")) as live:
        report = doctor_json(live)
        view = report["overview"]
        assert any(q["queue"] == "execution" and not q["consumed"] for q in view["queues"])
        assert [(c["verdict"], c["cause"]) for c in view["chords"]] == [("stuck", "callback-queue-unconsumed")]
        assert "route-unconsumed" in {r["id"] for r in view["risks"]}


# -- a user's own project ---------------------------------------------------------------------------


@pytest.mark.slow
def test_example_project_origin_case(tmp_path):
    """Mechanism 1b in a plain user project (examples/origin_app): `celery -A myproject.worker:app worker` with
    no -Q, one chord sent by the project's own code; doctor --app myproject.worker:app proves it."""
    with ProcessOwner(tmp_path) as owner:
        redis = start_redis(owner, tmp_path, {})
        env = {**os.environ, "ORIGIN_BROKER_URL": redis.url(0), "ORIGIN_RESULT_BACKEND": redis.url(1),
               "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(PROJECT_ROOT)])}
        node = owner.spawn("worker", [sys.executable, "-m", "celery", "-A", "myproject.worker:app", "worker",
                                      "-l", "INFO", "-c", "2", "--without-mingle", "--without-gossip", "-n", "w@example"],
                           env=env, cwd=EXAMPLE)
        node.wait_for_log(r"\bready\.", 30)
        sent = subprocess.run([sys.executable, "-m", "myproject.send"], cwd=EXAMPLE, env=env, capture_output=True,
                              text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        ids = json.loads(sent.stdout.strip().splitlines()[-1])
        client = redis.client(0)
        deadline = time.time() + 30
        while client.llen("execution") < 1 and time.time() < deadline:  # evidence: the callback reaches its queue
            time.sleep(0.05)
        assert client.llen("execution") == 1, "the callback never reached queue 'execution'"
        done = subprocess.run([sys.executable, "-m", "lab", "doctor", "--app", "myproject.worker:app",
                               "--chord", ids["chord_id"]], cwd=EXAMPLE, env={**env, "COLUMNS": "100"},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "STUCK · callback-queue-unconsumed" in done.stdout
        assert "start a worker with `-Q execution,celery`" in done.stdout
        assert client.llen("execution") == 1


def test_doctor_bad_app_is_one_sentence():
    done, _ = doctor(None, "--app", "nope.nothing:app", "--chord", "x")
    assert done.returncode == 254 and not has_traceback(done.stderr)
    assert done.stderr.startswith("lab: cannot import the app 'nope.nothing:app'")


# -- pure: what Celery 5.7 really stores, decoded ------------------------------------------------------

# A callback message as kombu stored it in queue 'execution' in a route-glob-mismatch run (body shortened).
CALLBACK_MESSAGE = json.dumps({
    "body": "W1tbODY0XSwgIjFkOTEiXSwge30sIHsiY2FsbGJhY2tzIjogbnVsbCwgImVycmJhY2tzIjogbnVsbCwgImNoYWluIjogbnVsbCwgImNob3JkIjogbnVsbH1d",
    "content-encoding": "utf-8", "content-type": "application/json",
    "headers": {"lang": "py", "task": "lab.apps.origin.tasks.execution.results.collect_results",
                "id": "8de72e93-c6b7-47b2-8b2d-67b1f2e60241", "group": "7bde1985-247c-4b75-85c5-376f14125925",
                "group_index": None, "retries": 0, "root_id": "6c392ad8-56ef-497f-8008-64a7dc9d26fc",
                "parent_id": "6c392ad8-56ef-497f-8008-64a7dc9d26fc"},
    "properties": {"delivery_info": {"exchange": "", "routing_key": "execution"}, "body_encoding": "base64"}})


def test_callback_message_names_its_chords_group_and_last_part():
    """Celery 5.7: the callback's message carries the header's group id and, as parent, the part that returned last."""
    m = decode_message(CALLBACK_MESSAGE)
    assert m["task_id"] == "8de72e93-c6b7-47b2-8b2d-67b1f2e60241"
    assert m["group"] == "7bde1985-247c-4b75-85c5-376f14125925" and m["group_index"] is None
    assert m["parent_id"] == "6c392ad8-56ef-497f-8008-64a7dc9d26fc"
    assert m["args"] == [[864], "1d91"] and m["routing_key"] == "execution"
    unacked = json.dumps([json.loads(CALLBACK_MESSAGE), "", "execution"])  # the unacked hash's shape
    assert decode_message(unacked)["task_id"] == m["task_id"]


def test_chord_keys_give_header_ids_in_header_order():
    """`.d` members are `tid:index`, `.j` members `[1, tid, state, result]` (seen in short-result-expiry runs)."""
    keys = {".d": {"members": ["b3:2", "50:1", "40:0"]},
            ".j": {"members": [[1, "40", "SUCCESS", 864], [1, "50", "SUCCESS", 394], [1, "99", "SUCCESS", 1]]}}
    assert _header_ids_from_keys(keys) == ["40", "50", "b3", "99"]


def test_chord_unlock_message_carries_callback_and_header_ids():
    """Database backend: celery.chord_unlock's args are (group id, callback signature), kwargs.result the parts."""
    m = {"name": "celery.chord_unlock", "args": ["g1", {"task": "lab.collect", "options": {"task_id": "cb1"}}],
         "kwargs": {"result": [[["p1", None], None], [["p2", None], None]]}}
    assert unlock_callback_id(m) == "cb1"
    assert unlock_header_ids(m) == ["p1", "p2"]


def test_notregistered_meta_names_the_task():
    meta = {"status": "FAILURE", "result": {"exc_type": "NotRegistered", "exc_message": ["lab.collect"]}}
    assert _unregistered_name(meta) == "lab.collect"


def test_exit_codes_follow_the_lab():
    assert exit_code(["completed", "running"]) == 0
    assert exit_code(["completed", "unknown"]) == 2
    assert exit_code(["unknown", "stuck"]) == 1
    assert exit_code(["failed"]) == 1
