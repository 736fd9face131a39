"""Records: every run, stored whole, appended atomically.

    scenario → topology up → chords sent → observations → verdict → **record** → RESULTS.md

The store is ``results/`` (or ``$LAB_RESULTS``): ``runs.jsonl`` holds one line
per run with the scenario, seed, versions, git revision, the command to replay,
the raw observations and the verdicts; ``runs/<run id>/`` holds the run's logs,
ledger and timeline.  A record is one ``write`` of one line under a file lock,
flushed and fsynced, so a crash never leaves half a record; a reader skips a
torn last line instead of failing.  A live run holds a lock on its folder;
the folder of a run killed before it was recorded goes to ``runs/_orphaned/``
(``orphaned_run_dirs``, called by the next run and by ``lab clean``).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import secrets
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from lab.errors import LabError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def store_dir() -> Path:
    return Path(os.environ.get("LAB_RESULTS") or PROJECT_ROOT / "results")


def runs_file() -> Path:
    return store_dir() / "runs.jsonl"


def new_run_id(scenario: str) -> str:
    return f"{scenario}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def run_dir_for(run_id: str) -> Path:
    return store_dir() / "runs" / run_id


# -- a run's folder while it lives, and the folders of runs that were killed ----------------
#
# A live run holds an flock on ``runs/<id>/.run.lock`` for its whole life.  The
# kernel releases it however the run ends, SIGKILL included, so a folder whose
# lock can be taken, and whose run id is in no record, belongs to a run that
# died: it is moved to ``runs/_orphaned/<id>/`` (its logs and ledger may be
# evidence).  A folder with no lock file was not made by a locking run (a
# matrix's log folder, a fuzz session's, an older lab's) and is left alone.

RUN_LOCK = ".run.lock"
ORPHANED = "_orphaned"


class RunDirLock:
    """The lock a live run holds on its folder; ``release`` once the run is recorded or removed."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # Locked under a private name, then renamed: a sweeper never sees the lock file unlocked.
        tmp = self.run_dir / f"{RUN_LOCK}.{os.getpid()}"
        self.fd: int | None = os.open(tmp, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by workers (PEP 446)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        os.replace(tmp, self.run_dir / RUN_LOCK)

    def release(self) -> None:
        """Remove the lock file (a finished run's folder is no sweeper's business), then let go."""
        if self.fd is None:
            return
        try:
            path = self.run_dir / RUN_LOCK
            if _same_file(self.fd, path):
                path.unlink()
        except OSError:  # the folder went with the run (nothing recorded): nothing to remove
            pass
        os.close(self.fd)
        self.fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st, fst = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _take_dead_lock(run_dir: Path) -> int | None:
    """An fd holding ``run_dir``'s lock if its run is gone (no one holds it); else None."""
    path = run_dir / RUN_LOCK
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # no lock file: not a locking run's folder, or the run just finished
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: the run is alive
        os.close(fd)
        return None
    if not _same_file(fd, path):  # the run finished and removed it between our open and our lock
        os.close(fd)
        return None
    return fd


def orphaned_run_dirs(*, move: bool = True) -> list[str]:
    """Move run folders whose run was killed (lock free, no record) to ``runs/_orphaned/``; return their ids.

    ``move=False``: only find them.  Live runs hold their lock and are never touched.
    """
    runs = store_dir() / "runs"
    try:
        entries = sorted(p for p in runs.iterdir() if p.is_dir() and p.name[0] not in "._")
    except OSError:  # no store yet
        return []
    held = {p: fd for p in entries if (fd := _take_dead_lock(p)) is not None}
    if not held:
        return []
    try:
        # Read only now, with the locks held: a run that finished before we locked is in the records.
        recorded = {r["run_id"] for r in load_all()}
        found = []
        for path in held:
            if path.name in recorded:
                continue
            if move:
                target = runs / ORPHANED / path.name
                try:
                    target.parent.mkdir(exist_ok=True)
                    os.rename(path, target)
                except OSError:  # another sweeper moved it first, or the store is read-only: leave it
                    continue
            found.append(path.name)
        return found
    finally:
        for fd in held.values():
            os.close(fd)


def orphaned_line(ids: list[str], *, moved: bool = True) -> str:
    """One line saying which killed runs' folders were (or would be) quarantined, and where."""
    verb = "moved" if moved else "would move"  # the store's path is left out: a long one would wrap the line
    return f"{verb} {len(ids)} run folder(s) left without a record by a killed lab to runs/{ORPHANED}/: " + ", ".join(ids)


def versions(redis_server: str | None = None) -> dict[str, str | None]:
    def v(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "celery": v("celery"), "kombu": v("kombu"),
            "redis-py": v("redis"), "billiard": v("billiard"), "redis-server": redis_server}


def git_revision() -> str | None:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "lab", "scenarios"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + ("-dirty" if dirty else "")) if rev else None


def replay_command(scenario_ref: str, seed: int) -> str:
    celery = os.environ.get("LAB_CELERY_ENV")  # set by lab.experiments.matrix for a run inside a Celery version's environment
    return f"python -m lab run {shlex.quote(scenario_ref)} --seed {seed}" + (f" --celery {celery}" if celery else "")


def diagnoses_file() -> Path:
    """Saved doctor diagnoses (``lab doctor --save``): what was read and judged, one record a line."""
    return store_dir() / "diagnoses.jsonl"


def append(record: dict[str, Any], *, path: Path | None = None, latest: bool = True) -> Path:
    """Append one whole record to the store (runs.jsonl, or ``path``), atomically."""
    path = path or runs_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, separators=(",", ":"), default=repr) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # a torn line left by a crash mid-write (should never happen) must not swallow ours
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if latest:
        tmp = store_dir() / f".latest-{os.getpid()}"
        tmp.write_text(record["run_id"])
        os.replace(tmp, store_dir() / "latest")
    return path


def load_all(path: Path | None = None) -> Iterator[dict[str, Any]]:
    path = path or runs_file()
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn line: not a record
            if isinstance(rec, dict) and "run_id" in rec:
                yield rec


def find(ref: str) -> dict[str, Any]:
    """A stored run by id, id prefix, or ``latest``."""
    if ref == "latest":
        latest = store_dir() / "latest"
        if latest.exists():
            ref = latest.read_text().strip()
        else:
            recs = list(load_all())
            if not recs:
                raise LabError(f"no stored runs in {store_dir()}: run one with `python -m lab run split-queues`.")
            return recs[-1]
    matches = [r for r in load_all() if r["run_id"] == ref or r["run_id"].startswith(ref)]
    if not matches and ref.startswith("doctor-"):  # a saved diagnosis
        matches = [r for r in load_all(diagnoses_file()) if r["run_id"] == ref or r["run_id"].startswith(ref)]
    if not matches:
        raise LabError(f"no stored run matches {ref!r} in {runs_file()}: `python -m lab show latest` shows the newest.")
    return matches[-1]


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in ["python", "-m", "lab", *sys.argv[1:]])


# -- the store must be writable before a command starts anything -----------------------


def check_store_writable() -> Path:
    """The store, checked before a command that writes to it starts any process; LabError (254) if it cannot be written.

    Nothing is created here (a missing store is made by the first record), so for
    a store that does not exist yet the nearest folder above it must be writable.
    ``os.access`` is the test because it sees read-only mounts (EROFS) and
    immutable files (EPERM) even for root, whom permission bits do not stop.
    """
    store = store_dir()
    named = f"the results store {store}" + (" (LAB_RESULTS)" if os.environ.get("LAB_RESULTS") else "")
    fix = "point LAB_RESULTS at a writable folder (it is made if missing)"
    if store.exists() and not store.is_dir():
        raise LabError(f"{named} is a file, not a folder: {fix}.")
    if not store.exists():
        above = store.parent
        while not above.exists():
            above = above.parent
        if not above.is_dir():
            raise LabError(f"{named} cannot be made, because {above} is a file: {fix}.")
        if not _writable(above):
            raise LabError(f"{named} cannot be made, because {above} {_why_not_writable(above)}: {fix}.")
        return store
    if not _writable(store):
        raise LabError(f"{named} {_why_not_writable(store)}: {fix}.")
    # what a run writes into besides the store itself: runs/ (a folder per run), runs.jsonl (appended to)
    for path, kind in ((store / "runs", "folder"), (runs_file(), "file")):
        if not path.exists():
            continue
        if (kind == "folder") != path.is_dir():
            raise LabError(f"{named} holds {path.name}, which is not a {kind}: remove it, or {fix}.")
        if not _writable(path):
            raise LabError(f"{named} holds {path.name}, which {_why_not_writable(path)}: {fix}.")
    return store


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))


def _why_not_writable(path: Path) -> str:
    return "is on a read-only mount" if os.statvfs(path).f_flag & os.ST_RDONLY else "is not writable"
