"""Mechanism 3 on the Redis backend: header parts with ``ignore_result=True``.

Catalog claim: refuted for Redis ("check; the docs forbid it"). On Celery 5.7
the chord completes with every result in every run: a part's return is
counted by ``on_chord_part_return`` inside ``mark_as_done`` even when its own
result is not stored, and the Redis backend hands the callback the values it
collected in ``.j``, not the parts' metas.

The header task ``lab.part_no_result`` is declared with ``ignore_result=True``;
the probe confirms no part meta exists.  The database backend behaves
differently: ``ignore-result-database``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="ignore-result",
    description="Redis backend; header parts declared with ignore_result=True",
    expect="completed",
    mechanism="3",
    tasks=("lab.apps.basic", "lab.apps.no_result"),
    workers=(Worker("w1", concurrency=2),),
    chords=(Chord(header=3, duration=0.05, header_task="lab.part_no_result"),),
)
