"""Mechanism 5 under ``volatile-lru``: only keys with a TTL may be evicted.

Catalog claim: confirmed, and sharper than ``allkeys-lru``. The large results
here have no TTL; the chord keys do (``result_expires``), so when memory runs
out the chord size key is the first candidate: ``evicted_keys`` is 1 and that
one key is ``.s``.  Once nothing volatile is left, writes fail with OOM.

Fix: ``redis-eviction-fixed``.
"""

import dataclasses

from redis_eviction import scenario as base

scenario = dataclasses.replace(
    base,
    name="redis-eviction-volatile",
    description="maxmemory 4 MB, volatile-lru: large results without a TTL crowd out the chord keys, which have one",
    redis_options={"maxmemory": "4mb", "maxmemory-policy": "volatile-lru"},
)
