"""Observations built by hand, for the tests of the judge and the timeline: one builder, written once.

A test states the few facts it is about; everything else is one ordinary run:
one chord ``cb-1`` of three parts ``p1 p2 p3`` (results 5 6 7), sent at T0 + 1
into Redis, one worker ``w1`` consuming the default queue ``celery``, an empty
broker and backend, probed at T0 + 10.  The shapes are the lab's own
(``lab.observe.model``): a test's observations are what a run would store.

    observations(parts_ran() + callback_ran(), metas={CALLBACK: {"status": "SUCCESS"}})
"""

from __future__ import annotations

from typing import Any

from lab.observe.model import (BackendProbe, ChordKey, LedgerEvent, Observations, QueueProbe, Quiescence, SentChord,
                               SizeTTL, TaskMeta, TimelineEntry, TopologyDescription)

T0 = 1000.0  # the run's started_at
W1 = "w1@run-abc"  # the one worker's hostname
CALLBACK = "cb-1"  # the chord id (the callback's task id)
GROUP = "g-1"
PARTS = ("p1", "p2", "p3")
VALUES = (5, 6, 7)  # what each part returns: the callback must receive them in this order
HEADER_TASK = "lab.part"
CALLBACK_TASK = "lab.collect"
LONG_TTL_MS = 86_000_000  # a chord key far from expiring


def chord(**kw: Any) -> SentChord:
    """One sent chord (as drive.send records it), with ``kw`` replacing any field."""
    c: SentChord = {"index": 0, "chord_id": CALLBACK, "group_id": GROUP, "header_ids": list(PARTS),
                    "header_task": HEADER_TASK, "callback_task": CALLBACK_TASK, "header_queue": "celery",
                    "callback_queue": "celery", "expected": list(VALUES), "durations": [0.1] * len(PARTS),
                    "raising_parts": [], "sent_at": T0 + 1}
    c.update(kw)
    return c


def _pid(e: dict[str, Any], pid: int | None) -> LedgerEvent:
    """The event with its pid, or with none recorded (``pid=None``)."""
    if pid is not None:
        e["pid"] = pid
    return e


def publish(tid: str, t: float, *, name: str = HEADER_TASK, queue: str = "celery", by: str = "producer") -> LedgerEvent:
    """A publish of ``tid`` to ``queue`` at ``t``, by the producer or a worker."""
    return {"event": "publish", "t": t, "task_id": tid, "name": name, "queue": queue, "by": by}


def start(tid: str, t: float, *, pid: int | None = 100, worker: str = W1, value: Any = None, args: list | None = None,
          redelivered: bool = False, name: str = HEADER_TASK) -> LedgerEvent:
    """A start of ``tid`` in process ``pid`` of ``worker`` (``args``, else ``[value]``); ``pid=None``: none recorded."""
    return _pid({"event": "start", "t": t, "task_id": tid, "name": name, "worker": worker,
                 "args": args if args is not None else [value], "redelivered": redelivered}, pid)


def end(tid: str, t: float, *, state: str = "SUCCESS", pid: int | None = 100, worker: str = W1, result: Any = None,
        name: str = HEADER_TASK) -> LedgerEvent:
    """An end of ``tid`` with ``state``; ``pid=None``: none recorded."""
    return _pid({"event": "end", "t": t, "task_id": tid, "name": name, "worker": worker, "state": state,
                 "result": result}, pid)


def parts_ran(ids=PARTS, values=VALUES, *, t: float = T0 + 2, state: str = "SUCCESS", worker: str = W1,
              took: float = 0.1) -> list[LedgerEvent]:
    """Each part started at ``t`` (0.01 s apart, process 100 + i) and ended ``took`` s later with ``state``."""
    ev: list[LedgerEvent] = []
    for i, (p, v) in enumerate(zip(ids, values)):
        ev += [start(p, t + i * 0.01, value=v, pid=100 + i, worker=worker),
               end(p, t + i * 0.01 + took, state=state, result=v, pid=100 + i, worker=worker)]
    return ev


def callback_published(*, queue: str = "celery", by: str = W1, t: float = T0 + 2.1) -> LedgerEvent:
    """The callback published to ``queue`` by the worker whose part completed the header."""
    return publish(CALLBACK, t, name=CALLBACK_TASK, queue=queue, by=by)


def callback_ran(args: list | None = None, *, state: str = "SUCCESS", n: int = 1, t: float = T0 + 2.2) -> list[LedgerEvent]:
    """The callback started (with ``args``, else the expected results) and ended ``n`` times, 1 s apart, from ``t``."""
    ev: list[LedgerEvent] = []
    for i in range(n):
        ev += [start(CALLBACK, t + i, name=CALLBACK_TASK, args=[args if args is not None else list(VALUES)]),
               end(CALLBACK, t + 0.1 + i, name=CALLBACK_TASK, state=state, result=args)]
    return ev


def keys(s: int | None = 3, j: int | None = None, c: str | None = None) -> dict[str, dict[str, ChordKey]]:
    """The chord's Redis keys as probed: .s holding ``s``, .j holding ``j`` results, .c ``c``; None: the key is gone."""
    k: dict[str, ChordKey] = {
        ".s": {"type": "string", "value": s, "pttl_ms": LONG_TTL_MS} if s is not None else {"type": "none"},
        ".j": {"type": "zset", "card": j, "pttl_ms": LONG_TTL_MS} if j is not None else {"type": "none"},
        ".t": {"type": "none"},
        ".c": {"type": "string", "value": c} if c else {"type": "none"}}
    return {CALLBACK: k}


def observations(ledger: list[LedgerEvent], *, chords: list[SentChord] | None = None,
                 scenario: dict[str, Any] | None = None, queues: dict[str, QueueProbe] | None = None,
                 unacked: list[dict[str, Any]] | None = None, consumers: dict[str, list[str]] | None = None,
                 registered: dict[str, list[str]] | None = None, metas: dict[str, TaskMeta] | None = None,
                 chord_keys: dict[str, dict[str, ChordKey]] | None = None, stats: dict[str, Any] | None = None,
                 backend_kind: str = "redis", extra_backend: BackendProbe | None = None,
                 logs: dict[str, list[str]] | None = None, size_ttls: list[SizeTTL] | None = None,
                 timeline: list[TimelineEntry] | None = None, quiescence: Quiescence | None = None,
                 topology: TopologyDescription | None = None, probe_t: float | None = None,
                 run_id: str = "t-20300101T000000-abc") -> Observations:
    """One run's observations, as experiments.run stores them: ``ledger`` and what the final probe read.

    ``consumers`` defaults to w1 consuming ``celery`` (``{}``: no worker answered); a Redis backend
    has chord keys and INFO stats, any other ``backend_kind`` only metas; ``extra_backend`` adds to the
    backend's reading (``worker_backends``)."""
    backend: BackendProbe = {"kind": backend_kind, "metas": metas or {}}
    if backend_kind == "redis":
        backend.update({"chord_keys": chord_keys or {}, "stats": stats or {}})
    backend.update(extra_backend or {})
    return {
        "run_id": run_id,
        "scenario": scenario or {"name": "t", "expect": "stuck", "workers": [{"name": "w1"}], "config": {}},
        "seed": 0,
        "started_at": T0,
        "topology": topology or {"result_backend": "redis://127.0.0.1:7000/1",
                                 "workers": [{"name": "w1", "hostname": W1, "queues": ["celery"], "ready_at": T0 + 0.5}]},
        "chords": chords or [chord()],
        "ledger": ledger,
        "size_ttls": size_ttls or [],
        "timeline": timeline or [],
        "quiescence": quiescence or {"how": "quiet"},
        "probe": {
            "t": probe_t or T0 + 10,
            "quiesced": True,
            "broker": {"queues": queues or {}, "unacked": unacked or []},
            "workers": {"consumers": consumers if consumers is not None else {W1: ["celery"]},
                        "registered": registered or {}},
            "backend": backend,
            "logs": logs or {},
        },
    }
