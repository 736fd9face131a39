"""The broker reader: what waits in which queue, read without consuming.

    scenario → runtime up → chords sent → **observations** (broker) → verdict → record

One reader for a lab run, the fuzzer and doctor.  On Redis it peeks the queue
lists by kombu's own key naming (``RedisNaming``: the global key prefix, the
priority separator and steps, the ``unacked`` hash), so a deployment with a
``global_keyprefix`` or custom ``priority_steps`` is read where kombu writes.
On RabbitMQ it takes each queue's message and consumer counts from the broker
by passive declare (creates nothing, consumes nothing); a message there cannot
be read without consuming it, so only counts are observed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable

CHORD_UNLOCK = "celery.chord_unlock"
PEEK_CHUNK = 500


@dataclass(frozen=True)
class RedisNaming:
    """Where kombu's Redis transport keeps a queue's messages (kombu.transport.redis.Channel's defaults)."""

    prefix: str = ""
    sep: str = "\x06\x16"
    priority_steps: tuple[int, ...] = (0, 3, 6, 9)
    unacked_key: str = "unacked"
    binding_key: str = "_kombu.binding.%s"

    @classmethod
    def for_conf(cls, conf: Any) -> "RedisNaming":
        """The naming an app's ``broker_transport_options`` gives (no connection is opened)."""
        opts = dict(getattr(conf, "broker_transport_options", None) or {})
        steps = opts.get("priority_steps")
        return cls(prefix=str(opts.get("global_keyprefix") or ""), sep=str(opts.get("sep") or cls.sep),
                   priority_steps=tuple(steps) if steps else cls.priority_steps,
                   unacked_key=str(opts.get("unacked_key") or cls.unacked_key))

    def queue_keys(self, name: str) -> list[str]:
        """The list for each priority step: the queue itself, then ``<queue><sep><step>``."""
        return [self.prefix + name] + [f"{self.prefix}{name}{self.sep}{p}" for p in self.priority_steps if p]


def decode_message(raw: Any) -> dict[str, Any] | None:
    """A kombu Redis message (or an ``unacked`` entry) as the fields that link it to a chord.

    ``chord_callback_id`` is the callback a header part carries in its body's embed
    (``chord``): a header message still in the broker names its chord's callback.
    Bodies are decoded only for json messages."""
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
            args, kwargs, embed = json.loads(body)
            out["args"], out["kwargs"] = args, kwargs
            chord = (embed or {}).get("chord") if isinstance(embed, dict) else None
            if isinstance(chord, dict):
                out["chord_callback_id"] = (chord.get("options") or {}).get("task_id")
                out["chord_callback_task"] = chord.get("task")
        except (ValueError, TypeError):
            pass
    return out


def compact(m: dict[str, Any]) -> dict[str, Any]:
    """A decoded message without its empty fields (what a record keeps)."""
    return {k: v for k, v in m.items() if v is not None}


def unlock_callback_id(m: dict[str, Any]) -> str | None:
    """The callback id a celery.chord_unlock message or request carries (args: group id, callback signature)."""
    args = m.get("args") or []
    body = args[1] if len(args) > 1 else None
    return (body.get("options") or {}).get("task_id") if isinstance(body, dict) else None


def unlock_header_ids(m: dict[str, Any]) -> list[str]:
    """The header part ids a celery.chord_unlock message carries (kwargs.result: [[id, parent], ...])."""
    res = (m.get("kwargs") or {}).get("result") or []
    return [r[0][0] for r in res if isinstance(r, list) and r and isinstance(r[0], list) and r[0]]


def names_chord(m: dict[str, Any], ids: set[str], groups: set[str]) -> bool:
    """Does this message belong to a chord named by one of ``ids`` (a task or callback id) or ``groups``?"""
    if not m:
        return False
    if m.get("task_id") in ids or m.get("group") in groups or m.get("chord_callback_id") in ids:
        return True
    return m.get("name") == CHORD_UNLOCK and ((m.get("args") or [None])[0] in groups or unlock_callback_id(m) in ids
                                             or bool(ids & set(unlock_header_ids(m))))


def peek_redis(client, names: set[str], naming: RedisNaming = RedisNaming(), *, depth: int = 200, shown: int = 200,
               wanted: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """Queue lengths and the messages waiting in each, peeked with LLEN/LRANGE (never consumed).

    Up to ``depth`` messages per list are read; ``shown`` of them (and every one
    ``wanted`` picks) are kept per queue.  The ``unacked`` hash holds what a
    worker has fetched and not acknowledged.  ``found`` lists the wanted ones with
    where they were."""
    queues: dict[str, Any] = {}
    found: list[dict[str, Any]] = []
    peeked = 0
    for name in sorted(names):
        length, kept = 0, []
        for key in naming.queue_keys(name):
            n = client.llen(key)
            if not n:
                continue
            length += n
            last = min(n, depth)
            for start in range(0, last, PEEK_CHUNK):
                for raw in client.lrange(key, start, min(start + PEEK_CHUNK, last) - 1):
                    peeked += 1
                    m = decode_message(raw)
                    if m is None:
                        continue
                    want = bool(wanted and wanted(m))
                    if want:
                        found.append({**compact(m), "where": f"queue {name!r}"})
                    if len(kept) < shown or want:
                        kept.append(compact(m))
        queues[name] = {"length": length, "messages": kept}
    unacked = []
    for i, (_tag, raw) in enumerate(client.hscan_iter(naming.prefix + naming.unacked_key, count=1000)):
        if i >= depth:
            break
        m = decode_message(raw)
        if m:
            unacked.append(compact(m))
            if wanted and wanted(m):
                found.append({**compact(m), "where": "the unacked hash (delivered to a worker, not yet acknowledged)"})
    bindings = sorted(_s(k) for k in client.scan_iter(match=naming.prefix + naming.binding_key % "*", count=1000))
    return {"queues": queues, "unacked": unacked, "bindings": bindings, "found": found, "peeked": peeked}


def bound_queues(client, naming: RedisNaming = RedisNaming()) -> set[str]:
    """Every queue an exchange is bound to (kombu's binding sets): the queues a Redis deployment uses."""
    names: set[str] = set()
    for key in client.scan_iter(match=naming.prefix + naming.binding_key % "*", count=1000):
        for member in client.smembers(key):
            parts = _s(member).split(naming.sep)
            if len(parts) == 3 and parts[2]:
                names.add(parts[2])
    return names


def rabbitmq_counts(app, names: set[str]) -> dict[str, Any]:
    """Message and consumer counts from RabbitMQ itself (passive declare: creates nothing, reads no message)."""
    queues: dict[str, Any] = {}
    with app.connection_for_read() as conn:
        for name in sorted(names):
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
    return {"queues": queues, "unacked": [], "counts_only": True}


def _s(x: Any) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)
