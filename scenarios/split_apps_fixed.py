"""The fix for ``split-apps``: the reports worker consumes the queue its own app routes to."""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="split-apps-fixed",
    description="worker 'reports' runs its own app and consumes 'summary', where that app routes the callback",
    expect="completed",
    mechanism="1",
    tasks=("shop.tasks",),
    workers=(Worker("reports", app="shop.worker_a:app", queues=("celery", "summary"), concurrency=2),),
    chords=(Chord(header=3, duration=0.02, header_task="shop.render_page", callback="shop.summarize"),),
)
