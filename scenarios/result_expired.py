"""A chord that ran and completed, but whose result expired before anyone read it.

``result_expires=2``: the callback runs and stores SUCCESS with a 2 s TTL.
The scenario holds its final read until 6 s after sending (``read_after``), as
a user who looks the next morning would.  By then the meta is gone and
``AsyncResult.state`` reads PENDING, as for an id Celery never heard of.  The
lab watched the meta's TTL count down while it held the read, so the verdict
is ``unrecorded`` with cause ``result-expired``, naming ``result_expires``
and the TTL history.

Fix: ``result-expired-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="result-expired",
    description="result_expires=2 s, read 6 s after sending: the chord completed, its result expired before the read",
    expect="unrecorded",
    expect_cause="result-expired",
    mechanism="4",
    fix="result-expired-fixed",
    config={"result_expires": 2},
    read_after=6.0,
    workers=(Worker("w1", concurrency=2),),
    chords=(Chord(header=2, duration=0.02),),
)
