"""Mechanism 13's symptom, by another trigger: a nested part of a complex header raises.

Catalog claim: the symptom is confirmed, the trigger is not a timeout. The
join re-raises the nested part's exception and the chord fails with
``ChordError('Join error: PartFailed(…)')`` in every run, where a flat header
says ``Dependency … raised``.  Fix: ``join-timeout``.
"""

import dataclasses

from lab import Chord
from join_timeout import scenario as base

scenario = dataclasses.replace(
    base,
    name="join-timeout-part-fails",
    description="a complex header [chain(p0, group(p1, p2)), p3] whose nested part p2 raises",
    expect="failed",
    expect_cause="join-error",
    fix="join-timeout",
    chords=(Chord(header=4, duration=0.1, chained_group=2, raising_parts=(2,)),),
)
