"""Draw a stored run's observations as a timeline, for teaching.

Where this sits in the lab's flow::

    scenario -> topology up -> chords sent -> observations -> verdict with proof
             -> record -> RESULTS.md

This module comes after the record exists: ``python -m lab show`` loads a
stored run (its observations dict and its verdicts) and hands them here to be
drawn, either as a compact character chart in the terminal or as an SVG for
slides.  It never talks to Redis or to a worker; it only reads the dict.

The picture has one lane per worker (keyed by the hostname the ledger records,
labelled by the short name) and one lane per queue.  On it:

* each header part that ran is a bar on its worker's lane, coloured by outcome;
* each callback publish is a mark on the target queue's lane, with an arrow
  from the worker that published it;
* each message is a (light) bar on its queue's lane from publish until a worker
  took it; a message nobody took stays there until the probe, labelled with
  the reason visible in the observations (e.g. "callback waiting: no consumer")
  -- this is where a stuck chord stopped;
* the callback, if it ran, is a bar on its worker's lane;
* faults, node ready times and the probe are marks.

Times are seconds since ``started_at``.  Every key of the observations may be
missing (older records, runs that died early): the functions draw what is
there and never raise on a malformed record.

:func:`task_lifecycles` is the one place that reads what happened to a task
from its ledger events; :func:`timeline_events` derives every bar and mark from
those lifecycles and is pure, so it can be tested without drawing;
:func:`render_terminal` and :func:`write_svg` only lay its output out.

The ledger's events come from different processes (the producer's publish, a
worker's start and end), each stamped when that process wrote it, so their
order says nothing: ``after_task_publish`` fires once the message is already
in the broker, and under load a worker often logs the start first.  A task
that has a start or an end ran, whatever the order of its events.
"""

from __future__ import annotations

import math
import pathlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from lab.observe.model import Observations

__all__ = ["Lifecycle", "Run", "task_lifecycles", "timeline_events", "render_terminal", "write_svg"]

#: Verdict names in the order counts are shown in titles.
VERDICT_ORDER = ("stuck", "completed", "failed", "duplicated", "early", "unrecorded", "unknown")

#: At most this many stacked rows on one worker lane (overlapping runs beyond
#: that share the last row).
MAX_SLOTS = 8

_PRODUCERS = {"", "producer", "client", "lab", None}


def _is_producer(by: Any) -> bool:
    """The ledger names the sending client "producer" (or "producer@host")."""
    name = _str(by)
    return name in _PRODUCERS or name.startswith("producer")


def _probe_parts(probe: dict) -> tuple[dict, dict | None, set[str]]:
    """Queues, consumers and unacked task ids of a probe.

    Accepts both the flat shape (``probe.queues``, ``probe.consumers``) and the
    nested one the runner stores (``probe.broker.queues``,
    ``probe.broker.unacked``, ``probe.workers.consumers``).  Consumers are
    ``None`` when the probe could not tell (no answer recorded, or the
    broadcast failed).
    """
    broker = _dict(probe.get("broker"))
    workers = _dict(probe.get("workers"))
    queues = _dict(broker.get("queues")) or _dict(probe.get("queues"))
    if isinstance(workers.get("consumers"), dict) and not workers.get("error"):
        consumers: dict | None = workers["consumers"]
    elif isinstance(probe.get("consumers"), dict) and not workers.get("error"):
        consumers = probe["consumers"]
    else:
        consumers = None
    unacked = {_str(_dict(m).get("task_id")) for m in _list(broker.get("unacked")) + _list(probe.get("unacked"))}
    unacked.discard("")
    return queues, consumers, unacked


# --------------------------------------------------------------------------
# small defensive helpers
# --------------------------------------------------------------------------

def _dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else []


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _str(x: Any) -> str:
    """A name or a label: containers (a malformed record) read as nothing."""
    return "" if x is None or isinstance(x, (dict, list, tuple, set)) else str(x)


def _short(hostname: str) -> str:
    return hostname.split("@", 1)[0] if hostname else hostname


def _fmt_t(t: float) -> str:
    return f"{t:+.2f}s" if t < 0 else f"{t:.2f}s"


# --------------------------------------------------------------------------
# a task's lifecycle: everything the ledger says about one task id
# --------------------------------------------------------------------------

def _t_of(e: dict | None) -> float | None:
    return None if e is None else _num(e.get("t"))


def _by_time(events: Iterable[dict]) -> list[dict]:
    """Events sorted by their time (those without one last), for pairing within one kind of event."""
    return sorted(events, key=lambda e: (_t_of(e) is None, _t_of(e) or 0.0))


@dataclass
class Run:
    """One execution of a task in one worker process: its start and end events, either may be missing."""

    lane: str | None            # the worker's lane (None: the ledger names no worker we know)
    pid: Any
    start: dict | None = None
    end: dict | None = None

    @property
    def times(self) -> list[float]:
        return [t for t in (_t_of(self.start), _t_of(self.end)) if t is not None]

    @property
    def first(self) -> float | None:
        """When it ran from: the earlier of its times, as a skewed clock may log the end first."""
        return min(self.times) if self.times else None

    @property
    def last(self) -> float | None:
        return max(self.times) if self.times else None

    @property
    def outcome(self) -> str:
        if self.end is None:
            return "unfinished"
        return _str(self.end.get("state")) or "ended"

    @property
    def redelivered(self) -> bool:
        """A redelivery of a message already delivered once: it takes no new message from the queue."""
        return bool(self.start and self.start.get("redelivered") is True)

    @property
    def event(self) -> dict:
        return self.end or self.start or {}


@dataclass
class Lifecycle:
    """What the ledger says happened to one task id, read from all its events in any order.

    ``taken`` has one entry per publish (in time order): whether a worker took
    that message (a run or a discard of it), and ``taken_at`` when (None if
    nothing took it or the time is unknown).  The first publish is matched with
    the first delivery, and so on; a redelivered run takes no message of its own
    (unless every run is a redelivery: then the first took the message).
    """

    task_id: str
    publishes: list[dict] = field(default_factory=list)     # those with a time, in time order
    runs: list[Run] = field(default_factory=list)
    discards: list[dict] = field(default_factory=list)      # unregistered or rejected
    taken_at: list[float | None] = field(default_factory=list)
    taken: list[bool] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        """It ran if any start or end of it was logged, wherever its publish sits."""
        return bool(self.runs)

    @property
    def ended(self) -> list[Run]:
        return [r for r in self.runs if r.end is not None]

    @property
    def state(self) -> str:
        """The task's outcome: its last end's state; "unfinished" (started, no end); "unregistered" or
        "rejected" (a worker discarded it); "waiting" (published, never taken); "unseen"."""
        if self.ended:
            return max(self.ended, key=lambda r: _t_of(r.end) if _t_of(r.end) is not None else -math.inf).outcome
        if self.runs:
            return "unfinished"
        if self.discards:
            return _str(self.discards[-1].get("event"))
        return "waiting" if self.publishes else "unseen"


def _pair_runs(starts: list[dict], ends: list[dict], lane: str | None,
               pid: Any) -> tuple[list[Run], list[dict], list[dict]]:
    """Pair one process's starts and ends of a task, n-th with n-th by time; return runs and leftovers.

    One process runs a task to its end before it starts it again, so its
    starts and ends alternate; only a killed process leaves a start unpaired,
    and it is its last one.
    """
    starts, ends = _by_time(starts), _by_time(ends)
    n = min(len(starts), len(ends))
    return [Run(lane, pid, s, e) for s, e in zip(starts[:n], ends[:n], strict=True)], starts[n:], ends[n:]


def task_lifecycles(ledger: Iterable[Any], lane_of: Callable[[Any], str | None] | None = None) -> dict[str, Lifecycle]:
    """Every task id's lifecycle, from its ledger events whatever their order in the list or in time.

    Starts and ends pair within one worker process (``pid``) on one worker
    (``lane_of`` maps the ledger's worker name to a lane; by default the name
    itself), then any left over pair on that worker regardless of process.
    This is the one source of "did it run, how did it end, was its message
    taken": the bars, the queue waits and the "stopped" marks all read it.
    """
    lane_of = lane_of or (lambda host: _str(host) or None)
    grouped: dict[str, dict[str, list[dict]]] = {}
    for e in ledger:
        if not isinstance(e, dict):
            continue
        kind = e.get("event")
        if kind in ("publish", "start", "end", "unregistered", "rejected"):
            grouped.setdefault(_str(e.get("task_id")), {}).setdefault(_str(kind), []).append(e)

    lifecycles: dict[str, Lifecycle] = {}
    for tid, by_kind in grouped.items():
        lc = lifecycles[tid] = Lifecycle(tid, publishes=[e for e in _by_time(by_kind.get("publish", []))
                                                         if _t_of(e) is not None])
        lc.discards = _by_time(by_kind.get("unregistered", []) + by_kind.get("rejected", []))
        per_process: dict[tuple[str | None, Any], dict[str, list[dict]]] = {}
        for kind in ("start", "end"):
            for e in by_kind.get(kind, []):
                pid = e.get("pid") if isinstance(e.get("pid"), (int, str)) else None
                per_process.setdefault((lane_of(e.get("worker")), pid), {}).setdefault(kind, []).append(e)
        left: dict[str | None, dict[str, list[dict]]] = {}
        for (lane, pid), evs in per_process.items():
            runs, starts, ends = _pair_runs(evs.get("start", []), evs.get("end", []), lane, pid)
            lc.runs += runs
            left.setdefault(lane, {}).setdefault("start", []).extend(starts)
            left[lane].setdefault("end", []).extend(ends)
        for lane, evs in left.items():
            runs, starts, ends = _pair_runs(evs["start"], evs["end"], lane, None)
            lc.runs += runs + [Run(lane, s.get("pid"), start=s) for s in starts]
            lc.runs += [Run(lane, e.get("pid"), end=e) for e in ends]
        lc.runs.sort(key=lambda r: (r.first is None, r.first or 0.0))

        # which publish each delivery took: the n-th message by the n-th delivery, in time order
        deliveries = [r.first for r in lc.runs if not r.redelivered] + [_t_of(d) for d in lc.discards]
        if not deliveries and lc.runs:      # only redeliveries (a prefetched message restored): it was taken
            deliveries = [lc.runs[0].first]
        deliveries.sort(key=lambda t: (t is None, t or 0.0))
        lc.taken = [i < len(deliveries) for i in range(len(lc.publishes))]
        lc.taken_at = [deliveries[i] if i < len(deliveries) else None for i in range(len(lc.publishes))]
    return lifecycles


# --------------------------------------------------------------------------
# deriving the events
# --------------------------------------------------------------------------

def _all_times(obs: dict) -> Iterable[float]:
    for key in ("started_at", "finished_at"):
        v = _num(obs.get(key))
        if v is not None:
            yield v
    topo = _dict(obs.get("topology"))
    v = _num(_dict(topo.get("redis")).get("ready_at"))
    if v is not None:
        yield v
    for w in _list(topo.get("workers")):
        v = _num(_dict(w).get("ready_at"))
        if v is not None:
            yield v
    for c in _list(obs.get("chords")):
        v = _num(_dict(c).get("sent_at"))
        if v is not None:
            yield v
    for group in ("ledger", "timeline"):
        for e in _list(obs.get(group)):
            v = _num(_dict(e).get("t"))
            if v is not None:
                yield v
    v = _num(_dict(obs.get("probe")).get("t"))
    if v is not None:
        yield v


def _assign_slots(bars: list[dict], cap: int = MAX_SLOTS) -> int:
    """Greedy interval partitioning of one lane's bars; returns rows used."""
    ends: list[float] = []
    for bar in sorted(bars, key=lambda b: (b["start"], b["end"])):
        for i, end in enumerate(ends):
            if end <= bar["start"]:
                ends[i] = bar["end"]
                bar["slot"] = i
                break
        else:
            if len(ends) < cap:
                ends.append(bar["end"])
                bar["slot"] = len(ends) - 1
            else:
                i = min(range(len(ends)), key=ends.__getitem__)
                ends[i] = max(ends[i], bar["end"])
                bar["slot"] = i
    return max(1, len(ends))


def timeline_events(observations: Observations) -> list[dict]:
    """Derive the lanes, bars and marks of a run from its observations.

    Pure: reads the dict, returns a new list.  Times are seconds since the
    run's ``started_at`` (or since the earliest time recorded, if that is
    missing).  The list holds, in this order:

    * lanes ``{"type": "lane", "id", "kind": "worker"|"queue", "label", ...}``
      -- workers first (``hostname``, ``queues``, ``slots``), then queues
      (``consumers``: short worker names, or ``None`` when unknown);
    * bars ``{"type": "bar", "lane", "start", "end", "kind": "run"|"wait",
      "role": "header"|"callback"|"task", "outcome", "label", "task_id",
      "chord", "slot", "open"}`` -- ``open`` is true when no end was recorded
      and the bar was closed at a fault or at the end of the run;
    * marks ``{"type": "mark", "lane" (None = the whole run), "t", "kind":
      "publish"|"sent"|"ready"|"fault"|"heal"|"unregistered"|"rejected"|
      "stopped"|"probe"|"note", "label", "from_lane", ...}``, sorted by time
      -- a publish by a worker has ``from_lane`` (draw an arrow from it);
      "stopped" marks a chord whose callback was never published;
    * one ``{"type": "span", "start", "end"}``: 0.0 (earlier if something was
      recorded before ``started_at``) to the probe, the finish or the last
      event, whichever is latest.
    """
    obs = _dict(observations)
    times = list(_all_times(obs))
    origin = _num(obs.get("started_at"))
    if origin is None:
        origin = min(times) if times else 0.0

    def rel(x: Any) -> float | None:
        v = _num(x)
        return None if v is None else round(v - origin, 6)

    topo = _dict(obs.get("topology"))
    probe = _dict(obs.get("probe"))
    probe_queues, consumers_probe, unacked_ids = _probe_parts(probe)
    ledger = [e for e in _list(obs.get("ledger")) if isinstance(e, dict)]
    # time order only decides which lane comes first; what happened is read by task_lifecycles
    ledger.sort(key=lambda e: _num(e.get("t")) if _num(e.get("t")) is not None else math.inf)
    chords = [c for c in _list(obs.get("chords")) if isinstance(c, dict)]

    rel_times = [round(t - origin, 6) for t in times]
    probe_t = rel(probe.get("t"))
    finished_t = rel(obs.get("finished_at"))
    if probe_t is not None:
        run_end = probe_t
    elif finished_t is not None:
        run_end = finished_t
    else:
        run_end = max(rel_times) if rel_times else 0.0
    span_end = max([run_end, 0.0] + rel_times)

    # ---- chords: which task id plays which role --------------------------
    role_of: dict[str, tuple[str, Any, str]] = {}   # task_id -> (role, chord index, label)
    callback_names: set[str] = set()
    header_names: set[str] = set()
    for pos, c in enumerate(chords):
        idx = c.get("index", pos)
        for i, hid in enumerate(_list(c.get("header_ids"))):
            if hid:
                role_of[_str(hid)] = ("header", idx, f"#{idx} part {i}")
        if c.get("chord_id"):
            role_of[_str(c["chord_id"])] = ("callback", idx, f"#{idx} callback")
        if c.get("callback_task"):
            callback_names.add(_str(c["callback_task"]))
        if c.get("header_task"):
            header_names.add(_str(c["header_task"]))

    def role(e: dict) -> tuple[str, Any, str]:
        tid = _str(e.get("task_id"))
        if tid in role_of:
            return role_of[tid]
        name = _str(e.get("name"))
        if name in callback_names:
            return ("callback", None, "callback")
        if name in header_names:
            return ("header", None, "part")
        return ("task", None, name.rsplit(".", 1)[-1] or "task")

    # ---- worker lanes ----------------------------------------------------
    workers: dict[str, dict] = {}   # hostname -> lane

    def add_worker(hostname: str, name: str = "", queues: Any = None, ready: float | None = None) -> None:
        if not hostname:
            return
        lane = workers.get(hostname)
        if lane is None:
            lane = workers[hostname] = {
                "type": "lane", "id": f"worker:{hostname}", "kind": "worker",
                "label": name or _short(hostname), "hostname": hostname,
                "queues": [], "slots": 1, "ready": None,
            }
        for q in _list(queues):
            if q and _str(q) not in lane["queues"]:
                lane["queues"].append(_str(q))
        if ready is not None and lane["ready"] is None:
            lane["ready"] = ready

    for w in _list(topo.get("workers")):
        w = _dict(w)
        host = _str(w.get("hostname") or w.get("name"))
        add_worker(host, _str(w.get("name")), w.get("queues"), rel(w.get("ready_at")))
    for e in ledger:
        add_worker(_str(e.get("worker")))
        by = e.get("by")
        if e.get("event") == "publish" and not _is_producer(by):
            add_worker(_str(by))
    for host, qs in _dict(consumers_probe).items():
        add_worker(_str(host), "", qs if not workers.get(_str(host)) else None)

    # a short name shared by two hostnames would be ambiguous: use hostnames
    label_counts = Counter(lane["label"] for lane in workers.values())
    for lane in workers.values():
        if label_counts[lane["label"]] > 1:
            lane["label"] = lane["hostname"]

    def worker_lane(host: Any) -> str | None:
        host = _str(host)
        if host in workers:
            return workers[host]["id"]
        for lane in workers.values():          # a short name given instead
            if host and lane["label"] == host:
                return lane["id"]
        return None

    # ---- queue lanes -----------------------------------------------------
    queue_order: list[str] = []

    def add_queue(q: Any) -> None:
        q = _str(q)
        if q and q not in queue_order:
            queue_order.append(q)

    for lane in workers.values():
        for q in lane["queues"]:
            add_queue(q)
    for c in chords:
        add_queue(c.get("header_queue"))
        add_queue(c.get("callback_queue"))
    chord_queue_of: dict[str, str] = {}
    for c in chords:
        if c.get("callback_queue") and c.get("chord_id"):
            chord_queue_of[_str(c["chord_id"])] = _str(c["callback_queue"])
        if c.get("header_queue"):
            for hid in _list(c.get("header_ids")):
                chord_queue_of[_str(hid)] = _str(c["header_queue"])
    for e in ledger:
        if e.get("event") == "publish" and _num(e.get("t")) is not None:
            add_queue(_str(e.get("queue")) or chord_queue_of.get(_str(e.get("task_id"))) or "?")
    for q, info in probe_queues.items():
        info = _dict(info)
        if q in queue_order or (_num(info.get("length")) or 0) > 0 or _list(info.get("messages")):
            add_queue(q)

    # who consumes each queue: the probe's answer beats the topology's plan
    if isinstance(consumers_probe, dict):
        consumer_map: dict[str, list[str]] | None = {}
        for host, qs in consumers_probe.items():
            for q in _list(qs):
                consumer_map.setdefault(_str(q), []).append(_str(host))
    elif topo.get("workers") and all(_list(_dict(w).get("queues")) for w in _list(topo.get("workers"))):
        # the plan only: a worker without explicit queues consumes a default we cannot name
        consumer_map = {}
        for lane in workers.values():
            for q in lane["queues"]:
                consumer_map.setdefault(q, []).append(lane["hostname"])
    else:
        consumer_map = None

    def short_of(host: str) -> str:
        return workers[host]["label"] if host in workers else _short(host)

    queues: dict[str, dict] = {}
    for q in queue_order:
        cons = None if consumer_map is None else [short_of(h) for h in consumer_map.get(q, [])]
        counted = _num(_dict(probe_queues.get(q)).get("consumers"))   # RabbitMQ counts them
        if counted and not cons:
            cons = [f"{int(counted)} consumer{'s' if counted != 1 else ''}"]
        elif counted == 0 and cons is None:
            cons = []
        queues[q] = {
            "type": "lane", "id": f"queue:{q}", "kind": "queue",
            "label": q if q != "?" else "? (queue not recorded)",
            "queue": q, "consumers": cons, "slots": 1,
        }

    # ---- marks that are not about one task -------------------------------
    marks: list[dict] = []

    def mark(lane: str | None, t: float | None, kind: str, label: str, **extra: Any) -> None:
        if t is None:
            return
        m = {"type": "mark", "lane": lane, "t": t, "kind": kind, "label": label, "from_lane": None}
        m.update(extra)
        marks.append(m)

    redis_ready = rel(_dict(topo.get("redis")).get("ready_at"))
    mark(None, redis_ready, "ready", "redis ready")
    ready_done = {None} if redis_ready is not None else set()
    for lane in workers.values():
        if lane["ready"] is not None:
            mark(lane["id"], lane["ready"], "ready", f"{lane['label']} ready")
            ready_done.add(lane["id"])

    host_patterns = sorted(
        ((lane["hostname"], lane["id"]) for lane in workers.values()), key=lambda p: -len(p[0])
    ) + sorted(((lane["label"], lane["id"]) for lane in workers.values()), key=lambda p: -len(p[0]))

    def lane_in_text(text: str) -> str | None:
        for needle, lane_id in host_patterns:
            if needle and re.search(rf"(?<![\w@.-]){re.escape(needle)}(?![\w@.-])", text):
                return lane_id
        return None

    for entry in _list(obs.get("timeline")):
        entry = _dict(entry)
        t = rel(entry.get("t"))
        kind = _str(entry.get("kind")) or "note"
        what = _str(entry.get("what")) or kind
        lane = worker_lane(entry.get("worker")) if entry.get("worker") else lane_in_text(what)
        if kind == "ready":
            if t is None:
                continue
            if re.search(r"\bredis\b", what, re.I) and lane is None:
                if None in ready_done:
                    continue
                ready_done.add(None)
                mark(None, t, "ready", "redis ready")
                continue
            if lane in ready_done:
                continue
            ready_done.add(lane)
            label = f"{workers[lane.split(':', 1)[1]]['label']} ready" if lane else f"{what} ready"
            mark(lane, t, "ready", label)
        elif kind == "fault":
            mark(lane, t, "fault", what)
        elif kind == "heal":
            mark(lane, t, "heal", what)
        elif kind == "run":
            continue            # "run started": the axis origin says it
        elif kind in ("sent", "note"):
            mark(lane, t, "note", what)
        else:
            mark(lane, t, "note", f"{kind}: {what}")

    if probe_t is not None:
        mark(None, probe_t, "probe", "probe")

    # ---- runs on workers -------------------------------------------------
    bars: list[dict] = []
    faults_by_lane: dict[str, list[float]] = {}
    for m in marks:
        if m["kind"] == "fault" and m["lane"]:
            faults_by_lane.setdefault(m["lane"], []).append(m["t"])

    lifecycles = task_lifecycles(ledger, worker_lane)
    for tid, lc in lifecycles.items():
        for run in lc.runs:
            if run.lane is None or run.first is None:
                continue
            rl, idx, label = role(run.event)
            start, end = rel(run.first), rel(run.last)
            name = _str(run.event.get("name")) or None
            if run.start is not None and run.end is not None:
                bars.append({
                    "type": "bar", "lane": run.lane, "start": start, "end": end,
                    "kind": "run", "role": rl, "outcome": run.outcome,
                    "label": label + (" (redelivered)" if run.redelivered else ""),
                    "task_id": tid or None, "name": name, "chord": idx, "slot": 0, "open": False,
                })
            elif run.end is not None:
                mark(run.lane, end, "note", f"{label} ended ({run.outcome if run.outcome != 'ended' else '?'}), "
                     "start not recorded", task_id=tid or None, role=rl, chord=idx)
            else:
                later_faults = [f for f in faults_by_lane.get(run.lane, []) if f >= start]
                if later_faults:
                    end, why = min(later_faults), "fault"
                else:
                    end, why = max(run_end, start), "run end"
                bars.append({
                    "type": "bar", "lane": run.lane, "start": start, "end": end,
                    "kind": "run", "role": rl, "outcome": "unfinished",
                    "label": f"{label}: no end recorded", "task_id": tid or None,
                    "name": name, "chord": idx, "slot": 0, "open": True, "closed_by": why,
                })
        for d in lc.discards:
            ev = _str(d.get("event"))
            rl, idx, label = role(d)
            name = _str(d.get("name")) or "task"
            text = (f"{label}: {name} not registered on this worker" if ev == "unregistered"
                    else f"{label}: message rejected ({_str(d.get('error')) or 'no reason recorded'})")
            mark(worker_lane(d.get("worker")), rel(d.get("t")), ev, text, task_id=tid or None, role=rl, chord=idx)

    # ---- messages in queues ---------------------------------------------
    in_probe: dict[str, set[str]] = {}
    for q, info in probe_queues.items():
        in_probe[_str(q)] = {_str(_dict(m).get("task_id")) for m in _list(_dict(info).get("messages"))}

    for tid, lc in lifecycles.items():
        for e, taken, taken_at in zip(lc.publishes, lc.taken, lc.taken_at, strict=True):
            t = rel(e.get("t"))
            q = _str(e.get("queue")) or chord_queue_of.get(tid) or "?"
            qlane = queues[q]["id"]
            rl, idx, label = role(e)
            by = e.get("by")
            from_lane = None if _is_producer(by) else worker_lane(by)
            who = short_of(_str(by)) if from_lane else (_str(by) or "producer")
            mark(qlane, t, "publish", f"{label} published to {q} by {who}",
                 from_lane=from_lane, task_id=tid or None, role=rl, chord=idx, queue=q)

            if taken:
                # taken before its publish was logged (another process's clock): queued for no time
                end = t if taken_at is None else max(t, rel(taken_at))
                outcome, wait_label = "taken", f"{label} queued"
            else:
                end, outcome = max(run_end, t), "waiting"
                what = "callback" if rl == "callback" else ("part" if rl == "header" else label)
                cons = queues[q]["consumers"]
                if cons is not None and not cons:
                    wait_label = f"{what} waiting: no consumer"
                elif tid in unacked_ids:
                    wait_label = f"{what} unacked: taken, never ran"
                elif q in in_probe and tid in in_probe[q]:
                    wait_label = f"{what} waiting in queue"
                elif q in in_probe:
                    wait_label = f"{what} never ran (not in queue at probe)"
                else:
                    wait_label = f"{what} never ran"
            bars.append({
                "type": "bar", "lane": qlane, "start": t, "end": end, "kind": "wait",
                "role": rl, "outcome": outcome, "label": wait_label, "task_id": tid or None,
                "name": _str(e.get("name")) or None, "chord": idx, "slot": 0,
                "open": outcome == "waiting",
            })

    # ---- where chords stopped when the ledger does not show a publish ----
    def seen(tid: str) -> bool:
        lc = lifecycles.get(tid)
        return bool(lc and (lc.publishes or lc.runs or lc.discards))

    for pos, c in enumerate(chords):
        idx = c.get("index", pos)
        header_ids = [_str(h) for h in _list(c.get("header_ids")) if h]
        hq = _str(c.get("header_queue"))
        if c.get("sent_at") is not None and not any(h in lifecycles and lifecycles[h].publishes for h in header_ids):
            mark(queues[hq]["id"] if hq in queues else None, rel(c.get("sent_at")), "sent",
                 f"#{idx} chord sent", chord=idx)
        cb = _str(c.get("chord_id"))
        if not cb or seen(cb):
            continue
        ran = [lifecycles[h] for h in dict.fromkeys(header_ids) if h in lifecycles and lifecycles[h].ran]
        if not ran:
            continue        # nothing ran: the picture already says so
        ended = [lc for lc in ran if lc.ended]
        end_times = [rel(r.last) for lc in ended for r in lc.ended if r.last is not None]
        open_ends = [b["end"] for b in bars if b["kind"] == "run" and b["task_id"] in header_ids]
        if not (end_times or open_ends):
            continue
        t = max(end_times or open_ends)
        cq = _str(c.get("callback_queue"))
        n = len(header_ids)
        failed = sum(lc.state != "SUCCESS" for lc in ended)
        mark(queues[cq]["id"] if cq in queues else None, t, "stopped",
             f"#{idx} callback never published ({len(ended)}/{n} parts ended"
             + (f", {failed} not SUCCESS)" if failed else ")"),
             chord=idx, task_id=cb)

    # ---- stack overlapping runs on worker lanes ---------------------------
    for lane in workers.values():
        lane["slots"] = _assign_slots([b for b in bars if b["lane"] == lane["id"]])
    for b in bars:
        if b["kind"] == "wait":
            b["slot"] = 0

    order = {"run": 0, "wait": 1}
    bars.sort(key=lambda b: (b["lane"], order.get(b["kind"], 2), b["start"]))
    marks.sort(key=lambda m: m["t"])
    span_end = max([span_end] + [b["end"] for b in bars] + [m["t"] for m in marks])
    span_start = min([0.0] + [b["start"] for b in bars] + [m["t"] for m in marks])
    return (
        list(workers.values())
        + list(queues.values())
        + bars
        + marks
        + [{"type": "span", "start": span_start, "end": span_end}]
    )


# --------------------------------------------------------------------------
# shared bits for the two renderers
# --------------------------------------------------------------------------

def _split(events: list[dict]) -> tuple[list[dict], list[dict], list[dict], tuple[float, float]]:
    lanes = [e for e in events if e.get("type") == "lane"]
    bars = [e for e in events if e.get("type") == "bar"]
    marks = [e for e in events if e.get("type") == "mark"]
    span = next((e for e in events if e.get("type") == "span"), {"start": 0.0, "end": 0.0})
    start, end = span["start"], span["end"]
    if end - start <= 0:
        end = start + 1.0
    return lanes, bars, marks, (start, end)


def _verdict_list(verdicts: Any) -> list[dict]:
    return [v for v in _list(verdicts) if isinstance(v, dict)]


def _verdict_counts(verdicts: list[dict]) -> str:
    counts = Counter(_str(v.get("verdict")) or "unknown" for v in verdicts)
    if not counts:
        return "no verdicts"
    names = [n for n in VERDICT_ORDER if counts.get(n)] + sorted(n for n in counts if n not in VERDICT_ORDER)
    return ", ".join(f"{counts[n]} {n}" for n in names)


_SEVERITY = {"stuck": 0, "unknown": 1, "failed": 2, "duplicated": 3, "early": 4, "unrecorded": 5, "completed": 9}


def _verdict_groups(verdicts: list[dict]) -> list[tuple[str, str, str, str]]:
    """Verdicts that read the same, merged: (chords, verdict, cause, summary), worst first."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for v in verdicts:
        key = (_str(v.get("verdict")) or "unknown", _str(v.get("cause")), _str(v.get("summary")))
        groups.setdefault(key, []).append(_str(v.get("index", "?")))
    out = []
    for (verdict, cause, summary), idxs in groups.items():
        chords = ", ".join(f"#{i}" for i in idxs) if len(idxs) <= 4 else f"#{idxs[0]}…#{idxs[-1]} ({len(idxs)} chords)"
        out.append((chords, verdict, cause, summary))
    return sorted(out, key=lambda g: _SEVERITY.get(g[1], 8))


def _title_parts(obs: dict) -> tuple[str, str]:
    scenario = obs.get("scenario")
    name = _str(_dict(scenario).get("name")) if isinstance(scenario, dict) else _str(scenario)
    return name or "(unnamed scenario)", _str(obs.get("run_id")) or "(no run id)"


def _queue_note(lane: dict) -> str:
    cons = lane.get("consumers")
    if cons is None:
        return ""
    return "no consumer" if not cons else "consumed by " + ", ".join(cons)


def _is_problem_wait(b: dict) -> bool:
    return b["kind"] == "wait" and b["outcome"] == "waiting"


# --------------------------------------------------------------------------
# terminal
# --------------------------------------------------------------------------

_RUN_STYLE = {
    "SUCCESS": "green",
    "FAILURE": "red",
    "RETRY": "dark_orange",
    "REVOKED": "grey50",
    "unfinished": "yellow",
}


def _cell_style(b: dict) -> tuple[str, str]:
    if b["kind"] == "wait":
        if b["outcome"] == "waiting":
            return "░", "bold red" if b["role"] == "callback" else "red"
        return "·", "grey50"
    if b["outcome"] == "unfinished":
        return "▒", "yellow"
    if b["role"] == "callback":
        style = "blue" if b["outcome"] == "SUCCESS" else _RUN_STYLE.get(b["outcome"], "magenta")
        return "█", style
    return "█", _RUN_STYLE.get(b["outcome"], "grey62")


_MARK_GLYPH = {
    "publish": ("▼", "magenta"),
    "sent": ("▶", "cyan"),
    "ready": ("▲", "green"),
    "fault": ("✗", "bold red"),
    "unregistered": ("?", "bold red"),
    "rejected": ("!", "bold red"),
    "heal": ("+", "green"),
    "stopped": ("◆", "bold red"),
    "probe": ("┊", "grey50"),
    "note": ("•", "cyan"),
}

_LEGEND = [
    ("█", "green", "part ok"), ("█", "red", "failed"), ("▒", "yellow", "no end"),
    ("█", "blue", "callback ran"), ("·", "grey50", "queued"), ("░", "bold red", "never taken"),
    ("▼", "magenta", "publish"), ("↓", "magenta", "published by"), ("▲", "green", "ready"),
    ("✗", "bold red", "fault"), ("+", "green", "heal"), ("?", "bold red", "unregistered"),
    ("!", "bold red", "rejected"), ("◆", "bold red", "stopped"), ("•", "cyan", "note"),
    ("┊", "grey50", "probe"),
]


def _nice_step(span: float, max_ticks: int) -> float:
    raw = span / max(1, max_ticks)
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _fit(text: Text, width: int) -> Text:
    text.no_wrap = True
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def render_terminal(observations: Observations, verdicts: list[dict], *, width: int = 100) -> RenderableType:
    """A compact character chart of the run that fits in ``width`` columns.

    One row per lane (more when runs overlap on a worker), a time axis in
    seconds since the start, a legend, the notable moments as notes, and one
    line per verdict.  Returns a rich renderable (a Group of Text lines).
    """
    obs = _dict(observations)
    verdicts = _verdict_list(verdicts)
    width = max(30, int(width or 100))
    events = timeline_events(obs)
    lanes, bars, marks, (t0, t1) = _split(events)

    lines: list[Text] = []
    scenario, run_id = _title_parts(obs)
    title = Text()
    title.append(scenario, "bold")
    title.append(f"  {run_id}  ", "dim")
    bad = any(_str(v.get("verdict")) != "completed" for v in verdicts)
    title.append(_verdict_counts(verdicts), "bold red" if bad else ("bold green" if verdicts else "dim"))
    lines.append(_fit(title, width))

    # label column
    def lane_label(lane: dict) -> str:
        if lane["kind"] == "worker":
            qs = ",".join(lane.get("queues") or [])
            return f"{lane['label']} ← {qs}" if qs else lane["label"]
        note = "∅ " if lane.get("consumers") == [] else ""
        return f"⟫ {note}{lane['label']}"

    labels = {lane["id"]: lane_label(lane) for lane in lanes}
    name_of = {lane["id"]: lane["label"] for lane in lanes}
    label_w = min(max([len(s) for s in labels.values()] + [6]), max(8, width // 4))
    plot_w = max(10, width - label_w - 2)

    def col(t: float) -> int:
        return max(0, min(plot_w - 1, int(round((t - t0) / (t1 - t0) * (plot_w - 1)))))

    # grid rows
    rows: dict[str, list[list[tuple[str, str]]]] = {}
    for lane in lanes:
        n = lane.get("slots", 1) if lane["kind"] == "worker" else 1
        rows[lane["id"]] = [[(" ", "")] * plot_w for _ in range(max(1, n))]

    # global vertical marks first, so anything else draws over them
    for m in marks:
        if m["lane"] is None and m["kind"] in ("probe", "fault"):
            glyph, style = ("┊", "grey50") if m["kind"] == "probe" else ("┆", "red")
            c = col(m["t"])
            for grid in rows.values():
                for r in grid:
                    r[c] = (glyph, style)

    # waits (header ones under everything), then runs
    def draw_bar(b: dict) -> None:
        grid = rows.get(b["lane"])
        if not grid:
            return
        r = grid[min(b.get("slot", 0), len(grid) - 1)]
        glyph, style = _cell_style(b)
        for c in range(col(b["start"]), col(b["end"]) + 1):
            if glyph == "·" and r[c][0] not in (" ", "┊", "┆"):
                continue
            r[c] = (glyph, style)

    for b in sorted(bars, key=lambda b: (b["kind"] == "run", _is_problem_wait(b), b["role"] == "callback")):
        draw_bar(b)

    for m in marks:
        if m["lane"] is None:
            continue
        grid = rows.get(m["lane"])
        if not grid:
            continue
        glyph, style = _MARK_GLYPH.get(m["kind"], ("•", "cyan"))
        c = col(m["t"])
        grid[0][c] = (glyph, style)
        if m["kind"] == "fault":
            for r in grid[1:]:
                r[c] = ("┆", "red")
        if m["kind"] == "publish" and m.get("from_lane") in rows:
            src = rows[m["from_lane"]]
            for r in src:
                if r[c][0] in (" ", "┊", "┆", "·"):
                    r[c] = ("↓", "magenta")
                    break
            else:
                src[0][c] = ("↓", "magenta")

    for lane in lanes:
        if lane["kind"] == "worker":
            lane_style = "bold"
        else:
            lane_style = "bold red" if lane.get("consumers") == [] else "bold cyan"
        for i, r in enumerate(rows[lane["id"]]):
            line = Text(no_wrap=True)
            lab = labels[lane["id"]] if i == 0 else ""
            if len(lab) > label_w:
                lab = lab[: label_w - 1] + "…"
            line.append(lab.ljust(label_w), lane_style)
            line.append(" │" if lane["kind"] == "worker" else " ┃", "grey50")
            for glyph, style in r:
                line.append(glyph, style or None)
            lines.append(_fit(line, width))

    # axis
    axis = [" "] * plot_w
    ticks = [" "] * plot_w
    step = _nice_step(t1 - t0, max(2, plot_w // 10))
    decimals = 0 if step >= 1 else len(f"{step:.6f}".rstrip("0").split(".")[1])
    last_end = -1
    for i in range(math.ceil(t0 / step - 1e-9), math.floor(t1 / step + 1e-9) + 1):
        t = i * step
        c = col(t)
        axis[c] = "┴"
        lab = f"{t:.{decimals}f}s"
        if c > last_end and c + len(lab) <= plot_w:
            ticks[c:c + len(lab)] = list(lab)
            last_end = c + len(lab)
    lines.append(_fit(Text(" " * label_w + " └" + "".join(axis).replace(" ", "─"), "grey50"), width))
    lines.append(_fit(Text("time (s)".rjust(label_w)[:label_w] + "  " + "".join(ticks), "grey50"), width))

    # legend, wrapped to width
    drawn = [m for m in marks if (m["lane"] in rows) or (m["lane"] is None and m["kind"] in ("probe", "fault"))]
    used = {_cell_style(b) for b in bars} | {_MARK_GLYPH.get(m["kind"], ("•", "cyan")) for m in drawn}
    if any(m.get("from_lane") for m in marks):
        used.add(("↓", "magenta"))
    if any(m["kind"] == "fault" and m["lane"] is None for m in marks):
        used.add(("✗", "bold red"))
    legend_items = [item for item in _LEGEND if (item[0], item[1]) in used
                    or (item[0] == "░" and any(g == "░" for g, _ in used))]
    if any(b["kind"] == "run" and b["role"] == "callback" and b["outcome"] not in ("SUCCESS", "unfinished")
           for b in bars):
        legend_items.append(("█", "magenta", "callback ended otherwise"))
    if any(lane.get("consumers") == [] for lane in lanes):
        legend_items.append(("∅", "bold red", "no consumer"))
    line = Text(no_wrap=True)
    for glyph, style, what in legend_items:
        piece_len = len(glyph) + 1 + len(what) + 2
        if line.cell_len and line.cell_len + piece_len > width:
            lines.append(_fit(line, width))
            line = Text(no_wrap=True)
        line.append(glyph, style)
        line.append(f" {what}  ", "dim")
    if line.cell_len:
        lines.append(_fit(line, width))

    # notes: the moments that explain the run; problems first when they must be cut
    notes: list[tuple[float, int, Text]] = []     # (time, priority: lower is kept first, line)
    for lane in lanes:
        if lane["kind"] == "queue" and lane.get("consumers") == []:
            notes.append((-math.inf, 0, Text(f"queue {lane['label']}: no consumer", "red")))
    for m in marks:
        if m["kind"] in ("probe", "ready") or (m["kind"] == "publish" and m.get("role") != "callback"):
            continue
        style = {"fault": "bold red", "unregistered": "red", "rejected": "red", "stopped": "bold red",
                 "publish": "magenta", "heal": "green"}.get(m["kind"], "cyan")
        prio = 0 if m["kind"] in ("fault", "unregistered", "rejected", "stopped") else 2
        where = f"{name_of[m['lane']]}: " if m["lane"] in name_of and m["lane"].startswith("worker:") else ""
        notes.append((m["t"], prio, Text(f"{_fmt_t(m['t']):>8}  {where}{m['label']}", style)))
    for b in bars:
        if _is_problem_wait(b):
            prefix = f"#{b['chord']} " if b.get("chord") is not None else ""
            notes.append((b["end"], 0, Text(
                f"{_fmt_t(b['end']):>8}  {prefix}{b['label']}, in {name_of.get(b['lane'], b['lane'])} "
                f"since {_fmt_t(b['start'])} (task {b['task_id'] or '?'})", "bold red")))
        elif b["kind"] == "run" and b["role"] == "callback":
            notes.append((b["start"], 3, Text(f"{_fmt_t(b['start']):>8}  {b['label']} ran ({b['outcome']}) on "
                                              f"{name_of.get(b['lane'], b['lane'])}", "blue")))
        elif b["kind"] == "run" and b["outcome"] == "unfinished":
            notes.append((b["start"], 1, Text(f"{_fmt_t(b['start']):>8}  {name_of.get(b['lane'], b['lane'])}: "
                                              f"{b['label']}", "yellow")))
    max_notes = 12
    kept = sorted(sorted(notes, key=lambda n: (n[1], n[0]))[:max_notes], key=lambda n: n[0])
    for _, _, note in kept:
        lines.append(_fit(note, width))
    if len(notes) > max_notes:
        lines.append(_fit(Text(f"… {len(notes) - max_notes} more moments", "dim"), width))

    # verdicts: the same verdict for several chords on one line, worst first
    groups = _verdict_groups(verdicts)
    for chords, verdict, cause, summary in groups[:8]:
        line = Text(no_wrap=True)
        line.append(f"{chords} ", "bold")
        line.append(verdict, "bold green" if verdict == "completed" else "bold red")
        if cause:
            line.append(f" ({cause})", "red")
        if summary:
            line.append(f": {summary}")
        lines.append(_fit(line, width))
    if len(groups) > 8:
        lines.append(_fit(Text(f"… {len(groups) - 8} more verdict line(s)", "dim"), width))

    return Group(*lines)


# --------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------

_COLORS = {
    "SUCCESS": "#2e9e4f",
    "FAILURE": "#d62728",
    "RETRY": "#ff7f0e",
    "REVOKED": "#8c8c8c",
    "unfinished": "#f2b134",
    "callback": "#1f5fbf",
    "queued": "#b9b9b9",
    "waiting": "#d62728",
    "publish": "#9b2fae",
    "ready": "#2e9e4f",
    "fault": "#d62728",
    "other": "#8c8c8c",
}


def _top_marks(marks: list[dict], lane_y: dict) -> list[dict]:
    """Marks drawn as a vertical line with a label above the plot."""
    return [m for m in marks
            if m["kind"] in ("fault", "heal")
            or (m["lane"] not in lane_y and m["kind"] in ("probe", "ready", "note", "sent", "stopped"))]


def write_svg(observations: Observations, verdicts: list[dict], path: pathlib.Path) -> pathlib.Path:
    """Draw the run as an SVG for slides and return the path written.

    Uses matplotlib's object API on an Agg canvas (no pyplot, no global
    backend switch); text stays text in the SVG (``svg.fonttype = none``), so
    lane names are searchable.  A ``.png`` suffix writes a PNG instead.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    obs = _dict(observations)
    verdicts = _verdict_list(verdicts)
    path = pathlib.Path(path)
    events = timeline_events(obs)
    lanes, bars, marks, (t0, t1) = _split(events)

    # vertical layout: each lane gets `slots` rows of height 1, plus a gap
    gap = 0.6
    y = 0.0
    lane_y: dict[str, tuple[float, float]] = {}   # id -> (top, bottom)
    prev_kind = None
    for lane in lanes:
        if prev_kind == "worker" and lane["kind"] == "queue":
            y += 0.4
        n = max(1, lane.get("slots", 1)) if lane["kind"] == "worker" else 1
        lane_y[lane["id"]] = (y, y + n)
        y += n + gap
        prev_kind = lane["kind"]
    total = max(y - gap, 1.0)

    def row_center(lane_id: str, slot: int = 0) -> float:
        top, bottom = lane_y[lane_id]
        slot = max(0, min(slot, int(round(bottom - top)) - 1))
        return top + slot + 0.5

    def lane_center(lane_id: str) -> float:
        top, bottom = lane_y[lane_id]
        return (top + bottom) / 2

    fig_h = 1.9 + 0.55 * total + 0.2 * min(len(_top_marks(marks, lane_y)), 5)
    rc = {"svg.fonttype": "none", "font.size": 11, "font.family": "DejaVu Sans",
          "svg.hashsalt": "chord-lab"}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(13, max(3.6, fig_h)), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        pad = (t1 - t0) * 0.02
        ax.set_xlim(t0 - pad, t1 + pad)
        ax.set_ylim(total + 0.3, -0.3)
        ax.set_xlabel("seconds since run start")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color="#e6e6e6", lw=0.8)
        ax.set_axisbelow(True)

        # lane backgrounds and labels
        ticks, ticklabels = [], []
        for lane in lanes:
            top, bottom = lane_y[lane["id"]]
            if lane["kind"] == "queue":
                face = "#fdecec" if lane.get("consumers") == [] else "#eef3fb"
            else:
                face = "#f4f4f4"
            ax.axhspan(top - 0.15, bottom + 0.15, color=face, zorder=0, lw=0)
            ticks.append(lane_center(lane["id"]))
            if lane["kind"] == "worker":
                sub = ("consumes " + ", ".join(lane["queues"])) if lane.get("queues") else ""
                ticklabels.append(f"worker {lane['label']}" + (f"\n{sub}" if sub else ""))
            else:
                note = _queue_note(lane)
                ticklabels.append(f"queue {lane['label']}" + (f"\n{note}" if note else ""))
        ax.set_yticks(ticks)
        ax.set_yticklabels(ticklabels)
        for lane, tl in zip(lanes, ax.get_yticklabels(), strict=False):
            if lane["kind"] == "queue":
                tl.set_color("#b01e1e" if lane.get("consumers") == [] else "#1f4f8f")
            tl.set_fontweight("bold")

        span = t1 - t0
        chars_across = 125            # characters of 9-pt text that fit across the plot, roughly

        def text_w(text: str, size: float = 9.0) -> float:
            return (len(text) + 1) * span / chars_across * size / 9.0

        # text placement without overlaps: what occupies each (lane, row), in x
        taken: dict[tuple[str, int], list[tuple[float, float]]] = {}

        def is_free(lane_id: str, row: int, x0: float, x1: float) -> bool:
            return x1 <= t1 + pad and all(b <= x0 or x1 <= a for a, b in taken.get((lane_id, row), []))

        def take(lane_id: str, row: int, x0: float, x1: float) -> None:
            taken.setdefault((lane_id, row), []).append((x0, x1))

        def rows_of(lane_id: str) -> int:
            top, bottom = lane_y[lane_id]
            return max(1, int(round(bottom - top)))

        def place_beside(lane_id: str, x_after: float, x_before: float, texts: list[str], size: float,
                         **kw: Any) -> bool:
            """Write the first of ``texts`` that fits right of x_after (or left of x_before) on a free row."""
            for text in texts:
                w = text_w(text, size)
                for row in range(rows_of(lane_id)):
                    for x0, ha in ((x_after + span * 0.005, "left"), (x_before - span * 0.005 - w, "right")):
                        if x0 >= t0 - pad and is_free(lane_id, row, x0, x0 + w):
                            take(lane_id, row, x0, x0 + w)
                            ax.text(x0 if ha == "left" else x0 + w, row_center(lane_id, row), text, ha=ha,
                                    va="center", fontsize=size, zorder=8, **kw)
                            return True
            return False

        for b in bars:
            if b["lane"] in lane_y:
                row = b.get("slot", 0) if b["kind"] == "run" else 0
                take(b["lane"], row, b["start"], max(b["end"], b["start"] + span * 0.003))

        # the bars
        groups: dict[tuple, list[dict]] = {}
        labelled_waits: set[tuple[str, str]] = set()
        for b in bars:
            if b["lane"] not in lane_y:
                continue
            x0, x1 = b["start"], b["end"]
            w = max(x1 - x0, span * 0.003)
            if b["kind"] == "wait":
                yc = row_center(b["lane"])
                if b["outcome"] != "waiting":
                    ax.barh(yc, w, left=x0, height=0.3, color=_COLORS["queued"], lw=0, zorder=2, alpha=0.8)
                    continue
                ax.barh(yc, w, left=x0, height=0.62, color="#f7c9c9", edgecolor=_COLORS["waiting"],
                        hatch="///", lw=1.3, zorder=3)
                key = (b["lane"], b["label"])
                if key in labelled_waits:
                    continue
                labelled_waits.add(key)
                same = [o for o in bars if o["kind"] == "wait" and (o["lane"], o["label"]) == key]
                text = b["label"]
                if len(same) > 1 and " " in text:
                    first, rest = text.split(" ", 1)
                    text = f"{len(same)} {first}s {rest}"
                tw = text_w(text, 10.5)
                box = dict(boxstyle="round,pad=0.25", fc="white", ec="none", alpha=0.9)
                if tw <= w:
                    ax.text(x0 + w / 2, yc, text, ha="center", va="center", fontsize=10.5,
                            color="#8b1212", fontweight="bold", zorder=9, bbox=box)
                else:   # short bar: the label beside it, on the side with room
                    left = x0 + w + tw > t1 + pad
                    ax.text(x0 - span * 0.005 if left else x0 + w + span * 0.005, yc, text,
                            ha="right" if left else "left", va="center", fontsize=10.5, color="#8b1212",
                            fontweight="bold", zorder=9, bbox=box)
                continue
            yc = row_center(b["lane"], b.get("slot", 0))
            if b["outcome"] == "unfinished":
                color, hatch, ec = _COLORS["unfinished"], "..", "#9a6a00"
            elif b["role"] == "callback" and b["outcome"] == "SUCCESS":
                color, hatch, ec = _COLORS["callback"], None, "#0d2f66"
            else:
                color, hatch, ec = _COLORS.get(b["outcome"], _COLORS["other"]), None, "white"
            ax.barh(yc, w, left=x0, height=0.72, color=color, edgecolor=ec, hatch=hatch, lw=1, zorder=4)
            groups.setdefault((b["lane"], b["chord"], b["role"]), []).append(b)

        # per-lane marks; with many of a kind, only the first few carry text
        for m in marks:
            if m["lane"] in lane_y and m["kind"] in ("ready", "unregistered", "rejected", "stopped", "publish"):
                take(m["lane"], 0, m["t"] - span * 0.007, m["t"] + span * 0.007)
        n_kind = Counter(m["kind"] for m in marks)
        n_kind["callback publish"] = sum(m["kind"] == "publish" and m.get("role") == "callback" for m in marks)
        for m in marks:
            lane = m["lane"]
            if lane is None or lane not in lane_y:
                continue
            t = m["t"]
            if m["kind"] == "publish":
                yq = row_center(lane)
                is_cb = m.get("role") == "callback"
                color = _COLORS["publish"] if is_cb else "#777777"
                ax.plot([t], [yq], marker="v", ms=11 if is_cb else 6, color=color, zorder=7, ls="none")
                src = m.get("from_lane")
                if src in lane_y:
                    ys = lane_y[src][1] - 0.05
                    ax.annotate("", xy=(t, yq - 0.3), xytext=(t, ys),
                                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6 if is_cb else 0.8,
                                                shrinkA=0, shrinkB=0), zorder=7)
                    if is_cb and n_kind["callback publish"] <= 4:
                        # in the gap under the worker lane, beside the arrow; a second level, then "#k"
                        head = m["label"].split(" published")[0]
                        for text in (f"{head} published", head.split(" ")[0]):
                            w = text_w(text)
                            spot = None
                            for level in (0, 1):
                                for x0 in (t + span * 0.005, t - span * 0.005 - w):
                                    if x0 >= t0 - pad and is_free(src, -1 - level, x0, x0 + w):
                                        spot = (level, x0)
                                        break
                                if spot:
                                    break
                            if spot:
                                level, x0 = spot
                                take(src, -1 - level, x0, x0 + w)
                                ax.text(x0, ys + 0.22 + 0.3 * level, text, color=color, fontsize=9, va="center",
                                        ha="left", zorder=7, style="italic",
                                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
                                break
            elif m["kind"] == "ready":
                ax.plot([t], [row_center(lane)], marker="^", ms=9, color=_COLORS["ready"], zorder=7, ls="none")
                ax.text(t, lane_y[lane][0] - 0.08, "ready", color=_COLORS["ready"], fontsize=8,
                        ha="center", va="bottom", zorder=7)
            elif m["kind"] in ("fault", "heal"):   # on the lane's top edge, under its vertical line
                ax.plot([t], [lane_y[lane][0] - 0.12], marker="X" if m["kind"] == "fault" else "P", ms=12,
                        color=_COLORS["fault" if m["kind"] == "fault" else "ready"], zorder=8,
                        ls="none", markeredgecolor="white")
            elif m["kind"] in ("unregistered", "rejected"):
                yc = row_center(lane)
                ax.plot([t], [yc], marker="$?$" if m["kind"] == "unregistered" else "$!$", ms=12,
                        color=_COLORS["fault"], zorder=8, ls="none")
                if n_kind[m["kind"]] <= 3:
                    head = f"#{m['chord']} " if m.get("chord") is not None else ""
                    place_beside(lane, t + span * 0.006, t - span * 0.006, [f"{head}{m['kind']}", "?"], 9,
                                 color=_COLORS["fault"])
            elif m["kind"] == "stopped":
                yc = row_center(lane)
                ax.plot([t], [yc], marker="D", ms=9, color=_COLORS["fault"], zorder=8, ls="none")
                if n_kind["stopped"] <= 4:
                    place_beside(lane, t + span * 0.004, t - span * 0.004,
                                 [m["label"], f"#{m.get('chord')} callback never published", f"#{m.get('chord')}"],
                                 10, color="#8b1212", fontweight="bold")
            elif m["kind"] == "sent":
                ax.plot([t], [row_center(lane)], marker=">", ms=8, color="#333333", zorder=7, ls="none")
            else:
                ax.plot([t], [row_center(lane)], marker="o", ms=6, color="#17becf", zorder=7, ls="none")

        # run labels: inside each bar when all of a chord's bars on the lane have room,
        # else one label for the group beside it, when there is a free spot
        for (lane_id, chord, role_), group in groups.items():
            texts = []
            for b in group:
                text = b["label"].split(":")[0]
                if b["outcome"] == "unfinished":
                    text += " (no end)"
                elif b["outcome"] != "SUCCESS":
                    text += f" {b['outcome']}"
                texts.append(text)
            compact = [tx.replace(" part ", " p").replace(" callback", " cb").replace(" (no end)", "?")
                       .replace(" FAILURE", " ✗") for tx in texts]
            fitting = next((c for c in (texts, compact)
                            if all(text_w(tx) <= (b["end"] - b["start"]) for tx, b in zip(c, group, strict=True))),
                           None)
            if fitting is not None:
                for tx, b in zip(fitting, group, strict=True):
                    ax.text((b["start"] + b["end"]) / 2, row_center(lane_id, b.get("slot", 0)), tx, ha="center",
                            va="center", fontsize=9, zorder=6, clip_on=True,
                            color="black" if b["outcome"] == "unfinished" else "white")
                continue
            if len(groups) > 16:
                continue        # a busy run: the colours say enough, labels would be noise
            head = f"#{chord} " if chord is not None else ""
            bad = [b for b in group if b["outcome"] != "SUCCESS"]
            if role_ == "header":
                nums = sorted({tx.split("part ")[-1].split(" ")[0] for tx in texts},
                              key=lambda n: (len(n), n))
                long = f"{head}part{'s' if len(group) > 1 else ''} {', '.join(nums)}"
            elif role_ == "callback":
                long = f"{head}callback" + (f" ×{len(group)}" if len(group) > 1 else "")
            else:
                long = f"{head}{group[0]['name'] or 'task'}" + (f" ×{len(group)}" if len(group) > 1 else "")
            if bad:
                long += f" ({len(bad)} {bad[0]['outcome'].lower()})"
            g0, g1 = min(b["start"] for b in group), max(b["end"] for b in group)
            rows_used = {b.get("slot", 0) for b in group}
            if len(rows_used) == 1:         # one row, nothing else in between: write across the bars
                row = rows_used.pop()
                others = [b for b in bars if b["lane"] == lane_id and b["kind"] == "run" and b not in group
                          and b.get("slot", 0) == row and b["start"] < g1 and g0 < b["end"]]
                if not others and text_w(long) <= g1 - g0:
                    ax.text((g0 + g1) / 2, row_center(lane_id, row), long, ha="center", va="center", fontsize=9,
                            zorder=6, color="white", fontweight="bold")
                    continue
            place_beside(lane_id, g1, g0, [long, head.strip() or long], 9, color="#222222")

        # marks for the whole run (and faults anywhere): vertical lines, labels above the plot,
        # stacked in levels so that they do not overlap
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        placed: list[list[tuple[float, float]]] = []
        n_levels = 0
        for m in _top_marks(marks, lane_y):
            t = m["t"]
            color, ls = {"probe": ("#555555", ":"), "fault": (_COLORS["fault"], "--"),
                         "heal": (_COLORS["ready"], "--"), "ready": (_COLORS["ready"], ":")
                         }.get(m["kind"], ("#1a9aa8", ":"))
            ax.axvline(t, color=color, ls=ls, lw=1.3, zorder=1)
            est = (len(m["label"]) + 2) * span / 120
            right = t + est > t1 + pad
            x0, x1 = (t - est, t) if right else (t, t + est)
            level = 0
            while level < len(placed) and any(a < x1 and x0 < b for a, b in placed[level]):
                level += 1
            if level == len(placed):
                placed.append([])
            placed[level].append((x0, x1))
            n_levels = max(n_levels, level + 1)
            ax.annotate(m["label"], xy=(t, 1.0), xycoords=trans, xytext=(-2 if right else 2, 3 + 13 * level),
                        textcoords="offset points", color=color, fontsize=9, ha="right" if right else "left",
                        va="bottom", annotation_clip=False,
                        fontweight="bold" if m["kind"] == "fault" else "normal")

        scenario, run_id = _title_parts(obs)
        fig.suptitle(f"{scenario}  ·  run {run_id}", x=0.01, ha="left", fontsize=15, fontweight="bold")
        problems = [g for g in _verdict_groups(verdicts) if g[1] != "completed"]
        sub = ("verdicts: " + _verdict_counts(verdicts)) if verdicts else "no verdicts"
        for chords, verdict, cause, summary in problems[:3]:
            line = f"{chords} {verdict}" + (f" ({cause})" if cause else "") + (f": {summary}" if summary else "")
            sub += "\n" + (line[:139] + "…" if len(line) > 140 else line)
        if len(problems) > 3:
            sub += f"\n(+{len(problems) - 3} more)"
        ax.set_title(sub, loc="left", fontsize=11.5,
                     color="#b01e1e" if problems else ("#2e7d32" if verdicts else "#555555"),
                     pad=8 + 13 * n_levels)

        if not lanes:
            ax.text(0.5, 0.5, "nothing observed", transform=ax.transAxes, ha="center", va="center",
                    fontsize=14, color="#777777")
            ax.set_yticks([])

        # legend: only what is on the picture
        handles = []
        outcomes = {(b["kind"], b["role"], b["outcome"]) for b in bars}
        if any(k == "run" and r != "callback" and o == "SUCCESS" for k, r, o in outcomes):
            handles.append(Patch(color=_COLORS["SUCCESS"], label="part ran: success"))
        if any(k == "run" and o == "FAILURE" for k, r, o in outcomes):
            handles.append(Patch(color=_COLORS["FAILURE"], label="ran: failed"))
        if any(k == "run" and o == "unfinished" for k, r, o in outcomes):
            handles.append(Patch(facecolor=_COLORS["unfinished"], hatch="..", edgecolor="#9a6a00",
                                 label="ran: no end recorded"))
        if any(k == "run" and r == "callback" and o == "SUCCESS" for k, r, o in outcomes):
            handles.append(Patch(color=_COLORS["callback"], label="callback ran"))
        if any(k == "wait" and o == "taken" for k, r, o in outcomes):
            handles.append(Patch(color=_COLORS["queued"], label="message in queue"))
        if any(k == "wait" and o == "waiting" for k, r, o in outcomes):
            handles.append(Patch(facecolor="#f7c9c9", edgecolor=_COLORS["waiting"], hatch="///",
                                 label="message never taken"))
        kinds = {m["kind"] for m in marks}
        if "publish" in kinds:
            handles.append(Line2D([], [], marker="v", color=_COLORS["publish"], ls="none", ms=9,
                                  label="published to queue"))
        if "ready" in kinds:
            handles.append(Line2D([], [], marker="^", color=_COLORS["ready"], ls="none", ms=8, label="ready"))
        if "fault" in kinds:
            handles.append(Line2D([], [], marker="X", color=_COLORS["fault"], ls="none", ms=9, label="fault"))
        if "heal" in kinds:
            handles.append(Line2D([], [], marker="P", color=_COLORS["ready"], ls="none", ms=9, label="heal"))
        if "rejected" in kinds:
            handles.append(Line2D([], [], marker="$!$", color=_COLORS["fault"], ls="none", ms=9,
                                  label="message rejected"))
        if "unregistered" in kinds:
            handles.append(Line2D([], [], marker="$?$", color=_COLORS["fault"], ls="none", ms=9,
                                  label="unregistered task"))
        if "stopped" in kinds:
            handles.append(Line2D([], [], marker="D", color=_COLORS["fault"], ls="none", ms=8,
                                  label="chord stopped"))
        if "probe" in kinds:
            handles.append(Line2D([], [], color="#555555", ls=":", label="probe"))
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5),
                       frameon=False, fontsize=10)

        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = "png" if path.suffix.lower() == ".png" else "svg"
        fig.savefig(path, format=fmt, dpi=110 if fmt == "png" else None,
                    metadata={"Title": f"{scenario} {run_id}"} if fmt == "svg" else None)
    return path
