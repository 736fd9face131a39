"""The backend reader: chord keys, task metas and the server's own stats.

    scenario → runtime up → chords sent → **observations** (backend) → verdict → record

One reader for a lab run, the fuzzer and doctor.  On Redis: every chord key
``.s/.j/.t/.d/.c`` (and the group meta) with its type, TTL, value or size, and
on request its members; the task metas; ``INFO`` (evictions, uptime, FLUSHDB
and FLUSHALL calls).  Also the Redis backends that workers use and the
producer does not, the database backend's metas and what came back over
rpc://.  Bounded SCANs find a group's metas and the open chords of a live
deployment.  Nothing is written.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from lab.observe.model import epoch  # noqa: F401 (backend.epoch: read here, defined with the nouns)

CHORD_KEY_SUFFIXES = (".s", ".j", ".t", ".d", ".c", "")
META_SCAN_BUDGET_S = 1.5  # SCAN of task metas for a group's members: bounded in time
META_SCAN_MAX_KEYS = 200_000


def _decode(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, TypeError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


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
    return {"kind": "redis", "chord_keys": chords, "metas": metas, "stats": server_stats(client)}


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



# -- one chord, read by id (doctor's side of the same reader) ---------------------------------------


def chord_keys(backend, gid: str) -> dict[str, Any]:
    """The Redis chord keys of group ``gid``: type, PTTL, the value of strings and the members of .j and .d."""
    client = backend.client
    keys: dict[str, Any] = {}
    for suffix in CHORD_KEY_SUFFIXES:
        key = backend.get_key_for_group(gid, suffix)
        ktype = _str(client.type(key))
        if ktype == "none":
            continue
        entry: dict[str, Any] = {"type": ktype, "pttl_ms": client.pttl(key)}
        if ktype == "string" and not suffix:  # the saved header: its structure, never a result
            entry["value"] = None
            entry["header"] = saved_header(backend, client.get(key))
        elif ktype == "string":
            entry["value"] = _str(client.get(key))
        elif ktype == "zset":
            entry["members"] = [backend.decode(v) for v in client.zrange(key, 0, -1)]
        elif ktype == "list":
            entry["members"] = [backend.decode(v) for v in client.lrange(key, 0, -1)]
        elif ktype == "set":
            entry["members"] = sorted(_str(v) for v in client.smembers(key))
        keys[suffix or "meta"] = entry
    return keys


def saved_header(backend, raw: Any) -> list[dict[str, Any]] | None:
    """The structure of the header Celery saved for a chord (``celery-taskset-meta-<group id>``: ``save_group`` stores
    ``{"result": GroupResult.as_tuple()}`` in the result serializer, ``(id, parent), [child tuples]``, which
    ``result_from_tuple`` restores): one entry per top-level header member, ``{"id"}`` for a task result and
    ``{"id", "group": True, "members": [...]}`` for a nested group, its task ids in order (a group in it flattened).
    Celery joins a top-level member with ``result_chord_join_timeout`` and a nested group's members with
    ``.get()`` and no timeout.  None when it cannot be decoded."""
    def node_id(res: Any) -> Any:
        return res[0] if isinstance(res, (list, tuple)) else res

    def leaves(nodes: Any) -> list[str]:
        out: list[str] = []
        for n in nodes or []:
            res, kids = n if isinstance(n, (list, tuple)) and len(n) == 2 else (n, None)
            out += leaves(kids) if kids is not None else [str(node_id(res))]
        return out

    try:
        meta = backend.decode(raw)
        res, nodes = meta["result"]
        out: list[dict[str, Any]] = []
        for n in nodes or []:
            nres, kids = n
            if kids is None:
                out.append({"id": str(node_id(nres))})
            else:
                out.append({"id": str(node_id(nres)), "group": True, "members": leaves(kids)})
        return out
    except Exception:  # another serializer's payload, or not a saved group: no structure
        return None


def size_key_elsewhere(backend, gid: str, budget: int = 1_000_000) -> dict[str, Any]:
    """The chord size key ``.s`` of ``gid`` under another name on the same Redis server.

    A producer whose result_backend names another database (``/1`` against the workers' ``/2``), or
    another ``global_keyprefix``, writes ``.s`` where no part returns.  Every database that holds keys
    (INFO keyspace) is scanned for ``*<gid>.s``, at most ``budget`` keys in all, on one short-lived
    connection per database; nothing is written, and the backend's own connections are not switched."""
    import redis

    pool = backend.client.connection_pool
    here = int(pool.connection_kwargs.get("db") or 0)
    own = _str(backend.get_key_for_group(gid, ".s"))
    try:
        keyspace = backend.client.info("keyspace") or {}
    except Exception:  # INFO refused: look in this database only
        keyspace = {f"db{here}": {"keys": budget}}
    dbs = sorted((int(name[2:]), int((v or {}).get("keys") or 0)) for name, v in keyspace.items()
                 if name.startswith("db") and name[2:].isdigit())
    found: list[dict[str, Any]] = []
    looked: list[int] = []
    left = budget
    for db, n in dbs:
        if left <= 0:
            break
        client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class,
                                                                  **{**pool.connection_kwargs, "db": db}))
        try:
            for key in client.scan_iter(match=f"*{gid}.s", count=1000):
                name = _str(key)
                if db == here and name == own:
                    continue
                found.append({"db": db, "key": name, "value": _str(client.get(key)), "pttl_ms": client.pttl(key)})
            looked.append(db)
            left -= n
        except Exception:  # a database this user may not select
            continue
        finally:
            client.close()
            client.connection_pool.disconnect()
    return {"key": own, "db": here, "looked": looked, "found": found,
            "complete": left > 0 or len(looked) == len(dbs)}


def header_ids_from_keys(keys: dict[str, Any]) -> list[str]:
    """The header part ids the chord keys name, in header order (.d members are ``tid:index``)."""
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


def task_meta(app, kind: str, tid: str) -> dict[str, Any] | None:
    """The stored meta of task ``tid`` (None when there is none: Celery would say PENDING)."""
    try:
        if kind == "redis":
            raw = app.backend.client.get(app.backend.get_key_for_task(tid))
            m = app.backend.decode(raw) if raw is not None else None
        elif kind == "database":
            got = app.backend._get_task_meta_for(tid)
            m = got if got and got.get("status") != "PENDING" else None
        else:
            m = None
    except Exception:
        m = None
    return plain(m) if isinstance(m, dict) else None


def plain(v: Any) -> Any:
    """A meta as plain JSON data (a reading is stored): dates as ISO text, exceptions as Celery serializes them."""
    def default(x: Any) -> Any:
        if isinstance(x, datetime):
            return x.isoformat()
        if isinstance(x, BaseException):
            return {"exc_type": type(x).__name__, "exc_message": [str(a) for a in x.args], "exc_module": type(x).__module__}
        return repr(x)
    return json.loads(json.dumps(v, default=default))


def task_metas(app, kind: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The status and result of each of ``ids`` that has a meta (Redis: one pipelined round trip)."""
    if not ids:
        return {}
    if kind != "redis":
        return (probe_database_backend(app, [{"chord_id": t, "header_ids": []} for t in ids]).get("metas") or {})
    backend = app.backend
    with backend.client.pipeline(transaction=False) as pipe:
        for tid in ids:
            pipe.get(backend.get_key_for_task(tid))
        raws = pipe.execute()
    out = {}
    for tid, raw in zip(ids, raws):
        if raw is not None:
            m = backend.decode(raw)
            out[tid] = {"status": m.get("status"), "result": _jsonable(m.get("result"))}
    return out


def server_stats(client) -> dict[str, Any]:
    """What the Redis server says of itself: memory, evictions, uptime and how often it was flushed."""
    info = client.info()
    stats = {k: info.get(k) for k in ("evicted_keys", "expired_keys", "used_memory", "maxmemory", "maxmemory_policy",
                                       "rejected_connections", "loading", "uptime_in_seconds")}
    try:
        cmd = client.info("commandstats")
        stats["flushes"] = sum(int((cmd.get(f"cmdstat_{c}") or {}).get("calls", 0)) for c in ("flushdb", "flushall"))
    except Exception:
        stats["flushes"] = None
    return stats


def scan_group_metas(backend, gid: str, header_ids: set[str] = frozenset()) -> dict[str, Any]:
    """Task metas that belong to group ``gid`` (Redis: a SCAN bounded in keys and time, read only).

    ``members``: metas whose group_id is ``gid``; ``chord_errors``: FAILURE metas whose
    ChordError names one of ``header_ids`` (the callback, failed by the chord machinery);
    ``orphans``: FAILURE metas that name no group (what a NotRegistered or ChordError
    callback leaves), so a caller can list candidates."""
    out: dict[str, Any] = {"members": [], "chord_errors": [], "orphans": [], "how": "not scanned"}
    client = backend.client
    pattern = _str(backend.get_key_for_task("*"))
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
            tid = _str(k)[len(pattern) - 1:]
            if needle in raw:
                m = backend.decode(raw)
                if isinstance(m, dict) and m.get("group_id") == gid:
                    out["members"].append((tid, plain(m)))
                    continue
            if b'"FAILURE"' in raw and b'"group_id"' not in raw:
                m = backend.decode(raw)
                if not isinstance(m, dict):
                    continue
                msg = str((m.get("result") or {}).get("exc_message")) if isinstance(m.get("result"), dict) else ""
                if b"ChordError" in raw and any(h in msg for h in header_ids):
                    out["chord_errors"].append((tid, plain(m)))
                else:
                    out["orphans"].append((tid, plain(m)))
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
    return out


def open_groups(backend, limit: int = 50) -> dict[str, list[str]]:
    """Groups with chord keys in the Redis backend, and which suffixes each has (a bounded SCAN)."""
    client = backend.client
    base = _str(backend.get_key_for_group("X"))[:-1]
    groups: dict[str, set[str]] = {}
    for i, key in enumerate(client.scan_iter(match=base + "*", count=1000)):
        if i > 20000:
            break
        rest = _str(key)[len(base):]
        gid, dot, suffix = rest.partition(".")
        groups.setdefault(gid, set()).add("." + suffix if dot else "meta")
        if len(groups) > limit * 4:
            break
    return {g: sorted(s) for g, s in groups.items()}


def _str(x: Any) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)


def meta_ttls(app, task_ids: list[str]) -> list[dict[str, Any]]:
    """PTTL of each task's result meta key, read now (Redis backend only): -2 gone, -1 no expiry.

    Read again and again while a scenario holds its final read (``read_after``), these are the
    meta's TTL history: the proof that a result was stored and then expired before the read."""
    backend = app.backend
    if not task_ids or not hasattr(backend, "get_key_for_task") or not hasattr(backend, "client"):
        return []
    with backend.client.pipeline(transaction=False) as pipe:
        for tid in task_ids:
            pipe.pttl(backend.get_key_for_task(tid))
        ttls = pipe.execute()
    t = time.time()
    return [{"task_id": tid, "pttl_ms": pttl, "t": t} for tid, pttl in zip(task_ids, ttls)]
