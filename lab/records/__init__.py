"""Records: every run, stored whole, appended atomically.

    scenario → topology up → chords sent → observations → verdict → **record** → RESULTS.md

The store is ``results/`` (or ``$LAB_RESULTS``).  ``records/<campaign>.jsonl.gz``
holds one JSON line per run (the scenario, seed, versions, git revision, the
command to replay, the raw observations and the verdicts), gzip-compressed, one
file per campaign: a named batch of runs.  A run goes to the campaign named by
``$LAB_CAMPAIGN``, else to ``runs-<UTC year-month>``.  A record is one gzip
member of one line, written with one ``write`` under a file lock, flushed and
fsynced, so a crash never leaves half a record; a reader skips a torn last
member instead of failing (``lab/records/gzjsonl.py``, the file format).
``lab records compact`` rewrites each campaign as one member, which compresses
far better; ``lab records migrate`` moves an older lab's ``runs.jsonl`` (plain
lines, still read) into campaigns.  ``load_all`` reads ``runs.jsonl`` first,
then the campaigns in name order, each in the order it was appended; a run id
seen twice (a migration cut short) is read once.  ``runs/<run id>/`` holds the
run's logs, ledger and timeline.  A live run holds a lock on its folder; the
folder of a run killed before it was recorded goes to ``runs/_orphaned/``
(``orphaned_run_dirs``, called by the next run and by ``lab clean``).
``merge(other_store)`` brings another store's records in (a shard's, from another machine or
``lab fuzz --jobs``): each run id once, each into the campaign of the same name, so merging the
same store twice adds nothing the second time.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import secrets
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from lab.records import gzjsonl
from lab.errors import LabError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def store_dir() -> Path:
    return Path(os.environ.get("LAB_RESULTS") or PROJECT_ROOT / "results")


def legacy_runs_file(store: Path | None = None) -> Path:
    """The plain JSON Lines file an older lab appended every run to; read, never written."""
    return (store or store_dir()) / "runs.jsonl"


def records_dir(store: Path | None = None) -> Path:
    return (store or store_dir()) / "records"


CAMPAIGN_SUFFIX = ".jsonl.gz"
# A file name on every system, and no path: the name is the campaign's only label.
CAMPAIGN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def campaign() -> str:
    """The campaign new runs go to: ``$LAB_CAMPAIGN``, else ``runs-<UTC year-month>``; LabError (254) for a bad name."""
    name = os.environ.get("LAB_CAMPAIGN") or f"runs-{time.strftime('%Y-%m', time.gmtime())}"
    if not CAMPAIGN_NAME.fullmatch(name):
        raise LabError(f"LAB_CAMPAIGN={name!r} cannot name a campaign: use up to 100 letters, digits, '.', '_' "
                       "or '-', starting with a letter or digit.")
    return name


def campaign_file(name: str | None = None, store: Path | None = None) -> Path:
    return records_dir(store) / f"{name or campaign()}{CAMPAIGN_SUFFIX}"


def campaign_files(store: Path | None = None) -> list[Path]:
    """Every campaign file of the store, in name order (the order ``load_all`` reads them)."""
    try:
        return sorted((p for p in records_dir(store).iterdir()
                       if p.name.endswith(CAMPAIGN_SUFFIX) and not p.name.startswith(".") and p.is_file()),
                      key=lambda p: p.name)
    except OSError:  # no records/ yet
        return []


def runs_file() -> Path:
    """Where the next run is appended: the current campaign's file."""
    return campaign_file()


def record_files(path: Path | None = None) -> list[Path]:
    """The files ``load_all`` reads, in order: a store's ``runs.jsonl`` and campaigns, or one file."""
    if path is None:
        path = store_dir()
        if not path.is_dir():  # no store yet (or a file where it should be: check_store_writable says so)
            return []
    path = Path(path)
    if not path.is_dir():
        return [path] if path.exists() else []
    legacy = legacy_runs_file(path)
    return ([legacy] if legacy.is_file() else []) + campaign_files(path)


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


_same_file = gzjsonl.same_file


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
    ref = scenario_ref if scenario_ref.startswith("--app ") else shlex.quote(scenario_ref)  # a user's project: its own arguments
    return f"python -m lab run {ref} --seed {seed}" + (f" --celery {celery}" if celery else "")


def diagnoses_file(store: Path | None = None) -> Path:
    """Saved doctor diagnoses (``lab doctor --save``): what was read and judged, one record a line."""
    return (store or store_dir()) / "diagnoses.jsonl"


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), default=repr) + "\n").encode()


def append(record: dict[str, Any], *, path: Path | None = None, latest: bool = True) -> Path:
    """Append one whole record to the current campaign (or to ``path``: gzip if it ends in .gz, else plain lines), atomically."""
    path = path or runs_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = _line(record)
    if path.name.endswith(".gz"):
        gzjsonl.append_line(path, line)
    else:
        _append_plain(path, line)
    if latest:
        tmp = store_dir() / f".latest-{os.getpid()}"
        tmp.write_text(record["run_id"])
        os.replace(tmp, store_dir() / "latest")
    return path


def _append_plain(path: Path, line: bytes) -> None:
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


def _lines(path: Path) -> Iterator[bytes]:
    if path.name.endswith(".gz"):
        yield from gzjsonl.read_lines(path)
        return
    try:
        with open(path, "rb") as f:
            yield from f
    except FileNotFoundError:
        return


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None  # a torn line: not a record
    return rec if isinstance(rec, dict) and "run_id" in rec else None


def load_all(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every stored record, in store order (see the module docstring).

    ``path``: another store folder, or one file (a campaign, a plain ``.jsonl``); default the store.
    """
    seen: set[str] = set()
    for f in record_files(path):
        for line in _lines(f):
            rec = _parse(line)
            if rec is not None and rec["run_id"] not in seen:
                seen.add(rec["run_id"])
                yield rec


def newest(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run recorded last: latest to finish (start + elapsed), the later one in store order on a tie."""
    def finished(i_rec: tuple[int, dict[str, Any]]) -> tuple[float, int]:
        i, r = i_rec
        return (r.get("started_at") or 0) + (r.get("elapsed_s") or 0), i
    return max(enumerate(recs), key=finished)[1]


def find(ref: str) -> dict[str, Any]:
    """A stored run by id, id prefix, or ``latest`` (the run last recorded here, else the last to finish)."""
    if ref == "latest":
        latest = store_dir() / "latest"
        if latest.exists():
            ref = latest.read_text().strip()
        else:
            # store order is not time order (campaigns are read by name), so the newest is looked for
            recs = list(load_all())
            if not recs:
                raise LabError(f"no stored runs in {store_dir()}: run one with `python -m lab run split-queues`.")
            return newest(recs)
    matches = [r for r in load_all() if r["run_id"] == ref or r["run_id"].startswith(ref)]
    if not matches and ref.startswith("doctor-"):  # a saved diagnosis
        matches = [r for r in load_all(diagnoses_file()) if r["run_id"] == ref or r["run_id"].startswith(ref)]
    if not matches:
        raise LabError(f"no stored run matches {ref!r} in {store_dir()}: `python -m lab show latest` shows the newest.")
    return matches[-1]


# -- keeping the store small: compaction, and the one-time move out of runs.jsonl ------------


def compact(store: Path | None = None) -> list[tuple[str, int, int, int]]:
    """Rewrite every campaign as one gzip member, keeping every record; (campaign, bytes before, after, records) each."""
    done = []
    for f in campaign_files(store):
        before, after, n = gzjsonl.compact(f, keep=lambda line: _parse(line) is not None)
        done.append((f.name[:-len(CAMPAIGN_SUFFIX)], before, after, n))
    return done


def _store_folder(rec: dict[str, Any]) -> str:
    """The name of the store a record was first written in (its run folder's grandparent)."""
    run_dir = str(rec.get("run_dir") or "")
    return Path(run_dir.rsplit("/runs/", 1)[0]).name if "/runs/" in run_dir else ""


def _label(folder: str, recs: list[dict[str, Any]]) -> str:
    """A campaign's label from what its records say: their store's name, and docker if they all ran there."""
    words = [w for w in re.split(r"[^a-z0-9]+", folder.lower()) if w and w not in {"results", "staging", "store", "runs"}]
    if recs and "docker" not in words and all(((r.get("observations") or {}).get("topology") or {}).get("runtime")
                                              == "docker" for r in recs):
        words.append("docker")
    return "-".join(words) or "runs"


def legacy_campaigns(lines: list[bytes]) -> list[tuple[str, list[bytes]]]:
    """``runs.jsonl``'s records as campaigns: each run of consecutive records written in one store is one.

    Named ``<UTC date of the first run>-<n>-<label>``: one date and a counter, so name
    order (the order ``load_all`` reads) is the order of the old file, and RESULTS.md,
    which takes each scenario's last run, is the same after the move.
    """
    recs = [(line, rec) for line in lines if (rec := _parse(line)) is not None]
    groups: list[tuple[str, list[tuple[bytes, dict]]]] = []
    for line, rec in recs:
        folder = _store_folder(rec)
        if not groups or groups[-1][0] != folder:
            groups.append((folder, []))
        groups[-1][1].append((line, rec))
    if not groups:
        return []
    day = time.strftime("%Y-%m-%d", time.gmtime(min(r.get("started_at") or 0 for _, r in recs)))
    width = len(str(len(groups)))
    return [(f"{day}-{n:0{width}d}-{_label(folder, [r for _, r in members])}", [line for line, _ in members])
            for n, (folder, members) in enumerate(groups, 1)]


def migrate(store: Path | None = None) -> dict[str, Any] | None:
    """Move ``runs.jsonl`` into campaign files, losslessly, then remove it; None if there is none.

    Each record's line is copied byte for byte; every campaign written is read back
    and compared (bytes and parsed objects) before ``runs.jsonl`` goes.  The old
    file stays locked throughout, as an older lab's appender locks it.  Cut short,
    it leaves both forms, which read the same (a run id is read once); run it again.
    """
    legacy = legacy_runs_file(store)
    try:
        fd = os.open(legacy, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        lines = [line if line.endswith(b"\n") else line + b"\n" for line in _lines(legacy)]
        skipped = sum(1 for line in lines if _parse(line) is None)
        campaigns = legacy_campaigns(lines)
        records_dir(store).mkdir(parents=True, exist_ok=True)
        for name, members in campaigns:
            target = campaign_file(name, store)
            try:
                gzjsonl.write_atomic(target, members, replace=False)
            except FileExistsError:  # a migration cut short wrote it; the check below says if it is this one
                pass
            back = list(gzjsonl.read_lines(target))
            if back != members or [json.loads(b) for b in back] != [json.loads(m) for m in members]:
                raise LabError(f"{target} already exists and holds other records than {legacy} would put there; "
                               "move it aside, then run `python -m lab records migrate` again.")
        os.unlink(legacy)
        gzjsonl.fsync_dir(legacy.parent)
    finally:
        os.close(fd)
    return {"legacy_bytes": size, "records": len(lines) - skipped, "skipped": skipped,
            "campaigns": [(name, len(members), campaign_file(name, store).stat().st_size) for name, members in campaigns]}


# -- merging another store in (the shards of one campaign) -----------------------------------


def _campaigns_of(store: Path) -> list[tuple[str, list[bytes]]]:
    """A store's records as (campaign name, lines): its campaigns by file name, an older ``runs.jsonl`` as
    ``lab records migrate`` would name its parts."""
    found: list[tuple[str, list[bytes]]] = []
    legacy = legacy_runs_file(store)
    if legacy.is_file():
        lines = [line if line.endswith(b"\n") else line + b"\n" for line in _lines(legacy)]
        found += legacy_campaigns(lines)
    for f in campaign_files(store):
        found.append((f.name[:-len(CAMPAIGN_SUFFIX)], list(_lines(f))))
    return found


def merge(source: Path, *, store: Path | None = None, copy_runs: bool = True) -> dict[str, int]:
    """Every record of the store ``source`` not yet in ``store`` (default: the current one), appended to it.

    A record is known by its run id: one already in the store (in any campaign) is left out, so nothing
    is stored twice and merging again adds nothing.  Each goes to the campaign of the same name, the new
    ones of a campaign as one gzip member (one write: a crash adds all of them or none).  Saved doctor
    diagnoses likewise.  ``copy_runs``: also copy the run folders (logs, ledger) the store lacks.
    Returns counts: ``added``, ``present`` (already there), ``run_folders`` copied."""
    import shutil

    source, target = Path(source), Path(store or store_dir())
    seen = {r["run_id"] for r in load_all(target)}
    added = present = 0
    for name, lines in _campaigns_of(source):
        new = []
        for line in lines:
            rec = _parse(line)
            if rec is None:
                continue
            if rec["run_id"] in seen:
                present += 1
                continue
            seen.add(rec["run_id"])
            new.append(line if line.endswith(b"\n") else line + b"\n")
        if new:
            path = campaign_file(name, target)
            path.parent.mkdir(parents=True, exist_ok=True)
            gzjsonl.append_line(path, b"".join(new))
            added += len(new)
    diag_seen = {r["run_id"] for r in load_all(diagnoses_file(target))}
    new_diag = []
    for line in _lines(diagnoses_file(source)):
        rec = _parse(line)
        if rec is None:
            continue
        if rec["run_id"] in diag_seen:
            present += 1
            continue
        diag_seen.add(rec["run_id"])
        new_diag.append(line if line.endswith(b"\n") else line + b"\n")
    if new_diag:
        target.mkdir(parents=True, exist_ok=True)
        _append_plain(diagnoses_file(target), b"".join(new_diag))
        added += len(new_diag)
    copied = 0
    runs = source / "runs"
    if copy_runs and runs.is_dir() and runs.resolve() != (target / "runs").resolve():
        for d in sorted(p for p in runs.iterdir() if p.is_dir() and p.name[0] not in "._"):
            dest = target / "runs" / d.name
            if dest.exists() or (d / RUN_LOCK).exists():  # there already, or a run still live (or killed) there
                continue
            shutil.copytree(d, dest, symlinks=True)
            copied += 1
    return {"added": added, "present": present, "run_folders": copied}


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
    target = runs_file()  # a bad LAB_CAMPAIGN is bad input too
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
    # what a run writes into besides the store itself: runs/ (a folder per run), records/ and
    # the campaign's file (appended to); runs.jsonl is only read now
    for path, kind in ((store / "runs", "folder"), (records_dir(store), "folder"), (target, "file")):
        if not path.exists():
            continue
        name = path.relative_to(store)
        if (kind == "folder") != path.is_dir():
            raise LabError(f"{named} holds {name}, which is not a {kind}: remove it, or {fix}.")
        if not _writable(path):
            raise LabError(f"{named} holds {name}, which {_why_not_writable(path)}: {fix}.")
    return store


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0))


def _why_not_writable(path: Path) -> str:
    return "is on a read-only mount" if os.statvfs(path).f_flag & os.ST_RDONLY else "is not writable"
