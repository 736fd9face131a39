"""The execution ledger: ground truth of what really ran, kept apart from Celery.

    scenario → topology up → chords sent → **observations** → verdict → record

The result backend is one of the things under test, so it cannot also be the
witness.  Every worker process (and the producer) appends one JSON line per
event to its own file under the run's ``ledger/`` folder: a task published
(and to which queue), started, ended (with its state and return value), or
discarded as unregistered.  The files are written with ``O_APPEND`` and one
``write`` per line, so a killed process leaves whole lines behind.

Celery signals feed it (``connect_signals``), so the lab's task code needs no
decorator, and Celery's own tasks (``celery.chord_unlock``) are recorded too.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_state: dict[str, Any] = {"dir": None, "node": None, "fd": None, "pid": None}
_sinks: list[Callable[[dict[str, Any]], None]] = []  # more writers of every event: the flight recorder (lab.recorder)
# whether anyone keeps task arguments, kwargs and results (the file ledger, or a sink without ``arguments=False``):
# when nobody does, the handlers do not build them
_private = {"wanted": False}
_PLAIN = (str, int, float, bool)


def configure(ledger_dir: str | os.PathLike | None, node: str) -> None:
    """Point this process's ledger at ``ledger_dir``; ``node`` names the writer."""
    close()
    _state["dir"] = Path(ledger_dir) if ledger_dir else None
    _state["node"] = node
    _wants_private()


def name_node(node: str) -> None:
    """Name this process's writer without touching where its file ledger goes (the recorder in a user's worker)."""
    _state["node"] = node


def node_name() -> str | None:
    return _state["node"]


def add_sink(sink: Callable[[dict[str, Any]], None]) -> None:
    """Send every event to ``sink`` as well (once); a sink must never raise."""
    if sink not in _sinks:
        _sinks.append(sink)
    _wants_private()


def remove_sink(sink: Callable[[dict[str, Any]], None]) -> None:
    if sink in _sinks:
        _sinks.remove(sink)
    _wants_private()


def _wants_private() -> None:
    """A sink says it drops arguments, kwargs and results with ``arguments = False``; any other sink gets them."""
    _private["wanted"] = _state["dir"] is not None or any(getattr(s, "arguments", True) for s in _sinks)


def close() -> None:
    if _state["fd"] is not None and _state["pid"] == os.getpid():
        os.close(_state["fd"])
    _state["fd"] = None


def _fd() -> int | None:
    if _state["dir"] is None:
        return None
    if _state["fd"] is None or _state["pid"] != os.getpid():  # a forked pool child opens its own file
        _state["pid"] = os.getpid()
        path = _state["dir"] / f"{_state['node']}-{os.getpid()}.jsonl"
        _state["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    return _state["fd"]


def _jsonable(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):  # the common case, without a trial encoding
        return value
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        if isinstance(value, BaseException):
            return f"{type(value).__name__}: {value}"
        return repr(value)


def write(event: str, **fields: Any) -> None:
    fd = _fd()
    if fd is None and not _sinks:
        return
    row = {"event": event, "t": time.time(), "pid": os.getpid(),
           **{k: v if v is None or type(v) in _PLAIN else _jsonable(v) for k, v in fields.items()}}
    if fd is not None:
        os.write(fd, (json.dumps(row, separators=(",", ":")) + "\n").encode())
    for sink in tuple(_sinks):
        sink(row)  # the same dict for every sink: a sink must not change it


def read(ledger_dir: Path, offsets: dict[str, int] | None = None) -> Iterator[dict]:
    """Yield events from every file, resuming at ``offsets`` (updated in place); partial lines wait."""
    offsets = offsets if offsets is not None else {}
    for path in sorted(Path(ledger_dir).glob("*.jsonl")):
        start = offsets.get(path.name, 0)
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
        end = data.rfind(b"\n") + 1
        offsets[path.name] = start + end
        for line in data[:end].splitlines():
            try:
                yield json.loads(line)
            except ValueError:  # a line cut by SIGKILL mid-write: skip it
                continue


# -- the signal handlers --------------------------------------------------


def connect_signals() -> None:
    from celery import signals

    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="lab-ledger-prerun")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="lab-ledger-postrun")
    signals.after_task_publish.connect(_on_publish, weak=False, dispatch_uid="lab-ledger-publish")
    signals.task_unknown.connect(_on_unknown, weak=False, dispatch_uid="lab-ledger-unknown")
    signals.task_rejected.connect(_on_rejected, weak=False, dispatch_uid="lab-ledger-rejected")


def _request_fields(task: Any) -> dict[str, Any]:
    req = task.request
    chord = getattr(req, "chord", None)
    delivery = getattr(req, "delivery_info", None) or {}
    return {
        "name": task.name,
        "group_id": getattr(req, "group", None),
        "group_index": getattr(req, "group_index", None),
        "in_chord": chord is not None,
        "worker": getattr(req, "hostname", None) or _state["node"],
        "delivery": delivery.get("routing_key"),
        "redelivered": bool(delivery.get("redelivered")),
        "root_id": getattr(req, "root_id", None),
        "chord_callback": _chord_callback(req),
    }


def _chord_callback(req: Any) -> str | None:
    """The id of the chord callback this task is a header part of (its request's ``chord``), if any."""
    chord = getattr(req, "chord", None)
    options = chord.get("options") if isinstance(chord, dict) else None
    return options.get("task_id") if isinstance(options, dict) else None


def _on_prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    if _private["wanted"]:
        write("start", task_id=task_id, args=list(args or ()), kwargs=kwargs or {}, **_request_fields(task))
    else:  # nobody keeps them: not built, not encoded
        write("start", task_id=task_id, **_request_fields(task))


def _on_postrun(sender=None, task_id=None, task=None, retval=None, state=None, **_):
    if _private["wanted"]:
        write("end", task_id=task_id, state=state, result=retval, **_request_fields(task))
    else:
        write("end", task_id=task_id, state=state, **_request_fields(task))


def _on_publish(sender=None, headers=None, routing_key=None, exchange=None, body=None, **_):
    headers = headers or {}
    write(
        "publish",
        task_id=headers.get("id"),
        name=headers.get("task") or sender,
        queue=routing_key,
        exchange=exchange,
        group_id=headers.get("group"),
        group_index=headers.get("group_index"),
        root_id=headers.get("root_id"),
        chord_callback=_published_chord_callback(body),
        by=_state["node"],
    )


def _published_chord_callback(body: Any) -> str | None:
    """The chord callback a published header part belongs to (protocol 2: the body's embed carries the chord)."""
    embed = body[2] if isinstance(body, (list, tuple)) and len(body) == 3 and isinstance(body[2], dict) else {}
    chord = embed.get("chord")
    options = chord.get("options") if isinstance(chord, dict) else None
    return options.get("task_id") if isinstance(options, dict) else None


def _on_unknown(sender=None, name=None, id=None, message=None, exc=None, **_):
    write("unregistered", task_id=id, name=name, worker=_state["node"], error=str(exc))


def _on_rejected(sender=None, message=None, exc=None, **_):
    headers = getattr(message, "headers", None) or {}
    write("rejected", task_id=headers.get("id"), name=headers.get("task"), worker=_state["node"], error=str(exc))


def default_node() -> str:
    return f"producer@{socket.gethostname()}"
