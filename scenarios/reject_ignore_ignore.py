"""Mechanism 14: a header part raises ``Ignore()``.

Catalog claim: confirmed. The part ends IGNORED (per the ledger), stores no
result and records no part return: ``.j`` holds two of the three parts
against ``.s = 3`` forever, no callback is sent, nothing is logged as an
error, in every run.  Fix: ``reject-ignore-fixed``.
"""

import dataclasses

from lab import Chord
from reject_ignore import scenario as base

scenario = dataclasses.replace(
    base,
    name="reject-ignore-ignore",
    description="one of three header parts raises Ignore()",
    expect="stuck",
    expect_cause="part-return-missing",
    chords=(Chord(header=3, duration=0.05, header_task="lab.part_ignore", raising_parts=(1,)),),
)
