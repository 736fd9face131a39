"""A paused worker: SIGSTOP for 3 s mid-header, then SIGCONT.

Catalog claim: none (a control for the pause fault). A frozen worker keeps
its sockets and its messages; once it continues, the parts finish and the
chord completes in every run.  With ``acks_late`` and a visibility timeout
shorter than the pause, the broker would hand the parts to another worker
instead (``visibility-timeout``).
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="worker-pause",
    description="SIGSTOP the only worker for 3 s while it runs the header, then SIGCONT",
    expect="completed",
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=1.0),),
    faults=(Fault("pause-worker", trigger="after-parts-started", delay=0.3, target="w1", options={"for": 3.0}),),
)
