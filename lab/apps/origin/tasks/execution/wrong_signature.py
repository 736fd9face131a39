"""The origin's first error: a callback that takes one argument fewer than the
chord passes (``collect_results() takes 2 positional arguments but 3 were given``)."""

from celery import shared_task


@shared_task(bind=True, name="lab.apps.origin.tasks.execution.results.collect_results")
def collect_results(self, results):
    return results
