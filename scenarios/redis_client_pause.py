"""Mechanism 15: ``CLIENT PAUSE`` while the parts return, longer than the backend's socket timeout.

Catalog claim: confirmed, both ways it names ("a part is lost (PENDING), or
counted as failed"). With ``redis_socket_timeout`` 1 s and a 3 s pause
starting just before the 1 s parts end, storing each part's result times out;
Celery marks the part failed (``Exception raised outside body:
TimeoutError``) and the chord fails with ``ChordError('Dependency … raised
TimeoutError')``: 19 of 20 runs.  In the other run one part's return itself
timed out, was never counted (``.j`` 2 of 3) and the chord stayed PENDING
(``part-return-error``).

Fix: ``redis-client-pause-fixed`` (the default socket timeout outlasts the pause).
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="redis-client-pause",
    description="CLIENT PAUSE 3 s on Redis just before the header parts return; the result backend's socket timeout is 1 s",
    expect="failed",
    expect_cause="header-part-failed",
    mechanism="15",
    fix="redis-client-pause-fixed",
    config={"redis_socket_timeout": 1},
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=1.0),),
    faults=(Fault("client-pause", trigger="after-parts-started", delay=0.8, options={"for": 3.0}),),
)
