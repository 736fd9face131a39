"""A failure before a trailing group: ``part | raise | group(part, part)`` (the Celery #6437 family).

A bare chain, written as Celery users write it, with ``|``: a task, a task that raises, then a group.
A correct Celery marks everything after the failure FAILURE, as it does for a chain that ends in a
task; here the raise is stored on the failing task and never reaches the group's members, whose
results stay PENDING forever.  The canvas is the scenario's own (``canvas(app)``), so the oracle is
computed from it: each member of the trailing group must read FAILURE.  The fuzzer's
``stuck-rejected-failure-lost-512dde`` is the same mechanism inside a chord's header, with a Reject
for the raise: the Reject is incidental, the trailing group after a failure is the cause.
"""

from celery import group

from lab import Scenario, Worker
from lab.apps.fuzz import bind


def canvas(app):
    fuzz = bind(app)
    return fuzz.part.s(value=1) | fuzz.raise_.s(value=0) | group(fuzz.part.s(value=0), fuzz.part.s(value=0))


scenario = Scenario(
    name="trailing-group-after-failure",
    description="part | raise | group(part, part): the failure never reaches the trailing group's members",
    expect="stuck",
    expect_cause="failure-not-propagated",
    tasks=("lab.apps.fuzz",),
    workers=(Worker("w1", concurrency=2),),
    canvas=canvas,
)
