"""Mechanism 1b, the origin case (shared/origin/chord-investigation.md), rebuilt faithfully.

Catalog claim: confirmed. Mechanism 1b holds exactly as the origin suspected under "Queue Routing Issue": the header runs on 'celery', the callback waits in 'execution'.

- ``task_routes = {'<pkg>.tasks.execution.*': {'queue': 'execution'}}``, with
  ``<pkg>`` = ``lab.apps.origin``.
- The header task has the explicit name ``<pkg>.tasks.execute_single_test``:
  outside the glob, so it goes to the default queue ``celery``.
- The callback ``collect_results(self, results, test_run_id)`` (``bind=True``)
  lives in ``<pkg>.tasks.execution.results`` under its default name: inside
  the glob, so it goes to ``execution``.  It gets ``test_run_id`` by partial
  application and carries custom headers, as in the origin.
- One worker, ``--concurrency=4`` and no ``-Q``: it consumes ``celery`` only.
- Redis broker and backend, ``task_track_started``, ``result_expires=3600``.

Every part runs and succeeds; the callback waits in ``execution`` forever.
Fix: ``route-glob-mismatch-fixed``.
"""

from lab import Chord, Scenario, Worker

PKG = "lab.apps.origin"

scenario = Scenario(
    name="route-glob-mismatch",
    description="the origin case: a route glob sends the callback to 'execution'; the worker has no -Q",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1b",
    fix="route-glob-mismatch-fixed",
    tasks=(f"{PKG}.tasks", f"{PKG}.tasks.execution.results"),
    config={
        "task_routes": {f"{PKG}.tasks.execution.*": {"queue": "execution"},
                        f"{PKG}.tasks.metrics.*": {"queue": "metrics"}},
        "task_track_started": True,
        "result_expires": 3600,
    },
    workers=(Worker("worker", queues=None, concurrency=4),),
    chords=(Chord(
        header=10,
        duration=0.05,
        header_task=f"{PKG}.tasks.execute_single_test",
        callback=f"{PKG}.tasks.execution.results.collect_results",
        callback_args=("1d91af11-b9bc-48b4-be0b-5d11aa4597ca",),  # test_run_id, by partial application
        callback_options={"headers": {"organization_id": "org-1", "user_id": "user-1"}},
    ),),
)
