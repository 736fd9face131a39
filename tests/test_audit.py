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
