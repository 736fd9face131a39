"""Mechanism 5: eviction under ``maxmemory`` with ``allkeys-lru`` while large results are stored.

Catalog claim: confirmed. redis-server runs with ``maxmemory 4mb`` and
``allkeys-lru``; while the three 1 s parts run, 150 results of 64 KB are
stored in the backend's database (``celery-task-meta-filler-*``, the nemesis's
``fill-redis``).  Redis evicts the least recently used keys, and the chord
size key ``.s``, written once at send time and never read since, is among
them: when the parts return, ``.j`` fills up but no size is there to compare
with, and nothing is sent or logged.  ``evicted_keys`` counts the evictions;
``.s``'s TTL at send shows it would have lived a day.

Fix: ``redis-eviction-fixed``.  Under ``volatile-lru``:
``redis-eviction-volatile``; under ``noeviction``: ``redis-eviction-noeviction``.
"""

from lab import Chord, Fault, Scenario, Worker

scenario = Scenario(
    name="redis-eviction",
    description="maxmemory 4 MB, allkeys-lru: 64 KB results are stored while the header runs, and the chord size key is evicted",
    expect="stuck",
    expect_cause="chord-key-evicted",
    mechanism="5",
    fix="redis-eviction-fixed",
    redis_options={"maxmemory": "4mb", "maxmemory-policy": "allkeys-lru"},
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=1.0),),
    faults=(Fault("fill-redis", trigger="after-parts-started", delay=0.2,
                  options={"db": 1, "limit": 150, "prefix": "celery-task-meta-filler-"}),),
)
