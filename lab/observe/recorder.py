"""Reading what the flight recorder (``lab.recorder``) kept: a deployment's ledger, after the fact.

    a user's deployment → (the recorder's store) → **observe/recorder.py** → ledger events → the judge

The events have the ledger's own form (``observe.model.LedgerEvent``), so whatever reads a run's ledger
reads them too.  ``recorded_events`` reads a Redis stream (bounded: the newest ``limit`` events) or a
folder of JSON Lines, and keeps the events of the tasks asked for (by task id, group id or chord
callback id) with what the recorder says of itself: how many events it dropped, and the oldest event it
still holds (older history was trimmed or expired).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlparse

from lab.observe import ledger

STREAM = "lab:recorder"
LIMIT = 100_000


def recorded_events(store: str, *, ids: Iterable[str] = (), stream: str = STREAM, limit: int = LIMIT) -> dict[str, Any]:
    """``{"events": [...], "dropped": n, "oldest_t": t, "store": store}``; ``ids`` keeps the events whose task
    id, group id, chord callback id or root id is among them (all events when empty)."""
    scheme = urlparse(store).scheme
    if scheme == "file":
        rows = list(ledger.read(Path(urlparse(store).path)))
    else:
        import redis

        client = redis.Redis.from_url(store, socket_timeout=5)
        try:
            rows = [json.loads(fields[b"e"]) for _, fields in reversed(client.xrevrange(stream, count=limit))]
        finally:
            client.close()
    wanted = set(ids)
    dropped = sum(int(r.get("n") or 0) for r in rows if r.get("event") == "dropped")
    oldest = min((r["t"] for r in rows if "t" in r), default=None)
    if wanted:
        def keys(r: dict) -> set:
            return {r.get("task_id"), r.get("group_id"), r.get("chord_callback"), r.get("root_id")} - {None}

        # a part's start names its chord's callback; its publish names only its group: widen once by group
        wanted |= {r.get("group_id") for r in rows if wanted & keys(r) and r.get("group_id")}
        rows = [r for r in rows if wanted & keys(r)]
    rows.sort(key=lambda r: r.get("t", 0))
    return {"events": [r for r in rows if r.get("event") != "dropped"], "dropped": dropped, "oldest_t": oldest,
            "store": store}
