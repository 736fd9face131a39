"""Losses nobody planned: the run's redis-server or a worker dying, and a stop signal during start-up.

Real processes throughout (``python -m lab run`` subprocesses, real redis-server
and celery workers, no mocks).  Each test makes the loss happen at a moment it
can see (a line in the ledger, a file a booting worker writes), then waits on
evidence with a bound:

* redis-server SIGKILLed while the chords are sent: exit 2 within seconds, the
  loss named, the chords already sent kept in the record with their verdicts;
* redis-server SIGKILLed while a worker boots: exit 2 at once, naming the server;
* a worker SIGKILLed that no fault of the scenario kills: exit 2 naming the
  worker and its signal, its observations stored, and ``lab show`` agrees;
* SIGTERM during start-up, inside a class definition or at random points:
  exit 143 with one sentence on stderr, never a traceback or 255, nothing left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from conftest import has_traceback, lab_env, stored_records
from lab import records
from lab.judge import judge
from test_lab_faults import wait_until_gone

ROOT = Path(__file__).resolve().parent.parent
SIGTERM_TRIES = int(os.environ.get("LAB_SIGTERM_TRIES", "6"))


# -- helpers ------------------------------------------------------------------------------------


def write_scenario(folder: Path, name: str, body: str, modules: dict[str, str] | None = None) -> Path:
    """A scenario script (and task modules of its own) in ``folder``."""
    for mod, text in (modules or {}).items():
        (folder / f"{mod}.py").write_text(textwrap.dedent(text))
    path = folder / f"scenario_{name.replace('-', '_')}.py"  # never the name of a task module
    path.write_text("from lab import Chord, Fault, Scenario, Worker\n\n" + textwrap.dedent(body))
    return path


def start_lab(store: Path, scenario: Path) -> subprocess.Popen:
    env = lab_env(store)
    env["PYTHONPATH"] = os.pathsep.join([str(scenario.parent), env["PYTHONPATH"]])  # the producer imports its tasks too
    return subprocess.Popen([sys.executable, "-m", "lab", "run", str(scenario), "--json"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(what: str, found, lab: subprocess.Popen, bound: float = 90.0):
    """Poll ``found()`` until it returns something truthy; fail if the lab exits first or ``bound`` passes."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        got = found()
        if got:
            return got
        if lab.poll() is not None:
            out, err = lab.communicate()
            pytest.fail(f"the lab exited ({lab.returncode}) before {what}: {out[-800:]} {err[-800:]}")
        time.sleep(0.01)
    lab.kill()
    pytest.fail(f"no {what} within {bound:.0f} s")


def run_dir_of(store: Path) -> Path | None:
    runs = sorted((store / "runs").glob("*")) if (store / "runs").is_dir() else []
    return runs[0] if runs else None


def ledger_bytes(store: Path, prefix: str) -> bytes:
    run = run_dir_of(store)
    if run is None:
        return b""
    return b"".join(p.read_bytes() for p in (run / "ledger").glob(f"{prefix}*.jsonl"))


def lab_child(lab: subprocess.Popen, match) -> psutil.Process | None:
    for p in psutil.Process(lab.pid).children(recursive=True):
        try:
            if match(p):
                return p
        except psutil.Error:
            continue
    return None


def is_redis(p: psutil.Process) -> bool:
    return p.name().startswith("redis-server")


def kill(proc: psutil.Process) -> tuple[int, float]:
    pid = proc.pid
    proc.kill()
    return pid, time.time()


def finish(lab: subprocess.Popen, bound: float = 60.0) -> tuple[str, str]:
    try:
        return lab.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        lab.kill()
        out, err = lab.communicate()
        pytest.fail(f"the lab did not exit within {bound:.0f} s: {out[-800:]} {err[-800:]}")


def the_record(store: Path) -> dict:
    (rec,) = stored_records(store)
    return rec


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (SigCgt in /proc): the lab's code has begun."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = int(next(ln for ln in f if ln.startswith("SigCgt:")).split()[1], 16)
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return False
    return bool(mask & (1 << (signal.SIGTERM - 1)))


# -- redis-server lost while the chords are sent ------------------------------------------------


def test_redis_lost_while_chords_are_sent_is_unknown_within_seconds(lab_results, tmp_path):
    """SIGKILL the run's redis-server once the producer has published 200 messages of 600 chords: the run ends
    as unknown (exit 2) seconds after, naming the server, its pid, port and signal; the chords sent before the
    loss are kept in the record, the last one with the error its sending raised."""
    path = write_scenario(tmp_path, "send-loss", """
        scenario = Scenario(name="send-loss", description="600 chords; redis-server dies while they are sent",
                            expect="completed", workers=(Worker("w1", concurrency=2),),
                            chords=(Chord(header=3, count=600),))
    """)
    lab = start_lab(lab_results, path)
    wait_for("200 publishes by the producer", lambda: ledger_bytes(lab_results, "producer").count(b'"event":"publish"') >= 200, lab)
    pid, killed_at = kill(wait_for("the run's redis-server", lambda: lab_child(lab, is_redis), lab))
    out, err = finish(lab)
    exited_after = time.time() - killed_at
    assert lab.returncode == 2, (out[-1500:], err[-1500:])
    assert not has_traceback(err), err
    assert f"redis-server (pid {pid}, port" in out and "is gone (killed by SIGKILL)" in out, out[-1500:]
    rec = the_record(lab_results)
    verdicts, chords = rec["verdicts"], rec["observations"]["chords"]
    assert rec["outcome"]["status"] == "unknown"
    assert 1 < len(verdicts) < 600 and {v["verdict"] for v in verdicts} == {"unknown"}, len(verdicts)
    assert all(f"pid {pid}" in v["summary"] for v in verdicts), verdicts[0]
    assert chords[-1].get("send_error") and not any(c.get("send_error") for c in chords[:-1])
    assert "ConnectionError" in chords[-1]["send_error"] or "Connection" in chords[-1]["send_error"]
    assert rec["observations"]["finished_at"] - killed_at < 6.0, "the verdict took more than a few seconds"
    assert exited_after < 20.0, f"the lab exited {exited_after:.1f} s after the loss"
    assert not wait_until_gone(lab_results)


# -- redis-server lost while a worker boots -----------------------------------------------------

BOOT_GATE = """
    import os, time
    from pathlib import Path

    if "LAB_APP" in os.environ:  # a worker, importing its tasks: say so, and hold its boot until told
        Path("booting").touch()
        deadline = time.monotonic() + 120
        while not Path("go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
"""


def test_redis_lost_while_a_worker_boots_names_the_server(lab_results, tmp_path):
    """A worker holds its boot (it waits, importing its tasks, for a file nobody writes); the run's redis-server
    is SIGKILLed meanwhile: exit 2 within seconds, naming the server and the worker that was starting."""
    path = write_scenario(tmp_path, "boot-loss", """
        scenario = Scenario(name="boot-loss", description="redis-server dies while the worker boots",
                            expect="completed", workers=(Worker("w1"),), tasks=("lab.apps.basic", "boot_gate"))
    """, {"boot_gate": BOOT_GATE})
    lab = start_lab(lab_results, path)
    wait_for("the worker booting", lambda: run_dir_of(lab_results) and (run_dir_of(lab_results) / "booting").exists(), lab)
    pid, killed_at = kill(wait_for("the run's redis-server", lambda: lab_child(lab, is_redis), lab))
    out, err = finish(lab)
    took = time.time() - killed_at
    assert lab.returncode == 2, (out[-1500:], err[-1500:])
    assert not has_traceback(err), err
    assert f"redis-server (pid {pid}, port" in err and "killed by SIGKILL" in err and "worker w1" in err, err
    assert len(err.strip().splitlines()) <= 3, err  # one sentence (wrapped at most by the console)
    assert took < 15.0, f"{took:.1f} s from the loss to the exit"
    assert not wait_until_gone(lab_results)


# -- a worker lost, unplanned -------------------------------------------------------------------


def is_worker(lab: subprocess.Popen):
    return lambda p: p.ppid() == lab.pid and "celery" in " ".join(p.cmdline())


def test_unplanned_worker_death_is_unknown_naming_worker_and_signal(lab_results, tmp_path):
    """SIGKILL the only worker's main process while its 2 s parts run; no fault of the scenario kills it: the
    chord is unknown (exit 2), not a confident stuck, naming the worker and SIGKILL; the record keeps the
    observations (the death among them), and `lab show` judges them again the same way."""
    path = write_scenario(tmp_path, "worker-loss", """
        scenario = Scenario(name="worker-loss", description="long parts; the worker dies, unplanned",
                            expect="completed", workers=(Worker("w1", concurrency=2),),
                            chords=(Chord(header=3, duration=2.0),))
    """)
    lab = start_lab(lab_results, path)
    wait_for("a part started on w1", lambda: b'"event":"start"' in ledger_bytes(lab_results, "w1"), lab)
    pid, killed_at = kill(wait_for("the worker's main process", lambda: lab_child(lab, is_worker(lab)), lab))
    out, err = finish(lab)
    assert lab.returncode == 2, (out[-1500:], err[-1500:])
    assert not has_traceback(err), err
    assert f"worker w1 (pid {pid}) died (killed by SIGKILL)" in out, out[-1500:]
    rec = the_record(lab_results)
    (v,) = rec["verdicts"]
    assert v["verdict"] == "unknown" and f"pid {pid}" in v["summary"]
    assert any("without the death, the evidence reads: stuck" in line for line in v["evidence"]), v["evidence"]
    obs = rec["observations"]
    assert [(d["worker"], d["pid"], d["returncode"]) for d in obs["probe"]["exited"]] == [("w1", pid, -signal.SIGKILL)]
    assert any(e["event"] == "start" for e in obs["ledger"]), "the ledger's evidence is kept"
    assert rec["observations"]["finished_at"] - killed_at < 20.0
    show = subprocess.run([sys.executable, "-m", "lab", "show", rec["run_id"], "--json"], cwd=ROOT,
                          env=lab_env(lab_results), capture_output=True, text=True, timeout=60)
    again = json.loads(show.stdout)
    assert again["same_as_stored"] and again["verdicts"][0]["verdict"] == "unknown", show.stdout
    assert not wait_until_gone(lab_results)


def planned_kill_obs(pids_killed: list[int], exited_pid: int) -> dict:
    """Hand-built observations: one part started on w1 and never ended; w1's pid ``exited_pid`` is gone."""
    host = "w1@t-1"
    start = {"event": "start", "t": 101.0, "task_id": "p1", "pid": 11, "worker": host, "name": "lab.part", "args": [1]}
    timeline = [{"t": 102.0, "kind": "fault", "fault": "kill-worker", "target": host, "pids": pids_killed,
                 "what": "SIGKILL worker w1 main process"}] if pids_killed else []
    return {"started_at": 100.0, "scenario": {"expect": "completed", "workers": [{"name": "w1"}]},
            "chords": [{"index": 0, "chord_id": "cb", "group_id": "g", "header_ids": ["p1"], "callback_task": "lab.collect",
                        "header_task": "lab.part", "expected": [1]}],
            "ledger": [start], "timeline": timeline, "quiescence": {"how": "quiet", "t": 103.0},
            "probe": {"t": 104.0, "quiesced": True, "broker": {"queues": {}}, "workers": {"consumers": {}},
                      "backend": {"kind": "redis", "metas": {}},
                      "exited": [{"worker": "w1", "hostname": host, "pid": exited_pid, "returncode": -9,
                                  "how": "killed by SIGKILL"}]}}


def test_the_judge_tells_a_planned_kill_from_an_unplanned_death():
    """The rule is the judge's, from the observations alone: a worker dead by a kill-worker fault that names its
    pid leaves the verdict the evidence gives; the same death with no such fault makes it unknown."""
    (planned,) = judge(planned_kill_obs([10, 11], exited_pid=10))
    assert (planned.verdict, planned.cause) == ("stuck", "header-part-lost")
    (unplanned,) = judge(planned_kill_obs([], exited_pid=10))
    assert unplanned.verdict == "unknown" and "worker w1 (pid 10) died (killed by SIGKILL)" in unplanned.summary
    (other_life,) = judge(planned_kill_obs([7], exited_pid=10))  # the fault killed an earlier life, not this one
    assert other_life.verdict == "unknown"


# -- SIGTERM during start-up ----------------------------------------------------------------------

SELF_STOP = """
    import os, signal

    class StopsItself:
        def __set_name__(self, owner, name):
            if "LAB_APP" not in os.environ:  # the lab process, importing the producer's tasks
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(10000):  # bytecode runs here, inside __set_name__: where the handler fires
                    pass

    class Holder:
        slot = StopsItself()
"""


def assert_stopped_cleanly(lab: subprocess.Popen, err: str, store: Path, what: str) -> None:
    assert lab.returncode == 143, f"{what}: exit {lab.returncode}; {err[-800:]}"
    assert not has_traceback(err), f"{what}: {err[-1500:]}"
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines == ["lab: stopped by SIGTERM; every process it started has been stopped."], f"{what}: {err[-800:]}"
    assert not wait_until_gone(store), f"{what}: processes left"


def test_sigterm_inside_a_class_definition_stops_cleanly(lab_results, tmp_path):
    """SIGTERM lands inside ``__set_name__`` while the producer's task module is imported (with redis-server and
    the worker up): no `RuntimeError: Error calling __set_name__` and no 255, but exit 143 and one sentence."""
    path = write_scenario(tmp_path, "self-stop", """
        scenario = Scenario(name="self-stop", description="the producer's task module stops the lab mid-class",
                            expect="completed", workers=(Worker("w1"),), tasks=("lab.apps.basic", "stops_itself"))
    """, {"stops_itself": SELF_STOP})
    lab = start_lab(lab_results, path)
    _, err = finish(lab)
    assert_stopped_cleanly(lab, err, lab_results, "SIGTERM in __set_name__")
    assert not records.record_files(lab_results)


def test_sigterm_at_points_of_start_up_stops_cleanly(lab_results):
    """SIGTERM 0.05 to 1.5 s after the lab began catching it (imports, scenario, redis-server, workers booting):
    every time exit 143, one sentence on stderr, no traceback, and no process of the run left."""
    delays = [0.05 + i * (1.45 / max(1, SIGTERM_TRIES - 1)) for i in range(SIGTERM_TRIES)]
    for delay in delays:
        lab = subprocess.Popen([sys.executable, "-m", "lab", "run", "healthy"], cwd=ROOT, env=lab_env(lab_results),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not catches_sigterm(lab.pid) and lab.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert catches_sigterm(lab.pid), "the lab never set its SIGTERM handler"
        time.sleep(delay)  # the point of start-up to stop at, not a synchronisation
        lab.send_signal(signal.SIGTERM)
        try:
            _, err = lab.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            lab.kill()
            pytest.fail(f"the lab did not exit within 60 s of SIGTERM {delay:.2f} s in")
        if lab.returncode == 0 and not err.strip():
            continue  # the run was already over: nothing to stop
        assert_stopped_cleanly(lab, err, lab_results, f"SIGTERM {delay:.2f} s in")
