"""The checker: a verdict, with proof, for every chord of a run.

    scenario → topology up → chords sent → observations → **verdict with proof** → record

A pure function of the stored observations (no processes, no I/O), so a stored
run can be judged again and the checker is tested on hand-built observations.

Verdicts: ``completed`` (the callback ran once, with the right results),
``stuck`` (it never ran and never will, with proof), ``failed`` (its state is
FAILURE), ``duplicated`` (it ran more than once), ``early`` (it ran with parts
missing or extra), ``unrecorded`` (it ran, yet its state reads PENDING), and
``unknown`` (the evidence does not decide).  A stuck verdict always names a
cause id and the evidence lines that prove it; where the evidence cannot prove
a cause, the verdict is ``unknown``, never a guess.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import asdict, dataclass, field
from typing import Any

CAUSES = {
    "callback-queue-unconsumed": "the callback message waits in a queue that no worker consumes",
    "callback-unregistered": "a worker without the callback task received its message and discarded it",
    "chord-size-key-missing": "the chord size key was gone when the parts returned, so no part return could complete the chord",
    "part-return-missing": "a header part ended without recording its return, so the count never completes",
    "header-queue-unconsumed": "a header part waits in a queue that no worker consumes",
    "header-part-unregistered": "a worker without the header task received a part and discarded it",
    "header-part-lost": "a header part started but never ended, and its message is nowhere",
    "header-part-missing": "a header part never ran, and its message is in no queue",
    "chord-unlock-unconsumed": "the celery.chord_unlock task waits in a queue that no worker consumes",
    "chord-unlock-retrying": "celery.chord_unlock retries forever because the header never reports ready",
    "chord-counter-mismatch": "the chord counter holds a different number of parts than the chord size",
    # causes of failed verdicts
    "callback-raised": "the callback ran and raised",
    "callback-publish-error": "publishing the callback raised (for example a signature that rejects the chord's arguments), so the chord is marked failed",
    "header-part-failed": "a header part raised, so the chord's callback is marked failed with ChordError",
    "join-error": "joining the header's results failed or timed out",
}

FAILURE_STATES = {"FAILURE", "REVOKED"}


@dataclass
class Verdict:
    index: int
    chord_id: str
    verdict: str
    cause: str | None = None
    summary: str = ""
    evidence: list[str] = field(default_factory=list)
    final: bool = True  # False: the evidence may still change (a callback in flight)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _t(obs: dict, t: float | None) -> str:
    if t is None:
        return "t=?"
    return f"t={t - obs.get('started_at', t):.2f}s"


def _short(name: str | None) -> str:
    return (name or "?").rsplit(".", 1)[-1]


def route_explanation(scenario: dict, task_name: str, queue: str | None) -> str | None:
    """Which task_routes entry sends ``task_name`` to ``queue``, in words."""
    routes = (scenario.get("config") or {}).get("task_routes")
    if not isinstance(routes, dict):
        return None
    for pattern, route in routes.items():
        target = route.get("queue") if isinstance(route, dict) else route
        if fnmatch.fnmatchcase(task_name, pattern) or (pattern.startswith("re:") and re.match(pattern[3:], task_name)):
            return f"task_routes entry {pattern!r} matches {task_name!r} and sends it to queue {target!r}"
    return f"no task_routes entry matches {task_name!r}, so it goes to the default queue"


class Judge:
    """Judges one run's observations."""

    def __init__(self, obs: dict):
        self.obs = obs
        self.events: list[dict] = obs.get("ledger") or []
        probe = obs.get("probe") or {}
        self.probe = probe
        self.queues: dict[str, dict] = (probe.get("broker") or {}).get("queues") or {}
        self.unacked: list[dict] = (probe.get("broker") or {}).get("unacked") or []
        workers = probe.get("workers") or {}
        self.consumers: dict[str, list[str]] = workers.get("consumers") or {}
        self.workers_error = workers.get("error")
        self.backend = probe.get("backend") or {}
        self.metas: dict[str, dict] = self.backend.get("metas") or {}
        self.logs: dict[str, list[str]] = probe.get("logs") or {}
        self.scenario = obs.get("scenario") or {}
        self.size_ttls = {r["chord_id"]: r for r in obs.get("size_ttls") or []}

    # -- evidence helpers --------------------------------------------------

    def by_task(self, tid: str, event: str) -> list[dict]:
        return [e for e in self.events if e.get("task_id") == tid and e["event"] == event]

    def where_waiting(self, tid: str) -> list[str]:
        return [q for q, info in self.queues.items() if any(m.get("task_id") == tid for m in info.get("messages") or [])]

    def consumers_of(self, queue: str) -> list[str]:
        broker_count = (self.queues.get(queue) or {}).get("consumers")
        named = sorted(w for w, qs in self.consumers.items() if queue in qs)
        if not named and broker_count:  # RabbitMQ counts consumers the workers did not name
            return [f"{broker_count} consumer(s) per the broker"]
        return named

    def consumption_line(self) -> str:
        if not self.consumers:
            return "no worker answered `inspect active_queues`"
        return "; ".join(f"{_short_host(w)} consumes {', '.join(qs) or 'nothing'}" for w, qs in sorted(self.consumers.items()))

    def log_lines(self, needle: str) -> list[str]:
        return [f"{w} log: {ln.strip()}" for w, lines in self.logs.items() for ln in lines if needle in ln][:3]

    # -- the verdict --------------------------------------------------------

    def judge_chord(self, c: dict) -> Verdict:
        v = Verdict(c.get("index", 0), c["chord_id"], "unknown")
        cid = c["chord_id"]
        starts, ends = self.by_task(cid, "start"), self.by_task(cid, "end")
        meta = self.metas.get(cid)
        status = (meta or {}).get("status")
        expected = c.get("expected")

        if len(starts) > 1:
            v.verdict = "duplicated"
            v.summary = f"the callback ran {len(starts)} times"
            v.evidence = [f"ledger: callback {_short(c['callback_task'])} started {_t(self.obs, e['t'])} on {_short_host(e.get('worker'))}"
                          + (" (redelivered)" if e.get("redelivered") else "") for e in starts]
            return v
        if starts:
            start = starts[0]
            if not ends:
                v.final = False
                v.summary = f"the callback started {_t(self.obs, start['t'])} on {_short_host(start.get('worker'))} and has not ended"
                return v
            end = ends[0]
            got = (start.get("args") or [None])[0]
            if end.get("state") in FAILURE_STATES or status in FAILURE_STATES:
                return self._failed(v, c, meta, end)
            if expected is not None and got != expected:
                v.verdict = "early"
                missing = _multiset_diff(expected, got if isinstance(got, list) else [])
                extra = _multiset_diff(got if isinstance(got, list) else [], expected)
                v.summary = f"the callback ran with {len(got) if isinstance(got, list) else got!r} results instead of {len(expected)}"
                v.evidence = [f"ledger: callback got {got!r}", f"oracle: {expected!r}",
                              f"missing {missing!r}, extra {extra!r}"]
                return v
            if status == "SUCCESS":
                v.verdict = "completed"
                v.summary = f"the callback ran once on {_short_host(start.get('worker'))} with the right {len(expected or [])} results"
                v.evidence = [f"ledger: callback ended {_t(self.obs, end['t'])} state {end.get('state')}",
                              f"backend: callback meta SUCCESS"]
                return v
            v.verdict = "unrecorded"
            v.summary = ("the callback ran and succeeded, but its state reads PENDING: "
                         "no result was stored, or it has already expired")
            v.evidence = [f"ledger: callback ran {_t(self.obs, start['t'])}-{_t(self.obs, end['t'])} on "
                          f"{_short_host(start.get('worker'))}, state {end.get('state')}",
                          f"backend: no meta for callback {cid}"]
            return v
        if status in FAILURE_STATES:
            return self._failed(v, c, meta, None)
        return self._not_run(v, c)

    def _failed(self, v: Verdict, c: dict, meta: dict | None, end: dict | None) -> Verdict:
        v.verdict = "failed"
        err = (meta or {}).get("result")
        if isinstance(err, dict) and "exc_type" in err:
            err_s = f"{err.get('exc_type')}: {_first(err.get('exc_message'))}"
        elif end is not None and end.get("result") is not None:
            err_s = str(end.get("result"))
        else:
            err_s = str(err)
        v.summary = f"the callback's state is {((meta or {}).get('status')) or (end or {}).get('state')}: {err_s}"
        v.evidence = [f"backend: callback meta {(meta or {}).get('status', 'absent')} {err_s}"]
        if end is not None:
            v.evidence.append(f"ledger: the callback ran on {_short_host(end.get('worker'))} and ended {end.get('state')}")
        else:
            v.evidence.append("ledger: the callback never ran; the chord machinery marked it failed")
        tb = (meta or {}).get("traceback") or ""
        if tb:
            v.evidence.append("traceback: " + tb.strip().splitlines()[-1])
        discarded = self.by_task(c["chord_id"], "unregistered")
        if discarded:  # Celery 5.x stores NotRegistered for a message a worker could not run
            v.cause = "callback-unregistered"
            v.evidence.append(f"ledger: {_short_host(discarded[0].get('worker'))} received the callback and discarded it "
                              f"as unregistered {_t(self.obs, discarded[0]['t'])}")
            v.evidence += self.log_lines("unregistered task")[:1]
            reg = (self.probe.get("workers") or {}).get("registered") or {}
            v.evidence += [f"workers (inspect registered): {_short_host(w)} lacks {c.get('callback_task')!r}"
                           for w, tasks in sorted(reg.items()) if c.get("callback_task") not in tasks]
        elif end is not None:
            v.cause = "callback-raised"
        elif "Callback error" in err_s:
            v.cause = "callback-publish-error"
        elif "Dependency" in err_s:
            v.cause = "header-part-failed"
        elif "Join error" in err_s:
            v.cause = "join-error"
        return v

    def _not_run(self, v: Verdict, c: dict) -> Verdict:
        cid = c["chord_id"]
        name = c.get("callback_task")
        published = self.by_task(cid, "publish")
        waiting = self.where_waiting(cid)
        discarded = self.by_task(cid, "unregistered")
        parts = c.get("header_ids") or []
        part_ends = {e["task_id"]: e for e in self.events if e["event"] == "end" and e.get("task_id") in parts}
        part_starts = {e["task_id"]: e for e in self.events if e["event"] == "start" and e.get("task_id") in parts}
        no_meta = f"backend: no meta for callback {cid}, so AsyncResult.state reads PENDING"

        if waiting:
            q = waiting[0]
            consumers = self.consumers_of(q)
            if consumers:
                v.final = False
                v.summary = f"the callback waits in queue {q!r}, which {', '.join(consumers)} consume(s)"
                return v
            if self.workers_error:
                v.summary = f"the callback waits in queue {q!r}, but the workers could not be asked who consumes it ({self.workers_error})"
                return v
            v.verdict, v.cause = "stuck", "callback-queue-unconsumed"
            pub = published[0] if published else None
            v.summary = (f"callback {_short(name)} is in queue {q!r}, which no worker consumes "
                         f"({self.consumption_line()})")
            v.evidence = []
            if pub:
                v.evidence.append(f"ledger: {pub.get('by')} published callback {cid} to queue {pub.get('queue')!r} "
                                  f"{_t(self.obs, pub['t'])}, after the last part returned")
            v.evidence.append(f"broker: queue {q!r} holds {self.queues[q].get('length')} message(s), including callback {cid}")
            v.evidence.append(f"workers (inspect active_queues): {self.consumption_line()}; none consumes {q!r}")
            why = route_explanation(self.scenario, name or "", q)
            if (c.get("callback_queue") or q) == q and why:
                v.evidence.append(f"route: {why}")
            if len(part_ends) == len(parts):
                v.evidence.append(f"ledger: all {len(parts)} header parts returned SUCCESS" if all(
                    e.get("state") == "SUCCESS" for e in part_ends.values()) else f"ledger: all {len(parts)} header parts ended")
            v.evidence.append(no_meta)
            return v
        if discarded:
            d = discarded[0]
            v.verdict, v.cause = "stuck", "callback-unregistered"
            v.summary = (f"worker {_short_host(d.get('worker'))} does not have callback {name!r}; "
                         f"it received the callback message and discarded it")
            v.evidence = [f"ledger: {_short_host(d.get('worker'))} discarded {cid} as unregistered {_t(self.obs, d['t'])}"]
            v.evidence += self.log_lines("unregistered task")
            reg = (self.probe.get("workers") or {}).get("registered") or {}
            for w, tasks in sorted(reg.items()):
                if name not in tasks:
                    v.evidence.append(f"workers (inspect registered): {_short_host(w)} lacks {name!r}")
            v.evidence.append("broker: the callback message is in no queue and unacked by no worker")
            v.evidence.append(no_meta)
            return v
        if published:
            if any(m.get("task_id") == cid for m in self.unacked):
                v.final = False
                v.summary = "the callback message is held, unacknowledged, by a worker"
            else:
                v.summary = (f"the callback was published to {published[0].get('queue')!r} but is in no queue, "
                             "held by no worker and never ran")
            return v

        # The callback was never published: look at the header.
        if len(part_ends) < len(parts):
            return self._header_incomplete(v, c, part_starts, part_ends)
        return self._header_done_no_callback(v, c, part_ends, no_meta)

    def _header_incomplete(self, v: Verdict, c: dict, starts: dict, ends: dict) -> Verdict:
        parts = c.get("header_ids") or []
        missing = [p for p in parts if p not in ends]
        p = missing[0]
        discarded = self.by_task(p, "unregistered")
        waiting = self.where_waiting(p)
        lost_msg = not waiting and not any(m.get("task_id") == p for m in self.unacked)
        head = f"{len(ends)}/{len(parts)} header parts ended"
        if discarded:
            v.verdict, v.cause = "stuck", "header-part-unregistered"
            v.summary = f"worker {_short_host(discarded[0].get('worker'))} does not have header task {c.get('header_task')!r} and discarded part {p}"
            v.evidence = [f"ledger: {head}", f"ledger: part {p} discarded as unregistered"] + self.log_lines("unregistered task")
            return v
        if waiting:
            q = waiting[0]
            if not self.consumers_of(q) and not self.workers_error:
                v.verdict, v.cause = "stuck", "header-queue-unconsumed"
                v.summary = f"{len(missing)} header part(s) wait in queue {q!r}, which no worker consumes ({self.consumption_line()})"
                v.evidence = [f"ledger: {head}", f"broker: queue {q!r} holds part {p}",
                              f"workers (inspect active_queues): {self.consumption_line()}"]
                return v
            v.final = False
            v.summary = f"{head}; part {p} waits in queue {q!r}"
            return v
        if p in starts and lost_msg:
            s = starts[p]
            alive = s.get("worker") in self.consumers
            if not alive:
                v.verdict, v.cause = "stuck", "header-part-lost"
                v.summary = (f"header part {p} started on {_short_host(s.get('worker'))} {_t(self.obs, s['t'])} and never ended; "
                             "that worker is gone and the message is in no queue")
                v.evidence = [f"ledger: {head}", f"ledger: part {p} started, no end",
                              f"workers: {_short_host(s.get('worker'))} did not answer `inspect` (gone)",
                              "broker: the part's message is in no queue and unacked by no worker"]
                return v
            v.final = False
            v.summary = f"{head}; part {p} is still running on {_short_host(s.get('worker'))}"
            return v
        if p not in starts and lost_msg and self.probe.get("quiesced"):
            v.verdict, v.cause = "stuck", "header-part-missing"
            v.summary = f"header part {p} never ran and its message is in no queue"
            v.evidence = [f"ledger: {head}; part {p} has no start", "broker: no queue and no unacked entry holds it"]
            return v
        v.final = False
        v.summary = f"{head}; part {p} is unaccounted for"
        return v

    def _header_done_no_callback(self, v: Verdict, c: dict, ends: dict, no_meta: str) -> Verdict:
        parts = c.get("header_ids") or []
        keys = (self.backend.get("chord_keys") or {}).get(c["chord_id"]) or {}
        last = max((e["t"] for e in ends.values()), default=None)
        first = min((e["t"] for e in ends.values()), default=None)
        not_returned = [e for e in ends.values() if e.get("state") not in ("SUCCESS", "FAILURE", "RETRY")]
        if self.backend.get("kind") == "redis":
            size_key = keys.get(".s") or {}
            join_key = keys.get(".j") or {}
            if not_returned:
                e = not_returned[0]
                v.verdict, v.cause = "stuck", "part-return-missing"
                v.summary = (f"{len(not_returned)} header part(s) ended {e.get('state')} without recording a return, "
                             f"so the count stays below the chord size")
                v.evidence = [f"ledger: part {e['task_id']} ended {e.get('state')} on {_short_host(e.get('worker'))}",
                              f"backend: .j holds {join_key.get('card', 0)} of {len(parts)} parts"
                              + (f", .s = {size_key.get('value')}" if size_key.get("type") not in (None, "none") else ""),
                              "broker: no callback was published", no_meta]
                return v
            if size_key.get("type") in (None, "none") and join_key.get("type") not in (None, "none"):
                v.verdict, v.cause = "stuck", "chord-size-key-missing"
                ttl = self.size_ttls.get(c["chord_id"])
                ev = []
                if ttl and ttl.get("pttl_ms", -2) >= 0:
                    expired_at = ttl["t"] + ttl["pttl_ms"] / 1000.0
                    v.summary = (f"the chord size key expired {first - expired_at:.1f} s before the first part returned "
                                 f"({last - expired_at:.1f} s before the last)") if first and first > expired_at else \
                        "the chord size key was gone when the last part returned"
                    ev.append(f"backend: .s had PTTL {ttl['pttl_ms']} ms {_t(self.obs, ttl['t'])}, so it expired {_t(self.obs, expired_at)}")
                else:
                    v.summary = "the chord size key was missing when the parts returned"
                    ev.append("backend: .s was not seen with a TTL after sending")
                ev.append(f"ledger: the {len(parts)} header parts returned between {_t(self.obs, first)} and {_t(self.obs, last)}")
                ev.append(f"backend: .s absent now; .j holds {join_key.get('card')} part result(s) (PTTL {join_key.get('pttl_ms')} ms)")
                stats = self.backend.get("stats") or {}
                if stats.get("evicted_keys"):
                    ev.append(f"backend: evicted_keys = {stats['evicted_keys']}")
                ev.append("ledger: no worker published the callback; broker: it is in no queue")
                ev.append(no_meta)
                v.evidence = ev
                return v
            if size_key.get("type") in (None, "none") and join_key.get("type") in (None, "none"):
                v.summary = "every chord key is gone and no callback was published: the keys were removed or evicted"
                stats = self.backend.get("stats") or {}
                v.evidence = [f"backend: no .s, no .j; evicted_keys = {stats.get('evicted_keys')}"]
                return v
            card = join_key.get("card")
            if size_key.get("value") is not None and card is not None and int(card) != int(size_key["value"]) + int((keys.get(".t") or {}).get("value") or 0):
                v.verdict, v.cause = "stuck", "chord-counter-mismatch"
                v.summary = f"all {len(parts)} parts returned, but .j counts {card} against a chord size of {size_key['value']}"
                v.evidence = [f"backend: .s = {size_key['value']}, .j holds {card}", f"ledger: {len(ends)} parts ended", no_meta]
                return v
            v.summary = "every part returned and the chord keys look complete, but no callback was published"
            return v
        # Backends without native join: celery.chord_unlock polls the header.
        unlocks = [e for e in self.events if e.get("name") == "celery.chord_unlock"]
        unlock_pubs = [e for e in unlocks if e["event"] == "publish"]
        unlock_runs = [e for e in unlocks if e["event"] == "start"]
        for q, info in self.queues.items():
            if any(m.get("name") == "celery.chord_unlock" for m in info.get("messages") or []) and not self.consumers_of(q):
                v.verdict, v.cause = "stuck", "chord-unlock-unconsumed"
                v.summary = f"celery.chord_unlock waits in queue {q!r}, which no worker consumes ({self.consumption_line()})"
                v.evidence = [f"broker: queue {q!r} holds celery.chord_unlock",
                              f"workers (inspect active_queues): {self.consumption_line()}",
                              f"ledger: all {len(parts)} header parts ended; chord_unlock ran {len(unlock_runs)} time(s)", no_meta]
                return v
        if len(unlock_runs) >= 3 and not_returned:
            v.verdict, v.cause = "stuck", "chord-unlock-retrying"
            v.summary = (f"celery.chord_unlock has run {len(unlock_runs)} times and retries forever: "
                         f"{len(not_returned)} header part(s) stored no result")
            v.evidence = [f"ledger: chord_unlock ran {len(unlock_runs)} times, published {len(unlock_pubs)} times",
                          f"ledger: part {not_returned[0]['task_id']} ended {not_returned[0].get('state')}",
                          *self.log_lines("chord_unlock")[:2], no_meta]
            return v
        v.final = False
        v.summary = f"all parts ended; chord_unlock ran {len(unlock_runs)} time(s); no callback yet"
        return v


def _short_host(host: str | None) -> str:
    return (host or "?").split("@", 1)[0]


def _first(v: Any) -> Any:
    if isinstance(v, (list, tuple)) and v:
        return v[0]
    return v


def _multiset_diff(a: list, b: list) -> list:
    rest = list(b)
    out = []
    for x in a:
        if x in rest:
            rest.remove(x)
        else:
            out.append(x)
    return out


def judge(obs: dict) -> list[Verdict]:
    """A verdict for every chord in the observations."""
    j = Judge(obs)
    return [j.judge_chord(c) for c in obs.get("chords") or []]


def summarize(scenario: dict, verdicts: list[Verdict]) -> dict[str, Any]:
    """The run's outcome: counts per verdict, causes, and whether it matched the expectation."""
    outcomes: dict[str, int] = {}
    for v in verdicts:
        outcomes[v.verdict] = outcomes.get(v.verdict, 0) + 1
    causes = sorted({v.cause for v in verdicts if v.cause})
    expect = scenario.get("expect")
    want_cause = scenario.get("expect_cause")
    reproduced = outcomes.get("stuck", 0) > 0
    if expect == "completed":  # the control and the fixes: every chord must complete
        matched = bool(verdicts) and all(v.verdict == "completed" for v in verdicts)
    else:  # a failure mode is reproduced when at least one chord shows it (with its cause, if named)
        matched = any(v.verdict == expect and (not want_cause or v.cause == want_cause) for v in verdicts)
    unknown = outcomes.get("unknown", 0) > 0
    status = "matched" if matched else ("unknown" if unknown else "mismatched")
    first_stuck = next((v for v in verdicts if v.verdict == "stuck"), None)
    return {"expected": expect, "reproduced": reproduced, "outcomes": outcomes, "causes": causes,
            "status": status, "proof": first_stuck.evidence if first_stuck else [],
            "summary": first_stuck.summary if first_stuck else None}
