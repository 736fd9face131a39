"""``lab doctor --watch``: follow a live deployment and say, as it happens, when a chord becomes at risk.

    a user's deployment → observe.follow (the recorder's stream) | observe.task_events (-E) + observe.queue_poll
        → **ChordWatch** (pure: events and facts in, alerts out) → one line per alert (``--json``: one object)

``ChordWatch`` is fed events in the ledger's form (``lab.observe.ledger``: publish, start, end, unregistered,
rejected, dropped; and the watch's own ``queued``, a message seen waiting in a queue, and ``worker-offline``)
and, now and then, ``Facts`` (who consumes which queue, each worker's pids, and the stored metas of the
callbacks of chords at risk, so a chord the backend has failed, a ChordError after a lost part, is said failed).  It keeps each chord's parts and
callback and returns an ``Alert`` each time a chord's state changes: ``at-risk``, ``stuck``, ``recovered``,
``completed`` or ``failed``, with a cause from ``lab.judge.causes`` where one fits, one sentence, and the
evidence it rests on.  It reads nothing itself, so its rules are tested on hand-built event lists
(``tests/test_watch.py``).

What it claims, and on what:

- callback-queue-unconsumed (at risk): the callback was published to a queue no worker consumes (the last
  ``inspect active_queues``, or RabbitMQ's own consumer count); recovered when a worker consumes it or the
  callback starts.
- header-part-lost (at risk): a part started and never ended, and the process it started in is gone (its
  pid is no longer among its worker's, or its worker stopped answering): recovered when it starts again.
- chord-size-key-missing: the chord keys (``.s``) live ``chord_expires`` seconds from the header's sending.
  At risk while a part still runs and has run longer than the keys have left (or they have expired);
  **stuck** only from the recorder, which records every publish: every part ended after the keys expired
  and no callback was published within ``grace_s``.
- result-ignored (at risk): the callback ignores its result (it will run, but its state reads PENDING);
  chord-unlock-retrying: a header part ignores its result on a backend without native join.  A header part
  that ignores its result on Redis is counted anyway (the lab's ``ignore-result`` scenario), so no alert.
- callback-unregistered / header-part-unregistered (stuck): a worker discarded the message as unregistered.
- completed / failed: the callback ended (SUCCESS / FAILURE: its end event, or its meta), or a part failed
  (the chord fails by design).

The loop (``run_watch``, below the tracker) follows the recorder's stream where there is one (the last hour
replayed first), else Celery events; on Redis it also reads the head of every queue nobody consumes, which
links a waiting message to its chord and is often the first to see a callback land there.  A thread asks
the workers (``inspect``) every ``FACTS_S``, so a worker that does not answer never holds the alerts up.

Absence proves something only where every publish is recorded (``recorded=True``) and nothing was dropped;
from Celery events and the broker the watch says "at risk", never "stuck" for want of an event.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.judge import size_key_until
from lab.judge.causes import CAUSES

CHORD_UNLOCK = "celery.chord_unlock"
RISKY = ("at-risk", "stuck")
GRACE_S = 2.0  # after the last part ended: how long the callback's publish may take to be recorded
QUIET_S = 5.0  # every part ended this long ago and no callback published (recorder): at risk, cause unnamed
ABSENT_FACTS = 2  # a worker (or a pid) missing from this many facts in a row, taken after a part started, is gone
MAX_CHORDS = 20_000  # chords kept; the oldest quiet ones are forgotten first
MAX_TASKS = 200_000  # task ids kept (most are no chord's): the oldest are forgotten first
KNOWN_CAUSES = set(CAUSES) | {"result-ignored"}


def _clock(t: float | None) -> str:
    if not t:
        return "?"
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1000):03d}"


@dataclass
class Alert:
    """One line of the watch: a chord's new state, why, and on what evidence."""

    state: str  # at-risk | stuck | recovered | completed | failed
    callback_id: str | None
    group_id: str | None
    cause: str | None
    reason: str
    evidence: list[str] = field(default_factory=list)
    t: float = 0.0  # when the watch said it
    since: float | None = None  # the time of the event the claim rests on (a publish, a start, an expiry)
    source: str = ""  # recorder | celery-events | broker

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "alert", **asdict(self)}

    def line(self) -> str:
        chord = f"chord {self.callback_id or '(callback not seen)'} (group {self.group_id or '?'})"
        cause = f" {self.cause}:" if self.cause else ""
        return f"{_clock(self.t)}  {self.state.upper():<9} {chord}{cause} {self.reason}"


@dataclass
class Facts:
    """What the watch learns by asking, not by listening: who consumes what, and which processes each worker runs."""

    t: float
    consumers: dict[str, list[str]] | None  # worker → queues (inspect active_queues); None: could not ask
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)  # worker → {"pid", "pool": [...]}
    queue_consumers: dict[str, int] = field(default_factory=dict)  # queue → consumers, as the broker counts (RabbitMQ)
    queue_lengths: dict[str, int] = field(default_factory=dict)  # queue → messages waiting
    metas: dict[str, dict[str, Any]] = field(default_factory=dict)  # callback id → its stored status and result
    error: str | None = None

    def consumed(self, queue: str | None) -> bool | None:
        """Whether some worker consumes ``queue``; None when nobody could be asked."""
        if queue is None:
            return None
        if self.queue_consumers.get(queue):
            return True
        if self.consumers is None:
            return None if queue not in self.queue_consumers else False
        return any(queue in qs for qs in self.consumers.values())

    def who(self) -> str:
        if self.consumers is None:
            return f"nobody could be asked which queues they consume ({self.error or 'no answer'})"
        if not self.consumers:
            return "no worker answered inspect active_queues"
        return "; ".join(f"{w} consumes {', '.join(qs) or 'nothing'}" for w, qs in sorted(self.consumers.items()))


@dataclass
class Task:
    """One task id as the events show it."""

    id: str
    name: str | None = None
    queue: str | None = None
    published_t: float | None = None
    by: str | None = None
    group_id: str | None = None
    group_index: int | None = None
    chord_callback: str | None = None
    chord_expires: Any = None
    start: dict[str, Any] | None = None  # the latest start: t, worker, pid
    starts: int = 0
    end: dict[str, Any] | None = None  # t, state, worker
    queued: dict[str, Any] | None = None  # seen waiting in a queue: queue, t, length
    discarded: dict[str, Any] | None = None  # unregistered / rejected: event, t, worker, error
    source: str = ""


@dataclass
class Chord:
    group_id: str
    callback_id: str | None = None
    parts: list[str] = field(default_factory=list)
    size: int | None = None
    last: Alert | None = None
    touched: float = 0.0
    was_risky: bool = False
    risky: Alert | None = None  # its last at-risk or stuck alert


class ChordWatch:
    """The watch's judgement: events and facts in, alerts out; no I/O, no clock of its own (``now`` is given).

    ``recorded``: the events come from the flight recorder, which records every publish of every process it
    is installed in, so the absence of a callback's publish is evidence; from Celery events it is not.
    ``ignores_result``: task names that store no result (the app's own ``ignore_result``/``task_ignore_result``);
    ``native_join``: the backend counts parts itself (Redis); ``chord_expires``: (seconds, which setting) the
    chord keys live, from the app the watch loaded, when a part's publish does not say (the recorder's
    ``chord_expires`` field, the producer's own)."""

    def __init__(self, *, recorded: bool = False, ignores_result: Iterable[str] = (), ignores_all: bool = False,
                 native_join: bool = True, chord_expires: tuple[float | None, str] = (None, ""),
                 grace_s: float = GRACE_S, quiet_s: float = QUIET_S):
        self.recorded = recorded
        self.ignores_result = frozenset(ignores_result)
        self.ignores_all = ignores_all
        self.native_join = native_join
        self.chord_expires = chord_expires
        self.grace_s = grace_s
        self.quiet_s = quiet_s
        self.tasks: OrderedDict[str, Task] = OrderedDict()
        self.chords: OrderedDict[str, Chord] = OrderedDict()
        self.closed: OrderedDict[str, str] = OrderedDict()  # group id → final state (late events ignored)
        self.facts_seen: list[Facts] = []  # the last few, for "missing from N facts in a row"
        self.offline: dict[str, float] = {}  # worker → when it said it went offline
        self.dropped = 0
        self.queues: set[str] = set()  # every queue an event named
        self.counts: dict[str, int] = {}
        self.now = 0.0

    # -- input ---------------------------------------------------------------------------------------

    def feed(self, events: Iterable[dict[str, Any]], now: float | None = None) -> list[Alert]:
        """Take events (in any order: the recorder's processes flush on their own); return the alerts they cause."""
        dirty: set[str] = set()
        latest = 0.0
        for e in events:
            latest = max(latest, float(e.get("t") or 0))
            gid = self._take(e)
            if gid:
                dirty.add(gid)
        self.now = max(self.now, now if now is not None else latest)
        return self._evaluate(dirty)

    def facts(self, f: Facts) -> list[Alert]:
        """Take a fresh reading of the live facts; every open chord is judged again on it."""
        self.facts_seen = (self.facts_seen + [f])[-ABSENT_FACTS - 1:]
        self.now = max(self.now, f.t)
        callbacks = {c.callback_id for c in self.chords.values()} if f.metas else set()
        for tid, m in f.metas.items():  # the backend says how a chord at risk ended (a ChordError, say)
            task = self._task(tid) if tid in callbacks else None
            if task is not None and task.end is None and m.get("status") in ("SUCCESS", "FAILURE"):
                res = m.get("result") if isinstance(m.get("result"), dict) else {}
                msg = res.get("exc_message")
                error = (f"{res.get('exc_type')}: {msg[0] if isinstance(msg, list) and msg else msg}"
                         if res.get("exc_type") else None)
                task.end = {"t": f.t, "state": m["status"], "worker": None, "error": error, "source": "backend"}
        return self._evaluate(set(self.chords))

    def tick(self, now: float) -> list[Alert]:
        """Time passes: the rules that depend on it (chord keys expiring, a callback never published)."""
        self.now = max(self.now, now)
        return self._evaluate(set(self.chords))

    def note_dropped(self, n: int) -> None:
        """The recorder's writers dropped at least ``n`` events (its ``dropped`` events, as the reader counts them):
        from now on a missing event proves nothing."""
        self.dropped = max(self.dropped, int(n or 0))

    @property
    def current(self) -> Facts | None:
        return self.facts_seen[-1] if self.facts_seen else None

    def _task(self, tid: str) -> Task:
        t = self.tasks.get(tid)
        if t is None:
            t = self.tasks[tid] = Task(tid)
            while len(self.tasks) > MAX_TASKS:
                self.tasks.popitem(last=False)
        return t

    def _take(self, e: dict[str, Any]) -> str | None:
        kind = e.get("event")
        if kind == "dropped":
            self.dropped += int(e.get("n") or 0)
            return None
        if kind == "worker-offline":
            self.offline[str(e.get("worker"))] = float(e.get("t") or self.now)
            return None
        if kind in ("worker-online", "worker-heartbeat"):
            self.offline.pop(str(e.get("worker")), None)
            return None
        tid = e.get("task_id")
        if not tid:
            return None
        task = self._task(tid)
        task.source = task.source or str(e.get("source") or ("recorder" if self.recorded else ""))
        for k in ("name", "group_id", "group_index", "chord_callback", "chord_expires"):
            if e.get(k) is not None and getattr(task, k) is None:
                setattr(task, k, e[k])
        t = float(e.get("t") or self.now)
        if e.get("queue"):
            self.queues.add(str(e["queue"]))
        if kind == "publish":
            task.published_t = task.published_t or t
            task.queue = e.get("queue") or task.queue
            task.by = e.get("by") or task.by
        elif kind == "queued":
            task.queue = task.queue or e.get("queue")
            task.queued = {"queue": e.get("queue"), "t": t, "length": e.get("length")}
        elif kind == "start":
            task.starts += 1
            if task.start is None or t >= task.start["t"]:
                task.start = {"t": t, "worker": e.get("worker"), "pid": e.get("pid")}
        elif kind == "end":
            if task.end is None or t >= task.end["t"]:
                task.end = {"t": t, "state": e.get("state"), "worker": e.get("worker"), "error": e.get("error")}
        elif kind in ("unregistered", "rejected"):
            task.discarded = {"event": kind, "t": t, "worker": e.get("worker"), "error": e.get("error")}
        return self._link(task)

    def _link(self, task: Task) -> str | None:
        """The chord (its group id) this task is a part or the callback of, if the events say."""
        if task.name == CHORD_UNLOCK:
            return None
        gid = task.group_id
        if task.chord_callback and gid:  # a header part: its publish or start names its chord's callback
            if gid in self.closed:
                return None
            c = self._chord(gid)
            if c.callback_id is None:
                c.callback_id = task.chord_callback
            if task.id not in c.parts:
                c.parts.append(task.id)
            if isinstance(task.group_index, int):  # the header is at least this big
                c.size = max(c.size or 0, task.group_index + 1)
            return gid
        if gid and task.group_index is None:  # a task that names a group but has no place in it: the callback
            if gid in self.closed:
                return None
            known = self.chords.get(gid)
            if known is not None and known.callback_id not in (None, task.id):
                return None  # another task of that group (a part whose start came first): not the callback
            c = self._chord(gid)
            c.callback_id = task.id
            return gid
        for gid2, c in self.chords.items():  # a callback known only by id (a start from Celery events)
            if c.callback_id == task.id:
                return gid2
        return None

    def _chord(self, gid: str) -> Chord:
        c = self.chords.get(gid)
        if c is None:
            c = self.chords[gid] = Chord(gid)
            while len(self.chords) > MAX_CHORDS:  # forget the oldest chord that is not at risk
                victim = next((g for g, ch in self.chords.items() if not ch.was_risky or ch.last is None), None)
                self.chords.pop(victim or next(iter(self.chords)))
        self.chords.move_to_end(gid)
        c.touched = self.now
        return c

    # -- judgement -----------------------------------------------------------------------------------

    def _evaluate(self, gids: set[str]) -> list[Alert]:
        out = []
        for gid in [g for g in self.chords if g in gids]:
            c = self.chords[gid]
            got = self.judge(c)
            alert = self._transition(c, got)
            if alert is not None:
                out.append(alert)
                self.counts[alert.state] = self.counts.get(alert.state, 0) + 1
            if c.last is not None and c.last.state in ("completed", "failed"):
                self.closed[gid] = c.last.state
                while len(self.closed) > MAX_CHORDS:
                    self.closed.popitem(last=False)
                self.chords.pop(gid, None)
                for tid in [*c.parts, c.callback_id]:
                    self.tasks.pop(tid or "", None)
        return out

    def _transition(self, c: Chord, got: Alert | None) -> Alert | None:
        prev = c.last
        if got is None:
            if prev is not None and prev.state in RISKY:
                got = Alert("recovered", c.callback_id, c.group_id, prev.cause, self._recovery(c, prev),
                            [f"before: {prev.reason}"], self.now, self.now, prev.source)
            else:
                return None
        elif prev is not None and (prev.state, prev.cause) == (got.state, got.cause):
            return None
        if got.state in ("completed", "failed") and c.risky is not None:
            got.reason += f" (it had been {c.risky.state}: {c.risky.cause or 'cause unnamed'})"
            got.evidence.append(f"it had been {c.risky.state} ({c.risky.cause}) since {_clock(c.risky.t)}")
        if got.state in RISKY:
            c.risky = got
        c.was_risky = c.was_risky or got.state in RISKY
        c.last = got
        return got

    def _recovery(self, c: Chord, prev: Alert) -> str:
        cb = self.tasks.get(c.callback_id or "")
        f = self.current
        if prev.cause == "callback-queue-unconsumed" and cb is not None:
            if cb.start:
                return f"its callback started on {cb.start.get('worker') or 'a worker'}"
            if f is not None and f.consumed(cb.queue):
                return f"queue {cb.queue!r} is consumed now ({f.who()})"
        if prev.cause == "header-part-lost":
            return "the lost part started again (redelivered) or ended"
        if prev.cause == "chord-size-key-missing":
            return "the parts that were running past the chord keys' expiry have ended in time, or the callback was published"
        return f"what made it {prev.state} ({prev.cause or 'its last alert'}) no longer holds"

    def _mk(self, c: Chord, state: str, cause: str | None, reason: str, evidence: list[str],
            since: float | None, source: str = "") -> Alert:
        assert cause is None or cause in KNOWN_CAUSES, cause
        return Alert(state, c.callback_id, c.group_id, cause, reason, evidence, self.now, since,
                     source or ("recorder" if self.recorded else "celery-events"))

    def expiry(self, c: Chord) -> tuple[float, float, str, str] | None:
        """(set at, seconds, which setting, whose) for this chord's keys: the producer's, as its parts' publish
        recorded it, else the app the watch loaded."""
        parts = [self.tasks[p] for p in c.parts if p in self.tasks]
        sent = [p for p in parts if p.published_t]
        if not sent:
            return None
        first = min(sent, key=lambda p: p.published_t or 0)
        given = next((p.chord_expires for p in sent if p.chord_expires), None)
        if given:
            seconds, which = (given[0], given[1]) if isinstance(given, (list, tuple)) else (given, "chord_expires")
            whose = f"the producer's {which}, recorded with its publish"
        else:
            seconds, which = self.chord_expires
            whose = f"{which} of the app doctor loaded (the producer's is not recorded)"
        if not seconds:
            return None
        return float(first.published_t or 0), float(seconds), str(which), whose

    def judge(self, c: Chord) -> Alert | None:
        """This chord's state now, as an alert (None: nothing to say, it runs as it should)."""
        tasks = self.tasks
        cb = tasks.get(c.callback_id or "")
        parts = [tasks[p] for p in c.parts if p in tasks]
        f = self.current
        cb_name = (cb.name if cb else None) or "the callback"
        risks: list[Alert] = []

        # 1. endings: the callback ran, or a part failed (the chord then fails by design)
        if cb is not None and cb.end and cb.end.get("state") in ("SUCCESS", "FAILURE"):
            if cb.end["state"] == "FAILURE" and str(cb.end.get("error") or "").startswith("ChordError"):
                return self._mk(c, "failed", "header-part-failed",
                                f"the backend marks its callback failed without running it: {cb.end['error']}",
                                [f"the callback's meta (read at {_clock(cb.end['t'])}): FAILURE, {cb.end['error']}"],
                                cb.end["t"])
            if cb.end["state"] == "FAILURE":
                return self._mk(c, "failed", "callback-raised", f"its callback {cb_name} ran and raised"
                                + (f": {cb.end['error']}" if cb.end.get("error") else ""),
                                [f"end of {cb.id}: FAILURE on {cb.end.get('worker')} at {_clock(cb.end['t'])}"], cb.end["t"])
            ignored = self.ignores(cb.name)
            return self._mk(c, "completed", "result-ignored" if ignored else None,
                            f"its callback {cb_name} ran on {cb.end.get('worker') or 'a worker'}"
                            + (", but it ignores its result: AsyncResult(id).state reads PENDING" if ignored else ""),
                            [f"end of {cb.id}: SUCCESS at {_clock(cb.end['t'])}"], cb.end["t"])
        failed = [p for p in parts if p.end and p.end.get("state") == "FAILURE"]
        if failed and not (cb and (cb.published_t or cb.queued)):
            p = failed[0]
            return self._mk(c, "failed", "header-part-failed",
                            f"header part {p.id} ({p.name}) raised, so Celery fails the chord (ChordError)",
                            [f"end of {p.id}: FAILURE on {p.end.get('worker')} at {_clock(p.end['t'])}"
                             + (f": {p.end['error']}" if p.end.get("error") else "")], p.end["t"])

        # 2. messages a worker discarded
        if cb is not None and cb.discarded and not cb.start:
            d = cb.discarded
            if d["event"] == "unregistered":
                return self._mk(c, "stuck", "callback-unregistered",
                                f"{d.get('worker') or 'a worker'} received its callback {cb_name} without the task and "
                                "discarded the message", [f"unregistered {cb.id} on {d.get('worker')} at {_clock(d['t'])}"],
                                d["t"])
            risks.append(self._mk(c, "at-risk", None, f"{d.get('worker') or 'a worker'} rejected its callback {cb_name}",
                                  [f"rejected {cb.id} at {_clock(d['t'])}: {d.get('error')}"], d["t"]))
        for p in parts:
            if p.discarded and not p.end and not (p.start and p.start["t"] > p.discarded["t"]):
                d = p.discarded
                if d["event"] == "unregistered":
                    return self._mk(c, "stuck", "header-part-unregistered",
                                    f"{d.get('worker') or 'a worker'} received header part {p.id} ({p.name}) without the "
                                    "task and discarded it, so the chord can never count it",
                                    [f"unregistered {p.id} on {d.get('worker')} at {_clock(d['t'])}"], d["t"])
                risks.append(self._mk(c, "at-risk", "part-return-missing",
                                      f"header part {p.id} ({p.name}) was rejected on {d.get('worker') or 'a worker'}: "
                                      "unless it is requeued, it never returns", [f"rejected at {_clock(d['t'])}: {d.get('error')}"],
                                      d["t"]))

        # 3. the callback waits in a queue nobody consumes
        if cb is not None and not cb.start and (cb.published_t or cb.queued):
            q = cb.queue or (cb.queued or {}).get("queue")
            consumed = f.consumed(q) if f is not None else None
            if consumed is False:
                ev = []
                if cb.published_t:
                    ev.append(f"publish of {cb.id} ({cb_name}) to queue {q!r}"
                              + (f" by {cb.by}" if cb.by else "") + f" at {_clock(cb.published_t)}"
                              + (f" ({cb.source})" if cb.source else ""))
                if cb.queued:
                    ev.append(f"the broker: {cb.id} waits in queue {cb.queued['queue']!r}"
                              + (f" ({cb.queued['length']} message(s) there)" if cb.queued.get("length") else "")
                              + f", seen at {_clock(cb.queued['t'])}")
                length = f.queue_lengths.get(q or "") if f else None
                if length and not cb.queued:
                    ev.append(f"the broker: queue {q!r} holds {length} message(s)")
                ev.append(f"consumers at {_clock(f.t)}: {f.who()}")
                risks.append(self._mk(c, "at-risk", "callback-queue-unconsumed",
                                      f"its callback {cb_name} "
                                      + ("was published to" if cb.published_t else "waits in")
                                      + f" queue {q!r}, which no worker consumes",
                                      ev, cb.published_t or (cb.queued or {}).get("t"),
                                      "recorder" if cb.published_t and self.recorded else cb.source or "broker"))

        if f is not None:
            for p in parts:
                q = p.queue or (p.queued or {}).get("queue")
                if not p.start and not p.end and not p.discarded and f.consumed(q) is False:
                    risks.append(self._mk(c, "at-risk", "header-queue-unconsumed",
                                          f"header part {p.id} ({p.name}) was published to queue {q!r}, which no worker "
                                          "consumes", [f"consumers at {_clock(f.t)}: {f.who()}"],
                                          p.published_t or (p.queued or {}).get("t")))
                    break

        # 4. a part lost with its process
        for p in parts:
            if p.start and not p.end:
                gone = self.gone(p.start)
                if gone:
                    risks.append(self._mk(c, "at-risk", "header-part-lost",
                                          f"header part {p.id} ({p.name}) started on {p.start.get('worker')} and never "
                                          f"ended, and {gone}",
                                          [(f"start of {p.id} on {p.start.get('worker')} pid {p.start.get('pid')} at "
                                           f"{_clock(p.start['t'])}; no end")] + ([f"workers at {_clock(f.t)}: {f.who()}"] if f else []),
                                          p.start["t"]))

        # 5. the chord keys' lifetime against the parts still running
        exp = self.expiry(c)
        if exp is not None and not (cb and (cb.published_t or cb.queued or cb.start)):
            set_at, seconds, which, whose = exp
            # each part return re-expires .s (Celery's chord part return): it lapses only in a gap longer than it lives
            returned = [{"task_id": p.id, "t": p.end["t"], "chord_expires": p.end.get("chord_expires")}
                        for p in parts if p.end and p.end.get("t") is not None]
            t_exp = size_key_until({"t": set_at, "pttl_ms": seconds * 1000}, returned) or set_at + seconds
            open_parts = [p for p in parts if not p.end]
            running = [p for p in open_parts if p.start]
            ttl_ev = [(f"chord keys set at {_clock(set_at)} (the first part's publish), to live {seconds:g} s ({whose}), "
                      f"re-expired by each part return: they expire at {_clock(t_exp)}")]
            size = c.size or len(parts)
            if open_parts:
                slowest = min(running, key=lambda p: p.start["t"]) if running else None
                ran = self.now - slowest.start["t"] if slowest else 0.0
                if self.now >= t_exp or (slowest is not None and t_exp - self.now < ran):
                    if self.now >= t_exp:
                        why = (f"its chord keys expired at {_clock(t_exp)} ({which} = {seconds:g} s) while "
                               f"{len(open_parts)} of {size} part(s) had not returned: when they return, nothing can "
                               "complete the chord")
                    else:
                        why = (f"its chord keys expire at {_clock(t_exp)} ({which} = {seconds:g} s, {t_exp - self.now:.1f} s "
                               f"left), and part {slowest.id} ({slowest.name}) has run {ran:.1f} s and not returned")
                    risks.append(self._mk(c, "at-risk", "chord-size-key-missing", why,
                                          ttl_ev + [f"{p.id}: started {_clock(p.start['t'])} on {p.start.get('worker')}, "
                                                    "no end" if p.start else f"{p.id}: not started" for p in open_parts[:5]],
                                          t_exp if self.now >= t_exp else (slowest.start["t"] if slowest else set_at)))
            elif parts:
                last = max(parts, key=lambda p: p.end["t"])
                if last.end["t"] > t_exp:
                    ev = ttl_ev + [(f"last part {last.id} ended at {_clock(last.end['t'])}, "
                                   f"{last.end['t'] - t_exp:.1f} s after the keys expired")]
                    proven = self.recorded and not self.dropped and self.now - last.end["t"] >= self.grace_s
                    if proven:
                        return self._mk(c, "stuck", "chord-size-key-missing",
                                        f"every part returned after its chord keys expired ({which} = {seconds:g} s), "
                                        f"and no callback was published in the {self.now - last.end['t']:.1f} s since",
                                        ev + [f"the recorder saw no publish of {c.callback_id}"], t_exp)
                    risks.append(self._mk(c, "at-risk", "chord-size-key-missing",
                                          f"its last part returned after the chord keys expired ({which} = {seconds:g} s)",
                                          ev + ([(f"the recorder dropped {self.dropped} event(s): a missing publish proves "
                                                 "nothing")] if self.dropped else []), t_exp))
        if (self.recorded and not self.dropped and parts and all(p.end for p in parts)
                and not (cb and (cb.published_t or cb.queued or cb.start))
                and not any(r.cause == "chord-size-key-missing" for r in risks)
                and (c.size is None or len(parts) >= c.size)):
            last_end = max(p.end["t"] for p in parts)
            if self.now - last_end >= self.quiet_s:
                risks.append(self._mk(c, "at-risk", None,
                                      f"all {len(parts)} part(s) returned {self.now - last_end:.1f} s ago and no callback "
                                      f"was published (doctor --chord {c.callback_id or c.group_id} reads the backend)",
                                      [f"last part ended at {_clock(last_end)}"], last_end))

        # 6. results ignored
        if cb is not None and self.ignores(cb.name) and not cb.end:
            risks.append(self._mk(c, "at-risk", "result-ignored",
                                  f"its callback {cb_name} ignores its result: it will run, but AsyncResult(id).state "
                                  "reads PENDING forever", [f"{cb.name}: ignore_result (the app's config)"], cb.published_t))
        if not self.native_join:
            ignoring = [p for p in parts if self.ignores(p.name)]
            if ignoring:
                p = ignoring[0]
                risks.append(self._mk(c, "at-risk", "chord-unlock-retrying",
                                      f"header part {p.name} ignores its result, and this backend has no native join: "
                                      "celery.chord_unlock never sees the header ready", [f"{p.name}: ignore_result"],
                                      p.published_t))

        if not risks:
            return None
        first = risks[0]
        for other in risks[1:]:
            first.evidence.append(f"also at risk: {other.cause or 'cause unnamed'}: {other.reason}")
        return first

    def ignores(self, name: str | None) -> bool:
        return bool(name) and (self.ignores_all or name in self.ignores_result)

    def gone(self, start: dict[str, Any]) -> str | None:
        """Why the process a part started in is gone, if the facts since it started say so (else None)."""
        worker, pid = start.get("worker"), start.get("pid")
        if worker in self.offline and self.offline[worker] >= start["t"]:
            return f"{worker} went offline at {_clock(self.offline[worker])}"
        after = [f for f in self.facts_seen if f.t > start["t"] and f.consumers is not None and not f.error]
        if len(after) < ABSENT_FACTS:
            return None
        recent = after[-ABSENT_FACTS:]
        if all(worker not in (f.consumers or {}) for f in recent):
            return f"{worker} has not answered inspect since ({len(recent)} times in a row)"
        if pid is None:
            return None
        missing = []
        for f in recent:
            procs = f.processes.get(worker)
            if procs is None:
                return None
            missing.append(pid not in [procs.get("pid"), *(procs.get("pool") or [])])
        if all(missing):
            now = recent[-1].processes[worker]
            return (f"pid {pid} is no longer one of its processes (it runs {now.get('pid')}, pool "
                    f"{', '.join(map(str, now.get('pool') or [])) or 'none'})")
        return None

    # -- the end -------------------------------------------------------------------------------------

    def open_risks(self) -> list[Alert]:
        """Chords whose last word is at risk or stuck (not recovered, not completed)."""
        return [c.last for c in self.chords.values() if c.last is not None and c.last.state in RISKY]

    def exit_code(self) -> int:
        """1: a chord is at risk or stuck and not recovered, or failed while watched; 0 otherwise."""
        if self.open_risks() or self.counts.get("failed"):
            return 1
        return 0


# -- the loop: following a live deployment ------------------------------------------------------------

POLL_S = 0.1  # how often the recorder's stream and the broker's unconsumed queues are read
DROPS_S = 5.0  # how often the recorder's own drop counts are read
TICK_S = 0.5  # how often the rules that depend on time alone are judged again
FILE_POLL_S = 0.5  # a file store is read whole at each poll: less often
FACTS_S = 1.0  # how often workers are asked what they consume and which processes they run
NAMES_EVERY = 5  # facts readings between two listings of the deployment's queue names
LOOKBACK_S = 3600.0  # recorded history replayed when the watch starts (chords already under way)
MAX_METAS = 50  # callbacks of chords at risk whose metas are read with each facts reading
NO_TASK_EVENTS_S = 5.0  # following Celery events: after this long with no task event, say why there may be none


class _Out:
    """Where the lines go: text for a person, or one JSON object per line."""

    def __init__(self, as_json: bool, stream):
        self.as_json = as_json
        self.stream = stream

    def obj(self, kind: str, text: str, **fields: Any) -> None:
        if self.as_json:
            self.stream.write(json.dumps({"kind": kind, "t": round(time.time(), 3), **fields}, default=repr) + "\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def alert(self, a: Alert, replayed: bool = False) -> None:
        if self.as_json:
            self.stream.write(json.dumps({**a.to_dict(), **({"replayed": True} if replayed else {})}, default=repr) + "\n")
        else:
            lines = [a.line() + ("  (already so when the watch began)" if replayed else "")]
            if a.state in ("at-risk", "stuck", "failed"):
                lines += [f"    · {e}" for e in a.evidence]
            self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()


def _app_facts(app) -> dict[str, Any]:
    from lab.observe.config import chord_expires, native_join

    ignores = {name for name, task in app.tasks.items() if getattr(task, "ignore_result", False)}
    return {"ignores_result": ignores, "ignores_all": bool(app.conf.task_ignore_result),
            "native_join": native_join(app), "chord_expires": chord_expires(app)}


def read_facts(dep, names: set[str] | None = None, metas_of: list[str] | None = None) -> Facts:
    """Ask the workers (and RabbitMQ) what they consume and which processes they run: one ``Facts``."""
    from lab.observe.broker import rabbitmq_counts
    from lab.observe.workers import read_workers

    t = time.time()
    try:
        got = read_workers(dep.app, dep.expected_workers(), dep.timeout, ping=True, processes=True)
    except Exception as e:  # noqa: BLE001 - the broker is unreachable
        return Facts(t, None, error=f"{type(e).__name__}: {e}")
    if got.get("error"):
        return Facts(t, None, error=got["error"])
    f = Facts(t, got.get("consumers") or {}, got.get("processes") or {})
    if metas_of and dep.backend_kind in ("redis", "database"):  # how the chords at risk ended, if they did
        from lab.observe.backend import task_metas

        with contextlib.suppress(Exception):
            f.metas = task_metas(dep.app, dep.backend_kind, list(metas_of)[:MAX_METAS])
    if dep.broker_kind == "rabbitmq" and names:
        try:
            counts = rabbitmq_counts(dep.app, names)["queues"]
            f.queue_consumers = {q: int(c.get("consumers") or 0) for q, c in counts.items() if not c.get("absent")}
            f.queue_lengths = {q: int(c.get("length") or 0) for q, c in counts.items() if not c.get("absent")}
        except Exception as e:  # noqa: BLE001 - the watch goes on and says so
            f.error = f"RabbitMQ counts: {type(e).__name__}: {e}"
    return f


def _bound_seen(cursor, fresh: list[dict[str, Any]], order: deque) -> None:
    """Keep the follower's memory of what it has returned bounded: an event older than the newest ``LIMIT``
    entries is never read again (no read reaches further back), so only that many keys need keeping."""
    from lab.observe.follow import event_key
    from lab.observe.recorder import LIMIT

    order.extend(event_key(e) for e in fresh)
    if len(cursor.seen) > LIMIT * 3 // 2:
        while len(order) > LIMIT + LIMIT // 10:
            cursor.seen.discard(order.popleft())


def _probe_store(store: str) -> tuple[dict[str, Any] | None, str | None]:
    from lab.observe.recorder import recorded_events

    try:
        return recorded_events(store, limit=1), None
    except Exception as e:  # noqa: BLE001 - the watch goes on and says so
        return None, f"{type(e).__name__}: {e}"


def run_watch(app, app_ref: str, *, recorder: str | None = None, for_s: float | None = None, as_json: bool = False,
              timeout: float = 1.0, stream=None, poll_broker: bool = True) -> int:
    """Follow the deployment until ``for_s`` seconds have passed, or SIGINT/SIGTERM; print each alert; return the
    exit code (0 nothing at risk at the end, 1 a chord at risk, stuck or failed, 2 nothing could be followed).
    ``poll_broker=False`` leaves the broker's queues unread (bench/watch_latency.py: the recorder alone)."""
    import signal
    import sys
    import threading

    from lab.observe.config import redact
    from lab.observe.live import Deployment

    out = _Out(as_json, stream or sys.stdout)
    stop = threading.Event()
    old_handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old_handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    dep = Deployment(app, timeout=timeout, recorder=recorder)
    try:
        return _follow(app, app_ref, dep, out, stop, for_s, recorder, redact, poll_broker)
    finally:
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
        dep.close()


def _follow(app, app_ref, dep, out: _Out, stop, for_s, recorder, redact, poll_broker: bool = True) -> int:
    import threading

    from lab.observe.follow import Cursor, read_since
    from lab.observe.queue_poll import QueuePoller
    from lab.observe.recorder import recorded_events
    from lab.observe.task_events import TaskEvents

    t_start = time.time()
    notes: list[str] = []
    # what the workers say first, so the first events are judged against it
    facts0 = read_facts(dep)
    broker_ok = facts0.consumers is not None
    if not broker_ok:
        notes.append(f"the broker {redact(app.conf.broker_url)} could not be asked ({facts0.error})")

    store = dep.recorder_store
    explicit = bool(recorder and recorder != "none") or bool(app.conf.get("lab_recorder"))
    source = None
    probe, err = _probe_store(store) if store else (None, None)
    if store and probe is not None and (probe.get("oldest_t") is not None or explicit):
        source = "recorder"
        if probe.get("oldest_t") is None:
            notes.append(f"the recorder's store {redact(store)} holds no event yet: following it from now")
    elif store and err:
        notes.append(f"the recorder's store {redact(store)} cannot be read ({err}): following Celery events instead")
    elif store and probe is not None:
        notes.append(f"no flight recorder stream at {redact(store)} (none recorded, or expired): following Celery "
                     "events (-E) and the broker's queues; lab.recorder.install(app) would record every publish")
    elif recorder != "none":
        notes.append("no flight recorder store (the broker is not Redis and app.conf.lab_recorder is unset): "
                     "following Celery events (-E)")

    w = ChordWatch(recorded=source == "recorder", **_app_facts(app))
    w.facts(facts0)
    events_source = None
    if source is None:
        if not broker_ok:
            out.obj("stopped", f"lab doctor --watch {app_ref}: nothing to follow: {'; '.join(notes)}",
                    exit_code=2, notes=notes)
            return 2
        events_source = TaskEvents(app)
        if not events_source.start():
            out.obj("stopped", f"lab doctor --watch {app_ref}: cannot receive Celery events "
                    f"({events_source.error or 'no answer'})", exit_code=2, notes=notes)
            return 2
        source = "celery-events"
        notes.append("Celery events name no group or chord: a chord is linked by its callback or parts waiting in a "
                     "queue (Redis); task-sent comes only with task_send_sent_event; no chord-key lifetime is known "
                     "from the producer, so no stuck claim is made")

    poller = (QueuePoller(dep.broker_client(), dep.naming) if dep.broker_kind == "redis" and broker_ok and poll_broker
              else None)
    cursor = Cursor()
    order: deque = deque()  # the keys read_since remembers, oldest first (so they can be forgotten)
    replayed: list[Alert] = []
    held = 0
    if source == "recorder":
        try:
            w.note_dropped(recorded_events(store)["dropped"])  # the reader keeps the drop counts out of the events
            backlog = read_since(store, cursor)
            _bound_seen(cursor, backlog, order)
        except Exception as e:  # noqa: BLE001 - the watch goes on and says so
            backlog = []
            notes.append(f"the recorder's history could not be read ({type(e).__name__}: {e})")
        recent = [e for e in backlog if float(e.get("t") or 0) >= t_start - LOOKBACK_S]
        held = len(recent)
        w.feed(recent, now=time.time())
        w.tick(time.time())
        replayed = w.open_risks()

    names: set[str] = set()
    if broker_ok:
        try:
            names = dep.queue_names({"consumers": facts0.consumers})
        except Exception as e:  # noqa: BLE001 - the watch goes on and says so
            notes.append(f"the broker's queues could not be listed ({type(e).__name__}: {e})")
    where = (f"the flight recorder ({redact(store)}: {held} event(s) of the last {LOOKBACK_S / 3600:g} h replayed"
             + (f", {w.dropped} dropped by its writers" if w.dropped else ", none dropped") + ")"
             if source == "recorder" else "Celery events (-E)" + (" and the broker's queues" if poller else ""))
    out.obj("watching", f"lab doctor --watch {app_ref}: following {where}; broker {dep.broker_kind}, backend "
            f"{dep.backend_kind}; {facts0.who()}" + "".join(f"\n  note: {n}" for n in notes)
            + f"\n  {'stops after ' + format(for_s, 'g') + ' s' if for_s else 'Ctrl-C to stop'}",
            app=app_ref, source=source, store=redact(store) if store else None, broker=dep.broker_kind,
            backend=dep.backend_kind, consumers=facts0.consumers, notes=notes, replayed_events=held,
            lookback_s=LOOKBACK_S, for_s=for_s)
    for a in replayed:
        out.alert(a, replayed=True)

    # the workers are asked by a thread of their own: a worker that does not answer costs the watch nothing
    pending: list[Facts] = []
    lock = threading.Lock()
    listed = {"names": names, "risky": []}

    def ask() -> None:
        n = 0
        while not stop.wait(FACTS_S):
            f = read_facts(dep, listed["names"], listed["risky"])
            n += 1
            if n % NAMES_EVERY == 0 and f.consumers is not None:
                with contextlib.suppress(Exception):  # the names of the last listing serve until the next
                    listed["names"] = dep.queue_names({"consumers": f.consumers})
            with lock:
                pending.append(f)

    asker = threading.Thread(target=ask, name="lab-watch-facts", daemon=True)
    asker.start()
    deadline = t_start + for_s if for_s else None
    read_error = None
    said_no_task_events = False
    next_tick = next_drops = 0.0
    poll_s = FILE_POLL_S if str(store or "").startswith("file:") else POLL_S
    try:
        while not stop.is_set():
            now = time.time()
            if deadline is not None and now >= deadline:
                break
            alerts: list[Alert] = []
            if source == "recorder":
                try:
                    got = read_since(store, cursor)
                    _bound_seen(cursor, got, order)
                    read_error = None
                except Exception as e:  # noqa: BLE001 - the store went away: said once, then followed again when it is back
                    got = []
                    if read_error is None:
                        read_error = f"{type(e).__name__}: {e}"
                        out.obj("note", f"  note: the recorder's store cannot be read ({read_error}); retrying",
                                note=read_error)
                if time.time() >= next_drops:  # what its writers dropped lately (a count the events leave out)
                    next_drops = time.time() + DROPS_S
                    with contextlib.suppress(Exception):
                        w.note_dropped(recorded_events(store, limit=max(cursor.window, 1000))["dropped"])
                alerts += w.feed(got, now=time.time())
            else:
                alerts += w.feed(events_source.read(POLL_S), now=time.time())
                if (not said_no_task_events and events_source.task_events == 0
                        and time.time() - t_start > NO_TASK_EVENTS_S):
                    said_no_task_events = True
                    why = ("no task event in the first " + f"{NO_TASK_EVENTS_S:g} s: workers started without -E "
                           "(or worker_send_task_events) send none; the broker's queues are still watched")
                    out.obj("note", f"  note: {why}", note=why)
            with lock:
                fresh, pending[:] = list(pending), []
            for f in fresh:
                alerts += w.facts(f)
            if poller is not None and w.current is not None:
                queues = set(listed["names"]) | w.queues
                unconsumed = {q for q in queues if w.current.consumed(q) is False}
                queued: list[dict[str, Any]] = []
                with contextlib.suppress(Exception):  # the broker blinked: the next poll sees what this one missed
                    queued = poller.poll(unconsumed, unconsumed, time.time())[1]
                alerts += w.feed(queued, now=time.time())
            if time.time() >= next_tick:
                alerts += w.tick(time.time())
                next_tick = time.time() + TICK_S
            for a in alerts:
                out.alert(a)
            if alerts:  # the facts thread reads how these ended in the backend
                listed["risky"] = [a.callback_id for a in w.open_risks() if a.callback_id]
            if source == "recorder" and not alerts:
                stop.wait(poll_s)
    finally:
        stop.set()
        if events_source is not None:
            events_source.stop()
    code = w.exit_code()
    risks = w.open_risks()
    counts = ", ".join(f"{n} {s}" for s, n in sorted(w.counts.items())) or "no alert"
    out.obj("stopped", f"watched {time.time() - t_start:.1f} s: {counts}; "
            + (f"{len(risks)} chord(s) still at risk or stuck: " + ", ".join(a.callback_id or a.group_id or "?" for a in risks)
               if risks else "nothing at risk now") + f" (exit {code})",
            elapsed_s=round(time.time() - t_start, 3), alerts=w.counts, open=[a.to_dict() for a in risks], exit_code=code)
    return code


def check_watch_options(*, watch: bool, for_s: float | None, chords=(), groups=(), save: bool = False, logs=()) -> None:
    """--watch's options, checked before anything is read: one sentence (exit 254) for a combination that cannot be."""
    from lab.errors import LabError

    if not watch:
        raise LabError("--for bounds a --watch; give --watch too (doctor without it reads once and exits).")
    if chords or groups:
        raise LabError("--watch follows every chord of the deployment; drop --chord/--group (or run doctor "
                       "--chord <id> without --watch for one chord's proof).")
    if save:
        raise LabError("--watch prints alerts as they come and stores none; drop --save (--json gives them as data).")
    if logs:
        raise LabError("--watch reads no worker log; drop --log.")
