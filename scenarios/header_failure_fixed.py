"""The fix for header-failure: no header part raises (handle the error inside the part and return a value)."""

import dataclasses

from lab import Chord
from header_failure import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="header-failure-fixed",
    description="the same chord with no part raising",
    expect="completed",
    expect_cause=None,
    fix=None,
    chords=(Chord(header=3, duration=0.05),),
)
