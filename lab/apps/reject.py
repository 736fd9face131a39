"""Header parts that leave the chord by ``Reject`` or ``Ignore`` instead of returning or raising.

``lab.part_reject(value, duration, fail)`` and ``lab.part_ignore(...)`` behave
like ``lab.part``, except that a part told to fail raises
``Reject(requeue=False)`` or ``Ignore()``: Celery then stores no result and,
per the catalog, never reports the part to the chord.
"""

import time

from celery import shared_task
from celery.exceptions import Ignore, Reject


@shared_task(bind=True, name="lab.part_reject")
def part_reject(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    if fail:
        raise Reject(f"part {value} rejected on purpose", requeue=False)
    return value


@shared_task(bind=True, name="lab.part_ignore")
def part_ignore(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    if fail:
        raise Ignore()
    return value
