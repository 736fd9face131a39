"""The flight recorder: the lab's ledger, installed in a user's own Celery app.

    a user's app + ``install(app)`` → **recorded events** (a capped Redis stream) → observe/recorder.py → doctor

Inside the lab every proof rests on the ledger (``lab.observe.ledger``), the witness kept apart from
Celery.  ``install(app)`` puts the same witness in a deployment the lab did not start: the same Celery
signals, the same events (a task published, with its queue and exchange; started; ended, with its state;
discarded as unregistered; rejected; each with its group id, group index and chord callback id; a header
part's publish also with the installing app's chord key lifetime, ``chord_expires``: ``[seconds or None,
"result_chord_expires" or "result_expires"]``; a header part's publish and end with the result backend the
recording process writes to, ``backend``: scheme, host, port, database and ``global_keyprefix``, never a
password, ``lab.observe.recorder.backend_identity``), and events of the recorder's own: ``internal_error``
(Celery's ``task_internal_error``: an error raised outside a task's body, such as storing its result or counting
its chord part's return, with the backend calls it was raised in, ``in``), ``failure`` (Celery's
``task_failure``: sent once the backend has taken a task's failure, so a chord part's failure was stored and
counted) and ``chord_error`` (the chord machinery failing a callback: a header part that raised, a join or a
callback publish that failed, as Celery's backend marks the callback FAILURE with a ChordError in
``chord_error_from_stack``, which sends no signal; with the callback's id, the chord's group id, the task whose
return raised it, the worker and the error), and ``return`` (a header part's success reaching the backend, in
Celery's ``mark_as_done``, before its result is stored and its return counted: with ``stored``, whether its result
is stored at all, ``request.ignore_result`` or the task's ``ignore_result``, never the result; its end row says
``stored`` too; written only for a part that has not ended ``RETURN_GRACE_S`` later, as one blocked in a join); a header part's publish and end say which of these it records, ``records: ["chord_error",
"return"]``, so doctor tells this recorder from one that never records them; written to a capped store the user
chooses:

- ``redis://host:port/db`` (a Redis stream, ``XADD ... MAXLEN ~ maxlen``, the key expiring ``ttl_s`` after
  the last event): on the broker, the backend, or another Redis.  An entry holds a batch of one process's
  events (field ``b``, a JSON array of at most ``BATCH``), so ``maxlen`` counts entries: the stream keeps
  at least ``maxlen`` events, and up to ``BATCH`` times as many when every write is a full batch (a process
  recording 50 events a second or more; about 440 bytes an event in Redis);
- ``file:///path/to/folder``: the lab's own file ledger, one JSON Lines file per process.

The store is ``store``, else ``app.conf.lab_recorder``, else the app's broker when it is Redis.  A Redis store
is written off the task's path, by a thread of each process that the first event of a batch wakes and that
writes, ``FLUSH_S`` later, whatever has been queued by then, in one pipeline; and at exit, a pool child's
included (a process killed outright loses what it had not yet written: at most ``FLUSH_S`` of its events).
It never raises into a task: when the store cannot be written it drops that write's events and counts them,
logs one warning per process, keeps what comes next queued (up to ``BUFFER``; more is dropped and counted)
and tries again ``BACKOFF_S`` later, every ``BACKOFF_S`` while it has a count to give: the first write that
succeeds starts with a ``dropped`` event saying how many were lost.  Task arguments, kwargs and return
values are left out unless ``arguments=True`` (and not even built when nobody keeps them); an error is kept
as its type and first 200 characters.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from lab.errors import LabError
from lab.observe import ledger
from lab.observe.recorder import backend_identity, default_store

STREAM = "lab:recorder"  # the stream's key in the store
MAXLEN = 20_000  # stream entries kept (approximately: Redis trims whole nodes); each holds 1 to BATCH events
BATCH = 10  # events in one stream entry at most
FULL = 1_000  # events queued that are written at once, without waiting for FLUSH_S
FLUSH_S = 0.2  # an event waits in its process at most this long before it is written (with the others queued)
TTL_S = 7 * 24 * 3600  # the stream expires this long after its last event
BACKOFF_S = 1.0  # after a failed write (its events dropped and counted), wait this long before the next
BUFFER = 10_000  # events queued in a process before it drops (and counts) more
SOCKET_TIMEOUT_S = 0.25  # a write to a store that hangs holds the flusher no longer than this
PRIVATE = ("args", "kwargs", "result")  # kept only with arguments=True

log = logging.getLogger("lab.recorder")


class RecorderError(LabError):
    """The recorder cannot be installed as asked (a store it cannot write to)."""


@dataclass(eq=False)
class StreamSink:
    """Every ledger event into a capped Redis stream, written off the task's path: an event is queued in memory
    (at most ``BUFFER`` of them; encoded when written), and a thread of this process, woken by the first event
    of a batch, waits ``FLUSH_S`` (less once ``FULL`` are queued), then writes what is queued in one pipeline,
    ``BATCH`` events to a stream entry (field ``b``, a JSON array); and at exit.  A forked pool child starts
    its own queue, connection and thread at its first event.  Never raises; counts what it drops (a full
    queue, a store that is down)."""

    url: str
    stream: str = STREAM
    maxlen: int = MAXLEN
    ttl_s: int = TTL_S
    arguments: bool = False
    app: Any = None  # the installing app: its chord key lifetime goes on each header part's publish
    dropped: int = 0
    written: int = 0  # events
    entries: int = 0  # stream entries
    _quiet_until: float = 0.0
    _warned: bool = False
    _pid: int | None = None
    _client: Any = None
    _chord_expires: Any = None
    _backend: Any = None
    _queue: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _writing: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    _full: threading.Event = field(default_factory=threading.Event)

    def __call__(self, row: dict[str, Any]) -> None:
        if (row.get("pid") or os.getpid()) != self._pid:  # a forked pool child: its own queue, connection, flusher
            self._start()
        if row.get("chord_callback") and row["event"] in ("publish", "end"):
            row = _with_chord_facts(self, row)
        if self.arguments:  # encoded now: a task may change its arguments after its start event
            row = json.dumps(redact(row, True), separators=(",", ":"))  # type: ignore[assignment]
        with self._lock:
            queue = self._queue
            if len(queue) >= BUFFER:
                self.dropped += 1
                return
            queue.append(row)  # the ledger's own dict (never changed): encoded by the flusher, off the task's path
            if len(queue) == 1:
                self._wake.set()  # the first of a batch: the flusher writes it, and what follows, FLUSH_S from now
            elif len(queue) == FULL:
                self._full.set()

    def _start(self) -> None:  # what a fork inherited is its parent's to write, count and warn about
        self._pid = os.getpid()
        self.dropped = self.written = self.entries = 0
        self._warned, self._quiet_until = False, 0.0
        self._lock, self._writing = threading.Lock(), threading.Lock()
        self._queue, self._client, self._wake, self._full = [], None, threading.Event(), threading.Event()
        threading.Thread(target=self._flusher, args=(self._wake, self._full), name="lab-recorder", daemon=True).start()
        atexit.register(self.flush)

    def _flusher(self, wake: threading.Event, full: threading.Event) -> None:
        while True:  # sleeps while nothing is queued; never polls an empty queue
            if not wake.wait(BACKOFF_S if self.dropped else None):  # events dropped, none since: say so when it can
                self.flush()
                continue
            full.wait(FLUSH_S)  # let the batch gather; a full one goes at once
            backoff = self._quiet_until - time.monotonic()
            if backoff > 0:  # the last write failed: what comes meanwhile stays queued (up to BUFFER) for the next
                time.sleep(backoff)
            self.flush()

    def flush(self) -> None:
        """Write what is queued, in one pipeline, and how many were dropped since the last write (even alone)."""
        if self._pid != os.getpid():  # inherited by a fork that has recorded nothing: the parent writes its queue
            return
        with self._writing:
            with self._lock:
                rows, self._queue = self._queue, []
                self._wake.clear()
                self._full.clear()
                dropped = self.dropped
            if rows or dropped:
                self._write(rows, dropped)

    def _write(self, rows: list, dropped: int) -> None:
        events = len(rows)
        try:
            if self._client is None:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                self._client = redis.Redis.from_url(self.url, socket_timeout=SOCKET_TIMEOUT_S,
                                                    socket_connect_timeout=SOCKET_TIMEOUT_S, retry=Retry(NoBackoff(), 0))
            if dropped:  # said first, in the same entry as the events that follow the gap
                rows.insert(0, {"event": "dropped", "t": time.time(), "n": dropped, "pid": os.getpid(),
                                "worker": ledger.node_name()})
            pipe = self._client.pipeline(transaction=False)
            for i in range(0, len(rows), BATCH):
                pipe.xadd(self.stream, {"b": _batch(rows[i:i + BATCH])}, maxlen=self.maxlen, approximate=True)
            pipe.expire(self.stream, self.ttl_s)
            pipe.execute()
            self.written += events
            self.entries += -(-len(rows) // BATCH)
            with self._lock:
                self.dropped -= dropped
        except Exception as e:  # noqa: BLE001 - a recorder must never fail the process it watches
            with self._lock:
                self.dropped += events
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
    app: Any = None  # the installing app: its chord key lifetime goes on each header part's publish
    dropped: int = 0
    written: int = 0
    _fds: dict[int, int] = field(default_factory=dict)
    _chord_expires: Any = None
    _backend: Any = None

    def __call__(self, row: dict[str, Any]) -> None:
        try:
            row = redact(row, self.arguments)
            if row.get("chord_callback") and row["event"] in ("publish", "end"):
                row = _with_chord_facts(self, row)
            pid = os.getpid()
            if pid not in self._fds:
                node = str(row.get("worker") or ledger.node_name() or "node").replace("/", "_")
                self._fds = {pid: os.open(self.folder / f"{node}-{pid}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                          0o644)}
            os.write(self._fds[pid], (json.dumps(row, separators=(",", ":")) + "\n").encode())
            self.written += 1
        except Exception:  # noqa: BLE001 - a full disk must not fail a task
            self.dropped += 1


def _batch(rows: list) -> str:
    """One stream entry's events as a JSON array: dicts to redact, or rows already encoded (``arguments=True``)."""
    if any(type(r) is str for r in rows):
        return "[" + ",".join(r if type(r) is str else json.dumps(r, separators=(",", ":")) for r in rows) + "]"
    return json.dumps([redact(r, False) for r in rows], separators=(",", ":"))


def _with_chord_facts(sink: StreamSink | FileSink, row: dict[str, Any]) -> dict[str, Any]:
    """A header part's publish, with how long the installing app keeps its chord's keys: ``[seconds or None, the
    setting that says so]`` (``lab.observe.config.chord_expires``); its publish and its end, with the result backend
    this process writes to (``backend_identity``: where the producer set the chord's size, where a worker counted the
    part's return).  Each read once, at the sink's first chord (the app's config is final by then)."""
    if sink.app is None:
        return row
    if sink._chord_expires is None:
        try:
            from lab.observe.config import chord_expires

            sink._chord_expires = list(chord_expires(sink.app))
        except Exception:  # noqa: BLE001 - a recorder must never fail the process it watches
            sink._chord_expires = [None, "unknown"]
        try:
            sink._backend = backend_identity(sink.app) or {}
        except Exception:  # noqa: BLE001
            sink._backend = {}
    extra: dict[str, Any] = {"backend": sink._backend} if sink._backend else {}
    if _records:  # what this process records beyond the ledger: doctor proves an absence only where it was recorded
        extra["records"] = list(_records)
    if row["event"] == "publish":
        extra["chord_expires"] = sink._chord_expires
    elif row["event"] == "end":
        with _late_lock:
            _late.pop(row.get("task_id"), None)  # it ended: its return needs no row of its own
        if row.get("task_id") in _stored:
            extra["stored"] = _stored[row["task_id"]]
    return {**row, **extra}


def redact(row: dict[str, Any], arguments: bool) -> dict[str, Any]:
    """The event as it is stored: no arguments or results unless asked; an error cut to its first line.  ``row``
    itself when there is nothing to cut (it is never changed)."""
    error = row.get("error")
    long_error = isinstance(error, str) and ("\n" in error or len(error) > 200)
    if not long_error and (arguments or not ("args" in row or "kwargs" in row or "result" in row)):
        return row
    out = row if arguments else {k: v for k, v in row.items() if k not in PRIVATE}
    if long_error:
        out = {**out, "error": error.splitlines()[0][:200]}
    return out


def _censored(url: str) -> str:
    u = urlparse(url)
    return url.replace(f":{u.password}@", ":**@") if u.password else url


_installed: dict[int, Any] = {}
_records: list[str] = []  # the recorder's own events this process is sure to record (``records`` on a chord part's rows)
_stored: dict[str, bool] = {}  # a header part's id → whether mark_as_done stored its result (for its end row)
STORED_KEPT = 1_000  # ids remembered for their end rows at most (a part ends in the process that returned it)


def install(app, store: str | None = None, *, maxlen: int = MAXLEN, ttl_s: int = TTL_S, arguments: bool = False):
    """Record this app's tasks into ``store`` (see the module docstring); return the sink.  ``maxlen`` counts
    stream entries (each holds 1 to ``BATCH`` events).  Installing twice for the same app is a no-op."""
    if id(app) in _installed:
        return _installed[id(app)]
    where = store or default_store(app)
    if where:  # doctor, loading this same app, reads where it writes (observe.recorder.default_store)
        app.conf.lab_recorder = where
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
        sink: Any = StreamSink(where, maxlen=maxlen, ttl_s=ttl_s, arguments=arguments, app=app)
        ledger.add_sink(sink)
    elif scheme == "file":
        folder = Path(urlparse(where).path)
        folder.mkdir(parents=True, exist_ok=True)
        sink = FileSink(folder, arguments=arguments, app=app)
        ledger.add_sink(sink)
    else:
        raise RecorderError(f"the recorder's store {where!r} is neither redis:// nor file://; give a Redis URL "
                            "(a stream there) or file:///a/folder.")
    ledger.name_node(_node_name())
    ledger.connect_signals()
    from celery import signals

    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid="lab-recorder-worker-init")
    signals.task_internal_error.connect(_on_internal_error, weak=False, dispatch_uid="lab-recorder-internal-error")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="lab-recorder-failure")
    for event, method, record in BACKEND_HOOKS:
        if _wrap_backend(method, record) and event not in _records:
            _records.append(event)
    # a pool child leaves by os._exit (no atexit): it writes what it queued as it goes
    signals.worker_process_shutdown.connect(_flush_all, weak=False, dispatch_uid="lab-recorder-child-exit")
    _installed[id(app)] = sink
    return sink


def uninstall() -> None:
    """Stop recording in this process (every store ``install`` added)."""
    for sink in set(_installed.values()):
        ledger.remove_sink(sink)
    _installed.clear()


def _node_name() -> str:
    return f"producer@{socket.gethostname()}"


def _flush_all(**_) -> None:
    for sink in set(_installed.values()):
        if isinstance(sink, StreamSink):
            sink.flush()


def _emit(event: str, **fields: Any) -> None:
    """An event of the recorder's own (not the file ledger's) into every installed store; never raises."""
    try:
        row = {"event": event, "t": time.time(), "pid": os.getpid(), **fields}
        for sink in set(_installed.values()):
            sink(row)
    except Exception:  # noqa: BLE001 - a recorder must never fail the process it watches
        pass


def _error_line(exc: Any) -> str | None:
    if exc is None:
        return None
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:200] if str(exc) else type(exc).__name__


def _backend_calls(tb: Any) -> list[str]:
    """The functions of Celery's result backends the error was raised through, outermost first (``mark_as_done``,
    ``store_result``, ``on_chord_part_return`` ...): what the task was storing or counting when it raised."""
    names: list[str] = []
    while tb is not None and len(names) < 8:
        code = tb.tb_frame.f_code
        parts = Path(code.co_filename).parts
        if "celery" in parts and "backends" in parts and code.co_name not in names:
            names.append(code.co_name)
        tb = tb.tb_next
    return names


def _on_internal_error(sender=None, task_id=None, request=None, exception=None, traceback=None, **_) -> None:
    """Celery's ``task_internal_error``: an error outside the task's body (its result's store, its part return)."""
    try:
        def get(key: str) -> Any:
            return request.get(key) if isinstance(request, dict) else getattr(request, key, None)

        chord = get("chord")
        options = chord.get("options") if isinstance(chord, dict) else None
        _emit("internal_error", task_id=task_id, name=getattr(sender, "name", None), group_id=get("group"),
              group_index=get("group_index"), chord_callback=options.get("task_id") if isinstance(options, dict) else None,
              worker=get("hostname") or ledger.node_name(), error=_error_line(exception), **{"in": _backend_calls(traceback)})
    except Exception:  # noqa: BLE001
        pass


def _on_failure(sender=None, task_id=None, exception=None, **_) -> None:
    """Celery's ``task_failure``: sent once the backend has taken the task's failure (stored it, and counted a chord
    part's), in the pool child or, for an error the child could not handle, in the worker's main process."""
    try:
        req = getattr(sender, "request", None)
        group = getattr(req, "group", None) if getattr(req, "id", None) == task_id else None  # popped on some paths
    except Exception:  # noqa: BLE001
        group = None
    _emit("failure", task_id=task_id, name=getattr(sender, "name", None), worker=ledger.node_name(),
          error=_error_line(exception), **({"group_id": group} if group else {}))


def _wrap_backend(method: str, record: Callable[..., None]) -> bool:
    """Wrap ``Backend.<method>`` (celery/backends/base.py, which every Celery 5.x backend inherits) so that
    ``record`` is given the call's arguments first (by Celery's own parameter names), then the method runs
    unchanged.  Once per process (a fork inherits it); False where this Celery has no such method."""
    try:
        from celery.backends.base import Backend

        original = Backend.__dict__.get(method)
        if original is None:
            return False
        if getattr(original, "_lab_recorder", False):
            return True

        @functools.wraps(original)
        def wrapped(self, *args, **kwargs):
            try:
                record(*args, **kwargs)
            except Exception:  # noqa: BLE001 - a call its parameters do not fit: the method's own to refuse
                pass
            return original(self, *args, **kwargs)

        wrapped._lab_recorder = True  # type: ignore[attr-defined]
        setattr(Backend, method, wrapped)
        return True
    except Exception:  # noqa: BLE001 - a recorder must never fail the process it watches
        return False


def _on_chord_error(callback: Any, exc: Any = None, *_: Any, **__: Any) -> None:
    """``Backend.chord_error_from_stack``, the one place every Celery 5.x backend and ``celery.chord_unlock`` fail a
    chord's callback (no signal is sent for it): the callback's id and task, the chord's group (the request of the
    part whose return raised it, or chord_unlock's first argument), that part's id, the worker and the error (the
    one being handled when none is given): never arguments or results.  No ``chord_callback`` field: the event is
    the callback's own, not a header part's."""
    try:
        from celery._state import get_current_task

        exc = exc if exc is not None else sys.exc_info()[1]

        options = getattr(callback, "options", None) or {}
        cid = options.get("task_id") or getattr(callback, "id", None)
        name = callback.get("task") if isinstance(callback, dict) else None
        task = get_current_task()  # the part whose return completed the count (or chord_unlock)
        req = getattr(task, "request", None)
        group = getattr(req, "group", None)
        if getattr(task, "name", None) == "celery.chord_unlock":
            group = (list(getattr(req, "args", None) or []) or [None])[0]
        _emit("chord_error", task_id=cid, name=name, group_id=group if isinstance(group, str) else None,
              by_task=getattr(req, "id", None), worker=getattr(req, "hostname", None) or ledger.node_name(),
              error=_error_line(exc))
    except Exception:  # noqa: BLE001
        pass


def _on_part_return(task_id: Any, result: Any = None, request: Any = None, store_result: Any = True, *_: Any,
                    **__: Any) -> None:
    """``Backend.mark_as_done``, where every Celery 5.x backend stores a successful task's result and counts its chord
    part's return, with no signal between: a header part's ``return`` row (its id, task, group, chord callback,
    worker and ``stored``, Celery's own test: ``store_result`` and not ``request.ignore_result``, which a task may
    set in its body; never its result), held before the count so a part whose return then blocks (the join of the
    chord it completed) is still on record.  Tasks outside a chord are not recorded (their end row says enough)."""
    try:
        if request is None or not getattr(request, "chord", None):
            return
        stored = bool(store_result) and not getattr(request, "ignore_result", False)
        if len(_stored) >= STORED_KEPT:
            _stored.pop(next(iter(_stored)))
        _stored[task_id] = stored
        _hold_return(task_id, {"t": time.time(), "task_id": task_id, "name": getattr(request, "task", None),
                               "group_id": getattr(request, "group", None),
                               "group_index": getattr(request, "group_index", None),
                               "chord_callback": ledger._chord_callback(request),
                               "worker": getattr(request, "hostname", None) or ledger.node_name(), "stored": stored})
    except Exception:  # noqa: BLE001
        pass


# The backend methods wrapped, with the event each records (``records`` on a chord part's rows names them).
BACKEND_HOOKS = (("chord_error", "chord_error_from_stack", _on_chord_error), ("return", "mark_as_done", _on_part_return))


# A part's return is written only if the part has not ended RETURN_GRACE_S after it: almost every part ends within
# milliseconds, and its end row says ``stored``; the one that blocks (in the join of the chord it completed) never
# ends, and its return row is what shows it.  So a healthy chord costs no row more than it did.
RETURN_GRACE_S = 1.0
_late: dict[str, dict[str, Any]] = {}  # header part id → its return row, until it ends or its grace is over
_late_lock = threading.Lock()
_late_wake: threading.Event | None = None
_late_pid: int | None = None


def _hold_return(task_id: str, row: dict[str, Any]) -> None:
    """Keep a part's return row; a thread of this process writes it once its grace is over, unless it ended."""
    global _late_wake, _late_pid
    with _late_lock:
        if _late_pid != os.getpid():  # a forked pool child: its own rows and thread
            _late_pid, _late_wake = os.getpid(), threading.Event()
            _late.clear()
            threading.Thread(target=_write_late_returns, args=(_late_wake,), name="lab-recorder-returns",
                             daemon=True).start()
        _late[task_id] = row
        if len(_late) == 1:
            _late_wake.set()  # the thread sleeps while none is held


def _write_late_returns(wake: threading.Event) -> None:
    while True:
        wake.wait()
        with _late_lock:
            oldest = min((r["t"] for r in _late.values()), default=None)
            if oldest is None:
                wake.clear()
                continue
        time.sleep(max(0.0, oldest + RETURN_GRACE_S - time.time()))
        now = time.time()
        with _late_lock:
            due = [r for r in _late.values() if now - r["t"] >= RETURN_GRACE_S]
            for r in due:
                del _late[r["task_id"]]
            if not _late:
                wake.clear()
        for r in due:
            _emit("return", **r)  # with the time its return began


def _on_worker_init(sender=None, **_) -> None:
    hostname = getattr(sender, "hostname", None)
    if hostname:
        ledger.name_node(hostname)


__all__ = ["MAXLEN", "STREAM", "TTL_S", "FileSink", "RecorderError", "StreamSink", "install", "redact", "uninstall"]
