"""Mechanism 6: two workers on the callback's queue, one running a stale deploy
that predates the callback task.

Catalog claim: partly refuted. The catalog predicted PENDING for an unregistered callback only via a stuck header; on Celery 5.7 a discarded callback is stored as FAILURE NotRegistered, so the chord is failed, not stuck.

Whichever worker takes a callback message decides the chord: the current one
runs it; the stale one logs "Received unregistered task of type 'lab.collect'"
and discards the message.  The catalog's guess was "stuck"; on Celery 5.7 the
run shows the stale worker also stores a FAILURE (NotRegistered) for the
callback, so the chord is failed, not PENDING.  While the current worker is
busy with header parts, the idle stale worker takes every callback.  Variant: ``multiple-workers-old-signature``.  Fix:
``multiple-workers-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="multiple-workers",
    description="two workers consume 'reports'; the stale one lacks the callback task",
    expect="failed",
    expect_cause="callback-unregistered",
    mechanism="6",
    fix="multiple-workers-fixed",
    config={"task_routes": {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}},
            "worker_prefetch_multiplier": 1},
    workers=(
        Worker("current", queues=("execution", "reports"), concurrency=1),
        Worker("stale", queues=("reports",), concurrency=1, tasks=("lab.apps.stale_missing",)),
    ),
    chords=(Chord(header=2, duration=0.02, count=8),),
)
