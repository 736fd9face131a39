"""Nothing leaks over long work: descriptors across many runs, and the folders of killed runs.

Real `python -m lab` subprocesses, no mocks.  The descriptor tests cap the lab
process's open files with ``ulimit`` and let ``--runs N`` find out whether each
run gives back what it opened.  The orphan test SIGKILLs a real run mid-chord
and checks that the next run and ``lab clean`` quarantine its folder, while a
run that is still alive keeps its own.  Every wait is on evidence (a file, a
ledger line), with a bound.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import has_traceback, lab_env, wait_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LIVE_BOUND = 60.0  # a run under load takes a few seconds to boot; a minute means it never will


def run_lab_limited(store: Path, limit: str, runs: int, timeout: float) -> subprocess.CompletedProcess:
    """`python -m lab run healthy --runs N` with the lab process's open files capped by `ulimit limit`."""
    return subprocess.run(["bash", "-c", f'ulimit {limit}; exec "$0" -m lab run healthy --runs {runs}', sys.executable],
                          cwd=PROJECT_ROOT, env=lab_env(store), capture_output=True, text=True, timeout=timeout)


def assert_all_runs_done(p: subprocess.CompletedProcess, runs: int) -> None:
    text = p.stdout + p.stderr
    assert "Too many open files" not in text and not has_traceback(text), text[-3000:]
    assert p.returncode == 0, f"exit {p.returncode}: {text[-3000:]}"
    assert text.count("recorded as healthy-") == runs, text[-3000:]


def test_runs_give_back_their_descriptors(lab_results):
    """Five runs in one lab process with 36 open files at most: each run must close what it opened.

    A run needs about 20 descriptors at its peak; the leak this guards against
    kept 7 per run (sockets to the dead run's redis-server, epoll handles), so
    the fourth run would hit EMFILE.  Only the soft limit is lowered: the lab
    process is capped, while redis-server (which raises its own soft limit
    to serve its clients) and the workers may lift theirs up to the hard one."""
    p = run_lab_limited(lab_results, "-S -n 36", 5, timeout=240)
    assert_all_runs_done(p, 5)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 200 real runs: 8-14 min on a loaded 2-core machine
def test_two_hundred_runs_under_256_descriptors(lab_results):
    """`python -m lab run healthy --runs 200` finishes under `ulimit -n 256` (the old leak died after 146 runs at 1024)."""
    p = run_lab_limited(lab_results, "-n 256", 200, timeout=3600)
    assert_all_runs_done(p, 200)


# -- the folders of killed runs --------------------------------------------------------------

SLOW_SCENARIO = '''
from lab import Chord, Scenario, Worker

scenario = Scenario(
    name={name!r},
    description="one header part that takes a minute: the run is alive until someone kills it",
    expect="completed",
    workers=(Worker("w1", concurrency=1),),
    chords=(Chord(header=1, duration=60, count=1),),
)
'''


def slow_scenario(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name.replace('-', '_')}.py"
    path.write_text(textwrap.dedent(SLOW_SCENARIO.format(name=name)))
    return path


def start_live_run(store: Path, script: Path, name: str) -> tuple[subprocess.Popen, Path]:
    """A `lab run` of a slow scenario, returned once its header part has started (the ledger says so)."""
    proc = subprocess.Popen([sys.executable, "-m", "lab", "run", str(script)], cwd=PROJECT_ROOT, env=lab_env(store),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def started() -> Path | None:
        if proc.poll() is not None:
            raise AssertionError(f"the run of {name} ended first: {proc.stdout.read()[-2000:]}")
        for ledger_file in (store / "runs").glob(f"{name}-*/ledger/*.jsonl"):
            if b'"event":"start"' in ledger_file.read_bytes():
                return ledger_file.parent.parent
        return None

    return proc, wait_for(started, LIVE_BOUND, f"the header part of {name} starting")


def sigkill(proc: subprocess.Popen) -> None:
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL


def lab(store: Path, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "lab", *args], cwd=PROJECT_ROOT, env=lab_env(store),
                       capture_output=True, text=True, timeout=240)
    assert not has_traceback(p.stdout + p.stderr), p.stdout + p.stderr
    return p


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines at the console width


def test_killed_runs_folder_is_quarantined_and_a_live_runs_is_not(lab_results, tmp_path):
    """A SIGKILLed run's folder (no record) goes to runs/_orphaned/ with its logs and ledger, moved by the
    next run and by `lab clean`, each saying so; the folder of a run alive at the same time stays put."""
    killed_script, live_script = slow_scenario(tmp_path, "killed-run"), slow_scenario(tmp_path, "live-run")
    procs: list[subprocess.Popen] = []
    try:
        killed, killed_dir = start_live_run(lab_results, killed_script, "killed-run")
        procs.append(killed)
        live, live_dir = start_live_run(lab_results, live_script, "live-run")
        procs.append(live)
        sigkill(killed)
        assert killed_dir.is_dir()  # what a killed run leaves: a folder, and no record
        orphans = lab_results / "runs" / "_orphaned"

        nxt = lab(lab_results, "run", "healthy")
        assert nxt.returncode == 0, nxt.stdout + nxt.stderr
        said = flat(nxt.stdout)
        assert f"moved 1 run folder(s) left without a record by a killed lab to runs/_orphaned/: {killed_dir.name}" in said
        assert not killed_dir.exists()
        kept = orphans / killed_dir.name
        assert (kept / "ledger").is_dir() and any((kept / "logs").glob("*.log"))
        assert live_dir.is_dir() and live.poll() is None  # alive, and its folder untouched
        recorded = next((lab_results / "runs").glob("healthy-*"))

        clean = lab(lab_results, "clean")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "no run folder to quarantine" in flat(clean.stdout)
        assert live_dir.is_dir() and live.poll() is None

        sigkill(live)
        clean = lab(lab_results, "clean")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert f"moved 1 run folder(s) left without a record by a killed lab to runs/_orphaned/: {live_dir.name}" in flat(clean.stdout)
        assert not live_dir.exists() and (orphans / live_dir.name / "ledger").is_dir()
        assert recorded.is_dir()  # a recorded run keeps its folder
        assert sorted(p.name for p in orphans.iterdir()) == sorted([killed_dir.name, live_dir.name])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            proc.stdout.close()
