"""Mechanism 3 on the Redis backend, app-wide: ``task_ignore_result=True``.

Catalog claim: refuted as a stuck chord, but the result is lost anyway. The
callback runs once with every result, in every run; yet ``task_ignore_result``
applies to the callback too, so its result is never stored and
``AsyncResult(chord_id).state`` reads PENDING forever: the "stuck" the user
sees is a callback that ran.  Verdict ``unrecorded``, cause ``result-ignored``.

Fix: ``ignore-result-fixed`` (store results; or give the callback
``ignore_result=False`` and the parts their own setting).
"""

import dataclasses

from lab import Chord
from ignore_result import scenario as base

scenario = dataclasses.replace(
    base,
    name="ignore-result-app-wide",
    description="Redis backend; task_ignore_result=True for every task",
    expect="unrecorded",
    expect_cause="result-ignored",
    fix="ignore-result-fixed",
    config={"task_ignore_result": True},
    tasks=("lab.apps.basic",),
    chords=(Chord(header=3, duration=0.05),),
)
