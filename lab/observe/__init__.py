"""Observations: what really happened, read from the ledger, broker, backend and logs.

    scenario → runtime up → chords sent → **observations** → verdict → record

Nothing here judges.  One reader per source, shared by lab runs, the fuzzer and
doctor: ``ledger`` (the witness kept apart from Celery), ``broker`` (Redis by
kombu's key naming, RabbitMQ by passive declare), ``backend`` (chord keys,
metas, INFO), ``workers`` (inspect), ``probe`` (quiescence and the one probe of
a lab run), ``live`` (a user's deployment, read by id) and ``model`` (the nouns
of a reading).
"""
