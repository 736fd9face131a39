"""The control: one worker consumes every queue, so every chord completes."""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="healthy",
    description="one worker consumes both queues; every chord completes with the right results",
    expect="completed",
    config={"task_routes": {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}},
    workers=(Worker("w1", queues=("execution", "reports"), concurrency=2),),
    chords=(Chord(header=3, duration=0.05, count=3),),
)
