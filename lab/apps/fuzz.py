"""Task code for fuzzed chords: one task per behaviour, and the chord body.

    scenario → topology up → **chords sent** (fuzzed shapes) → observations → verdict → record

The fuzzer (``lab.fuzz``) builds nested canvases out of these.  Every task
returns a number the oracle can predict from the shape alone:

    ``fuzz.<behaviour>(*incoming, value=v)`` returns ``flatsum(incoming) + v``

where ``incoming`` is whatever Celery passed in front (a partial ``.s`` in a
chain, or a chord body, gets the previous result; an immutable ``.si`` gets
nothing) and ``flatsum`` adds every number in nested lists.  The behaviour is
in the task's name, so a route, a stale deploy or a shrunk finding can name it:

    ``ok``        returns (``fuzz.part``; ``fuzz.total`` is the same, for chord bodies)
    ``raise``     raises ``PartFailed``
    ``retry``     retries twice (countdown 0.05 s), then returns
    ``reject``    raises ``Reject(requeue=False)``: no state is stored
    ``ignore``    raises ``Ignore()``: no state is stored
    ``timeout``   hits its 0.1 s soft time limit and fails (on pools without time
                  limits, solo and threads, it fails by itself after 0.3 s)
    ``large``     returns ``[result] + [0] * LARGE_PADDING``: same sum, a big payload

Called the way ``lab.Chord`` calls a header task, ``(value, duration, fail)``
positionally with no ``value`` keyword, a task behaves like ``lab.part`` with
its behaviour, so a flat finding can be written as a plain scenario.

A canvas scenario writes its canvases with ``bind(app)``: ``fuzz.part``, ``fuzz.total``,
``fuzz.raise_``, ``fuzz.retry``... bound to the app it is given.
"""

from lab.apps.fuzz_tasks import BEHAVIOURS, bind, flatsum, register, task_name

__all__ = ["BEHAVIOURS", "TASKS", "bind", "flatsum", "task_name"]

TASKS = register(body=True)
