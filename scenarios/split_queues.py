"""Mechanism 1: the callback is routed to a queue no worker consumes.

Catalog claim: confirmed. The callback message sits in 'reports' (LLEN 1 per chord), `inspect active_queues` shows no consumer, the chord keys are already deleted, and the callback's state reads PENDING.

The header goes to ``execution``, which the only worker consumes; the callback
is routed to ``reports``, which nobody consumes.  Every part succeeds, the
worker that returns the last part publishes the callback to ``reports``, and
there it waits forever.  Fix: ``split-queues-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="split-queues",
    description="header on 'execution', callback routed to 'reports', which no worker consumes",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1",
    fix="split-queues-fixed",
    config={"task_routes": {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}},
    workers=(Worker("w1", queues=("execution",), concurrency=2),),
    chords=(Chord(header=3, duration=0.05, count=2),),
)
