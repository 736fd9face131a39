"""Mechanism 12: a chord on the ``rpc://`` result backend.

Catalog claim: confirmed. ``chord(header)(callback)`` raises
``NotImplementedError: The "rpc" result backend does not support chords!`` at
the producer, before anything is published: a loud failure, never a stuck
chord.  Verdict ``failed``, cause ``chord-refused``.  For a chord built inside a
worker see ``rpc-backend-in-worker``.  Fix: ``rpc-backend-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="rpc-backend",
    description="result_backend='rpc://': the producer applies a chord",
    expect="failed",
    expect_cause="chord-refused",
    mechanism="12",
    fix="rpc-backend-fixed",
    backend="rpc",
    workers=(Worker("w1", concurrency=2),),
    chords=(Chord(header=3, duration=0.05),),
)
