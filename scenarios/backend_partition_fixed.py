"""The fix for ``backend-partition``: the worker retries every backend write until the backend is back.

The same partition from the result backend while a part returns, with
``result_backend_always_retry=True``: ``store_result`` retries on connection
errors (backing off up to ``result_backend_max_sleep_between_retries_ms``),
the partition heals, the result is stored and the part return completes the
chord.  Runs on both runtimes, cut as in ``backend-partition`` (``docker network
disconnect``, or the worker's own partition proxy).
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="backend-partition-fixed",
    description="the same partition, with result_backend_always_retry: the part's result waits for the backend "
                "(both runtimes)",
    expect="completed",
    mechanism="15",
    config={"result_backend_always_retry": True, "result_backend_max_sleep_between_retries_ms": 2000},
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=(0.2, 0.2, 3.0)),),
    faults=(Fault("partition-worker", target="w1", trigger="after-parts-started", delay=1.0,
                  options={"from": "backend", "for": 10.0}),),
    settle=10.0,
)
