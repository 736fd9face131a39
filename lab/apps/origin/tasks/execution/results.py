"""``<pkg>.tasks.execution.results``: the origin's chord callback.

``collect_results`` keeps its default name,
``lab.apps.origin.tasks.execution.results.collect_results``, which the route
glob ``lab.apps.origin.tasks.execution.*`` sends to queue ``execution``.
"""

from celery import shared_task


@shared_task(bind=True)
def collect_results(self, results, test_run_id):
    return results
