"""The fix for ``router-object``: the worker consumes ``summary`` too."""

from kombu import Queue
from shop.routing import route_reports

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="router-object-fixed",
    description="the router sends the callback to 'summary', declared as a kombu Queue, and the worker consumes it",
    expect="completed",
    mechanism="1",
    tasks=("shop.tasks",),
    config={"task_routes": (route_reports,), "task_queues": (Queue("celery"), Queue("summary"))},
    workers=(Worker("w1", concurrency=2),),  # no -Q: every queue in task_queues
    chords=(Chord(header=3, duration=0.02, header_task="shop.render_page", callback="shop.summarize"),),
)
