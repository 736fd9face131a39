"""The chord callback, under its default name ``myproject.tasks.execution.results.collect_results``."""

from myproject.worker import app


@app.task(bind=True)
def collect_results(self, results, test_run_id):
    return {"test_run_id": test_run_id, "passed": sum(1 for r in results if r["status"] == "passed")}
