"""The workers reader: who consumes what, and what each worker holds.

    scenario → runtime up → chords sent → **observations** (workers) → verdict → record

One reader for a lab run, the fuzzer and doctor, over Celery's read-only
broadcasts: ``ping``, ``active_queues``, ``registered``, and (``held=True``)
``active``, ``reserved`` and ``scheduled``: a header part a worker holds is in
flight whether or not ``task_track_started`` is on; and (``conf=True``) the
few settings each worker really runs with (``inspect conf``: Celery censors
passwords), so a backend the workers write to is read, not assumed; and (``processes=True``) each worker's
pids and uptime (``inspect stats``), so a part that started in a pid the worker no longer runs is known
to have died with it.  Each broadcast returns as
soon as the expected number of workers has answered.
"""

from __future__ import annotations

from typing import Any

from lab.observe.model import HELD_KINDS, held_requests  # noqa: F401 (read here, modelled there)


# The settings of a worker that decide where a chord's keys go and how long they live (new and old names).
WORKER_CONF_KEYS = ("result_backend", "CELERY_RESULT_BACKEND", "result_expires", "CELERY_TASK_RESULT_EXPIRES",
                    "result_chord_join_timeout", "task_ignore_result", "task_track_started", "task_routes")


def read_workers(app, expected: int | None, timeout: float = 1.0, *, held: bool = False,
                 ping: bool = False, conf: bool = False, processes: bool = False) -> dict[str, Any]:
    """Which queues each live worker consumes, what it has registered, and (``held``) what it holds.

    ``ping`` first asks who is there (doctor does not know how many workers to
    expect); a broker that cannot be reached raises, for the caller to say so."""
    answered: list[str] | None = None
    if ping:
        answered = sorted(app.control.inspect(timeout=timeout, limit=expected).ping() or {})
        if not answered:
            return {"answered": [], "consumers": {}, "registered": {}, **({k: {} for k in HELD_KINDS} if held else {})}
        expected = len(answered)
    insp = app.control.inspect(timeout=timeout, limit=expected)
    out: dict[str, Any] = {} if answered is None else {"answered": answered}
    try:
        active = insp.active_queues() or {}
        # nobody answered within the timeout (gone, or reconnecting): asking again now would only wait as long
        out["consumers"] = {w: sorted(q["name"] for q in qs) for w, qs in active.items()}
        out["registered"] = {w: sorted(ts) for w, ts in ((insp.registered() or {}) if active else {}).items()}
        if held:
            for kind in HELD_KINDS:
                out[kind] = (getattr(insp, kind)() or {}) if active else {}
        if conf:
            got = (insp.conf(with_defaults=False) or {}) if active else {}
            out["conf"] = {w: {k: c[k] for k in WORKER_CONF_KEYS if k in c} for w, c in got.items() if isinstance(c, dict)}
        if processes:
            got = (insp.stats() or {}) if active else {}
            out["processes"] = {w: {"pid": s.get("pid"), "pool": list((s.get("pool") or {}).get("processes") or []),
                                    "uptime": s.get("uptime")} for w, s in got.items() if isinstance(s, dict)}
    except Exception as e:  # the broker went away: say so, judge later
        out.setdefault("consumers", {})
        out.setdefault("registered", {})
        out["error"] = f"{type(e).__name__}: {e}"
    return out
