"""``<pkg>.tasks``: the header task lives here, under an explicit name.

As in the origin investigation, the header task is registered as
``lab.apps.origin.tasks.execute_single_test``: outside the route glob
``lab.apps.origin.tasks.execution.*``, so it goes to the default queue.
"""

import time

from celery import shared_task


@shared_task(bind=True, name="lab.apps.origin.tasks.execute_single_test")
def execute_single_test(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    return value
