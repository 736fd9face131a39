"""Reading what the flight recorder (``lab.recorder``) kept: a deployment's ledger, after the fact.

    a user's deployment → (the recorder's store) → **observe/recorder.py** → ledger events → the judge

The events have the ledger's own form (``observe.model.LedgerEvent``), so whatever reads a run's ledger
reads them too.  ``recorded_events`` reads a Redis stream (bounded: the newest ``limit`` events, whatever
the entries that hold them: a batch of one process's events, field ``b``, or one event, field ``e``, as the
recorder wrote them before it batched) or a folder of JSON Lines, and keeps the events of the tasks asked
for (by task id, group id or chord callback id) with what the recorder says of itself: how many events it
dropped, and the oldest event it still holds (older history was trimmed or expired).

``backend_identity`` names the result backend an app writes to, as the recorder puts it on a header part's
publish and end (scheme, host, port, database, ``global_keyprefix``; never a user or password), so a chord's
history says where the producer set its size key and where each part's return was counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lab.observe import ledger

STREAM = "lab:recorder"
LIMIT = 100_000  # events
PAGE = 1_000  # stream entries read in one round trip, at most
PER_ENTRY = 10  # events a stream entry holds, guessed before the first page (the recorder's batches hold up to 10)


def default_store(app) -> str | None:
    """Where ``lab.recorder.install(app)`` writes when given no store: ``app.conf.lab_recorder``, else the app's
    broker when it is Redis (so doctor, given the same app, reads where the workers wrote)."""
    given = app.conf.get("lab_recorder")
    if given:
        return str(given)
    url = str(app.conf.broker_url or "")
    return url if urlparse(url).scheme in ("redis", "rediss") else None


def backend_identity(app) -> dict[str, Any] | None:
    """Where ``app`` stores results: ``{"scheme", "host", "port", "db", "keyprefix"}`` from its ``result_backend`` and
    ``result_backend_transport_options`` (``db``: the Redis database, or a database backend's path); no credentials.
    ``None`` when it has no result backend URL."""
    from urllib.parse import urlsplit

    url = app.conf.result_backend
    if not isinstance(url, str) or "://" not in url:
        return None
    u = urlsplit(url)
    scheme = u.scheme.lower()
    try:
        port = u.port
    except ValueError:
        port = None
    path = u.path.strip("/")
    if scheme in ("redis", "rediss"):
        db: Any = int(path) if path.isdigit() else 0
        port = port or 6379
    elif scheme == "unix":  # unix:///path/to/socket?db=N
        from urllib.parse import parse_qs

        db = int((parse_qs(u.query).get("db") or ["0"])[0] or 0)
    else:
        db = path or None
    host = (u.hostname or "").lower() if scheme != "unix" else u.path
    options = app.conf.get("result_backend_transport_options") or {}
    prefix = options.get("global_keyprefix") if isinstance(options, dict) else None
    return {"scheme": scheme, "host": host, "port": port, "db": db, "keyprefix": prefix or None}


def recorded_events(store: str, *, ids: Iterable[str] = (), stream: str = STREAM, limit: int = LIMIT) -> dict[str, Any]:
    """``{"events": [...], "dropped": n, "oldest_t": t, "store": store}``; ``ids`` keeps the events whose task
    id, group id, chord callback id or root id is among them (all events when empty)."""
    return events_of(read_rows(store, stream=stream, limit=limit), ids, store)


def read_rows(store: str, *, stream: str = STREAM, limit: int = LIMIT) -> list[dict[str, Any]]:
    """Every event the store holds (the newest ``limit``), ``dropped`` ones included: read once, filter with
    ``events_of`` as often as needed."""
    scheme = urlparse(store).scheme
    if scheme == "file":
        return list(ledger.read(Path(urlparse(store).path)))
    import redis

    client = redis.Redis.from_url(store, socket_timeout=5)
    try:
        return _newest(client, stream, limit)
    finally:
        client.close()


def events_of(rows: list[dict[str, Any]], ids: Iterable[str], store: str) -> dict[str, Any]:
    """``recorded_events``'s answer from rows already read."""
    wanted = set(ids)
    dropped = sum(int(r.get("n") or 0) for r in rows if r.get("event") == "dropped")
    oldest = min((r["t"] for r in rows if "t" in r), default=None)
    if wanted:
        def keys(r: dict) -> set:
            return {r.get("task_id"), r.get("group_id"), r.get("chord_callback"), r.get("root_id")} - {None}

        # a part's start names its chord's callback; its publish names only its group: widen once by group
        wanted |= {r.get("group_id") for r in rows if wanted & keys(r) and r.get("group_id")}
        rows = [r for r in rows if wanted & keys(r)]
    rows = sorted(rows, key=lambda r: r.get("t", 0))
    return {"events": [r for r in rows if r.get("event") != "dropped"], "dropped": dropped, "oldest_t": oldest,
            "store": store}


def _newest(client, stream: str, limit: int) -> list[dict[str, Any]]:
    """The stream's newest ``limit`` events, oldest first, read newest entry first: each page as many entries as
    the events still wanted take at the entries' size so far (at most ``PAGE``), so about ``limit`` are decoded."""
    rows: list[dict[str, Any]] = []  # newest first
    top, entries = "+", 0
    while len(rows) < limit:
        per_entry = len(rows) // entries if entries else PER_ENTRY
        count = max(1, min(PAGE, -(-(limit - len(rows)) // max(1, per_entry))))
        page = client.xrevrange(stream, max=top, count=count)
        entries += len(page)
        for _, fields in page:
            if b"b" in fields:
                rows.extend(reversed(json.loads(fields[b"b"])))
            elif b"e" in fields:
                rows.append(json.loads(fields[b"e"]))
        if len(page) < count:
            break
        top = _before(page[-1][0])
        if top is None:
            break
    return rows[:limit][::-1]


def _before(entry_id: bytes) -> str | None:
    """The greatest stream id below ``entry_id`` (an inclusive bound for the next page; Redis 5 has no ``(``)."""
    ms, seq = (int(x) for x in entry_id.decode().split("-"))
    if seq:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{2 ** 64 - 1}" if ms else None
