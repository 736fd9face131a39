"""Mechanism 5: redis-server (broker and backend) restarts without persistence mid-chord.

Catalog claim: confirmed. The restart takes a fraction of a second, on the
same port; the workers reconnect.  The running parts finish and return, but
the chord size key written at send time is gone with everything else: ``.j``
is created afresh, nothing completes it, nothing is logged.

Three 1 s parts; the nemesis restarts Redis 0.2 s after the first starts.
Fix: ``redis-restart-fixed``.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="redis-restart",
    description="redis-server (broker and backend) restarts without persistence while the header runs",
    expect="stuck",
    expect_cause="backend-data-lost",
    mechanism="5",
    fix="redis-restart-fixed",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=1.0),),
    faults=(Fault("restart-redis", trigger="after-parts-started", delay=0.2, options={"persist": False}),),
)
