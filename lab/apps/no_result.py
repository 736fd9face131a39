"""Header parts that store no result: ``ignore_result=True`` on the task itself.

``lab.part_no_result(value, duration, fail)`` behaves like ``lab.part`` but
Celery never writes its meta to the result backend.  The chord counts it (or
does not) depending on the backend: that is what ``ignore-result`` tests.
"""

import time

from celery import shared_task


@shared_task(bind=True, name="lab.part_no_result", ignore_result=True)
def part_no_result(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    if fail:
        raise RuntimeError(f"part {value} failed on purpose")
    return value


@shared_task(bind=True, name="lab.part_unstored")
def part_unstored(self, value, duration=0.0, fail=False):
    """Like ``lab.part``; a part told to "fail" instead returns without storing its result.

    Celery reads ``request.ignore_result`` again when it stores the result, so
    one part of a header can skip the store while its siblings keep theirs.
    """
    if duration:
        time.sleep(duration)
    if fail:
        self.request.ignore_result = True
    return value
