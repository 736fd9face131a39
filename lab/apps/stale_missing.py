"""A stale deploy that predates the callback: it has ``lab.part`` only."""

import time

from celery import shared_task


@shared_task(bind=True, name="lab.part")
def part(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    return value
