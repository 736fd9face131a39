"""Mechanism 15 with ``DEBUG SLEEP``: the whole redis-server blocks for 3 s as the parts return.

Catalog claim: confirmed, as for ``CLIENT PAUSE``: with a 1 s socket timeout
the parts' stores time out and the chord fails with ChordError, not PENDING.
Redis 7 refuses DEBUG unless ``enable-debug-command`` allows it, so the
scenario sets it to ``local``; a refused DEBUG is written in the timeline as
``fault-failed``.  Fix: ``redis-client-pause-fixed``.
"""

import dataclasses

from lab import Fault
from redis_client_pause import scenario as base

scenario = dataclasses.replace(
    base,
    name="redis-debug-sleep",
    description="DEBUG SLEEP 3 s on Redis just before the header parts return; the result backend's socket timeout is 1 s",
    redis_options={"enable-debug-command": "local"},
    faults=(Fault("client-pause", trigger="after-parts-started", delay=0.8, options={"for": 3.0, "command": "debug-sleep"}),),
)
