"""gzip JSON Lines: the file format of a campaign of records (``lab/records.py`` says what goes in it).

    scenario → topology up → chords sent → observations → verdict → **record** → RESULTS.md

A file is a run of gzip members, which gzip allows to be concatenated.  An
append is one whole member holding one line, written with one ``write`` under
an flock on the file, then fsynced: a crash can leave at most a torn *last*
member.  ``read_lines`` yields every whole line and skips a torn member with
no error, resuming at the next member header, so a torn member followed by
later appends loses only itself.  One-line members compress poorly, so
``compact`` rewrites a file as a single member: written beside it, fsynced,
renamed over it, under the same lock.  An appender that was waiting for the
lock sees that the file it opened is no longer the one at the path and
appends to the new one.  Standard library only; nothing here knows what a
record is.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import os
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

MAGIC = b"\x1f\x8b\x08"  # a gzip member's first bytes (deflate): where reading resumes after a torn member
CHUNK = 1 << 16


def member(data: bytes) -> bytes:
    """One gzip member; mtime 0, so the same lines always give the same bytes (git stores fewer versions)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def append_line(path: Path, line: bytes) -> None:
    """Append ``line`` (ending in a newline) as one whole gzip member: one write, under the file's lock, fsynced."""
    data = member(line)
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not same_file(fd, path):  # compacted while we waited for the lock: ours is the old file
                continue
            created = os.fstat(fd).st_size == 0
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # a new file's name must outlive a crash too
            fsync_dir(path.parent)
        return


def read_lines(path: Path) -> Iterator[bytes]:
    """Every whole line (with its newline) of every member, in file order.

    A member's last line is given only once the member's trailer (CRC and
    length) has been checked, so a one-line member (an append) is read whole or
    not at all.  A member the file ends inside (a crash mid-append), or one that
    does not decode, gives no more than the lines followed by more of it; reading
    resumes at the next member header after its start.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return
    view = memoryview(data)
    pos = 0
    while (start := data.find(MAGIC, pos)) >= 0:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing; the trailer's CRC is checked
        held, fed = b"", start  # the decoded bytes not given yet
        try:
            while not d.eof and fed < len(data):
                held += d.decompress(view[fed:fed + CHUNK])
                fed = min(fed + CHUNK, len(data))
                *whole, rest = held.split(b"\n")
                if whole and not rest:  # nothing after this line yet: it waits for more, or for the trailer
                    rest = whole.pop() + b"\n"
                held = rest
                for w in whole:
                    yield w + b"\n"
        except zlib.error:  # a torn member with later members appended after it, or damage
            pos = start + 1
            continue
        if not d.eof:  # the file ends inside this member
            pos = start + 1
            continue
        if held:  # a member ends a line even if its writer left out the newline
            yield held if held.endswith(b"\n") else held + b"\n"
        pos = fed - len(d.unused_data)


def compact(path: Path, keep: Callable[[bytes], bool] = lambda line: True) -> tuple[int, int, int]:
    """Rewrite ``path`` as one member holding its whole lines that ``keep`` keeps; (bytes before, after, lines).

    Under the lock appenders take, so no record lands in the file being replaced.
    """
    while True:
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not same_file(fd, path):  # another compaction replaced it first
                continue
            before = os.fstat(fd).st_size
            lines = [line for line in read_lines(path) if keep(line)]
            write_atomic(path, lines)
            return before, path.stat().st_size, len(lines)
        finally:
            os.close(fd)  # the lock goes with it: a waiting appender finds the new file


def write_atomic(path: Path, lines: Iterable[bytes], *, replace: bool = True) -> None:
    """Write ``lines`` as one gzip member at ``path`` whole or not at all: temp file, fsync, rename.

    ``replace=False``: FileExistsError instead of replacing a file already there (a hard link, which never clobbers).
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g:
                for line in lines:
                    g.write(line)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
            tmp.unlink()
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def same_file(fd: int, path: Path) -> bool:
    try:
        st, fst = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # one write on a local file; the loop only matters if the kernel writes less
        view = view[os.write(fd, view):]
