"""The pytest plugin, as a user meets it: a small project made here (a plain ``Celery(...)`` app, plain
``celery -A ... worker`` lines, two lines of pytest.ini), run by pytest in a subprocess (``pytester``).

One test passes, one fails on a split queue (the failure output is checked: verdict, cause, proof, fix, not a
timeout), and the same chord passes under the marker's production worker lines.  Real redis-server, real
workers; nothing mocked."""

from __future__ import annotations

import textwrap

import pytest

from lab.runtime.process.redis_server import find_redis_server
from lab.testing.chords import ChordVerdict, _db_of

pytest_plugins = ["pytester"]

APP = '''
from celery import Celery

app = Celery("shop")
app.conf.task_routes = {"shop.worker.bill": {"queue": "billing"}}


@app.task
def add(x, y):
    return x + y


@app.task
def total(parts):
    return sum(parts)


@app.task
def bill(parts):
    return {"billed": sum(parts)}
'''

INI = '''
[pytest]
lab_app = shop.worker:app
lab_workers = celery -A shop.worker:app worker -Q celery -c 2
'''

TESTS = '''
import pytest
from celery import chord

from shop.worker import add, bill, total


def test_the_report_chord_completes(assert_chord_completes):
    v = assert_chord_completes(chord([add.s(1, 2), add.s(3, 4)], total.s()))
    assert v.verdict == "completed"


def test_the_billing_chord_completes(assert_chord_completes):
    assert_chord_completes(chord([add.s(1, 2), add.s(3, 4)], bill.s()))


def test_the_stuck_callback_was_cleared_before_the_next_test(chord_lab, lab_verdict):
    assert chord_lab.topo.redis.client(0).llen("billing") == 0  # the parked callback of the test before
    v = lab_verdict(chord([add.s(2, 2)], total.s()))
    assert v.completed, v.explain()


@pytest.mark.lab_workers("celery -A shop.worker:app worker -Q celery,billing")
def test_the_billing_chord_completes_under_the_production_worker_lines(assert_chord_completes, lab_verdict):
    assert_chord_completes(chord([add.s(5, 6)], bill.s()))
    v = lab_verdict(chord([add.s(1, 1)], total.s()))
    assert v.completed and v.cause is None
'''


def test_a_verdict_explains_itself_as_lab_run_does():
    v = ChordVerdict("cb-1", "stuck", "callback-queue-unconsumed", "the callback waits in 'billing'",
                     ["broker: queue 'billing' holds 1 message(s)"], "the callback message waits in a queue that no "
                     "worker consumes", "start a worker with `-Q billing,celery`", "shop.worker:app with ...")
    text = v.explain()
    assert text.splitlines()[0] == "stuck · callback-queue-unconsumed  chord cb-1"
    assert "   • broker: queue 'billing' holds 1 message(s)" in text and "  fix: start a worker" in text


def test_the_backend_database_is_read_from_its_url():
    assert _db_of("redis://127.0.0.1:6390/1") == 1 and _db_of("redis://h:1") == 0
    assert _db_of("db+postgresql://x/y") is None


try:
    find_redis_server()
    NO_REDIS = ""
except Exception as e:  # noqa: BLE001 - no redis-server on this machine
    NO_REDIS = f"needs redis-server: {e}"


@pytest.mark.skipif(bool(NO_REDIS), reason=NO_REDIS or "-")
def test_a_users_suite_passes_and_fails_with_the_labs_proof(pytester: pytest.Pytester, tmp_path):
    pkg = pytester.mkpydir("shop")
    (pkg / "worker.py").write_text(textwrap.dedent(APP))
    pytester.makeini(INI)
    pytester.makepyfile(test_chords=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", "-p", "no:randomly", timeout=240)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*test_the_billing_chord_completes FAILED*",
        "*the chord did not complete: stuck · callback-queue-unconsumed*",
        "*mechanism: the callback message waits in a queue that no worker consumes*",
        "*queue 'billing'*",
        "*fix: start a worker with `-Q billing,celery`*",
    ])
    out = result.stdout.str()
    assert "TimeoutError" not in out and "Traceback" not in out.split("short test summary")[0].split("FAILURES")[-1]
