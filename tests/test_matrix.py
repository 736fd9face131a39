"""The version matrix: cells, the table from stored records, and runs on two real Celery versions.

The table tests judge hand-built observations (no processes).  The cell
runner is tested on stand-in interpreters that hang or crash.  The
integration tests run split-queues (mechanism 1: the callback's queue has no
consumer) for real on the lab's own Celery 5.7.0 and on Celery 5.6.3 in an
environment made on demand (once; later runs reuse the cache), and check that
each cell is recorded with its own versions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conftest import CONTAINER_ONLY, container_only_scenario, lab_env, has_traceback, stored_records
from lab import records
from lab.experiments import envs, matrix
from lab.runtime.process.processes import ProcessOwner

ON_DEMAND = "5.6.3"  # not the installed version: its environment is made on demand (one extra env in CI)
T0 = 1000.0
W1 = "w1@run-abc"


def lab(store, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          env=lab_env(store), timeout=timeout)


# -- hand-built observations, as a run stores them ---------------------------------------------


def _parts(values=(5, 6, 7)):
    ev = []
    for i, v in enumerate(values):
        p = f"p{i}"
        ev.append({"event": "start", "t": T0 + 2 + i * 0.01, "task_id": p, "name": "lab.part", "worker": W1, "args": [v, 0, False]})
        ev.append({"event": "end", "t": T0 + 2.005 + i * 0.01, "task_id": p, "name": "lab.part", "worker": W1,
                   "state": "SUCCESS", "result": v})
    ev.append({"event": "publish", "t": T0 + 2.1, "task_id": "cb-1", "name": "lab.collect", "queue": "reports", "by": W1})
    return ev


def observations(kind: str) -> dict:
    """Observations whose verdict is ``kind``: stuck (callback queue unconsumed), failed (NotRegistered), completed."""
    ledger, queues, metas = _parts(), {}, {}
    if kind == "stuck":
        queues = {"reports": {"length": 1, "messages": [{"task_id": "cb-1", "name": "lab.collect"}]}}
    elif kind == "failed":
        ledger.append({"event": "unregistered", "t": T0 + 2.2, "task_id": "cb-1", "name": "lab.collect", "worker": "stale@x"})
        metas = {"cb-1": {"status": "FAILURE", "result": {"exc_type": "NotRegistered", "exc_message": ["lab.collect"]}}}
    elif kind == "completed":
        ledger.append({"event": "start", "t": T0 + 2.2, "task_id": "cb-1", "name": "lab.collect", "worker": W1, "args": [[5, 6, 7]]})
        ledger.append({"event": "end", "t": T0 + 2.3, "task_id": "cb-1", "name": "lab.collect", "worker": W1, "state": "SUCCESS"})
        metas = {"cb-1": {"status": "SUCCESS", "result": [5, 6, 7]}}
    chord = {"index": 0, "chord_id": "cb-1", "group_id": "g-1", "header_ids": ["p0", "p1", "p2"], "header_task": "lab.part",
             "callback_task": "lab.collect", "header_queue": "execution", "callback_queue": "reports", "expected": [5, 6, 7]}
    return {"started_at": T0, "scenario": {"name": "t", "expect": "stuck"}, "chords": [chord], "ledger": ledger,
            "size_ttls": [], "probe": {"quiesced": True, "broker": {"queues": queues, "unacked": []},
                                       "workers": {"consumers": {W1: ["execution"]}, "registered": {}},
                                       "backend": {"kind": "redis", "metas": metas, "chord_keys": {}, "stats": {}}, "logs": {}}}


def record(scenario: str, celery: str, kind: str, expect: str = "stuck", n: int = 0) -> dict:
    obs = observations(kind)
    obs["scenario"] = {"name": scenario, "expect": expect}
    kombu = ".".join(celery.split(".")[:2]) + ".9"
    return {"run_id": f"{scenario}-{celery}-{kind}-{n}", "scenario": scenario, "expected": expect,
            "versions": {"celery": celery, "kombu": kombu, "redis-py": "5.3.1", "billiard": "4.3.2"}, "observations": obs}


def test_judged_kinds_are_what_the_table_tests_assume():
    """The hand-built observations judge as intended (guards the tests below)."""
    from lab.judge import judge

    assert [(v.verdict, v.cause) for v in judge(observations("stuck"))] == [("stuck", "callback-queue-unconsumed")]
    assert [(v.verdict, v.cause) for v in judge(observations("failed"))] == [("failed", "callback-unregistered")]
    assert [v.verdict for v in judge(observations("completed"))] == ["completed"]


# -- the table from records ------------------------------------------------------------------------


def test_the_table_has_a_row_per_scenario_seen_on_two_versions_and_says_what_differs():
    """Cells group runs by scenario and Celery version; a row whose verdict or cause changes says how, against the newest."""
    recs = ([record("same", v, "stuck", n=i) for v in ("5.7.0", "5.3.6") for i in range(3)]
            + [record("changes", "5.3.6", "stuck", "failed", n=i) for i in range(3)]
            + [record("changes", "5.7.0", "failed", "failed", n=i) for i in range(3)]
            + [record("only-one-version", "5.7.0", "stuck")])
    md = matrix.matrix_table(recs)
    lines = md.splitlines()
    header = next(ln for ln in lines if ln.startswith("| scenario"))
    assert header.index("celery 5.3.6") < header.index("celery 5.7.0")  # versions in release order
    same = next(ln for ln in lines if ln.startswith("| `same`"))
    assert "3/3 · 3 stuck · `callback-queue-unconsumed`" in same and same.endswith("| no |")
    changes = next(ln for ln in lines if ln.startswith("| `changes`"))
    assert "0/3 · 3 stuck" in changes and "3/3 · 3 failed · `callback-unregistered` · (NotRegistered)" in changes
    assert changes.endswith("| **yes** |")
    assert "only-one-version" not in md
    para = next(ln for ln in lines if ln.startswith("**`changes` changes with the version.**"))
    assert "5.3.6: 0/3 · 3 stuck" in para and "where 5.7.0 gives 3/3 · 3 failed" in para
    assert "celery 5.3.6: kombu 5.3.9" in md  # the stack beside Celery, per column


def test_outcomes_shared_by_both_versions_are_run_to_run_variation_not_a_version_change():
    """Flaky on one version, steady on another: they share a verdict and cause, so the row 'varies between runs'."""
    same = matrix.cell_summaries([record("f", "5.4.0", "stuck", n=0), record("f", "5.4.0", "completed", n=1),
                                  record("f", "5.7.0", "stuck", n=0), record("f", "5.7.0", "completed", n=1)])
    assert matrix.differences(same) == []
    flaky = matrix.cell_summaries([record("f", "5.4.0", "stuck", n=0), record("f", "5.4.0", "stuck", n=1),
                                   record("f", "5.7.0", "stuck", n=0), record("f", "5.7.0", "failed", n=1)])
    (line,) = matrix.differences(flaky)
    assert line.startswith("f (varies between runs): 5.4.0: 2/2 · 2 stuck")
    rate = matrix.cell_summaries([record("f", "5.4.0", "stuck", n=0), record("f", "5.4.0", "stuck", n=1),
                                  record("f", "5.7.0", "stuck", n=0), record("f", "5.7.0", "stuck", expect="completed", n=1)])
    md = matrix.matrix_table([*flaky_records(), *[record("g", "5.4.0", "completed", n=i) for i in range(2)],
                              *[record("g", "5.7.0", "failed", n=i) for i in range(2)]])
    assert "| `f` |" in md and "varies between runs |" in md and "**Varies between runs**" in md
    assert "**`g` changes with the version.**" in md and "**`f` changes" not in md
    assert rate  # built without error


def flaky_records():
    return [record("f", "5.4.0", "stuck", n=0), record("f", "5.4.0", "stuck", n=1),
            record("f", "5.7.0", "stuck", n=0), record("f", "5.7.0", "failed", n=1)]


def test_no_table_without_two_versions():
    assert matrix.matrix_table([record("a", "5.7.0", "stuck")]) == ""
    assert matrix.matrix_table([]) == ""


# -- cells ---------------------------------------------------------------------------------------------


def test_run_lines_are_found_among_the_story():
    text = ("split-queues: header on 'execution'\n  {not json\n"
            '{"scenario": "s", "status": "matched", "run_id": "r1"}\n'
            "recorded as r1\n"
            '{"scenario": "s", "status": "mismatched", "run_id": "r2"}\n{"other": 1}\n')
    assert [r["run_id"] for r in matrix.parse_run_lines(text)] == ["r1", "r2"]


def test_a_cell_is_unknown_unless_every_run_came_back():
    env = envs.Env("5.7.0", sys.executable)
    cell = matrix.Cell("s", "5.7", env, 1, 2, results=[{"status": "matched"}, {"status": "matched"}])
    assert cell.status() == "matched"
    assert matrix.Cell("s", "5.7", env, 1, 2, results=[{"status": "matched"}]).status() == "unknown"
    assert matrix.Cell("s", "5.7", env, 1, 2, results=[{"status": "matched"}, {"status": "mismatched"}]).status() == "mismatched"
    assert matrix.Cell("s", "5.9", None, 1, 2, error="install failed").status() == "unknown"


def _stand_in_python(tmp_path: Path, body: str, version: str = "9.9.9") -> envs.Env:
    script = tmp_path / "bin" / "python"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return envs.Env(version, str(script), tmp_path / "env")


def test_a_hung_cell_is_stopped_at_its_bound_and_reported(tmp_path, monkeypatch):
    """A run that never ends is stopped (SIGTERM, then SIGKILL) at the cell's bound; the cell says what it saw last."""
    monkeypatch.setattr(matrix, "RUN_BOUND_S", 0.5)
    monkeypatch.setattr(matrix, "STOP_GRACE_S", 1.0)
    env = _stand_in_python(tmp_path, "echo 'booting the topology'; exec sleep 300")
    cell = matrix.Cell("split-queues", "9.9", env, 1, 1)
    with ProcessOwner(tmp_path) as owner:
        matrix.CellRunner(owner, tmp_path, jobs=1).run([cell])
        pids = [n.pid for n in owner.nodes]
    assert cell.error.startswith("timed out after 0 s") and "booting the topology" in cell.error
    assert cell.status() == "unknown" and cell.results == []
    assert all(not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE for p in pids)


def test_a_crashed_cell_keeps_its_last_words_and_the_others_run(tmp_path):
    """A run that crashes leaves an error on its cell; the next cell still runs and its JSON lines are collected."""
    crash = _stand_in_python(tmp_path / "a", "echo 'lab crashed: ImportError: no module named x' >&2; exit 255")
    ok = _stand_in_python(tmp_path / "b", 'echo story; echo \'{"scenario": "s", "status": "matched", "run_id": "r1"}\'')
    same = _stand_in_python(tmp_path / "c", 'echo \'{"scenario": "s", "status": "matched", "run_id": "r2"}\'')
    cells = [matrix.Cell("s", "9.9", crash, 1, 1), matrix.Cell("s", "9.8", ok, 1, 1), matrix.Cell("s", "9.7", same, 1, 1)]
    seen = []
    with ProcessOwner(tmp_path) as owner:
        matrix.CellRunner(owner, tmp_path, jobs=2, on_done=seen.append).run(cells)
    assert cells[0].exit_code == 255 and "exited 255: lab crashed: ImportError" in cells[0].error
    assert [r["run_id"] for r in cells[1].results] == ["r1"] and cells[1].status() == "matched"
    assert [r["run_id"] for r in cells[2].results] == ["r2"]  # same scenario and version: a log of its own
    assert len({c.log for c in cells}) == 3
    assert sorted(c.spec for c in seen) == ["9.7", "9.8", "9.9"]


# -- the command line ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["matrix", "--celery", "5.x"], "'5.x' is not a Celery version"),
    (["matrix", "--celery", "4.4"], "older than the lab supports"),
    (["matrix", "--celery", "5.7", "-s", "no-such"], "unknown scenario 'no-such'"),
    (["run", "split-queues", "--celery", "5.3.6,latest"], "'latest' is not a Celery version"),
    (["run", "no-such", "--celery", "5.7.0"], "unknown scenario 'no-such'"),
    (["run", CONTAINER_ONLY, "--celery", "5.7.0"], "need --runtime docker"),
])
def test_bad_versions_and_scenarios_are_one_sentence_and_254(lab_results, tmp_path, args, words):
    """Bad input is refused before anything is installed or started: one line on stderr, exit 254."""
    args = [container_only_scenario(tmp_path) if a == CONTAINER_ONLY else a for a in args]
    p = lab(lab_results, *args, timeout=60)
    assert p.returncode == 254, p.stdout + p.stderr
    assert words in p.stderr and not has_traceback(p.stderr + p.stdout)
    assert not records.record_files(lab_results)


def test_one_scenario_on_two_versions_records_each_with_its_own_versions(lab_results):
    """Mechanism 1 (split-queues) on the installed Celery and on 5.6.3 made on demand: both reproduce, and each
    record carries the Celery, kombu and redis-py its producer and workers really ran."""
    installed = envs.installed_celery()
    p = lab(lab_results, "run", "split-queues", "--celery", f"{installed},{ON_DEMAND}", "--seed", "5", "--json")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert [c["celery"] for c in summary["cells"]] == [installed, ON_DEMAND]
    assert all(c["status"] == "matched" and c["causes"] == ["callback-queue-unconsumed"] for c in summary["cells"])
    made = summary["envs"][1]
    assert made["celery"] == ON_DEMAND and made["status"] == "ready" and made["env"] != "own"
    assert f"celery {ON_DEMAND}" in p.stdout and "which no worker consumes" in p.stdout

    recs = stored_records(lab_results)
    by_version = {r["versions"]["celery"]: r for r in recs}
    assert set(by_version) == {installed, ON_DEMAND}
    old = by_version[ON_DEMAND]
    assert old["versions"]["kombu"].startswith("5.6.") and old["versions"]["redis-py"]
    assert old["replay"].endswith(f"--celery {ON_DEMAND}") and "--celery" not in by_version[installed]["replay"]
    assert by_version[installed]["versions"]["kombu"] == envs._own_env(installed).versions["kombu"]
    assert all(r["seed"] == 5 for r in recs)  # the same seed on both versions: the cells differ by version only
    md = matrix.matrix_table(recs)
    assert f"celery {ON_DEMAND}" in md and f"celery {installed}" in md


def test_the_matrix_marks_a_version_that_cannot_be_installed_and_runs_the_others(lab_results, tmp_path):
    """A version with no release gets one line and an 'install failed' column; the other cells still run (exit 2: unknown)."""
    installed = envs.installed_celery()
    frozen = container_only_scenario(tmp_path)
    p = lab(lab_results, "matrix", "--celery", f"{installed},5.99.0,{ON_DEMAND}", "-s", "split-queues",
            "-s", frozen, "--runs", "1", "--seed", "9", "--json")
    assert p.returncode == 2, p.stdout[-3000:] + p.stderr
    assert not has_traceback(p.stdout + p.stderr)
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    failed = [e for e in summary["envs"] if e["status"] == "install failed"]
    assert [e["spec"] for e in failed] == ["5.99.0"] and "5.99.0" in failed[0]["error"]
    assert sum("celery 5.99.0: install failed" in ln for ln in p.stdout.splitlines()) == 1
    ran = [c for c in summary["cells"] if c["celery"] != "5.99.0"]
    assert sorted(c["celery"] for c in ran) == sorted([installed, ON_DEMAND])
    assert all(c["status"] == "matched" and len(c["run_ids"]) == 1 for c in ran)
    assert "install failed" in p.stdout
    assert summary["left_out"] == [frozen]  # a container pause needs containers: said once, not run
    assert "left out" in p.stdout and "container-pause" not in {c["scenario"] for c in summary["cells"]}


def test_ctrl_c_stops_every_cell_and_leaves_no_process(lab_results):
    """Ctrl-C during a matrix: each running cell tears its own run down; no redis-server or worker outlives it."""
    import signal
    import time

    from conftest import processes_under

    p = subprocess.Popen([sys.executable, "-m", "lab", "matrix", "--celery", envs.installed_celery(),
                          "-s", "short-result-expiry", "--runs", "1"], env=lab_env(lab_results),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        ready = []
        while not ready and time.monotonic() < deadline and p.poll() is None:
            ready = [f for f in lab_results.glob("runs/short-result-expiry-*/logs/w1.log") if "ready." in f.read_text()]
            time.sleep(0.05)
        assert ready, "the cell's worker never became ready"
        p.send_signal(signal.SIGINT)
        output, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, output
    assert "interrupted" in output and not has_traceback(output)
    deadline = time.monotonic() + 5
    while processes_under(lab_results) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_under(lab_results) == []
