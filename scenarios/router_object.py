"""Mechanism 1 with a router function: ``task_routes=(route_reports,)``, the function object itself.

``shop/routing.py`` (shipped beside this script) sends every ``*.summarize``
to ``summary``.  The worker consumes ``celery`` only, so the callback waits in
``summary`` with its state PENDING.  The workers import this file, so they run
the very function, not its repr.

Fix: ``router-object-fixed``.
"""

from shop.routing import route_reports

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="router-object",
    description="a router function in task_routes sends the callback to 'summary'; the worker consumes 'celery'",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1",
    fix="router-object-fixed",
    tasks=("shop.tasks",),
    config={"task_routes": (route_reports,)},
    workers=(Worker("w1", queues=("celery",), concurrency=2),),
    chords=(Chord(header=3, duration=0.02, header_task="shop.render_page", callback="shop.summarize"),),
)
