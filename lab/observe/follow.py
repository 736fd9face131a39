"""Following the flight recorder while it records: its stream read incrementally, as the file ledger is.

    scenario → topology up → chords sent → **observations** (the recorder's stream, followed) → verdict → record

``lab.observe.recorder.recorded_events`` reads what the recorder (``lab.recorder``) kept, after the fact.
``read_since`` turns it into a follower: each call returns the events that arrived since the last one, and
``RecorderWatch`` wraps it in ``LedgerWatch``'s interface (``poll()`` adds them to ``events``), so a lab run
(``lab run --witness recorder``) can quiesce, fire its faults and judge on the recorder's events exactly as
it does on the file ledger's.

The stream's entries are decoded only by ``recorded_events`` (their format is the recorder's to change).
It returns the newest ``limit`` entries; a window that holds an event already seen reaches back past
everything new, so that is all one call reads (a window of twice the last burst, at least ``WINDOW``).  A
window with nothing seen in it is widened until it holds something seen, stops growing (the whole
stream), or is ``recorder.LIMIT`` wide.  An event is known by its kind, time, pid and task id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from lab.observe.model import LedgerEvent
from lab.observe.recorder import LIMIT, STREAM, recorded_events

WINDOW = 256  # the smallest window read (entries)


def event_key(e: dict[str, Any]) -> tuple:
    """What tells two recorded events apart: one process never writes the same event of a task twice at one instant."""
    return e.get("event"), e.get("t"), e.get("pid"), e.get("task_id")


@dataclass
class Cursor:
    """Where a follower of one stream is: the events it has returned, and the window its next read starts with."""

    seen: set = field(default_factory=set)
    window: int = WINDOW
    reads: int = 0  # stream reads made (a widened window costs more than one per call)


def read_since(store: str, cursor: Cursor, *, stream: str = STREAM) -> list[LedgerEvent]:
    """The events recorded in ``store`` since ``cursor`` last read, in time order; ``cursor`` is updated in place."""
    limit = cursor.window
    count = -1
    while True:
        events = recorded_events(store, stream=stream, limit=limit)["events"]
        cursor.reads += 1
        fresh = [e for e in events if event_key(e) not in cursor.seen]
        if len(fresh) < len(events) or not events or len(events) == count or limit >= LIMIT:
            break  # the window reaches back to what was seen, or is the whole stream
        count, limit = len(events), min(LIMIT, limit * 4)
    cursor.seen.update(event_key(e) for e in fresh)
    cursor.window = max(WINDOW, min(LIMIT, 2 * len(fresh)))
    return fresh


class RecorderWatch:
    """The recorder's stream, read incrementally: ``LedgerWatch``'s interface (``poll``, ``events``).

    A read that fails (the store unreachable) adds nothing and is counted (``read_errors``, ``last_error``):
    the run says so in its observations, since events it could not read look like events that never came."""

    def __init__(self, store: str, *, stream: str = STREAM):
        self.store = store
        self.stream = stream
        self.cursor = Cursor()
        self.events: list[LedgerEvent] = []
        self.read_errors = 0
        self.last_error: str | None = None

    def poll(self) -> int:
        try:
            new = read_since(self.store, self.cursor, stream=self.stream)
        except (redis.RedisError, OSError, ValueError) as e:  # the store unreachable, or an entry cut short
            self.read_errors += 1
            self.last_error = f"{type(e).__name__}: {str(e).strip()[:200]}"
            return 0
        self.events.extend(new)
        return len(new)

    def summary(self) -> dict[str, Any]:
        """What the store says of itself at the end: events it holds, events its writers dropped, how it was read."""
        out: dict[str, Any] = {"store": self.store, "stream": self.stream, "events": len(self.events),
                               "reads": self.cursor.reads, "read_errors": self.read_errors}
        if self.last_error:
            out["last_error"] = self.last_error
        try:
            whole = recorded_events(self.store, stream=self.stream)
            out["dropped"] = whole["dropped"]
            out["stored"] = len(whole["events"])
        except (redis.RedisError, OSError, ValueError) as e:  # the store is gone: what was read is all there is
            out["dropped"] = None
            out["summary_error"] = f"{type(e).__name__}: {str(e).strip()[:200]}"
        return out
