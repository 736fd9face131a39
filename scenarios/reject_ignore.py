"""Mechanism 14: a header part raises ``Reject(requeue=False)``.

Catalog claim: refuted on Celery 5.7. The catalog expects PENDING ("no part
return is recorded"); in every run the rejected part is reported to the chord
as a failure and the callback's meta is FAILURE
``ChordError('Dependency … raised reject requeue=False: …')``.  For ``Ignore``,
which does leave the chord PENDING, see ``reject-ignore-ignore``.

Fix: ``reject-ignore-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="reject-ignore",
    description="one of three header parts raises Reject(requeue=False)",
    expect="failed",
    expect_cause="header-part-failed",
    mechanism="14",
    fix="reject-ignore-fixed",
    tasks=("lab.apps.basic", "lab.apps.reject"),
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=0.05, header_task="lab.part_reject", raising_parts=(1,)),),
)
