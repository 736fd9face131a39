"""The causes: each written once, with its meaning, its fix and the audit finding that foresees it.

    observations → **judge** (verdict, cause, proof) → record / doctor's fix

A cause is the mechanism behind a verdict.  ``CATALOGUE`` holds, per cause:
what it means (the judge's words), whether a configuration shows it before
anything runs (``static``: audit is expected to flag it), the audit finding ids
that foresee it, and the fix doctor prints, written over what was read about
the chord (``fix_for``).  ``CAUSES`` (id → meaning) is the judge's view of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Cause:
    id: str
    meaning: str
    fix: Callable[[Any, str | None], str | None] | None = None  # (reading, queue) → the fix, in words
    static: bool = False  # a configuration shows it before anything runs
    audit: tuple[str, ...] = field(default_factory=tuple)  # audit finding ids that foresee it
    found_by: str = "judge"  # "fuzz": a cause the fuzzer's oracle proves, which the lab's runs never meet


def _consumed(r) -> list[str]:
    return sorted({q for qs in ((r.workers or {}).get("consumers") or {}).values() for q in qs})


def _route_fix(task_of: Callable[[Any], str | None], tail: str):
    def fix(r, queue):
        consumed = _consumed(r)
        alt = (f"route it to {consumed[0]!r}" if len(consumed) == 1
               else f"route it to one of {', '.join(map(repr, consumed))}" if consumed else "")
        start = f"start a worker with `-Q {','.join([queue or '?', *consumed])}`"
        return f"{start}{', or ' + alt if alt else ''}{tail}" if task_of(r) or queue else None
    return fix


def _unregistered_fix(r, queue):
    lacking = [w for w, ts in sorted(((r.workers or {}).get("registered") or {}).items()) if r.ref.callback_task not in ts]
    who = f" on {', '.join(lacking)}" if lacking else ""
    return (f"deploy the code that defines {r.ref.callback_task!r}{who}, or stop those workers consuming its queue; "
            "then send the chord again (the callback message was discarded)")


def _expiry_fix(r, queue):
    exp, which = r.chord_expires()
    if exp:
        return (f"keep the chord keys longer than a chord takes: raise result_chord_expires (now {which} = {exp:g} s), "
                "and give the result backend maxmemory-policy noeviction; then send the chord again")
    return "give the result backend maxmemory-policy noeviction (keys were evicted or flushed); then send the chord again"


def _c(id: str, meaning: str, fix=None, static: bool = False, audit: tuple[str, ...] = ()) -> Cause:
    return Cause(id, meaning, fix if callable(fix) or fix is None else (lambda r, q, _t=fix: _t.format(r=r.ref)), static, audit)


CATALOGUE: dict[str, Cause] = {c.id: c for c in [
    _c("callback-queue-unconsumed", "the callback message waits in a queue that no worker consumes",
       _route_fix(lambda r: r.ref.callback_task, "; the waiting message then runs by itself"), True, ("route-unconsumed",)),
    _c("callback-unregistered", "a worker without the callback task received its message and discarded it", _unregistered_fix,
       False, ("task-unregistered",)),
    _c("chord-size-key-missing", "the chord size key was gone when the parts returned, so no part return could complete the chord",
       _expiry_fix, True, ("chord-expiry-short",)),
    _c("part-return-missing", "a header part ended without recording its return, so the count never completes",
       "don't raise Reject/Ignore in header tasks and let them store results; then send the chord again"),
    _c("header-queue-unconsumed", "a header part waits in a queue that no worker consumes",
       _route_fix(lambda r: r.ref.header_task, "; the waiting message then runs by itself"), False, ("route-unconsumed",)),
    _c("header-part-unregistered", "a worker without the header task received a part and discarded it",
       "deploy the code that defines {r.header_task!r} on every worker that consumes its queue, then send the chord again",
       False, ("task-unregistered",)),
    _c("header-part-lost", "a header part started but never ended, and its message is nowhere",
       "set task_acks_late=True and task_reject_on_worker_lost=True so a killed worker's parts are redelivered; send the chord again"),
    _c("header-part-missing", "a header part never ran, and its message is in no queue",
       "a header message was lost (purged, expired or flushed): make the broker persistent, then send the chord again"),
    _c("chord-unlock-unconsumed", "the celery.chord_unlock task waits in a queue that no worker consumes",
       _route_fix(lambda r: r.ref.callback_task, "; chord_unlock then runs the callback"), True, ("route-unconsumed",)),
    _c("chord-unlock-retrying", "celery.chord_unlock retries forever because the header never reports ready",
       lambda r, q: (f"let header tasks store results: remove ignore_result from {r.ref.header_task or 'the header task'} "
                     "(and task_ignore_result); then send the chord again"), True, ("header-ignores-result",)),
    _c("chord-counter-mismatch", "the chord counter holds a different number of parts than the chord size",
       "flatten the chord header (nested groups/chains miscount on this Celery version), or upgrade Celery"),
    # causes of failed verdicts
    _c("callback-raised", "the callback ran and raised",
       lambda r, q: f"fix the error in {r.ref.callback_task or 'the callback'} (see the traceback)"),
    _c("callback-publish-error", "publishing the callback raised (for example a signature that rejects the chord's arguments), "
                                 "so the chord is marked failed",
       lambda r, q: f"make {r.ref.callback_task or 'the callback'} accept the header's results list first, then its partial arguments"),
    _c("header-part-failed", "a header part raised, so the chord's callback is marked failed with ChordError",
       "a header part raised, so the chord failed by design: fix that part, or handle errors inside it"),
    _c("join-error", "joining the header's results failed or timed out", "raise result_chord_join_timeout, or make the header simpler"),
    _c("join-hang", "the worker that returned the last part blocks in the chord's join, waiting without a timeout for a nested "
                    "header result that never comes",
       "set result_chord_join_timeout, and avoid nested groups in a chord header whose results are not stored"),
    _c("result-ignored", "the callback ran, but ignore_result kept its result from being stored, so its state reads PENDING forever",
       lambda r, q: f"let {r.ref.callback_task or 'the callback'} store its result: ignore_result=False on it (task_ignore_result=False)",
       False, ("header-ignores-result",)),
    _c("result-expired", "the callback ran and stored its result, but the result expired (result_expires) before it was read, "
                         "so its state reads PENDING, as for an id Celery never heard of",
       "raise result_expires above the time from the chord's end to when its result is read, or read the result sooner"),
    _c("part-return-error", "a result backend error (OOM, a timeout) inside the part returns left a part uncounted, or the "
                            "chord's dispatch or failure unrecorded"),
    _c("chord-refused", "the result backend refuses chords (rpc://): applying one raises NotImplementedError",
       "use the Redis or database result backend for chords (rpc:// refuses them)", False, ("rpc-backend",)),
    _c("message-redelivered", "the broker redelivered unacknowledged messages (visibility timeout, or a lost connection), so "
                              "tasks ran again",
       "raise broker_transport_options visibility_timeout above the longest countdown/eta and acks_late run", False,
       ("visibility-timeout",)),
    _c("backend-mismatch", "the producer and the workers use different result backends (database, host or key prefix), so the "
                           "chord's keys or the callback's result are where the other side never looks",
       "give the producer and every worker the same result_backend URL (database, host and global_keyprefix)"),
    # causes of faults the nemesis injects
    _c("chord-key-evicted", "Redis evicted the chord size key under maxmemory before the last part returned",
       "give the result backend maxmemory-policy noeviction (or its own Redis with room); then send the chord again", True,
       ("eviction-policy",)),
    _c("backend-data-lost", "the result backend lost the chord's keys (FLUSHDB, or a restart without persistence) before the "
                            "last part returned",
       "enable persistence (appendonly yes) on the result backend and never FLUSHDB it; then send the chord again"),
    # causes the fuzzer's oracle proves (lab/fuzz/oracle.py)
    Cause('failure-unrecorded', 'a task upstream of the callback failed but stored no result (ignore_result), so its failure never reached the tasks after it', found_by="fuzz"),
    Cause('apply-raised', 'apply_async raised in the producer, so the chord was never sent', found_by="fuzz"),
    Cause('rejected-failure-lost', "a task raised Reject and was recorded as FAILURE, but the failure never reached the chord's callback, which neither ran nor failed", found_by="fuzz"),
    Cause('failure-not-propagated', 'a task upstream of the callback failed and its failure was stored, but it never reached the callback, which neither ran nor failed', found_by="fuzz"),
    Cause('nested-failure-uncounted', 'a nested chord failed (its callback marked FAILURE without running), but the enclosing chord never counted that part, so its own callback waits forever', found_by="fuzz"),
]}

CAUSES: dict[str, str] = {c.id: c.meaning for c in CATALOGUE.values() if c.found_by == "judge"}
STATIC_CAUSES = frozenset(c.id for c in CATALOGUE.values() if c.static)


def fix_for(cause: str | None, r, queue: str | None = None) -> str | None:
    """The fix for ``cause``, written over what was read of the chord (``r``: a ``judge.live.Reading``)."""
    c = CATALOGUE.get(cause or "")
    return c.fix(r, queue) if c and c.fix else None
