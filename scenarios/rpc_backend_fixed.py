"""The fix for rpc-backend: a result backend that supports chords (here Redis)."""

import dataclasses

from rpc_backend import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="rpc-backend-fixed",
    description="the same chord on the Redis result backend",
    expect="completed",
    expect_cause=None,
    fix=None,
    backend="redis",
)
