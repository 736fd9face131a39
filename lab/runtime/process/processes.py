"""Processes: every OS process the lab starts is owned, and dies with the run.

    scenario → **topology up** → chords sent → observations → verdict → record

This module is the bottom of "topology up".  It starts and stops OS processes
(``redis-server``, ``celery worker``) and nothing else: it knows no Celery and
no Redis.  ``ProcessOwner`` is a context manager that owns every process of one
run; when the ``with`` block ends (normally, on an exception, on Ctrl-C, or on
SIGTERM/SIGHUP once ``install_signal_handlers()`` is called) it SIGKILLs every
owned process group and reaps it, within a bound.

How a run's processes are guaranteed to die with it, from strongest to weakest:

1. Each node runs in its own session, so its process group holds the node and
   everything it forks (a prefork worker's pool children).  Teardown SIGKILLs
   the whole group: no warm shutdown, no sleeps.
2. A reaper (``lab/runtime/process/reaper.py``), one per owner, in its own session and deaf to
   SIGINT/SIGTERM/SIGHUP, is told every process group id over a pipe.  If the
   lab process dies, even by SIGKILL, the pipe reads EOF and the reaper SIGKILLs
   every group it was told about.
3. Each node also gets ``PR_SET_PDEATHSIG = SIGKILL`` (Linux), so the node's
   leader dies with the thread that spawned it.  This is set only when spawning
   from the main thread: the kernel fires it when the *spawning thread* exits.

The lab process also becomes a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``)
so orphaned grandchildren (pool children whose worker died) are re-parented to
the lab, which reaps them on teardown instead of leaving zombies behind when
PID 1 does not reap (as in some containers).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from lab.errors import LabError, LabSetupError

__all__ = ["NodeNotReady", "NodeLost", "Node", "ProcessOwner", "Stopped", "install_signal_handlers", "free_port"]

POLL_INTERVAL = 0.02       # wait_for_log poll period
REAP_BOUND = 5.0           # the longest teardown waits for SIGKILLed processes to be reaped
REAPER_SCRIPT = Path(__file__).with_name("reaper.py")

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_LINUX = sys.platform.startswith("linux")
_libc = None
if _LINUX:
    try:
        _libc = ctypes.CDLL(None, use_errno=True)  # loaded here, never inside a forked child
    except OSError:  # pragma: no cover - no libc: fall back to groups + reaper
        _libc = None

_retired_reapers: list[subprocess.Popen] = []  # closed reapers not yet reaped
_subreaper_lock = threading.Lock()
_subreaper_set = False


class NodeNotReady(LabError):
    """A node did not show what was awaited within its bound (or exited first).

    The message is one plain sentence; the parts are also attributes.
    """

    def __init__(self, message: str, *, node: str, pattern: str, timeout: float,
                 last_line: str | None, returncode: int | None):
        super().__init__(message)
        self.node = node
        self.pattern = pattern
        self.timeout = timeout
        self.last_line = last_line
        self.returncode = returncode


class NodeLost(LabError):
    """A node the run needs died, and no fault of the scenario took it down: the run can tell nothing.

    Exit code 2 (unknown), as a verdict the evidence cannot decide.  The message names the node,
    its pid and how it died.
    """

    exit_code = 2


def describe_exit(code: int | None) -> str:
    """How a process ended, in words: "killed by SIGKILL", "exit code 1"."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (callers retry on collision)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stopped(SystemExit):
    """SIGTERM or SIGHUP asked the lab to stop: ``SystemExit(128 + signum)``, naming the signal."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signal_name = signal.Signals(signum).name


# Frames where an exception raised by a signal handler would not unwind cleanly: inside an import (a
# module half made), a class being made (3.11 turns it into "RuntimeError: Error calling __set_name__"),
# or a finalizer ("Exception ignored in", with a traceback).
# Where Python swallows an exception ("Exception ignored in"): finalizers, and logging's at-fork lock handlers,
# which run around every subprocess spawn.
_UNSAFE_NAMES = frozenset({"__set_name__", "__init_subclass__", "__del__", "_releaseLock", "_acquireLock",
                           "_after_at_fork_child_reinit_locks"})
_CO_OPTIMIZED = 0x1
REDELIVER_S = 0.01  # how soon a deferred stop looks again for a safe point


def _unsafe_point(frame) -> str | None:
    """Why raising in ``frame`` (the code a signal interrupted) would not unwind cleanly, or None."""
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith("<frozen importlib"):
            return "an import"
        if code.co_name in _UNSAFE_NAMES:
            return code.co_name
        if code.co_filename.endswith(("/weakref.py", "/_weakrefset.py")):  # a weakref callback: Python ignores what it raises
            return "a weakref callback"
        if not code.co_flags & _CO_OPTIMIZED and code.co_name != "<module>":
            return "a class body"
        frame = frame.f_back
    return None


def _redeliver(signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pthread_kill(threading.main_thread().ident, signum)


_STOPS: list[int] = []  # the stop signals raised in the main thread, in order


def stop_requested() -> int | None:
    """The first stop signal this process was asked to stop by, or None."""
    return _STOPS[0] if _STOPS else None


def install_signal_handlers() -> None:
    """SIGTERM → ``Stopped`` (``SystemExit(143)``), SIGHUP → ``Stopped`` (129), SIGINT → ``KeyboardInterrupt``.

    Raised in the main thread, so ``with ProcessOwner(...)`` blocks unwind and
    tear down, but only at a safe point: a signal that lands inside an import,
    a class definition or a finalizer is delivered again a moment later, until
    it lands outside.  Call from the main thread; calling again is harmless.
    """
    def handler(signum, frame):
        if _unsafe_point(frame):
            timer = threading.Timer(REDELIVER_S, _redeliver, (signum,))
            timer.daemon = True
            timer.start()
            return
        _STOPS.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, handler)


def ignore_stop_signals() -> None:
    """The lab is exiting anyway: a stop signal now (during atexit, finalizers) would only print a traceback."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


@atexit.register
def _reap_retired_reapers() -> None:
    deadline = time.monotonic() + 1.0
    for r in _retired_reapers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            r.wait(timeout=max(0.0, deadline - time.monotonic()))


def _become_subreaper() -> None:
    global _subreaper_set
    if not _LINUX or _libc is None or _subreaper_set:
        return
    with _subreaper_lock:
        if not _subreaper_set:
            _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            _subreaper_set = True


def _preexec_pdeathsig(parent_pid: int):
    def preexec() -> None:  # runs in the child between fork and exec: keep it tiny
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def _deaf_to_stop_signals() -> None:
    """In the reaper's child, before exec: ignore dispositions survive exec, so it is deaf from birth."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM/SIGHUP while tearing down; they are delivered right after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_members(pgids: set[int]) -> list[int]:
    """Every live pid (zombies included) whose process group is one of ``pgids``."""
    found = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) in pgids:
                found.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def _teardown(nodes: list["Node"], bound: float) -> None:
    """SIGKILL the nodes' groups (and descendants that left them), reap within ``bound``."""
    deadline = time.monotonic() + bound
    nodes = [n for n in nodes if not n._torn_down]  # never signal a group we already reaped: its id may be reused
    pgids = {n.pid for n in nodes}
    # Descendants that left the group (setsid) are found by parentage before the kill.
    escaped: list[psutil.Process] = []
    for n in nodes:
        if n._popen.returncode is None:
            with contextlib.suppress(psutil.Error):
                escaped += [c for c in psutil.Process(n.pid).children(recursive=True)]
    for pgid in pgids:
        _killpg(pgid, signal.SIGKILL)
    for proc in escaped:
        with contextlib.suppress(psutil.Error):
            proc.kill()  # psutil refuses if the pid was reused
    for n in nodes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            n._popen.wait(timeout=max(0.0, deadline - time.monotonic()))
    # Orphans re-parented to us (subreaper) are zombies until we reap them.
    leaders = {n.pid for n in nodes}
    pending = {p.pid for p in escaped} | set(_group_members(pgids))
    pending -= leaders
    while pending:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child: its own parent reaps it
                done = pid
            if done:
                pending.discard(pid)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.001)
    for n in nodes:
        n._torn_down = True


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class LogFile:
    """A node's output file, read from where this life of the node began (``log_path``, ``log_offset``)."""

    log_path: Path
    log_offset: int

    def log_size(self) -> int:
        """Current byte size of the log file (pass as ``since`` to the next wait)."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self) -> str:
        """This node's output (from where it started in the log file; earlier lives excluded)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def last_log_line(self) -> str | None:
        """The last non-empty line of this node's output, or None."""
        lines = [ln.strip() for ln in self.log_text().splitlines() if ln.strip()]
        return lines[-1] if lines else None


class Node(LogFile):
    """One OS process (and its process group) owned by a ``ProcessOwner``."""

    def __init__(self, owner: "ProcessOwner", name: str, argv: list[str], popen: subprocess.Popen,
                 log_path: Path, log_offset: int, started_at: float):
        self.owner = owner
        self.name = name
        self.argv = list(argv)
        self.pid = popen.pid            # also the process group id (own session)
        self.log_path = log_path
        self.log_offset = log_offset    # where this node's output starts in log_path
        self.started_at = started_at    # time.time() at spawn
        self._popen = popen
        self._torn_down = False

    def __repr__(self) -> str:
        state = "alive" if self.alive() else _describe_exit(self._popen.returncode)
        return f"<Node {self.name} pid={self.pid} {state}>"

    # -- the log: LogFile's; wait_for_log also watches the process ---------------
    def wait_for_log(self, pattern: str, timeout: float, *, since: int | None = None,
                     give_up: Callable[[], str | None] | None = None) -> re.Match:
        """Poll the log for a line matching ``pattern`` (``re.search`` per line).

        Starts at byte offset ``since`` (default: where this node's output
        starts).  Returns the match; raises ``NodeNotReady`` when ``timeout``
        seconds pass, when the process exits without having logged it, or as
        soon as ``give_up()`` (asked every poll) returns a reason: something
        the node needs is gone, so the line will never come.
        """
        rx = re.compile(pattern)
        offset = self.log_offset if since is None else since
        deadline = time.monotonic() + timeout
        pending = b""
        with contextlib.ExitStack() as stack:
            f = None
            while True:
                exited = self._popen.poll() is not None  # before reading: output precedes exit
                if f is None:
                    try:
                        f = stack.enter_context(open(self.log_path, "rb"))
                        f.seek(offset)
                    except FileNotFoundError:
                        f = None
                if f is not None:
                    chunk = f.read()
                    if chunk:
                        pending += chunk
                        *lines, pending = pending.split(b"\n")
                        if exited:  # no more output will come: the tail is a whole line
                            lines.append(pending)
                            pending = b""
                        for raw in lines:
                            m = rx.search(raw.decode("utf-8", "replace").rstrip("\r"))
                            if m:
                                return m
                    elif exited and pending:
                        m = rx.search(pending.decode("utf-8", "replace").rstrip("\r"))
                        pending = b""
                        if m:
                            return m
                if exited:
                    raise self._not_ready(pattern, timeout, self._popen.returncode)
                if time.monotonic() >= deadline:
                    raise self._not_ready(pattern, timeout, None)
                reason = give_up() if give_up is not None else None
                if reason:
                    raise self._not_ready(pattern, timeout, None, gave_up=reason)
                time.sleep(POLL_INTERVAL)

    def _not_ready(self, pattern: str, timeout: float, returncode: int | None, *,
                   gave_up: str | None = None) -> NodeNotReady:
        last = self.last_log_line()
        if last is not None and len(last) > 300:
            last = last[:297] + "..."
        seen = f"last log line: {last!r}" if last is not None else "it logged nothing"
        if gave_up:
            msg = f"Node {self.name!r} had not logged a line matching {pattern!r} when {gave_up}; {seen}."
        elif returncode is None:
            msg = (f"Node {self.name!r} did not log a line matching {pattern!r} "
                   f"within {timeout:g} s; {seen}.")
        else:
            msg = (f"Node {self.name!r} {_describe_exit(returncode)} before logging a line matching "
                   f"{pattern!r} (waited up to {timeout:g} s); {seen}.")
        return NodeNotReady(msg, node=self.name, pattern=pattern, timeout=timeout,
                            last_line=last, returncode=returncode)

    # -- the process -----------------------------------------------------------
    def alive(self) -> bool:
        """True while the node's own process has not exited (a paused node is alive)."""
        return self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def send_signal(self, sig: int, *, group: bool = True) -> None:
        """Send ``sig`` to the node's process group (default) or to its own process only.

        A node that is already gone is not an error.
        """
        if group:
            _killpg(self.pid, sig)
        elif self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the node's process group and reap it (bounded). Idempotent."""
        with _signals_deferred():
            _teardown([self], REAP_BOUND)
            self.owner._forget(self.pid)

    def pause(self) -> None:
        """SIGSTOP the whole group (a frozen node: sockets stay open, nothing answers)."""
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the whole group."""
        self.send_signal(signal.SIGCONT)

    def children_pids(self) -> list[int]:
        """Descendant pids of the node, plus any other member of its group (e.g. orphaned pool children)."""
        pids: set[int] = set()
        with contextlib.suppress(psutil.Error):
            pids.update(c.pid for c in psutil.Process(self.pid).children(recursive=True))
        pids.update(_group_members({self.pid}))
        pids.discard(self.pid)
        alive = []
        for pid in sorted(pids):
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
        return alive


class ProcessOwner:
    """Owns every process of one run; ``with`` it, and they all die when the block ends."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.nodes: list[Node] = []
        self._reaper: subprocess.Popen | None = None
        self._told: set[int] = set()   # pgids the current reaper knows about
        self._lock = threading.Lock()
        self._stop_s: float | None = None
        self._cleanups: dict[str, Any] = {}  # reaper line (a JSON argv) → what runs it in-process at stop_all
        _become_subreaper()

    def __enter__(self) -> "ProcessOwner":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.stop_all()
        return False

    def __repr__(self) -> str:
        return f"<ProcessOwner {self.run_dir} nodes={[n.name for n in self.nodes]}>"

    # -- the reaper ------------------------------------------------------------
    def _start_reaper(self) -> None:
        """Start the reaper without waiting for it; it reads pgids from its stdin pipe."""
        self._reaper = subprocess.Popen(
            [sys.executable, "-I", "-S", str(REAPER_SCRIPT)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True, preexec_fn=_deaf_to_stop_signals)
        self._told = set()

    def _tell(self, line: str) -> None:
        for attempt in range(2):
            if self._reaper is None or self._reaper.poll() is not None:
                self._start_reaper()
                live = {n.pid for n in self.nodes if n._popen.poll() is None}
                payload = "".join(f"{p}\n" for p in live) + "".join(f"!{c}\n" for c in self._cleanups)
            else:
                payload = ""
            try:
                self._reaper.stdin.write((payload + line).encode())
                self._reaper.stdin.flush()
                return
            except (OSError, ValueError):
                self._reaper = None  # died under us: start another and tell it everything
        raise LabSetupError("The lab's process reaper could not be started; check that "
                            f"{sys.executable} can run {REAPER_SCRIPT}.")

    def _register(self, pgid: int) -> None:
        with self._lock:
            self._tell(f"{pgid}\n")
            self._told.add(pgid)

    def add_cleanup(self, argv: list[str], now: Callable[[], None]) -> None:
        """Something outside the run's processes to undo (a vhost, a database): ``now()`` at ``stop_all``, or
        ``argv`` run by the reaper if the lab dies before that, even by SIGKILL."""
        line = json.dumps(argv)
        with self._lock:
            self._cleanups[line] = now
            self._tell(f"!{line}\n")

    def _run_cleanups(self) -> None:
        for line, now in list(self._cleanups.items()):
            with contextlib.suppress(Exception):  # a server gone meanwhile: the reaper's copy is all we have left
                now()
                with self._lock:
                    self._cleanups.pop(line, None)
                    if self._reaper is not None:
                        with contextlib.suppress(OSError, ValueError):
                            self._reaper.stdin.write(f"-!{line}\n".encode())
                            self._reaper.stdin.flush()

    def _forget(self, pgid: int) -> None:
        with self._lock:
            if self._reaper is not None and pgid in self._told:
                with contextlib.suppress(OSError, ValueError):
                    self._reaper.stdin.write(f"-{pgid}\n".encode())
                    self._reaper.stdin.flush()
                self._told.discard(pgid)

    def _close_reaper(self) -> None:
        with self._lock:
            reaper, self._reaper = self._reaper, None
            self._told = set()
        if reaper is None:
            return
        with contextlib.suppress(OSError, ValueError):
            reaper.stdin.close()  # EOF: the reaper kills what it still knows of (nothing) and exits
        # Not waited on (it may still be booting): reaped later, by the next close or at exit.
        _retired_reapers.append(reaper)
        _retired_reapers[:] = [r for r in _retired_reapers if r.poll() is None]

    # -- nodes -----------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], *, env: dict | None = None, cwd=None,
              log_path: Path | None = None) -> Node:
        """Start ``argv`` as node ``name`` in its own session, stdout+stderr to its log.

        ``env`` replaces the environment (as ``subprocess.Popen``).  The default
        log is ``run_dir/logs/<name>.log``; it is appended to, so a node started
        again under the same name keeps its earlier output (``Node.log_offset``).
        """
        log_path = Path(log_path) if log_path is not None else self.run_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._reaper is None:
                self._start_reaper()
        self._stop_s = None  # spawning again re-arms stop_all
        on_main = threading.current_thread() is threading.main_thread()
        preexec = _preexec_pdeathsig(os.getpid()) if (_libc is not None and on_main) else None
        with open(log_path, "ab") as log:
            offset = log.tell()
            started_at = time.time()
            try:
                popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=env, cwd=cwd, close_fds=True,
                                         preexec_fn=preexec)
            except (FileNotFoundError, PermissionError) as e:
                raise LabSetupError(f"Node {name!r} could not be started: {argv[0]!r} {e.strerror.lower()}.") from e
        node = Node(self, name, argv, popen, log_path, offset, started_at)
        self.nodes.append(node)
        self._register(node.pid)
        return node

    def stop_all(self) -> float:
        """SIGKILL every owned process group, reap them, close the reaper; return seconds taken.

        Idempotent: a second call does nothing and returns 0.0.
        """
        t0 = time.monotonic()
        with _signals_deferred():
            if self._stop_s is not None and self._reaper is None:
                return 0.0
            _teardown(list(self.nodes), REAP_BOUND)
            for n in self.nodes:
                self._forget(n.pid)
            self._run_cleanups()
            self._close_reaper()
            self._stop_s = time.monotonic() - t0
        return self._stop_s
