"""The fix for redis-eviction: enough memory for the results (or a Redis for results that is not a cache).

The same 150 results of 64 KB with ``maxmemory 64mb``: nothing is evicted
and the chord completes.  A result backend should never share an eviction
policy meant for a cache.
"""

import dataclasses

from redis_eviction import scenario as broken

scenario = dataclasses.replace(
    broken,
    name="redis-eviction-fixed",
    description="the same results stored, with maxmemory 64 MB: nothing is evicted",
    expect="completed",
    expect_cause=None,
    fix=None,
    redis_options={"maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"},
)
