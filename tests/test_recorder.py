"""The flight recorder (``lab.recorder``) in a deployment the lab did not build: a plain ``Celery(...)`` app that
calls ``install(app)``, plain ``celery -A shop.app worker`` command lines, chords sent by the package's own code.

What the recorder keeps is read back with ``lab.observe.recorder`` (the ledger's own event form): who published
each task to which queue, which worker ran it and how it ended, which chord each part belongs to; never the
arguments or results unless asked; and a store that is down costs the tasks nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import wait_for

from lab.observe.recorder import recorded_events
from lab.recorder import redact
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
    pkg = root / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text(textwrap.dedent(APP))
    (pkg / "send.py").write_text(textwrap.dedent(SEND))
    return root


def env_for(root: Path, broker: str, backend: str, recorder: str, **more: str) -> dict:
    return {**os.environ, "SHOP_BROKER": broker, "SHOP_BACKEND": backend, "SHOP_RECORDER": recorder,
            "PYTHONPATH": os.pathsep.join([str(root), str(PROJECT_ROOT)]), **more}


def start_worker(owner: ProcessOwner, root: Path, env: dict, name: str = "w1", *args: str):
    node = owner.spawn(name, [sys.executable, "-m", "celery", "-A", "shop.app", "worker", "-l", "INFO", "-c", "2",
                              "--without-mingle", "--without-gossip", "-n", f"{name}@shop", *args], env=env, cwd=root)
    node.wait_for_log(r"\bready\.", 30)
    return node


def send(root: Path, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-m", "shop.send"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_redact_keeps_no_arguments_or_results_unless_asked():
    row = {"event": "end", "task_id": "t", "args": [1], "kwargs": {"k": 2}, "result": 3, "error": "Boom: x\ntraceback"}
    assert redact(row, False) == {"event": "end", "task_id": "t", "error": "Boom: x"}
    assert redact(row, True)["args"] == [1]


def test_a_chord_in_a_hand_built_deployment_is_recorded_end_to_end(tmp_path):
    root = shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        store = redis.url(3)
        env = env_for(root, redis.url(0), redis.url(1), store, SHOP_SPLIT="1")
        start_worker(owner, root, env, "w1", "-Q", "celery")
        ids = send(root, env)
        # evidence, not a sleep: the callback's publish (by the worker that returned the last part) is recorded
        wait_for(lambda: any(e["event"] == "publish" and e.get("task_id") == ids["callback"]
                             for e in recorded_events(store, ids=[ids["callback"]])["events"]), 30,
                 what=lambda: recorded_events(store, ids=[ids["callback"]])["events"][-3:])
        got = recorded_events(store, ids=[ids["callback"]])
    events = got["events"]
    parts = set(ids["headers"])
    published = {e["task_id"]: e for e in events if e["event"] == "publish"}
    assert parts <= set(published) and all(published[p]["queue"] == "celery" for p in parts)
    assert all(published[p]["chord_callback"] == ids["callback"] and published[p]["group_id"] == ids["group"]
               for p in parts)  # chord membership, from the moment each part is sent
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
