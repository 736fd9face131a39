"""``lab audit``: chord risks predicted from an app's config and worker command lines, with no live system.

Most tests build the app exactly as a scenario's worker does (``lab.runtime.celery_app.build_app`` from an app
spec), with a broker and backend that nothing listens on: audit is static, so nothing is contacted
(``live_backend=False``).  The CLI tests run ``python -m lab audit`` as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import has_traceback

from lab.doctor.audit import AuditError, audit, explain_route, flags, load_app, parse_worker, routed_queue
from lab.runtime.celery_app import app_spec, build_app
from lab.experiments.agreement import audit_argv
from lab.scenario import load

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT_ROOT / "examples" / "origin_app"
NOWHERE = "redis://127.0.0.1:1"  # static analysis: never contacted


def scenario_spec(name: str, worker: int = 0) -> dict:
    s = load(name)
    w = s.workers[worker]
    backend = {"redis": f"{NOWHERE}/1", "database": "db+sqlite:///:memory:", "rpc": "rpc://"}[s.backend]
    return app_spec(broker_url=f"{NOWHERE}/0", result_backend=backend, config={**s.config, **w.config},
                    tasks=list(w.tasks or s.tasks), ledger_dir="", node="audit-test")


def scenario_app(name: str, worker: int = 0):
    """The Celery app a scenario's worker runs, built from its app spec (in this process)."""
    return load(name), build_app(scenario_spec(name, worker))


@dataclass
class F:
    id: str
    severity: str
    summary: str
    evidence: list
    fix: str
    subject: str | None
    cause: str | None = None

    def to_dict(self):
        return self.__dict__


def audit_scenario(name: str, tmp_path: Path) -> list[F]:
    """`python -m lab audit` on a scenario's worker app, with the worker command lines and chord tasks a user
    of that topology would declare (`lab.experiments.agreement.audit_argv`).  A separate process: shared tasks imported by
    other tests must not leak into the app."""
    spec = tmp_path / f"app-{name}.json"
    spec.write_text(json.dumps(scenario_spec(name)))
    done = run_audit("--app", "lab.worker_app:app", "--json", "--offline", *audit_argv(load(name)),
                     env={"LAB_APP": str(spec)})
    assert done.returncode in (0, 1), done.stderr
    return [F(**f) for f in json.loads(done.stdout.strip().splitlines()[-1])["findings"]]


def ids(findings, at_least: str = "warning") -> set[str]:
    order = {"info": 0, "warning": 1, "error": 2}
    return {f.id for f in findings if order[f.severity] >= order[at_least]}


# -- worker command lines and routes -----------------------------------------------------------


def test_worker_without_q_consumes_the_default_queue_and_q_replaces_it():
    """A worker with no -Q consumes task_default_queue only; -Q lists, -X removes (Celery's own parser)."""
    _, app = scenario_app("route-glob-mismatch")
    assert parse_worker(app, "").queues == ["celery"]
    assert parse_worker(app, "-Q execution,celery -c 4").queues == ["celery", "execution"]
    assert parse_worker(app, "celery worker --queues=a,b --loglevel=DEBUG").queues == ["a", "b"]
    assert parse_worker(app, "-Q a,b -X b").queues == ["a"]


def test_bad_worker_line_is_one_sentence():
    _, app = scenario_app("healthy")
    with pytest.raises(AuditError, match="not a valid command line"):
        parse_worker(app, '-Q "unclosed')


def test_route_explanation_names_the_glob_that_matched():
    """The origin case: the glob sends the callback to 'execution'; the explicitly named header falls outside it."""
    _, app = scenario_app("route-glob-mismatch")
    cb = "lab.apps.origin.tasks.execution.results.collect_results"
    head = "lab.apps.origin.tasks.execute_single_test"
    assert routed_queue(app, cb) == "execution"
    assert routed_queue(app, head) == "celery"
    assert "'lab.apps.origin.tasks.execution.*' matches" in explain_route(app, cb)
    assert "no task_routes entry matches" in explain_route(app, head)


# -- findings per scenario -------------------------------------------------------------------------


@pytest.mark.parametrize("name,finding", [
    ("route-glob-mismatch", "route-unconsumed"),
    ("split-queues", "route-unconsumed"),
    ("short-result-expiry", "chord-expiry-short"),
    ("ignore-result-database", "header-ignores-result"),
    ("chord-unlock-unconsumed", "route-unconsumed"),
    ("rpc-backend", "rpc-backend"),
])
def test_audit_flags_the_stuck_scenarios_whose_cause_is_in_the_config(name, finding, tmp_path):
    """Each scenario's configuration, audited statically, gets the finding that predicts its stuck chord."""
    try:
        load(name)
    except Exception as e:  # a scenario another issue has not added yet
        pytest.skip(f"scenario {name} not available: {e}")
    found = audit_scenario(name, tmp_path)
    assert finding in ids(found, "error"), [f.to_dict() for f in found]


@pytest.mark.parametrize("name", ["healthy", "route-glob-mismatch-fixed", "split-queues-fixed", "short-result-expiry-fixed"])
def test_audit_does_not_flag_the_control_or_the_fixes(name, tmp_path):
    """The control and the fixes have no finding at warning or above."""
    found = audit_scenario(name, tmp_path)
    assert not flags(found), [f.to_dict() for f in found]


def test_route_finding_carries_evidence_and_a_fix(tmp_path):
    f = next(f for f in audit_scenario("route-glob-mismatch", tmp_path) if f.id == "route-unconsumed")
    assert f.severity == "error"
    assert f.subject == "lab.apps.origin.tasks.execution.results.collect_results"
    assert any("'lab.apps.origin.tasks.execution.*'" in e for e in f.evidence)
    assert "-Q execution,celery" in f.fix and "'celery'" in f.fix


def test_declared_duration_decides_expiry_severity():
    """result_chord_expires shorter than a declared duration is an error; longer is no finding at all."""
    _, app = scenario_app("short-result-expiry-fixed")  # 60 s
    w = [parse_worker(app, "-Q celery,execution,reports")]
    assert "chord-expiry-short" in ids(audit(app, w, duration=120, live_backend=False), "error")
    assert "chord-expiry-short" not in ids(audit(app, w, duration=2, live_backend=False), "info")


def test_visibility_timeout_shorter_than_a_countdown():
    """Redis broker: a countdown beyond visibility_timeout means redelivery (duplicate parts)."""
    _, app = scenario_app("healthy")
    app.conf.broker_transport_options = {"visibility_timeout": 5}
    found = audit(app, [parse_worker(app, "-Q execution,reports")], countdown=30, live_backend=False)
    assert "visibility-timeout" in ids(found, "error")


def test_audit_argv_matches_what_a_user_would_declare():
    s = load("split-queues")
    assert audit_argv(s) == ["--worker", "-Q execution", "--callback", "lab.collect", "--header", "lab.part",
                             "--duration", "0.05"]


# -- the command --------------------------------------------------------------------------------


def run_audit(*args: str, cwd: Path = PROJECT_ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", "audit", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})})


def test_cli_on_the_example_project_fails_ci_until_the_worker_consumes_execution():
    """A user's own project (examples/origin_app): exit 1 with `--worker ""`, 0 with `-Q execution,celery`."""
    env = {"ORIGIN_BROKER_URL": f"{NOWHERE}/0", "ORIGIN_RESULT_BACKEND": f"{NOWHERE}/1"}
    bad = run_audit("--app", "myproject.worker:app", "--worker", "", "--offline", cwd=EXAMPLE, env=env)
    assert bad.returncode == 1, bad.stderr
    assert "route-unconsumed" in bad.stdout and "collect_results" in bad.stdout and "-Q execution,celery" in bad.stdout
    good = run_audit("--app", "myproject.worker:app", "--worker", "-Q execution,celery", "--offline", "--json",
                     cwd=EXAMPLE, env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    report = json.loads(good.stdout.strip().splitlines()[-1])
    assert not [f for f in report["findings"] if f["severity"] == "error"]


def test_cli_bad_app_is_one_sentence_and_exit_254():
    done = run_audit("--app", "no_such_module.worker:app", "--worker", "")
    assert done.returncode == 254
    assert not has_traceback(done.stderr)
    assert done.stderr.strip().startswith("lab: cannot import the app 'no_such_module.worker:app'")
    assert len(done.stderr.strip().splitlines()) <= 2


def test_unknown_callback_name_is_one_sentence():
    _, app = scenario_app("healthy")
    with pytest.raises(AuditError, match="is not registered"):
        audit(app, [], callbacks=["lab.nope"], live_backend=False)


def test_load_app_imports_tasks_as_a_worker_does(monkeypatch):
    """`--app` resolves like `celery -A` and imports the `include` modules, so every task is registered."""
    monkeypatch.chdir(EXAMPLE)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setenv("ORIGIN_BROKER_URL", f"{NOWHERE}/0")
    app = load_app("myproject.worker:app")
    assert "myproject.tasks.execution.results.collect_results" in app.tasks
    assert "myproject.tasks.execute_single_test" in app.tasks


# -- a hand-built split deploy: a plain Celery(...) project written by the test ------------------------------------
#
# One task module, two apps that include it with different config, as a split deploy has: the producer's
# (shop.producer:app) routes only the header, the reports workers' own (shop.reports:app) also routes the callback
# to 'reports', its default queue.  The callback is published by the worker that finishes the last part, with that
# worker's own app, so which -A a worker line names decides where the callback goes.

SHOP_TASKS = '''
from celery import shared_task


@shared_task
def part(i):
    return i


@shared_task
def collect(results):
    return sum(results)
'''

SHOP_PRODUCER = '''
import os

from celery import Celery

app = Celery("shop", broker=os.environ.get("SHOP_BROKER", "redis://127.0.0.1:6379/0"),
             backend=os.environ.get("SHOP_BACKEND", "redis://127.0.0.1:6379/1"), include=["shop.tasks"])
app.conf.task_routes = {"shop.tasks.part": {"queue": "parts"}}
if os.environ.get("SHOP_CHORD_EXPIRES"):
    app.conf.result_chord_expires = float(os.environ["SHOP_CHORD_EXPIRES"])
'''

SHOP_REPORTS = '''
import os

from celery import Celery

app = Celery("shop", broker=os.environ.get("SHOP_BROKER", "redis://127.0.0.1:6379/0"),
             backend=os.environ.get("SHOP_BACKEND", "redis://127.0.0.1:6379/1"), include=["shop.tasks"])
app.conf.task_routes = {"shop.tasks.part": {"queue": "parts"}, "shop.tasks.collect": {"queue": "reports"}}
app.conf.task_default_queue = "reports"
'''

SHOP_CANVAS = '''
from celery import chord

from shop.tasks import collect, part


def nightly():
    return chord([part.s(i) for i in range(3)], collect.s().set(queue="nowhere"))


def nightly_fixed():
    return chord([part.s(i) for i in range(3)], collect.s())
'''

SHOP_ENV = {"SHOP_BROKER": f"{NOWHERE}/0", "SHOP_BACKEND": f"{NOWHERE}/1"}
SHOP_CHORD = ("--header", "shop.tasks.part", "--callback", "shop.tasks.collect")


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    import textwrap

    pkg = tmp_path / "shop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in {"tasks": SHOP_TASKS, "producer": SHOP_PRODUCER, "reports": SHOP_REPORTS,
                       "canvas": SHOP_CANVAS}.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(text))
    return tmp_path


def audit_shop(root: Path, *args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict | None]:
    """`python -m lab audit --app shop.producer:app --offline --json ...` run from the project's directory."""
    done = run_audit("--app", "shop.producer:app", "--offline", "--json", *args, cwd=root, env={**SHOP_ENV, **(env or {})})
    assert not has_traceback(done.stderr), done.stderr
    lines = done.stdout.strip().splitlines()
    return done, (json.loads(lines[-1]) if lines else None)


def unconsumed(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["id"] == "route-unconsumed"]


@pytest.mark.parametrize("workers,queue,consumes", [
    # the same -Q as the next case, but the parts' worker runs the reports app: it publishes the callback to 'reports'
    (["-A shop.reports:app worker -Q parts", "-Q celery"], "reports", ["parts", "celery"]),
    # its own -A absent, the worker runs the producer's app, which sends the callback to the default queue 'celery'
    (["-Q parts", "-Q celery"], None, ["parts", "celery"]),
    (["-A shop.reports:app worker -Q parts", "celery -A shop.reports:app worker -Q reports"], None, ["parts", "reports"]),
    # no -Q: the default queue of the line's own app ('reports'), not the producer's ('celery')
    (["-A shop.reports:app worker -Q parts", "-A shop.reports:app worker"], None, ["parts", "reports"]),
    (["-A shop.reports:app worker -Q parts", ""], "reports", ["parts", "celery"]),
])
def test_split_deploy_each_worker_line_routes_with_its_own_app(shop, workers, queue, consumes):
    """Each --worker line's own -A decides its default queues and where the callback it publishes goes."""
    args = [a for w in workers for a in ("--worker", w)]
    done, report = audit_shop(shop, *args, *SHOP_CHORD)
    assert [w["queues"] for w in report["workers"]] == [[q] for q in consumes]
    assert [w["app"] for w in report["workers"]] == [("shop.reports:app" if "-A shop.reports:app" in w else None)
                                                     for w in workers]
    found = unconsumed(report)
    if queue is None:
        assert done.returncode == 0, report
        assert not report["findings"], report
        return
    assert done.returncode == 1, report
    assert len(found) == 1, report
    f = found[0]
    assert (f["severity"], f["subject"], f["cause"]) == ("error", "shop.tasks.collect", "callback-queue-unconsumed")
    assert f"queue {queue!r}" in f["summary"]
    assert any("(its app shop.reports:app)" in e and "'shop.tasks.collect'" in e for e in f["evidence"]), f
    assert "the route that decides is in the app of worker `-A shop.reports:app worker -Q parts`" in f["fix"]


def test_canvas_set_queue_on_the_callback_is_reported_with_the_judge_cause(shop):
    """--canvas: the signature's own .set(queue=...) on the callback is what is routed, and nobody consumes it."""
    done, report = audit_shop(shop, "--worker", "-Q parts,celery,reports", "--canvas", "shop.canvas:nightly")
    assert done.returncode == 1, report
    assert report["canvas"] == "shop.canvas:nightly"
    [f] = unconsumed(report)
    assert (f["severity"], f["subject"], f["cause"]) == ("error", "shop.tasks.collect", "callback-queue-unconsumed")
    assert "queue 'nowhere'" in f["summary"]
    assert any(".set(queue='nowhere')" in e for e in f["evidence"]), f
    assert "-Q nowhere," in f["fix"]


def test_canvas_without_the_set_queue_is_clean(shop):
    done, report = audit_shop(shop, "--worker", "-Q parts,celery", "--canvas", "shop.canvas:nightly_fixed")
    assert done.returncode == 0, report
    assert not report["findings"], report


@pytest.mark.parametrize("workers,fix", [
    (["-Q parts", "-X celery"], "drop `-X celery` from worker `-X celery`"),
    (["-Q parts,celery -X celery"], "drop `-X celery` from worker `-Q parts,celery -X celery`"),
    (["-Q parts,celery,reports -X celery,reports"], "drop 'celery' from the -X of worker `-Q parts,celery,reports -X celery,reports`"),
])
def test_x_that_takes_the_callbacks_queue_away_is_fixed_by_dropping_x(shop, workers, fix):
    """The callback goes to 'celery', which a worker would consume but for its -X: the fix gives it back."""
    args = [a for w in workers for a in ("--worker", w)]
    done, report = audit_shop(shop, *args, *SHOP_CHORD)
    assert done.returncode == 1, report
    [f] = unconsumed(report)
    assert (f["subject"], f["cause"]) == ("shop.tasks.collect", "callback-queue-unconsumed")
    assert "queue 'celery'" in f["summary"]
    assert f["fix"].startswith(fix), f["fix"]
    assert "start a worker" not in f["fix"]
    assert any("takes it away" in e for e in f["evidence"]), f
    idle = [g for g in report["findings"] if g["id"] == "worker-consumes-nothing"]
    if workers == ["-Q parts", "-X celery"]:
        assert [(g["severity"], g["fix"]) for g in idle] == [("warning", "drop `-X celery` from it")]
    else:
        assert not idle


@pytest.mark.parametrize("args,severity,code", [
    (["--duration", "10s"], "error", 1),  # declared longer than result_chord_expires=2: an error, exit 1
    ([], "warning", 0),  # nothing declared: short expiry is only suspicious
    (["--fail-on", "warning"], "warning", 1),
    (["--duration", "1500ms"], None, 0),  # declared, and shorter than the expiry: nothing to say
])
def test_declared_duration_against_result_chord_expires(shop, args, severity, code):
    done, report = audit_shop(shop, "--worker", "-Q parts,celery", *SHOP_CHORD, *args, env={"SHOP_CHORD_EXPIRES": "2"})
    assert done.returncode == code, report
    expiry = [f for f in report["findings"] if f["id"] == "chord-expiry-short"]
    if severity is None:
        assert not expiry, report
        return
    [f] = expiry
    assert (f["severity"], f["subject"], f["cause"]) == (severity, "result_chord_expires", "chord-size-key-missing")
    assert "after 2 s" in f["summary"]
    if severity == "error":
        assert "(--duration)" in f["summary"]
    else:
        assert "--duration" in f["fix"]


@pytest.mark.parametrize("args,sentence", [
    (["--worker", "-A shop.nope:app worker -Q reports"], "lab: cannot import the app 'shop.nope:app'"),
    (["--worker", "-Q celery", "--duration", "ten"], "lab: --duration 'ten' is not a duration"),
    (["--worker", "-Q celery", "--countdown", "5 minutes"], "lab: --countdown '5 minutes' is not a duration"),
    (["--canvas", "shop.canvas:nope"], "lab: --canvas 'shop.canvas:nope' cannot be imported"),
    (["--canvas", "shop.canvas:nightly", "--callback", "shop.tasks.collect"], "lab: --canvas gives the chords' tasks"),
])
def test_bad_input_is_one_sentence_and_exit_254(shop, args, sentence):
    done, report = audit_shop(shop, *args)
    assert done.returncode == 254, done.stdout + done.stderr
    assert report is None, done.stdout
    assert done.stderr.strip().startswith(sentence), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_unknown_app_on_a_worker_line_names_the_worker_line():
    _, app = scenario_app("healthy")
    with pytest.raises(AuditError) as e:
        parse_worker(app, "-A no_such_module_for_audit.worker:app worker -Q reports")
    assert "--worker '-A no_such_module_for_audit" in str(e.value) and "give --app" not in str(e.value)


# -- parse_duration (pure) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [
    ("30", 30.0), (30, 30.0), (2.5, 2.5), ("30s", 30.0), ("1.5m", 90.0), ("5min", 300.0), ("250ms", 0.25),
    ("2h", 7200.0), ("1d", 86400.0), (" 10s ", 10.0), ("10 s", 10.0), (".5s", 0.5), ("3.", 3.0), ("0", 0.0),
])
def test_parse_duration_reads_seconds_and_units(text, expected):
    from lab.observe.config import parse_duration

    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "ten", "-5s", "5x", "10 seconds", "1e3", "5 m s", "1,5s", "s", None])
def test_parse_duration_refuses_anything_else_in_one_sentence(text):
    from lab.observe.config import parse_duration

    with pytest.raises(AuditError, match=r"^--countdown .* is not a duration; give seconds or a number with a unit"):
        parse_duration(text, "--countdown")
