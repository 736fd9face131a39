"""Mechanism 8 with a countdown: parts held as ETA tasks longer than ``visibility_timeout``.

Catalog claim: confirmed for the duplicates, refuted for the callback on
Celery 5.7. The worker holds each part unacknowledged until its 2.5 s
countdown is due; the 1 s visibility timeout puts the messages back meanwhile
and parts run two or three times.  Yet the callback runs exactly once with
the right results: the part returns are de-duplicated (``.d``), the dispatch
is claimed once (``.c``), and the callback itself (``acks_late=False``) is not
redelivered.  Verdict ``completed``, with the reruns in its evidence.

Fix: ``visibility-timeout-fixed``.
"""

import dataclasses

from lab import Chord
from visibility_timeout import scenario as base

scenario = dataclasses.replace(
    base,
    name="visibility-timeout-countdown",
    description="parts with countdown=2.5 s on a Redis broker whose visibility_timeout is 1 s",
    expect="completed",
    expect_cause=None,
    config={"worker_prefetch_multiplier": 1,
            "broker_transport_options": {"visibility_timeout": 1, "unacked_restore_interval": 0.5,
                                         "unacked_restore_throttle": 1}},
    chords=(Chord(header=3, duration=0.1, part_options={"countdown": 2.5}),),
    quiet=4.0,  # no part starts for 2.5 s: a shorter quiet window would call the run quiesced before it began
)
