"""Shared fixtures: every test gets its own results store, and no test may leave a process behind.

Each test runs with ``LAB_RESULTS`` pointing at its own temporary folder, so
records never mix and the repo's ``results/`` is never touched.  After each
test, any redis-server or celery worker whose working directory lies inside
that folder is a leak: the test fails and the leak is killed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest


def processes_under(root: Path) -> list[psutil.Process]:
    root_s = str(root)
    found = []
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if "redis-server" not in cmd and "celery" not in cmd and "partition_proxy" not in cmd:
                continue
            if p.cwd().startswith(root_s) or root_s in cmd:
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return [p for p in found if p.status() != psutil.STATUS_ZOMBIE] if found else []


@pytest.fixture(autouse=True)
def lab_results(tmp_path, monkeypatch) -> Path:
    """An isolated results store for this test; fails the test if a lab process outlives it."""
    store = tmp_path / "results"
    monkeypatch.setenv("LAB_RESULTS", str(store))
    yield store
    deadline = time.time() + 5  # teardown is SIGKILL + reap: give the kernel a moment, not a sleep
    leaked = processes_under(tmp_path)
    while leaked and time.time() < deadline:
        time.sleep(0.05)
        leaked = [p for p in leaked if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    if leaked:
        desc = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in leaked if p.is_running()]
        for p in leaked:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        if desc:
            pytest.fail(f"processes outlived the test: {desc}")


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def lab_env(store: Path) -> dict[str, str]:
    """The environment for a `python -m lab` subprocess using this store."""
    root = Path(__file__).resolve().parent.parent
    return {**os.environ, "LAB_RESULTS": str(store), "PYTHONPATH": str(root)}


CONTAINER_ONLY = "<container-only scenario>"  # a test's placeholder for container_only_scenario's path


def container_only_scenario(folder: Path) -> str:
    """A scenario file (written into ``folder``) whose fault only a container engine gives (pause-container):
    what the process runtime, and so --celery, the matrix and bisect, refuse."""
    path = Path(folder) / "container_pause.py"
    path.write_text(
        "from lab import Chord, Fault, Scenario, Worker\n\n"
        "scenario = Scenario(name='container-pause', description=\"docker pause w1's container for 1 s\",\n"
        "    expect='completed', workers=(Worker('w1'),), chords=(Chord(header=2),),\n"
        "    faults=(Fault('pause-container', target='w1', trigger='after-parts-started', options={'for': 1.0}),))\n")
    return str(path)


def stored_records(store: Path) -> list[dict]:
    """Every record of a store, read strictly: a torn gzip member or line fails the test, where the lab's reader skips it."""
    import json
    import zlib

    from lab import records

    lines: list[bytes] = []
    for path in records.record_files(store):
        data = path.read_bytes()
        if not path.name.endswith(".gz"):
            assert not data or data.endswith(b"\n"), f"{path.name} ends in a partial line"
            lines += data.splitlines()
            continue
        while data:
            d = zlib.decompressobj(wbits=31)
            text = d.decompress(data)
            assert d.eof, f"{path.name} ends in a torn gzip member"
            assert text.endswith(b"\n"), f"a member of {path.name} ends in a partial line"
            lines += text.splitlines()
            data = d.unused_data
    recs = [json.loads(line) for line in lines]  # raises on a torn line
    assert all(r["run_id"] and r["verdicts"] is not None for r in recs), "a line is not a whole record"
    return recs


PYTHON_TRACEBACK = "Traceback (most recent call last):"


def has_traceback(text: str) -> bool:
    """Whether ``text`` holds a Python traceback: its header line, not merely the word (a user may type it)."""
    return PYTHON_TRACEBACK in text


def wait_for(predicate, bound: float, what, poll: float = 0.02):
    """Poll ``predicate`` until it returns something truthy, and return that; fail naming ``what`` after ``bound`` s.

    ``what`` may be a callable: it is asked at the timeout, so the failure says what was last seen."""
    deadline = time.monotonic() + bound
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what() if callable(what) else what} (not as expected within {bound:g} s)"
                                 if callable(what) else f"{what} not seen within {bound:g} s")
        time.sleep(poll)
