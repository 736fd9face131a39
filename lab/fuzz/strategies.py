"""Chord shapes, task behaviours and configurations: the hypothesis strategies.

    **strategies** → session (topology up, chords sent, observed) → oracle + judge → findings

Everything drawn here is plain, frozen data that round-trips through JSON
(``to_data`` / ``from_data``), so a shrunk finding can be saved and replayed
without hypothesis.  ``build`` turns a shape into a Celery canvas for a given
app; ``describe`` writes it the way a person would type it.

Shapes (``st.recursive``, shrinking toward a flat chord of plain tasks):

    canvas := task | chain(canvas, canvas, ...) | group(canvas, ...) | chord([canvas, ...], body)
    body   := task | chain(canvas, ..., task)          (a chord's body ends in a task: its callback)

A task has a behaviour (``lab.apps.fuzz``), a value, a duration, ``.s`` or
``.si`` (``immutable``), and per-signature options: ``queue``,
``ignore_result``, custom ``headers``, ``countdown`` / ``eta``.  The outer
shape is always a chord (header of 0 to N canvases), so its callback is the
task the verdict is about.

A configuration (``FuzzConfig``) is the topology and Celery config: which
queues each worker consumes and which code it runs, routes for header tasks,
callbacks and ``celery.chord_unlock``, result expiry, ``task_ignore_result``,
``acks_late``, ``task_reject_on_worker_lost``, worker count, pool and
concurrency, the backend kind and Redis' ``maxmemory-policy``.  Its defaults
are a healthy topology, and every field shrinks toward its default.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Union

from hypothesis import strategies as st

from lab.apps.fuzz_tasks import BEHAVIOURS, task_name
from lab.scenario import Chord, Scenario, Worker

DEFAULT_QUEUE = "celery"
QUEUES = ("celery", "execution", "reports")
DURATIONS = (0.0, 0.005, 0.02, 0.1)  # seconds a task sleeps
DELAYS = (0.02, 0.1)  # countdown and eta, seconds
POOLS = ("prefork", "threads", "solo")
MAXMEMORY_POLICIES = ("noeviction", "allkeys-lru", "volatile-ttl", "allkeys-random", "volatile-lru")
FUZZ_HEADERS = {"organization_id": "org-1", "user_id": "user-1"}  # as in the origin case


# -- shapes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """Per-signature options, given to ``.set()``; defaults are "none"."""

    queue: str | None = None
    ignore_result: bool = False
    headers: bool = False  # custom message headers (FUZZ_HEADERS)
    countdown: float | None = None
    eta: float | None = None  # seconds after sending, turned into a datetime when built

    def to_celery(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if self.queue:
            opts["queue"] = self.queue
        if self.ignore_result:
            opts["ignore_result"] = True
        if self.headers:
            opts["headers"] = dict(FUZZ_HEADERS)
        if self.countdown is not None:
            opts["countdown"] = self.countdown
        if self.eta is not None:
            opts["eta"] = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.eta)
        return opts

    def changed(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}


@dataclass(frozen=True)
class TaskShape:
    behaviour: str = "ok"
    value: int = 0
    duration: float = 0.0
    immutable: bool = False  # .si: ignores what comes before it; .s (default) takes it as a first argument
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class ChainShape:
    links: tuple["Shape", ...]


@dataclass(frozen=True)
class GroupShape:
    members: tuple["Shape", ...]


@dataclass(frozen=True)
class ChordShape:
    header: tuple["Shape", ...]
    body: "Shape"


Shape = Union[TaskShape, ChainShape, GroupShape, ChordShape]


def tasks(*, behaviours: tuple[str, ...] = BEHAVIOURS, queues: tuple[str | None, ...] = (None,),
          options: bool = True, durations: tuple[float, ...] = DURATIONS[1:], max_value: int = 999
          ) -> st.SearchStrategy[TaskShape]:
    """One task: behaviour, value, duration, .s/.si and options; shrinks to ``fuzz.part.s(value=0)``."""
    behaviours = tuple(behaviours)
    if "ok" in behaviours:  # "ok" first: hypothesis shrinks toward the first choice
        behaviours = ("ok",) + tuple(b for b in behaviours if b != "ok")
    unknown = sorted(set(behaviours) - set(BEHAVIOURS))
    if unknown:
        raise ValueError(f"unknown behaviour(s) {unknown}; known: {', '.join(BEHAVIOURS)}")
    opts = st.just(Options())
    if options:
        queue_choices = tuple(dict.fromkeys((None, *queues)))
        opts = st.just(Options()) | st.builds(  # half the tasks have no options at all
            Options,
            queue=st.sampled_from(queue_choices),
            ignore_result=st.booleans(),
            headers=st.booleans(),
            countdown=st.one_of(st.none(), st.sampled_from(DELAYS)),
            eta=st.one_of(st.none(), st.sampled_from(DELAYS)),
        )
    behaviour = st.sampled_from(behaviours)
    if "ok" in behaviours and len(behaviours) > 1:  # half the tasks just return: the others are spice
        behaviour = st.just("ok") | st.sampled_from(behaviours[1:])
    return st.builds(
        TaskShape,
        behaviour=behaviour,
        value=st.integers(0, max_value),
        duration=st.just(0.0) | st.sampled_from(durations) if durations else st.just(0.0),
        immutable=st.booleans(),
        options=opts,
    )


def canvases(leaves: st.SearchStrategy[TaskShape], *, max_leaves: int = 6, max_width: int = 3
             ) -> st.SearchStrategy[Shape]:
    """Tasks, chains, groups and chords nested in each other (chord in chain in group, chord of chords,
    group of one), at most ``max_leaves`` tasks; shrinks toward a single task."""

    def extend(children: st.SearchStrategy[Shape]) -> st.SearchStrategy[Shape]:
        return st.one_of(
            st.lists(children, min_size=2, max_size=max_width).map(lambda xs: ChainShape(tuple(xs))),
            st.lists(children, min_size=1, max_size=max_width).map(lambda xs: GroupShape(tuple(xs))),
            st.builds(ChordShape, st.lists(children, min_size=0, max_size=max_width).map(tuple),
                      bodies(children, leaves)),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def bodies(children: st.SearchStrategy[Shape], leaves: st.SearchStrategy[TaskShape]) -> st.SearchStrategy[Shape]:
    """A chord body: a task, or a chain that ends in one (that task is the chord's callback)."""
    return leaves | st.builds(
        lambda head, last: ChainShape((*head, last)), st.lists(children, min_size=1, max_size=2), leaves)


def chords(*, behaviours: tuple[str, ...] = BEHAVIOURS, queues: tuple[str | None, ...] = (None,),
           max_header: int = 4, max_leaves: int = 6, nested: bool = True, options: bool = True,
           durations: tuple[float, ...] = DURATIONS[1:]) -> st.SearchStrategy[ChordShape]:
    """An outer chord: a header of 0 to ``max_header`` canvases and a body ending in a callback."""
    leaves = tasks(behaviours=behaviours, queues=queues, options=options, durations=durations)
    elements = canvases(leaves, max_leaves=max_leaves) if nested else leaves
    body = bodies(elements, leaves) if nested else leaves
    return st.builds(ChordShape, st.lists(elements, min_size=0, max_size=max_header).map(tuple), body)


def chord_batches(*, max_chords: int = 3, **kwargs: Any) -> st.SearchStrategy[list[ChordShape]]:
    """Several chords sent together in one example (shrinks toward one)."""
    return st.lists(chords(**kwargs), min_size=1, max_size=max_chords)


# -- shapes as data and as text --------------------------------------------------------------


def to_data(node: Shape) -> dict[str, Any]:
    if isinstance(node, TaskShape):
        d = {"kind": "task", "behaviour": node.behaviour, "value": node.value}
        if node.duration:
            d["duration"] = node.duration
        if node.immutable:
            d["immutable"] = True
        if node.options.changed():
            d["options"] = node.options.changed()
        return d
    if isinstance(node, ChainShape):
        return {"kind": "chain", "links": [to_data(n) for n in node.links]}
    if isinstance(node, GroupShape):
        return {"kind": "group", "members": [to_data(n) for n in node.members]}
    return {"kind": "chord", "header": [to_data(n) for n in node.header], "body": to_data(node.body)}


def from_data(d: dict[str, Any]) -> Shape:
    kind = d.get("kind")
    if kind == "task":
        return TaskShape(behaviour=d.get("behaviour", "ok"), value=int(d.get("value", 0)),
                         duration=float(d.get("duration", 0.0)), immutable=bool(d.get("immutable", False)),
                         options=Options(**(d.get("options") or {})))
    if kind == "chain":
        return ChainShape(tuple(from_data(x) for x in d["links"]))
    if kind == "group":
        return GroupShape(tuple(from_data(x) for x in d["members"]))
    if kind == "chord":
        return ChordShape(tuple(from_data(x) for x in d["header"]), from_data(d["body"]))
    raise ValueError(f"not a chord shape: {json.dumps(d)[:120]}; a shape is a dict with kind task, chain, group or chord")


def describe(node: Shape, *, body: bool = False) -> str:
    """The shape as canvas code, e.g. ``chord([fuzz.part.s(value=1)], fuzz.total.s())``."""
    if isinstance(node, TaskShape):
        kw = [f"value={node.value}"] if node.value else []
        if node.duration:
            kw.append(f"duration={node.duration:g}")
        text = f"{task_name(node.behaviour, body=body)}.{'si' if node.immutable else 's'}({', '.join(kw)})"
        opts = node.options.changed()
        if opts:
            text += ".set(" + ", ".join(f"{k}={v!r}" for k, v in opts.items()) + ")"
        return text
    if isinstance(node, ChainShape):
        n = len(node.links)
        return "chain(" + ", ".join(describe(x, body=body and i == n - 1) for i, x in enumerate(node.links)) + ")"
    if isinstance(node, GroupShape):
        return "group(" + ", ".join(describe(x) for x in node.members) + ")"
    return f"chord([{', '.join(describe(x) for x in node.header)}], {describe(node.body, body=True)})"


def walk(node: Shape):
    """Every node of the shape, depth first, the node itself first."""
    yield node
    if isinstance(node, ChainShape):
        for x in node.links:
            yield from walk(x)
    elif isinstance(node, GroupShape):
        for x in node.members:
            yield from walk(x)
    elif isinstance(node, ChordShape):
        for x in node.header:
            yield from walk(x)
        yield from walk(node.body)


def task_count(node: Shape) -> int:
    return sum(1 for n in walk(node) if isinstance(n, TaskShape))


def depth(node: Shape) -> int:
    if isinstance(node, TaskShape):
        return 0
    kids = node.links if isinstance(node, ChainShape) else node.members if isinstance(node, GroupShape) \
        else (*node.header, node.body)
    return 1 + max((depth(k) for k in kids), default=0)


def is_flat(shape: ChordShape) -> bool:
    """True if ``lab.Chord`` expresses the shape exactly (values aside): plain tasks in the header, one
    behaviour besides ``raise`` and one set of options for all of them (no ``eta``), and a plain ``.s``
    callback."""
    if not isinstance(shape, ChordShape) or not all(isinstance(h, TaskShape) for h in shape.header):
        return False
    body = shape.body
    if not isinstance(body, TaskShape) or body.behaviour != "ok" or body.immutable or body.value or body.duration \
            or body.options.eta is not None:
        return False
    if len({h.options for h in shape.header}) > 1 or any(h.options.eta is not None for h in shape.header):
        return False
    return len({h.behaviour for h in shape.header} - {"raise"}) <= 1


def _scenario_options(options: Options) -> dict[str, Any]:
    """Options as scenario data: an ``eta`` (a datetime when sent) is written as the same delay in ``countdown``."""
    if options.eta is not None and options.countdown is None:
        options = dataclasses.replace(options, countdown=options.eta)
    return dataclasses.replace(options, eta=None).to_celery()


def to_chord(shape: ChordShape) -> Chord:
    """The flat shape as a ``lab.Chord`` (exact when ``is_flat``; an ``eta`` becomes a ``countdown``)."""
    header = shape.header
    behaviours = {h.behaviour for h in header} - {"raise"}
    behaviour = next(iter(behaviours), "ok")
    opts = _scenario_options(header[0].options) if header else {}
    return Chord(
        header=len(header), duration=tuple(h.duration for h in header), count=1,
        header_task=task_name(behaviour), callback="fuzz.total",
        callback_options=_scenario_options(shape.body.options) if isinstance(shape.body, TaskShape) else {},
        part_options=opts,
        raising_parts=tuple(i for i, h in enumerate(header) if h.behaviour == "raise"),
    )


# -- shapes as Celery canvases ---------------------------------------------------------------


def build(app, node: Shape, *, body: bool = False):
    """The Celery signature for a shape.  ``body`` marks the task that is a chord's callback."""
    from celery import chain, chord, group

    if isinstance(node, TaskShape):
        kwargs: dict[str, Any] = {"value": node.value}
        if node.duration:
            kwargs["duration"] = node.duration
        sig = app.signature(task_name(node.behaviour, body=body), kwargs=kwargs, immutable=node.immutable)
        opts = node.options.to_celery()
        return sig.set(**opts) if opts else sig
    if isinstance(node, ChainShape):
        n = len(node.links)
        return chain(*[build(app, x, body=body and i == n - 1) for i, x in enumerate(node.links)], app=app)
    if isinstance(node, GroupShape):
        return group([build(app, x) for x in node.members], app=app)
    return chord([build(app, x) for x in node.header], build(app, node.body, body=True), app=app)


# -- configurations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerConfig:
    queues: tuple[str, ...] | None = None  # None: no -Q, the default queue only
    concurrency: int = 1
    pool: str = "prefork"
    code: str = "current"  # "stale": the deploy without the chord body task (lab.apps.fuzz_stale)


@dataclass(frozen=True)
class FuzzConfig:
    """A topology and Celery config.  The defaults are healthy: one worker on the default queue, no
    routes, Celery's own expiry, results kept, Redis backend, no eviction."""

    workers: tuple[WorkerConfig, ...] = (WorkerConfig(),)
    header_queue: str | None = None  # task_routes 'fuzz.*' (the body too, unless callback_queue is set)
    callback_queue: str | None = None  # task_routes 'fuzz.total'
    unlock_queue: str | None = None  # task_routes 'celery.chord_unlock'
    result_expires: int | None = None  # seconds
    result_chord_expires: int | None = None
    task_ignore_result: bool = False
    task_acks_late: bool = False
    task_reject_on_worker_lost: bool = False
    backend: str = "redis"
    maxmemory_policy: str = "noeviction"
    maxmemory_mb: int | None = None
    visibility_timeout: int | None = None  # Redis broker transport option, seconds

    def celery_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        routes: dict[str, Any] = {}
        if self.callback_queue:
            routes["fuzz.total"] = {"queue": self.callback_queue}
        if self.header_queue:
            routes["fuzz.*"] = {"queue": self.header_queue}
        if self.unlock_queue:
            routes["celery.chord_unlock"] = {"queue": self.unlock_queue}
        if routes:
            cfg["task_routes"] = routes
        for key in ("result_expires", "result_chord_expires"):
            if getattr(self, key) is not None:
                cfg[key] = getattr(self, key)
        for key in ("task_ignore_result", "task_acks_late", "task_reject_on_worker_lost"):
            if getattr(self, key):
                cfg[key] = True
        if self.visibility_timeout is not None:
            cfg["broker_transport_options"] = {"visibility_timeout": self.visibility_timeout}
        return cfg

    def redis_options(self) -> dict[str, str]:
        opts: dict[str, str] = {}
        if self.maxmemory_policy != "noeviction":
            opts["maxmemory-policy"] = self.maxmemory_policy
        if self.maxmemory_mb:
            opts["maxmemory"] = f"{self.maxmemory_mb}mb"
        return opts

    def to_data(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["workers"] = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in w.items()} for w in d["workers"]]
        return d

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> "FuzzConfig":
        d = dict(d)
        d["workers"] = tuple(WorkerConfig(**{**w, "queues": tuple(w["queues"]) if w.get("queues") else None})
                             for w in d.get("workers") or [{}])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def changed(self) -> dict[str, Any]:
        base = FuzzConfig()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(base, f.name)}

    def to_scenario(self, name: str = "fuzz-config", *, description: str = "a fuzzed configuration",
                    chords: tuple[Chord, ...] = (Chord(header=0, header_task="fuzz.part", callback="fuzz.total"),),
                    expect: str = "completed", **extra: Any) -> Scenario:
        workers = tuple(
            Worker(f"w{i + 1}", queues=w.queues, concurrency=w.concurrency, pool=w.pool,
                   tasks=None if w.code == "current" else ("lab.apps.fuzz_stale",))
            for i, w in enumerate(self.workers))
        return Scenario(name=name, description=description, expect=expect, workers=workers, chords=chords,
                        backend=self.backend, redis_options=self.redis_options(), config=self.celery_config(),
                        tasks=("lab.apps.fuzz",), **extra)


def worker_configs(*, max_concurrency: int = 3) -> st.SearchStrategy[WorkerConfig]:
    queue_sets = st.one_of(st.none(), st.lists(st.sampled_from(QUEUES), min_size=1, max_size=3, unique=True)
                           .map(tuple))
    return st.builds(WorkerConfig, queues=queue_sets, concurrency=st.integers(1, max_concurrency),
                     pool=st.sampled_from(POOLS), code=st.sampled_from(("current", "stale")))


def configs(*, max_workers: int = 3, backends: tuple[str, ...] = ("redis", "database")) -> st.SearchStrategy[FuzzConfig]:
    """Topologies and Celery configs; each field shrinks toward the healthy default."""
    maybe_queue = st.one_of(st.none(), st.sampled_from(QUEUES))
    return st.builds(
        FuzzConfig,
        workers=st.lists(worker_configs(), min_size=1, max_size=max_workers).map(tuple),
        header_queue=maybe_queue,
        callback_queue=maybe_queue,
        unlock_queue=maybe_queue,
        result_expires=st.one_of(st.none(), st.sampled_from((1, 2, 60))),
        result_chord_expires=st.one_of(st.none(), st.sampled_from((1, 2, 60))),
        task_ignore_result=st.booleans(),
        task_acks_late=st.booleans(),
        task_reject_on_worker_lost=st.booleans(),
        backend=st.sampled_from(backends),
        maxmemory_policy=st.sampled_from(MAXMEMORY_POLICIES),
        maxmemory_mb=st.one_of(st.none(), st.sampled_from((3, 6))),
        visibility_timeout=st.one_of(st.none(), st.sampled_from((1, 3))),
    )
