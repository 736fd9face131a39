"""The oracle: what a correct Celery gives a chord of any shape, and the judgement of one example.

    strategies → session (chords sent, observed) → **oracle + judge** → findings

Pure: no processes, no I/O.  ``expectations(shape, scenario)`` walks the shape
the way Celery's canvas semantics run it and returns, for each task whose
result is the canvas's result (a chord's callback; a bare chain's last task;
each member of a bare group, or of the group a chain ends in), an
``Expectation``: the verdict(s) a correct Celery allows, the first argument
that task must get and the value it must return.  A bare canvas is judged by
those final tasks: ``add | fail | group(add, add)`` must leave both ``add``
results FAILURE (Celery #6437: they stay PENDING, a finding).  The shape can
be a drawn one or one read from a built Celery canvas
(``strategies.shape_of``), so the oracle of a canvas scenario comes from the
canvas itself.  The semantics it
follows (Celery 5.x, as documented and as ``celery/canvas.py`` implements
them):

- every task returns ``flatsum(what it was given) + value``; ``.si`` is given
  nothing; a ``large`` task returns that number followed by zeros;
- a chain passes each result on to the next link; a group of one inside a
  chain is unrolled into its task (Celery issue #1656); a group followed by a
  task is a chord;
- a group's result is the list of its members' results, nested groups
  flattened into it; a chord's header is a group, and its body gets that list
  (``[]`` for an empty header); a chord's result is its body's;
- a task that raises (``raise``, ``timeout``) fails everything after it: a
  chord whose header has a failed part fails once every part has reported, and
  a chain stops; ``Ignore`` stores no state, so nothing after it ever runs (a
  chord waiting on it is stuck by design: mechanism 14); ``Reject`` does the
  same before Celery 5.7, which records it as a FAILURE (celery issue #4222);
  if one header part fails and another stores nothing, the count never
  completes: stuck;
- ``ignore_result`` (on the callback, or ``task_ignore_result``) means the
  callback's own result is never stored: it runs, and reads PENDING
  (``unrecorded``).  On a header part Celery's docs forbid it; the oracle
  still expects the chord to complete, so what happens is reported.

``judge_example(obs)`` judges the outer callback of every chord of an example
with ``lab.judge`` (ran once, with exactly the oracle's argument, its meta
state; where it did not run, Judge's stuck proofs), checks its return value,
and where the callback did not run and Judge has no proof, looks upstream for
the task that blocks it (for example a nested chord's part parked in a queue
no worker consumes).  Every chord whose verdict is not one the oracle allows
is a finding, with the evidence.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.apps.fuzz_tasks import LARGE_PADDING, flatsum
from lab.fuzz.strategies import ChainShape, GroupShape, Shape, TaskShape, walk
from lab.judge import Judge, Verdict, judge
from lab.judge.causes import CATALOGUE

def _celery_version() -> tuple[int, ...]:
    import celery

    return tuple(int(x) for x in celery.__version__.split(".")[:2] if x.isdigit())


# Celery 5.7 records FAILURE for a task that raises Reject(requeue=False) (celery issue #4222), so a
# chord waiting on it fails; before, Reject stored nothing, like Ignore, and the chord waited forever.
REJECT_RECORDS_FAILURE = _celery_version() >= (5, 7)
FAILING = {"raise", "timeout"} | ({"reject"} if REJECT_RECORDS_FAILURE else set())
SILENT = {"ignore"} | (set() if REJECT_RECORDS_FAILURE else {"reject"})
RETRY_WORK_S = 0.2  # two retries with a 0.05 s countdown, plus their round trips


# -- what a correct Celery does ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """The outcome of one node: ``ok`` with a value, ``failed``, or ``silent`` (no state stored)."""

    kind: str
    value: Any = None
    reason: str = ""


@dataclass
class Expectation:
    """What the outer callback of a chord must show."""

    verdicts: tuple[str, ...]  # the verdicts a correct Celery allows
    args0: Any  # the callback's first argument (None: it takes none, an .si callback)
    result: Any  # what the callback returns, when it runs and succeeds
    callback_task: str
    callback_options: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        # not asdict: it copies a large task's padded result element by element, for every chord sent
        return {"verdicts": self.verdicts, "args0": self.args0, "result": self.result,
                "callback_task": self.callback_task, "callback_options": dict(self.callback_options),
                "reason": self.reason}


def _task_result(node: TaskShape, incoming: Any) -> Any:
    given = flatsum(incoming) if (incoming is not None and not node.immutable) else 0
    result = given + node.value
    return [result] + [0] * LARGE_PADDING if node.behaviour == "large" else result


def _chain_links(node: ChainShape) -> list[Shape]:
    """The chain's links as Celery runs them: nested chains spliced, groups of one unrolled."""
    links: list[Shape] = []
    for link in node.links:
        while isinstance(link, GroupShape) and len(link.members) == 1:
            link = link.members[0]
        if isinstance(link, ChainShape):
            links.extend(_chain_links(link))
        else:
            links.append(link)
    return links


def _group_members(members) -> list[Shape]:
    """A group's members, nested groups flattened into it (``group._freeze_unroll``)."""
    flat: list[Shape] = []
    for m in members:
        if isinstance(m, GroupShape):
            flat.extend(_group_members(m.members))
        else:
            flat.append(m)
    return flat


def evaluate(node: Shape, incoming: Any = None) -> Outcome:
    """The outcome of ``node`` given ``incoming`` (None: nothing is passed to it)."""
    if isinstance(node, TaskShape):
        if node.behaviour in FAILING:
            return Outcome("failed", reason=f"a {node.behaviour} task fails")
        if node.behaviour in SILENT:
            return Outcome("silent", reason=f"a {node.behaviour} task stores no state")
        return Outcome("ok", _task_result(node, incoming))
    if isinstance(node, ChainShape):
        value = incoming
        for link in _chain_links(node):
            out = evaluate(link, value)
            if out.kind != "ok":
                return out
            value = out.value
        return Outcome("ok", value)
    if isinstance(node, GroupShape):
        return _gather(_group_members(node.members), incoming)
    header = _gather(_group_members(node.header), incoming)
    if header.kind != "ok":
        return header
    return evaluate(node.body, header.value)


def _gather(members: list[Shape], incoming: Any) -> Outcome:
    outs = [evaluate(m, incoming) for m in members]
    silent = [o for o in outs if o.kind == "silent"]
    if silent:  # the count never completes, even if another part failed
        return silent[0]
    failed = [o for o in outs if o.kind == "failed"]
    if failed:
        return failed[0]
    return Outcome("ok", [o.value for o in outs])


def _finals(node: Shape, incoming: Any, body: bool = False) -> list[tuple[TaskShape, Outcome, bool]]:
    """Each task whose result is the node's result, in the order of Celery's result leaves, with what it is
    handed if it runs (the outcome of everything before it) and whether it sits as a chord's callback."""
    if isinstance(node, TaskShape):
        return [(node, Outcome("ok", incoming), body)]
    if isinstance(node, ChainShape):
        links = _chain_links(node)
        value = incoming
        for link in links[:-1]:
            out = evaluate(link, value)
            if out.kind != "ok":  # the chain stops here: what the last link's tasks get is this failure
                return [(t, out, b) for t, _, b in _finals(links[-1], None, body)]
            value = out.value
        return _finals(links[-1], value, body)
    if isinstance(node, GroupShape):
        return [f for m in _group_members(node.members) for f in _finals(m, incoming)]
    header = _gather(_group_members(node.header), incoming)
    if header.kind != "ok":
        return [(t, header, b) for t, _, b in _finals(node.body, None, True)]
    return _finals(node.body, header.value, True)


def final_tasks(node: Shape) -> list[TaskShape]:
    """The tasks whose results are the shape's result: a chord's callback, a chain's last task, or each
    member of a group (nested groups flattened), in the order Celery's result lists them."""
    return [t for t, _, _ in _finals(node, None)]


def final_task(node: Shape) -> TaskShape:
    """The one task whose result is the shape's result (a chord's callback)."""
    finals = final_tasks(node)
    if len(finals) != 1:
        raise ValueError(f"the shape's result is {len(finals)} tasks' results (it ends in a group), not one task's")
    return finals[0]


def expectations(shape: Shape, scenario: Any = None) -> list[Expectation]:
    """What each final task of ``shape`` must show on ``scenario``'s config: one for a chord or a chain
    ending in a task, one per member for a group (a bare group, or a chain that ends in one)."""
    config = (scenario.config if scenario is not None and hasattr(scenario, "config") else (scenario or {}).get("config")) or {}
    return [_expectation(task, upstream, body, config) for task, upstream, body in _finals(shape, None)]


def expect(shape: Shape, scenario: Any = None) -> Expectation:
    """The outer callback's expectation for ``shape`` on ``scenario``'s config (the first final task's,
    for a shape that ends in a group)."""
    return expectations(shape, scenario)[0]


def _expectation(callback: TaskShape, upstream: Outcome, body: bool, config: dict) -> Expectation:
    name = callback.task(body=body)
    options = callback.options.to_celery()
    options.pop("eta", None)
    incoming = upstream.value if upstream.kind == "ok" else None
    args0 = None if callback.immutable else incoming
    ignored = bool(config.get("task_ignore_result")) or callback.options.ignore_result
    if upstream.kind == "failed":
        return Expectation(("failed",), args0, None, name, options, upstream.reason)
    if upstream.kind == "silent":
        return Expectation(("stuck",), args0, None, name, options,
                           upstream.reason + ", so the callback never runs (mechanism 14, by design)")
    own = evaluate(callback, incoming)
    if own.kind == "failed" and ignored and callback.behaviour == "reject":
        # a callback that rejects is failed by its worker's main process, which stores nothing when the
        # task ignores its results; its own end in the ledger reads REJECTED, not FAILURE
        return Expectation(("unrecorded",), args0, None, name, options,
                           "the callback rejects and ignores its results, so it runs and reads PENDING")
    if own.kind == "failed":
        return Expectation(("failed",), args0, None, name, options, "the callback itself fails")
    if own.kind == "silent":
        return Expectation(("unrecorded",), args0, None, name, options,
                           "the callback stores no state (Reject/Ignore), so it runs and reads PENDING")
    if ignored:
        return Expectation(("unrecorded",), args0, own.value, name, options,
                           "the callback ignores its result, so it runs and reads PENDING")
    return Expectation(("completed",), args0, own.value, name, options, "every task returns")


def work_s(shape: Shape) -> float:
    """Seconds of sleeping the shape asks for (durations, delays, retries), for the session's bound."""
    total = 0.0
    for n in walk(shape):
        if isinstance(n, TaskShape):
            total += n.duration + (n.options.countdown or 0.0) + (n.options.eta or 0.0)
            total += RETRY_WORK_S if n.behaviour == "retry" else 0.3 if n.behaviour == "timeout" else 0.0
    return total


# Causes the fuzzer proves that the lab's runs never meet: in the one catalogue, marked found_by="fuzz".
FUZZ_CAUSES = {c.id: c.meaning for c in CATALOGUE.values() if c.found_by == "fuzz"}


# -- judging one example -------------------------------------------------------------------------


@dataclass
class ChordOutcome:
    """The verdict on one chord of an example, against its oracle."""

    index: int
    chord_id: str
    verdict: str
    cause: str | None
    summary: str
    evidence: list[str]
    expected: tuple[str, ...]
    finding: bool
    kind: str | None = None  # what kind of finding: "<verdict>/<cause or detail>"
    final: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _upstream_blocker(judge: Judge, c: dict, *, failures: bool = True) -> Verdict | None:
    """A task of this chord that blocks its callback, with proof: one that stored no state (Reject,
    Ignore), or one that was published and never ran (with Judge's proof of why)."""
    roots = set(c.get("roots") or [])
    mine = [e for e in judge.events if not roots or e.get("root_id") in roots]
    started = {e.get("task_id") for e in mine if e["event"] == "start"}
    for e in mine:
        if e["event"] == "end" and e.get("state") in ("REJECTED", "IGNORED") and e["task_id"] != c["chord_id"]:
            meta = judge.metas.get(e["task_id"])
            v = Verdict(c.get("index", 0), e["task_id"], "stuck")
            ran = f"ledger: {e.get('name')} {e['task_id']} ran on {str(e.get('worker')).split('@')[0]} and ended {e.get('state')}"
            if meta and meta.get("status") in ("FAILURE", "REVOKED"):
                v.cause = "rejected-failure-lost"
                v.summary = (f"task {e.get('name')} {e['task_id']} raised Reject and was recorded as {meta['status']}, "
                             "but that failure never reached the callback: it neither ran nor failed")
                v.evidence = [ran, f"backend: meta {meta['status']} for {e['task_id']}, none for the callback",
                              *judge.log_lines("Chord")[:2]]
            else:
                v.cause = "part-return-missing"
                v.summary = (f"task {e.get('name')} {e['task_id']} ended {e.get('state')} and stored no state, "
                             "so nothing that waits on it runs")
                v.evidence = [ran, f"backend: no meta for {e['task_id']}"]
            return v
    for e in mine:
        if failures and e["event"] == "end" and e.get("state") == "FAILURE" and e["task_id"] != c["chord_id"]:
            meta = judge.metas.get(e["task_id"])
            ran = (f"ledger: {e.get('name')} {e['task_id']} ran on {str(e.get('worker')).split('@')[0]} "
                   f"and ended FAILURE: {_short(e.get('result'))}")
            if meta is None:
                v = Verdict(c.get("index", 0), e["task_id"], "stuck", cause="failure-unrecorded")
                v.summary = (f"task {e.get('name')} {e['task_id']} failed, but stored no result (it ignores its "
                             "results), so the failure never reached the tasks after it")
                v.evidence = [ran, f"backend: no meta for {e['task_id']}, nor for the callback"]
            else:
                v = Verdict(c.get("index", 0), e["task_id"], "stuck", cause="failure-not-propagated")
                v.summary = (f"task {e.get('name')} {e['task_id']} failed and its failure was stored, but it never "
                             "reached the callback, which neither ran nor failed")
                v.evidence = [ran, f"backend: meta {meta.get('status')} for {e['task_id']}; none for the callback",
                              *judge.log_lines("Chord")[:2]]
            return v
    known = {c["chord_id"], *(c.get("header_ids") or [])}
    for e in mine:
        if e["event"] != "publish" or e.get("task_id") in started or e.get("task_id") in known:
            continue
        probe_c = {"index": c.get("index", 0), "chord_id": e["task_id"], "callback_task": e.get("name"),
                   "callback_queue": e.get("queue"), "header_ids": [], "expected": None}
        v = judge.judge_chord(probe_c)
        if v.verdict == "stuck":
            return v
    return None


def kind_of(verdict: str, cause: str | None, detail: str | None = None) -> str:
    return f"{verdict}/{cause or detail or 'unexplained'}"


def _gist(summary: str) -> str:
    """A few words that name what an unexplained verdict saw, without its ids and numbers."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27,}|'[^']*'", "", summary.lower())
    return "-".join(re.findall(r"[a-z_]+", text)[:5]) or "unexplained"


def without_retried_attempts(events: list[dict]) -> list[dict]:
    """The ledger without the attempts that ended in RETRY: a task that retried twice and then returned
    ran once, not three times, as far as its chord is concerned."""
    retried: dict[str, int] = {}
    for e in events:
        # celery.chord_unlock retries by design, and how often it ran is evidence (it polls the header)
        if e["event"] == "end" and e.get("state") == "RETRY" and e.get("name") != "celery.chord_unlock":
            retried[e.get("task_id")] = retried.get(e.get("task_id"), 0) + 1
    if not retried:
        return events
    out, skip_starts = [], dict(retried)
    for e in events:
        tid = e.get("task_id")
        if tid in retried:
            if e["event"] == "end" and e.get("state") == "RETRY":
                continue
            if e["event"] == "start" and skip_starts.get(tid, 0) > 0:
                skip_starts[tid] -= 1
                continue
        out.append(e)
    return out


def judge_example(obs: dict) -> list[ChordOutcome]:
    """Judge every chord of an example's observations against its oracle."""
    judge = Judge({**obs, "ledger": without_retried_attempts(obs.get("ledger") or [])})
    out = []
    for c in obs.get("chords") or []:
        exp = c.get("expectation") or {}
        allowed = tuple(exp.get("verdicts") or ("completed",))
        if c.get("send_error"):  # apply_async raised: the chord never started, whatever the oracle allows
            out.append(ChordOutcome(
                index=c.get("index", 0), chord_id=c["chord_id"], verdict="failed", cause="apply-raised",
                summary=f"apply_async raised {c['send_error']} in the producer; the chord was never sent",
                evidence=[f"producer: apply_async raised {c['send_error']}",
                          *[f"traceback: {ln.strip()}" for ln in c.get("send_traceback") or []][-4:],
                          f"oracle: {exp.get('reason')}; allows {', '.join(allowed)}"],
                expected=allowed, finding=True, kind="failed/apply-raised"))
            continue
        # Judge decides ran/not-run/failed and its proofs; the argument is compared here, because a
        # nested shape's callback may be handed a number, not a list
        v = judge.judge_chord({**c, "expected": None})
        verdict, cause, summary, evidence = v.verdict, v.cause, v.summary, list(v.evidence)
        detail = None
        starts = judge.by_task(c["chord_id"], "start")
        if verdict == "completed":  # Judge counts list results; a nested shape's callback may get anything
            summary = "the callback ran once, with the argument the oracle computes, and its meta reads SUCCESS"
        if len(starts) == 1 and verdict in ("completed", "unrecorded", "failed"):
            got = _callback_arg(judge, c["chord_id"])
            if got != c.get("expected") and not (c.get("expected") is None and got is None):
                prior, prior_cause = verdict, cause
                verdict, cause, detail = "early", None, _difference(c.get("expected"), got)
                summary = f"the callback ran with {_short(got)} instead of {_short(c.get('expected'))} ({detail})"
                evidence = [f"ledger: callback {c['chord_id']} started with {_short(got)}",
                            f"oracle: {_short(c.get('expected'))}"] + evidence
                if prior != "completed":
                    evidence.append(f"judge: the callback is {prior} as well" + (f" ({prior_cause})" if prior_cause else ""))
        if verdict in ("completed", "unrecorded") and "result" in exp and exp.get("result") is not None:
            end = next((e for e in judge.by_task(c["chord_id"], "end")), None)
            if end is not None and end.get("result") != exp["result"] and end.get("state") == "SUCCESS":
                verdict, detail = "early", "wrong-result"
                summary = f"the callback returned {_short(end.get('result'))} instead of {_short(exp['result'])}"
                evidence.append(f"ledger: callback ended SUCCESS with {_short(end.get('result'))}")
        if verdict == "stuck" and cause == "part-return-missing":
            recorded = [e for e in judge.events if e["event"] == "end" and e.get("state") == "REJECTED"
                        and e.get("task_id") in set(c.get("header_ids") or [])
                        and (judge.metas.get(e["task_id"]) or {}).get("status") == "FAILURE"]
            if recorded:  # Celery 5.7 records a rejected part as FAILURE and counts it: Judge's rule predates that
                e = recorded[0]
                cause = "rejected-failure-lost"
                summary = (f"header part {e['task_id']} raised Reject and was recorded as FAILURE and counted, "
                           "but the callback neither ran nor failed")
                evidence = [f"ledger: part {e['task_id']} ended REJECTED on {str(e.get('worker')).split('@')[0]}",
                            f"backend: meta FAILURE for part {e['task_id']}",
                            *[x for x in evidence if x.startswith("backend: .j")],
                            *judge.log_lines("Chord")[:2],
                            f"backend: no meta for callback {c['chord_id']}, so AsyncResult.state reads PENDING"]
        if verdict == "stuck" and cause == "header-part-missing":
            failed_parts = [p for p in c.get("header_ids") or [] if not judge.by_task(p, "start")
                            and (judge.metas.get(p) or {}).get("status") == "FAILURE"]
            if failed_parts:
                p = failed_parts[0]
                cause = "nested-failure-uncounted"
                summary = (f"header part {p} never ran: it is a nested chord's callback, marked FAILURE when that chord "
                           "failed, and this chord never counted it")
                evidence = [f"backend: meta FAILURE for header part {p}: {_short(judge.metas[p].get('result'))}",
                            f"ledger: part {p} never started"] + evidence
        unlock_runs = [e for e in judge.events if e["event"] == "start" and e.get("name") == "celery.chord_unlock"]
        if verdict == "unknown" and len(unlock_runs) >= 3:
            unstored = [e for e in judge.events if e["event"] == "end" and e.get("state") == "SUCCESS"
                        and e.get("task_id") in set(c.get("header_ids") or []) and e["task_id"] not in judge.metas]
            if unstored:  # the part returned, but stored nothing the unlock could see: it polls forever
                e = unstored[0]
                verdict, cause = "stuck", "chord-unlock-retrying"
                summary = (f"celery.chord_unlock has run {len(unlock_runs)} times and retries forever: header part "
                           f"{e['task_id']} returned but stored no result (it ignores its results)")
                evidence = [f"ledger: chord_unlock ran {len(unlock_runs)} times, each ending RETRY",
                            f"ledger: part {e['task_id']} ended SUCCESS on {str(e.get('worker')).split('@')[0]}",
                            f"backend: no meta for part {e['task_id']}, nor for the callback {c['chord_id']}"]
        if verdict == "unknown" or (verdict == "stuck" and cause in ("header-part-missing",)):
            blocker = _upstream_blocker(judge, c, failures="failed" in allowed)
            if blocker is not None:
                verdict, cause = "stuck", blocker.cause
                summary = f"upstream of the callback: {blocker.summary}"
                evidence = [f"upstream task {blocker.chord_id}:"] + blocker.evidence + evidence
        unconsumed = ("callback-queue-unconsumed", "header-queue-unconsumed", "chord-unlock-unconsumed")
        if verdict == "stuck" and cause in unconsumed and not ((obs.get("probe") or {}).get("workers") or {}).get("consumers"):
            verdict, cause = "unknown", None  # "nobody consumes it" needs the workers to have answered
            detail = "workers-silent"
            summary += "; but no worker answered `inspect`, so that no worker consumes the queue is not proven"
        if verdict == "unknown" and not cause and not detail:
            detail = _gist(summary)
        expires = (obs.get("scenario") or {}).get("config", {}).get("result_expires")
        end = next(iter(judge.by_task(c["chord_id"], "end")), None)
        if verdict == "unrecorded" and expires and end and (obs.get("probe") or {}).get("t", 0) - end["t"] > float(expires):
            allowed = (*allowed, "unrecorded")  # the callback's result expired, as result_expires says, before the probe
            evidence.append(f"config: result_expires={expires} s, and the probe came "
                            f"{obs['probe']['t'] - end['t']:.2f} s after the callback ended")
        finding = verdict not in allowed
        out.append(ChordOutcome(
            index=c.get("index", 0), chord_id=c["chord_id"], verdict=verdict, cause=cause, summary=summary,
            evidence=evidence + ([f"oracle: {exp.get('reason')}; allows {', '.join(allowed)}"] if finding else []),
            expected=allowed, finding=finding, kind=kind_of(verdict, cause, detail) if finding else None,
            final=v.final))
    return out


def _callback_arg(judge: Judge, cid: str) -> Any:
    start = next(iter(judge.by_task(cid, "start")), None)
    return ((start or {}).get("args") or [None])[0]


def _leaves(v: Any) -> list:
    if isinstance(v, list):
        return [x for item in v for x in _leaves(item)]
    return [v]


def _difference(expected: Any, got: Any) -> str:
    """How the callback's argument differs from the oracle's, in a word."""
    if isinstance(expected, list) and isinstance(got, list) and sorted(map(repr, expected)) == sorted(map(repr, got)):
        return "order"  # the same results, in another order
    exp_l, got_l = _leaves(expected), _leaves(got)
    if sorted(map(repr, exp_l)) == sorted(map(repr, got_l)):
        return "order" if _skeleton(expected) == _skeleton(got) else "nesting"
    if len(got_l) < len(exp_l):
        return "missing-results"
    if len(got_l) > len(exp_l):
        return "extra-results"
    return "wrong-values"


def _skeleton(v: Any) -> Any:
    return [_skeleton(x) for x in v] if isinstance(v, list) else 0


def _short(v: Any, limit: int = 120) -> str:
    text = repr(v)
    if isinstance(v, list) and len(text) > limit:
        text = f"a list of {len(v)} (sum {flatsum(v)})"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verdicts_of(outcomes: list[ChordOutcome]) -> list[Verdict]:
    """The oracle's outcomes as the judge's verdicts (the form a run's record and its views hold)."""
    return [Verdict(o.index, o.chord_id, o.verdict, o.cause, o.summary, list(o.evidence), o.final) for o in outcomes]


def judge_observations(obs: dict) -> list[Verdict]:
    """A verdict for every chord of stored observations, by the judge they were made for: the oracle's for
    a canvas judged by its oracle (``"oracle": "fuzz"``), the lab's judge for the rest."""
    if obs.get("oracle") == "fuzz":
        return verdicts_of(judge_example(obs))
    return judge(obs)
