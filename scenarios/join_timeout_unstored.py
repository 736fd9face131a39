"""Mechanism 13: a top-level part of a complex header stores no result.

Catalog claim: refuted: no "Join error", no wait at all. The join finds the
part's result missing and hands the callback ``None`` in its place at once:
in every run the callback runs with ``[[v1, v2], None]`` instead of
``[[v1, v2], v3]``, silently (verdict ``early``: it ran with a result
missing).

Header ``[chain(p0, group(p1, p2)), p3]``; p3 skips storing its result.
Fix: ``join-timeout``.
"""

import dataclasses

from lab import Chord
from join_timeout import scenario as base

scenario = dataclasses.replace(
    base,
    name="join-timeout-unstored",
    description="a complex header [chain(p0, group(p1, p2)), p3] whose top-level part p3 stores no result",
    expect="early",
    fix="join-timeout",
    chords=(Chord(header=4, duration=0.1, header_task="lab.part_unstored", chained_group=2, raising_parts=(3,)),),
)
