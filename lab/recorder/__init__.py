"""The flight recorder: the lab's ledger, installed in a user's own Celery app.

    a user's app + ``install(app)`` → **recorded events** (a capped Redis stream) → observe/recorder.py → doctor

Inside the lab every proof rests on the ledger (``lab.observe.ledger``), the witness kept apart from
Celery.  ``install(app)`` puts the same witness in a deployment the lab did not start: the same Celery
signals, the same events (a task published, with its queue and exchange; started; ended, with its state;
discarded as unregistered; rejected; each with its group id, group index and chord callback id), written
to a capped store the user chooses:

- ``redis://host:port/db`` (a Redis stream, ``XADD ... MAXLEN ~ maxlen``, the key expiring ``ttl_s`` after
  the last event): on the broker, the backend, or another Redis;
- ``file:///path/to/folder``: the lab's own file ledger, one JSON Lines file per process.

The store is ``store``, else ``app.conf.lab_recorder``, else the app's broker when it is Redis.  A Redis store
is written off the task's path, by a thread of each process woken by each event (a process killed outright
loses what it had queued and not yet written: the events of one round trip to the store).  It never
raises into a task: when the store cannot be written it drops the events, counts them, backs off a second, logs
one warning per process, and writes a ``dropped`` event with the count once it can write again.  Task arguments, kwargs
and return values are left out unless ``arguments=True``; an error is kept as its type and first 200
characters.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lab.errors import LabError
from lab.observe import ledger

STREAM = "lab:recorder"  # the stream's key in the store
MAXLEN = 100_000  # events kept (approximately: Redis trims whole nodes)
TTL_S = 7 * 24 * 3600  # the stream expires this long after its last event
BACKOFF_S = 1.0  # after a failed write, drop (and count) events this long before trying again
BUFFER = 10_000  # events queued in a process before it drops (and counts) more
SOCKET_TIMEOUT_S = 0.25  # a write to a store that hangs holds the flusher no longer than this
PRIVATE = ("args", "kwargs", "result")  # kept only with arguments=True

log = logging.getLogger("lab.recorder")


class RecorderError(LabError):
    """The recorder cannot be installed as asked (a store it cannot write to)."""


@dataclass(eq=False)
class StreamSink:
    """Every ledger event into a capped Redis stream, written off the task's path: an event is queued in memory
    (at most ``BUFFER`` of them) and a thread of this process, woken by it, writes what is queued in one
    pipeline (so events that come while it writes go together in the next), and at exit.  Never raises;
    counts what it drops (a full queue, a store that is down)."""

    url: str
    stream: str = STREAM
    maxlen: int = MAXLEN
    ttl_s: int = TTL_S
    arguments: bool = False
    dropped: int = 0
    written: int = 0
    _quiet_until: float = 0.0
    _warned: bool = False
    _pid: int | None = None
    _client: Any = None
    _queue: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)

    def __call__(self, row: dict[str, Any]) -> None:
        if self._pid != os.getpid():  # a forked pool child: its own queue, connection and flusher
            self._start()
        line = json.dumps(redact(row, self.arguments), separators=(",", ":"))
        with self._lock:
            if len(self._queue) >= BUFFER:
                self.dropped += 1
                return
            self._queue.append(line)
        if not self._wake.is_set():
            self._wake.set()  # the flusher writes it now; events that come while it writes go in its next pipeline

    def _start(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._queue, self._client, self._wake = [], None, threading.Event()
        threading.Thread(target=self._flusher, name="lab-recorder", daemon=True).start()
        atexit.register(self.flush)

    def _flusher(self) -> None:
        while True:  # waits for an event to write, never polls an empty queue
            self._wake.wait()
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write what is queued, in one pipeline (and say how many were dropped since the last write)."""
        with self._lock:
            lines, self._queue = self._queue, []
        if not lines:
            return
        if time.monotonic() < self._quiet_until:
            self.dropped += len(lines)
            return
        try:
            if self._client is None:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                self._client = redis.Redis.from_url(self.url, socket_timeout=SOCKET_TIMEOUT_S,
                                                    socket_connect_timeout=SOCKET_TIMEOUT_S, retry=Retry(NoBackoff(), 0))
            pipe = self._client.pipeline(transaction=False)
            if self.dropped:
                pipe.xadd(self.stream, {"e": json.dumps({"event": "dropped", "t": time.time(), "n": self.dropped,
                                                         "pid": os.getpid(), "worker": ledger.node_name()})},
                          maxlen=self.maxlen, approximate=True)
            for line in lines:
                pipe.xadd(self.stream, {"e": line}, maxlen=self.maxlen, approximate=True)
            pipe.expire(self.stream, self.ttl_s)
            pipe.execute()
            self.written += len(lines)
            self.dropped = 0
        except Exception as e:  # noqa: BLE001 - a recorder must never fail the process it watches
            self.dropped += len(lines)
            self._quiet_until = time.monotonic() + BACKOFF_S
            self._client = None
            if not self._warned:
                self._warned = True
                log.warning("lab recorder: cannot write to %s (%s: %s); dropping events and counting them",
                            _censored(self.url), type(e).__name__, e)


@dataclass(eq=False)
class FileSink:
    """Every ledger event as a JSON line in ``folder``, one file per process (``lab.observe.ledger.read`` reads
    them), with what ``redact`` leaves; never raises."""

    folder: Path
    arguments: bool = False
    dropped: int = 0
    written: int = 0
    _fds: dict[int, int] = field(default_factory=dict)

    def __call__(self, row: dict[str, Any]) -> None:
        row = redact(row, self.arguments)
        try:
            pid = os.getpid()
            if pid not in self._fds:
                node = str(row.get("worker") or ledger.node_name() or "node").replace("/", "_")
                self._fds = {pid: os.open(self.folder / f"{node}-{pid}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                          0o644)}
            os.write(self._fds[pid], (json.dumps(row, separators=(",", ":")) + "\n").encode())
            self.written += 1
        except Exception:  # noqa: BLE001 - a full disk must not fail a task
            self.dropped += 1


def redact(row: dict[str, Any], arguments: bool) -> dict[str, Any]:
    """The event as it is stored: no arguments or results unless asked; an error cut to its first line."""
    out = {k: v for k, v in row.items() if arguments or k not in PRIVATE}
    if isinstance(out.get("error"), str):
        out["error"] = out["error"].splitlines()[0][:200] if out["error"] else out["error"]
    return out


def _censored(url: str) -> str:
    u = urlparse(url)
    return url.replace(f":{u.password}@", ":**@") if u.password else url


_installed: dict[int, Any] = {}


def install(app, store: str | None = None, *, maxlen: int = MAXLEN, ttl_s: int = TTL_S, arguments: bool = False):
    """Record this app's tasks into ``store`` (see the module docstring); return the sink.  Installing twice
    for the same app is a no-op."""
    if id(app) in _installed:
        return _installed[id(app)]
    where = store or app.conf.get("lab_recorder") or _redis_broker(app)
    same = next((x for x in _installed.values() if getattr(x, "url", None) == where
                 or str(getattr(x, "folder", "")) == urlparse(where or "").path), None)
    if same is not None:  # the same store for a second app of this process (a module imported again)
        _installed[id(app)] = same
        return same
    if not where:
        raise RecorderError("the recorder needs a store: give install(app, 'redis://host:6379/3'), set "
                            "app.conf.lab_recorder, or use a Redis broker.")
    scheme = urlparse(where).scheme
    if scheme in ("redis", "rediss", "unix"):
        sink: Any = StreamSink(where, maxlen=maxlen, ttl_s=ttl_s, arguments=arguments)
        ledger.add_sink(sink)
    elif scheme == "file":
        folder = Path(urlparse(where).path)
        folder.mkdir(parents=True, exist_ok=True)
        sink = FileSink(folder, arguments=arguments)
        ledger.add_sink(sink)
    else:
        raise RecorderError(f"the recorder's store {where!r} is neither redis:// nor file://; give a Redis URL "
                            "(a stream there) or file:///a/folder.")
    ledger.name_node(_node_name())
    ledger.connect_signals()
    from celery import signals

    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid="lab-recorder-worker-init")
    _installed[id(app)] = sink
    return sink


def uninstall() -> None:
    """Stop recording in this process (every store ``install`` added)."""
    for sink in set(_installed.values()):
        ledger.remove_sink(sink)
    _installed.clear()


def _redis_broker(app) -> str | None:
    url = app.conf.broker_url or ""
    return url if urlparse(url).scheme in ("redis", "rediss") else None


def _node_name() -> str:
    return f"producer@{socket.gethostname()}"


def _on_worker_init(sender=None, **_) -> None:
    hostname = getattr(sender, "hostname", None)
    if hostname:
        ledger.name_node(hostname)


__all__ = ["install", "uninstall", "redact", "FileSink", "StreamSink", "RecorderError", "STREAM", "MAXLEN", "TTL_S"]
