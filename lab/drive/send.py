"""Sending chords: the producer side of a run.

    scenario → topology up → **chords sent** → observations → verdict → record

The lab itself is the producer.  It builds the app from the producer's spec
(the scenario's config), so header parts are routed exactly as the user's
code would route them, sends every chord the scenario asks for, and writes
down what it sent: ids, the queues the router chose, and the oracle (the
result a correct Celery hands the callback).  On the Redis backend it also
reads the chord size key's TTL straight after sending: that is the evidence
for "the key expired before the last part returned".

Sending stops at the first chord whose sending fails on the broker's or the
backend's connection (a server that died under the producer): the chords sent
before it are kept, and the failed one is written down with ``send_error``, so
the run can still give each chord a verdict (``unknown``, naming the loss).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from celery import Celery, chain, chord
from celery import group as group_of
from kombu.exceptions import OperationalError

from lab.scenario import Scenario


def chord_values(rng: random.Random, n: int) -> list[int]:
    return [rng.randrange(1000) for _ in range(n)]


def routed_queue(app: Celery, name: str, options: dict[str, Any]) -> str | None:
    """The queue ``app`` would publish task ``name`` to, with these options."""
    if options.get("queue"):
        q = options["queue"]
        return q if isinstance(q, str) else getattr(q, "name", str(q))
    try:
        route = app.amqp.router.route(dict(options), name, (), {})
    except Exception:  # a broken route is the user's to see in the worker log, not ours to crash on
        return None
    q = route.get("queue")
    return getattr(q, "name", q)


def connection_errors(app: Celery) -> tuple[type[BaseException], ...]:
    """What a lost broker or backend connection raises in the producer (redis-py's, amqp's, kombu's, OSError)."""
    errors: list[type[BaseException]] = [OSError, OperationalError]
    with app.connection_for_write() as conn:  # not connected: asks the transport what it raises
        errors += [*conn.connection_errors, *conn.channel_errors]
    errors += list(getattr(app.backend, "connection_errors", ()) or ())
    return tuple(dict.fromkeys(errors))


def send_chords(app: Celery, scenario: Scenario, seed: int) -> list[dict[str, Any]]:
    """Send every chord of the scenario; return one 'sent' record per chord.

    A chord whose sending fails on a lost connection ends the sending: it is the
    last record, with ``send_error``, and no header ids (how much of it went out
    is the ledger's to say)."""
    if scenario.canvas:  # a canvas function of the user's tasks (lab run --app ... --canvas ..., or a scenario's)
        from lab.drive.user_canvas import send_user_canvases

        return send_user_canvases(app, scenario)
    lost_connection = connection_errors(app)
    rng = random.Random(seed)
    sent: list[dict[str, Any]] = []
    index = 0
    for spec in scenario.chords:
        durations = spec.durations()
        for _ in range(spec.count):
            values = chord_values(rng, spec.header)
            header = [
                app.signature(spec.header_task, args=(v, d, i in spec.raising_parts), **spec.part_options)
                for i, (v, d) in enumerate(zip(values, durations))
            ]
            leaf_ids = None
            if spec.chained_group:  # a complex header: chain(part 0, group(parts 1..N)), then the rest
                leaf_ids = [str(uuid.uuid4()) for _ in header]
                header = [sig.set(task_id=tid, immutable=True) for sig, tid in zip(header, leaf_ids)]
                n = spec.chained_group
                header = [chain(header[0], group_of(header[1:n + 1])), *header[n + 1:]]
                values = [values[1:n + 1], *values[n + 1:]]  # the oracle: the chain's result is its group's list
            body = app.signature(spec.callback, args=tuple(spec.callback_args)).set(**spec.callback_options)
            sent_at = time.time()
            send_error = None
            try:
                result, apply_error = chord(header, app=app)(body), None
            except NotImplementedError as e:  # the result backend refuses chords (rpc://): that is the finding
                result, apply_error = None, _one_line(e)
            except Exception as e:
                lost = _lost_connection(e, lost_connection)
                if lost is None:
                    raise
                result, apply_error, send_error = None, None, lost  # the server went away: stop, keep what was sent
            group = result.parent if result is not None else None
            sent.append({
                **({"apply_error": apply_error} if apply_error else {}),
                **({"send_error": send_error, "send_failed_at": time.time()} if send_error else {}),
                "index": index,
                "chord_id": result.id if result is not None else body.freeze().id,
                "group_id": group.id if group is not None else None,
                "header_ids": leaf_ids or ([r.id for r in group.results] if group is not None else []),
                "header_task": spec.header_task,
                "callback_task": spec.callback,
                "header_queue": routed_queue(app, spec.header_task, spec.part_options),
                "callback_queue": routed_queue(app, spec.callback, spec.callback_options),
                "expected": values,
                "durations": durations,
                "raising_parts": list(spec.raising_parts),
                "sent_at": sent_at,
            })
            index += 1
            if send_error:
                return sent
    return sent


def _lost_connection(e: BaseException, errors: tuple[type[BaseException], ...]) -> str | None:
    """``e`` in words if a lost connection raised it, or caused it, else None.

    Celery's result consumer turns a reconnect that failed into a RuntimeError
    ("Retry limit exceeded ..."), raised from the connection error."""
    seen = []
    while e is not None and e not in seen:
        if isinstance(e, errors):
            return _one_line(e) if not seen else f"{_one_line(seen[0])}, from {_one_line(e)}"
        seen.append(e)
        e = e.__cause__ or e.__context__
    return None


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__


def chord_size_ttls(app: Celery, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PTTL of each chord's ``.s`` key, read right after sending (Redis backend only)."""
    backend = app.backend
    if not hasattr(backend, "get_key_for_group") or not hasattr(backend, "client"):
        return []
    client = backend.client
    rows = []
    with client.pipeline(transaction=False) as pipe:
        for c in sent:
            if c["group_id"]:
                pipe.pttl(backend.get_key_for_group(c["group_id"], ".s"))
        ttls = pipe.execute()
    t = time.time()
    for c, pttl in zip([c for c in sent if c["group_id"]], ttls):
        rows.append({"chord_id": c["chord_id"], "key": ".s", "pttl_ms": pttl, "t": t})
    return rows
