"""``lab doctor``: the lab's proof, brought to a user's own live deployment.

    (a user's app + a chord id) → **read the live system** → observations → verdict with proof (judge.py) → cause and fix

``doctor`` imports the user's app (its broker, backend, routes and tasks, as
``celery -A`` would) and only reads:

- workers: ``inspect ping``, ``active_queues``, ``registered``, ``active``,
  ``reserved``, ``scheduled`` (read-only broadcasts);
- broker: queue lengths (Redis lists and their priority siblings, peeked with
  LLEN/LRANGE; the ``unacked`` hash with HSCAN) or RabbitMQ message and
  consumer counts by passive declare.  No message is consumed or acked;
- backend: the callback's and header parts' metas, and on Redis the chord
  keys ``.s/.j/.t/.d/.c`` with their TTLs and ``evicted_keys``
  (``observe.probe_redis_backend``); on the database backend the metas and
  the ``celery.chord_unlock`` trail (its message, held by a worker or queued).

What it reads becomes an observations dict in the lab's own shape, with the
events the lab's ledger would have held rebuilt from the live state (a part's
meta is its "end", a worker's active request its "start"), and the lab's own
checker (``judge.judge``) gives the verdict.  The evidence printed is what
doctor read, labelled by where it read it.

Linking ids on Celery 5.7 (seen in real runs, see tests/test_doctor.py):
a header part's meta holds ``group_id``; the callback message's headers hold
``group`` (the header's group id) and ``parent_id`` (the part that returned
last); the callback's meta, once stored, holds ``group_id`` and ``parent_id``
too; ``.j`` members are ``[1, tid, state, result]`` and ``.d`` members
``tid:index``; after a dispatch ``.j/.s/.d`` are deleted and ``.c`` = ``done``
lives 300 s.  Before the callback is published nothing in Redis names the
callback id, so a callback id alone cannot be linked to its chord then (ask
with the group or a header id).  A callback meta written by the chord
machinery (``ChordError``) or by a worker without the task (``NotRegistered``)
names no group, so such a chord is found from its callback id, not its group.
On the database backend a meta names no group at all; ``celery.chord_unlock``
(args: group id, callback signature; kwargs.result: the header ids) links them
while it lives, and the saved group (``restore_group``) gives the header ids.

Doctor's own rules (``_doctor_rules``, ``_why_size_key_gone``) decide where the
checker needs a ledger: a header part that failed (Celery drops ``.s``); all
parts returned but no dispatch within the ``.c`` marker's life; ``.s`` gone
while open, and how (evicted_keys, FLUSHDB in INFO commandstats, a restart,
or a producer writing elsewhere); chord_unlock retrying on parts that store no
result; a dispatched callback whose result is ignored; parts lost with a dead
consumer (orphaned unacked entries).  A verdict decided so says ``rule: doctor``.

``agreement_rows()`` (``python -m lab.doctor agreement``) runs every scenario,
leaves it up, and records the lab's, doctor's and audit's verdicts side by side.

Exit codes: 0 nothing stuck or failed, 1 stuck or failed, 2 cannot tell, 254 bad input.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from lab import observe
from lab.audit import (AuditError, WorkerDecl, audit, backend_kind, broker_kind, chord_expires, explain_route,
                       load_app, routed_queue)
from lab.judge import judge

EXIT = {"ok": 0, "bad": 1, "unknown": 2}
PEEK_DEPTH = 5000  # messages per queue searched for an id (LRANGE in chunks; never consumed)
PEEK_CHUNK = 500
SHOWN_PER_QUEUE = 50  # messages per queue kept in the observations
META_SCAN_BUDGET_S = 1.5  # SCAN of task metas for a group's members: bounded in time
META_SCAN_MAX_KEYS = 200_000
CHORD_UNLOCK = "celery.chord_unlock"


class DoctorError(AuditError):
    """Bad input to doctor, or a system it cannot reach: one sentence."""


# -- reading the live system ---------------------------------------------------------


def _s(x: Any) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)


def _epoch(date_done: Any) -> float | None:
    if not date_done:
        return None
    try:
        return datetime.fromisoformat(str(date_done).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def decode_message(raw: Any) -> dict[str, Any] | None:
    """A kombu Redis message (or an ``unacked`` entry) as the fields doctor needs; args only for json bodies."""
    try:
        msg = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if isinstance(msg, list) and msg:  # unacked entries are [message, exchange, routing_key]
        msg = msg[0]
    if not isinstance(msg, dict):
        return None
    h = msg.get("headers") or {}
    props = msg.get("properties") or {}
    out = {"task_id": h.get("id"), "name": h.get("task"), "group": h.get("group"), "group_index": h.get("group_index"),
           "parent_id": h.get("parent_id"), "root_id": h.get("root_id"), "retries": h.get("retries"), "eta": h.get("eta"),
           "routing_key": (props.get("delivery_info") or {}).get("routing_key")}
    if msg.get("content-type") == "application/json" and (h.get("task") == CHORD_UNLOCK or h.get("group")):
        try:
            body = msg.get("body")
            if props.get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args, kwargs, _embed = json.loads(body)
            out["args"], out["kwargs"] = args, kwargs
        except (ValueError, TypeError):
            pass
    return out


def unlock_callback_id(m: dict[str, Any]) -> str | None:
    """The callback id a celery.chord_unlock message or request carries (args: group id, callback signature)."""
    args = m.get("args") or []
    body = args[1] if len(args) > 1 else None
    return ((body.get("options") or {}).get("task_id") if isinstance(body, dict) else None)


def unlock_header_ids(m: dict[str, Any]) -> list[str]:
    """The header part ids a celery.chord_unlock message carries (kwargs.result: [[id, parent], ...])."""
    res = (m.get("kwargs") or {}).get("result") or []
    return [r[0][0] for r in res if isinstance(r, list) and r and isinstance(r[0], list) and r[0]]


class Deployment:
    """Read-only access to a user's live broker, workers and result backend."""

    def __init__(self, app, *, timeout: float = 1.0, log_paths: list[Path] | None = None):
        self.app = app
        self.timeout = timeout
        self.log_paths = list(log_paths or [])
        self.broker_kind = broker_kind(app)
        self.backend_kind = backend_kind(app)
        self.reads: list[str] = []  # what was read, for the footer
        self._conn = None
        self._broker_client = None
        self._meta_cache: dict[str, dict | None] = {}

    # workers
    def expected_workers(self) -> int | None:
        """How many workers have a mailbox bound on a Redis broker (so ping can return once all have answered)."""
        if self.broker_kind != "redis":
            return None
        try:
            client, prefix, chan = self.broker_client()
            exchange = f"{self.app.control.mailbox.namespace}.pidbox"
            return client.scard(prefix + chan.keyprefix_queue % exchange) or None
        except Exception:
            return None

    def read_workers(self) -> dict[str, Any]:
        insp = self.app.control.inspect(timeout=self.timeout, limit=self.expected_workers())
        try:
            pongs = insp.ping() or {}
        except Exception as e:  # the broker is unreachable: say so
            raise DoctorError(f"cannot reach the broker {self._redact(self.app.conf.broker_url)} "
                              f"({type(e).__name__}: {e}); run doctor where the workers' broker is reachable.") from None
        out: dict[str, Any] = {"answered": sorted(pongs), "consumers": {}, "registered": {}, "active": {},
                               "reserved": {}, "scheduled": {}}
        if pongs:
            insp = self.app.control.inspect(timeout=self.timeout, limit=len(pongs))  # return once all have answered
            try:
                out["consumers"] = {w: sorted(q["name"] for q in qs) for w, qs in (insp.active_queues() or {}).items()}
                out["registered"] = {w: sorted(ts) for w, ts in (insp.registered() or {}).items()}
                out["active"] = insp.active() or {}
                out["reserved"] = insp.reserved() or {}
                out["scheduled"] = insp.scheduled() or {}
            except Exception as e:
                out["error"] = f"{type(e).__name__}: {e}"
        self.reads.append(f"{len(pongs)} worker(s) answered ping")
        return out

    @staticmethod
    def held(workers: dict[str, Any]) -> list[dict[str, Any]]:
        """Every request a worker holds: (worker, how, request)."""
        rows = []
        for how in ("active", "reserved", "scheduled"):
            for host, reqs in (workers.get(how) or {}).items():
                for r in reqs or []:
                    req = r.get("request", r) if how == "scheduled" else r
                    rows.append({"worker": host, "how": how, "task_id": req.get("id"), "name": req.get("name"),
                                 "args": req.get("args"), "eta": r.get("eta") if how == "scheduled" else None,
                                 "time_start": req.get("time_start"),
                                 "routing_key": (req.get("delivery_info") or {}).get("routing_key")})
        return rows

    # broker
    def queue_names(self, workers: dict[str, Any], extra: set[str] = frozenset()) -> set[str]:
        names = {self.app.conf.task_default_queue, *extra}
        names.update(q.name for q in (self.app.conf.task_queues or ()))
        for qs in (workers.get("consumers") or {}).values():
            names.update(qs)
        for name in list(self.app.tasks):
            q = routed_queue(self.app, name)
            if q:
                names.add(q)
        if self.broker_kind == "redis":
            names.update(self._bound_queues())
        return {n for n in names if n and not n.endswith(".pidbox") and "celeryev" not in n}

    def _channel(self):
        if self._conn is None:
            self._conn = self.app.connection_for_read()
            self._conn.ensure_connection(max_retries=1)
        return self._conn.default_channel

    def broker_client(self):
        """A plain redis-py client on kombu's own pool (its URL, options and SSL), and kombu's global key prefix."""
        if self._broker_client is None:
            import redis

            chan = self._channel()
            self._broker_client = (redis.Redis(connection_pool=chan.pool), chan.global_keyprefix or "", chan)
        return self._broker_client

    def _bound_queues(self) -> set[str]:
        client, prefix, chan = self.broker_client()
        names: set[str] = set()
        for key in client.scan_iter(match=f"{prefix}{chan.keyprefix_queue % '*'}", count=1000):
            for member in client.smembers(key):
                parts = _s(member).split(chan.sep)
                if len(parts) == 3 and parts[2]:
                    names.add(parts[2])
        return names

    def read_broker(self, names: set[str], want_ids: set[str], want_groups: set[str]) -> dict[str, Any]:
        if self.broker_kind == "redis":
            return self._read_redis_broker(names, want_ids, want_groups)
        if self.broker_kind == "rabbitmq":
            probe = observe.probe_rabbitmq_broker(self.app, names)  # passive declare: creates nothing
            probe["note"] = "RabbitMQ messages cannot be read without consuming them: counts only"
            self.reads.append(f"{len(names)} RabbitMQ queue(s) by passive declare")
            return probe
        return {"queues": {}, "unacked": [], "note": f"broker {self.broker_kind} is not read by doctor"}

    def _read_redis_broker(self, names: set[str], want_ids: set[str], want_groups: set[str]) -> dict[str, Any]:
        client, prefix, chan = self.broker_client()
        queues: dict[str, Any] = {}
        found: list[dict[str, Any]] = []
        peeked = 0

        def wanted(m: dict) -> bool:
            return bool(m and (m.get("task_id") in want_ids or m.get("group") in want_groups
                               or (m.get("name") == CHORD_UNLOCK and ((m.get("args") or [None])[0] in want_groups
                                                                     or unlock_callback_id(m) in want_ids
                                                                     or want_ids & set(unlock_header_ids(m))))))

        for name in sorted(names):
            keys = [prefix + name] + [f"{prefix}{name}{chan.sep}{p}" for p in chan.priority_steps if p]
            length, shown = 0, []
            for key in keys:
                n = client.llen(key)
                if not n:
                    continue
                length += n
                for start in range(0, min(n, PEEK_DEPTH), PEEK_CHUNK):
                    for raw in client.lrange(key, start, min(n, PEEK_DEPTH) - 1 if start + PEEK_CHUNK > PEEK_DEPTH else start + PEEK_CHUNK - 1):
                        peeked += 1
                        m = decode_message(raw)
                        if m is None:
                            continue
                        if wanted(m):
                            found.append({**m, "where": f"queue {name!r}"})
                        if len(shown) < SHOWN_PER_QUEUE or wanted(m):
                            shown.append(m)
            queues[name] = {"length": length, "messages": shown}
        unacked = []
        key = prefix + str((self.app.conf.broker_transport_options or {}).get("unacked_key", "unacked"))
        for i, (_tag, raw) in enumerate(client.hscan_iter(key, count=1000)):
            if i >= PEEK_DEPTH:
                break
            m = decode_message(raw)
            if m:
                unacked.append(m)
                if wanted(m):
                    found.append({**m, "where": "the unacked hash (delivered to a worker, not yet acknowledged)"})
        self.reads.append(f"{len(queues)} Redis queue(s) peeked ({peeked} message(s) read, none consumed)")
        return {"queues": queues, "unacked": unacked, "found": found}

    # backend
    def meta(self, tid: str | None) -> dict[str, Any] | None:
        if not tid:
            return None
        if tid in self._meta_cache:
            return self._meta_cache[tid]
        m = None
        try:
            if self.backend_kind == "redis":
                backend = self.app.backend
                raw = backend.client.get(backend.get_key_for_task(tid))
                m = backend.decode(raw) if raw is not None else None
            elif self.backend_kind == "database":
                got = self.app.backend._get_task_meta_for(tid)
                m = got if got and got.get("status") != "PENDING" else None
        except Exception:
            m = None
        self._meta_cache[tid] = m if isinstance(m, dict) else None
        return self._meta_cache[tid]

    def group_keys(self, gid: str) -> dict[str, Any]:
        """The Redis chord keys of group ``gid``: type, PTTL, and the members of .j and .d."""
        backend = self.app.backend
        client = backend.client
        keys: dict[str, Any] = {}
        for suffix in observe.CHORD_KEY_SUFFIXES:
            key = backend.get_key_for_group(gid, suffix)
            ktype = _s(client.type(key))
            if ktype == "none":
                continue
            entry: dict[str, Any] = {"type": ktype, "pttl_ms": client.pttl(key)}
            if ktype == "string":
                entry["value"] = _s(client.get(key)) if suffix else None
            elif ktype == "zset":
                entry["members"] = [backend.decode(v) for v in client.zrange(key, 0, -1)]
            elif ktype == "list":
                entry["members"] = [backend.decode(v) for v in client.lrange(key, 0, -1)]
            elif ktype == "set":
                entry["members"] = sorted(_s(v) for v in client.smembers(key))
            keys[suffix or "meta"] = entry
        return keys

    def scan_group_metas(self, gid: str, header_ids: set[str] = frozenset()) -> dict[str, Any]:
        """Task metas that belong to group ``gid`` (Redis: a bounded SCAN, read only).

        ``members``: metas whose group_id is ``gid``; ``chord_errors``: FAILURE metas whose
        ChordError names one of ``header_ids`` (the callback, failed by the chord machinery);
        ``orphans``: FAILURE metas that name no group (what a NotRegistered or ChordError
        callback leaves), with their date_done, so the caller can list candidates."""
        out: dict[str, Any] = {"members": [], "chord_errors": [], "orphans": [], "how": "not scanned"}
        if self.backend_kind != "redis":
            out["how"] = "not scanned (only the Redis backend is scanned)"
            return out
        backend = self.app.backend
        client = backend.client
        pattern = _s(backend.get_key_for_task("*"))
        t0, seen = time.time(), 0
        needle = gid.encode()
        batch: list[bytes] = []

        def flush() -> None:
            if not batch:
                return
            with client.pipeline(transaction=False) as pipe:
                for k in batch:
                    pipe.get(k)
                values = pipe.execute()
            for k, raw in zip(batch, values):
                if raw is None:
                    continue
                tid = _s(k)[len(pattern) - 1:]
                if needle in raw:
                    m = backend.decode(raw)
                    if isinstance(m, dict) and m.get("group_id") == gid:
                        out["members"].append((tid, m))
                        continue
                if b'"FAILURE"' in raw and b'"group_id"' not in raw:
                    m = backend.decode(raw)
                    if not isinstance(m, dict):
                        continue
                    msg = str((m.get("result") or {}).get("exc_message")) if isinstance(m.get("result"), dict) else ""
                    if b"ChordError" in raw and any(h in msg for h in header_ids):
                        out["chord_errors"].append((tid, m))
                    else:
                        out["orphans"].append((tid, m))
            batch.clear()

        complete = True
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            seen += 1
            if len(batch) >= 500:
                flush()
            if seen >= META_SCAN_MAX_KEYS or time.time() - t0 > META_SCAN_BUDGET_S:
                complete = False
                break
        flush()
        out["how"] = f"scanned {seen} task meta(s) in {time.time() - t0:.2f} s" + ("" if complete else " (stopped at the bound)")
        self.reads.append(out["how"])
        return out

    def open_groups(self, limit: int = 50) -> dict[str, set[str]]:
        """Groups with chord keys in the Redis backend, and which suffixes they have (bounded SCAN)."""
        if self.backend_kind != "redis":
            return {}
        backend = self.app.backend
        client = backend.client
        base = _s(backend.get_key_for_group("X"))[:-1]
        groups: dict[str, set[str]] = {}
        for i, key in enumerate(client.scan_iter(match=base + "*", count=1000)):
            if i > 20000:
                break
            rest = _s(key)[len(base):]
            gid, dot, suffix = rest.partition(".")
            groups.setdefault(gid, set()).add("." + suffix if dot else "meta")
            if len(groups) > limit * 4:
                break
        return groups

    def backend_probe(self, chord: dict[str, Any]) -> dict[str, Any]:
        """The lab's own backend probe over this chord (chord keys with TTLs, metas, INFO stats)."""
        try:
            if self.backend_kind == "redis":
                return observe.probe_redis_backend(self.app, [chord])
            if self.backend_kind == "database":
                return observe.probe_database_backend(self.app, [chord])
        except Exception as e:
            return {"kind": self.backend_kind, "metas": {}, "error": f"{type(e).__name__}: {e}"}
        return {"kind": self.backend_kind, "metas": {}}

    def logs(self) -> dict[str, list[str]]:
        return observe.worker_log_lines({p.name: p for p in self.log_paths}) if self.log_paths else {}

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:
                pass
        try:
            self.app.close()
        except Exception:
            pass

    @staticmethod
    def _redact(url: Any) -> str:
        s = str(url or "")
        if "@" in s and "://" in s:
            scheme, rest = s.split("://", 1)
            return f"{scheme}://***@{rest.split('@', 1)[1]}"
        return s


# -- linking ids ----------------------------------------------------------------------


@dataclass
class ChordRef:
    """What doctor found out about a chord's ids, and how."""

    asked: str
    group_id: str | None = None
    callback_id: str | None = None
    header_ids: list[str] = field(default_factory=list)
    header_task: str | None = None
    callback_task: str | None = None
    size: int | None = None
    asked_is: str = "unknown"  # callback, group, header, unknown
    how: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # FAILURE metas naming no group, stored just after the last part


def _header_ids_from_keys(keys: dict[str, Any]) -> list[str]:
    ids: dict[str, int] = {}
    for m in (keys.get(".d") or {}).get("members") or []:
        tid, _, idx = m.rpartition(":")
        try:
            ids[tid] = int(float(idx))
        except ValueError:
            ids.setdefault(tid, 10**9)
    for m in (keys.get(".j") or {}).get("members") or []:
        if isinstance(m, list) and len(m) >= 2:
            ids.setdefault(m[1], 10**9)
    return [t for t, _ in sorted(ids.items(), key=lambda kv: kv[1])]


def _unregistered_name(meta: dict | None) -> str | None:
    """The task name a NotRegistered failure names (a worker got a message for a task it lacks)."""
    res = (meta or {}).get("result")
    if isinstance(res, dict) and res.get("exc_type") == "NotRegistered":
        msg = res.get("exc_message")
        return str(msg[0] if isinstance(msg, list) and msg else msg).strip("'\"")
    return None


def resolve(dep: Deployment, ident: str, hint: str, broker: dict[str, Any], workers: dict[str, Any]) -> ChordRef:
    """From one id (callback, group or header part), the chord's group, header ids and callback."""
    ref = ChordRef(asked=ident)
    found = [m for m in broker.get("found") or []]
    held = dep.held(workers)
    meta = dep.meta(ident)
    keys = dep.group_keys(ident) if dep.backend_kind == "redis" else {}
    group = None
    if dep.backend_kind == "database":
        try:
            group = dep.app.backend.restore_group(ident)
        except Exception:
            group = None
    msg = next((m for m in found if m.get("task_id") == ident), None)
    held_req = next((h for h in held if h.get("task_id") == ident), None)
    unlock_ref = next((m for m in [*found, *[{**h, "where": f"worker {h['worker']} ({h['how']})"} for h in held]]
                       if m.get("name") == CHORD_UNLOCK and (unlock_callback_id(m) == ident or ident in unlock_header_ids(m))), None)

    if hint == "group" or keys or group is not None:
        ref.asked_is, ref.group_id = "group", ident
        ref.how.append(f"{ident} is a group id: " + (f"the backend holds its chord keys {', '.join(sorted(keys))}" if keys
                                                    else "the backend holds its saved group" if group is not None
                                                    else "given as --group"))
    elif msg is not None:
        if msg.get("group_index") is not None or msg.get("name") == CHORD_UNLOCK:
            ref.asked_is = "header"
        else:
            ref.asked_is = "callback"
        ref.group_id = msg.get("group")
        ref.how.append(f"{ident} is a {ref.asked_is} message in {msg['where']} (headers: group {msg.get('group')}, parent {msg.get('parent_id')})")
    elif meta and meta.get("group_id"):
        ref.group_id = meta["group_id"]
        parent = dep.meta(meta.get("parent_id")) if meta.get("parent_id") else None
        # The callback is published by the worker that returned the last part: its parent is a part of
        # the same group (or, when header parts store no result, a task with no meta at all).
        known_parts = _header_ids_from_keys(dep.group_keys(ref.group_id)) if dep.backend_kind == "redis" else []
        if ident not in known_parts and meta.get("parent_id") and (
                (parent is not None and parent.get("group_id") == ref.group_id)
                or (parent is None and isinstance(meta.get("result"), list))):
            ref.asked_is = "callback"
            ref.how.append(f"{ident} is the callback: its meta names group {ref.group_id} and parent {meta['parent_id']}"
                           + (", a part of that group" if parent else ", which stored no meta"))
        else:
            ref.asked_is = "header"
            ref.how.append(f"{ident} is a header part: its meta names group {ref.group_id}")
    elif unlock_ref is not None:
        ref.group_id = (unlock_ref.get("args") or [None])[0]
        ref.asked_is = "callback" if unlock_callback_id(unlock_ref) == ident else "header"
        ref.how.append(f"{ident} is the {ref.asked_is} of group {ref.group_id}, named by celery.chord_unlock in {unlock_ref['where']}")
    elif meta is not None and (dep.backend_kind != "redis" and hint == "chord"
                               or (isinstance(meta.get("result"), dict)
                                   and meta["result"].get("exc_type") in ("ChordError", "NotRegistered"))):
        # On Redis a meta names its group unless the chord machinery (ChordError) or a worker without the task
        # (NotRegistered) wrote it; the database backend stores no group in a meta, so there an id given as
        # --chord is taken as the callback's.
        ref.asked_is = "callback"
        ref.how.append(f"{ident} has a meta ({meta.get('status')}) that names no group")
        err = meta.get("result") if isinstance(meta.get("result"), dict) else {}
        text = str(err.get("exc_message") or "")
        if err.get("exc_type") == "ChordError" and "Dependency " in text:
            part = text.split("Dependency ", 1)[1].split(" ", 1)[0].strip("'\"[]")
            pmeta = dep.meta(part)
            if pmeta and pmeta.get("group_id"):
                ref.group_id = pmeta["group_id"]
                ref.header_ids.append(part)
                ref.how.append(f"its ChordError names header part {part}, of group {ref.group_id}")
    elif held_req is not None:
        ref.asked_is = "callback" if held_req.get("name") != CHORD_UNLOCK else "unknown"
        ref.how.append(f"{ident} is held by worker {held_req['worker']} ({held_req['how']})")
    if ref.asked_is == "callback":
        ref.callback_id = ident
        ref.callback_task = (msg or {}).get("name") or (meta or {}).get("name") or (held_req or {}).get("name") \
            or _unregistered_name(meta)
    if msg is not None and ref.asked_is == "header":
        ref.header_task = msg.get("name") if msg.get("name") != CHORD_UNLOCK else None
    if meta and ref.asked_is == "header" and ident not in ref.header_ids:
        ref.header_ids.append(ident)
        ref.header_task = ref.header_task or meta.get("name")

    gid = ref.group_id
    if gid is None:
        return ref
    if gid != ident and dep.backend_kind == "redis":
        keys = dep.group_keys(gid)
    ref.header_ids = list(dict.fromkeys([*_header_ids_from_keys(keys), *ref.header_ids]))
    if (keys.get(".s") or {}).get("value") is not None:
        try:
            ref.size = int(keys[".s"]["value"]) + int((keys.get(".t") or {}).get("value") or 0)
        except ValueError:
            pass
    if group is not None:
        ref.header_ids = list(dict.fromkeys([*ref.header_ids, *(r.id for r in group.results)]))
        ref.size = ref.size or len(group.results)
    # chord_unlock (backends without native join) carries the group, the callback and every header id
    for m in [*found, *[{**h, "where": f"worker {h['worker']} ({h['how']})"} for h in held]]:
        if m.get("name") == CHORD_UNLOCK and (m.get("args") or [None])[0] == gid:
            body = (m.get("args") or [None, None])[1] or {}
            opts = body.get("options") or {} if isinstance(body, dict) else {}
            ref.callback_id = ref.callback_id or opts.get("task_id")
            ref.callback_task = ref.callback_task or (body.get("task") if isinstance(body, dict) else None)
            res = (m.get("kwargs") or {}).get("result") or []
            ref.header_ids = list(dict.fromkeys([*ref.header_ids, *unlock_header_ids(m)]))
            ref.size = ref.size or (len(res) or None)
            ref.how.append(f"celery.chord_unlock for group {gid} in {m['where']} names callback {ref.callback_id} "
                           f"and {len(res)} header part(s)")
            break
    # the callback's message: headers.group is the header's group, and it is no header part
    if ref.callback_id is None:
        cb = next((m for m in found if m.get("group") == gid and m.get("group_index") is None
                   and m.get("name") != CHORD_UNLOCK and m.get("task_id") not in ref.header_ids), None)
        if cb:
            ref.callback_id, ref.callback_task = cb["task_id"], cb.get("name")
            ref.how.append(f"the callback {cb['task_id']} ({cb.get('name')}) is a message in {cb['where']} whose headers name group {gid}")
    if ref.callback_id and ref.callback_task is None:
        cb = next((m for m in found if m.get("task_id") == ref.callback_id), None)
        cmeta = dep.meta(ref.callback_id) or {}
        ref.callback_task = (cb or {}).get("name") or cmeta.get("name") or _unregistered_name(cmeta)
    cb_msg = next((m for m in found if m.get("task_id") == ref.callback_id), None) if ref.callback_id else None
    if cb_msg and cb_msg.get("parent_id"):
        ref.header_ids = list(dict.fromkeys([*ref.header_ids, cb_msg["parent_id"]]))
    if cb_msg and isinstance((cb_msg.get("args") or [None])[0], list):
        ref.size = ref.size or len(cb_msg["args"][0])
    # header parts still in queues or held by workers
    for m in found:
        if m.get("group") == gid and m.get("group_index") is not None and m.get("task_id") not in ref.header_ids:
            ref.header_ids.append(m["task_id"])
            ref.header_task = ref.header_task or m.get("name")
    # the rest from the task metas that name this group
    if ref.size is None or len(ref.header_ids) < ref.size or ref.callback_id is None:
        scan = dep.scan_group_metas(gid, set(ref.header_ids))
        hits = scan["members"]
        members = {tid: m for tid, m in hits}
        for tid, m in hits:
            parent = m.get("parent_id")
            if ref.callback_id is None and parent and tid not in ref.header_ids and (parent in members or not dep.meta(parent)):
                ref.callback_id = tid
                ref.callback_task = ref.callback_task or m.get("name")
                ref.how.append(f"the callback {tid} is the meta in group {gid} whose parent {parent} is a part of that group")
        new = [tid for tid in members if tid != ref.callback_id and tid not in ref.header_ids]
        ref.header_ids += sorted(new)
        if hits:
            ref.how.append(f"{len(hits)} task meta(s) name group {gid} ({scan['how']})")
        if ref.callback_id is None and len(scan["chord_errors"]) == 1:
            tid, m = scan["chord_errors"][0]
            ref.callback_id = tid
            ref.how.append(f"the callback {tid} holds the ChordError that names header part(s) of group {gid}")
        if ref.callback_id is None:
            last = max((_epoch((members.get(t) or dep.meta(t) or {}).get("date_done")) or 0 for t in ref.header_ids), default=0)
            ref.candidates = sorted(tid for tid, m in scan["orphans"]
                                    if last and 0 <= (_epoch(m.get("date_done")) or 0) - last <= 5.0)
    if ref.header_task is None:
        for tid in ref.header_ids:
            h = next((h for h in held if h.get("task_id") == tid), None)
            name = (h or {}).get("name") or (dep.meta(tid) or {}).get("name")
            if name:
                ref.header_task = name
                break
    return ref


# -- observations in the lab's shape ------------------------------------------------------


def build_observations(dep: Deployment, ref: ChordRef, workers: dict[str, Any], broker: dict[str, Any],
                       backend: dict[str, Any], started_at: float) -> dict[str, Any]:
    """The live reading as the lab's observations dict, so judge.judge can decide."""
    cid = ref.callback_id or f"(the callback of group {ref.group_id})"
    chord = {"index": 0, "chord_id": cid, "group_id": ref.group_id, "header_ids": list(ref.header_ids),
             "header_task": ref.header_task, "callback_task": ref.callback_task,
             "callback_queue": routed_queue(dep.app, ref.callback_task) if ref.callback_task else None,
             "expected": None}
    events: list[dict[str, Any]] = []
    metas = backend.get("metas") or {}
    returned: dict[str, str] = {}
    keys = (backend.get("chord_keys") or {}).get(cid) or {}
    for m in (dep.group_keys(ref.group_id).get(".j") or {}).get("members", []) if (ref.group_id and dep.backend_kind == "redis") else []:
        if isinstance(m, list) and len(m) >= 3:
            returned[m[1]] = m[2]
    for tid in ref.header_ids:  # a part's stored state (meta, or its .j member) is its "end"
        meta = dep.meta(tid) or {}
        state = meta.get("status") or returned.get(tid)
        if state in ("SUCCESS", "FAILURE", "REVOKED", "IGNORED", "REJECTED"):
            events.append({"event": "end", "task_id": tid, "state": state, "t": _epoch(meta.get("date_done")),
                           "worker": meta.get("worker"), "source": "backend"})
        elif state == "STARTED":
            events.append({"event": "start", "task_id": tid, "t": None,
                           "worker": (meta.get("result") or {}).get("hostname") if isinstance(meta.get("result"), dict) else None,
                           "source": "backend"})
    for h in dep.held(workers):
        if h["how"] == "active" and h["task_id"] in {*ref.header_ids, ref.callback_id}:
            events.append({"event": "start", "task_id": h["task_id"], "t": h.get("time_start"), "worker": h["worker"],
                           "args": h.get("args"), "source": "workers"})
    unacked = [{"task_id": m.get("task_id"), "name": m.get("name")} for m in broker.get("unacked") or []]
    for h in dep.held(workers):
        if h["how"] in ("reserved", "scheduled"):
            unacked.append({"task_id": h["task_id"], "name": h["name"]})
            if h["task_id"] == ref.callback_id:
                events.append({"event": "publish", "task_id": h["task_id"], "queue": h.get("routing_key"),
                               "by": "?", "t": None, "source": "workers"})
    cmeta = dep.meta(ref.callback_id) or {}
    if ref.callback_id and cmeta.get("status") == "SUCCESS":
        t = _epoch(cmeta.get("date_done"))
        events += [{"event": "start", "task_id": ref.callback_id, "t": t, "worker": cmeta.get("worker"), "args": None, "source": "backend"},
                   {"event": "end", "task_id": ref.callback_id, "t": t, "state": "SUCCESS", "worker": cmeta.get("worker"), "source": "backend"}]
    res = cmeta.get("result")
    if (ref.callback_id and cmeta.get("status") == "FAILURE" and isinstance(res, dict)
            and res.get("exc_type") not in ("NotRegistered", "ChordError")):
        # any other error was raised by the callback's own code: it ran (ChordError and NotRegistered are
        # written for a callback that never ran)
        t = _epoch(cmeta.get("date_done"))
        events += [{"event": "start", "task_id": ref.callback_id, "t": t, "worker": cmeta.get("worker"), "args": None, "source": "backend"},
                   {"event": "end", "task_id": ref.callback_id, "t": t, "state": "FAILURE", "worker": cmeta.get("worker"),
                    "result": f"{res.get('exc_type')}: {res.get('exc_message')}", "source": "backend"}]
    if isinstance(res, dict) and res.get("exc_type") == "NotRegistered":  # a worker received it without the task
        events.append({"event": "unregistered", "task_id": ref.callback_id, "worker": cmeta.get("worker"),
                       "t": _epoch(cmeta.get("date_done")), "source": "backend"})
    if ((keys.get(".c") or {}).get("value") == "done" and ref.callback_id
            and not any(e["event"] in ("publish", "start") and e["task_id"] == ref.callback_id for e in events)):
        events.append({"event": "publish", "task_id": ref.callback_id, "queue": chord["callback_queue"],
                       "by": "the worker that returned the last part (.c = done)", "t": None, "source": "backend"})
    queues = {name: {"length": q.get("length", 0), "messages": [{"task_id": m.get("task_id"), "name": m.get("name")}
                                                               for m in q.get("messages") or []],
                     **({"consumers": q["consumers"]} if "consumers" in q else {})}
              for name, q in (broker.get("queues") or {}).items()}
    probe = {"t": time.time(), "quiesced": True, "broker": {"queues": queues, "unacked": unacked},
             "workers": {"consumers": workers.get("consumers") or {}, "registered": workers.get("registered") or {},
                         **({"error": workers["error"]} if workers.get("error") else {})},
             "backend": backend, "logs": dep.logs()}
    return {"run_id": None, "scenario": {"config": {}}, "started_at": started_at, "chords": [chord], "size_ttls": [],
            "ledger": events, "probe": probe}


# -- the diagnosis ----------------------------------------------------------------------


@dataclass
class Diagnosis:
    asked: str
    verdict: str  # stuck, completed, failed, running, unknown (the lab's vocabulary; running = not final yet)
    cause: str | None
    summary: str
    fix: str | None
    evidence: list[str]
    missing: list[str]
    ids: dict[str, Any]
    rule: str = "judge"  # judge (the lab's checker) or doctor (doctor's own rule over live evidence)
    likely_cause: str | None = None  # for "unknown": the cause the app's config points at, never a verdict

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _short(name: str | None) -> str:
    return (name or "?").rsplit(".", 1)[-1]


def consumers_line(workers: dict[str, Any]) -> str:
    cons = workers.get("consumers") or {}
    if not cons:
        return "no worker answered"
    return "; ".join(f"{w} consumes {', '.join(qs) or 'nothing'}" for w, qs in sorted(cons.items()))


def fix_for(cause: str | None, dep: Deployment, ref: ChordRef, workers: dict[str, Any], queue: str | None) -> str | None:
    app = dep.app
    consumed = sorted({q for qs in (workers.get("consumers") or {}).values() for q in qs})
    if cause in ("callback-queue-unconsumed", "header-queue-unconsumed", "chord-unlock-unconsumed"):
        task = ref.callback_task if cause != "header-queue-unconsumed" else ref.header_task
        alt = f"route it to {consumed[0]!r}" if len(consumed) == 1 else (f"route it to one of {', '.join(map(repr, consumed))}" if consumed else "")
        start = f"start a worker with `-Q {','.join([queue or '?', *consumed])}`"
        tail = "; the waiting message then runs by itself" if cause != "chord-unlock-unconsumed" else "; chord_unlock then runs the callback"
        return f"{start}{', or ' + alt if alt else ''}{tail}" if task or queue else None
    if cause == "callback-unregistered":
        lacking = [w for w, ts in sorted((workers.get("registered") or {}).items()) if ref.callback_task not in ts]
        who = f" on {', '.join(lacking)}" if lacking else ""
        return (f"deploy the code that defines {ref.callback_task!r}{who}, or stop those workers consuming its queue; "
                "then send the chord again (the callback message was discarded)")
    if cause == "header-part-unregistered":
        return f"deploy the code that defines {ref.header_task!r} on every worker that consumes its queue, then send the chord again"
    if cause == "chord-size-key-missing":
        exp, which = chord_expires(app)
        return (f"keep the chord keys longer than a chord takes: raise result_chord_expires (now {which} = {exp:g} s), "
                "and give the result backend maxmemory-policy noeviction; then send the chord again") if exp else \
            "give the result backend maxmemory-policy noeviction (keys were evicted or flushed); then send the chord again"
    if cause == "part-return-missing":
        return "don't raise Reject/Ignore in header tasks and let them store results; then send the chord again"
    if cause == "header-part-lost":
        return "set task_acks_late=True and task_reject_on_worker_lost=True so a killed worker's parts are redelivered; send the chord again"
    if cause == "header-part-missing":
        return "a header message was lost (purged, expired or flushed): make the broker persistent, then send the chord again"
    if cause == "chord-unlock-retrying":
        return (f"let header tasks store results: remove ignore_result from {ref.header_task or 'the header task'} "
                "(and task_ignore_result); then send the chord again")
    if cause == "chord-counter-mismatch":
        return "flatten the chord header (nested groups/chains miscount on this Celery version), or upgrade Celery"
    if cause == "callback-raised":
        return f"fix the error in {ref.callback_task or 'the callback'} (see the traceback)"
    if cause == "callback-publish-error":
        return f"make {ref.callback_task or 'the callback'} accept the header's results list first, then its partial arguments"
    if cause == "header-part-failed":
        return "a header part raised, so the chord failed by design: fix that part, or handle errors inside it"
    if cause == "join-error":
        return "raise result_chord_join_timeout, or make the header simpler"
    if cause == "join-hang":
        return "set result_chord_join_timeout, and avoid nested groups in a chord header whose results are not stored"
    if cause == "result-ignored":
        return f"let {ref.callback_task or 'the callback'} store its result: ignore_result=False on it (task_ignore_result=False)"
    if cause == "chord-refused":
        return "use the Redis or database result backend for chords (rpc:// refuses them)"
    if cause == "message-redelivered":
        return "raise broker_transport_options visibility_timeout above the longest countdown/eta and acks_late run"
    if cause == "backend-mismatch":
        return "give the producer and every worker the same result_backend URL (database, host and global_keyprefix)"
    if cause == "chord-key-evicted":
        return "give the result backend maxmemory-policy noeviction (or its own Redis with room); then send the chord again"
    if cause == "backend-data-lost":
        return "enable persistence (appendonly yes) on the result backend and never FLUSHDB it; then send the chord again"
    return None


def diagnose(dep: Deployment, ident: str, hint: str, workers: dict[str, Any], broker_names: set[str]) -> Diagnosis:
    t0 = time.time()
    if dep.backend_kind == "rpc":  # no chord can exist here: Celery refuses them on apply
        return Diagnosis(ident, "failed", "chord-refused",
                         "this app's result backend is rpc://, which refuses chords: applying one raises NotImplementedError",
                         fix_for("chord-refused", dep, ChordRef(ident), workers, None),
                         [f"config: result_backend = {dep.app.conf.result_backend!r}"], [], {"asked_is": "unknown"}, rule="doctor")
    broker = dep.read_broker(broker_names, {ident}, {ident})
    ref = resolve(dep, ident, hint, broker, workers)
    if ref.group_id and (ref.group_id != ident or ref.callback_id):  # search again, now for every id of the chord
        want = {ident, *(i for i in (ref.callback_id, *ref.header_ids) if i)}
        broker = dep.read_broker(broker_names, want, {ref.group_id})
        if ref.callback_id is None:
            ref = resolve(dep, ident, hint, broker, workers)
    ids = {"group_id": ref.group_id, "callback_id": ref.callback_id, "callback_task": ref.callback_task,
           "header_ids": ref.header_ids, "header_task": ref.header_task, "size": ref.size, "asked_is": ref.asked_is,
           "how": ref.how}
    if ref.group_id is None and ref.callback_id is None:
        return _untraceable(dep, ident, hint, workers, broker, ids)
    pseudo = {"chord_id": ref.callback_id or f"(the callback of group {ref.group_id})", "group_id": ref.group_id,
              "header_ids": ref.header_ids}
    backend = dep.backend_probe(pseudo)
    metas = backend.setdefault("metas", {})
    for tid in [ref.callback_id, *ref.header_ids]:  # the lab's probe reads metas only for chords it knows a group of
        m = dep.meta(tid)
        if tid and m and tid not in metas:
            metas[tid] = {"status": m.get("status"), "result": m.get("result"),
                          "traceback": (m.get("traceback") or "")[-2000:] or None, "date_done": m.get("date_done")}
    obs = build_observations(dep, ref, workers, broker, backend, t0)
    v = judge(obs)[0]
    verdict = v.verdict if v.final else ("running" if v.verdict == "unknown" else v.verdict)
    d = Diagnosis(ident, verdict, v.cause, v.summary, None, [], [], ids)
    own = _doctor_rules(dep, ref, workers, broker, backend, d)
    if own is not None:
        d = own
    elif d.cause == "chord-size-key-missing" and dep.backend_kind == "redis" and ref.group_id:
        # the checker sees .s missing; the live Redis can tell how it went (INFO, TTLs)
        keys = dep.group_keys(ref.group_id)
        cause, why = _why_size_key_gone(dep, keys, backend, ref)
        d.summary = f"{d.summary}: {why}"
        if cause == "chord-error":  # failed, not stuck: its callback holds the ChordError
            d.verdict, d.cause, d.rule = "failed", None, "doctor"
            d.missing.append("the callback's id, for the ChordError it holds: it names no group; ask with --chord <callback id>")
        elif cause != d.cause:
            d.cause, d.rule = cause, "doctor"
    d.evidence = _evidence(dep, ref, workers, broker, backend, d)
    if d.verdict == "unknown" and not d.missing:
        d.missing = _missing(dep, ref, workers, broker)
    queue = _waiting_queue(broker, ref) or (routed_queue(dep.app, ref.callback_task) if ref.callback_task else None)
    if d.cause == "header-queue-unconsumed":
        queue = next((q for q, info in (broker.get("queues") or {}).items()
                      if any(m.get("task_id") in ref.header_ids for m in info.get("messages") or [])), queue)
    d.fix = d.fix or fix_for(d.cause, dep, ref, workers, queue)
    if d.verdict == "completed":
        cmeta = dep.meta(ref.callback_id) or {}
        d.summary = (f"the callback ran and stored SUCCESS at {cmeta.get('date_done')}"
                     + (f" on {cmeta['worker']}" if cmeta.get("worker") else ""))
    if d.verdict == "unknown":
        _leads(d, broker, workers)
        if ref.candidates:
            d.missing.append(f"the callback's id: FAILURE metas naming no group were stored just after the last part: "
                             f"{', '.join(ref.candidates[:5])}; ask with --chord <one of them>")
        exp, which = chord_expires(dep.app)
        if dep.backend_kind == "redis" and exp and exp < 300 and not d.likely_cause:
            d.likely_cause = "chord-size-key-missing"
            d.missing.append(f"likely cause: chord-size-key-missing ({which} = {exp:g} s: chord keys and results vanish "
                             "that fast, and with them the evidence)")
    if d.verdict == "stuck" and d.cause == "callback-queue-unconsumed":
        n = len(workers.get("consumers") or {})
        d.summary = (f"callback {_short(ref.callback_task)} is in queue {queue!r}, which none of {n} worker(s) consumes "
                     f"(they consume: {', '.join(sorted({q for qs in workers['consumers'].values() for q in qs})) or 'nothing'})")
    return d


def _waiting_queue(broker: dict[str, Any], ref: ChordRef) -> str | None:
    for name, info in (broker.get("queues") or {}).items():
        if any(m.get("task_id") == ref.callback_id for m in info.get("messages") or []):
            return name
    return None


WEAK_WITHOUT_LEDGER = {"header-part-missing"}  # the checker reads "no start in the ledger" as "never ran"; doctor has no ledger


def _doctor_rules(dep: Deployment, ref: ChordRef, workers, broker, backend, d: Diagnosis) -> Diagnosis | None:
    """Verdicts the live state proves where the lab's checker, built for a run's ledger, cannot decide."""
    if d.verdict in ("completed", "failed") or (d.verdict == "stuck" and d.cause not in WEAK_WITHOUT_LEDGER):
        return None
    keys = dep.group_keys(ref.group_id) if (ref.group_id and dep.backend_kind == "redis") else {}
    cmeta = dep.meta(ref.callback_id)
    held = dep.held(workers)
    held_ids = {h.get("task_id") for h in held}
    found = broker.get("found") or []
    queued_ids = {m.get("task_id") for m in found if str(m.get("where", "")).startswith("queue")}
    unacked_ids = {m.get("task_id") for m in broker.get("unacked") or []}
    returned = {m[1] for m in (keys.get(".j") or {}).get("members") or [] if isinstance(m, list) and len(m) > 1}

    def stuck(cause: str, summary: str, verdict: str = "stuck", missing: list[str] | None = None) -> Diagnosis:
        return Diagnosis(d.asked, verdict, cause, summary, None, [], missing or [], d.ids, rule="doctor")

    # 1. backends without native join: chord_unlock polls a header that stores no result
    if dep.backend_kind not in ("redis", "rpc", "none") and ref.group_id:
        unlock = [h for h in held if h.get("name") == CHORD_UNLOCK and (h.get("args") or [None])[0] == ref.group_id]
        unlock += [m for m in found if m.get("name") == CHORD_UNLOCK and (m.get("args") or [None])[0] == ref.group_id]
        retries = max([m.get("retries") or 0 for m in unlock] + [0])
        nowhere = [t for t in ref.header_ids if not dep.meta(t) and t not in held_ids and t not in queued_ids]
        ignoring_tasks = sorted(n for n, t in dep.app.tasks.items() if getattr(t, "ignore_result", False) and not n.startswith("celery."))
        ignoring = dep.app.conf.task_ignore_result or (ref.header_task in ignoring_tasks if ref.header_task else bool(ignoring_tasks))
        if unlock and nowhere and (retries >= 2 or ignoring):
            why = ("task_ignore_result=True" if dep.app.conf.task_ignore_result
                   else f"header task {ref.header_task!r} has ignore_result=True" if ref.header_task in ignoring_tasks
                   else f"this app's tasks that store no result: {', '.join(ignoring_tasks)}" if ignoring_tasks
                   else f"chord_unlock has retried {retries} time(s)")
            return stuck("chord-unlock-retrying",
                         f"celery.chord_unlock retries forever: {len(nowhere)} of {len(ref.header_ids)} header part(s) "
                         f"stored no result, and none is queued or held by a worker ({why})")
    # 1b. no chord_unlock left, and the database backend does not keep the callback's id
    if dep.backend_kind not in ("redis", "rpc", "none") and ref.group_id and ref.callback_id is None:
        unlock = [h for h in held if h.get("name") == CHORD_UNLOCK and (h.get("args") or [None])[0] == ref.group_id]
        unlock += [m for m in found if m.get("name") == CHORD_UNLOCK and (m.get("args") or [None])[0] == ref.group_id]
        if not unlock and not ref.header_ids:
            return stuck(None, f"nothing stored or queued names group {ref.group_id}: the database backend deletes a chord's "
                               "group once chord_unlock has run its callback", "unknown",
                         ["the callback's id: ask with --chord <callback id>"])
        if not unlock and ref.header_ids and all(dep.meta(t) for t in ref.header_ids):
            return stuck(None, f"all {len(ref.header_ids)} header parts stored results and no celery.chord_unlock for this "
                               "group is queued or held: it has run the callback (or was lost)", "unknown",
                         ["the callback's id: the database backend keeps no link from a group to its callback; "
                          "ask with --chord <callback id>"])
    # 2a. dispatched, and the callback's result is never stored
    cb_task = dep.app.tasks.get(ref.callback_task) if ref.callback_task else None
    ignores = bool(dep.app.conf.task_ignore_result) or bool(cb_task is not None and getattr(cb_task, "ignore_result", False))
    if ((keys.get(".c") or {}).get("value") == "done" and not cmeta and ignores
            and not ({ref.callback_id} & (held_ids | queued_ids | unacked_ids) - {None})):
        why = "task_ignore_result=True" if dep.app.conf.task_ignore_result else f"{ref.callback_task} has ignore_result=True"
        return stuck("result-ignored", f"the callback was dispatched (.c = done) and is in no queue and held by no worker, "
                                       f"but {why}: its result is never stored, so its state reads PENDING forever", "unrecorded")
    # 2. dispatched, but the callback's id cannot be linked
    if ref.callback_id is None and (keys.get(".c") or {}).get("value") == "done":
        ttl = (keys[".c"].get("pttl_ms") or 0) / 1000
        return stuck(None, f"the header completed and a worker dispatched the callback (.c = done, for {ttl:.0f} s more), "
                           "but nothing links this group to the callback's id", "unknown",
                     ["the callback's id: a callback meta written by the chord machinery (ChordError) or by a worker "
                      "that lacked the task (NotRegistered) names no group; ask with --chord <callback id>"])
    # 3. a header part failed: Celery drops .s after the ChordError
    failed_parts = [m for m in (keys.get(".j") or {}).get("members") or []
                    if isinstance(m, list) and len(m) >= 4 and m[2] in ("FAILURE", "REVOKED")]
    if failed_parts and ".s" not in keys:
        tid, err = failed_parts[0][1], failed_parts[0][3]
        err_s = f"{err.get('exc_type')}: {err.get('exc_message')}" if isinstance(err, dict) else str(err)
        return stuck("header-part-failed", f"header part {tid} raised ({err_s}), so Celery marked the chord's callback "
                                           "FAILURE with ChordError and dropped its size key", "failed")
    # 4. every part returned, yet no dispatch: the count could not complete
    done_at = [_epoch((dep.meta(t) or {}).get("date_done")) for t in ref.header_ids]
    if (dep.backend_kind == "redis" and ref.header_ids and not keys and not cmeta and all(done_at)
            and not (held_ids | queued_ids) & {*ref.header_ids, ref.callback_id}
            and time.time() - max(done_at) < 290):
        exp, which = chord_expires(dep.app)
        return stuck("chord-size-key-missing",
                     f"all {len(ref.header_ids)} header parts returned, the last {time.time() - max(done_at):.0f} s ago, "
                     "but the chord was never dispatched (no .c marker, which lives 300 s after a dispatch) and its keys are gone"
                     + (f": they live {exp:g} s ({which})" if exp else ""))
    # 5. the size key is gone while the chord is open: which way it went
    if keys and ".s" not in keys and (".j" in keys or ".d" in keys) and ".c" not in keys and not cmeta:
        cause, why = _why_size_key_gone(dep, keys, backend, ref)
        return stuck(cause, f"the chord size key .s is gone while the chord is open ({len(returned)} part(s) returned): "
                            f"no part return can complete it; {why}")
    # 6. RabbitMQ: messages are counted, not read
    if dep.broker_kind == "rabbitmq" and ref.callback_task and not cmeta:
        q = routed_queue(dep.app, ref.callback_task)
        info = (broker.get("queues") or {}).get(q) or {}
        all_done = ref.header_ids and all((dep.meta(t) or {}).get("status") == "SUCCESS" for t in ref.header_ids)
        if all_done and info.get("length") and not info.get("consumers") and (keys.get(".c") or {}).get("value") == "done":
            return stuck("callback-queue-unconsumed",
                         f"callback {_short(ref.callback_task)} was dispatched (.c = done) to queue {q!r}, which holds "
                         f"{info['length']} message(s) and has 0 consumers")
    # 7. header parts that are nowhere: no meta, not returned, not queued, held by no live worker
    gone = [t for t in ref.header_ids if not dep.meta(t) and t not in returned and t not in held_ids
            and t not in queued_ids and t not in unacked_ids]
    orphaned = [t for t in unacked_ids if t and t not in held_ids]  # delivered to a consumer that no longer answers
    untraced = max(0, (ref.size or 0) - len(ref.header_ids))  # parts the chord size counts that left no trace at all
    if untraced and orphaned and not cmeta:
        return stuck("header-part-lost",
                     f"{untraced} of {ref.size} header part(s) left no trace (no result, in no queue, held by no worker), and a "
                     f"consumer died holding {len(orphaned)} message(s) still in the unacked set: the parts it had started died with it")
    if gone and not (ref.header_task and getattr(dep.app.tasks.get(ref.header_task), "ignore_result", False)):
        if orphaned:
            return stuck("header-part-lost",
                         f"{len(gone)} header part(s) are nowhere (no result, in no queue, held by no worker) and a consumer "
                         f"died holding {len(orphaned)} message(s) still in the unacked set: the parts it had started died with it")
        if d.verdict == "stuck":
            return None  # the checker's header-part-missing stands
    parked = [t for t in ref.header_ids if t in unacked_ids and t not in held_ids and not dep.meta(t)]
    if parked:
        vt = (dep.app.conf.broker_transport_options or {}).get("visibility_timeout", 3600)
        return stuck(None, f"{len(parked)} header part(s) sit in the unacked set and no live worker holds them: "
                           f"Redis redelivers them after visibility_timeout ({vt} s)", "running")
    return None


def _why_size_key_gone(dep: Deployment, keys: dict[str, Any], backend: dict[str, Any], ref: ChordRef) -> tuple[str, str]:
    """Eviction, a flush, a restart, a producer writing elsewhere, or expiry: read from INFO and the keys' TTLs."""
    stats = backend.get("stats") or {}
    claim = (keys.get(".c") or {}).get("value")
    if claim and claim != "done":
        return "chord-error", (f"a worker claimed the dispatch (.c holds its token for {(keys['.c'].get('pttl_ms') or 0) / 1000:.0f} s "
                               "more), so the count was complete, and Celery dropped .s after a ChordError")
    if stats.get("evicted_keys"):
        return "chord-key-evicted", (f"Redis has evicted {stats['evicted_keys']} key(s) under maxmemory "
                                     f"(policy {stats.get('maxmemory_policy')})")
    try:
        info = dep.app.backend.client.info("commandstats")
        flushes = sum(int((info.get(f"cmdstat_{c}") or {}).get("calls", 0)) for c in ("flushdb", "flushall"))
        uptime = int(dep.app.backend.client.info("server").get("uptime_in_seconds", 0))
    except Exception:
        flushes, uptime = 0, None
    if flushes:
        return "backend-data-lost", f"this Redis has run FLUSHDB/FLUSHALL {flushes} time(s) since it started"
    first = min((_epoch((dep.meta(t) or {}).get("date_done")) or time.time() for t in ref.header_ids), default=time.time())
    if uptime is not None and uptime + 2 < time.time() - first:
        return "backend-data-lost", f"this Redis started {uptime} s ago, after the first part returned: what it held was lost"
    exp, which = chord_expires(dep.app)
    left = max(((keys.get(k) or {}).get("pttl_ms") or 0) / 1000 for k in (".j", ".d"))
    if exp and exp >= 600 and left > exp - 600:
        return "backend-mismatch", (f".j was last written {exp - left:.0f} s ago and .s would live {exp:g} s ({which}): it cannot "
                                    "have expired unless the header ran for over " + f"{left:.0f} s; the producer wrote it to another backend")
    return "chord-size-key-missing", f"it expired: the chord keys live {exp:g} s ({which})" if exp else "it was deleted"


def _evidence(dep: Deployment, ref: ChordRef, workers, broker, backend, d: Diagnosis) -> list[str]:
    """What doctor read that bears on this chord, one line per source."""
    ev: list[str] = []
    app = dep.app
    held = dep.held(workers)
    for m in broker.get("found") or []:
        if m.get("task_id") == ref.callback_id:
            ev.append(f"broker: callback {ref.callback_id} ({_short(m.get('name'))}) waits in {m['where']}"
                      + (f", published by part {m['parent_id']}" if m.get("parent_id") else ""))
            break
    waiting_q = _waiting_queue(broker, ref)
    if waiting_q:
        info = broker["queues"][waiting_q]
        cons = [w for w, qs in (workers.get("consumers") or {}).items() if waiting_q in qs]
        ev.append(f"broker: queue {waiting_q!r} holds {info['length']} message(s); consumers: {', '.join(cons) or 'none'}")
    ev.append(f"workers (inspect active_queues): {consumers_line(workers)}")
    if ref.callback_task:
        ev.append(f"route: {explain_route(app, ref.callback_task)}")
    for h in held:
        if h.get("task_id") in {ref.callback_id, *ref.header_ids} or (h.get("name") == CHORD_UNLOCK and (h.get("args") or [None])[0] == ref.group_id):
            ev.append(f"workers: {h['worker']} holds {_short(h.get('name'))} {h['task_id']} ({h['how']}"
                      + (f", eta {h['eta']}" if h.get("eta") else "") + ")")
    for m in broker.get("found") or []:
        if m.get("name") == CHORD_UNLOCK:
            ev.append(f"broker: celery.chord_unlock for group {ref.group_id} in {m['where']} (retries {m.get('retries')})")
    states: dict[str, int] = {}
    for tid in ref.header_ids:
        st = (dep.meta(tid) or {}).get("status") or "no meta"
        states[st] = states.get(st, 0) + 1
    if ref.header_ids:
        size = f" of {ref.size}" if ref.size else ""
        ev.append(f"backend: header parts{size} (group {ref.group_id}): " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    if dep.backend_kind == "redis" and ref.group_id:
        keys = dep.group_keys(ref.group_id)
        parts = []
        for suffix in (".s", ".j", ".t", ".d", ".c"):
            k = keys.get(suffix)
            if not k:
                parts.append(f"{suffix} absent")
                continue
            val = k.get("value") if k["type"] == "string" else f"{len(k.get('members') or [])} member(s)"
            ttl = k["pttl_ms"] / 1000 if k.get("pttl_ms", -1) >= 0 else None
            parts.append(f"{suffix} = {val}" + (f" (TTL {ttl:.0f} s)" if ttl is not None else "")
                         + (": the callback was dispatched" if suffix == ".c" and val == "done" else ""))
        ev.append("backend: chord keys " + ", ".join(parts))
        stats = backend.get("stats") or {}
        if stats.get("evicted_keys"):
            ev.append(f"backend: evicted_keys = {stats['evicted_keys']} (maxmemory-policy {stats.get('maxmemory_policy')})")
    cmeta = dep.meta(ref.callback_id)
    if ref.callback_id:
        if cmeta:
            res = cmeta.get("result")
            err = f" {res.get('exc_type')}: {res.get('exc_message')}" if isinstance(res, dict) and res.get("exc_type") else ""
            ev.append(f"backend: callback meta {cmeta.get('status')}{err}")
        else:
            ev.append(f"backend: no meta for callback {ref.callback_id}, so AsyncResult.state reads PENDING")
    if d.cause == "callback-unregistered":
        for w, ts in sorted((workers.get("registered") or {}).items()):
            if ref.callback_task not in ts:
                ev.append(f"workers (inspect registered): {w} lacks {ref.callback_task!r}")
    for name, lines in dep.logs().items():
        ev += [f"{name} log: {ln.strip()}" for ln in lines[-2:]]
    return ev


def _missing(dep: Deployment, ref: ChordRef, workers, broker) -> list[str]:
    out = []
    if not ref.header_ids:
        out.append("the header part ids (give --group with the chord's group id, `AsyncResult(id).parent.id`)")
    if ref.callback_id is None:
        out.append("the callback's id: nothing stored or queued names it (a callback that was never published leaves no trace)")
    if not workers.get("answered"):
        out.append("worker replies: no worker answered ping")
    if dep.broker_kind == "rabbitmq":
        out.append("message contents: RabbitMQ queues are counted, not read")
    return out


def unconsumed_backlog(broker: dict[str, Any], workers: dict[str, Any]) -> list[tuple[str, int]]:
    """Queues holding messages that no worker consumes (by worker replies, or the broker's consumer count)."""
    consumed = {q for qs in (workers.get("consumers") or {}).values() for q in qs}
    return [(name, q["length"]) for name, q in sorted((broker.get("queues") or {}).items())
            if q.get("length") and name not in consumed and not q.get("consumers")]


def _leads(d: Diagnosis, broker: dict[str, Any], workers: dict[str, Any]) -> None:
    """For "cannot tell": queues nobody consumes are where a dispatched callback most often waits."""
    backlog = unconsumed_backlog(broker, workers)
    for name, n in backlog:
        d.evidence.append(f"broker: queue {name!r} holds {n} message(s) and no worker consumes it")
    if backlog and not d.likely_cause:
        d.likely_cause = "callback-queue-unconsumed"
        d.missing.append(f"likely cause: callback-queue-unconsumed (messages wait in {', '.join(repr(q) for q, _ in backlog)}, "
                         "which no worker consumes)")


def _untraceable(dep: Deployment, ident: str, hint: str, workers, broker, ids) -> Diagnosis:
    """No trace of the id: say what was searched, and point at chords that look at risk."""
    meta = dep.meta(ident)
    searched = [f"{ident} has a meta ({meta.get('status')}) that names no group: a task outside any chord, or a part of a "
                "nested header (a chain inside a group)" if meta else f"no meta for {ident} in the {dep.backend_kind} backend",
                f"no message with id or group {ident} in {len(broker.get('queues') or {})} queue(s) or the unacked set",
                f"no worker holds it ({consumers_line(workers)})"]
    if dep.backend_kind == "redis":
        searched.append(f"no chord keys for a group {ident}")
    d = Diagnosis(ident, "unknown", None, f"nothing in this deployment names {ident}", None, searched,
                  ["a trace of the chord: a callback that was never published leaves none; give --group with the "
                   "chord's group id (`AsyncResult(id).parent.id`) or a header task id"], ids)
    _leads(d, broker, workers)
    if dep.app.conf.task_ignore_result and not d.likely_cause:
        d.likely_cause = "result-ignored"
        d.missing.append("likely cause: result-ignored (task_ignore_result=True: a callback that ran stores no result)")
    exp, which = chord_expires(dep.app)
    if dep.backend_kind == "redis" and exp and exp < 300 and not d.likely_cause:
        d.evidence.append(f"config: {which} = {exp:g} s: chord keys and results vanish that fast, and with them the evidence")
        d.likely_cause = "chord-size-key-missing"
        d.missing.append(f"likely cause: chord-size-key-missing ({which} = {exp:g} s is shorter than many chords take)")
    return d


# -- the deployment overview (no id) ------------------------------------------------------


def overview(dep: Deployment, workers: dict[str, Any], names: set[str], max_chords: int = 10) -> dict[str, Any]:
    """Chords at risk across the deployment: unconsumed queues with messages, open chord keys, config risks."""
    broker = dep.read_broker(names, set(), set())
    consumed = {q for qs in (workers.get("consumers") or {}).values() for q in qs}
    risky_queues = []
    for name, q in sorted((broker.get("queues") or {}).items()):
        if not q.get("length"):
            continue
        counted = q.get("consumers")
        has_consumer = name in consumed or bool(counted)
        tasks: dict[str, int] = {}
        for m in q.get("messages") or []:
            tasks[m.get("name") or "?"] = tasks.get(m.get("name") or "?", 0) + 1
        risky_queues.append({"queue": name, "length": q["length"], "consumed": has_consumer, "tasks": tasks,
                             "callbacks": [m["task_id"] for m in q.get("messages") or []
                                           if m.get("group") and m.get("group_index") is None and m.get("name") != CHORD_UNLOCK]})
    chords: list[Diagnosis] = []
    idents: list[tuple[str, str]] = []
    for rq in risky_queues:
        if not rq["consumed"]:
            idents += [(cid, "chord") for cid in rq["callbacks"]]
    for gid, suffixes in sorted(dep.open_groups().items()):
        if suffixes & {".s", ".j", ".d"}:
            idents.append((gid, "group"))
    for ident, hint in idents[:max_chords]:
        chords.append(diagnose(dep, ident, hint, workers, names))
    decls = [WorkerDecl(w, qs, True) for w, qs in sorted((workers.get("consumers") or {}).items())]
    risks = [f for f in audit(dep.app, decls, live_backend=True) if f.severity != "info"] if decls else []
    return {"queues": risky_queues, "chords": [c.to_dict() for c in chords], "more_chords": max(0, len(idents) - max_chords),
            "risks": [f.to_dict() for f in risks], "consumers": workers.get("consumers") or {}}


# -- the command ----------------------------------------------------------------------------

VERDICT_STYLE = {"completed": "green", "stuck": "bold red", "failed": "red", "running": "cyan", "unknown": "bold yellow"}


def render(console, d: Diagnosis) -> None:
    ids = d.ids
    parts = []
    if ids.get("asked_is") != "unknown":
        parts.append(f"the {ids.get('asked_is')} id")
    if ids.get("callback_task"):
        parts.append(f"callback {_short(ids['callback_task'])}" + ("" if ids.get("asked_is") == "callback" else f" {ids.get('callback_id')}"))
    if ids.get("group_id") and ids.get("asked_is") != "group":
        parts.append(f"group {ids['group_id']}")
    if ids.get("header_ids"):
        parts.append(f"{len(ids['header_ids'])} header part(s)")
    console.print(f"[bold]chord[/bold] {d.asked}" + (f"  [dim]({'; '.join(parts)})[/dim]" if parts else ""))
    title = d.verdict.upper() + (f" · {d.cause}" if d.cause else "")
    console.print(f"[{VERDICT_STYLE.get(d.verdict, 'bold')}]{title}[/]  {d.summary}", soft_wrap=True)
    if d.fix:
        console.print(f"[green]fix:[/green] {d.fix}", soft_wrap=True)
    for line in d.evidence:
        console.print(f"  [dim]•[/dim] {line}", soft_wrap=True)
    for line in d.missing:
        console.print(f"  [yellow]missing:[/yellow] {line}", soft_wrap=True)
    if d.rule == "doctor":
        console.print("  [dim](decided by doctor's rule over the live state; the lab's checker needs a run's ledger here)[/dim]")


def exit_code(verdicts: list[str]) -> int:
    if any(v in ("stuck", "failed") for v in verdicts):
        return EXIT["bad"]
    if any(v == "unknown" for v in verdicts):
        return EXIT["unknown"]
    return EXIT["ok"]


@click.command("doctor")
@click.option("--app", "app_ref", required=True, help="The Celery app, as for `celery -A` (module:attribute).")
@click.option("--chord", "chords", multiple=True, help="A chord's callback id (AsyncResult id), group id or header task id; repeatable.")
@click.option("--group", "groups", multiple=True, help="A chord's group id (AsyncResult(id).parent.id); repeatable.")
@click.option("--timeout", type=click.FloatRange(0.1, 30), default=1.0, show_default=True,
              help="Seconds to wait for workers to answer `inspect`.")
@click.option("--log", "logs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A worker log file to search for evidence lines (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the text.")
def doctor_cmd(app_ref: str, chords: tuple[str, ...], groups: tuple[str, ...], timeout: float, logs: tuple[Path, ...],
               as_json: bool) -> None:
    """Prove why a chord is stuck in a live deployment; read-only (no message is consumed or acked).

    With no --chord/--group: look at the whole deployment for chords at risk.
    Exit 0: nothing stuck or failed; 1: stuck or failed; 2: cannot tell; 254: bad input."""
    from rich.console import Console

    t0 = time.time()
    app = load_app(app_ref)
    dep = Deployment(app, timeout=timeout, log_paths=list(logs))
    try:
        workers = dep.read_workers()
        names = dep.queue_names(workers)
        targets = [(c, "chord") for c in chords] + [(g, "group") for g in groups]
        diagnoses = [diagnose(dep, ident, hint, workers, names) for ident, hint in targets]
        view = overview(dep, workers, names) if not targets else None
    finally:
        dep.close()
    elapsed = time.time() - t0
    verdicts = [d.verdict for d in diagnoses] + ([c["verdict"] for c in view["chords"]] if view else [])
    code = exit_code(verdicts)
    if as_json:
        print(json.dumps({"app": app_ref, "broker": dep.broker_kind, "backend": dep.backend_kind,
                          "workers": workers.get("consumers"), "chords": [d.to_dict() for d in diagnoses],
                          "overview": view, "read": dep.reads, "elapsed_s": round(elapsed, 3)}, default=repr))
        sys.exit(code)
    out = Console(highlight=False)
    out.print(f"[bold]lab doctor[/bold] {app_ref}: broker {dep.broker_kind}, backend {dep.backend_kind}; "
              f"{consumers_line(workers)}")
    for d in diagnoses:
        out.print()
        render(out, d)
    if view is not None:
        _render_overview(out, view)
    out.print(f"\n[dim]read-only: {'; '.join(dict.fromkeys(dep.reads))}; {elapsed:.1f} s[/dim]", soft_wrap=True)
    sys.exit(code)


def _render_overview(out, view: dict[str, Any]) -> None:
    out.print()
    if not view["queues"]:
        out.print("[green]no messages wait in any queue[/green]")
    for q in view["queues"]:
        style = "" if q["consumed"] else "bold red"
        tasks = ", ".join(f"{n} {_short(t)}" for t, n in sorted(q["tasks"].items(), key=lambda kv: -kv[1])[:4])
        out.print(f"queue [{style or 'bold'}]{q['queue']}[/]: {q['length']} message(s) ({tasks})"
                  + ("" if q["consumed"] else " [red]· no worker consumes it[/red]"))
    for c in view["chords"]:
        out.print()
        render(out, Diagnosis(**c))
    if view["more_chords"]:
        out.print(f"\n[dim](+{view['more_chords']} more chord(s) at risk not shown; name one with --chord)[/dim]")
    if not view["chords"]:
        out.print("[green]no open chord in the backend and no callback waiting in an unconsumed queue[/green]")
    for f in view["risks"]:
        out.print(f"\n[yellow]risk[/yellow] [bold]{f['id']}[/bold]: {f['summary']}", soft_wrap=True)
        if f.get("fix"):
            out.print(f"  [green]fix:[/green] {f['fix']}", soft_wrap=True)


# -- doctor and audit against every scenario (for RESULTS.md) -------------------------------------

STATIC_CAUSES = {  # causes a configuration shows before anything runs: audit is expected to flag them
    "callback-queue-unconsumed", "chord-unlock-unconsumed", "chord-size-key-missing", "chord-unlock-retrying",
    "chord-key-evicted",
}


def _run_json(argv: list[str], env: dict[str, str]) -> tuple[int, dict[str, Any] | None, float, str]:
    import subprocess

    t0 = time.time()
    done = subprocess.run([sys.executable, "-m", "lab", *argv], env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(Path(env.get("PYTHONPATH", ".").split(os.pathsep)[0])))
    elapsed = time.time() - t0
    lines = done.stdout.strip().splitlines()
    try:
        return done.returncode, json.loads(lines[-1]) if lines else None, elapsed, done.stderr.strip()[-500:]
    except ValueError:
        return done.returncode, None, elapsed, (done.stderr or done.stdout).strip()[-500:]


def audit_argv(scenario) -> list[str]:
    """The audit a user of this scenario's topology would run: its workers' command lines and its chords' tasks."""
    argv = []
    for w in scenario.workers:
        argv += ["--worker", f"-Q {','.join(w.queues)}" if w.queues else ""]
    for c in scenario.chords:
        argv += ["--callback", c.callback, "--header", c.header_task]
    longest = max((max(c.durations(), default=0.0) for c in scenario.chords), default=0.0)
    if longest:
        argv += ["--duration", f"{longest:g}"]
    countdown = max([float(o.get("countdown") or 0) for c in scenario.chords for o in (c.part_options, c.callback_options)] + [0.0])
    if countdown:
        argv += ["--countdown", f"{countdown:g}"]
    return argv


def _agree(lab: tuple[str, str | None], doc: dict[str, Any] | None) -> bool:
    if not doc:
        return False
    return doc["verdict"] == lab[0] and (lab[1] is None or doc.get("cause") == lab[1])


def agreement_row(name: str, *, seed: int = 0) -> dict[str, Any]:
    """Run scenario ``name`` up, leave it up, and ask doctor (by callback id, by group id) and audit about it."""
    from lab.errors import LabError
    from lab.livesystem import keep_up
    from lab.scenario import load

    try:
        s = load(name)
    except LabError as e:  # renamed or removed while the table was being made
        return {"scenario": name, "skipped": str(e)}
    row: dict[str, Any] = {"scenario": name, "expect": s.expect, "expect_cause": s.expect_cause, "mechanism": s.mechanism}
    t0 = time.time()
    try:
        with keep_up(s, seed=seed) as live:
            env = {**os.environ, **live.doctor_env()}
            row["lab"] = [{"chord_id": v.chord_id, "verdict": v.verdict, "cause": v.cause} for v in live.verdicts]
            for key, flag, ids in (("doctor_by_callback", "--chord", [c["chord_id"] for c in live.sent]),
                                   ("doctor_by_group", "--group", [c["group_id"] for c in live.sent if c.get("group_id")])):
                argv = ["doctor", "--app", "lab.worker_app:app", "--json"] + [a for i in ids for a in (flag, i)]
                rc, data, elapsed, err = _run_json(argv, env) if ids else (None, None, 0.0, "no ids")
                row[key] = [{k: d.get(k) for k in ("verdict", "cause", "rule", "likely_cause", "summary")}
                            for d in (data or {}).get("chords") or []]
                row[key + "_s"] = round(elapsed, 2)
                if data is None:
                    row[key + "_error"] = err
            rc, data, elapsed, err = _run_json(["audit", "--app", "lab.worker_app:app", "--json", *audit_argv(s)], env)
            row["audit"] = {"exit": rc, "flagged": any(f["severity"] in ("warning", "error") for f in (data or {}).get("findings") or []),
                            "findings": [f"{f['severity']}:{f['id']}" for f in (data or {}).get("findings") or []],
                            **({"error": err} if data is None else {})}
    except LabError as e:  # RabbitMQ or PostgreSQL not here, or a node that did not start
        row["skipped"] = str(e)
        return row
    row["elapsed_s"] = round(time.time() - t0, 1)
    lab = [(x["verdict"], x["cause"]) for x in row["lab"]]
    for key in ("doctor_by_callback", "doctor_by_group"):
        docs = row.get(key) or []
        agree = [_agree(l, docs[i] if i < len(docs) else None) for i, l in enumerate(lab)]
        row[key.replace("doctor_", "agree_")] = sum(agree)
        row[key.replace("doctor_", "stuck_on_completed_")] = sum(
            1 for i, l in enumerate(lab) if l[0] == "completed" and i < len(docs) and docs[i]["verdict"] == "stuck")
    row["chords"] = len(lab)
    bad = [l for l in lab if l[0] != "completed"]
    row["lab_outcome"] = f"{bad[0][0]}" + (f" · {bad[0][1]}" if bad and bad[0][1] else "") if bad else "completed"
    row["static"] = bool(bad) and any(c in STATIC_CAUSES for _, c in bad)
    row["audit_agrees"] = (row["audit"]["flagged"] if row["static"] else
                           (not row["audit"]["flagged"]) if not bad else None)  # None: not visible statically, not scored
    return row


def agreement_rows(names: list[str] | None = None, *, out: Path | None = None, seed: int = 0,
                   on_row=None) -> dict[str, Any]:
    """Doctor's and audit's verdicts next to the lab's, for every scenario, from real runs; written as JSON.

    Returns (and writes to ``$LAB_RESULTS/doctor_agreement.json`` unless ``out`` is given)::

        {"generated_at": iso, "versions": {...}, "rows": [row, ...], "summary": {...}}

    Each row: scenario, expect, expect_cause, mechanism, lab ([{chord_id, verdict, cause}]),
    doctor_by_callback / doctor_by_group ([{verdict, cause, rule, likely_cause, summary}], one per chord,
    in the lab's order) with their wall time (``*_s``), agree_by_callback / agree_by_group (chords whose
    verdict and cause match the lab's), stuck_on_completed_by_* (chords the lab saw complete that doctor
    called stuck: must be 0), audit ({exit, flagged, findings: ["severity:id"]}), static (the lab's cause
    is visible in configuration), audit_agrees (flagged when static, clean when completed, None when the
    cause is runtime-only), lab_outcome, chords, elapsed_s; or skipped (why) when a service is missing.
    """
    from lab import records
    from lab.scenario import scenario_paths

    rows = []
    for name in names or list(scenario_paths()):
        row = agreement_row(name, seed=seed)
        rows.append(row)
        if on_row:
            on_row(row)
    ran = [r for r in rows if "skipped" not in r]
    chords = sum(r["chords"] for r in ran)
    summary = {
        "scenarios": len(rows), "ran": len(ran), "chords": chords,
        "doctor_by_callback_agree": sum(r["agree_by_callback"] for r in ran),
        "doctor_by_group_agree": sum(r["agree_by_group"] for r in ran),
        "stuck_on_completed": sum(r["stuck_on_completed_by_callback"] + r["stuck_on_completed_by_group"] for r in ran),
        "audit_scored": sum(1 for r in ran if r["audit_agrees"] is not None),
        "audit_agree": sum(1 for r in ran if r["audit_agrees"]),
        "misses": [f"{r['scenario']}: lab {r['lab_outcome']}; doctor by {how} "
                   + ", ".join(sorted({f"{d['verdict']}" + (f" · {d['cause']}" if d.get('cause') else "")
                                       + (f" (likely {d['likely_cause']})" if d.get("likely_cause") else "")
                                       for d in r[f'doctor_by_{how}']}) or {"no answer"})
                   for r in ran for how in ("callback", "group") if r[f"agree_by_{how}"] < r["chords"]]
                  + [f"{r['scenario']}: lab {r['lab_outcome']}; audit {'flagged ' + ', '.join(r['audit']['findings']) if r['audit']['flagged'] else 'did not flag it'}"
                     for r in ran if r["audit_agrees"] is False],
    }
    result = {"generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
              "versions": records.versions(), "rows": rows, "summary": summary}
    path = out or records.store_dir() / "doctor_agreement.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=repr))
    os.replace(tmp, path)
    result["path"] = str(path)
    return result


def _main(argv: list[str]) -> int:
    """``python -m lab.doctor agreement [SCENARIO ...]``: write doctor_agreement.json from real runs."""
    if not argv or argv[0] != "agreement":
        print("usage: python -m lab.doctor agreement [SCENARIO ...]", file=sys.stderr)
        return 254

    def show(r: dict[str, Any]) -> None:
        if "skipped" in r:
            print(f"{r['scenario']:34} skipped: {r['skipped']}", flush=True)
            return
        print(f"{r['scenario']:34} lab {r['lab_outcome']:38} doctor(callback) {r['agree_by_callback']}/{r['chords']}  "
              f"doctor(group) {r['agree_by_group']}/{r['chords']}  audit {'flags' if r['audit']['flagged'] else 'clean'}"
              f"{'' if r['audit_agrees'] is None else (' ok' if r['audit_agrees'] else ' MISS')}  {r['elapsed_s']} s", flush=True)

    result = agreement_rows(argv[1:] or None, on_row=show)
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {result['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
