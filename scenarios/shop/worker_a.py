"""The reports team's Celery app: its own config routes summaries to 'summary' (the other app does not)."""

from celery import Celery

app = Celery("shop", include=["shop.tasks"])
app.conf.task_routes = {"shop.summarize": {"queue": "summary"}}
