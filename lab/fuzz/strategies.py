"""Chord shapes, task behaviours and configurations: the hypothesis strategies.

    **strategies** → session (topology up, chords sent, observed) → oracle + judge → findings

Everything drawn here is plain, frozen data that round-trips through JSON
(``to_data`` / ``from_data``), so a shrunk finding can be saved and replayed
without hypothesis.  ``build`` turns a shape into a Celery canvas for a given
app; ``describe`` writes exactly that canvas as Python (pasted into a function
of ``app``, with ``fuzz = lab.apps.fuzz.bind(app)``, it builds the same
canvas); ``shape_of`` reads a built Celery canvas back into a shape.

How a canvas is built is part of the shape, because Celery builds different
canvases from the same words (``built``):

- a chain is ``chain(a, b, app=app)`` (``"chain-app"``, what the fuzzer always
  did, and what a stored shape without the key means) or ``a | b``
  (``"pipe"``; ``chain(a, b)`` with no keyword is the same).  With any keyword
  ``chain`` skips the merging ``|`` does: a group of one unrolled, a
  ``group | task`` turned into a chord, a chord's body extended;
- a group is ``group([a, b], app=app)`` (``"list-app"``, the old default),
  ``group([a, b])`` (``"list"``) or ``group(a, b)`` (``"args"``: one group
  given positionally collapses into its members);
- a chord is ``chord([...], body, app=app)`` (``"app"``) or without ``app``
  (``"plain"``).

The fuzzer draws both chain paths and both group spellings; each shrinks toward
what a user types (``|``, ``group([...])``, ``chord([...], body)``).

Shapes (``st.recursive``, shrinking toward a flat chord of plain tasks):

    canvas := task | chain(canvas, canvas, ...) | group(canvas, ...) | chord([canvas, ...], body)
    body   := task | chain(canvas, ..., task)          (a chord's body ends in a task: its callback)
    outer  := chord([canvas, ...], body) | chain(canvas, canvas, ...) | group(canvas, ...)

A task has a behaviour (``lab.apps.fuzz``), a value, a duration, ``.s`` or
``.si`` (``immutable``), and per-signature options: ``queue``,
``ignore_result``, custom ``headers``, ``countdown`` / ``eta``.  The outer
shape is a chord (header of 0 to N canvases; its callback is the task the
verdict is about), or a bare chain or group (``add | fail | group(add, add)``,
Celery #6437): then the verdict is about each task whose result is the
canvas's result (``oracle.final_tasks``).

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
import functools
import json
import keyword
import operator
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
    name: str | None = None  # the task's name where it is not what its place implies (read by shape_of): a
    # chord Celery made of `group | fuzz.part.s()` has fuzz.part, not fuzz.total, as its callback

    def task(self, *, body: bool = False) -> str:
        return self.name or task_name(self.behaviour, body=body)


CHAIN_PATHS = ("pipe", "chain-app")  # a | b, chain(a, b, app=app); the first is the shrink target
GROUP_PATHS = ("list", "args", "list-app")  # group([a, b]), group(a, b), group([a, b], app=app)
CHORD_PATHS = ("plain", "app")  # chord([...], body), chord([...], body, app=app)
OLD_CHAIN, OLD_GROUP, OLD_CHORD = "chain-app", "list-app", "app"  # how shapes stored without `built` were built


@dataclass(frozen=True)
class ChainShape:
    links: tuple["Shape", ...]
    built: str = OLD_CHAIN


@dataclass(frozen=True)
class GroupShape:
    members: tuple["Shape", ...]
    built: str = OLD_GROUP


@dataclass(frozen=True)
class ChordShape:
    header: tuple["Shape", ...]
    body: "Shape"
    built: str = OLD_CHORD


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
    group of one), at most ``max_leaves`` tasks, each built either way; shrinks toward a single task."""

    def extend(children: st.SearchStrategy[Shape]) -> st.SearchStrategy[Shape]:
        return st.one_of(
            st.builds(ChainShape, st.lists(children, min_size=2, max_size=max_width).map(tuple), _chain_paths),
            st.builds(GroupShape, st.lists(children, min_size=1, max_size=max_width).map(tuple), _group_paths),
            st.builds(ChordShape, st.lists(children, min_size=0, max_size=max_width).map(tuple),
                      bodies(children, leaves), _chord_paths),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


# Each shrinks toward its first choice: the path the fuzzer always took (chain(..., app=), group([...], app=),
# chord(..., app=)), so a finding shrinks to the old, replayable form unless the other path is what it needs;
# `|` and group(a, b) are drawn beside them.  A chord is always given app=: without it, an empty header's
# callback is routed with whatever app is current, which in the lab's process is not the user's question.
_chain_paths = st.sampled_from(("chain-app", "pipe"))
_group_paths = st.sampled_from(("list-app", "args"))
_chord_paths = st.just("app")


def bodies(children: st.SearchStrategy[Shape], leaves: st.SearchStrategy[TaskShape]) -> st.SearchStrategy[Shape]:
    """A chord body: a task, or a chain that ends in one (that task is the chord's callback)."""
    return leaves | st.builds(
        lambda head, last, built: ChainShape((*head, last), built), st.lists(children, min_size=1, max_size=2), leaves,
        _chain_paths)


def chords(*, behaviours: tuple[str, ...] = BEHAVIOURS, queues: tuple[str | None, ...] = (None,),
           max_header: int = 4, max_leaves: int = 6, nested: bool = True, options: bool = True,
           durations: tuple[float, ...] = DURATIONS[1:]) -> st.SearchStrategy[ChordShape]:
    """An outer chord: a header of 0 to ``max_header`` canvases and a body ending in a callback."""
    leaves = tasks(behaviours=behaviours, queues=queues, options=options, durations=durations)
    elements = canvases(leaves, max_leaves=max_leaves) if nested else leaves
    body = bodies(elements, leaves) if nested else leaves
    return st.builds(ChordShape, st.lists(elements, min_size=0, max_size=max_header).map(tuple), body, _chord_paths)


def outer_canvases(*, bare: bool = True, max_header: int = 4, max_leaves: int = 6, **kwargs: Any
                   ) -> st.SearchStrategy[Shape]:
    """What one example sends: a chord (the shrink target), or, with ``nested`` and ``bare``, a bare chain
    or group of nested canvases (``add | fail | group(add, add)``)."""
    chord_st = chords(max_header=max_header, max_leaves=max_leaves, **kwargs)
    if not bare or not kwargs.get("nested", True):
        return chord_st
    leaves = tasks(**{k: v for k, v in kwargs.items() if k in ("behaviours", "queues", "options", "durations")})
    elements = canvases(leaves, max_leaves=max_leaves)
    return chord_st | st.builds(ChainShape, st.lists(elements, min_size=2, max_size=3).map(tuple), _chain_paths) \
        | st.builds(GroupShape, st.lists(elements, min_size=1, max_size=max(1, max_header)).map(tuple), _group_paths)


def chord_batches(*, max_chords: int = 3, bare: bool = True, **kwargs: Any) -> st.SearchStrategy[list[Shape]]:
    """Several canvases sent together in one example (shrinks toward one chord)."""
    return st.lists(outer_canvases(bare=bare, **kwargs), min_size=1, max_size=max_chords)


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
        if node.name:
            d["name"] = node.name
        return d
    # `built` is always written: data without it means the old path (chain-app, list-app, app)
    if isinstance(node, ChainShape):
        return {"kind": "chain", "links": [to_data(n) for n in node.links], "built": node.built}
    if isinstance(node, GroupShape):
        return {"kind": "group", "members": [to_data(n) for n in node.members], "built": node.built}
    return {"kind": "chord", "header": [to_data(n) for n in node.header], "body": to_data(node.body),
            "built": node.built}


def from_data(d: dict[str, Any]) -> Shape:
    kind = d.get("kind")
    if kind == "task":
        return TaskShape(behaviour=d.get("behaviour", "ok"), value=int(d.get("value", 0)),
                         duration=float(d.get("duration", 0.0)), immutable=bool(d.get("immutable", False)),
                         options=Options(**(d.get("options") or {})), name=d.get("name"))
    if kind == "chain":
        return ChainShape(tuple(from_data(x) for x in d["links"]), _path(d, CHAIN_PATHS, OLD_CHAIN))
    if kind == "group":
        return GroupShape(tuple(from_data(x) for x in d["members"]), _path(d, GROUP_PATHS, OLD_GROUP))
    if kind == "chord":
        return ChordShape(tuple(from_data(x) for x in d["header"]), from_data(d["body"]), _path(d, CHORD_PATHS, OLD_CHORD))
    raise ValueError(f"not a chord shape: {json.dumps(d)[:120]}; a shape is a dict with kind task, chain, group or chord")


def _path(d: dict[str, Any], allowed: tuple[str, ...], old: str) -> str:
    built = d.get("built", old)
    if built not in allowed:
        raise ValueError(f"a {d.get('kind')} built {built!r}: allowed {', '.join(allowed)}")
    return built


def task_attr(behaviour: str, *, body: bool = False) -> str:
    """The task's attribute on ``lab.apps.fuzz.bind(app)``: its name without ``fuzz.``, ``raise_`` for raise."""
    return _attr(task_name(behaviour, body=body))


def _attr(name: str) -> str:
    attr = name.split(".", 1)[1]
    return attr + "_" if keyword.iskeyword(attr) else attr


def describe(node: Shape, *, body: bool = False) -> str:
    """The shape as the Python that builds it, e.g. ``chord([fuzz.part.s(value=1)], fuzz.total.s(value=0))``:
    with ``fuzz = lab.apps.fuzz.bind(app)`` and ``canvas_names()`` in scope, it builds exactly what ``build``
    builds (the same path: ``|`` or ``chain(..., app=app)``; the same options, as Celery takes them)."""
    if isinstance(node, TaskShape):
        kw = [f"value={node.value}"]  # always: a part called without value= reads its arguments as lab.Chord's
        if node.duration:
            kw.append(f"duration={node.duration:g}")
        attr = task_attr(node.behaviour, body=body) if not node.name else _attr(node.name)
        text = f"fuzz.{attr}.{'si' if node.immutable else 's'}({', '.join(kw)})"
        opts = node.options.changed()
        if opts:
            text += ".set(" + ", ".join(f"{k}={_option_text(k, v)}" for k, v in opts.items()) + ")"
        return text
    if isinstance(node, ChainShape):
        n = len(node.links)
        links = [describe(x, body=body and i == n - 1) for i, x in enumerate(node.links)]
        if node.built == "pipe":  # a pipe chain inside a pipe is parenthesised: `a | (b | c)` is built as typed
            return " | ".join(f"({t})" if isinstance(x, ChainShape) and x.built == "pipe" else t
                              for t, x in zip(links, node.links))
        return "chain(" + ", ".join(links) + ", app=app)"
    if isinstance(node, GroupShape):
        members = ", ".join(describe(x) for x in node.members)
        return {"args": f"group({members})", "list": f"group([{members}])"}.get(node.built, f"group([{members}], app=app)")
    text = f"chord([{', '.join(describe(x) for x in node.header)}], {describe(node.body, body=True)}"
    return text + (", app=app)" if node.built == "app" else ")")


def _option_text(name: str, value: Any) -> str:
    """An option as the Celery call ``build`` makes of it (``Options.to_celery``): the message headers
    themselves, and an eta as a datetime that many seconds after the signature is built (so the text
    needs ``datetime``, ``timedelta`` and ``timezone`` from ``datetime`` in scope: ``canvas_names``)."""
    if name == "headers":
        return repr(dict(FUZZ_HEADERS))
    if name == "eta":
        return f"datetime.now(timezone.utc) + timedelta(seconds={value!r})"
    return repr(value)


def canvas_names() -> dict[str, Any]:
    """What a canvas ``describe`` wrote needs in scope besides ``fuzz`` and ``app``: ``chain``, ``chord`` and
    ``group`` from celery, ``datetime``, ``timedelta`` and ``timezone`` from datetime (the files that hold such
    a canvas import the same)."""
    from celery import chain, chord, group

    return {"chain": chain, "chord": chord, "group": group, "datetime": datetime.datetime,
            "timedelta": datetime.timedelta, "timezone": datetime.timezone}


def with_chains(node: Shape, built: str) -> Shape:
    """The same shape with every chain built ``built`` (``pipe`` or ``chain-app``): the other construction path."""
    if isinstance(node, ChainShape):
        return ChainShape(tuple(with_chains(x, built) for x in node.links), built)
    if isinstance(node, GroupShape):
        return GroupShape(tuple(with_chains(x, built) for x in node.members), node.built)
    if isinstance(node, ChordShape):
        return ChordShape(tuple(with_chains(x, built) for x in node.header), with_chains(node.body, built), node.built)
    return node


def chain_paths(node: Shape) -> set[str]:
    """How the shape's chains are built (empty: it has no chain)."""
    return {n.built for n in walk(node) if isinstance(n, ChainShape)}


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
        sig = app.signature(node.task(body=body), kwargs=kwargs, immutable=node.immutable)
        opts = node.options.to_celery()
        return sig.set(**opts) if opts else sig
    if isinstance(node, ChainShape):
        n = len(node.links)
        links = [build(app, x, body=body and i == n - 1) for i, x in enumerate(node.links)]
        if node.built == "pipe":  # a | b | c: Celery merges as it goes (group of one unrolled, group | task a chord)
            return functools.reduce(operator.or_, links)
        return chain(*links, app=app)  # a keyword: no merging at all
    if isinstance(node, GroupShape):
        members = [build(app, x) for x in node.members]
        if node.built == "args":  # group(a, b): one group given alone collapses into its members
            return group(*members)
        return group(members) if node.built == "list" else group(members, app=app)
    header, callback = [build(app, x) for x in node.header], build(app, node.body, body=True)
    return chord(header, callback) if node.built == "plain" else chord(header, callback, app=app)


def shape_of(sig, *, app=None, body: bool = False) -> Shape:
    """The shape of a built Celery canvas of ``lab.apps.fuzz`` tasks: the inverse of ``build``.

    It reads the structure Celery made (after ``|`` merged what it merges), and how each node was built
    where the object tells: a ``chain`` instance was built with a keyword (``chain-app``), a bare ``_chain``
    by ``|`` or ``chain(a, b)`` (``pipe``); a group whose tasks are a tuple was given positionally
    (``args``); a group or chord with an app of its own was given ``app=``.  A task that is not a fuzz task,
    or a fuzz task without ``value=``, is a ``ValueError`` (the oracle could not predict it)."""
    from celery.canvas import _chain, _chord, group, maybe_signature

    sig = maybe_signature(sig, app=app)
    if isinstance(sig, _chord):
        header = sig.tasks
        members = header.tasks if isinstance(header, group) else header
        return ChordShape(tuple(shape_of(x, app=app) for x in members), shape_of(sig.body, app=app, body=True),
                          "app" if sig._app is not None else "plain")
    if isinstance(sig, _chain):
        from celery import chain

        n = len(sig.tasks)
        return ChainShape(tuple(shape_of(x, app=app, body=body and i == n - 1) for i, x in enumerate(sig.tasks)),
                          "chain-app" if type(sig) is chain else "pipe")
    if isinstance(sig, group):
        built = "args" if isinstance(sig.tasks, tuple) else "list-app" if sig._app is not None else "list"
        return GroupShape(tuple(shape_of(x, app=app) for x in sig.tasks), built)
    name = sig.get("task") if hasattr(sig, "get") else None
    behaviour = _behaviour_of(name)
    kwargs, opts = dict(sig.kwargs or {}), dict(sig.options or {})
    if sig.args:
        raise ValueError(f"{name}{tuple(sig.args)!r}: give a fuzz task its value as a keyword (value=...), "
                         "not positionally, so the oracle can read it")
    if "value" not in kwargs and name != "fuzz.total":
        raise ValueError(f"{name} without value=: a fuzz part called without it reads its arguments as "
                         "lab.Chord's (value, duration, fail); give value=0")
    eta = opts.get("eta")
    if isinstance(eta, str):
        eta = datetime.datetime.fromisoformat(eta)
    if isinstance(eta, datetime.datetime):  # seconds from now: the oracle only needs how long it waits
        now = datetime.datetime.now(eta.tzinfo or datetime.timezone.utc)
        eta = round(max(0.0, (eta - now).total_seconds()), 3)
    options = Options(queue=_queue_name(opts.get("queue")), ignore_result=bool(opts.get("ignore_result")),
                      headers=bool(opts.get("headers")), countdown=opts.get("countdown"), eta=eta)
    return TaskShape(behaviour=behaviour, value=int(kwargs.get("value") or 0), duration=float(kwargs.get("duration") or 0.0),
                     immutable=bool(sig.immutable), options=options,
                     name=None if name == task_name(behaviour, body=body) else name)


def _behaviour_of(name: str | None) -> str:
    if name in ("fuzz.part", "fuzz.total"):
        return "ok"
    if name and name.startswith("fuzz.") and name[5:] in BEHAVIOURS:
        return name[5:]
    raise ValueError(f"task {name!r} is not one of lab.apps.fuzz's (fuzz.part, fuzz.total, "
                     + ", ".join(f"fuzz.{b}" for b in BEHAVIOURS if b != "ok") + "): the oracle knows only those")


def _queue_name(q: Any) -> str | None:
    return q if q is None or isinstance(q, str) else getattr(q, "name", str(q))


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
