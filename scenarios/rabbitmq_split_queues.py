"""Mechanism 1 on RabbitMQ: the callback is routed to a queue no worker consumes.

Catalog claim: confirmed on RabbitMQ. Every part succeeds; the callbacks wait
in ``reports``.  RabbitMQ messages cannot be peeked without taking them, so
the proof is by count: the broker itself (a passive declare) reports the
queue's message count and zero consumers, and the ledger shows exactly those
callbacks published to ``reports`` and never run.  Each run gets a vhost of
its own, created and deleted by the lab; the test skips where no RabbitMQ
answers.  Fix: ``rabbitmq-split-queues-fixed``.
"""

from lab import Chord, Scenario, Worker

scenario = Scenario(
    name="rabbitmq-split-queues",
    description="RabbitMQ broker (a vhost of its own); header on 'execution', callback routed to 'reports', which no worker consumes",
    expect="stuck",
    expect_cause="callback-queue-unconsumed",
    mechanism="1",
    fix="rabbitmq-split-queues-fixed",
    broker="rabbitmq",
    config={"task_routes": {"lab.part": {"queue": "execution"}, "lab.collect": {"queue": "reports"}}},
    workers=(Worker("w1", queues=("execution",), concurrency=2),),
    chords=(Chord(header=3, duration=0.05, count=2),),
)
