"""The fix for ``result-expired``: results live longer than the time until the read (``result_expires=60``)."""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="result-expired-fixed",
    description="result_expires=60 s, read 6 s after sending: the result is still there",
    expect="completed",
    mechanism="4",
    config={"result_expires": 60},
    read_after=6.0,
    workers=(Worker("w1", concurrency=2),),
    chords=(Chord(header=2, duration=0.02),),
)
