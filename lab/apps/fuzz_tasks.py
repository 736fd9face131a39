"""The fuzzed tasks' code, registered by ``lab.apps.fuzz`` (every task) and
``lab.apps.fuzz_stale`` (every task but the chord body): importing this module
registers nothing, so a deploy can leave a task out.  What each task does is
described in ``lab.apps.fuzz``.
"""

from __future__ import annotations

import time

from celery import shared_task
from celery.exceptions import Ignore, Reject

BEHAVIOURS = ("ok", "raise", "retry", "reject", "ignore", "timeout", "large")
LARGE_PADDING = 10_000
RETRIES = 2
RETRY_COUNTDOWN = 0.05
SOFT_TIME_LIMIT = 0.1
TIMEOUT_SLEEP = 0.3


class PartFailed(Exception):
    """Raised by a fuzzed task whose behaviour is ``raise``."""


class TimeLimitNotEnforced(Exception):
    """Raised by a ``timeout`` task on a pool that does not enforce soft time limits."""


def flatsum(value) -> int:
    """Every number in ``value``, nested lists included, added up (strings and None count 0)."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, (list, tuple)):
        return sum(flatsum(v) for v in value)
    return 0


def task_name(behaviour: str, *, body: bool = False) -> str:
    if behaviour == "ok":
        return "fuzz.total" if body else "fuzz.part"
    return f"fuzz.{behaviour}"


def _run(task, behaviour: str, incoming: tuple, value, duration, fail):
    if value is None:  # called as lab.Chord calls a header part: (value, duration, fail)
        padded = list(incoming) + [0, 0.0, False]
        value, duration, fail = padded[0], padded[1], padded[2]
        incoming = ()
    if duration:
        time.sleep(float(duration))
    if fail or behaviour == "raise":
        raise PartFailed(f"fuzzed task {task.request.id} failed on purpose")
    result = flatsum(list(incoming)) + int(value)
    if behaviour == "retry" and task.request.retries < RETRIES:
        raise task.retry(countdown=RETRY_COUNTDOWN, max_retries=RETRIES + 1)
    if behaviour == "reject":
        raise Reject("fuzzed task rejects its message", requeue=False)
    if behaviour == "ignore":
        raise Ignore()
    if behaviour == "timeout":
        time.sleep(TIMEOUT_SLEEP)  # a prefork child gets SoftTimeLimitExceeded in here, and fails with it
        raise TimeLimitNotEnforced(f"soft time limit {SOFT_TIME_LIMIT} s did not fire on this pool")
    if behaviour == "large":
        return [result] + [0] * LARGE_PADDING
    return result


def _make(name: str, behaviour: str, *, body: bool = False):
    options = {"bind": True, "name": name}
    if behaviour == "timeout":
        options["soft_time_limit"] = SOFT_TIME_LIMIT

    if body:  # lab.Chord calls a callback as (results, *callback_args): no positional value to find
        def fuzzed(self, *incoming, value=0, duration=0.0, fail=False):
            return _run(self, behaviour, incoming, value, duration, fail)
    else:
        def fuzzed(self, *incoming, value=None, duration=0.0, fail=False):
            return _run(self, behaviour, incoming, value, duration, fail)

    fuzzed.__name__ = fuzzed.__qualname__ = name.replace(".", "_")
    return shared_task(**options)(fuzzed)


def bind(app):
    """The fuzz tasks of ``app`` by attribute, for writing canvases as a person types them:
    ``fuzz = bind(app); fuzz.part.s(value=1) | fuzz.raise_.s(value=0)`` (``raise_``: ``raise`` is a keyword).
    Each is ``app.tasks[name]``, so every signature is bound to ``app``, not to Celery's current app."""
    import keyword
    from types import SimpleNamespace

    names = {task_name(b) for b in BEHAVIOURS} | {"fuzz.total"}
    attrs = {}
    for name in sorted(names):
        attr = name.split(".", 1)[1]
        attrs[attr + "_" if keyword.iskeyword(attr) else attr] = app.tasks[name]
    return SimpleNamespace(**attrs)


def register(*, body: bool = True) -> dict[str, object]:
    """Register one task per behaviour (and ``fuzz.total`` when ``body``); return them by name."""
    tasks = {task_name(b): _make(task_name(b), b) for b in BEHAVIOURS}
    if body:
        tasks["fuzz.total"] = _make("fuzz.total", "ok", body=True)
    return tasks
