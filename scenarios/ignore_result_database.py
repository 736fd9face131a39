"""Mechanism 3 on the database backend: header parts with ``ignore_result=True``.

Catalog claim: confirmed. The database backend has no native join, so
``celery.chord_unlock`` polls the header's metas; the parts stored none, so it
reads PENDING and retries every second with ``max_retries=None``: in every
run the ledger shows chord_unlock running again and again and the callback
never sent.

SQLite file in the run's folder (``LAB_POSTGRES_URL`` switches to a
PostgreSQL database of the run's own).  Fix: ``ignore-result-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="ignore-result-database",
    description="database backend; header parts declared with ignore_result=True",
    expect="stuck",
    expect_cause="chord-unlock-retrying",
    mechanism="3",
    fix="ignore-result-fixed",
    backend="database",
    tasks=("lab.apps.basic", "lab.apps.no_result"),
    workers=(Worker("w1", concurrency=2),),
    chords=(Chord(header=3, duration=0.05, header_task="lab.part_no_result"),),
    settle=6.0,
)
