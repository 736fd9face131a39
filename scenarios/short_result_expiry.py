"""Mechanism 4: the chord keys expire before the header's parts return.

Catalog claim: confirmed. `.s` is gone when the parts return, `.j` holds every part, nothing is published or logged.

``result_expires`` (and on Celery 5.7 ``result_chord_expires``, which defaults
to it) is 1 s; each part takes 2 s.  The producer writes the chord size key
``.s`` with a 1 s TTL; when the first part returns, ``.s`` is gone, the part
return finds no size, and nothing is published or logged.
Fix: ``short-result-expiry-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="short-result-expiry",
    description="result_expires=1 s while each header part takes 2 s: the chord size key expires first",
    expect="stuck",
    expect_cause="chord-size-key-missing",
    mechanism="4",
    fix="short-result-expiry-fixed",
    config={"result_expires": 1, "result_chord_expires": 1},
    workers=(Worker("w1", concurrency=3),),
    chords=(Chord(header=3, duration=2.0),),
)
