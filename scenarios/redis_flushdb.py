"""Mechanism 5: ``FLUSHDB`` on the result backend's database mid-chord.

Catalog claim: confirmed. The flush removes ``.s`` (and every meta) while the
parts run; their returns build a new ``.j`` that nothing completes.  The
timeline names the flush and the number of keys it removed.  There is no
fixed variant: the fix is not to flush (or share) the result backend's
database; ``redis-restart-fixed`` shows a chord surviving a Redis outage.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="redis-flushdb",
    description="FLUSHDB on the result backend's database while the header runs",
    expect="stuck",
    expect_cause="backend-data-lost",
    mechanism="5",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=1.0),),
    faults=(Fault("flushdb", trigger="after-parts-started", delay=0.2, options={"db": 1}),),
)
