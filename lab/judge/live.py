"""The judge of a live deployment: a diagnosis from a reading, and nothing else.

    a user's app + a chord id → observe.live (reads) → a reading → **judge.live** → verdict, cause, proof, fix

Pure: every rule here is a function of the reading (``observe.live.read_chord``
builds it; ``lab doctor --save`` stores it), with no I/O and no clock but the
reading's own ``t``.  So a diagnosis can be unit-tested on a hand-built reading,
stored, and judged again by ``lab show``.

The reading is first turned into the lab's observations (a part's meta is its
"end", a worker's active request its "start"; there is no ledger), and the
lab's own checker (``lab.judge.judge``) decides.  Then the live rules below
decide where the checker, built for a run's ledger, cannot: a header part that
failed; all parts returned but no dispatch; ``.s`` gone while the chord is
open, and how (evictions, FLUSHDB, a restart, a producer writing elsewhere,
expiry); chord_unlock retrying on parts that store no result; a dispatched
callback whose result is ignored; parts lost with a dead consumer; on RabbitMQ,
a dispatched callback in a queue with messages and no consumer.  A verdict
decided so says ``rule: doctor``.

With the flight recorder's history (``recorded_proof``), two causes are proven
from what the processes recorded, whatever keys have expired since: a part's
return refused by the backend (its ``internal_error`` in ``mark_as_done``, and
no failure of it taken after), and the producer setting the chord size in
another backend than the one the parts returned into (the ``backend`` each
recorded on the header's publish and on each part's end).  The same recorded
backends prove a restart lost ``.s`` (``.j`` still there, Redis younger than
the header: nothing wrote it elsewhere).  Once every key is gone, a flush or a
restart proves ``backend-data-lost`` only where the recorder records chord
errors (``records: ["chord_error"]`` on each part's end) and recorded neither
the callback's publish nor a chord error (``recorded_data_loss``): the count
never completed.  Where it could have missed a failed dispatch (an older
recorder, drops, a history that starts late), it only leans to it
(``data_loss_lead``).  A header part blocked in the chord's join is proven
(``join_hang``) from the saved header's nesting (the chord keys' ``meta``) and
the recorded returns (``stored``): a nested member that stored no result is
joined with no timeout, so the part that completed the count never ends.

Where the evidence is weaker, the rules say less.  A chord with a header part
that a worker holds (active, reserved or scheduled) or that waits in a
consumed queue is ``running``, never stuck; a size that counts parts nothing
names gives ``unknown`` with the ids that would decide it.  An id that nothing
links is judged by elimination: only when every chord the deployment still
holds gives the same verdict is that the answer, and the summary says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lab.judge import BACKEND_ERRORS, HANG_AFTER_S, judge, size_key_lapse
from lab.judge.causes import fix_for
from lab.observe.model import ChordRef, epoch, held_requests

CHORD_UNLOCK = "celery.chord_unlock"
WEAK_WITHOUT_LEDGER = {"header-part-missing"}  # the checker reads "no start in the ledger" as "never ran"; doctor has no ledger
NEEDS_EVERY_PART = {"chord-counter-mismatch"}  # proven only when every part the size counts is named
DISPATCH_MARKER_S = 300  # Celery keeps .c = done this long after a dispatch
REFUSED = ("OutOfMemoryError", "ReadOnlyError", "BusyLoadingError")  # Redis refused the command: it never ran
RETURN_CALLS = {"mark_as_done", "mark_as_failure", "on_chord_part_return"}  # a part's return: its result stored, counted


@dataclass
class Diagnosis:
    asked: str
    verdict: str  # stuck, completed, failed, running, unknown, unrecorded (the lab's vocabulary; running = not final yet)
    cause: str | None
    summary: str
    fix: str | None
    evidence: list[str]
    missing: list[str]
    ids: dict[str, Any]
    rule: str = "judge"  # judge (the lab's checker) or doctor (a live rule over the reading)
    likely_cause: str | None = None  # for "unknown": the cause the app's config points at, never a verdict

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Diagnosis":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Reading:
    """A pure view over one stored reading (``observe.live.read_chord``'s dict)."""

    def __init__(self, data: dict[str, Any], part: dict[str, Any] | None = None):
        self.data = data
        own = part or data  # a candidate chord's own part (ref, keys, backend, metas), shared parts from data
        self.ref = ChordRef.from_dict(own.get("ref") or {"asked": data.get("asked", "?")})
        self.keys_of = own.get("keys") or {}
        self.backend = own.get("backend") or {"kind": data.get("backend_kind"), "metas": {}}
        self.metas = own.get("metas") or {}
        self.workers = data.get("workers") or {}
        self.broker = data.get("broker") or {}
        self.conf = data.get("config") or {}
        self.broker_kind = data.get("broker_kind")
        self.backend_kind = data.get("backend_kind")
        self.logs = data.get("logs") or {}
        self.t = float(data.get("t") or data.get("started_at") or 0.0)
        self.held = held_requests(self.workers)
        self.recorded = data.get("recorded") or {}

    @property
    def history(self) -> list[dict[str, Any]]:
        """The flight recorder's events of this chord, when they can stand as its ledger: a recorder that
        dropped events, or whose history starts after the chord was sent, proves no absence, so then none."""
        rec = self.recorded
        events = rec.get("events") or []
        if not events or rec.get("dropped") or rec.get("error"):
            return []
        sent = [e for e in events if e["event"] == "publish" and e.get("task_id") in self.ref.header_ids]
        if not sent:  # the producer records nothing: the parts' own events, without their sending
            return events
        return events if (rec.get("oldest_t") or 0) <= min(e.get("t") or 0 for e in sent) else []

    def meta(self, tid: str | None) -> dict[str, Any] | None:
        return self.metas.get(tid) if tid else None

    @property
    def keys(self) -> dict[str, Any]:
        return self.keys_of if self.ref.group_id else {}

    def route(self, task: str | None) -> str | None:
        return (self.conf.get("routes") or {}).get(task) if task else None

    def ignores(self, task: str | None) -> bool:
        return bool(task) and task in (self.conf.get("ignoring_tasks") or [])

    def chord_expires(self) -> tuple[float | None, str]:
        exp, which = (self.conf.get("chord_expires") or [None, "result_chord_expires"])
        return exp, which

    @property
    def found(self) -> list[dict[str, Any]]:
        return self.broker.get("found") or []

    def ids(self) -> dict[str, Any]:
        ref = self.ref
        return {"group_id": ref.group_id, "callback_id": ref.callback_id, "callback_task": ref.callback_task,
                "header_ids": ref.header_ids, "header_task": ref.header_task, "size": ref.size, "asked_is": ref.asked_is,
                "how": ref.how}


def short(name: str | None) -> str:
    return (name or "?").rsplit(".", 1)[-1]


def consumers_line(workers: dict[str, Any]) -> str:
    cons = workers.get("consumers") or {}
    if not cons:
        return "no worker answered"
    return "; ".join(f"{w} consumes {', '.join(qs) or 'nothing'}" for w, qs in sorted(cons.items()))


# -- the reading as the lab's observations ------------------------------------------------------------


def observations(r: Reading) -> dict[str, Any]:
    """The reading as the lab's observations dict, with a ledger rebuilt from live state, so judge.judge can decide."""
    ref = r.ref
    cid = ref.callback_id or f"(the callback of group {ref.group_id})"
    chord = {"index": 0, "chord_id": cid, "group_id": ref.group_id, "header_ids": list(ref.header_ids),
             "header_task": ref.header_task, "callback_task": ref.callback_task,
             "callback_queue": r.route(ref.callback_task), "expected": None}
    events: list[dict[str, Any]] = []
    keys = (r.backend.get("chord_keys") or {}).get(cid) or {}
    returned = {m[1]: m[2] for m in (r.keys.get(".j") or {}).get("members") or [] if isinstance(m, list) and len(m) >= 3}
    for tid in ref.header_ids:  # a part's stored state (meta, or its .j member) is its "end"
        meta = r.meta(tid) or {}
        state = meta.get("status") or returned.get(tid)
        if state in ("SUCCESS", "FAILURE", "REVOKED", "IGNORED", "REJECTED"):
            events.append({"event": "end", "task_id": tid, "state": state, "t": epoch(meta.get("date_done")),
                           "worker": meta.get("worker"), "source": "backend"})
        elif state == "STARTED":
            events.append({"event": "start", "task_id": tid, "t": None,
                           "worker": (meta.get("result") or {}).get("hostname") if isinstance(meta.get("result"), dict) else None,
                           "source": "backend"})
    for h in r.held:
        if h["how"] == "active" and h["task_id"] in {*ref.header_ids, ref.callback_id}:
            events.append({"event": "start", "task_id": h["task_id"], "t": h.get("time_start"), "worker": h["worker"],
                           "args": h.get("args"), "source": "workers"})
    history = r.history
    unacked = [{"task_id": m.get("task_id"), "name": m.get("name")} for m in r.broker.get("unacked") or []]
    for h in r.held:
        if h["how"] in ("reserved", "scheduled"):
            unacked.append({"task_id": h["task_id"], "name": h["name"]})
            if h["task_id"] == ref.callback_id:
                events.append({"event": "publish", "task_id": h["task_id"], "queue": h.get("routing_key"),
                               "by": "?", "t": None, "source": "workers"})
    cmeta = r.meta(ref.callback_id) or {}
    res = cmeta.get("result")
    t = epoch(cmeta.get("date_done"))
    if ref.callback_id and cmeta.get("status") == "SUCCESS":
        events += [{"event": "start", "task_id": ref.callback_id, "t": t, "worker": cmeta.get("worker"), "args": None, "source": "backend"},
                   {"event": "end", "task_id": ref.callback_id, "t": t, "state": "SUCCESS", "worker": cmeta.get("worker"), "source": "backend"}]
    if (ref.callback_id and cmeta.get("status") == "FAILURE" and isinstance(res, dict)
            and res.get("exc_type") not in ("NotRegistered", "ChordError")):
        # any other error was raised by the callback's own code: it ran (ChordError and NotRegistered are
        # written for a callback that never ran)
        events += [{"event": "start", "task_id": ref.callback_id, "t": t, "worker": cmeta.get("worker"), "args": None, "source": "backend"},
                   {"event": "end", "task_id": ref.callback_id, "t": t, "state": "FAILURE", "worker": cmeta.get("worker"),
                    "result": f"{res.get('exc_type')}: {res.get('exc_message')}", "source": "backend"}]
    if isinstance(res, dict) and res.get("exc_type") == "NotRegistered":  # a worker received it without the task
        events.append({"event": "unregistered", "task_id": ref.callback_id, "worker": cmeta.get("worker"), "t": t,
                       "source": "backend"})
    if ((keys.get(".c") or {}).get("value") == "done" and ref.callback_id and not history
            and not any(e["event"] in ("publish", "start") and e["task_id"] == ref.callback_id for e in events)):
        events.append({"event": "publish", "task_id": ref.callback_id, "queue": chord["callback_queue"],
                       "by": "the worker that returned the last part (.c = done)", "t": None, "source": "backend"})
    if history:  # the recorder's events are the ledger; what the live state adds is kept where they say nothing
        said = {(e["event"], e.get("task_id")) for e in history}
        events = [{**e, "source": "recorder"} for e in history] + [e for e in events if (e["event"], e.get("task_id")) not in said]
    queues = {name: {"length": q.get("length", 0), "messages": [{"task_id": m.get("task_id"), "name": m.get("name")}
                                                               for m in q.get("messages") or []],
                     **({"consumers": q["consumers"]} if "consumers" in q else {})}
              for name, q in (r.broker.get("queues") or {}).items()}
    probe = {"t": r.t, "quiesced": True, "broker": {"queues": queues, "unacked": unacked},
             "workers": {"consumers": r.workers.get("consumers") or {}, "registered": r.workers.get("registered") or {},
                         **({"error": r.workers["error"]} if r.workers.get("error") else {})},
             "backend": r.backend, "logs": r.logs}
    return {"run_id": None, "scenario": {"config": {}}, "started_at": r.data.get("started_at", r.t), "chords": [chord],
            "clock": "wall", "size_ttls": recorded_size_ttls(history, cid, ref.header_ids), "ledger": events,
            "probe": probe, "quiescence": {"dead_parts": dead_parts(r, history)}}


def refusing_writes(r: Reading) -> bool:
    """The Redis backend has a maxmemory under noeviction, so when full it answers writes with OOM (INFO), and
    the recorder saw every part return from a flat header (no nested group to miscount): that is how the count
    fell short."""
    stats = r.backend.get("stats") or {}
    flat = [e for e in r.history if e["event"] == "publish" and e.get("task_id") in r.ref.header_ids]
    return (stats.get("maxmemory_policy") == "noeviction" and bool(stats.get("maxmemory"))
            and len(flat) == len(r.ref.header_ids) and all(e.get("group_index") is not None for e in flat))


def lapsed(obs: dict[str, Any]) -> bool:
    """The recorded history proves the chord's size key lapsed by its TTL before a part returned."""
    if not obs["size_ttls"]:
        return False
    parts = set(obs["chords"][0]["header_ids"])
    return size_key_lapse(obs["size_ttls"][0], [e for e in obs["ledger"] if e["event"] == "end"
                                                and e.get("task_id") in parts]) is not None


def recorded_size_ttls(history: list[dict[str, Any]], cid: str, header_ids: list[str]) -> list[dict[str, Any]]:
    """When the chord's size key was set and how long it was to live, from the recorder: Celery writes ``.s``
    as the producer sends the header, to live the producer's ``result_chord_expires`` (else ``result_expires``)."""
    sent = [e for e in history if e["event"] == "publish" and e.get("task_id") in header_ids and e.get("chord_expires")]
    if not sent:
        return []
    first = min(sent, key=lambda e: e.get("t") or 0)
    seconds, which = first["chord_expires"]
    if not seconds:
        return []
    return [{"chord_id": cid, "t": first["t"], "pttl_ms": int(float(seconds) * 1000), "source": "recorder",
             "which": which, "by": first.get("by")}]


def dead_parts(r: Reading, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded starts with no end, in a pid their worker no longer runs (``inspect stats``: its own pid and its
    pool's): the part died with that process.  A worker that did not answer is left to the judge (gone)."""
    procs = r.workers.get("processes") or {}
    ended = {e.get("task_id") for e in history if e["event"] == "end"}
    out = []
    for e in history:
        if e["event"] != "start" or e.get("task_id") in ended or e.get("task_id") not in r.ref.header_ids:
            continue
        now = procs.get(e.get("worker"))
        if now is None or e.get("pid") in [now.get("pid"), *(now.get("pool") or [])]:
            continue
        up = now.get("uptime")
        since = (f"; {e['worker']} now runs pid {now.get('pid')} (pool {', '.join(map(str, now.get('pool') or []))})"
                 + (f", started {_wall(r.t - float(up))}, after the part started" if up is not None
                    and r.t - float(up) > (e.get("t") or 0) else ""))
        out.append({"task_id": e["task_id"], "pid": e.get("pid"), "worker": e.get("worker"), "how": since})
    return out


def _wall(t: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- the diagnosis -----------------------------------------------------------------------------------


def diagnose(data: dict[str, Any]) -> Diagnosis:
    """The verdict, cause, proof and fix for the chord a reading is about: a function of the reading alone."""
    r = Reading(data)
    ident = r.ref.asked
    if r.backend_kind == "rpc":  # no chord can exist here: Celery refuses them on apply
        return Diagnosis(ident, "failed", "chord-refused",
                         "this app's result backend is rpc://, which refuses chords: applying one raises NotImplementedError",
                         fix_for("chord-refused", r), [f"config: result_backend = {r.conf.get('result_backend')!r}"], [],
                         {"asked_is": "unknown"}, rule="doctor")
    if r.ref.group_id is None and r.ref.callback_id is None:
        if data.get("candidates"):
            return _by_elimination(r, [diagnose_linked(Reading(data, c)) for c in data["candidates"]])
        return _untraceable(r)
    return diagnose_linked(r)


def diagnose_linked(r: Reading) -> Diagnosis:
    """A chord whose group or callback is known."""
    ref = r.ref
    obs = observations(r)
    v = judge(obs)[0]
    verdict = v.verdict if v.final else ("running" if v.verdict == "unknown" else v.verdict)
    d = Diagnosis(ref.asked, verdict, v.cause, v.summary, None, [], [], r.ids())
    own = recorded_proof(r, d) or join_hang(r) or live_rules(r, d)
    if own is not None:
        d = own
    elif d.cause == "chord-size-key-missing" and lapsed(obs):
        d.rule = "judge (recorded history)"  # the recorder says when .s was set and when it lapsed: no inference left
    elif d.cause == "chord-size-key-missing" and r.backend_kind == "redis" and ref.group_id:
        cause, why = why_size_key_gone(r)  # the checker sees .s missing; INFO and the TTLs tell how it went
        shared = recorded_same_backend(r)
        if shared is not None:
            d.evidence.append(f"recorder: {shared[1]}")
        if cause == "chord-size-key-missing" and obs["size_ttls"]:  # the recorded returns came in time: not expiry
            cause, why = None, ("the recorded part returns each came within .s's lifetime of the one before, so it "
                                "did not expire: something removed it (a producer or workers on another backend, a "
                                "flush, a client)")
        d.summary = f"{d.summary}: {why}"
        if cause is None:
            d.verdict, d.cause, d.rule, d.likely_cause = "unknown", None, "doctor", "backend-data-lost"
            d.missing.append(SIZE_KEY_WITNESS)
        elif cause == "chord-error":  # failed, not stuck: its callback holds the ChordError
            d.verdict, d.cause, d.rule = "failed", None, "doctor"
            d.missing.append("the callback's id, for the ChordError it holds: it names no group; ask with --chord <callback id>")
        elif cause != d.cause:
            d.cause, d.rule = cause, "doctor"
    errs = return_errors(r)
    if d.cause == "chord-counter-mismatch" and errs:
        # the live count is short, and the recorder saw part returns raise in the backend: as the lab proves it from
        # the workers' log lines
        d.cause, d.rule = "part-return-error", "doctor"
        d.summary = (f"{d.summary}: {len(errs)} part return(s) raised {str(errs[0].get('error')).split(':')[0]} in the "
                     "result backend (recorded), so they were never counted")
        d.evidence = [return_error_line(r, e) for e in errs]
    elif d.cause == "chord-counter-mismatch" and refusing_writes(r):
        # every part returned and fewer were counted, while Redis refuses writes: a return it refused is never counted
        stats = r.backend.get("stats") or {}
        d.cause, d.rule = "part-return-error", "doctor"
        d.summary = (f"{d.summary}: the backend has maxmemory {stats.get('maxmemory')} B under maxmemory-policy "
                     f"noeviction (used_memory {stats.get('used_memory')} B now), where a full Redis refuses writes (OOM) "
                     "instead of evicting, and a part return it refused is never counted")
        d.missing.append("the OOM error of the refused part return: the worker's log (--log)")
    weaker = in_flight_or_unnamed(r, d)
    if weaker is not None:
        d = weaker
    d.evidence = list(dict.fromkeys(d.evidence + evidence(r, d)))  # a rule's own proof lines first
    if r.history and d.rule.startswith("judge") and d.verdict == verdict:  # the checker decided on the recorded history
        d.rule = "judge (recorded history)"
        d.evidence = list(dict.fromkeys([ln.replace("ledger: ", "recorder: ", 1) for ln in v.evidence] + d.evidence))
    d.evidence += recorder_lines(r)
    if d.verdict == "unknown" and not d.missing:
        d.missing = missing(r)
    queue = waiting_queue(r) or r.route(ref.callback_task)
    if d.cause == "header-queue-unconsumed":
        queue = next((q for q, info in (r.broker.get("queues") or {}).items()
                      if any(m.get("task_id") in ref.header_ids for m in info.get("messages") or [])), queue)
    if d.cause == "callback-queue-unconsumed" and r.broker.get("counts_only"):
        queue = queue or next((q for q, _n in unconsumed_backlog(r)), None)
    d.fix = d.fix or fix_for(d.cause, r, queue)
    if d.verdict == "completed":
        cmeta = r.meta(ref.callback_id) or {}
        d.summary = (f"the callback ran and stored SUCCESS at {cmeta.get('date_done')}"
                     + (f" on {cmeta['worker']}" if cmeta.get("worker") else ""))
    if d.verdict == "unknown":
        data_loss_lead(r, d)
        leads(r, d)
        if ref.candidates:
            d.missing.append(f"the callback's id: FAILURE metas naming no group were stored just after the last part: "
                             f"{', '.join(ref.candidates[:5])}; ask with --chord <one of them>")
        exp, which = r.chord_expires()
        evicted = (r.backend.get("stats") or {}).get("evicted_keys")
        if d.summary.startswith("every chord key is gone") and exp and exp < 300 and not evicted:
            d.summary = (f"every chord key is gone and no callback was published; nothing was evicted (evicted_keys 0), and "
                         f"the app's chord keys live {exp:g} s ({which}): they most likely expired before the header ended")
        if r.backend_kind == "redis" and exp and exp < 300 and not d.likely_cause:
            d.likely_cause = "chord-size-key-missing"
            d.missing.append(f"likely cause: chord-size-key-missing ({which} = {exp:g} s: chord keys and results vanish "
                             "that fast, and with them the evidence)")
    if d.verdict == "stuck" and d.cause == "callback-queue-unconsumed" and not r.broker.get("counts_only"):
        n = len(r.workers.get("consumers") or {})
        d.summary = (f"callback {short(ref.callback_task)} is in queue {queue!r}, which none of {n} worker(s) consumes "
                     f"(they consume: {', '.join(sorted({q for qs in r.workers['consumers'].values() for q in qs})) or 'nothing'})")
    return d


# -- proofs from the flight recorder's history ---------------------------------------------------------


def _when(t: float | None) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-4] + " UTC" if t else "?"


def return_errors(r: Reading) -> list[dict[str, Any]]:
    """The recorded backend errors raised by header parts' returns (``internal_error`` in ``mark_as_done``,
    ``mark_as_failure`` or ``on_chord_part_return``), the first of each part, each with ``uncounted``: Redis refused
    the write (OOM, read-only, loading: the command never ran), and neither a failure of it was taken after
    (``failure``: stored and counted) nor did it start again."""
    hist = r.history
    parts = set(r.ref.header_ids)
    out: dict[str, dict[str, Any]] = {}
    for e in hist:
        if (e["event"] != "internal_error" or e.get("task_id") not in parts or e["task_id"] in out
                or not RETURN_CALLS & set(e.get("in") or []) or not BACKEND_ERRORS.search(str(e.get("error") or ""))):
            continue
        t = e.get("t") or 0
        after = [x for x in hist if x.get("task_id") == e["task_id"] and x["event"] in ("failure", "start")
                 and (x.get("t") or 0) >= t]
        out[e["task_id"]] = {**e, "uncounted": str(e.get("error") or "").startswith(REFUSED) and not after,
                             "after": after}
    return list(out.values())


def return_error_line(r: Reading, e: dict[str, Any]) -> str:
    end = next((x for x in r.history if x["event"] == "end" and x.get("task_id") == e["task_id"]), None)
    calls = [c for c in e.get("in") or [] if c in RETURN_CALLS or c == "store_result"]
    if e.get("uncounted"):
        then = ": Redis refused the write, and no failure of it was stored or counted after, nor did it run again"
    elif e.get("after"):
        then = f"; then {', '.join(x['event'] for x in e['after'])} of it was recorded"
    else:
        then = " (a timeout or a lost connection: whether the write landed cannot be told)"
    err = str(e.get("error") or "")
    err = err if len(err) <= 140 else err[:140] + "…"
    return (f"recorder: part {e['task_id']}" + (f" ended {end.get('state')} at {_when(end.get('t'))}, then" if end else "")
            + f" raised {err} on {e.get('worker')} in {' > '.join(calls) or 'its return'}{then}")


def backend_place(b: dict[str, Any] | None) -> str:
    if not b:
        return "?"
    where = f"{b.get('scheme')}://{b.get('host')}" + (f":{b['port']}" if b.get("port") else "")
    where += f"/{b['db']}" if b.get("db") is not None else ""
    return where + (f" with global_keyprefix {b['keyprefix']!r}" if b.get("keyprefix") else "")


def backends_differ(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str | None:
    """How two recorded backend identities are proven to be different stores (another scheme, database or key prefix,
    whatever the host is called), or None.  Another host or port alone proves nothing: one server may have two names."""
    if not a or not b:
        return None
    if a.get("scheme") != b.get("scheme"):
        return "another kind of backend"
    if a.get("db") != b.get("db"):
        return "another database"
    if (a.get("keyprefix") or None) != (b.get("keyprefix") or None):
        return "another key prefix (result_backend_transport_options global_keyprefix)"
    return None


def backends_same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Two recorded backend identities name the same store: the same scheme, host, port, database and key prefix."""
    keys = ("scheme", "host", "port", "db", "keyprefix")
    return bool(a and b) and all((a.get(k) or None) == (b.get(k) or None) for k in keys)


def recorded_backends(r: Reading) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Where the producer set the chord size (the backend on the header parts' recorded publish) and the recorded
    end of each header part that says where its return was counted."""
    parts = set(r.ref.header_ids)
    pubs = [e for e in r.history if e["event"] == "publish" and e.get("task_id") in parts and e.get("backend")]
    ends = [e for e in r.history if e["event"] == "end" and e.get("task_id") in parts and e.get("backend")]
    return (pubs[0]["backend"] if pubs else None), ends


def recorded_same_backend(r: Reading) -> tuple[dict[str, Any], str] | None:
    """The recorder's proof that the producer set the chord size in the backend doctor reads and that every header
    part returned there: the header's recorded publish and each part's recorded end name that same backend."""
    here = r.conf.get("backend_identity")
    producer, ends = recorded_backends(r)
    pub = next((e for e in r.history if e["event"] == "publish" and e.get("task_id") in r.ref.header_ids
                and e.get("backend")), None)
    if pub is None or not backends_same(producer, here) or not r.ref.header_ids:
        return None
    if {e["task_id"] for e in ends if backends_same(e["backend"], here)} != set(r.ref.header_ids):
        return None
    return pub, (f"{pub.get('by')} sent the header at {_when(pub.get('t'))} with result backend {backend_place(here)} "
                 f"(the one read here), and all {len(r.ref.header_ids)} parts returned into it (recorded)")


def started_before(r: Reading, uptime: Any) -> float:
    """The latest time this Redis can have started.  Redis floors its start time to the second and counts uptime in
    whole seconds of its cached clock, so a start at 10.9 read at 15.0 shows uptime 5: the start lies within a second
    either side of ``r.t - uptime``."""
    return r.t - int(uptime) + 1


def started_after(r: Reading, uptime: Any) -> float:
    """The earliest time this Redis can have started (``started_before``'s other side, from when the reading began)."""
    return float(r.data.get("started_at") or r.t) - int(uptime) - 1


def restart_relation(r: Reading, uptime: Any, pub: dict[str, Any]) -> str:
    """"after", when even the earliest start INFO allows is after the recorded publish, else "within a second of"."""
    return "after" if started_after(r, uptime) > (pub.get("t") or 0) else "within a second of"


def records_chord_errors(r: Reading) -> bool:
    """Every recorded end of a header part was written by a recorder that records chord errors (``records`` names
    ``chord_error``): the process that returned the last part would have recorded a failed dispatch."""
    ends = [e for e in r.history if e["event"] == "end" and e.get("task_id") in r.ref.header_ids]
    return bool(ends) and all("chord_error" in (e.get("records") or []) for e in ends)


def chord_errors(r: Reading) -> list[dict[str, Any]]:
    """The recorded chord errors of this chord: Celery failing its callback (``chord_error``)."""
    ref = r.ref
    return [e for e in r.history if e["event"] == "chord_error"
            and ((ref.callback_id and e.get("task_id") == ref.callback_id) or (ref.group_id and e.get("group_id") == ref.group_id))]


def loss_events(r: Reading, pub: dict[str, Any], last_end: float | None = None) -> list[str]:
    """What INFO shows of a loss of this server's keys since the header was sent: a flush (INFO counts them, without
    a time), or a start after the header was sent (and, given ``last_end``, not after the last part returned)."""
    stats = r.backend.get("stats") or {}
    uptime = stats.get("uptime_in_seconds")
    how = []
    if stats.get("flushes"):
        how.append(f"this Redis has run FLUSHDB/FLUSHALL {stats['flushes']} time(s) since it started (INFO does not say "
                   "when)")
    if uptime is None or started_before(r, uptime) < (pub.get("t") or 0):
        return how
    started = (f"this Redis started {uptime} s ago (at {_when(r.t - int(uptime))}, to the second), "
               f"{restart_relation(r, uptime, pub)} the header's send at {_when(pub.get('t'))}")
    if last_end is None:
        how.append(started)
    elif started_after(r, uptime) <= last_end:  # a start certainly after the last return cannot have lost .s before it
        before = "before" if started_before(r, uptime) <= last_end else "before (or within a second of)"
        how.append(f"{started} and {before} the last part's return at {_when(last_end)}")
    return how


def recorded_data_loss(r: Reading) -> tuple[str, list[str]] | None:
    """Every chord key and the callback's meta are gone, and the recorder proves the count never completed: a flat
    header whose every part's send and SUCCESS end it holds, each part returned into the backend read here by a
    recorder that records chord errors, and neither a callback publish nor a chord error nor any error of a part's
    return was recorded.  A count that completes always ends in one of those two, recorded in the process that
    returned the last part before that part's end.  With expiry (the recorded lifetime), eviction, another backend and
    a refused return ruled out, and INFO showing a flush or a restart since the header was sent: .s was lost before
    the last part returned.  (summary, proof lines), or None."""
    ref = r.ref
    hist = r.history
    parts = set(ref.header_ids)
    if r.keys or r.meta(ref.callback_id) or r.backend_kind != "redis" or not parts or not records_chord_errors(r):
        return None
    shared = recorded_same_backend(r)
    if shared is None:
        return None
    pub, line = shared
    sent = {e["task_id"]: e for e in hist if e["event"] == "publish" and e.get("task_id") in parts}
    if set(sent) != parts or any(e.get("group_index") is None for e in sent.values()) or (ref.size or len(parts)) != len(parts):
        return None  # a part's send not recorded, or a nested header (whose count can fall short by itself)
    ends = [e for e in hist if e["event"] == "end" and e.get("task_id") in parts]
    if any(e.get("state") != "SUCCESS" for e in ends):
        return None
    if chord_errors(r) or any(e.get("task_id") == ref.callback_id for e in hist):
        return None
    if any(e["event"] in ("internal_error", "failure") and e.get("task_id") in parts for e in hist):
        return None
    stats = r.backend.get("stats") or {}
    if stats.get("evicted_keys"):
        return None
    first_t = min(e.get("t") or 0 for e in sent.values())
    last_end = max(e.get("t") or 0 for e in ends)
    seconds, which = (pub.get("chord_expires") or [None, "unknown"])[:2]
    if which == "unknown" or (seconds and last_end - first_t >= float(seconds)):
        return None  # .s may have lapsed: not a loss
    how = loss_events(r, pub, last_end)
    if not how:
        return None
    life = f"{float(seconds):g} s, {which}" if seconds else f"forever, {which} unset"
    summary = (f"all {len(parts)} header parts returned into the backend read here and the count never completed: no "
               f"callback was published and no chord error was recorded, and a completed count always ends in one of "
               f"them; .s could not expire (it lives {life}) and nothing was evicted, and {' and '.join(how)}: .s was lost "
               "before the last part returned; every chord key and result has expired since")
    lines = [f"recorder: {line}",
             f"recorder: the header's {len(parts)} parts were sent from {_when(first_t)} and all ended SUCCESS by "
             f"{_when(last_end)}, within .s's lifetime ({life}): it did not expire",
             f"recorder: each part's return was recorded by a recorder that records chord errors (records: chord_error), "
             f"and none was recorded for callback {ref.callback_id} or group {ref.group_id}: a dispatch that failed is "
             "marked on the callback through Celery's chord_error_from_stack, which the recorder records in the process "
             "that returned the last part, before that part's end; so no dispatch was tried, and none failed",
             "recorder: no worker published the callback, and no part's return raised (no internal_error, no failure)",
             f"backend (INFO): uptime_in_seconds {stats.get('uptime_in_seconds')}, FLUSHDB/FLUSHALL calls "
             f"{stats.get('flushes')}, evicted_keys {stats.get('evicted_keys')}"]
    return summary, lines


def data_loss_lead(r: Reading, d: Diagnosis) -> None:
    """For "cannot tell" once every chord key is gone: the recorder shows every part returned into the backend read
    here and no callback published, and this Redis was flushed, or started after the header was sent.  That leans to
    backend-data-lost, but proves nothing: with the keys and the callback's meta gone, a loss before the last part
    returned (stuck) cannot be told from a dispatch that failed (a ChordError on the callback, gone with the rest)."""
    ref = r.ref
    shared = recorded_same_backend(r)
    if shared is None or r.keys or d.likely_cause or r.meta(ref.callback_id):
        return
    hist = r.history
    if any(e["event"] == "publish" and e.get("task_id") == ref.callback_id for e in hist) or return_errors(r):
        return
    pub, _line = shared
    stats = r.backend.get("stats") or {}
    uptime = stats.get("uptime_in_seconds")
    how = loss_events(r, pub)
    if not how:
        return
    d.likely_cause = "backend-data-lost"
    d.summary = (f"{d.summary}; every part returned into the backend read here and no callback was published (recorded), "
                 f"and {' and '.join(how)}: but with every chord key and the callback's meta gone, whether that removed .s "
                 "before the last part returned (stuck) or came after a dispatch that failed (a ChordError stored on the "
                 "callback, removed with the rest) cannot be told")
    d.evidence.append(f"recorder: {_line}")
    d.evidence.append(f"backend (INFO): uptime_in_seconds {uptime}, FLUSHDB/FLUSHALL calls {stats.get('flushes')}, "
                      f"evicted_keys {stats.get('evicted_keys')}")
    d.missing.append("likely cause: backend-data-lost; what would decide: the log of the worker that returned the last "
                     "part (--log: 'Chord ... raised' names a failed dispatch), or asking while the chord keys remain")
    if not records_chord_errors(r):
        d.missing.append("or a recorder in every worker that records chord errors: this one does not (its header parts' "
                         "ends carry no records: chord_error; install this version of lab.recorder)")


def recorded_proof(r: Reading, d: Diagnosis) -> Diagnosis | None:
    """Causes the recorded history proves on its own, keys or no keys: every header part ended (recorded), nothing
    published or stored the callback, and either the parts returned into another backend than the one the producer
    set the chord size in, or a part's return was refused by the backend, so the count can never reach the size."""
    ref = r.ref
    hist = r.history
    if not hist or d.verdict in ("completed", "failed") or not ref.header_ids or r.meta(ref.callback_id):
        return None
    if ref.size and len(ref.header_ids) < ref.size:
        return None
    ended = {e.get("task_id") for e in hist if e["event"] == "end"}
    if not set(ref.header_ids) <= ended:
        return None
    if any(e["event"] in ("publish", "start", "end") and e.get("task_id") == ref.callback_id for e in hist):
        return None
    no_callback = "recorder: no worker published the callback, and it has no meta"
    producer, ends = recorded_backends(r)
    split = [(e, backends_differ(producer, e["backend"])) for e in ends]
    split = [(e, how) for e, how in split if how]
    if split:
        e, how = split[0]
        pub = next(x for x in hist if x["event"] == "publish" and x.get("task_id") in ref.header_ids and x.get("backend"))
        return Diagnosis(d.asked, "stuck", "backend-mismatch",
                         f"the producer set the chord size in {backend_place(producer)}, and {len(split)} of "
                         f"{len(ref.header_ids)} header part(s) returned into {backend_place(e['backend'])} ({how}), where "
                         "no chord size exists: no part return can complete the chord",
                         None, [f"recorder: {pub.get('by')} sent the header at {_when(pub.get('t'))}, with result backend "
                                f"{backend_place(producer)}: Celery sets .s there",
                                *[f"recorder: part {x['task_id']} ended {x.get('state')} on {x.get('worker')} at "
                                  f"{_when(x.get('t'))}, with result backend {backend_place(x['backend'])}: its return was "
                                  "counted there" for x, _how in split[:3]],
                                no_callback], [], d.ids, rule="doctor")
    lost = recorded_data_loss(r)
    if lost is not None:
        summary, lines = lost
        return Diagnosis(d.asked, "stuck", "backend-data-lost", summary, None, lines, [], d.ids, rule="doctor")
    uncounted = [e for e in return_errors(r) if e["uncounted"]]
    if uncounted:
        exc = str(uncounted[0].get("error") or "").split(":")[0]
        keys = r.keys
        size, card = (keys.get(".s") or {}).get("value"), len((keys.get(".j") or {}).get("members") or [])
        now = (f": .j holds {card} against .s = {size}" if size is not None else
               "; every chord key has expired since" if not keys else "")
        return Diagnosis(d.asked, "stuck", "part-return-error",
                         f"{len(uncounted)} of {len(ref.header_ids)} part return(s) raised {exc} in the result backend, "
                         f"which refused the write, and were never counted, so the count can never reach the chord size{now}",
                         None, [*(return_error_line(r, e) for e in uncounted[:3]), no_callback], [], d.ids, rule="doctor")
    return None


def join_hang(r: Reading) -> Diagnosis | None:
    """A header part blocked for good in the chord's join, from the recorder and the saved header: the count is
    complete (.j holds .s), a header part whose return was recorded (``return``: its body ended) is still active
    ``HANG_AFTER_S`` later with no end (the lab's own rule for a hang), and the saved header names a nested group
    with a member whose recorded return stored no result (``stored`` false) and which has no meta.  Celery's
    ``join_native`` waits for top-level members with ``result_chord_join_timeout``, but calls ``.get()`` with no
    timeout on a nested group's members, so that join can never return.  Every top-level task member must have a
    meta (else the join would time out and fail the chord instead).  None where any piece is missing: no recorder
    history (or one that dropped events or starts late), a recorder that records no returns, the keys gone."""
    ref = r.ref
    hist = r.history
    if not hist or r.backend_kind != "redis" or not ref.header_ids or r.meta(ref.callback_id):
        return None
    header = (r.keys.get("meta") or {}).get("header")
    size, join = r.keys.get(".s") or {}, r.keys.get(".j") or {}
    card = join.get("card") if join.get("card") is not None else len(join.get("members") or [])
    try:
        complete = size.get("value") is not None and int(card) >= int(size["value"])
    except (TypeError, ValueError):
        return None
    if not header or not complete:
        return None
    if any(e["event"] in ("publish", "start", "end") and e.get("task_id") == ref.callback_id for e in hist):
        return None
    if any(not n.get("group") and not r.meta(n.get("id")) for n in header):
        return None  # a top-level member with no result: the join times out (a join error), it does not hang
    returns = {e["task_id"]: e for e in hist if e["event"] == "return" and "stored" in e}
    unstored = {e["task_id"]: e for e in hist if e["event"] in ("return", "end") and e.get("stored") is False}
    ended = {e.get("task_id") for e in hist if e["event"] == "end"}
    never = [(n, m) for n in header if n.get("group") for m in n.get("members") or []
             if m in unstored and not r.meta(m)]
    active = {h["task_id"]: h for h in r.held if h.get("how") == "active"}
    blocked = [t for t in ref.header_ids if t in active and t in returns and t not in ended
               and r.t - (returns[t].get("t") or r.t) >= HANG_AFTER_S]
    if not never or not blocked:
        return None
    x, (group, m) = blocked[0], never[0]
    ret, held, why = returns[x], active[x], unstored[m]
    ago = r.t - (ret.get("t") or r.t)
    self_join = " (its own result)" if m == x else ""
    summary = (f"header part {x} returned {ago:.0f} s ago (recorded) and is still active on {held['worker']}: the count "
               f"is complete (.j holds {card} of .s = {size['value']}), so the worker that returned the last part joins "
               f"the saved header, and its nested group {group['id']} holds member {m}{self_join}, whose result was never "
               "stored (its recorded return: stored false) and which has no meta; Celery joins a nested group's members "
               "with .get() and no timeout (result_chord_join_timeout applies to top-level members only), so that join "
               "can never return")
    lines = [f"recorder: part {x} returned at {_when(ret.get('t'))} on {ret.get('worker')} and has no end; workers: "
             f"{held['worker']} still holds it (active) {ago:.0f} s later, longer than the {HANG_AFTER_S:g} s a hang asks",
             f"backend: .s = {size['value']}, .j holds {card} part returns: the count is complete, so the part that "
             "completed it joins the header before it publishes the callback",
             f"backend: the saved header celery-taskset-meta-{ref.group_id} holds nested group {group['id']} (members "
             f"{', '.join(group.get('members') or [])}): Celery's join_native waits for them with children_result.get() "
             "and no timeout",
             f"recorder: nested member {m} {'returned' if why['event'] == 'return' else 'ended'} at {_when(why.get('t'))} "
             f"on {why.get('worker')} with stored false (request.ignore_result or the task's ignore_result): its result is "
             f"never written, and it has no meta, so the join waits for it forever",
             "recorder: no worker published the callback, and it has no meta"]
    return Diagnosis(ref.asked, "stuck", "join-hang", summary, None, lines, [], r.ids(), rule="doctor")


def in_flight(r: Reading) -> list[str]:
    """Header parts still on their way: held by a worker (any way), queued where a worker consumes, or fetched."""
    ref = r.ref
    consumed = {q for qs in (r.workers.get("consumers") or {}).values() for q in qs}
    out = [f"{h['worker']} holds part {h['task_id']} ({h['how']}"
           + (f", for {r.t - h['time_start']:.0f} s" if isinstance(h.get("time_start"), (int, float)) else "") + ")"
           for h in r.held if h.get("task_id") in ref.header_ids]
    for name, q in (r.broker.get("queues") or {}).items():
        for m in q.get("messages") or []:
            if m.get("task_id") in ref.header_ids and (name in consumed or q.get("consumers")):
                out.append(f"part {m['task_id']} waits in queue {name!r}, which a worker consumes")
    return out


def unnamed_parts(r: Reading) -> int:
    """Parts the chord size counts that no id read names."""
    return max(0, (r.ref.size or 0) - len(r.ref.header_ids))


def in_flight_or_unnamed(r: Reading, d: Diagnosis) -> Diagnosis | None:
    """Say less where the evidence is weaker: a part in flight is never stuck; unnamed parts decide nothing."""
    if d.verdict not in ("stuck", "running", "unknown") or d.cause in ("header-queue-unconsumed", "header-part-unregistered",
                                                                       "join-hang"):
        return None
    ref = r.ref
    moving = in_flight(r)
    if moving:
        return Diagnosis(d.asked, "running", None,
                         f"{len(moving)} header part(s) still in flight ({'; '.join(moving[:3])}): the chord is not stuck "
                         "while its header runs", None, [],
                         ["whether an active part is in its own code or blocked (a join that never returns): the live "
                          "state cannot tell them apart; ask again later, or read the worker's log (--log)"],
                         d.ids, rule="doctor")
    unnamed = unnamed_parts(r)
    if not unnamed or (d.verdict == "stuck" and d.cause not in NEEDS_EVERY_PART and d.rule != "judge"):
        return None
    others = [h for h in r.held if h.get("task_id") not in {*ref.header_ids, ref.callback_id}
              and (ref.header_task is None or h.get("name") == ref.header_task)]
    if others:
        return Diagnosis(d.asked, "running", None,
                         f"{unnamed} of {ref.size} header part(s) are named by no id read, and workers hold "
                         f"{len(others)} request(s) of {short(ref.header_task) if ref.header_task else 'tasks'} that may be "
                         f"them ({'; '.join(h['worker'] + ' ' + h['how'] for h in others[:3])}): not stuck while they run",
                         None, [], [], d.ids, rule="doctor")
    if (d.verdict == "stuck" and d.cause in NEEDS_EVERY_PART) or (d.verdict == "running" and d.rule == "judge"):
        return Diagnosis(d.asked, "unknown", None,
                         f"the chord size counts {ref.size} part(s) and only {len(ref.header_ids)} are named "
                         f"({len([t for t in ref.header_ids if r.meta(t)])} stored a result); nothing queued or held "
                         "names the rest, so whether they ran, failed to report or were lost cannot be told",
                         None, [], [f"the ids of the {unnamed} other header part(s) (the producer's "
                                    "`AsyncResult(id).parent.results`), or a worker log with --log"], d.ids, rule="doctor")
    return None


def _by_elimination(r: Reading, each: list[Diagnosis]) -> Diagnosis:
    """An id nothing links: decided only if every chord the deployment still holds gives the same answer."""
    ident = r.ref.asked
    groups = [c.ids.get("group_id") for c in each]
    answers = {(c.verdict, c.cause) for c in each}
    head = (f"nothing in this deployment names {ident}; the backend still holds {len(each)} chord(s) that are not done "
            f"(group {', '.join(g for g in groups if g)})")
    ids = {"asked_is": "callback (by elimination)", "callback_id": ident, "group_id": groups[0] if len(groups) == 1 else None,
           "candidate_groups": groups, "how": [h for c in each for h in c.ids.get("how") or []]}
    if len(answers) == 1 and each[0].verdict not in ("unknown", "completed"):
        first = each[0]
        summary = (f"{head}, and every one is {first.verdict}" + (f" · {first.cause}" if first.cause else "")
                   + f": if {ident} is the callback of a chord here, {first.summary}")
        ev = [f"elimination: {ident} has no meta, is in no readable queue and is held by no worker"] + first.evidence
        if r.broker.get("counts_only"):
            ev.append("broker: RabbitMQ queues are counted by passive declare; the waiting message itself was not read")
        return Diagnosis(ident, first.verdict, first.cause, summary, first.fix, ev, list(first.missing), ids,
                         rule="doctor", likely_cause=first.likely_cause)
    ev = [f"candidate group {c.ids.get('group_id')}: {c.verdict}" + (f" · {c.cause}" if c.cause else "") + f": {c.summary}"
          for c in each]
    ask = f"the chord's group id: ask with --group {' or --group '.join(g for g in groups if g)}"
    if len(answers) == 1:  # every candidate says unknown (or completed): nothing decides it
        return Diagnosis(ident, "unknown", None, f"{head}, and none of them can be decided", None, ev,
                         [ask, *dict.fromkeys(m for c in each for m in c.missing)], ids, rule="doctor")
    return Diagnosis(ident, "unknown", None, f"{head}, and they differ, so which is {ident}'s cannot be told", None, ev,
                     [ask], ids, rule="doctor")


def recorder_lines(r: Reading) -> list[str]:
    """What the flight recorder's history is worth here, in one line (none where there is no recorder)."""
    rec = r.recorded
    if not rec:
        return []
    n, where = len(rec.get("events") or []), rec.get("store")
    if rec.get("error"):
        return [f"recorder: its store {where} could not be read ({rec['error']}): judged on the live state alone"]
    if rec.get("dropped"):
        return [f"recorder: {n} event(s) of this chord in {where}, but it dropped {rec['dropped']} event(s) (its store "
                "was unreachable), so what it lacks proves nothing: judged on the live state, its events link ids only"]
    if n and not r.history:
        return [f"recorder: its history in {where} starts after this chord was sent (trimmed or expired): its events "
                "link ids only"]
    return [f"recorder: {n} event(s) of this chord in {where}, none dropped"] if n else \
        [f"recorder: no event of this chord in {where} (was install(app) in the producer and the workers when it ran?)"]


def live_rules(r: Reading, d: Diagnosis) -> Diagnosis | None:
    """Verdicts the live state proves where the lab's checker, built for a run's ledger, cannot decide."""
    weak = set() if r.history else WEAK_WITHOUT_LEDGER  # the recorder's history is a ledger: its absences prove
    if d.verdict in ("completed", "failed") or (d.verdict == "stuck" and d.cause not in weak):
        return None
    ref = r.ref
    keys = r.keys
    cmeta = r.meta(ref.callback_id)
    held_ids = {h.get("task_id") for h in r.held}
    queued_ids = {m.get("task_id") for m in r.found if str(m.get("where", "")).startswith("queue")}
    unacked_ids = {m.get("task_id") for m in r.broker.get("unacked") or []}
    returned = {m[1] for m in (keys.get(".j") or {}).get("members") or [] if isinstance(m, list) and len(m) > 1}
    dispatched = (keys.get(".c") or {}).get("value") == "done"

    def decided(cause: str | None, summary: str, verdict: str = "stuck", missing: list[str] | None = None) -> Diagnosis:
        return Diagnosis(d.asked, verdict, cause, summary, None, [], missing or [], d.ids, rule="doctor")

    def unlocks() -> list[dict[str, Any]]:
        return [m for m in [*r.held, *r.found] if m.get("name") == CHORD_UNLOCK and (m.get("args") or [None])[0] == ref.group_id]

    # 1. backends without native join: chord_unlock polls a header that stores no result
    if r.backend_kind not in ("redis", "rpc", "none") and ref.group_id:
        unlock = unlocks()
        retries = max([m.get("retries") or 0 for m in unlock] + [0])
        nowhere = [t for t in ref.header_ids if not r.meta(t) and t not in held_ids and t not in queued_ids]
        ignoring_tasks = r.conf.get("ignoring_tasks") or []
        ignoring = r.conf.get("task_ignore_result") or (ref.header_task in ignoring_tasks if ref.header_task else bool(ignoring_tasks))
        if unlock and nowhere and (retries >= 2 or ignoring):
            why = ("task_ignore_result=True" if r.conf.get("task_ignore_result")
                   else f"header task {ref.header_task!r} has ignore_result=True" if ref.header_task in ignoring_tasks
                   else f"this app's tasks that store no result: {', '.join(ignoring_tasks)}" if ignoring_tasks
                   else f"chord_unlock has retried {retries} time(s)")
            return decided("chord-unlock-retrying",
                           f"celery.chord_unlock retries forever: {len(nowhere)} of {len(ref.header_ids)} header part(s) "
                           f"stored no result, and none is queued or held by a worker ({why})")
    # 1b. no chord_unlock left, and the database backend does not keep the callback's id
    if r.backend_kind not in ("redis", "rpc", "none") and ref.group_id and ref.callback_id is None:
        unlock = unlocks()
        if not unlock and not ref.header_ids:
            return decided(None, f"nothing stored or queued names group {ref.group_id}: the database backend deletes a chord's "
                                 "group once chord_unlock has run its callback", "unknown",
                           ["the callback's id: ask with --chord <callback id>"])
        if not unlock and ref.header_ids and all(r.meta(t) for t in ref.header_ids):
            return decided(None, f"all {len(ref.header_ids)} header parts stored results and no celery.chord_unlock for this "
                                 "group is queued or held: it has run the callback (or was lost)", "unknown",
                           ["the callback's id: the database backend keeps no link from a group to its callback; "
                            "ask with --chord <callback id>"])
    # 2a. dispatched, and the callback's result is never stored
    ignores = bool(r.conf.get("task_ignore_result")) or r.ignores(ref.callback_task)
    if dispatched and not cmeta and ignores and not ({ref.callback_id} & (held_ids | queued_ids | unacked_ids) - {None}):
        why = "task_ignore_result=True" if r.conf.get("task_ignore_result") else f"{ref.callback_task} has ignore_result=True"
        return decided("result-ignored", f"the callback was dispatched (.c = done) and is in no queue and held by no worker, "
                                         f"but {why}: its result is never stored, so its state reads PENDING forever", "unrecorded")
    # 2b. RabbitMQ: a dispatched callback, counted and not read, in a queue nobody consumes
    if r.broker_kind == "rabbitmq" and dispatched and not cmeta:
        proven = rabbitmq_unconsumed(r)
        if proven:
            return decided("callback-queue-unconsumed", proven)
    # 2. dispatched, but the callback's id cannot be linked
    if ref.callback_id is None and dispatched:
        ttl = (keys[".c"].get("pttl_ms") or 0) / 1000
        return decided(None, f"the header completed and a worker dispatched the callback (.c = done, for {ttl:.0f} s more), "
                             "but nothing links this group to the callback's id", "unknown",
                       ["the callback's id: a callback meta written by the chord machinery (ChordError) or by a worker "
                        "that lacked the task (NotRegistered) names no group; ask with --chord <callback id>"])
    # 3. a header part failed: Celery drops .s after the ChordError
    failed_parts = [m for m in (keys.get(".j") or {}).get("members") or []
                    if isinstance(m, list) and len(m) >= 4 and m[2] in ("FAILURE", "REVOKED")]
    if failed_parts and ".s" not in keys:
        tid, err = failed_parts[0][1], failed_parts[0][3]
        err_s = f"{err.get('exc_type')}: {err.get('exc_message')}" if isinstance(err, dict) else str(err)
        return decided("header-part-failed", f"header part {tid} raised ({err_s}), so Celery marked the chord's callback "
                                             "FAILURE with ChordError and dropped its size key", "failed")
    # 3b. the recorder saw a part fail, and its chord's keys and results are gone since: Celery failed the chord
    raised = [e for e in r.history if e["event"] == "end" and e.get("task_id") in ref.header_ids
              and e.get("state") == "FAILURE"]
    if raised and not cmeta and not keys:
        e = raised[0]
        return decided("header-part-failed", f"header part {e['task_id']} raised on {e.get('worker')} (the recorder saw it end "
                                             f"FAILURE{': ' + e['error'] if e.get('error') else ''}), so Celery marked the "
                                             "chord's callback FAILURE with ChordError; that result and the chord keys are "
                                             "gone since (expired or removed), so its state reads PENDING now", "failed")
    # 4. every part returned, yet no dispatch: the count could not complete
    done_at = [epoch((r.meta(t) or {}).get("date_done")) for t in ref.header_ids]
    if (r.backend_kind == "redis" and ref.header_ids and not keys and not cmeta and all(done_at)
            and not (held_ids | queued_ids) & {*ref.header_ids, ref.callback_id}
            and r.t - max(done_at) < DISPATCH_MARKER_S - 10):
        exp, which = r.chord_expires()
        return decided("chord-size-key-missing",
                       f"all {len(ref.header_ids)} header parts returned, the last {r.t - max(done_at):.0f} s ago, "
                       "but the chord was never dispatched (no .c marker, which lives 300 s after a dispatch) and its keys are gone"
                       + (f": they live {exp:g} s ({which})" if exp else ""))
    # 5. the size key is gone while the chord is open: which way it went
    if keys and ".s" not in keys and (".j" in keys or ".d" in keys) and ".c" not in keys and not cmeta:
        cause, why = why_size_key_gone(r)
        gone_why = decided(cause, f"the chord size key .s is gone while the chord is open ({len(returned)} part(s) returned): "
                                  f"no part return can complete it; {why}", "stuck" if cause else "unknown",
                           None if cause else [SIZE_KEY_WITNESS])
        gone_why.likely_cause = None if cause else "backend-data-lost"
        return gone_why
    # 7. header parts that are nowhere: no meta, not returned, not queued, held by no live worker
    gone = [t for t in ref.header_ids if not r.meta(t) and t not in returned and t not in held_ids
            and t not in queued_ids and t not in unacked_ids]
    orphaned = [t for t in unacked_ids if t and t not in held_ids]  # delivered to a consumer that no longer answers
    untraced = unnamed_parts(r)  # parts the chord size counts that left no trace at all
    if untraced and orphaned and not cmeta:
        return decided("header-part-lost",
                       f"{untraced} of {ref.size} header part(s) left no trace (no result, in no queue, held by no worker), and a "
                       f"consumer died holding {len(orphaned)} message(s) still in the unacked set: the parts it had started died with it")
    if gone and not r.ignores(ref.header_task):
        if orphaned:
            return decided("header-part-lost",
                           f"{len(gone)} header part(s) are nowhere (no result, in no queue, held by no worker) and a consumer "
                           f"died holding {len(orphaned)} message(s) still in the unacked set: the parts it had started died with it")
        if d.verdict == "stuck" and not keys and not r.history:
            # no chord key left and no ledger: a part with no result may have run and expired with the rest
            return decided(None, f"every chord key is gone (expired or removed), and {len(gone)} header part(s) "
                                 f"({', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''}) have no result, are in no "
                                 "queue and are held by no worker: each may have run and had its result expire with the "
                                 f"keys; {no_ledger(r)}", "unknown",
                           ["whether those parts ran: a recorder history that dropped nothing and reaches back to the "
                            "header's send (lab.recorder installed in the producer and every worker), a worker log "
                            "(--log), or asking while the chord keys remain"])
        if d.verdict == "stuck":
            return None  # the checker's header-part-missing stands
    parked = [t for t in ref.header_ids if t in unacked_ids and t not in held_ids and not r.meta(t)]
    if parked:
        vt = r.conf.get("visibility_timeout", 3600)
        return decided(None, f"{len(parked)} header part(s) sit in the unacked set and no live worker holds them: "
                             f"Redis redelivers them after visibility_timeout ({vt} s)", "running")
    return None


def no_ledger(r: Reading) -> str:
    """Why no history stands as this chord's ledger (``Reading.history`` is empty), in a clause."""
    rec = r.recorded
    if not rec:
        return "no flight recorder's history says which parts started"
    if rec.get("error"):
        return f"the recorder's store could not be read ({rec['error']})"
    if rec.get("dropped"):
        return (f"the recorder names them, but it dropped {rec['dropped']} event(s), so what its history lacks proves "
                "nothing")
    if rec.get("events"):
        return ("the recorder names them, but its history starts after the chord was sent (trimmed or expired), so "
                "what it lacks proves nothing")
    return "the recorder holds no event of this chord"


def rabbitmq_unconsumed(r: Reading) -> str | None:
    """On RabbitMQ, by elimination: the callback was dispatched, stored nothing, no worker holds it, and the
    one queue it can be in holds messages and has no consumer.  The message itself is not read."""
    ref = r.ref
    if ref.callback_id and ref.callback_id in {h.get("task_id") for h in r.held}:
        return None
    if any(h.get("name") == ref.callback_task for h in r.held if ref.callback_task):
        return None
    queues = r.broker.get("queues") or {}
    q = r.route(ref.callback_task)
    if q is None:
        backlog = unconsumed_backlog(r)
        if len(backlog) != 1:
            return None
        q = backlog[0][0]
    info = queues.get(q) or {}
    parts_done = ref.header_ids and all((r.meta(t) or {}).get("status") == "SUCCESS" for t in ref.header_ids)
    consumed = {x for qs in (r.workers.get("consumers") or {}).values() for x in qs}
    if not (info.get("length") and not info.get("consumers") and q not in consumed and (parts_done or not ref.header_ids)):
        return None
    which = f"callback {short(ref.callback_task)}" if ref.callback_task else "the callback"
    return (f"{which} was dispatched (.c = done) and stored no result, no worker holds it, and queue {q!r}"
            f"{'' if ref.callback_task else ' (the only queue with messages and no consumer)'} holds {info['length']} "
            f"message(s) with 0 consumers: it waits there (RabbitMQ: counted by passive declare, the message itself was not read)")


SIZE_KEY_WITNESS = ("what wrote and removed .s: the producer's result_backend (ask with the producer's own app), the "
                    "workers' (`inspect conf`), the time the chord was sent, or a ledger (the lab's flight recorder)")


def same_backend(a: Any, b: Any) -> bool:
    """Two result backend URLs name the same store: scheme, host, port and database, credentials aside."""
    from urllib.parse import urlsplit

    def key(url: Any) -> tuple | None:
        if not isinstance(url, str) or "://" not in url:
            return None
        u = urlsplit(url)
        try:
            port = u.port
        except ValueError:
            port = None
        path = u.path.rstrip("/") or ("/0" if u.scheme.startswith("redis") else "")
        return (u.scheme, (u.hostname or "").lower(), port, path)

    ka, kb = key(a), key(b)
    return ka is not None and ka == kb


def worker_backends(r: Reading) -> dict[str, str]:
    """The result backend each worker says it runs with (``inspect conf``), where it said so."""
    out = {}
    for w, c in (r.workers.get("conf") or {}).items():
        url = (c or {}).get("result_backend") or (c or {}).get("CELERY_RESULT_BACKEND")
        if isinstance(url, str):
            out[w] = url
    return out


def why_size_key_gone(r: Reading) -> tuple[str | None, str]:
    """Eviction, a flush, a restart, workers writing elsewhere, or expiry: read from INFO, the workers' own config
    and the keys' TTLs.  ``None``: the evidence read cannot tell which (the text says what would)."""
    keys = r.keys
    stats = r.backend.get("stats") or {}
    claim = (keys.get(".c") or {}).get("value")
    if claim and claim != "done":
        return "chord-error", (f"a worker claimed the dispatch (.c holds its token for {(keys['.c'].get('pttl_ms') or 0) / 1000:.0f} s "
                               "more), so the count was complete, and Celery dropped .s after a ChordError")
    exp, which = r.chord_expires()
    left = max([((keys.get(k) or {}).get("pttl_ms") or 0) / 1000 for k in (".j", ".d")] + [0])
    if stats.get("evicted_keys"):
        return "chord-key-evicted", (f"Redis has evicted {stats['evicted_keys']} key(s) under maxmemory "
                                     f"(policy {stats.get('maxmemory_policy')})")
    if stats.get("flushes"):
        return "backend-data-lost", f"this Redis has run FLUSHDB/FLUSHALL {stats['flushes']} time(s) since it started"
    for other in (r.backend.get("size_key_elsewhere") or {}).get("found") or []:
        here, own = r.backend["size_key_elsewhere"].get("db"), r.backend["size_key_elsewhere"].get("key")
        if other["db"] != here:
            return "backend-mismatch", (f".s = {other['value']} is in database {other['db']} of this Redis server, and the parts "
                                        f"returned into database {here}: the producer's result_backend names another database "
                                        "than the workers'")
        return "backend-mismatch", (f".s = {other['value']} is stored as {other['key']!r}, and the parts looked for {own!r}: the "
                                    "producer and the workers use different key prefixes (result_backend_transport_options "
                                    "global_keyprefix)")
    mine = r.conf.get("result_backend")
    theirs = worker_backends(r)
    elsewhere = {w: u for w, u in theirs.items() if not same_backend(u, mine)}
    if mine and elsewhere:
        w, u = sorted(elsewhere.items())[0]
        return "backend-mismatch", (f"{w} stores results in {u} (inspect conf), the app given reads {mine}: the producer "
                                    "and the workers do not share one backend")
    uptime = stats.get("uptime_in_seconds")
    first = min((epoch((r.meta(t) or {}).get("date_done")) or r.t for t in r.ref.header_ids), default=r.t)
    if uptime is not None and int(uptime) + 2 < r.t - first:
        return "backend-data-lost", f"this Redis started {uptime} s ago, after the first part returned: what it held was lost"
    cannot_expire = bool(exp and exp >= 600 and left > exp - 600)
    if not cannot_expire:
        return "chord-size-key-missing", f"it expired: the chord keys live {exp:g} s ({which})" if exp else "it was deleted"
    ago = f".j was last written {exp - left:.0f} s ago and .s would live {exp:g} s ({which}), so it did not expire"
    young = uptime is not None and int(uptime) < exp
    shared = recorded_same_backend(r)
    if shared is not None:  # the recorder: the producer set .s where every part returned, the backend read here
        pub, line = shared
        if young and started_before(r, uptime) >= (pub.get("t") or 0):
            when = restart_relation(r, uptime, pub)
            return "backend-data-lost", (f"{ago}; {line}; nothing was evicted or flushed, and this Redis started {uptime} s ago "
                                         f"(at {_when(r.t - int(uptime))}, to the second), {when} the producer set .s at "
                                         f"{_when(pub.get('t'))}: no other recorded event removes it, so .s was lost in that "
                                         "restart")
        return None, (f"{ago}; {line}; nothing was evicted or flushed, and this Redis "
                      + (f"has run for {uptime} s, since before the producer set .s" if uptime is not None else "says nothing of its uptime")
                      + ": something deleted .s (a client, or a restart this server does not show)")
    elsewhere_scan = r.backend.get("size_key_elsewhere") or {}
    looked = elsewhere_scan.get("looked") if elsewhere_scan.get("complete", True) else []  # a cut-short scan proves nothing
    agree = bool(theirs) and len(theirs) == len(r.workers.get("consumers") or theirs)
    if young:  # a restart after the chord was sent, or a producer writing elsewhere: nothing read tells them apart
        return None, (f"{ago}; nothing was evicted or flushed, "
                      + ("every worker writes to the backend the app reads (inspect conf), " if agree else "")
                      + f"but this Redis started {uptime} s ago, within the keys' lifetime: .s was lost in a restart"
                      + (" if the producer writes here too" if agree else "") + ", or the producer wrote it to another backend"
                      + (f" (no key of this server's database(s) {', '.join(map(str, looked))} ends in {r.ref.group_id}.s)"
                         if looked else ""))
    return "backend-mismatch", (f"{ago}; nothing was evicted or flushed, and this Redis has run for {uptime} s, longer than "
                                "any chord key lives: the producer wrote it to another backend (or a client deleted it)")


def route_line(r: Reading, task: str, waiting_q: str | None) -> str:
    """How the app given routes ``task``, and, where the message waits elsewhere, that something else routed it."""
    said = r.conf["route_explanations"][task]
    routed = r.route(task)
    pub = next((e for e in r.history if e["event"] == "publish" and e.get("task_id") == r.ref.callback_id
                and e.get("name") == task), None)
    if pub and routed and pub.get("queue") != routed and pub.get("by"):
        own = ((r.workers.get("conf") or {}).get(pub["by"]) or {}).get("task_routes")
        return (f"route: the recorder saw {pub['by']} publish it to {pub.get('queue')!r}, and the app given routes it to "
                f"{routed!r} ({said}): {pub['by']} routed it with its own config"
                + (f" (inspect conf: task_routes = {own!r})" if own else
                   " (or the signature's own options: its task_routes are not readable by inspect conf)"))
    if waiting_q and routed and routed != waiting_q:
        return (f"route: the app given routes {task!r} to {routed!r} ({said}), but its message waits in {waiting_q!r}: "
                "it was routed by something this app does not hold (the signature's own options, e.g. "
                ".set(queue=...), or the task_routes of the worker that published it)")
    return f"route: {said}"


def waiting_queue(r: Reading) -> str | None:
    for name, info in (r.broker.get("queues") or {}).items():
        if any(m.get("task_id") == r.ref.callback_id for m in info.get("messages") or []):
            return name
    return None


def evidence(r: Reading, d: Diagnosis) -> list[str]:
    """What was read that bears on this chord, one line per source."""
    ref = r.ref
    ev: list[str] = []
    for m in r.found:
        if m.get("task_id") == ref.callback_id:
            ev.append(f"broker: callback {ref.callback_id} ({short(m.get('name'))}) waits in {m['where']}"
                      + (f", published by part {m['parent_id']}" if m.get("parent_id") else ""))
            break
    waiting_q = waiting_queue(r)
    if waiting_q:
        info = r.broker["queues"][waiting_q]
        cons = [w for w, qs in (r.workers.get("consumers") or {}).items() if waiting_q in qs]
        ev.append(f"broker: queue {waiting_q!r} holds {info['length']} message(s); consumers: {', '.join(cons) or 'none'}")
    if r.broker.get("counts_only") and d.cause == "callback-queue-unconsumed":
        for name, n in unconsumed_backlog(r):
            ev.append(f"broker (passive declare): queue {name!r} holds {n} message(s) and has 0 consumers")
    ev.append(f"workers (inspect active_queues): {consumers_line(r.workers)}")
    if ref.callback_task and (r.conf.get("route_explanations") or {}).get(ref.callback_task):
        ev.append(route_line(r, ref.callback_task, waiting_q))
    for h in r.held:
        if h.get("task_id") in {ref.callback_id, *ref.header_ids} or (h.get("name") == CHORD_UNLOCK and (h.get("args") or [None])[0] == ref.group_id):
            ev.append(f"workers: {h['worker']} holds {short(h.get('name'))} {h['task_id']} ({h['how']}"
                      + (f", eta {h['eta']}" if h.get("eta") else "") + ")")
    for m in r.found:
        if m.get("name") == CHORD_UNLOCK:
            ev.append(f"broker: celery.chord_unlock for group {ref.group_id} in {m['where']} (retries {m.get('retries')})")
    states: dict[str, int] = {}
    for tid in ref.header_ids:
        st = (r.meta(tid) or {}).get("status") or "no meta"
        states[st] = states.get(st, 0) + 1
    if ref.header_ids:
        size = f" of {ref.size}" if ref.size else ""
        ev.append(f"backend: header parts{size} (group {ref.group_id}): " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    if r.backend_kind == "redis" and ref.group_id:
        parts = []
        for suffix in (".s", ".j", ".t", ".d", ".c"):
            k = r.keys.get(suffix)
            if not k:
                parts.append(f"{suffix} absent")
                continue
            val = k.get("value") if k["type"] == "string" else f"{len(k.get('members') or [])} member(s)"
            ttl = k["pttl_ms"] / 1000 if k.get("pttl_ms", -1) >= 0 else None
            parts.append(f"{suffix} = {val}" + (f" (TTL {ttl:.0f} s)" if ttl is not None else "")
                         + (": the callback was dispatched" if suffix == ".c" and val == "done" else ""))
        ev.append("backend: chord keys " + ", ".join(parts))
        stats = r.backend.get("stats") or {}
        if stats.get("evicted_keys"):
            ev.append(f"backend: evicted_keys = {stats['evicted_keys']} (maxmemory-policy {stats.get('maxmemory_policy')})")
        if stats and (d.cause in ("backend-data-lost", "part-return-error") or d.likely_cause == "backend-data-lost"):
            ev.append(f"backend (INFO): uptime_in_seconds {stats.get('uptime_in_seconds')}, FLUSHDB/FLUSHALL calls "
                      f"{stats.get('flushes')}, evicted_keys {stats.get('evicted_keys')}, maxmemory {stats.get('maxmemory')} "
                      f"(policy {stats.get('maxmemory_policy')})")
    exp, which = r.chord_expires()
    if d.cause == "chord-size-key-missing" and exp:
        ev.append(f"config: {which} = {exp:g} s")
    cmeta = r.meta(ref.callback_id)
    if ref.callback_id:
        if cmeta:
            res = cmeta.get("result")
            err = f" {res.get('exc_type')}: {res.get('exc_message')}" if isinstance(res, dict) and res.get("exc_type") else ""
            ev.append(f"backend: callback meta {cmeta.get('status')}{err}")
        else:
            ev.append(f"backend: no meta for callback {ref.callback_id}, so AsyncResult.state reads PENDING")
    if d.cause == "callback-unregistered":
        for w, ts in sorted((r.workers.get("registered") or {}).items()):
            if ref.callback_task not in ts:
                ev.append(f"workers (inspect registered): {w} lacks {ref.callback_task!r}")
    for name, lines in r.logs.items():
        ev += [f"{name} log: {ln.strip()}" for ln in lines[-2:]]
    return ev


def missing(r: Reading) -> list[str]:
    ref = r.ref
    out = []
    if not ref.header_ids:
        out.append("the header part ids (give --group with the chord's group id, `AsyncResult(id).parent.id`)")
    if ref.callback_id is None:
        out.append("the callback's id: nothing stored or queued names it (a callback that was never published leaves no trace)")
    if not r.workers.get("answered"):
        out.append("worker replies: no worker answered ping")
    if r.broker_kind == "rabbitmq":
        out.append("message contents: RabbitMQ queues are counted, not read")
    return out


def unconsumed_backlog(r: Reading) -> list[tuple[str, int]]:
    """Queues holding messages that no worker consumes (by worker replies, or the broker's consumer count)."""
    consumed = {q for qs in (r.workers.get("consumers") or {}).values() for q in qs}
    return [(name, q["length"]) for name, q in sorted((r.broker.get("queues") or {}).items())
            if q.get("length") and name not in consumed and not q.get("consumers")]


def leads(r: Reading, d: Diagnosis) -> None:
    """For "cannot tell": queues nobody consumes are where a dispatched callback most often waits."""
    backlog = unconsumed_backlog(r)
    for name, n in backlog:
        d.evidence.append(f"broker: queue {name!r} holds {n} message(s) and no worker consumes it")
    if backlog and not d.likely_cause:
        d.likely_cause = "callback-queue-unconsumed"
        d.missing.append(f"likely cause: callback-queue-unconsumed (messages wait in {', '.join(repr(q) for q, _ in backlog)}, "
                         "which no worker consumes)")


def _untraceable(r: Reading) -> Diagnosis:
    """No trace of the id: say what was searched, and point at chords that look at risk."""
    ident = r.ref.asked
    meta = r.meta(ident)
    searched = [f"{ident} has a meta ({meta.get('status')}) that names no group: a task outside any chord, or a part of a "
                "nested header (a chain inside a group)" if meta else f"no meta for {ident} in the {r.backend_kind} backend",
                f"no message with id or group {ident} in {len(r.broker.get('queues') or {})} queue(s) or the unacked set"
                + (" (RabbitMQ: counted, not read)" if r.broker.get("counts_only") else ""),
                f"no worker holds it ({consumers_line(r.workers)})"]
    if r.backend_kind == "redis":
        searched.append(f"no chord keys for a group {ident}, and no chord in the backend is still open or waiting for its callback")
    d = Diagnosis(ident, "unknown", None, f"nothing in this deployment names {ident}", None, searched,
                  ["a trace of the chord: a callback that was never published leaves none; give --group with the "
                   "chord's group id (`AsyncResult(id).parent.id`) or a header task id"], r.ids())
    leads(r, d)
    if r.conf.get("task_ignore_result") and not d.likely_cause:
        d.likely_cause = "result-ignored"
        d.missing.append("likely cause: result-ignored (task_ignore_result=True: a callback that ran stores no result)")
    exp, which = r.chord_expires()
    if r.backend_kind == "redis" and exp and exp < 300 and not d.likely_cause:
        d.evidence.append(f"config: {which} = {exp:g} s: chord keys and results vanish that fast, and with them the evidence")
        d.likely_cause = "chord-size-key-missing"
        d.missing.append(f"likely cause: chord-size-key-missing ({which} = {exp:g} s is shorter than many chords take)")
    return d


def exit_code(verdicts: list[str]) -> int:
    """doctor's exit code: 1 stuck or failed, 2 cannot tell, 0 otherwise (the lab's contract)."""
    if any(v in ("stuck", "failed") for v in verdicts):
        return 1
    if any(v == "unknown" for v in verdicts):
        return 2
    return 0
