"""The current deploy: a header part and a callback with known results.

``lab.part(value, duration, fail)`` sleeps ``duration`` and returns ``value``
(or raises when ``fail``), so the oracle for a chord is the list of its parts'
values, in header order.  ``lab.collect(results, *extra)`` returns what it got.
"""

import time

from celery import shared_task


class PartFailed(Exception):
    """Raised by a header part told to fail."""


@shared_task(bind=True, name="lab.part")
def part(self, value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    if fail:
        raise PartFailed(f"part {value} failed on purpose")
    return value


@shared_task(bind=True, name="lab.collect")
def collect(self, results, *extra):
    return results
