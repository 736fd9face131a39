"""A task that builds a chord inside a worker, as the origin's code does.

``lab.launch_chord(results, parts, duration)`` applies
``chord([lab.part(i, duration) for i in range(parts)])(lab.collect.s())``
from inside the worker and returns the inner chord's id.  Whatever the
worker's result backend refuses shows up here, in the worker, not at the
producer.
"""

from celery import chord, shared_task


@shared_task(bind=True, name="lab.launch_chord")
def launch_chord(self, results=None, parts=3, duration=0.0):
    header = [self.app.signature("lab.part", args=(i, duration, False)) for i in range(parts)]
    return chord(header)(self.app.signature("lab.collect")).id
