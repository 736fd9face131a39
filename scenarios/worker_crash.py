"""Mechanism 7: SIGKILL of a worker's main process mid-header, with ``acks_late=False``.

Catalog claim: confirmed. The two parts that were running die with the
worker (Celery sets PDEATHSIG on its pool children) and never run again: with
``acks_late=False`` their messages were acknowledged when they started, so
they are in no queue and in no unacked hash.  The worker, started again
0.3 s after the kill under the same hostname, never sees them; the chord is stuck in every
run.  The run shows more than the catalog says: the other two parts, which
the dead worker had prefetched but not started, wait in Redis's unacked hash
until ``visibility_timeout`` (1 h by default) before anyone runs them.

Four 1 s parts on one worker with two pool children, prefetch multiplier 1;
the nemesis kills the main process 0.3 s after the first part starts and
restarts it 0.3 s later.  Fix: ``worker-crash-acks-late``.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="worker-crash",
    description="SIGKILL the worker's main process while two of four 1 s parts run (acks_late=False), then restart it",
    expect="stuck",
    expect_cause="header-part-lost",
    mechanism="7",
    fix="worker-crash-acks-late",
    config={"worker_prefetch_multiplier": 1},
    workers=(Worker("w1", concurrency=2),),
    chords=(Chord(header=4, duration=1.0),),
    faults=(Fault("kill-worker", trigger="after-parts-started", delay=0.3, target="w1",
                  options={"restart": True, "restart_after": 0.3}),),
)
