"""A stale deploy for fuzzed chords: every ``fuzz.*`` task except the chord body
``fuzz.total``, as a worker running code that predates the callback would have.
"""

from lab.apps.fuzz_tasks import register

TASKS = register(body=False)
