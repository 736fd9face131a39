"""Entry point for ``celery -A lab.worker_app worker``: the app a worker runs.

It reads its whole configuration from the file named by ``LAB_APP`` (written
by ``lab.runtime.process.topology``), so the same module serves every worker of every run.
"""

from lab.runtime.celery_app import from_env

app = from_env()
