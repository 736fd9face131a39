"""Mechanism 1 in a split deploy: each worker runs its own app, and only one app routes the callback.

The producer has no routes: parts go to ``celery``.  Worker ``reports`` runs
``celery -A shop.worker_a:app worker -Q celery``: its app routes
``shop.summarize`` to ``summary``.  The callback is published by the worker
that finishes the last part, with that worker's own config, so the route that
decides is the reports app's, not the producer's: the callback waits in
``summary``, which nobody consumes, and reads PENDING.  The proof says whose
config routed it.

Fix: ``split-apps-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="split-apps",
    description="worker 'reports' runs its own app, whose routes send the callback to 'summary'; nobody consumes it",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1",
    fix="split-apps-fixed",
    tasks=("shop.tasks",),
    workers=(Worker("reports", app="shop.worker_a:app", queues=("celery",), concurrency=2),),
    chords=(Chord(header=3, duration=0.02, header_task="shop.render_page", callback="shop.summarize"),),
)
