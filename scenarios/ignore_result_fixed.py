"""The fix for ignore-result on the database backend: the header parts store their results.

Stability: 2 of its 28 runs on Celery 5.7.0 (both from the matrix batch at
11:00 on 2026-11-29, lab revision f0e4931) read ``unrecorded``: the ledger
shows the callback ended SUCCESS, yet the producer's read of the SQLite
result table, taken after it, had no row for the callback.  The cause is not
proven (a stale SQLite read by the producer is the suspect); the 25 runs made
since, with the re-probe on a moving ledger, all completed.
"""

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
