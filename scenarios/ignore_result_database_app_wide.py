"""Mechanism 3 on the database backend, app-wide: ``task_ignore_result=True``.

Catalog claim: confirmed. As with ``ignore_result`` on the task: no part meta
is stored, ``celery.chord_unlock`` retries forever, the callback is never
sent.  Fix: ``ignore-result-fixed``.
"""

import dataclasses

from lab import Chord
from ignore_result_database import scenario as base

scenario = dataclasses.replace(
    base,
    name="ignore-result-database-app-wide",
    description="database backend; task_ignore_result=True for every task",
    config={"task_ignore_result": True},
    tasks=("lab.apps.basic",),
    chords=(Chord(header=3, duration=0.05),),
)
