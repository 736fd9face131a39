"""Observations: what really happened, read from the ledger, broker, backend and logs.

    scenario → topology up → chords sent → **observations** → verdict → record

Nothing here judges.  ``LedgerWatch`` follows the execution ledger;
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

import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from lab import ledger

CHORD_KEY_SUFFIXES = (".s", ".j", ".t", ".d", ".c", "")
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
        self.events: list[dict[str, Any]] = []

    def poll(self) -> int:
        new = list(ledger.read(self.dir, self.offsets))
        self.events.extend(new)
        return len(new)


def parts_state(events: list[dict], sent: list[dict]) -> tuple[int, int, int]:
    """(parts expected, parts started, parts ended) over every chord."""
    header_ids = {h for c in sent for h in c["header_ids"]}
    started = {e["task_id"] for e in events if e["event"] == "start" and e.get("task_id") in header_ids}
    ended = {e["task_id"] for e in events if e["event"] == "end" and e.get("task_id") in header_ids}
    return len(header_ids), len(started), len(ended)


def dead_parts(events: list[dict], sent: list[dict]) -> list[dict[str, Any]]:
    """Header parts that started and never ended, whose process is gone: they will never end.

    The ledger's start event names the pid that ran the part (a pool child, or
    the worker itself for solo/threads); a SIGKILLed worker takes its pool
    children with it.  A part is dead when the last start of it has no end after
    it and that pid no longer runs.
    """
    header_ids = {h for c in sent for h in c["header_ids"]}
    last_start: dict[str, dict] = {}
    last_end: dict[str, float] = {}
    for e in events:
        tid = e.get("task_id")
        if tid not in header_ids:
            continue
        if e["event"] == "start":
            last_start[tid] = e
        elif e["event"] == "end":
            last_end[tid] = max(last_end.get(tid, 0.0), e["t"])
    dead = []
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


def wait_for_quiescence(watch: LedgerWatch, sent: list[dict], *, quiet: float, bound: float,
                        on_progress: Callable[[int, int, int], None] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Wait until every header part ended, or the ledger was still for ``quiet`` s with no part in
    flight, or ``bound`` s passed.  Return how it ended, with what was last seen.

    A part whose process died (``dead_parts``) is not in flight: it will never end.
    The parts dead at the end are part of the answer, as evidence for the checker.
    """
    t0 = last_change = time.time()
    dead: list[dict[str, Any]] = []
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
                found = {"how": "quiet", "t": now, "waited_s": now - t0, "parts": [total, started, ended]}
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


def _decode(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, TypeError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _message_ids(raw_messages: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for raw in raw_messages:
        msg = _decode(raw)
        if isinstance(msg, list):  # unacked entries are [message, exchange, routing_key]
            msg = msg[0]
        headers = msg.get("headers", {}) if isinstance(msg, dict) else {}
        out.append({"task_id": headers.get("id"), "name": headers.get("task")})
    return out


def probe_redis_broker(client, queue_names: set[str]) -> dict[str, Any]:
    """Queue lengths and the task ids waiting in each, peeked without consuming."""
    queues: dict[str, Any] = {}
    for name in sorted(queue_names):
        # kombu keeps priorities 1-9 in sibling lists named "<queue>\x06\x16<n>"
        variants = [name] + [f"{name}\x06\x16{p}" for p in (3, 6, 9)]
        length, messages = 0, []
        for key in variants:
            n = client.llen(key)
            if n:
                length += n
                messages += _message_ids(client.lrange(key, 0, MAX_PEEK - 1))
        queues[name] = {"length": length, "messages": messages}
    unacked = _message_ids(list(client.hvals("unacked"))[:MAX_PEEK])
    bindings = sorted(k.decode() for k in client.keys("_kombu.binding.*"))
    return {"queues": queues, "unacked": unacked, "bindings": bindings}


def probe_rabbitmq_broker(app, queue_names: set[str]) -> dict[str, Any]:
    """Message and consumer counts from the broker itself (passive declare: creates nothing)."""
    queues: dict[str, Any] = {}
    with app.connection_for_read() as conn:
        for name in sorted(queue_names):
            channel = conn.channel()
            try:
                _, count, consumers = channel.queue_declare(queue=name, passive=True)
                queues[name] = {"length": count, "consumers": consumers, "messages": []}
            except Exception:  # a queue nobody declared: absent, and its channel is closed by the broker
                queues[name] = {"length": 0, "consumers": 0, "absent": True, "messages": []}
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return {"queues": queues, "unacked": []}


def probe_workers(app, n_workers: int, timeout: float = 1.0) -> dict[str, Any]:
    """Which queues each live worker consumes, and what it has registered (broadcast, bounded)."""
    insp = app.control.inspect(timeout=timeout, limit=n_workers)
    try:
        active = insp.active_queues() or {}
        # nobody answered within the timeout (gone, or reconnecting): asking again now would only wait as long
        registered = (insp.registered() or {}) if active else {}
    except Exception as e:  # the broker went away: say so, judge later
        return {"consumers": {}, "registered": {}, "error": f"{type(e).__name__}: {e}"}
    return {
        "consumers": {w: sorted(q["name"] for q in qs) for w, qs in active.items()},
        "registered": {w: sorted(ts) for w, ts in registered.items()},
    }


def probe_redis_backend(app, sent: list[dict]) -> dict[str, Any]:
    backend = app.backend
    client = backend.client
    chords: dict[str, Any] = {}
    metas: dict[str, Any] = {}
    with client.pipeline(transaction=False) as pipe:
        plan = []
        for c in sent:
            if not c.get("group_id"):
                continue
            for suffix in CHORD_KEY_SUFFIXES:
                key = backend.get_key_for_group(c["group_id"], suffix)
                pipe.type(key)
                pipe.pttl(key)
                plan.append(("key", c["chord_id"], suffix, key))
            for tid in [c["chord_id"], *c["header_ids"]]:
                pipe.get(backend.get_key_for_task(tid))
                plan.append(("meta", tid, None, None))
        replies = pipe.execute()
    it = iter(replies)
    sizes = []
    for kind, ident, suffix, key in plan:
        if kind == "key":
            ktype, pttl = next(it), next(it)
            ktype = ktype.decode() if isinstance(ktype, bytes) else ktype
            entry = {"type": ktype, "pttl_ms": pttl} if ktype != "none" else {"type": "none"}
            chords.setdefault(ident, {})[suffix or "meta"] = entry
            if ktype != "none":
                sizes.append((ident, suffix or "meta", ktype, key))
        else:
            raw = next(it)
            if raw is not None:
                m = _decode(raw)
                metas[ident] = {"status": m.get("status"), "result": m.get("result"),
                                "traceback": (m.get("traceback") or "")[-2000:] or None,
                                "date_done": m.get("date_done")} if isinstance(m, dict) else {"raw": str(m)}
    for ident, name, ktype, key in sizes:  # values of the small keys, sizes of the collections
        slot = chords[ident][name]
        if ktype == "string" and name in (".s", ".t", ".c"):
            slot["value"] = _decode(client.get(key))
        elif ktype == "zset":
            slot["card"] = client.zcard(key)
        elif ktype == "list":
            slot["card"] = client.llen(key)
        elif ktype == "set":
            slot["card"] = client.scard(key)
    info = client.info()
    stats = {k: info.get(k) for k in ("evicted_keys", "expired_keys", "used_memory", "maxmemory", "maxmemory_policy",
                                       "rejected_connections", "loading", "uptime_in_seconds")}
    return {"kind": "redis", "chord_keys": chords, "metas": metas, "stats": stats}


def probe_worker_backends(topo, sent: list[dict]) -> dict[str, Any]:
    """The chord keys and metas in every Redis result backend a worker uses that the producer does not.

    A worker may be deployed with another result database, host or
    ``global_keyprefix`` (mechanism 11): then the chord's keys and the callback's
    meta live where the producer's probe never looks.  Read them with a plain
    Redis client, keyed by worker hostname.
    """
    mine = _backend_place(topo.producer_spec)
    out: dict[str, Any] = {}
    for w in getattr(topo, "workers", []):
        place = _backend_place(w.app_spec)
        if place == mine or not place[0].startswith("redis://"):
            continue
        url, prefix = place
        import redis as redis_py

        client = redis_py.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        try:
            out[w.hostname] = {"url": url, "keyprefix": prefix, **_probe_redis_keys(client, sent, prefix)}
        except Exception as e:  # the server is gone: say so, judge later
            out[w.hostname] = {"url": url, "keyprefix": prefix, "error": f"{type(e).__name__}: {e}"}
        finally:
            client.close()
    return out


def _backend_place(spec: dict[str, Any]) -> tuple[str, str]:
    opts = (spec.get("config") or {}).get("result_backend_transport_options") or {}
    return str(spec.get("result_backend") or ""), str(opts.get("global_keyprefix") or "")


def _celery_keyprefix(prefix: str) -> str:
    """``global_keyprefix`` as the running Celery applies it: 5.5+ adds '_' unless it ends in one of ':_-.'; 5.3-5.4 always do."""
    from celery import VERSION

    if prefix and (VERSION[:2] < (5, 5) or prefix[-1] not in ":_-."):
        return prefix + "_"
    return prefix


def _probe_redis_keys(client, sent: list[dict], prefix: str) -> dict[str, Any]:
    """Like probe_redis_backend, for a backend the lab has no Celery app for (key names spelled out)."""
    prefix = _celery_keyprefix(prefix)
    chords: dict[str, Any] = {}
    metas: dict[str, Any] = {}
    for c in sent:
        if not c.get("group_id"):
            continue
        for suffix in CHORD_KEY_SUFFIXES:
            key = f"{prefix}celery-taskset-meta-{c['group_id']}{suffix}"
            ktype = client.type(key)
            ktype = ktype.decode() if isinstance(ktype, bytes) else ktype
            entry: dict[str, Any] = {"type": ktype}
            if ktype != "none":
                entry["pttl_ms"] = client.pttl(key)
                if ktype == "string" and suffix in (".s", ".t", ".c"):
                    entry["value"] = _decode(client.get(key))
                elif ktype == "zset":
                    entry["card"] = client.zcard(key)
                elif ktype == "list":
                    entry["card"] = client.llen(key)
                elif ktype == "set":
                    entry["card"] = client.scard(key)
            chords.setdefault(c["chord_id"], {})[suffix or "meta"] = entry
        for tid in [c["chord_id"], *c["header_ids"]]:
            raw = client.get(f"{prefix}celery-task-meta-{tid}")
            if raw is not None:
                m = _decode(raw)
                metas[tid] = {"status": m.get("status"), "result": m.get("result")} if isinstance(m, dict) else {"raw": str(m)}
    return {"chord_keys": chords, "metas": metas}


def probe_database_backend(app, sent: list[dict]) -> dict[str, Any]:
    metas: dict[str, Any] = {}
    backend = app.backend
    for c in sent:
        for tid in [c["chord_id"], *c["header_ids"]]:
            try:
                m = backend._get_task_meta_for(tid)
            except Exception as e:
                return {"kind": "database", "metas": metas, "error": f"{type(e).__name__}: {e}"}
            if m and m.get("status") != "PENDING":
                metas[tid] = {"status": m.get("status"), "result": _jsonable(m.get("result")),
                              "traceback": (m.get("traceback") or "")[-2000:] or None}
    return {"kind": "database", "metas": metas}


def probe_rpc_backend(app, sent: list[dict], timeout: float = 0.2) -> dict[str, Any]:
    """What the producer can learn over rpc://: the states that came back on its reply queue.

    rpc:// keeps no store: a state exists only as a message sent back to the
    client that published the task.  Read them (bounded) the way
    ``AsyncResult.state`` would.
    """
    metas: dict[str, Any] = {}
    for c in sent:
        if c.get("apply_error"):
            continue
        try:
            m = app.backend.get_task_meta(c["chord_id"])
        except Exception as e:  # the reply queue is gone with the broker: say so
            return {"kind": "rpc", "metas": metas, "error": f"{type(e).__name__}: {e}"}
        if m and m.get("status") not in (None, "PENDING"):
            metas[c["chord_id"]] = {"status": m.get("status"), "result": _jsonable(m.get("result")),
                                    "traceback": (m.get("traceback") or "")[-2000:] or None}
    return {"kind": "rpc", "metas": metas}


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except (TypeError, ValueError):
        return f"{type(v).__name__}: {v}" if isinstance(v, BaseException) else repr(v)


def worker_log_lines(log_paths: dict[str, Path]) -> dict[str, list[str]]:
    """The lines of each worker log that can carry evidence (bounded)."""
    out: dict[str, list[str]] = {}
    for name, path in log_paths.items():
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        lines = [ln for ln in text.splitlines() if LOG_PATTERNS.search(ln)]
        out[name] = lines[-MAX_LOG_LINES:]
    return out


def known_queues(scenario: dict, sent: list[dict], events: list[dict]) -> set[str]:
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
