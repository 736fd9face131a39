"""A live deployment, read by id: the lab's readers pointed at a user's own app.

    a user's app + a chord id → **read the live system** → a reading (observations) → judge.live → cause and fix

``Deployment`` is a read-only client of a system the lab did not start: the
user's broker, workers and result backend, reached through the user's own
Celery app (its URLs, transport options and routes).  Every read goes through
the shared readers (``observe.broker``, ``observe.backend``,
``observe.workers``) and is cached, so one diagnosis reads each key once.

``read_chord`` links the asked id to its chord (``resolve``), then reads
*everything* the judge needs into one JSON-able reading: the workers and what
they hold, the queues and the messages that name the chord, the chord keys with
their members, the metas of every id, the server's INFO, the facts of the
app's config that bear on the chord, the worker logs, and the clock.  The
judge (``lab.judge.live``) then decides from the reading alone, so a reading
can be stored (``lab doctor --save``) and judged again (``lab show``).

Linking ids on Celery 5.7 (seen in real runs, see tests/test_doctor.py):
a header part's meta holds ``group_id``; a header message's body (its
``chord`` embed) names the callback; the callback message's headers hold
``group`` (the header's group id) and ``parent_id`` (the part that returned
last); the callback's meta, once stored, holds ``group_id`` and ``parent_id``
too; ``.j`` members are ``[1, tid, state, result]`` and ``.d`` members
``tid:index``; after a dispatch ``.j/.s/.d`` are deleted and ``.c`` = ``done``
lives 300 s.  Once the header has run nothing in Redis names a callback that
has not stored a result.  When nothing links the asked id, the chords the
deployment still holds are its candidates (``elimination``): the judge
decides only when every candidate gives the same verdict, and says so.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lab.observe.config import AuditError, backend_kind, broker_kind, chord_expires, explain_route, redact, routed_queue
from lab.observe import backend as backend_reader
from lab.observe.probe import worker_log_lines
from lab.observe.recorder import backend_identity, default_store, events_of, read_rows
from lab.observe.broker import (CHORD_UNLOCK, RedisNaming, bound_queues, names_chord, peek_redis, rabbitmq_counts,
                                unlock_callback_id, unlock_header_ids)
from lab.observe.model import ChordRef, held_requests
from lab.observe.workers import read_workers

PEEK_DEPTH = 5000  # messages per queue searched for an id (LRANGE in chunks; never consumed)
SHOWN_PER_QUEUE = 50  # messages per queue kept in the reading
MAX_CANDIDATES = 10  # chords a callback id is checked against by elimination
READING_VERSION = 1


class DeploymentError(AuditError):
    """A deployment doctor cannot read (its broker unreachable): one sentence."""


class Deployment:
    """Read-only access to a user's live broker, workers and result backend (every read cached)."""

    def __init__(self, app, *, timeout: float = 1.0, log_paths: list[Path] | None = None, recorder: str | None = None):
        self.app = app
        # the flight recorder's store: given, else where install(app) writes by default; "none": not read
        self.recorder_store = None if recorder == "none" else (recorder or default_store(app))
        self._recorded_rows: list[dict[str, Any]] | None = None
        self.timeout = timeout
        self.log_paths = list(log_paths or [])
        self.broker_kind = broker_kind(app)
        self.backend_kind = backend_kind(app)
        self.naming = RedisNaming.for_conf(app.conf)
        self.reads: list[str] = []  # what was read, for the footer
        self._conn = None
        self._broker_client = None
        self.metas: dict[str, dict | None] = {}
        self.keys: dict[str, dict[str, Any]] = {}

    # workers
    def expected_workers(self) -> int | None:
        """How many workers have a mailbox bound on a Redis broker (so ping can return once all have answered)."""
        if self.broker_kind != "redis":
            return None
        try:
            exchange = f"{self.app.control.mailbox.namespace}.pidbox"
            return self.broker_client().scard(self.naming.prefix + self.naming.binding_key % exchange) or None
        except Exception:
            return None

    def read_workers(self) -> dict[str, Any]:
        try:
            out = read_workers(self.app, self.expected_workers(), self.timeout, held=True, ping=True, conf=True,
                               processes=True)
        except Exception as e:  # the broker is unreachable: say so
            raise DeploymentError(f"cannot reach the broker {redact(self.app.conf.broker_url)} "
                                  f"({type(e).__name__}: {e}); run doctor where the workers' broker is reachable.") from None
        self.reads.append(f"{len(out['answered'])} worker(s) answered ping")
        return out

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
            names.update(bound_queues(self.broker_client(), self.naming))
        return {n for n in names if n and not n.endswith(".pidbox") and "celeryev" not in n}

    def broker_client(self):
        """A plain redis-py client on kombu's own pool (its URL, options and SSL); keys are named by ``naming``."""
        if self._broker_client is None:
            import redis

            if self._conn is None:
                self._conn = self.app.connection_for_read()
                self._conn.ensure_connection(max_retries=1)
            self._broker_client = redis.Redis(connection_pool=self._conn.default_channel.pool)
        return self._broker_client

    def read_broker(self, names: set[str], want_ids: set[str], want_groups: set[str]) -> dict[str, Any]:
        if self.broker_kind == "redis":
            seen = peek_redis(self.broker_client(), names, self.naming, depth=PEEK_DEPTH, shown=SHOWN_PER_QUEUE,
                              wanted=lambda m: names_chord(m, want_ids, want_groups))
            self.reads.append(f"{len(seen['queues'])} Redis queue(s) peeked ({seen['peeked']} message(s) read, none consumed)")
            return seen
        if self.broker_kind == "rabbitmq":
            seen = rabbitmq_counts(self.app, names)
            seen["note"] = "RabbitMQ messages cannot be read without consuming them: counts only"
            self.reads.append(f"{len(names)} RabbitMQ queue(s) by passive declare")
            return seen
        return {"queues": {}, "unacked": [], "found": [], "note": f"broker {self.broker_kind} is not read by doctor"}

    # backend
    def meta(self, tid: str | None) -> dict[str, Any] | None:
        if not tid:
            return None
        if tid not in self.metas:
            self.metas[tid] = backend_reader.task_meta(self.app, self.backend_kind, tid)
        return self.metas[tid]

    def group_keys(self, gid: str | None) -> dict[str, Any]:
        if not gid or self.backend_kind != "redis":
            return {}
        if gid not in self.keys:
            try:
                self.keys[gid] = backend_reader.chord_keys(self.app.backend, gid)
            except Exception:
                self.keys[gid] = {}
        return self.keys[gid]

    def scan_group_metas(self, gid: str, header_ids: set[str] = frozenset()) -> dict[str, Any]:
        if self.backend_kind != "redis":
            return {"members": [], "chord_errors": [], "orphans": [], "how": "not scanned (only the Redis backend is scanned)"}
        out = backend_reader.scan_group_metas(self.app.backend, gid, header_ids)
        for tid, m in out["members"] + out["chord_errors"]:
            self.metas.setdefault(tid, m)
        self.reads.append(out["how"])
        return out

    def open_groups(self, limit: int = 50) -> dict[str, list[str]]:
        if self.backend_kind != "redis":
            return {}
        try:
            return backend_reader.open_groups(self.app.backend, limit)
        except Exception:
            return {}

    def restore_group(self, gid: str):
        try:
            return self.app.backend.restore_group(gid)
        except Exception:
            return None

    def backend_probe(self, chord: dict[str, Any]) -> dict[str, Any]:
        """The lab's own backend probe over this chord (chord keys with TTLs, metas, INFO stats)."""
        try:
            if self.backend_kind == "redis":
                return backend_reader.probe_redis_backend(self.app, [chord])
            if self.backend_kind == "database":
                return backend_reader.probe_database_backend(self.app, [chord])
        except Exception as e:
            return {"kind": self.backend_kind, "metas": {}, "error": f"{type(e).__name__}: {e}"}
        return {"kind": self.backend_kind, "metas": {}}

    # the flight recorder
    def recorded(self, ids: set[str]) -> dict[str, Any] | None:
        """What the flight recorder kept of these ids (``lab.recorder``), or None where there is no recorder."""
        if not self.recorder_store or not ids:
            return None
        where = redact(self.recorder_store)
        try:
            if self._recorded_rows is None:  # the stream read once per diagnosis, filtered per chord
                self._recorded_rows = read_rows(self.recorder_store)
            got = events_of(self._recorded_rows, ids, self.recorder_store)
        except Exception as e:  # the store is down: the diagnosis goes on without it, and says so
            self.reads.append(f"the flight recorder's store {where} could not be read ({type(e).__name__})")
            return {"store": where, "events": [], "dropped": 0, "oldest_t": None, "error": f"{type(e).__name__}: {e}"}
        if got.get("oldest_t") is None:  # no stream at all: no recorder installed here (or its history expired)
            return None
        self.reads.append(f"{len(got['events'])} event(s) of the flight recorder ({where})"
                          + (f"; it dropped {got['dropped']}" if got.get("dropped") else ""))
        return {**got, "store": where}

    def logs(self) -> dict[str, list[str]]:
        return worker_log_lines({p.name: p for p in self.log_paths}) if self.log_paths else {}

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


# -- linking ids ----------------------------------------------------------------------


def _unregistered_name(meta: dict | None) -> str | None:
    """The task name a NotRegistered failure names (a worker got a message for a task it lacks)."""
    res = (meta or {}).get("result")
    if isinstance(res, dict) and res.get("exc_type") == "NotRegistered":
        msg = res.get("exc_message")
        return str(msg[0] if isinstance(msg, list) and msg else msg).strip("'\"")
    return None


def _held_as_found(held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**h, "where": f"worker {h['worker']} ({h['how']})"} for h in held]


def resolve(dep: Deployment, ident: str, hint: str, broker: dict[str, Any], workers: dict[str, Any],
            recorded: list[dict[str, Any]] | None = None) -> ChordRef:
    """From one id (callback, group or header part), the chord's group, header ids and callback."""
    ref = ChordRef(asked=ident)
    if recorded and link_recorded(ref, recorded):  # the recorder's history names the chord: keys and metas may be gone
        _complete(dep, ref, list(broker.get("found") or []), held_requests(workers), None)
        return ref
    found = list(broker.get("found") or [])
    held = held_requests(workers)
    meta = dep.meta(ident)
    keys = dep.group_keys(ident)
    group = dep.restore_group(ident) if dep.backend_kind == "database" else None
    msg = next((m for m in found if m.get("task_id") == ident), None)
    carrier = next((m for m in found if m.get("chord_callback_id") == ident), None)  # a header part naming it
    held_req = next((h for h in held if h.get("task_id") == ident), None)
    unlock_ref = next((m for m in [*found, *_held_as_found(held)]
                       if m.get("name") == CHORD_UNLOCK and (unlock_callback_id(m) == ident or ident in unlock_header_ids(m))), None)

    if hint == "group" or keys or group is not None:
        ref.asked_is, ref.group_id = "group", ident
        ref.how.append(f"{ident} is a group id: " + (f"the backend holds its chord keys {', '.join(sorted(keys))}" if keys
                                                    else "the backend holds its saved group" if group is not None
                                                    else "given as --group"))
    elif msg is not None:
        ref.asked_is = "header" if msg.get("group_index") is not None or msg.get("name") == CHORD_UNLOCK else "callback"
        ref.group_id = msg.get("group")
        ref.how.append(f"{ident} is a {ref.asked_is} message in {msg['where']} (headers: group {msg.get('group')}, parent {msg.get('parent_id')})")
    elif carrier is not None:
        ref.asked_is, ref.group_id = "callback", carrier.get("group")
        ref.callback_task = carrier.get("chord_callback_task")
        ref.how.append(f"{ident} is the callback named in the body of header part {carrier.get('task_id')}, "
                       f"a message in {carrier['where']} of group {ref.group_id}")
    elif meta and meta.get("group_id"):
        ref.group_id = meta["group_id"]
        parent = dep.meta(meta.get("parent_id")) if meta.get("parent_id") else None
        # The callback is published by the worker that returned the last part: its parent is a part of
        # the same group (or, when header parts store no result, a task with no meta at all).
        known_parts = backend_reader.header_ids_from_keys(dep.group_keys(ref.group_id))
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
        ref.callback_task = ref.callback_task or (msg or {}).get("name") or (meta or {}).get("name") \
            or (held_req or {}).get("name") or _unregistered_name(meta)
    if msg is not None and ref.asked_is == "header":
        ref.header_task = msg.get("name") if msg.get("name") != CHORD_UNLOCK else None
    if meta and ref.asked_is == "header" and ident not in ref.header_ids:
        ref.header_ids.append(ident)
        ref.header_task = ref.header_task or meta.get("name")
    if ref.group_id is not None:
        _complete(dep, ref, found, held, group)
    return ref


def link_recorded(ref: ChordRef, events: list[dict[str, Any]]) -> bool:
    """Link ``ref.asked`` to its chord from the flight recorder's events: a header part's publish, start and end
    name its group and its chord's callback; the callback's publish names its task and queue.  False when no
    recorded event puts the id in a chord."""
    ident = ref.asked
    part = next((e for e in events if e.get("chord_callback")
                 and ident in (e.get("task_id"), e.get("group_id"), e.get("chord_callback"))), None)
    if part is None:
        return False
    callback, gid = part["chord_callback"], part.get("group_id")
    ref.asked_is = "callback" if ident == callback else "group" if ident == gid else "header"
    ref.group_id, ref.callback_id = gid, callback
    members = [e for e in events if e.get("chord_callback") == callback and e.get("group_id") == gid]
    by_index = sorted(members, key=lambda e: (e.get("group_index") is None, e.get("group_index") or 0, e.get("t") or 0))
    ref.header_ids = list(dict.fromkeys(e["task_id"] for e in by_index if e.get("task_id")))
    published = {e["task_id"] for e in members if e["event"] == "publish"}
    ref.size = len(published) or None  # the producer's recorder saw every part sent
    ref.header_task = next((e.get("name") for e in members if e.get("name")), None)
    cb = next((e for e in events if e.get("task_id") == callback and e.get("name")), None)
    ref.callback_task = (cb or {}).get("name") or part.get("chord_callback_task")
    ref.how.append(f"the flight recorder links {ident}: {len(published) or 'no'} header part publish(es) and "
                   f"{sum(e['event'] == 'start' for e in members)} start(s) name group {gid} and callback {callback}"
                   + (f", and {cb.get('by') or cb.get('worker')} recorded the callback's {cb['event']}" if cb else
                      "; no event of the callback itself was recorded"))
    return True


def _complete(dep: Deployment, ref: ChordRef, found: list[dict], held: list[dict], group) -> None:
    """With the group known: every header id, the size and the callback, from what still names them."""
    gid = ref.group_id
    keys = dep.group_keys(gid)
    ref.header_ids = list(dict.fromkeys([*backend_reader.header_ids_from_keys(keys), *ref.header_ids]))
    if (keys.get(".s") or {}).get("value") is not None:
        try:
            ref.size = int(keys[".s"]["value"]) + int((keys.get(".t") or {}).get("value") or 0)
        except ValueError:
            pass
    if group is not None:
        ref.header_ids = list(dict.fromkeys([*ref.header_ids, *(r.id for r in group.results)]))
        ref.size = ref.size or len(group.results)
    # chord_unlock (backends without native join) carries the group, the callback and every header id
    for m in [*found, *_held_as_found(held)]:
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
    # a header message names its chord's callback in its body
    for m in found:
        if m.get("group") == gid and m.get("chord_callback_id") and ref.callback_id is None:
            ref.callback_id, ref.callback_task = m["chord_callback_id"], m.get("chord_callback_task")
            ref.how.append(f"the callback {ref.callback_id} is named in the body of header part {m.get('task_id')} ({m['where']})")
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
    # header parts still in queues or in the unacked hash
    for m in found:
        if m.get("group") == gid and m.get("group_index") is not None and m.get("task_id") not in ref.header_ids:
            ref.header_ids.append(m["task_id"])
            ref.header_task = ref.header_task or m.get("name")
    # the rest from the task metas that name this group
    if ref.size is None or len(ref.header_ids) < ref.size or ref.callback_id is None:
        scan = dep.scan_group_metas(gid, set(ref.header_ids))
        members = dict(scan["members"])
        for tid, m in scan["members"]:
            parent = m.get("parent_id")
            if ref.callback_id is None and parent and tid not in ref.header_ids and (parent in members or not dep.meta(parent)):
                ref.callback_id = tid
                ref.callback_task = ref.callback_task or m.get("name")
                ref.how.append(f"the callback {tid} is the meta in group {gid} whose parent {parent} is a part of that group")
        ref.header_ids += sorted(t for t in members if t != ref.callback_id and t not in ref.header_ids)
        if members:
            ref.how.append(f"{len(members)} task meta(s) name group {gid} ({scan['how']})")
        if ref.callback_id is None and len(scan["chord_errors"]) == 1:
            tid, _m = scan["chord_errors"][0]
            ref.callback_id = tid
            ref.how.append(f"the callback {tid} holds the ChordError that names header part(s) of group {gid}")
        if ref.callback_id is None:
            last = max((backend_reader.epoch((members.get(t) or dep.meta(t) or {}).get("date_done")) or 0
                        for t in ref.header_ids), default=0)
            ref.candidates = sorted(tid for tid, m in scan["orphans"]
                                    if last and 0 <= (backend_reader.epoch(m.get("date_done")) or 0) - last <= 5.0)
            if len(ref.candidates) == 1 and len(ref.header_ids) >= (ref.size or 1):
                # a callback failed by the chord machinery or by a worker without the task names no group: the one
                # such meta stored within 5 s of the last part is this chord's
                ref.callback_id = ref.candidates[0]
                meta = dict(scan["orphans"])[ref.callback_id]
                dep.metas.setdefault(ref.callback_id, meta)
                ref.callback_task = ref.callback_task or meta.get("name") or _unregistered_name(meta)
                ref.how.append(f"the callback {ref.callback_id} is the only FAILURE meta naming no group stored within 5 s "
                               f"of the last part of group {gid}")
    if ref.header_task is None:
        for tid in ref.header_ids:
            h = next((h for h in held if h.get("task_id") == tid), None)
            name = (h or {}).get("name") or (dep.meta(tid) or {}).get("name")
            if name:
                ref.header_task = name
                break


# -- the reading: everything the judge needs, read once -------------------------------------------


def config_facts(app, tasks: list[str | None]) -> dict[str, Any]:
    """What the app's config says that bears on these tasks' chord (no connection is made)."""
    exp, which = chord_expires(app)
    names = [t for t in dict.fromkeys(tasks) if t]
    return {
        "broker_url": redact(app.conf.broker_url), "result_backend": redact(app.conf.result_backend),
        "backend_identity": backend_identity(app),  # no credentials: to compare with the recorder's (lab.recorder)
        "task_default_queue": app.conf.task_default_queue,
        "task_ignore_result": bool(app.conf.task_ignore_result),
        "ignoring_tasks": sorted(n for n, t in app.tasks.items()
                                 if getattr(t, "ignore_result", False) and not n.startswith("celery.")),
        "chord_expires": [exp, which],
        "visibility_timeout": (app.conf.broker_transport_options or {}).get("visibility_timeout", 3600),
        "routes": {n: routed_queue(app, n) for n in names},
        "route_explanations": {n: explain_route(app, n) for n in names},
        "known_tasks": sorted(n for n in names if n in app.tasks),
    }


def read_chord(dep: Deployment, ident: str, hint: str, workers: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Link ``ident`` to its chord and read everything the judge needs about it, as one JSON-able reading."""
    t0 = time.time()
    reading: dict[str, Any] = {"kind": "doctor-reading", "version": READING_VERSION, "asked": ident, "hint": hint,
                               "started_at": t0, "broker_kind": dep.broker_kind, "backend_kind": dep.backend_kind,
                               "workers": workers}
    if dep.backend_kind == "rpc":  # no chord can exist here: Celery refuses them on apply
        reading.update(ref=asdict(ChordRef(ident)), broker={"queues": {}, "unacked": [], "found": []},
                       config=config_facts(dep.app, []), t=time.time())
        return reading
    broker = dep.read_broker(names, {ident}, {ident})
    recorded = dep.recorded({ident})
    ref = resolve(dep, ident, hint, broker, workers, (recorded or {}).get("events"))
    if ref.group_id and (ref.group_id != ident or ref.callback_id):  # search again, now for every id of the chord
        want = {ident, *(i for i in (ref.callback_id, *ref.header_ids) if i)}
        broker = dep.read_broker(names, want, {ref.group_id})
        if ref.callback_id is None:
            ref = resolve(dep, ident, hint, broker, workers, (recorded or {}).get("events"))
    if recorded is not None and ref.group_id and not recorded.get("error"):  # the whole chord's history, every id
        recorded = dep.recorded({ident, ref.group_id, *(i for i in (ref.callback_id, *ref.header_ids) if i)}) or recorded
        elsewhere = {e.get("queue") for e in recorded["events"] if e["event"] == "publish" and e.get("queue")} - names
        if elsewhere:  # a queue only a worker's own config routes to (the app given knows nothing of it): read it too
            names = names | elsewhere
            broker = dep.read_broker(names, {ident, *(i for i in (ref.callback_id, *ref.header_ids) if i)}, {ref.group_id})
    reading["broker"] = broker
    reading["recorded"] = recorded
    if ref.group_id is None and ref.callback_id is None and hint != "group":
        reading["candidates"] = [_read_one(dep, ChordRef(gid, group_id=gid, asked_is="group", how=[how]), broker, workers)
                                 for gid, how in _candidate_groups(dep, broker, workers, ident)]
    reading.update(_read_one(dep, ref, broker, workers))
    reading["config"] = config_facts(dep.app, [ref.callback_task, ref.header_task,
                                               *(c["ref"]["callback_task"] for c in reading.get("candidates") or []),
                                               *(c["ref"]["header_task"] for c in reading.get("candidates") or [])])
    reading["logs"] = dep.logs()
    reading["reads"] = list(dict.fromkeys(dep.reads))
    reading["t"] = time.time()
    return reading


def _read_one(dep: Deployment, ref: ChordRef, broker: dict[str, Any], workers: dict[str, Any]) -> dict[str, Any]:
    """The backend's side of one linked chord: its keys, the metas of every id and their parents, INFO."""
    if ref.group_id and ref.asked_is == "group" and not ref.header_ids:
        _complete(dep, ref, list(broker.get("found") or []), held_requests(workers), None)
    ids = [i for i in (ref.asked, ref.callback_id, *ref.header_ids) if i]
    for tid in ids:
        m = dep.meta(tid)
        if m and m.get("parent_id"):
            dep.meta(m["parent_id"])
    chord = {"chord_id": ref.callback_id or f"(the callback of group {ref.group_id})", "group_id": ref.group_id,
             "header_ids": list(ref.header_ids)}
    backend = dep.backend_probe(chord) if (ref.group_id or ref.callback_id) else {"kind": dep.backend_kind, "metas": {}}
    metas = backend.setdefault("metas", {})
    for tid in [ref.callback_id, *ref.header_ids]:  # the lab's probe reads metas only for chords it knows a group of
        m = dep.meta(tid)
        if tid and m and tid not in metas:
            metas[tid] = {"status": m.get("status"), "result": m.get("result"),
                          "traceback": (m.get("traceback") or "")[-2000:] or None, "date_done": m.get("date_done")}
    keys = dep.group_keys(ref.group_id) if ref.group_id else {}
    if dep.backend_kind == "redis" and ref.group_id and ".s" not in keys and (".j" in keys or ".d" in keys):
        try:  # the size key gone here: a producer writing to another database of this server wrote it there
            backend["size_key_elsewhere"] = backend_reader.size_key_elsewhere(dep.app.backend, ref.group_id)
            dep.reads.append(f"SCAN *{ref.group_id}.s in the server's databases {backend['size_key_elsewhere']['looked']}")
        except Exception as e:
            backend["size_key_elsewhere"] = {"error": f"{type(e).__name__}: {e}"}
    return {"ref": asdict(ref), "keys": keys, "backend": backend,
            "metas": {t: dep.metas.get(t) for t in dict.fromkeys([*ids, *(m.get("parent_id") for m in
                                                                       (dep.metas.get(t) or {} for t in ids))]) if t}}


def _candidate_groups(dep: Deployment, broker: dict[str, Any], workers: dict[str, Any],
                      ident: str) -> list[tuple[str, str]]:
    """The chords an unlinked callback id may belong to: every group whose chord is not done with its callback.

    Open chord keys (.s/.j/.d) are chords still counting; a ``.c = done`` marker with no
    callback meta in the group is a callback dispatched and not yet (or never) run."""
    out = []
    for gid, suffixes in sorted(dep.open_groups().items()):
        if set(suffixes) & {".s", ".j", ".d"}:
            out.append((gid, f"group {gid} has open chord keys ({', '.join(suffixes)})"))
        elif ".c" in suffixes and (dep.group_keys(gid).get(".c") or {}).get("value") == "done":
            scan = dep.scan_group_metas(gid)
            members = dict(scan["members"])
            has_callback = any(m.get("parent_id") in members for m in members.values())
            if not has_callback:
                out.append((gid, f"group {gid} dispatched its callback (.c = done) and no meta in the group is a callback's"))
        if len(out) >= MAX_CANDIDATES:
            break
    return out


def read_overview(dep: Deployment, workers: dict[str, Any], names: set[str], max_chords: int = 10) -> dict[str, Any]:
    """Chords at risk across the deployment: unconsumed queues with messages and open or dispatched chords."""
    broker = dep.read_broker(names, set(), set())
    consumed = {q for qs in (workers.get("consumers") or {}).values() for q in qs}
    queues = []
    for name, q in sorted((broker.get("queues") or {}).items()):
        if not q.get("length"):
            continue
        tasks: dict[str, int] = {}
        for m in q.get("messages") or []:
            tasks[m.get("name") or "?"] = tasks.get(m.get("name") or "?", 0) + 1
        queues.append({"queue": name, "length": q["length"], "consumed": name in consumed or bool(q.get("consumers")),
                       "tasks": tasks, "counts_only": bool(broker.get("counts_only")),
                       "callbacks": [m["task_id"] for m in q.get("messages") or []
                                     if m.get("group") and m.get("group_index") is None and m.get("name") != CHORD_UNLOCK]})
    idents: list[tuple[str, str]] = []
    waiting_groups = set()
    for rq in queues:
        if not rq["consumed"]:
            idents += [(cid, "chord") for cid in rq["callbacks"]]
            waiting_groups |= {m.get("group") for m in (broker["queues"][rq["queue"]].get("messages") or [])
                               if m.get("task_id") in rq["callbacks"]}
    idents += [(gid, "group") for gid, _how in _candidate_groups(dep, broker, workers, "") if gid not in waiting_groups]
    chords = [read_chord(dep, ident, hint, workers, names) for ident, hint in idents[:max_chords]]
    return {"queues": queues, "chords": chords, "more_chords": max(0, len(idents) - max_chords),
            "consumers": workers.get("consumers") or {}}
