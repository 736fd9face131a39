"""Send one chord of ten parts, as the origin did; print its ids as JSON."""

import json
import uuid

from celery import chord

from myproject.tasks import execute_single_test
from myproject.tasks.execution.results import collect_results


def send(parts: int = 10) -> dict:
    test_run_id = str(uuid.uuid4())
    callback = collect_results.s(test_run_id).set(headers={"organization_id": "org-1", "user_id": "user-1"})
    result = chord(execute_single_test.s(i) for i in range(parts))(callback)
    return {"chord_id": result.id, "group_id": result.parent.id,
            "header_ids": [r.id for r in result.parent.results], "test_run_id": test_run_id}


if __name__ == "__main__":
    print(json.dumps(send()))
