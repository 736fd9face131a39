"""Bare Celery for the benchmarks: the lab's task code, none of the lab (no ledger, no app spec).

    celery -A bench.bare_app worker   (BARE_BROKER and BARE_BACKEND name the run's redis-server)

This is what "a redis-server and a celery worker started by hand" means in
BENCHMARKS.md: the same tasks and routes as the ``healthy`` scenario, nothing else.
"""

import os

from celery import Celery

ROUTES = {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}

app = Celery("bare", broker=os.environ.get("BARE_BROKER", "redis://127.0.0.1:6399/0"),
             backend=os.environ.get("BARE_BACKEND", "redis://127.0.0.1:6399/1"), set_as_current=True)
app.conf.update(task_routes=ROUTES, task_serializer="json", result_serializer="json", accept_content=["json"],
                broker_connection_retry_on_startup=True)

import lab.apps.basic  # noqa: E402,F401  the same task code the lab runs

if os.environ.get("BARE_RECORDER"):  # bench/recorder_overhead.py: the flight recorder installed, as a user would
    from lab.recorder import install

    install(app, os.environ["BARE_RECORDER"])

app.finalize(auto=True)
