"""The fix for worker-crash-pool-child: ``acks_late=True`` with ``task_reject_on_worker_lost=True``.

The worker rejects the lost part's message with requeue instead of failing
it; the part runs again (the ledger shows it twice) and the chord completes.
Only safe for parts that may run twice.
"""

import dataclasses

from worker_crash_pool_child import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="worker-crash-pool-child-fixed",
    description="as worker-crash-pool-child, with acks_late=True and task_reject_on_worker_lost=True",
    expect="completed",
    expect_cause=None,
    fix=None,
    config={"worker_prefetch_multiplier": 1, "task_acks_late": True, "task_reject_on_worker_lost": True},
)
