"""The fix for split-queues: the worker also consumes the callback's queue."""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="split-queues-fixed",
    description="as split-queues, but the worker runs with -Q execution,reports",
    expect="completed",
    config={"task_routes": {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}},
    workers=(Worker("w1", queues=("execution", "reports"), concurrency=2),),
    chords=(Chord(header=3, duration=0.05, count=2),),
)
