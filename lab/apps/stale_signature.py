"""A stale deploy whose callback has the old signature: it takes no extra
argument, so a chord that passes one (``collect.s(run_id)``) raises TypeError."""

import time

from celery import shared_task


@shared_task(bind=True, name="lab.part")
def part(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    return value


@shared_task(bind=True, name="lab.collect")
def collect(self, results):
    return results
