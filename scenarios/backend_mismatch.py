"""Mechanism 11: the producer and the workers store results in different Redis databases.

Catalog claim: confirmed. The producer writes the chord size ``.s`` into its
backend (db 1) just before it publishes the last part; the workers count the
part returns into theirs (db 2), where no ``.s`` exists, so no part return
can complete the chord.  Nothing is logged; the producer reads PENDING, in
every run.  The probe reads both databases: ``.s = 3`` and no ``.j`` in db 1,
``.j`` with three results and no ``.s`` in db 2.

The worker is deployed with ``result_backend=redis://…/2``.
Fix: ``backend-mismatch-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="backend-mismatch",
    description="the producer stores results in Redis db 1, the workers in db 2",
    expect="stuck",
    expect_cause="backend-mismatch",
    mechanism="11",
    fix="backend-mismatch-fixed",
    workers=(Worker("w1", concurrency=3, config={"result_backend": "redis://{redis}/2"}),),
    chords=(Chord(header=3, duration=0.05),),
)
