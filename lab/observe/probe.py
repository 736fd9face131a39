"""Observations: what really happened, read from the ledger, broker, backend and logs.

    scenario → topology up → chords sent → **observations** → verdict → record

Nothing here judges.  The readers live beside this module, one per source,
shared by lab runs, the fuzzer and doctor: ``broker`` (Redis by kombu's key
naming, RabbitMQ by passive declare), ``backend`` (chord keys, metas, INFO),
``workers`` (inspect) and ``live`` (a user's deployment, read by id).

``LedgerWatch`` follows the execution ledger;
``wait_for_quiescence`` waits until every header part has ended, or nothing
has moved for a quiet window (a part whose process died is not "moving": it
is named in ``dead_parts``); the probes read the broker (queue lengths, the
messages in them, unacked messages; on RabbitMQ the broker's own message and
consumer counts), the workers (which worker consumes which queue, what each
has registered), the backend (every chord key with its TTL, the task metas,
``evicted_keys``; also the Redis backends that workers use and the producer
does not, and what came back over rpc://) and the worker logs.  The run stores
these raw observations before the checker judges them, so a stored run can be
judged again.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from lab.observe import ledger
from lab.observe.backend import (CHORD_KEY_SUFFIXES, _jsonable, probe_database_backend,  # noqa: F401 (the face)
                                 probe_redis_backend, probe_rpc_backend, probe_worker_backends)
from lab.observe.broker import RedisNaming, peek_redis, rabbitmq_counts
from lab.observe.model import BrokerProbe, DeadPart, LedgerEvent, Quiescence, SentChord, WorkersProbe
from lab.observe.workers import read_workers

LOG_PATTERNS = re.compile(
    r"unregistered task|Received unregistered|KeyError|ChordError|chord_unlock|Chord callback|Chord .* raised|"
    r"TypeError|WorkerLostError|Traceback|ERROR|CRITICAL|WARNING|OOM|Connection to Redis lost|Restoring|NotRegistered|"
    r"OutOfMemoryError|TimeoutError|does not support chords|Join error|retry:|ignored|rejected"
)
MAX_PEEK = 200
MAX_LOG_LINES = 200


class LedgerWatch:
    """The ledger, read incrementally."""

    def __init__(self, ledger_dir: Path):
        self.dir = ledger_dir
        self.offsets: dict[str, int] = {}
        self.events: list[LedgerEvent] = []

    def poll(self) -> int:
        new = list(ledger.read(self.dir, self.offsets))
        self.events.extend(new)
        return len(new)


def parts_state(events: list[LedgerEvent], sent: list[SentChord]) -> tuple[int, int, int]:
    """(parts expected, parts started, parts ended) over every chord."""
    header_ids = {h for c in sent for h in c["header_ids"]}
    started = {e["task_id"] for e in events if e["event"] == "start" and e.get("task_id") in header_ids}
    ended = {e["task_id"] for e in events if e["event"] == "end" and e.get("task_id") in header_ids}
    return len(header_ids), len(started), len(ended)


def dead_parts(events: list[LedgerEvent], sent: list[SentChord]) -> list[DeadPart]:
    """Header parts that started and never ended, whose process is gone: they will never end.

    The ledger's start event names the pid that ran the part (a pool child, or
    the worker itself for solo/threads); a SIGKILLed worker takes its pool
    children with it.  A part is dead when the last start of it has no end after
    it and that pid no longer runs.
    """
    header_ids = {h for c in sent for h in c["header_ids"]}
    last_start: dict[str, LedgerEvent] = {}
    last_end: dict[str, float] = {}
    for e in events:
        tid = e.get("task_id")
        if tid not in header_ids:
            continue
        if e["event"] == "start":
            last_start[tid] = e
        elif e["event"] == "end":
            last_end[tid] = max(last_end.get(tid, 0.0), e["t"])
    dead: list[DeadPart] = []
    for tid, s in last_start.items():
        if last_end.get(tid, -1.0) >= s["t"]:
            continue
        if not _pid_runs(s.get("pid")):
            dead.append({"task_id": tid, "pid": s.get("pid"), "worker": s.get("worker"), "started": s["t"]})
    return dead


def _pid_runs(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True  # unknown: assume it may still run
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_for_quiescence(watch: LedgerWatch, sent: list[SentChord], *, quiet: float, bound: float,
                        on_progress: Callable[[int, int, int], None] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> Quiescence:
    """Wait until every header part ended, or the ledger was still for ``quiet`` s with no part in
    flight, or ``bound`` s passed.  Return how it ended, with what was last seen.

    A part whose process died (``dead_parts``) is not in flight: it will never end.
    The parts dead at the end are part of the answer, as evidence for the checker.
    """
    t0 = last_change = time.time()
    dead: list[DeadPart] = []
    while True:
        if watch.poll():
            last_change = time.time()
        total, started, ended = parts_state(watch.events, sent)
        if on_progress:
            t_cb = time.time()
            on_progress(total, started, ended)
            if time.time() - t_cb > 0.05:  # a fault or heal took time (a restart): that is a change, not quiet
                last_change = time.time()
        now = time.time()
        if ended >= total:
            return {"how": "all-parts-ended", "t": now, "waited_s": now - t0, "parts": [total, started, ended]}
        idle = now - last_change
        if idle >= quiet:
            dead = dead_parts(watch.events, sent) if started > ended else []
            if started - ended - len(dead) <= 0:
                found: Quiescence = {"how": "quiet", "t": now, "waited_s": now - t0, "parts": [total, started, ended]}
                if dead:
                    found["dead_parts"] = dead
                return found
        if now - t0 >= bound:
            dead = dead_parts(watch.events, sent)
            return {"how": "bound", "t": now, "waited_s": now - t0, "parts": [total, started, ended],
                    "note": f"{ended}/{total} parts ended, {started - ended} still running after {bound:.0f} s",
                    **({"dead_parts": dead} if dead else {})}
        if should_stop and should_stop():
            return {"how": "stopped", "t": now, "waited_s": now - t0, "parts": [total, started, ended]}
        time.sleep(0.02)


# -- probes ---------------------------------------------------------------


def probe_redis_broker(client, queue_names: set[str], naming: RedisNaming = RedisNaming()) -> BrokerProbe:
    """Queue lengths and the task ids waiting in each, peeked without consuming (the shared broker reader)."""
    seen = peek_redis(client, queue_names, naming, depth=MAX_PEEK, shown=MAX_PEEK)
    slim = lambda ms: [{"task_id": m.get("task_id"), "name": m.get("name")} for m in ms]  # noqa: E731 (what a record keeps)
    return {"queues": {n: {"length": q["length"], "messages": slim(q["messages"])} for n, q in seen["queues"].items()},
            "unacked": slim(seen["unacked"]), "bindings": seen["bindings"]}


def probe_rabbitmq_broker(app, queue_names: set[str]) -> BrokerProbe:
    """Message and consumer counts from the broker itself (passive declare: creates nothing)."""
    return {k: v for k, v in rabbitmq_counts(app, queue_names).items() if k != "counts_only"}


def probe_workers(app, n_workers: int, timeout: float = 1.0) -> WorkersProbe:
    """Which queues each live worker consumes, and what it has registered (broadcast, bounded)."""
    return read_workers(app, n_workers, timeout)

def worker_log_lines(log_paths: dict[str, Path], since: dict[str, int] | None = None) -> dict[str, list[str]]:
    """The lines of each worker log that can carry evidence (bounded), from byte offset ``since[name]`` if given."""
    out: dict[str, list[str]] = {}
    for name, path in log_paths.items():
        try:
            with open(path, "rb") as f:
                f.seek((since or {}).get(name, 0))
                text = f.read(4_000_000 if since else -1).decode("utf-8", "replace")
        except OSError:
            continue
        lines = [ln for ln in text.splitlines() if LOG_PATTERNS.search(ln)]
        out[name] = lines[-MAX_LOG_LINES:]
    return out


def known_queues(scenario: dict, sent: list[SentChord], events: list[LedgerEvent]) -> set[str]:
    names = {"celery"}
    for w in scenario.get("workers", []):
        names.update(w.get("queues") or [])
    for c in sent:
        names.update(q for q in (c.get("header_queue"), c.get("callback_queue")) if q)
    names.update(e["queue"] for e in events if e["event"] == "publish" and e.get("queue"))
    routes = scenario.get("config", {}).get("task_routes") or {}
    if isinstance(routes, dict):
        names.update(r["queue"] for r in routes.values() if isinstance(r, dict) and isinstance(r.get("queue"), str))
    return names
