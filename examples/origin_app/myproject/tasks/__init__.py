"""The header task, registered under an explicit name outside the route glob."""

import time

from myproject.worker import app


@app.task(bind=True, name="myproject.tasks.execute_single_test")
def execute_single_test(self, test_id, duration=0.05):
    time.sleep(duration)
    return {"test_id": test_id, "status": "passed"}
