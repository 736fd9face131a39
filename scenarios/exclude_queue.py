"""Mechanism 1 by ``-X``: a worker's own command line takes the callback's queue away.

The header goes to ``execution``; the callback is not routed, so it goes to
the default queue ``celery``.  The only worker is started with
``-Q execution,celery -X celery``, the way a deploy keeps "the default queue"
off a heavy worker: ``-X`` wins, the worker consumes ``execution`` only, and
nothing says so.  Every part succeeds, the callback waits in ``celery``, and
its state reads PENDING.  The proof names the flag, read from the worker's own
command line, beside what ``inspect active_queues`` reports.

Fix: ``exclude-queue-fixed`` (drop ``-X celery``, or start a worker that
consumes ``celery``).
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="exclude-queue",
    description="header on 'execution'; the callback goes to 'celery', which the worker's own -X celery takes away",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1",
    fix="exclude-queue-fixed",
    config={"task_routes": {"lab.part": {"queue": "execution"}}},
    workers=(Worker("w1", concurrency=2, argv="-Q execution,celery -X celery --prefetch-multiplier 1 -O fair"),),
    chords=(Chord(header=3, duration=0.05, count=2),),
)
