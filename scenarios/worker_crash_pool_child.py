"""Mechanism 7, a pool child only: SIGKILL of the child running a header part, ``acks_late=False``.

Catalog claim: confirmed (the issue's "WorkerLostError and ChordError, not a
hang"). The worker notices its child died, fails the part with
``WorkerLostError('Worker exited prematurely: signal 9 (SIGKILL) …')`` and
reports it to the chord, which fails with ``ChordError('Dependency … raised
WorkerLostError(…)')`` in every run.

The nemesis picks the child that the ledger shows running a part.
Fix: ``worker-crash-pool-child-fixed``.
"""

import dataclasses

from lab import Fault
from worker_crash import scenario as base

scenario = dataclasses.replace(
    base,
    name="worker-crash-pool-child",
    description="SIGKILL the pool child running a header part (acks_late=False)",
    expect="failed",
    expect_cause="header-part-failed",
    fix="worker-crash-pool-child-fixed",
    faults=(Fault("kill-pool-child", trigger="after-parts-started", delay=0.3, target="w1"),),
    settle=10.0,  # the worker notices a dead child late under load: give it time to report WorkerLostError
)
