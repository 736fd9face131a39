"""Mechanism 13: a complex header slower than ``result_chord_join_timeout``.

Catalog claim: refuted as stated. The header is ``[chain(p0, group(p1, p2)),
p3]`` (a group inside the header, so Celery saves it and joins it when the
count completes) and p1 takes 4 s against a 3 s join timeout.  The chord
completes with ``[[v1, v2], v3]`` in every run: the join starts only when the
last part has returned, so the header's run time never counts against it.
What does go wrong in a complex header is a part that reports no result
(``join-timeout-unstored``, ``join-timeout-nested-unstored``) or raises
(``join-timeout-part-fails``); this scenario is their fix.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="join-timeout",
    description="a complex header [chain(p0, group(p1, p2)), p3] where p1 takes 4 s, longer than result_chord_join_timeout (3 s)",
    expect="completed",
    mechanism="13",
    tasks=("lab.apps.basic", "lab.apps.no_result"),
    config={"result_chord_join_timeout": 3.0},
    workers=(Worker("w1", concurrency=4),),
    chords=(Chord(header=4, duration=(0.1, 4.0, 0.1, 0.1), header_task="lab.part_unstored", chained_group=2),),
)
