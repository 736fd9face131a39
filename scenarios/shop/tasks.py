"""A shop's report tasks: a page renderer (the header) and a summary (the callback).

``render_page(value, duration, fail)`` sleeps ``duration`` and returns ``value`` (raises when ``fail``),
so the chord's oracle is its parts' values in order; ``summarize(results, *extra)`` returns what it got.
"""

import time

from celery import shared_task


@shared_task(name="shop.render_page")
def render_page(value, duration=0.0, fail=False):
    if duration:
        time.sleep(duration)
    if fail:
        raise RuntimeError(f"page {value} failed on purpose")
    return value


@shared_task(name="shop.summarize")
def summarize(results, *extra):
    return results
