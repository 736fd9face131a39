"""Mechanism 2 on PostgreSQL: as chord-unlock-unconsumed, with the result backend in a PostgreSQL database.

Catalog claim: confirmed; the database engine changes nothing. Each run
creates its own database on the local server (``LAB_POSTGRES_URL`` or
postgresql://postgres@127.0.0.1:5432) and drops it afterwards; the test skips
where no PostgreSQL answers.  Fix: ``chord-unlock-unconsumed-fixed``.
"""

import dataclasses

from chord_unlock_unconsumed import scenario as base

scenario = dataclasses.replace(
    base,
    name="chord-unlock-unconsumed-postgres",
    description="as chord-unlock-unconsumed, on a PostgreSQL result backend",
    config={**base.config, "result_backend": "{postgres}"},
)
