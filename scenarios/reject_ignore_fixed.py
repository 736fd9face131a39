"""The fix for reject-ignore: header parts return a value (or raise an ordinary exception), never Reject or Ignore."""

import dataclasses

from lab import Chord
from reject_ignore import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="reject-ignore-fixed",
    description="the same header task, with no part rejecting: every part returns its value",
    expect="completed",
    expect_cause=None,
    fix=None,
    chords=(Chord(header=3, duration=0.05, header_task="lab.part_reject"),),
)
