"""Mechanism 12 inside a worker: a task builds the chord, as the origin's code does, on ``rpc://``.

Catalog claim: refuted in part ("inside a worker, only a log line"). The
worker logs the NotImplementedError, and the task that tried to build the
chord ends FAILURE; over rpc:// that state goes back to the client that sent
the task, and the probe reads it there, in every run.  So whoever awaits the
launching task sees the error; only a fire-and-forget caller sees nothing
but the log line.

The lab sends ``lab.launch_chord`` as the body of an empty chord, which Celery
publishes as a plain task (an empty header never reaches the backend's chord
support check).  Fix: ``rpc-backend-fixed``.
"""

import dataclasses

from lab import Chord
from rpc_backend import scenario as base

scenario = dataclasses.replace(
    base,
    name="rpc-backend-in-worker",
    description="result_backend='rpc://': a task builds a chord inside the worker",
    tasks=("lab.apps.basic", "lab.apps.launcher"),
    chords=(Chord(header=0, callback="lab.launch_chord", callback_args=(3, 0.05)),),
)
