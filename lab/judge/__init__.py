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
a cause, the verdict is ``unknown``, never a guess.  So is every chord's when
the run lost its redis-server, and every chord's that did not complete when a
worker died that no fault of the scenario killed (what the evidence says
without the death is kept as evidence).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.scenario.model import excluded_queues
from lab.judge.causes import CAUSES  # noqa: E402,F401 (the meanings: written once, in the catalogue)
from lab.observe.model import LedgerEvent, Observations

FAILURE_STATES = {"FAILURE", "REVOKED"}
BACKEND_ERRORS = re.compile(r"OutOfMemoryError|TimeoutError|ConnectionError|BusyLoadingError|ReadOnlyError")
CONFIRM_MISSING_S = 1.0  # a message nowhere for this long after quiescence is gone, not in transit
ERROR_SETTLE_S = 3.0  # after a backend error, how long the part returns may still be finishing
HANG_AFTER_S = 5.0  # a part unfinished this long after its body should have ended, with the count complete, is blocked


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Verdict":
        """A stored verdict (a record's ``verdicts`` entry) as a Verdict again."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _t(obs: dict, t: float | None) -> str:
    if t is None:
        return "t=?"
    if obs.get("clock") == "wall":  # doctor's observations: a deployment's own history, in wall-clock time
        import datetime as _dt

        return "at " + _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + " UTC"
    return f"t={t - obs.get('started_at', t):.2f}s"


def _span(obs: dict, a: float | None, b: float | None) -> str:
    """``between t=1.00s and t=2.00s``, or in wall-clock time ``between 13:20:40.01 and 13:20:46.00 UTC``."""
    if obs.get("clock") == "wall" and a is not None and b is not None:
        return f"between {_t(obs, a)[3:-4]} and {_t(obs, b)[3:]}"
    return f"between {_t(obs, a)} and {_t(obs, b)}"


def size_key_lapse(ttl: dict | None, ends: list[dict]) -> dict | None:
    """Whether the chord's size key ran out by its TTL alone before the last part returned, and where.

    Celery sets ``.s`` as the header is sent, and every part return re-EXPIREs it with the returning worker's
    chord lifetime (the chord part return script), so ``.s`` lapses only in a gap between two returns (or the
    send and the first) longer than its lifetime.  A recorded end names that worker's lifetime
    (``chord_expires``); else the measured one stands for every return.  None: the TTL never ran out first."""
    walked = _walk_size_key(ttl, ends)
    return walked if walked and "part" in walked else None


def size_key_until(ttl: dict | None, ends: list[dict]) -> float | None:
    """When ``.s`` expires by its TTL, given the part returns so far: the moment it lapsed, else its last
    (re-)expiry plus its lifetime (see ``size_key_lapse``)."""
    walked = _walk_size_key(ttl, ends)
    return walked["expired_at"] if walked else None


def _walk_size_key(ttl: dict | None, ends: list[dict]) -> dict | None:
    if not ttl or ttl.get("pttl_ms", -2) < 0:
        return None
    life = ttl["pttl_ms"] / 1000.0
    alive, after = ttl["t"] + life, None
    for e in sorted((e for e in ends if e.get("t") is not None), key=lambda e: e["t"]):
        if e["t"] > alive:
            return {"expired_at": alive, "part": e, "after": after, "life": life}
        life = float(((e.get("chord_expires") or [None])[0]) or ttl["pttl_ms"] / 1000.0)
        alive, after = e["t"] + life, e
    return {"expired_at": alive, "life": life}


def lapse_when(lapse: dict) -> str:
    """``1.0 s before the first header part returned (id)``, or before the part whose return found it gone."""
    ago, part = lapse["part"]["t"] - lapse["expired_at"], lapse["part"]["task_id"]
    if lapse["after"] is None:
        return f"{ago:.1f} s before the first header part returned ({part})"
    return f"{ago:.1f} s before header part {part} returned"


def lapse_line(obs: dict, lapse: dict) -> str:
    part, after = lapse["part"], lapse["after"]
    since = f"part {after['task_id']} returned" if after else "the header was sent"
    gap = part["t"] - (after["t"] if after else lapse["expired_at"] - lapse["life"])
    return (f"ledger: part {part['task_id']} returned {_t(obs, part['t'])}, {gap:.1f} s after {since}: longer than .s "
            f"lives ({lapse['life']:g} s; each part return re-expires it), so it lapsed {_t(obs, lapse['expired_at'])}")


def size_ttl_line(obs: dict, ttl: dict, *, until: bool = True) -> str:
    """When the chord's size key was set and how long it was to live: measured just after sending (a lab run), or
    from the flight recorder (the producer's publish of the header, with its chord key lifetime).  ``until``:
    and when it would have expired with no part return to re-expire it."""
    expired_at = ttl["t"] + ttl["pttl_ms"] / 1000.0
    then = f", so with no part return it would have expired {_t(obs, expired_at)}" if until else ""
    if ttl.get("source") == "recorder":
        return (f"recorder: {ttl.get('by') or 'the producer'} sent the header {_t(obs, ttl['t'])}, when Celery sets .s to "
                f"live {ttl['pttl_ms'] / 1000:g} s ({ttl.get('which')}){then}")
    return f"backend: .s had PTTL {ttl['pttl_ms']} ms {_t(obs, ttl['t'])}{then}"


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

    def __init__(self, obs: Observations):
        self.obs = obs
        self.events: list[LedgerEvent] = obs.get("ledger") or []
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

    def servers_gone(self) -> str | None:
        """Why the final probe could not read the broker or the backend (a server died, unplanned), or None."""
        lost = self.probe.get("lost")
        errors = [f"{what} probe failed: {part['error']}" for what, part in
                  (("broker", self.probe.get("broker") or {}), ("backend", self.backend))
                  if part.get("error") and part.get("kind") != "database"  # the database probe says its own error
                  and not part.get("unread")]  # not asked, as its server is the one lost
        if lost:
            return "; ".join([lost, *errors])
        return "; ".join(errors) or None

    def by_name_published(self, name: str | None) -> list[dict]:
        return [e for e in self.events if e["event"] == "publish" and e.get("name") == name]

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
        if c.get("apply_error"):  # the producer's chord() call raised: no chord ever existed
            v.verdict, v.cause = "failed", "chord-refused"
            v.summary = f"applying the chord raised {c['apply_error']}"
            v.evidence = [f"producer: chord(header)(callback) raised {c['apply_error']}",
                          f"ledger: {len(self.by_name_published(c.get('header_task')))} header part(s) published; "
                          "nothing was sent, so nothing can be stuck",
                          f"config: result_backend {((self.obs.get('topology') or {}).get('result_backend'))!r}"]
            return v
        gone = self.servers_gone()
        if gone:  # the final reading could not be taken: no proof either way, so no verdict but unknown
            v.summary = f"the run lost a server no fault of the scenario took down: {gone}; the chord's state cannot be read"
            parts = c.get("header_ids") or []
            ended = {e["task_id"] for e in self.events if e["event"] == "end" and e.get("task_id") in parts}
            v.evidence = [f"probe: {gone}",
                          f"ledger: {len(ended)}/{len(parts)} header parts ended; "
                          f"{len(self.by_task(cid, 'start'))} start(s) of the callback"]
            if c.get("send_error"):
                v.evidence.insert(0, f"producer: sending this chord raised {c['send_error']}; the chords after it were never sent")
            return v
        if c.get("send_error"):  # the servers answer, yet sending it failed: how much of it went out is unknown
            v.summary = f"sending the chord raised {c['send_error']}, so what of it reached the broker cannot be told"
            v.evidence = [f"producer: sending this chord raised {c['send_error']}; the chords after it were never sent"]
            return v
        judged = self._by_evidence(v, c)
        deaths = self.unplanned_deaths()
        if deaths and judged.verdict != "completed":
            return self._worker_lost(judged, deaths)
        return judged

    def unplanned_deaths(self) -> list[dict]:
        """Workers found dead at the final probe that no fault of the scenario killed (by pid, else by name)."""
        kills = [f for f in self.faults() if f.get("fault") in ("kill-worker", "kill-container")]
        return [d for d in self.probe.get("exited") or []
                if not any(d.get("pid") in (f.get("pids") or []) or (not f.get("pids") and f.get("target") == d.get("hostname"))
                           for f in kills)]

    def _worker_lost(self, judged: Verdict, deaths: list[dict]) -> Verdict:
        """A chord that did not complete while a worker died unplanned: the death may be why, so unknown.

        Every chord that did not complete is affected: a dead worker takes its running parts, its
        prefetched messages and its queues' consumer with it, and the prefetched ones leave no
        trace in the ledger.  What the evidence would say without the death is kept, as evidence.
        """
        who = ", ".join(f"worker {_short_host(x.get('hostname'))} (pid {x.get('pid')}) died ({x.get('how')})" for x in deaths)
        v = Verdict(judged.index, judged.chord_id, "unknown", final=judged.final)
        v.summary = (f"{who}, and no fault of the scenario killed it: the chord did not complete, "
                     "and the death may be why" if len(deaths) == 1 else
                     f"{who}, and no fault of the scenario killed them: the chord did not complete, "
                     "and the deaths may be why")
        v.evidence = [f"process: worker {x.get('hostname')} (pid {x.get('pid')}) is gone ({x.get('how')}) "
                      f"at the probe {_t(self.obs, self.probe.get('t'))}; no kill-worker fault names it" for x in deaths]
        v.evidence.append(f"without the death, the evidence reads: {judged.verdict}"
                          + (f" · {judged.cause}" if judged.cause else "") + (f": {judged.summary}" if judged.summary else ""))
        v.evidence += judged.evidence
        return v

    def _by_evidence(self, v: Verdict, c: dict) -> Verdict:
        """The verdict the broker, backend, ledger and logs give, servers all up."""
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
            reruns = self.part_reruns(c)
            if any(e.get("redelivered") for e in starts) or reruns:
                args = [(e.get("args") or [None])[0] for e in starts]
                if all(a == c.get("expected") for a in args):
                    v.evidence.append(f"ledger: every run got the right results {c.get('expected')!r}")
                else:
                    v.evidence += [f"ledger: run {i + 1} got {a!r} (oracle {c.get('expected')!r})" for i, a in enumerate(args)]
                v.evidence += reruns[:3]
                v.cause = "message-redelivered"
                vt = ((self.scenario.get("config") or {}).get("broker_transport_options") or {}).get("visibility_timeout")
                v.summary += ("; the broker redelivered messages that were still unacknowledged"
                              + (f" after visibility_timeout ({vt} s)" if vt is not None else ""))
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
                if isinstance(got, list) and len(got) == len(expected):
                    v.summary = f"the callback ran with wrong results: {missing!r} missing, {extra!r} in their place"
                v.evidence = [f"ledger: callback got {got!r}", f"oracle: {expected!r}",
                              f"missing {missing!r}, extra {extra!r}"]
                return v
            if status == "SUCCESS":
                v.verdict = "completed"
                v.summary = (f"the callback ran once on {_short_host(start.get('worker'))} with the right {len(expected)} results"
                             if expected is not None else f"the callback ran once on {_short_host(start.get('worker'))} "
                             "and stored SUCCESS (your tasks' own results: no oracle to compare them with)")
                v.evidence = [f"ledger: callback ended {_t(self.obs, end['t'])} state {end.get('state')}",
                              "backend: callback meta SUCCESS"]
                reruns = self.part_reruns(c)
                if reruns:  # completed, but not cleanly: say what the chord survived
                    v.summary += f", although {len(reruns)} header part(s) ran more than once"
                    v.evidence += reruns[:4]
                copies = self.in_flight([cid, *(c.get("header_ids") or [])])
                if copies:  # a redelivered copy of the callback may still run: not final yet
                    v.final = False
                    v.evidence.append(f"broker: {len(copies)} message(s) of this chord still queued or unacked")
                return v
            v.verdict = "unrecorded"
            v.summary = ("the callback ran and succeeded, but its state reads PENDING: "
                         "no result was stored, or it has already expired")
            v.evidence = [f"ledger: callback ran {_t(self.obs, start['t'])}-{_t(self.obs, end['t'])} on "
                          f"{_short_host(start.get('worker'))}, state {end.get('state')}",
                          f"backend: no meta for callback {cid}"]
            for host, other in self.worker_backends().items():
                meta_there = (other.get("metas") or {}).get(cid)
                if meta_there:
                    v.cause = "backend-mismatch"
                    v.summary = (f"the callback ran and stored {meta_there.get('status')} in {_short_host(host)}'s result backend "
                                 f"({_place(other)}), which the producer never reads, so the producer reads PENDING")
                    v.evidence += [f"backend: {_short_host(host)}'s backend {_place(other)} holds callback meta "
                                   f"{meta_there.get('status')} {meta_there.get('result')!r}",
                                   f"backend: the producer reads {self.producer_place()}"]
                    break
            if self.backend.get("error"):  # the backend could not be read (a locked SQLite file): not proof of absence
                v.final = False
                v.evidence.append(f"backend: the probe failed: {self.backend['error']}")
            cfg = self.scenario.get("config") or {}
            if v.cause is None:
                self._expired(v, cid, end, cfg)
            if v.cause is None and cfg.get("task_ignore_result"):
                v.cause = "result-ignored"
                v.summary = ("the callback ran and succeeded, but task_ignore_result=True applies to it too: "
                             "its result is never stored, so its state reads PENDING forever")
                v.evidence.append("config: task_ignore_result=True, and the callback sets no ignore_result=False of its own")
            return v
        if status in FAILURE_STATES:
            return self._failed(v, c, meta, None)
        return self._not_run(v, c)

    def _expired(self, v: Verdict, cid: str, end: dict, cfg: dict) -> None:
        """A meta seen with a TTL while the read was held (``read_after``), and gone at the read: ``result-expired``."""
        history = [r for r in self.obs.get("meta_ttls") or [] if r.get("task_id") == cid]
        alive = [r for r in history if (r.get("pttl_ms") or 0) > 0]
        expires = cfg.get("result_expires")
        read_at = (self.obs.get("probe") or {}).get("t")
        if not alive:
            if isinstance(expires, (int, float)) and read_at and end.get("t") and read_at - end["t"] > expires:
                # no TTL was watched, so no proof it was stored: say what the config implies, name no cause
                v.evidence.append(f"config: result_expires={expires!r} s, and the read came {read_at - end['t']:.1f} s after "
                                  "the callback ended: a stored result would have expired by then (hold the read with "
                                  "read_after to watch its TTL)")
            return
        gone = next((r for r in history if r.get("pttl_ms") == -2 and r["t"] > alive[-1]["t"]), None)
        v.cause = "result-expired"
        v.summary = (f"the callback ran and stored its result, which expired "
                     f"{'(result_expires=' + str(expires) + ' s) ' if expires is not None else ''}before the read, "
                     "so its state reads PENDING")
        seen = [alive[0], alive[-1]] if len(alive) > 1 else alive
        v.evidence.append("backend: callback meta TTL " + ", ".join(f"{r['pttl_ms']} ms {_t(self.obs, r['t'])}" for r in seen)
                          + (f"; gone {_t(self.obs, gone['t'])}" if gone else "; gone at the final read"))
        if expires is not None:
            v.evidence.append(f"config: result_expires={expires!r} s; the read was held until "
                              f"{_t(self.obs, (self.obs.get('probe') or {}).get('t') or alive[-1]['t'])} (read_after)")

    def _failed(self, v: Verdict, c: dict, meta: dict | None, end: dict | None) -> Verdict:
        v.verdict = "failed"
        err = (meta or {}).get("result")
        if isinstance(err, dict) and "exc_type" in err:
            err_s = f"{err.get('exc_type')}: {_first(err.get('exc_message'))}".strip().splitlines()[0]
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
        elif end is None and err_s.startswith("NotRegistered"):
            # The discarding worker stores NotRegistered before its ledger line lands: same cause,
            # and probe again for the ledger's and the log's side of the proof.
            v.cause = "callback-unregistered"
            v.final = False
            v.evidence += self.log_lines("unregistered task")[:1]
        elif end is not None and "does not support chords" in f"{err_s} {end.get('result')}":
            v.cause = "chord-refused"  # the callback was a task that applies a chord inside the worker
            v.evidence += self.log_lines("does not support chords")[:1]
        elif end is not None:
            v.cause = "callback-raised"
        elif "Callback error" in err_s:
            v.cause = "callback-publish-error"
        elif "Dependency" in err_s:
            v.cause = "header-part-failed"
        elif "Join error" in err_s:
            v.cause = "join-error"
        if v.cause in ("header-part-failed", "join-error"):
            v.evidence += self._why_part_failed(c, err_s)
        if v.cause is None and end is None:
            # The ledger is read before the backend: a callback that ran and failed in between shows its FAILURE
            # but not yet its start and end (which name the cause). Probe again before saying no cause.
            v.final = False
        return v

    def _why_part_failed(self, c: dict, err_s: str) -> list[str]:
        """What made the header part fail, when it was not its own code: a fault, a backend error."""
        lines = [f"nemesis: {f['what']} {_t(self.obs, f['t'])}" for f in self.faults()][:2]
        m = re.search(r"raised (?:[a-z]+:)?([A-Za-z_.]+)", err_s)
        exc = m.group(1).split(".")[-1].split("(")[0] if m else None
        if exc and exc not in ("PartFailed",):
            lines += [ln for ln in self.log_lines(exc) if "Traceback" not in ln][:2]
        return lines

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
            if not self.consumers and (self.scenario.get("workers") or self.faults()):
                # Silence is not proof: a worker that is reconnecting (after a broker restart) answers nobody.
                v.final = False
                v.summary = f"the callback waits in queue {q!r}, and no worker answered `inspect active_queues`"
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
            v.evidence += self.excluded_by(q)
            v.evidence += self.route_lines(c, "callback", name or "", q, pub.get("by") if pub else None)
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
        if published and not discarded:
            counted = self._counted_in_queue(v, c, published[-1], part_ends, parts, no_meta)
            if counted is not None:
                return counted
        if published:
            if any(m.get("task_id") == cid for m in self.unacked):
                v.final = False
                v.summary = "the callback message is held, unacknowledged, by a worker"
            else:
                # Not final: between BRPOP and the unacked hash, or before its start reaches the
                # ledger, a delivered message is briefly in none of the places the probe reads.
                v.final = False
                v.summary = (f"the callback was published to {published[0].get('queue')!r} but is in no queue, "
                             "held by no worker and never ran")
            return v

        # The callback was never published: look at the header.
        if len(part_ends) < len(parts):
            return self._header_incomplete(v, c, part_starts, part_ends)
        return self._header_done_no_callback(v, c, part_ends, no_meta)

    def _part_return_error(self, v: Verdict, c: dict, keys: dict, ends: dict, no_meta: str) -> Verdict | None:
        """A backend error (OOM, a timeout) inside the part returns: a part left uncounted, or a dispatch left unfinished."""
        errors = [ln for ln in self.log_lines_all() if BACKEND_ERRORS.search(ln)]
        size = (keys.get(".s") or {}).get("value")
        if not errors or size is None:
            return None
        exc = BACKEND_ERRORS.search(errors[0]).group(0)
        parts = c.get("header_ids") or []
        card = int((keys.get(".j") or {}).get("card") or 0)
        total = int(size) + int((keys.get(".t") or {}).get("value") or 0)
        claim = keys.get(".c") or {}
        failed_metas = [p for p in parts if (self.metas.get(p) or {}).get("status") == "FAILURE"]
        no_part_meta = [p for p in parts if p not in self.metas]
        v.verdict, v.cause = "stuck", "part-return-error"
        if card < total:
            v.summary = (f"{total - card} part return(s) raised {exc} in the result backend and were never counted: "
                         f".j holds {card} of {total} forever")
        else:
            v.summary = (f"the count completed, but the worker that claimed the dispatch hit {exc} and could neither "
                         "send the callback nor store the chord's failure")
        v.evidence = [f"backend: .s = {size}, .j holds {card}"
                      + (f", .c = {claim.get('value')!r} (a dispatch claim, PTTL {claim.get('pttl_ms')} ms)"
                         if claim.get("type") not in (None, "none") else ", no .c"),
                      f"ledger: all {len(parts)} header parts ended "
                      + "/".join(sorted({e.get('state') or '?' for e in ends.values()})) + " (their bodies succeeded)"]
        if failed_metas:
            v.evidence.append(f"backend: part(s) {', '.join(failed_metas)} stored FAILURE: storing the result raised {exc}")
        if no_part_meta:
            v.evidence.append(f"backend: no meta for part(s) {', '.join(no_part_meta)}")
        v.evidence += [f"nemesis: {f['what']} {_t(self.obs, f['t'])}" for f in self.faults()][:1]
        v.evidence += (self.log_lines("Chord '") + [f"{ln}" for ln in errors[:1]])[:2]
        v.evidence += ["ledger: no worker published the callback; broker: it is in no queue", no_meta]
        last_end = max((e["t"] for e in ends.values() if e.get("t") is not None), default=None)
        now = self.probe.get("t")
        if last_end is None or now is None or now - last_end < ERROR_SETTLE_S:
            v.final = False  # a failing dispatch may still store the chord's failure: look again before saying stuck
        return v

    def log_lines_all(self) -> list[str]:
        return [f"{w} log: {ln.strip()}" for w, lines in self.logs.items() for ln in lines]

    def _blocked_in_part_return(self, v: Verdict, c: dict, p: str, s: dict, ends: dict) -> Verdict | None:
        """The chord's count is complete, yet a part never finished, long after its body's time.

        ``.j`` holding as many part returns as ``.s`` means every counted part
        has run its part return, this one included: what is left of it is the
        step after the count, where the worker that completed the count claims
        the dispatch and joins the header's results.  A join that does not come
        back holds the chord, and that pool process, forever.
        """
        meta = self.metas.get(p) or {}
        keys = (self.backend.get("chord_keys") or {}).get(c["chord_id"]) or {}
        size, join = keys.get(".s") or {}, keys.get(".j") or {}
        now = self.probe.get("t") or self.obs.get("finished_at")
        header_ids = c.get("header_ids") or []
        durations = c.get("durations") or []
        idx = header_ids.index(p) if p in header_ids else -1
        body_s = durations[idx] if 0 <= idx < len(durations) else 0.0
        if now is None or now - s["t"] < body_s + HANG_AFTER_S or self.by_task(c["chord_id"], "publish"):
            return None
        if size.get("value") is None or join.get("card") is None or int(join["card"]) < int(size["value"]):
            return None
        cfg = self.scenario.get("config") or {}
        timeout = cfg.get("result_chord_join_timeout", 3.0)
        v.verdict, v.cause = "stuck", "join-hang"
        v.summary = (f"the chord's count is complete but part {p} never finished: the worker that returned it is blocked "
                     f"in the chord's join, {now - s['t']:.0f} s on, although result_chord_join_timeout is {timeout} s")
        v.evidence = [f"ledger: part {p} started {_t(self.obs, s['t'])} on {_short_host(s.get('worker'))} (pid {s.get('pid')}), "
                      f"no end {now - s['t']:.1f} s later; its body sleeps {body_s} s",
                      f"backend: .j holds {join['card']} part returns of .s = {size['value']}: the count is complete, "
                      "this part's return included",
                      f"backend: part {p} meta {meta['status']}: its result was stored before the part return" if meta
                      else f"backend: no meta for part {p}: it stores none, yet .j counts it",
                      f"backend: .c {'absent (the dispatch claim was taken and expired)' if (keys.get('.c') or {}).get('type') in (None, 'none') else 'held'}; "
                      "no callback was published",
                      f"ledger: {len(ends)}/{len(header_ids)} header parts ended"]
        unstored = [h for h in header_ids if h not in self.metas and (h in ends or h == p)]
        if unstored:
            v.evidence.append(f"backend: no meta for part(s) {', '.join(unstored)}: the join waits for a result that will never exist")
        v.evidence.append(f"backend: no meta for callback {c['chord_id']}, so AsyncResult.state reads PENDING")
        return v

    def _counted_in_queue(self, v: Verdict, c: dict, pub: dict, part_ends: dict, parts: list,
                          no_meta: str) -> Verdict | None:
        """RabbitMQ: messages cannot be peeked without taking them, so the proof is by count.

        The broker says how many messages the queue holds and how many consumers
        it has; the ledger says which messages were published to it and which of
        them ever ran.  If the queue holds every published message that never ran,
        this callback among them, and it has no consumer, the callback waits there.
        """
        q = pub.get("queue")
        info = self.queues.get(q) or {}
        if "consumers" not in info or info.get("absent"):
            return None  # not a broker that counts consumers (Redis peeks instead)
        pubs = {e["task_id"] for e in self.events if e["event"] == "publish" and e.get("queue") == q}
        ran = {e["task_id"] for e in self.events if e["event"] in ("start", "unregistered") and e.get("task_id") in pubs}
        waiting = pubs - ran
        if c["chord_id"] not in waiting or info.get("length", 0) < len(waiting):
            return None
        if info.get("consumers") or [w for w, qs in self.consumers.items() if q in qs]:
            v.final = False
            v.summary = f"the callback waits in queue {q!r}, which has {info.get('consumers')} consumer(s)"
            return v
        if not self.consumers:
            v.final = False
            v.summary = f"the callback waits in queue {q!r}, and no worker answered `inspect active_queues`"
            return v
        v.verdict, v.cause = "stuck", "callback-queue-unconsumed"
        v.summary = (f"callback {_short(c.get('callback_task'))} is in queue {q!r}, which has no consumer "
                     f"({self.consumption_line()})")
        v.evidence = [f"ledger: {pub.get('by')} published callback {c['chord_id']} to queue {q!r} {_t(self.obs, pub['t'])}, "
                      "after the last part returned",
                      f"broker: queue {q!r} holds {info.get('length')} message(s) and has {info.get('consumers')} consumer(s) "
                      "(the broker's own count, by passive declare)",
                      f"ledger: {len(pubs)} message(s) were published to {q!r} and {len(waiting)} never ran, this callback "
                      f"among them: the {info.get('length')} message(s) in the queue are those",
                      f"workers (inspect active_queues): {self.consumption_line()}; none consumes {q!r}",
                      *self.excluded_by(q)]
        v.evidence += self.route_lines(c, "callback", c.get("callback_task") or "", q, pub.get("by"))
        if len(part_ends) == len(parts):
            v.evidence.append(f"ledger: all {len(parts)} header parts returned SUCCESS" if all(
                e.get("state") == "SUCCESS" for e in part_ends.values()) else f"ledger: all {len(parts)} header parts ended")
        v.evidence.append(no_meta)
        return v

    def route_lines(self, c: dict, role: str, name: str, q: str, publisher: str | None) -> list[str]:
        """Why ``name`` went to queue ``q``: the route as the node that published it reads it, and its source
        (the signature, the producer's config or that worker's).  Old records without route readings fall
        back to the scenario's task_routes as data."""
        readings = [r for r in self.obs.get("routes") or [] if r.get("role") == role and r.get("task") == name]
        if not readings:
            why = route_explanation(self.scenario, name, q)
            return [f"route: {why}"] if why and (c.get(f"{role}_queue") or q) == q else []
        mine = [r for r in readings if r.get("by") == publisher] or [r for r in readings if r.get("queue") == q]
        if not mine:
            return []
        r = mine[0]
        who = {"signature": "the signature", "producer": "the producer's config",
               "worker": f"the config of worker {_short_host(r.get('by'))}"}.get(r.get("source") or "", "unknown")
        line = f"route ({who}{', which published it' if r.get('by') == publisher and publisher else ''}): {r.get('why')}"
        others = sorted({f"{_short_host(o.get('by'))} → {o.get('queue')!r}" for o in readings
                         if o is not r and o.get("queue") != r.get("queue")})
        return [line] + ([f"route: the other publishers would send it elsewhere: {', '.join(others)}"] if others else [])

    def excluded_by(self, q: str) -> list[str]:
        """The workers whose own command line takes queue ``q`` away (``-X``): the evidence names the flag."""
        return [f"scenario: {w.get('name')} runs `celery worker {w.get('argv')}`, and -X takes {q!r} away from it"
                for w in self.scenario.get("workers") or [] if q in excluded_queues(w.get("argv"))]

    def _header_incomplete(self, v: Verdict, c: dict, starts: dict, ends: dict) -> Verdict:
        parts = c.get("header_ids") or []
        missing = [p for p in parts if p not in ends]
        # A part that died with its process decides the chord, whichever header index it has.
        died = [m for m in missing if m in starts and not self.where_waiting(m)
                and not any(u.get("task_id") == m for u in self.unacked) and self.died_with_its_process(m, starts[m])]
        p = died[0] if died else missing[0]
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
            died = self.died_with_its_process(p, s)
            if died:
                return self._part_lost(v, c, p, s, died, ends, starts)
            hung = self._blocked_in_part_return(v, c, p, s, ends)
            if hung is not None:
                return hung
            v.final = False
            v.summary = f"{head}; part {p} is still running on {_short_host(s.get('worker'))}"
            return v
        if p not in starts and lost_msg and self.probe.get("quiesced"):
            v.verdict, v.cause = "stuck", "header-part-missing"
            v.summary = f"header part {p} never ran and its message is in no queue"
            v.evidence = [f"ledger: {head}; part {p} has no start", "broker: no queue and no unacked entry holds it"]
            # Between BRPOP and the unacked hash (a fetch, a visibility-timeout restore) a message is
            # briefly nowhere the probe looks: only a state that lasts is proof.
            q = self.obs.get("quiescence") or {}
            v.final = q.get("how") == "bound" or (self.probe.get("t") or 0) - (q.get("t") or 0) >= CONFIRM_MISSING_S
            return v
        v.final = False
        v.summary = f"{head}; part {p} is unaccounted for"
        return v

    def died_with_its_process(self, tid: str, start: dict) -> str | None:
        """Why the process that ran part ``tid`` is known to be gone, or None.

        Two witnesses: the nemesis's timeline (it SIGKILLed that pid or its
        worker after the part started) and the quiescence check (the pid no
        longer ran while the part had no end).
        """
        for f in self.faults():
            if f.get("t", 0) < start["t"] or f.get("fault") not in ("kill-worker", "kill-pool-child"):
                continue
            if start.get("pid") in (f.get("pids") or []) or (
                    f.get("fault") == "kill-worker" and f.get("target") == start.get("worker")):
                return f"nemesis: {f['what']} {_t(self.obs, f['t'])}, while part {tid} ran in pid {start.get('pid')}"
        for d in (self.obs.get("quiescence") or {}).get("dead_parts") or []:
            if d.get("task_id") == tid and d.get("pid") == start.get("pid"):  # this run of it, not an earlier one
                return f"process: pid {d.get('pid')}, which ran part {tid}, no longer runs{d.get('how') or ''}"
        return None

    def worker_backends(self) -> dict[str, dict]:
        return self.backend.get("worker_backends") or {}

    def producer_place(self) -> str:
        return _place({"url": (self.obs.get("topology") or {}).get("result_backend"),
                       "keyprefix": ((self.scenario.get("config") or {}).get("result_backend_transport_options") or {}).get("global_keyprefix")})

    def _split_backends(self, v: Verdict, c: dict, keys: dict, ends: dict, no_meta: str) -> Verdict | None:
        """The parts returned into a backend other than the one the producer wrote the chord size to."""
        parts = c.get("header_ids") or []
        here_s = keys.get(".s") or {}
        for host, other in self.worker_backends().items():
            there = (other.get("chord_keys") or {}).get(c["chord_id"]) or {}
            there_j, there_s = there.get(".j") or {}, there.get(".s") or {}
            if there_j.get("type") in (None, "none") or there_s.get("type") not in (None, "none"):
                continue
            v.verdict, v.cause = "stuck", "backend-mismatch"
            v.summary = (f"the producer wrote the chord size to {self.producer_place()}, but the parts returned into "
                         f"{_short_host(host)}'s backend {_place(other)}, where no chord size exists")
            v.evidence = [f"backend (producer's, {self.producer_place()}): .s = {here_s.get('value', 'absent')}, "
                          f".j {'absent' if (keys.get('.j') or {}).get('type') in (None, 'none') else 'present'}",
                          f"backend ({_short_host(host)}'s, {_place(other)}): .j holds {there_j.get('card')} part result(s), "
                          "no .s",
                          f"ledger: all {len(parts)} header parts ended "
                          + "/".join(sorted({e.get('state') or '?' for e in ends.values()})) + f" on {_short_host(host)}",
                          "ledger: no worker published the callback; broker: it is in no queue", no_meta]
            return v
        return None

    def part_ends(self, c: dict) -> list[dict]:
        parts = set(c.get("header_ids") or [])
        return [e for e in self.events if e["event"] == "end" and e.get("task_id") in parts]

    def _chord_keys_lost(self, v: Verdict, c: dict, keys: dict, first: float | None, last: float | None,
                         no_meta: str) -> Verdict | None:
        """The chord size key is gone, and not by its TTL: evicted, flushed, or lost in a restart."""
        parts = c.get("header_ids") or []
        join_key = keys.get(".j") or {}
        stats = self.backend.get("stats") or {}
        ttl = self.size_ttls.get(c["chord_id"])
        expired_at = ttl["t"] + ttl["pttl_ms"] / 1000.0 if ttl and ttl.get("pttl_ms", -2) >= 0 else None
        if size_key_lapse(ttl, self.part_ends(c)) is not None:
            return None  # its TTL ran out first: chord-size-key-missing says so
        sent_at = c.get("sent_at") or self.obs.get("started_at") or 0
        wiped = [f for f in self.faults() if f.get("t", 0) >= sent_at and (last is None or f["t"] <= last) and (
            (f.get("fault") == "flushdb" and f.get("db") == self.backend_db())
            or (f.get("fault") == "restart-redis" and not f.get("persist")))]
        common = [f"ledger: the {len(parts)} header parts returned {_span(self.obs, first, last)}",
                  "backend: .s absent now; " + (f".j holds {join_key.get('card')} part result(s), written after the loss"
                                                 if join_key.get("type") not in (None, "none") else "no .j either"),
                  "ledger: no worker published the callback; broker: it is in no queue", no_meta]
        if expired_at is not None:
            common.insert(0, size_ttl_line(self.obs, ttl))
        if wiped:
            f = wiped[0]
            v.verdict, v.cause = "stuck", "backend-data-lost"
            v.summary = (f"the result backend lost the chord size key ({f['what']}) before the parts returned; "
                         "the part returns that followed could not complete the chord")
            v.evidence = [f"nemesis: {f['what']} {_t(self.obs, f['t'])}", *common]
            return v
        if stats.get("evicted_keys"):
            v.verdict, v.cause = "stuck", "chord-key-evicted"
            v.summary = (f"Redis evicted the chord size key under maxmemory ({stats.get('maxmemory')} B, "
                         f"policy {stats.get('maxmemory_policy')}) before the parts returned")
            fills = [f for f in self.faults() if f.get("fault") == "fill-redis"]
            v.evidence = [f"backend: evicted_keys = {stats['evicted_keys']}, maxmemory-policy {stats.get('maxmemory_policy')}",
                          *[f"nemesis: {f['what']} {_t(self.obs, f['t'])}" for f in fills[:1]], *common]
            return v
        return None

    def backend_db(self) -> int | None:
        url = ((self.obs.get("topology") or {}).get("result_backend")) or ""
        m = re.match(r"redis://[^/]+/(\d+)", url)
        return int(m.group(1)) if m else None

    def in_flight(self, task_ids: list[str]) -> list[str]:
        """Which of these tasks still have a message waiting in a queue or held unacknowledged."""
        held = {m.get("task_id") for m in self.unacked}
        return [t for t in task_ids if t in held or self.where_waiting(t)]

    def part_reruns(self, c: dict) -> list[str]:
        """One line per header part that started more than once, per the ledger."""
        lines = []
        for tid in c.get("header_ids") or []:
            starts = self.by_task(tid, "start")
            if len(starts) > 1:
                how = ", ".join(f"{_t(self.obs, e['t'])} on {_short_host(e.get('worker'))}"
                                + (" (redelivered)" if e.get("redelivered") else "") for e in starts)
                lines.append(f"ledger: part {tid} started {len(starts)} times: {how}")
        return lines

    def faults(self) -> list[dict]:
        return [e for e in self.obs.get("timeline") or [] if e.get("kind") == "fault"]

    def heals(self) -> list[dict]:
        return [e for e in self.obs.get("timeline") or [] if e.get("kind") == "heal"]

    def _part_lost(self, v: Verdict, c: dict, p: str, s: dict, died: str, ends: dict, starts: dict) -> Verdict:
        parts = c.get("header_ids") or []
        lost = [t for t in parts if t not in ends and t in starts]
        cfg = self.scenario.get("config") or {}
        acks_late = bool(cfg.get("task_acks_late")) or bool((c.get("part_options") or {}).get("acks_late"))
        v.verdict, v.cause = "stuck", "header-part-lost"
        # A pool child's death is its parent's to report (WorkerLostError, or a requeue): while the
        # worker that ran the part lives on, it may still do so, late under load.
        worker_killed = any(f.get("fault") == "kill-worker" and f.get("target") == s.get("worker") and f["t"] >= s["t"]
                            for f in self.faults())
        v.final = worker_killed or s.get("worker") not in self.consumers
        v.summary = (f"{len(lost)} header part(s) died with the process that ran them and were never run again: "
                     + ("the message had been acknowledged when the part started (acks_late=False)" if not acks_late
                        else "the message was not redelivered"))
        v.evidence = [f"ledger: {len(ends)}/{len(parts)} header parts ended",
                      f"ledger: part {p} started {_t(self.obs, s['t'])} on {_short_host(s.get('worker'))} in pid {s.get('pid')}, "
                      "and never ended", died]
        v.evidence += [f"nemesis: {h['what']} {_t(self.obs, h['t'])}" for h in self.heals()][:2]
        v.evidence.append(f"broker: part {p} is in no queue and unacked by no worker"
                          + (f"; {self.consumption_line()}" if self.consumers else ""))
        held = [t for t in parts if t not in ends and any(u.get("task_id") == t for u in self.unacked)]
        if held:  # prefetched by the dead worker, never started: back only after the visibility timeout
            vt = ((cfg.get("broker_transport_options") or {}).get("visibility_timeout"))
            v.evidence.append(f"broker: {len(held)} more part(s) the dead worker had prefetched wait in the unacked hash, "
                              f"redelivered only after visibility_timeout ({vt if vt is not None else 3600} s)")
        v.evidence.append(f"backend: no meta for callback {c['chord_id']}, so AsyncResult.state reads PENDING")
        return v

    def _header_done_no_callback(self, v: Verdict, c: dict, ends: dict, no_meta: str) -> Verdict:
        parts = c.get("header_ids") or []
        keys = (self.backend.get("chord_keys") or {}).get(c["chord_id"]) or {}
        last = max((e["t"] for e in ends.values() if e.get("t") is not None), default=None)
        first = min((e["t"] for e in ends.values() if e.get("t") is not None), default=None)
        not_returned = [e for e in ends.values() if e.get("state") not in ("SUCCESS", "FAILURE", "RETRY")]
        if self.backend.get("kind") == "redis":
            size_key = keys.get(".s") or {}
            join_key = keys.get(".j") or {}
            split = self._split_backends(v, c, keys, ends, no_meta)
            if split is not None:
                return split
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
            if size_key.get("type") in (None, "none"):
                lost = self._chord_keys_lost(v, c, keys, first, last, no_meta)
                if lost is not None:
                    return lost
            if size_key.get("type") in (None, "none") and join_key.get("type") not in (None, "none"):
                v.verdict, v.cause = "stuck", "chord-size-key-missing"
                ttl = self.size_ttls.get(c["chord_id"])
                ev = []
                lapse = size_key_lapse(ttl, list(ends.values()))
                if lapse:
                    v.summary = f"the chord size key expired {lapse_when(lapse)}, so no return after it could complete the chord"
                    ev += [size_ttl_line(self.obs, ttl, until=False), lapse_line(self.obs, lapse)]
                elif ttl and ttl.get("pttl_ms", -2) >= 0:
                    v.summary = "the chord size key was gone when the last part returned"
                    ev.append(size_ttl_line(self.obs, ttl))
                else:
                    v.summary = "the chord size key was missing when the parts returned"
                    ev.append("backend: .s was not seen with a TTL after sending")
                ev.append(f"ledger: the {len(parts)} header parts returned {_span(self.obs, first, last)}")
                ev.append(f"backend: .s absent now; .j holds {join_key.get('card')} part result(s) (PTTL {join_key.get('pttl_ms')} ms)")
                stats = self.backend.get("stats") or {}
                if stats.get("evicted_keys"):
                    ev.append(f"backend: evicted_keys = {stats['evicted_keys']}")
                ev.append("ledger: no worker published the callback; broker: it is in no queue")
                ev.append(no_meta)
                v.evidence = ev
                return v
            if size_key.get("type") in (None, "none") and join_key.get("type") in (None, "none"):
                claim = keys.get(".c") or {}
                if claim.get("value") == "done" or self.in_flight([c["chord_id"]]):
                    # Celery 5.7 leaves .c = "done" after a dispatch: the callback was sent, its
                    # publish or start has not reached the ledger yet.
                    v.final = False
                    v.summary = "the chord was dispatched (.c is 'done'); the callback has not started yet"
                    return v
                lapse = size_key_lapse(self.size_ttls.get(c["chord_id"]), list(ends.values()))
                stats = self.backend.get("stats") or {}
                if lapse:
                    # every key has expired since, and the history says when .s did: before a part returned
                    v.verdict, v.cause = "stuck", "chord-size-key-missing"
                    v.summary = (f"the chord size key expired {lapse_when(lapse)}, so no return after it could complete the "
                                 "chord; every chord key has expired since")
                    v.evidence = [size_ttl_line(self.obs, self.size_ttls[c["chord_id"]], until=False), lapse_line(self.obs, lapse),
                                  f"ledger: the {len(parts)} header parts returned {_span(self.obs, first, last)}",
                                  "backend: no chord key is left (.s, .j, .c absent)"
                                  + (f"; evicted_keys = {stats['evicted_keys']}" if stats.get("evicted_keys") else
                                     "; nothing was evicted"),
                                  "ledger: no worker published the callback; broker: it is in no queue", no_meta]
                    return v
                v.summary = "every chord key is gone and no callback was published: the keys were removed or evicted"
                v.evidence = [f"backend: no .s, no .j; evicted_keys = {stats.get('evicted_keys')}"]
                return v
            errored = self._part_return_error(v, c, keys, ends, no_meta)
            if errored is not None:
                return errored
            card = join_key.get("card")
            if size_key.get("value") is not None and card is not None and int(card) != int(size_key["value"]) + int((keys.get(".t") or {}).get("value") or 0):
                v.verdict, v.cause = "stuck", "chord-counter-mismatch"
                v.summary = f"all {len(parts)} parts returned, but .j counts {card} against a chord size of {size_key['value']}"
                v.evidence = [f"backend: .s = {size_key['value']}, .j holds {card}", f"ledger: {len(ends)} parts ended", no_meta]
                return v
            v.final = False  # the worker that completed the count may still be dispatching: probe again
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
        # Proof it retries forever: 3 runs, or one run after the last part ended that published its own retry
        # (the parts' results will never appear, and chord_unlock has max_retries=None).
        retried = len(unlock_runs) >= 3 or any(
            last is not None and s["t"] >= last and any(p["t"] >= s["t"] for p in unlock_pubs) for s in unlock_runs)
        if retried and not_returned:
            v.verdict, v.cause = "stuck", "chord-unlock-retrying"
            v.summary = (f"celery.chord_unlock has run {len(unlock_runs)} times and retries forever: "
                         f"{len(not_returned)} header part(s) stored no result")
            v.evidence = [f"ledger: chord_unlock ran {len(unlock_runs)} times, published {len(unlock_pubs)} times",
                          f"ledger: part {not_returned[0]['task_id']} ended {not_returned[0].get('state')}",
                          *self.log_lines("chord_unlock")[:2], no_meta]
            return v
        no_part_meta = [p for p in parts if p not in self.metas]
        if retried and no_part_meta and "error" not in self.backend:
            # The parts succeeded per the ledger, but stored nothing (ignore_result): chord_unlock
            # polls their metas, reads PENDING, and retries with max_retries=None.
            v.verdict, v.cause = "stuck", "chord-unlock-retrying"
            v.summary = (f"celery.chord_unlock has run {len(unlock_runs)} times and retries forever: "
                         f"{len(no_part_meta)} of {len(parts)} header parts ended SUCCESS but stored no result")
            retry_lines = self.log_lines("chord_unlock")
            v.evidence = [f"ledger: all {len(parts)} header parts ended "
                          + "/".join(sorted({e.get('state') or '?' for e in ends.values()})),
                          f"backend: no meta for header part(s) {', '.join(no_part_meta[:3])}"
                          + (" …" if len(no_part_meta) > 3 else "") + ", so they read PENDING",
                          f"ledger: celery.chord_unlock ran {len(unlock_runs)} times between "
                          f"{_t(self.obs, unlock_runs[0]['t'])} and {_t(self.obs, unlock_runs[-1]['t'])}, "
                          f"published {len(unlock_pubs)} times",
                          *retry_lines[:2], no_meta]
            return v
        v.final = False
        v.summary = f"all parts ended; chord_unlock ran {len(unlock_runs)} time(s); no callback yet"
        return v


def _place(backend: dict) -> str:
    """A result backend in words: its URL without the port's host, and its key prefix if any."""
    url = re.sub(r"//[^/@]*@", "//", str(backend.get("url") or "?"))  # no credentials in evidence
    prefix = backend.get("keyprefix")
    return url + (f" with global_keyprefix {prefix!r}" if prefix else "")


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


def judge(obs: Observations) -> list[Verdict]:
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
