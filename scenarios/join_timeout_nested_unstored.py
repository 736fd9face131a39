"""Mechanism 13: a nested part of a complex header stores no result.

Catalog claim: refuted: not FAILURE "Join error" but stuck, and worse. The
count completes (a part return does not need the part's meta), and the worker
that returned last claims the dispatch and joins the saved header; for the
nested group Celery calls ``children_result.get()`` without a timeout
(``celery/result.py`` ``join_native``), so ``result_chord_join_timeout`` is
never applied and the join waits for a meta that will never exist.  In every
run the part that returned last never finishes (when that is p2 itself, its
worker waits for its own unstored result): the chord stays PENDING and that
pool process is blocked for good.

Header ``[chain(p0, group(p1, p2)), p3]``; p2 (``lab.part_unstored``) skips
storing its result.  Fix: ``join-timeout`` (every part stores its result).
"""

import dataclasses

from lab import Chord
from join_timeout import scenario as base

scenario = dataclasses.replace(
    base,
    name="join-timeout-nested-unstored",
    description="a complex header [chain(p0, group(p1, p2)), p3] whose nested part p2 stores no result",
    expect="stuck",
    expect_cause="join-hang",
    fix="join-timeout",
    chords=(Chord(header=4, duration=0.1, header_task="lab.part_unstored", chained_group=2, raising_parts=(2,)),),
)
