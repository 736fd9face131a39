"""Celery's own events (workers started with ``-E``), followed and put in the ledger's form.

    a user's deployment, without the flight recorder → **observe/task_events.py** → doctor/watch.py (ChordWatch)

Where there is no recorder, ``lab doctor --watch`` listens to what Celery itself broadcasts, as Flower and
``celery events`` do (``app.events.Receiver``, on an auto-deleted queue of its own: nothing of the user's is
consumed).  What ``-E`` gives, per task: ``task-received`` (which worker took it), ``task-started``,
``task-succeeded``/``task-failed``/``task-retried``/``task-revoked``/``task-rejected``; per worker:
``worker-online``/``worker-heartbeat``/``worker-offline``.  ``task-sent`` (the queue and exchange a task was
published to) only where the publisher sets ``task_send_sent_event``, and a chord's callback is published by
a worker.  What it lacks: no event names a task's group, group index or chord callback, so none links a part
to its chord or says the chord's size; ``pid`` is the worker's main process, not the pool child that ran
the task; nothing says how long the chord keys live.  The broker's queues (``observe/queue_poll.py``) give
the link back for a message still waiting.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

ENDS = {"task-succeeded": "SUCCESS", "task-failed": "FAILURE", "task-retried": "RETRY", "task-revoked": "REVOKED"}


def ledger_event(ev: dict[str, Any]) -> dict[str, Any] | None:
    """One Celery event as a ledger event (None for the kinds the watch has no use for)."""
    kind = ev.get("type") or ""
    t = ev.get("timestamp")
    base = {"t": t, "source": "celery-events"}
    if kind.startswith("worker-"):
        return {"event": kind, "worker": ev.get("hostname"), **base}
    tid = ev.get("uuid")
    if not tid:
        return None
    if kind == "task-sent":
        return {"event": "publish", "task_id": tid, "name": ev.get("name"), "queue": ev.get("queue") or ev.get("routing_key"),
                "exchange": ev.get("exchange"), "by": ev.get("hostname"), "root_id": ev.get("root_id"), **base}
    if kind == "task-received":
        return {"event": "received", "task_id": tid, "name": ev.get("name"), "worker": ev.get("hostname"), **base}
    if kind == "task-started":  # the event's pid is the worker's main process: not the child that runs the task
        return {"event": "start", "task_id": tid, "worker": ev.get("hostname"), "pid": None, **base}
    if kind in ENDS:
        return {"event": "end", "task_id": tid, "state": ENDS[kind], "worker": ev.get("hostname"),
                "error": ev.get("exception"), **base}
    if kind == "task-rejected":
        return {"event": "rejected", "task_id": tid, "worker": ev.get("hostname"), **base}
    return None


class TaskEvents:
    """Celery's events, received by a thread of this process into a queue; ``read`` takes what has come."""

    def __init__(self, app):
        self.app = app
        self.inbox: queue.Queue = queue.Queue()
        self.error: str | None = None
        self.connected = threading.Event()
        self.task_events = 0
        self.worker_events = 0
        self._receiver = None
        self._thread = threading.Thread(target=self._run, name="lab-watch-events", daemon=True)

    def start(self, wait_s: float = 5.0) -> bool:
        """Start listening; True once the receiver's queue is bound (events sent before that are not seen)."""
        self._thread.start()
        self.connected.wait(wait_s)
        return self.connected.is_set() and self.error is None

    def _run(self) -> None:
        try:
            with self.app.connection_for_read() as conn:
                recv = self.app.events.Receiver(conn, handlers={"*": self._on})
                self._receiver = recv
                original = recv.on_consume_ready

                def ready(*a, **kw):
                    self.connected.set()
                    return original(*a, **kw)

                recv.on_consume_ready = ready
                recv.capture(limit=None, timeout=None, wakeup=False)
        except Exception as e:  # noqa: BLE001 - the broker went away, or was never there: the watch says so
            self.error = f"{type(e).__name__}: {e}"
            self.connected.set()

    def _on(self, ev: dict[str, Any]) -> None:
        got = ledger_event(ev)
        if got is None:
            return
        if got["event"].startswith("worker-"):
            self.worker_events += 1
        else:
            self.task_events += 1
        self.inbox.put(got)

    def read(self, block_s: float = 0.0) -> list[dict[str, Any]]:
        out = []
        try:
            out.append(self.inbox.get(timeout=block_s) if block_s > 0 else self.inbox.get_nowait())
            while True:
                out.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        return out

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
