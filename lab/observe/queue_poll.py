"""The broker's queues, polled while a deployment runs: how long each is, and what just landed in one nobody consumes.

    a user's broker → **observe/queue_poll.py** → ``queued`` events → doctor/watch.py (ChordWatch)

On Redis a queue is a list (kombu's naming, ``observe.broker.RedisNaming``) that a publisher ``LPUSH``es
and a worker ``BRPOP``s, so what just landed is at its head.  Each poll is one pipeline of ``LLEN`` over the
queues asked for; for a queue nobody consumes, the messages added since the last poll (at most ``PEEK``)
are read with ``LRANGE`` (never consumed) and decoded by ``observe.broker.decode_message``: their headers
name the task, its group and group index, and a header part's body names its chord's callback.  That is
the link Celery's events lack.  RabbitMQ's messages cannot be read without consuming them: there the
counts come from ``observe.broker.rabbitmq_counts`` (passive declare), and no message is linked.
"""

from __future__ import annotations

from typing import Any

from lab.observe.broker import RedisNaming, decode_message

PEEK = 50  # new messages read per queue and poll


class QueuePoller:
    """``poll(names, unconsumed)``: each queue's length, and a ``queued`` event for each message new in an
    unconsumed one."""

    def __init__(self, client, naming: RedisNaming | None = None, *, peek: int = PEEK):
        self.client = client
        self.naming = naming or RedisNaming()
        self.peek = peek
        self.last: dict[str, int] = {}  # key → its length at the last poll
        self.polls = 0

    def poll(self, names: set[str], unconsumed: set[str], now: float) -> tuple[dict[str, int], list[dict[str, Any]]]:
        keys = [(name, key) for name in sorted(names) for key in self.naming.queue_keys(name)]
        if not keys:
            return {}, []
        pipe = self.client.pipeline(transaction=False)
        for _, key in keys:
            pipe.llen(key)
        lengths_by_key = pipe.execute()
        self.polls += 1
        lengths: dict[str, int] = {}
        events: list[dict[str, Any]] = []
        for (name, key), n in zip(keys, lengths_by_key):
            n = int(n or 0)
            lengths[name] = lengths.get(name, 0) + n
            new = n - self.last.get(key, 0)
            self.last[key] = n
            if name not in unconsumed or new <= 0:
                continue
            for raw in self.client.lrange(key, 0, min(new, self.peek) - 1):
                m = decode_message(raw)
                if m and m.get("task_id"):
                    events.append({"event": "queued", "task_id": m["task_id"], "name": m.get("name"), "queue": name,
                                   "group_id": m.get("group"), "group_index": m.get("group_index"),
                                   "chord_callback": m.get("chord_callback_id"), "t": now, "length": n,
                                   "source": "broker"})
        return lengths, events
