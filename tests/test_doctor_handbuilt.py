"""``lab doctor`` against deployments the lab did not build: a plain ``Celery(...)`` app in a small package
written by the test, plain ``celery -A shop.app worker`` command lines, and chords sent by the package's own code.

Nothing of the lab runs in the deployment (no lab app spec, no ledger): doctor sees what a user's production
shows.  Every process is owned (``ProcessOwner``); waits are on evidence (a key, a queue depth), bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import handbuilt
from conftest import has_traceback, wait_for
from handbuilt import run_json

from lab.runtime.process import services as brokers
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent

APP = '''
import os
import time

from celery import Celery

app = Celery("shop", broker=os.environ["SHOP_BROKER"], backend=os.environ["SHOP_BACKEND"])
if os.environ.get("SHOP_SPLIT"):
    app.conf.task_routes = {"shop.app.summarize": {"queue": "summary"}}


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

parts, seconds = int(sys.argv[1]), float(sys.argv[2])
r = chord(crunch.s(i, seconds) for i in range(parts))(summarize.s())
print(json.dumps({"callback": r.id, "group": r.parent.id, "headers": [c.id for c in r.parent.results]}))
'''


def write_shop(root: Path) -> Path:
    return handbuilt.write_shop(root, APP, SEND)


def worker(owner: ProcessOwner, root: Path, env: dict, name: str, *args: str):
    return handbuilt.start_worker(owner, root, env, name, *args)


def send(root: Path, env: dict, parts: int, seconds: float) -> dict:
    done, ids = run_json(root, env, [sys.executable, "-m", "shop.send", str(parts), str(seconds)], timeout=60)
    assert done.returncode == 0, done.stderr
    return ids


def doctor(root: Path, env: dict, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done, report = run_json(root, env, [sys.executable, "-m", "lab", "doctor", "--app", "shop.app:app", "--json", *args])
    assert not has_traceback(done.stderr), done.stderr
    assert done.returncode in (0, 1, 2), done.stderr
    return done, report


def shop_env(root: Path, broker: str, backend: str, **more: str) -> dict:
    return handbuilt.shop_env(root, SHOP_BROKER=broker, SHOP_BACKEND=backend, **more)


@pytest.mark.slow
def test_a_long_header_still_running_is_running_by_every_id(tmp_path):
    """Header parts of 20 s on 2 workers' worth of concurrency, task_track_started off (Celery's default):
    asked mid-way, with 2 parts returned and the rest running or reserved, doctor says running by group, header,
    callback and no id.  6 parts, so the header is still running 40 s after the first two return, however slow
    the machine is while doctor is asked five times."""
    root = write_shop(tmp_path / "proj")
    with ProcessOwner(tmp_path / "own") as owner:
        redis = start_redis(owner, tmp_path / "own", {})
        env = shop_env(root, redis.url(0), redis.url(1))
        for name in ("w1", "w2"):
            worker(owner, root, env, name, "-c", "1")
        ids = send(root, env, 6, 20.0)
        backend = redis.client(1)
        # evidence: two parts have returned (their metas exist), so the other two are running now
        wait_for(lambda: sum(backend.exists(f"celery-task-meta-{h}") for h in ids["headers"]) >= 2, 60,
                 what=lambda: f"{sum(backend.exists(f'celery-task-meta-{h}') for h in ids['headers'])} of 6 part metas")
        assert not backend.exists(f"celery-task-meta-{ids['callback']}")
        returned = [h for h in ids["headers"] if backend.exists(f"celery-task-meta-{h}")]
        running = [h for h in ids["headers"] if h not in returned]
        asked = {"group": ["--group", ids["group"]], "returned header": ["--chord", returned[0]],
                 "running header": ["--chord", running[0]], "callback": ["--chord", ids["callback"]]}
        for how, args in asked.items():
            done, report = doctor(root, env, *args)
            d = report["chords"][0]
            assert d["verdict"] == "running", (how, d)
            assert done.returncode == 0, (how, d)
        done, report = doctor(root, env, "--save")
        assert done.returncode == 0, report
        assert all(c["verdict"] != "stuck" for c in report["overview"]["chords"]), report["overview"]["chords"]
        assert not backend.exists(f"celery-task-meta-{ids['callback']}"), "asked mid-way: the header had not finished"
    # the saved diagnosis is judged again from what was read, with every process gone
    shown = subprocess.run([sys.executable, "-m", "lab", "show", report["saved"], "--json"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    again = json.loads(shown.stdout.strip().splitlines()[-1])
    assert again["kind"] == "doctor" and again["same_as_stored"] is True, again
    assert [c["verdict"] for c in again["chords"]] == [c["verdict"] for c in report["overview"]["chords"]]


@pytest.mark.slow
def test_rabbitmq_split_queue_by_callback_id_is_stuck_with_a_fix(tmp_path):
    """RabbitMQ broker, Redis backend (the common production setup): the callback is routed to 'summary', no
    worker consumes it.  By callback id, by group id and with no id, doctor proves callback-queue-unconsumed from
    the broker's counts (passive declare), and gives the fix; the message is not consumed."""
    why = brokers.rabbitmq_unavailable()
    if why:
        pytest.skip(why)
    root = write_shop(tmp_path / "proj")
    vhost_name = f"shop-{os.getpid()}-{int(time.time() * 1000) % 10**8}"
    with ProcessOwner(tmp_path / "own") as owner:
        url, vhost = brokers.rabbitmq_vhost(vhost_name)
        try:
            redis = start_redis(owner, tmp_path / "own", {})
            env = shop_env(root, url, redis.url(1), SHOP_SPLIT="1")
            worker(owner, root, env, "w1", "-c", "2", "-Q", "celery")
            ids = send(root, env, 2, 0.0)
            from kombu import Connection

            with Connection(url) as conn:  # evidence: the callback reached queue 'summary'
                def depth() -> int:
                    try:
                        return conn.default_channel.queue_declare("summary", passive=True)[1]
                    except Exception:
                        conn.close()
                        return 0
                wait_for(lambda: depth() >= 1, 30, what=lambda: f"queue 'summary' holds {depth()}")
            for args in (["--chord", ids["callback"]], ["--group", ids["group"]]):
                done, report = doctor(root, env, *args)
                d = report["chords"][0]
                assert (d["verdict"], d["cause"]) == ("stuck", "callback-queue-unconsumed"), d
                assert done.returncode == 1
                assert "-Q summary" in (d["fix"] or ""), d
                assert "not read" in d["summary"] or any("not read" in e for e in d["evidence"]), d
            done, report = doctor(root, env)
            assert done.returncode == 1, report
            assert [(c["verdict"], c["cause"]) for c in report["overview"]["chords"]] == [("stuck", "callback-queue-unconsumed")]
            with Connection(url) as conn:
                assert conn.default_channel.queue_declare("summary", passive=True)[1] == 1  # counted, never consumed
        finally:
            brokers.drop_rabbitmq_vhost(vhost)
