"""Mechanism 2: the database backend's ``celery.chord_unlock`` waits in a queue no worker consumes.

Catalog claim: confirmed. The database backend has no native join; the
producer publishes ``celery.chord_unlock`` at apply time, routed like the
callback (Celery 5.7 routes it by the body's options or, failing those, by
the body's task name), so it lands in ``reports``.  No worker consumes
``reports``: chord_unlock never runs (no retry line in any log), the header
finishes, and the callback is never sent, in every run.

SQLite file in the run's folder; ``chord-unlock-unconsumed-postgres`` is the
same on PostgreSQL.  Fix: ``chord-unlock-unconsumed-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="chord-unlock-unconsumed",
    description="database backend; the callback is routed to 'reports', which no worker consumes, so celery.chord_unlock waits there",
    expect="stuck",
    expect_cause="chord-unlock-unconsumed",
    mechanism="2",
    fix="chord-unlock-unconsumed-fixed",
    backend="database",
    config={"task_routes": {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}},
    workers=(Worker("w1", queues=("execution",), concurrency=2),),
    chords=(Chord(header=3, duration=0.05),),
)
