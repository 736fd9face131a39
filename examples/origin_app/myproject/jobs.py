"""The test run's chord, built and not sent: what `lab run --app ... --canvas myproject.jobs:build_test_run` sends."""

import uuid

from celery import chord, group

from myproject.tasks import execute_single_test
from myproject.tasks.execution.results import collect_results


def build_test_run(parts: int = 10):
    """Ten tests in parallel, then the summary, as the origin's execution/parallel.py built it."""
    test_run_id = str(uuid.uuid4())
    callback = collect_results.s(test_run_id).set(headers={"organization_id": "org-1", "user_id": "user-1"})
    return chord(group(execute_single_test.s(i) for i in range(parts)), callback)
