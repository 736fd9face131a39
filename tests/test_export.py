"""``lab export``: a finding or a scenario as plain Celery, run with a real redis-server and real workers.

Each exported folder is run as its README says (``bash run.sh``: its own redis-server, the worker command
lines exactly as the lab ran them, ``repro.py``), with the lab made unimportable (a ``sitecustomize`` that
blocks ``import lab`` in every Python process run.sh starts, workers included): what it shows, it shows in
plain Celery.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lab.runtime.process.processes import free_port
from tests.conftest import has_traceback

ROOT = Path(__file__).resolve().parent.parent

# One finding per mechanism the fuzzer found that the catalog did not have (RESULTS.md, "Fuzzing findings").
NEW_MECHANISMS = {
    "early-order-168d50": "early",  # a nested group's results reach the callback out of order
    "early-nesting-66b47e": "early",  # chain(..., app=) keeps group(group(x)) nested: the callback gets [[0]]
    "early-wrong-values-4cda17": "early",  # chain(group, task, app=) as a chord body: the body gets the header's results
    "failed-apply-raised-8dbd11": "apply_async raised",  # an empty chord in a keyword chain: the producer raises
    "stuck-rejected-failure-lost-512dde": "stuck",  # a failure before a trailing group in a chain (#6437 family)
}


def lab(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def run_exported(folder: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """``bash run.sh`` as a user runs it, with no lab importable; every process it starts dies with it."""
    blocker = tmp_path / "nolab"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['lab'] = None  # the reproducer must not need the lab\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(blocker), "REPRO_PORT": str(free_port())}
    env.pop("LAB_RESULTS", None)
    p = subprocess.Popen(["bash", "run.sh", *extra], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=120)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # run.sh stops its own; this is for a test that failed half-way
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.mark.parametrize("fid", sorted(NEW_MECHANISMS))
def test_an_exported_finding_shows_its_symptom_in_plain_celery(fid, tmp_path):
    folder = tmp_path / "repro"
    r = lab("export", fid, "--to", str(folder))
    assert r.returncode == 0, r.stderr
    files = {p.name for p in folder.iterdir()}
    assert {"repro.py", "repro_app.py", "tasks.py", "run.sh", "README.md", "requirements.txt"} <= files
    for py in folder.glob("*.py"):
        assert not re.search(r"^\s*(from|import) lab\b", py.read_text(), re.M), f"{py.name} imports the lab"
    # the canvas in repro.py is the finding file's, character for character
    finding = (ROOT / "findings" / f"{fid.replace('-', '_')}.py").read_text()
    canvas_lines = finding.split("def canvas(app):", 1)[1].split("    return [", 1)[1].split("    ]", 1)[0]
    for line in canvas_lines.strip().splitlines():
        assert line.strip() in (folder / "repro.py").read_text()
    readme = (folder / "README.md").read_text()
    assert "celery -A tasks worker" in readme and "## Expected" in readme and "## What happens" in readme

    ran = run_exported(folder, tmp_path)
    assert ran.returncode == 1, f"rc={ran.returncode}\n{ran.stdout}\n{ran.stderr[-2000:]}"
    assert "SYMPTOM" in ran.stdout and NEW_MECHANISMS[fid] in ran.stdout, ran.stdout
    assert not has_traceback(ran.stderr), ran.stderr[-2000:]


def test_an_exported_bare_chain_shows_the_6437_symptom(tmp_path):
    """A scenario written as a canvas (add | fail | group(add, add)), exported: both group members stay PENDING."""
    folder = tmp_path / "repro"
    r = lab("export", "trailing-group-after-failure", "--to", str(folder))
    assert r.returncode == 0, r.stderr
    ran = run_exported(folder, tmp_path, "--wait", "3")
    assert ran.returncode == 1, f"{ran.stdout}\n{ran.stderr[-2000:]}"
    assert ran.stdout.count("SYMPTOM: stuck") == 2, ran.stdout


def test_an_exported_scenario_of_chords_shows_stuck_and_its_fix_completes(tmp_path):
    """A scenario of lab.Chord(...)s, sent as lab.drive.send sends them: split-queues is stuck, its fix is not."""
    stuck, fixed = tmp_path / "stuck", tmp_path / "fixed"
    assert lab("export", "split-queues", "--to", str(stuck)).returncode == 0
    assert lab("export", "split-queues-fixed", "--to", str(fixed)).returncode == 0
    ran = run_exported(stuck, tmp_path, "--wait", "3")
    assert ran.returncode == 1 and "SYMPTOM: stuck" in ran.stdout, f"{ran.stdout}\n{ran.stderr[-2000:]}"
    ran = run_exported(fixed, tmp_path)
    assert ran.returncode == 0 and "as expected: completed" in ran.stdout, f"{ran.stdout}\n{ran.stderr[-2000:]}"


@pytest.mark.parametrize("name, rc, words", [("regex-route", 1, "SYMPTOM: stuck"),
                                              ("router-object-fixed", 0, "as expected: completed")])
def test_a_scenario_with_its_own_task_package_and_live_config_objects_exports(name, rc, words, tmp_path):
    """A regex route and a router function written as the Python that builds them; the task package beside the
    scenario (scenarios/shop) copied: the callback routed by a compiled pattern or a function, in plain Celery."""
    folder = tmp_path / "repro"
    assert lab("export", name, "--to", str(folder)).returncode == 0
    assert (folder / "shop" / "tasks.py").is_file()
    app_text = (folder / "repro_app.py").read_text()
    assert "re.compile('.*summar.*')" in app_text or "from shop.routing import route_reports" in app_text
    ran = run_exported(folder, tmp_path, "--wait", "3")
    assert ran.returncode == rc and words in ran.stdout, f"{ran.stdout}\n{ran.stderr[-2000:]}"


@pytest.mark.parametrize("ref, words", [
    ("split-apps", "runs its own app"),
    ("no-such-thing", "unknown scenario"),
    ("worker-crash", "faults"),
    ("rpc-backend", "Redis reproducers only"),
])
def test_what_cannot_be_exported_is_one_sentence_and_exit_254(ref, words, tmp_path):
    r = lab("export", ref, "--to", str(tmp_path / "out"))
    assert r.returncode == 254, r.stdout + r.stderr
    assert words in r.stderr and not has_traceback(r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_export_will_not_write_into_a_folder_that_holds_something(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    r = lab("export", "early-order-168d50", "--to", str(tmp_path / "out"))
    assert r.returncode == 254 and "not empty" in r.stderr
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"
