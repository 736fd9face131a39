"""Reaper: kills a run's process groups when the lab process dies, however it dies.

    scenario → **topology up** → chords sent → observations → verdict → record

Part of "topology up", under ``lab.runtime.process.processes``: a ``ProcessOwner`` starts one
reaper (``python -I -S lab/runtime/process/reaper.py``; ``python -m lab.runtime.process.reaper`` works too) in
its own session and writes to its stdin one line per process group it owns:

    ``<pgid>``   remember this group
    ``-<pgid>``  forget it (the owner killed and reaped it already)
    ``!<json>``  remember a cleanup command (a JSON argv: drop the run's vhost or database)
    ``-!<json>`` forget it (the owner ran it already)

When stdin reads EOF (the owner closed the pipe, or the lab process died, even
by SIGKILL, and the kernel closed it), the reaper SIGKILLs every group it still
remembers, runs every cleanup command it still remembers, then exits.  It
ignores SIGINT, SIGTERM and SIGHUP: a Ctrl-C on the terminal goes to the lab's
whole foreground group, and the reaper must outlive the lab to do its job.  Standard library only, so it starts fast.
"""

import json
import os
import signal
import subprocess
import sys


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    groups: dict[int, None] = {}  # insertion-ordered set
    cleanups: dict[bytes, None] = {}
    stdin = sys.stdin.buffer
    while True:
        try:
            line = stdin.readline()
        except OSError:
            break
        if not line:
            break  # EOF: the owner is gone or done
        line = line.strip()
        try:
            if line.startswith(b"!"):
                cleanups[line[1:]] = None
            elif line.startswith(b"-!"):
                cleanups.pop(line[2:], None)
            elif line.startswith(b"-"):
                groups.pop(int(line[1:]), None)
            elif line:
                groups[int(line)] = None
        except ValueError:
            continue
    for pgid in groups:
        if pgid > 1:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for raw in cleanups:
        try:
            subprocess.run(json.loads(raw), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
        except (ValueError, TypeError, OSError, subprocess.SubprocessError):
            continue
    return 0


if __name__ == "__main__":
    sys.exit(main())
