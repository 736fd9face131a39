"""Sending a user's own canvas: the chords their function builds, from their app, exactly as built.

    scenario → topology up → **chords sent** → observations → verdict → record

``lab run --app shop.worker:app --canvas shop.jobs:build_nightly_report`` calls
the user's function (with the app, if it takes an argument), and sends what it
returns, as returned: a chord, or a list of chords.  Each is written down as
the chord judge reads a sent chord: its callback id, its group id, its header
ids, the queues the producer's router picks, and the oracle.  With stand-ins
(``--stand-ins``: every task returns its own id) the oracle is the header's ids
in order; with the user's own task bodies the results are theirs, so no oracle
is claimed and only whether the callback ran, and how, is judged.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

from celery import Celery
from celery.canvas import Signature, _chord, group

from lab.observe.config import routed_queue
from lab.scenario import Scenario, ScenarioError


def build_canvases(app: Celery, scenario: Scenario, *, chords_only: bool = True) -> list[Signature]:
    """What the scenario's canvas function returns, as a list; one sentence if it is not a canvas (or, with
    ``chords_only``, not chords: a user's tasks give no oracle, so only a chord's callback is judged)."""
    fn = scenario.canvas
    try:
        takes_app = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
                        for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # a builtin or a C function: call it bare
        takes_app = False
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        made = fn(app) if takes_app else fn()
    except Exception as e:
        raise ScenarioError(f"the canvas function {name} raised {type(e).__name__}: {e}; it must build (not send) a chord.") from None
    canvases = list(made) if isinstance(made, (list, tuple)) else [made]
    if not canvases:
        raise ScenarioError(f"the canvas function {name} returned no canvas; return a canvas, or a list of them, unsent.")
    for c in canvases:
        if not chords_only and isinstance(c, Signature):
            continue
        kind = type(c).__name__.lstrip("_") if isinstance(c, Signature) else type(c).__name__
        if not isinstance(c, Signature):
            raise ScenarioError(f"the canvas function {name} returned a {kind}; it must build (not send) a canvas: "
                                "return the signature, chain, group or chord itself, or a list of them.")
        if not isinstance(c, _chord):
            raise ScenarioError(f"the canvas function {name} returned a {kind}; with --app the lab judges chords, so "
                                "return a chord (header, callback), or a list of them, unsent.")
    return canvases


def _header_tasks(c: _chord) -> list[Signature]:
    header = c.tasks.tasks if isinstance(c.tasks, group) else c.tasks
    return list(header)


def send_user_canvases(app: Celery, scenario: Scenario) -> list[dict[str, Any]]:
    """Send each chord the user's function built; one 'sent' record per chord, for the chord judge."""
    sent = []
    for index, c in enumerate(build_canvases(app, scenario)):
        header = _header_tasks(c)
        flat = all(type(h) is Signature for h in header)
        body = c.body
        sent_at = time.time()
        result = c.apply_async()
        group_result = result.parent
        header_ids = [r.id for r in group_result.results] if group_result is not None else []
        first = header[0] if header else None
        sent.append({
            "index": index, "chord_id": result.id, "group_id": getattr(group_result, "id", None), "header_ids": header_ids,
            "header_task": first.task if first is not None else None, "callback_task": body.task,
            "header_queue": routed_queue(app, first.task, dict(first.options)) if first is not None else None,
            "callback_queue": routed_queue(app, body.task, dict(body.options)),
            # stand-ins return their own task id: the callback must get the header's ids, in order
            "expected": list(header_ids) if scenario.stand_ins and flat else None,
            "durations": [], "raising_parts": [], "sent_at": sent_at,
            "canvas": repr(c),
            "part_options": _route_options(first.options) if first is not None else {},
            "callback_options": _route_options(body.options),
        })
        del result, group_result  # no AsyncResult kept: its __del__ unsubscribes the producer from its channel
    return sent




def _route_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options of a signature that decide its route (``.set(queue=...)`` and its kin)."""
    return {k: options[k] for k in ("queue", "exchange", "routing_key") if options.get(k)}
