"""Mechanism 1 with a regex route: ``task_routes`` keyed by ``re.compile(...)``, as Celery allows.

``task_routes=[{re.compile(r'.*summar.*'): {'queue': 'summary'}}]`` sends the
callback ``shop.summarize`` (from the task module ``shop/tasks.py`` shipped
beside this script) to ``summary``.  The only worker runs ``-Q celery``: every
part succeeds, the callback waits in ``summary``, and its state reads PENDING.
The workers import this very file for their config (no JSON round trip), so
the regex reaches them as the object it is, and the proof quotes the entry.

Fix: ``regex-route-fixed`` (the worker also consumes ``summary``).
"""

import re

from lab import Chord, Scenario, Worker

ROUTES = [{re.compile(r".*summar.*"): {"queue": "summary"}}]

scenario = Scenario(
    name="regex-route",
    description="a regex task_routes entry sends the callback to 'summary'; the only worker consumes 'celery'",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1",
    fix="regex-route-fixed",
    tasks=("shop.tasks",),
    config={"task_routes": ROUTES},
    workers=(Worker("w1", queues=("celery",), concurrency=2),),
    chords=(Chord(header=3, duration=0.02, header_task="shop.render_page", callback="shop.summarize"),),
)
