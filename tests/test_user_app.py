"""`lab run --app`: a user's own project in the lab, tested against projects the lab did not build.

examples/origin_app is the origin case as a plain Celery project; the others are written here, in tmp_path:
a plain ``Celery(...)`` app (two, for a split deploy), plain ``celery -A … worker`` command lines, and a
canvas function that builds (does not send) the chord.  Real redis-server, real workers; the verdict and
its proof come from the broker, the backend and the ledger.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import lab_env, stored_records

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = ROOT / "examples" / "origin_app"


def lab_run(cwd: Path, store: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, "-m", "lab", "run", *args, "--json"], capture_output=True, text=True,
                          env={**lab_env(store), "COLUMNS": "300"}, cwd=cwd, timeout=120)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    return done, (json.loads(last) if last.startswith("{") else {})


def verdicts_of(store: Path) -> list[dict]:
    (rec,) = stored_records(store)
    return rec["verdicts"]


def test_the_origin_project_run_as_its_worker_started_is_stuck_with_the_route_in_the_proof(tmp_path):
    """examples/origin_app with its worker's own line (no -Q): the callback waits in 'execution'; the proof quotes
    the app's task_routes glob, read from the worker that published the callback."""
    done, out = lab_run(ORIGIN, tmp_path, "--app", "myproject.worker:app", "--worker", "celery -A myproject.worker:app worker",
                        "--canvas", "myproject.jobs:build_test_run", "--stand-ins")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    assert out["outcomes"] == {"stuck": 1} and out["causes"] == ["callback-queue-unconsumed"]
    (v,) = verdicts_of(tmp_path)
    route = next(e for e in v["evidence"] if e.startswith("route ("))
    assert "the config of worker w1, which published it" in route and "'myproject.tasks.execution.*'" in route
    assert "--app myproject.worker:app" in out["replay"] and "--stand-ins" in out["replay"]


def test_the_origin_project_with_the_fixed_worker_line_completes_with_the_stand_ins_oracle(tmp_path):
    """-Q celery,execution: completed, and with stand-ins the callback got exactly the header's ids in order."""
    done, out = lab_run(ORIGIN, tmp_path, "--app", "myproject.worker:app", "--worker",
                        "celery -A myproject.worker:app worker -Q celery,execution -c 4 -l info",
                        "--canvas", "myproject.jobs:build_test_run", "--stand-ins")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert out["outcomes"] == {"completed": 1}
    assert "dropped -l info" in done.stdout
    (rec,) = stored_records(tmp_path)
    (chord,) = rec["observations"]["chords"]
    assert chord["expected"] == chord["header_ids"] and len(chord["header_ids"]) == 10


SHOP = {
    "shop/__init__.py": "",
    "shop/web.py": """
        from celery import Celery

        app = Celery("shop", include=["shop.tasks"])
        """,
    "shop/reports.py": """
        from celery import Celery

        app = Celery("shop", include=["shop.tasks"])
        app.conf.task_routes = {"shop.tasks.summarize": {"queue": "summary"}}
        """,
    "shop/tasks.py": """
        import psycopg2_is_not_installed_here  # noqa: F401  (the real tasks need the shop's database)
        """,
    "shop/jobs.py": """
        from celery import chord, group, signature


        def nightly(app):
            parts = group(signature("shop.tasks.render", args=(i,), app=app) for i in range(3))
            return chord(parts, signature("shop.tasks.summarize", args=("nightly",), app=app).set(queue="reports"))


        def nightly_routed(app):
            parts = group(signature("shop.tasks.render", args=(i,), app=app) for i in range(3))
            return chord(parts, signature("shop.tasks.summarize", args=("nightly",), app=app))


        def not_a_chord(app):
            return signature("shop.tasks.render", args=(1,), app=app)
        """,
}
TASKS = """
    from celery import shared_task


    @shared_task(name="shop.tasks.render")
    def render(page):
        raise RuntimeError("the real body needs the shop's database")


    @shared_task(name="shop.tasks.summarize")
    def summarize(results, label):
        raise RuntimeError("the real body needs the shop's database")
    """


def write_shop(root: Path) -> Path:
    for rel, text in SHOP.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    (root / "shop/tasks.py").write_text(textwrap.dedent(TASKS))
    return root


def test_a_signature_queue_is_the_route_and_stand_ins_replace_bodies_that_need_a_database(tmp_path):
    """.set(queue='reports') on the callback decides its route (source: the signature); the real bodies would
    raise, the stand-ins of the same signature return their ids, and nothing consumes 'reports': stuck."""
    proj = write_shop(tmp_path / "proj")
    done, out = lab_run(proj, tmp_path / "store", "--app", "shop.web:app", "--worker", "celery -A shop.web:app worker -Q celery",
                        "--canvas", "shop.jobs:nightly", "--stand-ins")
    assert out.get("outcomes") == {"stuck": 1}, done.stdout[-3000:] + done.stderr
    (v,) = verdicts_of(tmp_path / "store")
    assert v["cause"] == "callback-queue-unconsumed"
    assert any(e.startswith("route (the signature") and ".set(queue='reports')" in e for e in v["evidence"]), v["evidence"]


def test_a_split_deploy_routes_the_callback_with_the_publishing_workers_own_app(tmp_path):
    """Two apps: the producer's (shop.web) has no routes; the worker runs `-A shop.reports:app`, whose routes send
    the callback to 'summary'. The callback is published by that worker, so its app's route decides: stuck."""
    proj = write_shop(tmp_path / "proj")
    done, out = lab_run(proj, tmp_path / "store", "--app", "shop.web:app",
                        "--worker", "celery -A shop.reports:app worker -Q celery",
                        "--canvas", "shop.jobs:nightly_routed", "--stand-ins")
    assert out.get("outcomes") == {"stuck": 1}, done.stdout[-3000:] + done.stderr
    (v,) = verdicts_of(tmp_path / "store")
    route = next(e for e in v["evidence"] if e.startswith("route ("))
    assert "the config of worker w1, which published it" in route and "'summary'" in route


@pytest.mark.parametrize("args, words", [
    (["--canvas", "shop.jobs:not_a_chord"], "returned a Signature"),
    (["--canvas", "shop.jobs:missing"], "cannot import the canvas function"),
    (["--canvas", "shop.jobs:nightly", "--worker", "celery worker -Q celery"], None),
])
def test_bad_user_input_is_one_sentence(tmp_path, args, words):
    proj = write_shop(tmp_path / "proj")
    if words is None:  # a worker line with no -A takes --app's: it runs
        done, out = lab_run(proj, tmp_path / "store", "--app", "shop.web:app", *args, "--stand-ins")
        assert out.get("outcomes") == {"stuck": 1}, done.stdout[-2000:] + done.stderr
        return
    done, _ = lab_run(proj, tmp_path / "store", "--app", "shop.web:app", *args, "--stand-ins")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 254 and len(lines) == 1 and words in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
