"""The fix for worker-crash: ``acks_late=True`` with ``task_reject_on_worker_lost=True``.

Catalog claim: confirmed, with a condition the catalog leaves out. With
acks_late nothing is acknowledged before it finishes, so after the restart
the killed parts come back, and the chord completes, in every run.  On the
Redis broker that redelivery is the visibility timeout's doing (the main
process died, so nobody rejected anything: ``task_reject_on_worker_lost``
only acts when a pool child dies under a live worker): here it is 2 s, with
``unacked_restore_interval`` 1 s, so the restarted worker restores them
within seconds.  With the default 1 h timeout the chord would wait an hour.
"""

import dataclasses

from worker_crash import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="worker-crash-acks-late",
    description="as worker-crash, with acks_late=True, task_reject_on_worker_lost=True and a 2 s visibility_timeout",
    expect="completed",
    expect_cause=None,
    fix=None,
    config={"worker_prefetch_multiplier": 1, "task_acks_late": True, "task_reject_on_worker_lost": True,
            "broker_transport_options": {"visibility_timeout": 2, "unacked_restore_interval": 1,
                                         "unacked_restore_throttle": 1}},
)
