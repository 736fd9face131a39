"""Mechanism 9: one header part raises.

Catalog claim: confirmed. The chord does not hang: once every part has
reported, the callback's meta is FAILURE with
``ChordError('Dependency <part id> raised PartFailed(...)')``, in every run.

Three parts run at once; part 1 raises ``PartFailed``.  The part return of the
failing part carries its FAILURE state, the count completes, and the worker
marks the callback failed instead of sending it.  Fix: ``header-failure-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="header-failure",
    description="one of three header parts raises; the callback is marked failed with ChordError",
    expect="failed",
    expect_cause="header-part-failed",
    mechanism="9",
    fix="header-failure-fixed",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=0.05, raising_parts=(1,)),),
)
