"""The fix for ``regex-route``: the worker consumes the queue the regex route names (``-Q celery,summary``)."""

import re

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="regex-route-fixed",
    description="the regex route sends the callback to 'summary', and the worker consumes it",
    expect="completed",
    mechanism="1",
    tasks=("shop.tasks",),
    config={"task_routes": [{re.compile(r".*summar.*"): {"queue": "summary"}}]},
    workers=(Worker("w1", queues=("celery", "summary"), concurrency=2),),
    chords=(Chord(header=3, duration=0.02, header_task="shop.render_page", callback="shop.summarize"),),
)
