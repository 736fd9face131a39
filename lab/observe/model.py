"""The nouns the observers write and the judge reads: a lab run's observations, and a live reading.

    scenario → topology up → chords sent → **observations** → judge (pure) → verdict with proof → record
    a user's app + a chord id → observe.live (reads) → **a reading** → judge.live (pure) → diagnosis

A run's observations are plain JSON dicts (a record's ``"observations"``, stored
as read); the ``TypedDict`` classes below name their shape once, as static
types over the same dicts: nothing is converted, a record stays byte-identical.
Three writers fill them: the runner (``experiments.run`` with ``observe.probe``
and ``drive.send``), ``judge.live`` (the observations rebuilt from a live
reading) and the tests' builders (``tests/builders.py``).  A key is required
only where every writer writes it; every other key is optional (``total=False``):
the readers (``judge``, ``views.timeline``) ``.get`` it, and a hand-built
observation may leave it out.

Pure data and pure views over it: no I/O here, and nothing but the standard
library, so the judge can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

HELD_KINDS = ("active", "reserved", "scheduled")


# -- a run's observations -------------------------------------------------


class _LedgerEventKeys(TypedDict):
    event: str  # publish, start, end, unregistered, rejected; the recorder's also internal_error, failure
    t: float | None  # seconds since the epoch; None in a ledger judge.live rebuilt from state with no time
    task_id: str | None


class LedgerEvent(_LedgerEventKeys, total=False):
    """One line of the execution ledger: written by ``observe.ledger``'s signal handlers in every process."""

    pid: int  # the process that wrote it (a pool child runs the task)
    name: str | None  # the task's name
    group_id: str | None
    group_index: int | None
    in_chord: bool
    root_id: str | None
    worker: str | None  # hostname of the worker that ran (start, end) or discarded (unregistered, rejected) it
    delivery: str | None  # the routing key it was delivered with
    redelivered: bool
    args: list[Any] | None  # start
    kwargs: dict[str, Any]  # start
    state: str | None  # end: SUCCESS, FAILURE, RETRY ...
    result: Any  # end: the return value, as JSON
    queue: str | None  # publish: the routing key
    exchange: str | None  # publish
    by: str | None  # publish: the node that published it ("producer", or a worker's hostname)
    error: str  # unregistered, rejected
    source: str  # judge.live only: where a rebuilt event came from (backend, workers)


class _SentChordKeys(TypedDict):
    index: int
    chord_id: str  # the callback's task id
    header_ids: list[str]


class SentChord(_SentChordKeys, total=False):
    """One chord as the producer sent it, with the oracle: written by ``drive.send.send_chords``."""

    group_id: str | None
    header_task: str
    callback_task: str
    header_queue: str | None  # where task_routes sends a part
    callback_queue: str | None  # and the callback
    expected: list[Any] | None  # the results the callback must receive, in order
    durations: list[float]  # each part's sleep
    raising_parts: list[int]  # the parts that raise
    sent_at: float
    apply_error: str  # chord() raised at the producer (rpc:// refuses chords): nothing was sent
    send_error: str  # sending raised on a lost connection: the last chord sent
    send_failed_at: float
    canvas: str  # a user's canvas, as its repr (lab run --app ... --canvas)
    part_options: dict[str, Any]  # the route-deciding options of its signatures (queue, exchange, routing_key)
    callback_options: dict[str, Any]


class RouteReading(TypedDict, total=False):
    """Where one publisher sends a task and the setting that decides it: written by ``observe.routes.read_routes``."""

    role: str  # "header" (the producer publishes it) or "callback" (the worker that ends the last part does)
    task: str
    by: str  # "producer" or a worker's hostname, as the ledger names publishers
    queue: str | None
    source: str  # "signature" (.set(queue=...)), "producer" or "worker" (that node's own config), "unknown"
    why: str  # the setting, in words: "task_routes entry re.compile('.*collect.*') matches ..."


class _SizeTTLKeys(TypedDict):
    chord_id: str
    pttl_ms: int  # Redis PTTL: -1 no expiry, -2 no key
    t: float  # when it was read


class SizeTTL(_SizeTTLKeys, total=False):
    """The TTL of a chord's size key read just after sending: written by ``drive.send.chord_size_ttls``."""

    key: str  # ".s"


class _TimelineEntryKeys(TypedDict):
    t: float
    kind: str  # run, ready, sent, send-failed, fault, heal, quiesced


class TimelineEntry(_TimelineEntryKeys, total=False):
    """One thing the lab did or saw happen (ready, sent, a fault, a heal): written by ``experiments.run`` and ``drive.nemesis``."""

    what: str  # in words
    fault: str  # kill-worker, kill-pool-child, fill-redis, flushdb, restart-redis, ...
    target: str  # the worker (hostname) or server a fault acted on
    pids: list[int]  # the processes a kill signalled
    db: int
    persist: bool
    mode: str
    seconds: float
    keys: int
    written: int
    evicted_keys: int
    error: str


class _DeadPartKeys(TypedDict):
    task_id: str


class DeadPart(_DeadPartKeys, total=False):
    """A header part that started and never ended, whose process is gone: written by ``observe.probe.dead_parts``."""

    pid: int | None
    worker: str | None
    started: float


class Quiescence(TypedDict, total=False):
    """How the wait for the header ended: written by ``observe.probe.wait_for_quiescence`` (and ``experiments.run`` on a lost server)."""

    how: str  # all-parts-ended, quiet, bound, stopped, server-lost
    t: float
    waited_s: float
    parts: list[int]  # [expected, started, ended]
    note: str
    dead_parts: list[DeadPart]


class QueueProbe(TypedDict, total=False):
    """One queue as the broker probe saw it: written by ``observe.probe.probe_redis_broker`` / ``probe_rabbitmq_broker``."""

    length: int
    messages: list[dict[str, Any]]  # task_id, name of each message peeked (Redis; RabbitMQ reads none)
    consumers: int  # RabbitMQ: the broker's own consumer count
    absent: bool  # RabbitMQ: nobody declared it


class BrokerProbe(TypedDict, total=False):
    """The broker at the final probe: written by ``observe.probe.probe_redis_broker`` / ``probe_rabbitmq_broker``."""

    queues: dict[str, QueueProbe]
    unacked: list[dict[str, Any]]  # messages delivered and not acknowledged (task_id, name)
    bindings: list[str]  # Redis: kombu's binding keys
    error: str  # the probe failed (the server went away)
    unread: bool  # not asked: its server is the one lost


class WorkersProbe(TypedDict, total=False):
    """What the workers answered at the final probe: written by ``observe.probe.probe_workers`` (``observe.workers``)."""

    consumers: dict[str, list[str]]  # hostname -> the queues it consumes (inspect active_queues)
    registered: dict[str, list[str]]  # hostname -> its registered tasks
    error: str
    unread: bool


class _ChordKeyKeys(TypedDict):
    type: str  # none, string, zset, list, set


class ChordKey(_ChordKeyKeys, total=False):
    """One Redis key of a chord (.s, .j, .t, .d, .c, meta) as probed: written by ``observe.backend``."""

    pttl_ms: int
    value: Any  # strings: the decoded value
    card: int  # zset, list, set: how many members
    members: list[Any]


class TaskMeta(TypedDict, total=False):
    """A task's stored result meta: written by ``observe.backend``'s probes."""

    status: str
    result: Any
    traceback: str | None
    date_done: str | None
    raw: str  # a meta that did not decode to a dict


class WorkerBackend(TypedDict, total=False):
    """A Redis result backend a worker uses and the producer does not: written by ``observe.backend.probe_worker_backends``."""

    url: str
    keyprefix: str
    chord_keys: dict[str, dict[str, ChordKey]]
    metas: dict[str, TaskMeta]
    error: str


class BackendProbe(TypedDict, total=False):
    """The result backend at the final probe: written by ``observe.backend`` (probe_redis/database/rpc_backend) and ``experiments.run``."""

    kind: str  # redis, database, rpc, ...
    chord_keys: dict[str, dict[str, ChordKey]]  # Redis: chord id -> suffix (".s", ".j", ..., "meta") -> key
    metas: dict[str, TaskMeta]  # task id -> meta
    stats: dict[str, Any]  # Redis INFO: evicted_keys, maxmemory, maxmemory_policy, ...
    worker_backends: dict[str, WorkerBackend]  # hostname -> the other backend it writes to
    error: str
    unread: bool


class ExitedWorker(TypedDict):
    """A worker whose life ended before the final probe: written by ``experiments.run.exited_workers``."""

    worker: str  # its name in the scenario
    hostname: str
    pid: int
    returncode: int | None
    how: str  # the exit in words


class Probe(TypedDict, total=False):
    """The final probe of broker, workers, backend and logs: written by ``experiments.run.probe_all``."""

    t: float
    quiesced: bool
    broker: BrokerProbe
    workers: WorkersProbe
    backend: BackendProbe
    logs: dict[str, list[str]]  # hostname -> the log lines that can carry evidence
    lost: str  # the run's redis-server died, unplanned
    exited: list[ExitedWorker]
    queues: dict[str, QueueProbe]  # older records: the broker's queues, not nested (views.timeline reads both)
    consumers: dict[str, list[str]]  # older records: the workers' consumers, not nested


class WorkerDescription(TypedDict, total=False):
    """One worker as started: written by the runtime's ``describe()`` (runtime.process.topology, runtime.docker)."""

    name: str
    hostname: str
    queues: list[str] | None  # None: the default queue
    concurrency: int
    pool: str
    tasks: list[str] | None
    pid: int
    ready_at: float
    log: str
    result_backend: str
    earlier_lives: list[dict[str, Any]]  # pid, until: the lives before a restart


class TopologyDescription(TypedDict, total=False):
    """The topology a run brought up: written by the runtime's ``Topology.describe()``."""

    redis: dict[str, Any]  # port, version, ready_at, options
    broker_url: str
    result_backend: str
    workers: list[WorkerDescription]
    boot_s: float
    database: str
    vhost: str
    runtime: str  # docker


class Observations(TypedDict, total=False):
    """Everything one lab run observed, stored raw in its record: assembled by ``experiments.run.drive``, read by the judge and views.timeline."""

    run_id: str
    scenario: dict[str, Any]  # Scenario.to_dict()
    seed: int
    started_at: float
    topology: TopologyDescription
    chords: list[SentChord]
    size_ttls: list[SizeTTL]
    quiescence: Quiescence
    ledger: list[LedgerEvent]
    probe: Probe
    timeline: list[TimelineEntry]
    routes: list[RouteReading]  # where each publisher routes each task, and why (read when the chords were sent)
    meta_ttls: list[dict[str, Any]]  # callbacks' result-meta PTTLs while the final read was held (read_after): task_id, pttl_ms, t
    finished_at: float  # when the verdicts were final (set after judging)
    witness: str  # what recorded ``ledger``: "ledger" (the file ledger; older records lack the key) or "recorder"
    recorder: dict[str, Any]  # with the recorder as witness: its store, events read, dropped, read errors, differences


# -- a live reading -------------------------------------------------------


def epoch(date_done: Any) -> float | None:
    """A meta's ``date_done`` as seconds since the epoch."""
    from datetime import datetime

    if not date_done:
        return None
    try:
        return datetime.fromisoformat(str(date_done).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class ChordRef:
    """What the deployment says of a chord's ids, and how each was found."""

    asked: str
    group_id: str | None = None
    callback_id: str | None = None
    header_ids: list[str] = field(default_factory=list)
    header_task: str | None = None
    callback_task: str | None = None
    size: int | None = None
    asked_is: str = "unknown"  # callback, group, header, unknown
    how: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # FAILURE metas naming no group, stored just after the last part

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChordRef":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def held_requests(workers: dict[str, Any]) -> list[dict[str, Any]]:
    """Every request a worker holds, one row each: worker, how (active/reserved/scheduled), the request's fields."""
    rows = []
    for how in HELD_KINDS:
        for host, reqs in (workers.get(how) or {}).items():
            for r in reqs or []:
                req = r.get("request", r) if how == "scheduled" else r
                rows.append({"worker": host, "how": how, "task_id": req.get("id"), "name": req.get("name"),
                             "args": req.get("args"), "kwargs": req.get("kwargs"),
                             "eta": r.get("eta") if how == "scheduled" else None, "time_start": req.get("time_start"),
                             "routing_key": (req.get("delivery_info") or {}).get("routing_key")})
    return rows
