"""Bad input is exit 254 and one sentence, before anything starts: real `python -m lab` processes.

Each case is something a user gets wrong: a results store that cannot be
written (a file, a read-only mount, an immutable folder), `report --output`
into a missing folder, a Celery version outside the supported range, a
scenario field that used to fail only once processes were up.  Each must end
with exit 254 and one `lab: ` line on stderr, no traceback, no process
started (redis-server is a stand-in that leaves a mark if it is ever run),
and the store and the environment cache exactly as they were.

We run as root, whom permission bits do not stop, so "not writable" is made
with what binds root too: a read-only bind mount and ``chattr +i``.  A case
the machine cannot set up is skipped with the reason.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import has_traceback, lab_env
from lab import records

PROJECT_ROOT = Path(__file__).resolve().parent.parent
A_FINDING = sorted((PROJECT_ROOT / "findings").glob("*.py"))[0].stem


@pytest.fixture
def sandbox(tmp_path):
    """A stand-in redis-server that marks its use, an empty env cache, and a snapshot of everything under tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "redis-server"
    fake.write_text(f"#!/bin/sh\ntouch {tmp_path / 'redis-server-ran'}\nexit 1\n")
    fake.chmod(0o755)
    spec = tmp_path / "app-spec.json"
    spec.write_text("{}")
    return tmp_path


def lab(sandbox: Path, store: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**lab_env(store), "COLUMNS": "400", "LAB_REDIS_SERVER": str(sandbox / "bin" / "redis-server"),
           "LAB_ENVS": str(sandbox / "envs")}
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=PROJECT_ROOT)


def tree(root: Path) -> list[tuple[str, bool, int]]:
    """Every file and folder under root, with file sizes: the same tree means nothing was written."""
    return sorted((str(p.relative_to(root)), p.is_dir(), 0 if p.is_dir() else p.stat().st_size) for p in root.rglob("*"))


def assert_bad_input(done: subprocess.CompletedProcess, words: str, sandbox: Path, before: list) -> None:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 254, (done.returncode, done.stdout[-2000:], done.stderr)
    assert len(lines) == 1 and lines[0].startswith("lab: "), done.stderr
    assert words in lines[0], lines[0]
    assert not has_traceback(done.stderr + done.stdout)
    assert not (sandbox / "redis-server-ran").exists(), "a redis-server was started"
    assert "starting" not in done.stdout, done.stdout  # the run's first step line: nothing was brought up
    assert tree(sandbox) == before, "something was written"


# -- stores that cannot be written -----------------------------------------------------------------


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture
def unwritable(sandbox, request):
    """Make a store that cannot be written, the way the parameter says; undo what binds root afterwards."""
    undo = []

    def make(kind: str) -> Path:
        store = sandbox / "store"
        if kind == "file":
            store.write_text("not a folder\n")
            return store
        if kind == "under-a-file":
            (sandbox / "plain-file").write_text("x\n")
            return sandbox / "plain-file" / "store"
        store.mkdir()
        (store / "runs.jsonl").write_text('{"run_id": "earlier"}\n')  # an older lab's records, only read now
        campaign = records.campaign_file(store=store)  # the file this run would append to
        campaign.parent.mkdir()
        records.append({"run_id": "earlier-too"}, path=campaign, latest=False)
        try:
            if kind == "read-only-mount":
                try:
                    _run(["mount", "--bind", "-o", "ro", str(store), str(store)])
                except (OSError, subprocess.CalledProcessError):
                    _run(["mount", "--bind", str(store), str(store)])
                    undo.append(["umount", str(store)])
                    _run(["mount", "-o", "remount,ro,bind", str(store)])
                else:
                    undo.append(["umount", str(store)])
            elif kind == "immutable-folder":
                _run(["chattr", "+i", str(store)])
                undo.append(["chattr", "-i", str(store)])
            elif kind == "immutable-campaign-file":
                _run(["chattr", "+i", str(campaign)])
                undo.append(["chattr", "-i", str(campaign)])
        except (OSError, subprocess.CalledProcessError) as e:
            pytest.skip(f"this machine cannot make a {kind} store: {getattr(e, 'stderr', b'') or e}")
        probe = store / "probe" if kind != "immutable-campaign-file" else campaign
        try:
            with open(probe, "a"):
                pass
        except OSError:
            return store
        pytest.skip(f"a {kind} store is still writable here (the machine ignores it for root)")

    yield make
    for argv in reversed(undo):
        subprocess.run(argv, capture_output=True, timeout=30)


STORE_WORDS = {
    "file": "is a file, not a folder",
    "under-a-file": "cannot be made, because",
    "read-only-mount": "is on a read-only mount",
    "immutable-folder": "is not writable",
    "immutable-campaign-file": f"holds records/{records.campaign()}.jsonl.gz, which is not writable",
}


@pytest.mark.parametrize("kind", list(STORE_WORDS))
def test_an_unwritable_store_stops_run_before_anything_starts(sandbox, unwritable, kind):
    """`lab run` into a store that is a file, under a file, read-only, or immutable: 254, one sentence, nothing started or written."""
    store = unwritable(kind)
    before = tree(sandbox)
    done = lab(sandbox, store, "run", "healthy")
    assert_bad_input(done, STORE_WORDS[kind], sandbox, before)
    assert "LAB_RESULTS" in done.stderr


@pytest.mark.parametrize("argv", [
    ["fuzz", "healthy", "--examples", "1"],
    ["replay", A_FINDING, "--runs", "1"],
    ["matrix", "--celery", "5.7", "--scenario", "healthy", "--runs", "1"],
    ["run", "healthy", "--celery", "5.7"],
    ["attach", "healthy", "--app-spec", "{sandbox}/app-spec.json"],
], ids=lambda a: " ".join(a[:2]))
def test_every_command_that_writes_the_store_checks_it_first(sandbox, unwritable, argv):
    """fuzz, replay, matrix, run --celery and attach check the store once, before they start anything."""
    store = unwritable("read-only-mount")
    before = tree(sandbox)
    done = lab(sandbox, store, *[a.format(sandbox=sandbox) for a in argv])
    assert_bad_input(done, STORE_WORDS["read-only-mount"], sandbox, before)


def test_the_store_is_checked_once_the_options_are_parsed(sandbox, unwritable):
    """A bad option is still the sentence the user sees, and --help still works; good options meet the store check."""
    store = unwritable("file")
    done = lab(sandbox, store, "run", "healthy", "--seed", "x")
    assert done.returncode == 254 and "'x' is not a valid integer" in done.stderr
    assert lab(sandbox, store, "run", "--help").returncode == 0
    before = tree(sandbox)
    assert_bad_input(lab(sandbox, store, "run", "healthy", "--seed", "3"), STORE_WORDS["file"], sandbox, before)


# -- report --output --------------------------------------------------------------------------------


def test_report_into_a_missing_folder_is_254(sandbox):
    """`lab report --output missing/RESULTS.md`: 254, one sentence naming the folder; nothing written."""
    before = tree(sandbox)
    done = lab(sandbox, sandbox / "store", "report", "--output", str(sandbox / "missing" / "RESULTS.md"))
    assert_bad_input(done, f"the folder {sandbox / 'missing'} does not exist", sandbox, before)


def test_report_into_a_read_only_folder_is_254(sandbox, unwritable):
    """`lab report --output` into a read-only mount: 254, one sentence; no temporary file left."""
    folder = unwritable("read-only-mount")
    before = tree(sandbox)
    done = lab(sandbox, sandbox / "store-elsewhere", "report", "--output", str(folder / "RESULTS.md"))
    assert_bad_input(done, "cannot be written", sandbox, before)


# -- --celery outside the supported range -------------------------------------------------------------


@pytest.mark.parametrize("argv", [["run", "healthy", "--celery", "9.9"], ["matrix", "--celery", "9.9"],
                                  ["matrix", "--celery", "5.7,9.9.1"]], ids=" ".join)
def test_a_celery_version_outside_the_range_is_254_and_leaves_no_folder(sandbox, argv):
    """`--celery 9.9`: 254 before any environment is made or resolved; no runs/versions-* (or any) folder left."""
    store = sandbox / "store"
    store.mkdir()
    before = tree(sandbox)
    done = lab(sandbox, store, *argv)
    assert_bad_input(done, "newer than the lab supports", sandbox, before)


# -- scenario fields that used to fail only after processes started ----------------------------------


@pytest.mark.parametrize("extra, words", [
    ("faults=(Fault('kill-worker', target='w1', delay='soon'),)", "faults[0].delay is 'soon'"),
    ("config={'task_routes': 5}", "config['task_routes'] is 5"),
    ("config={'task_routes': {'lab.*': 5}}", "config['task_routes'] is"),
    ("config={'accept_content': {'json'}}", "config['accept_content'] is {'json'}; Celery's accept_content takes a list"),
    ("config={'task_acks_late': 'yes'}", "takes a bool"),
    ("faults=(Fault('pause-worker', target='w1', options={'for': 'ever'}),)", "faults[0].options['for'] is 'ever'"),
    ("chords=(Chord(callback_options={'countdown': 'later'}),)", "chords[0].callback_options['countdown']"),
], ids=lambda v: v[:40] if isinstance(v, str) else None)
def test_a_bad_scenario_field_is_254_before_anything_starts(sandbox, extra, words):
    """A scenario script whose field is wrong in a way Celery or the nemesis only noticed once running: 254 at load."""
    script = sandbox / "bad_field.py"
    script.write_text("import re\nfrom lab import Chord, Fault, Scenario, Worker\n"
                      f"scenario = Scenario(name='bad-field', description='d', expect='completed', workers=(Worker('w1'),), {extra})\n")
    store = sandbox / "store"
    before = tree(sandbox)
    done = lab(sandbox, store, "run", str(script))
    assert_bad_input(done, words, sandbox, before)
