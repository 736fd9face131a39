"""The Celery app, started as ``celery -A myproject.worker:app worker``."""

import os

from celery import Celery

app = Celery(
    "myproject",
    broker=os.environ.get("ORIGIN_BROKER_URL", "redis://127.0.0.1:6379/0"),
    backend=os.environ.get("ORIGIN_RESULT_BACKEND", "redis://127.0.0.1:6379/1"),
    include=["myproject.tasks", "myproject.tasks.execution.results"],
)
app.conf.update(
    task_routes={
        "myproject.tasks.execution.*": {"queue": "execution"},
        "myproject.tasks.metrics.*": {"queue": "metrics"},
    },
    task_track_started=True,
    result_expires=3600,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
)
