"""The fix for ignore-result on the database backend: the header parts store their results."""

import dataclasses

from lab import Chord
from ignore_result_database import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="ignore-result-fixed",
    description="database backend; the header parts store their results",
    expect="completed",
    expect_cause=None,
    fix=None,
    tasks=("lab.apps.basic",),
    chords=(Chord(header=3, duration=0.05),),
)
