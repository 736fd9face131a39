"""Scenarios: the first step of the flow.

    **scenario** → topology up → chords sent → observations → verdict with proof → record → RESULTS.md

A scenario is plain data: the broker, the result backend, the Redis server
options, the Celery config, the task code each worker runs, the workers and
the queues they consume, the chords to send, the faults, and the verdict the
scenario expects.  It is validated whole, before any process starts, and every
problem is one sentence that names the field, shows the value and says what is
allowed.

A scenario script (``scenarios/*.py`` or any path) builds one ``Scenario``
and binds it to the module-level name ``scenario``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError

VERDICTS = ("completed", "stuck", "failed", "duplicated", "early", "unrecorded", "unknown")
BROKERS = ("redis", "rabbitmq")
BACKENDS = ("redis", "database", "rpc")
POOLS = ("prefork", "solo", "threads")
FAULT_KINDS = (
    "kill-worker",  # SIGKILL a worker's main process
    "kill-pool-child",  # SIGKILL one pool child of a worker
    "pause-worker",  # SIGSTOP, healed by SIGCONT
    "restart-redis",  # with or without persistence
    "client-pause",  # CLIENT PAUSE on Redis
    "flushdb",
    "fill-redis",  # fill Redis up to maxmemory
)
# Faults only the docker runtime gives (lab/docker_runtime.py): a network, a container engine.
DOCKER_FAULT_KINDS = (
    "partition-worker",  # docker network disconnect a worker from the broker, the backend, or both; then connect
    "pause-container",  # docker pause (cgroup freezer), healed by unpause
    "kill-container",  # docker kill, healed by docker start
)
FAULT_KINDS += DOCKER_FAULT_KINDS
FAULT_TRIGGERS = ("after-sent", "after-parts-started", "after-parts-ended")

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(LabError):
    """A scenario that cannot run, with one sentence saying why and how to fix it."""


@dataclass(frozen=True)
class Worker:
    """One ``celery worker`` process.

    ``queues=None`` is a plain ``celery worker`` with no ``-Q``: it consumes
    the app's default queue only.  ``tasks`` names the task module(s) this
    worker imports, so two workers can run different code (a stale deploy);
    ``None`` means the scenario's ``tasks``.
    """

    name: str
    queues: tuple[str, ...] | None = None
    concurrency: int = 1
    pool: str = "prefork"
    tasks: tuple[str, ...] | None = None
    config: dict[str, Any] = field(default_factory=dict)  # worker-only Celery config overrides


@dataclass(frozen=True)
class Chord:
    """Chords to send: ``count`` chords of ``header`` parts each.

    Each part is ``header_task`` called with ``(value, duration)`` and returns
    ``value``; the callback is ``callback`` called as a partial with
    ``callback_args`` after the header's results.  ``callback_options`` go to
    ``.set()`` (for example ``queue`` or ``headers``); ``part_options`` go to
    every part's ``.set()``.  A ``duration`` tuple gives each part its own
    sleep, in order.
    """

    header: int = 3
    duration: float | tuple[float, ...] = 0.0
    count: int = 1
    header_task: str = "lab.part"
    callback: str = "lab.collect"
    callback_args: tuple[Any, ...] = ()
    callback_options: dict[str, Any] = field(default_factory=dict)
    part_options: dict[str, Any] = field(default_factory=dict)
    raising_parts: tuple[int, ...] = ()  # indexes of header parts that raise
    chained_group: int = 0  # >0: parts 1..N run as a group chained after part 0: one header element with a list result (a complex header)

    def durations(self) -> list[float]:
        if isinstance(self.duration, tuple):
            return list(self.duration)
        return [float(self.duration)] * self.header


@dataclass(frozen=True)
class Fault:
    """A fault the nemesis injects, and heals before the final probe."""

    kind: str
    trigger: str = "after-parts-started"
    delay: float = 0.0  # seconds after the trigger
    target: str | None = None  # worker name, for worker faults
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A topology, the chords to send into it, and the verdict expected of them."""

    name: str
    description: str
    expect: str
    workers: tuple[Worker, ...]
    chords: tuple[Chord, ...] = (Chord(),)
    broker: str = "redis"
    backend: str = "redis"
    redis_options: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    tasks: tuple[str, ...] = ("lab.apps.basic",)
    faults: tuple[Fault, ...] = ()
    expect_cause: str | None = None
    mechanism: str | None = None  # the row of shared/notes/mechanisms.md, e.g. "1"
    fix: str | None = None  # name of the scenario that applies the fix
    settle: float = 4.0  # bound, seconds, on waiting for callbacks once the header quiesced
    quiet: float = 1.5  # no ledger progress for this long counts as quiesced
    source: str | None = None  # the file it was loaded from

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def summary(self) -> str:
        ws = ", ".join(
            f"{w.name}(-Q {','.join(w.queues)})" if w.queues else f"{w.name}(no -Q)" for w in self.workers
        )
        return f"{self.broker} broker, {self.backend} backend; workers {ws}"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- validation -------------------------------------------------------------

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_QUEUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def validate(s: Any) -> Scenario:
    """Check every field; raise ScenarioError with one sentence on the first problem."""
    if not isinstance(s, Scenario):
        raise ScenarioError(f"expected a lab.Scenario object, got {type(s).__name__}: build one with lab.Scenario(...)")
    where = f"scenario {s.name!r}"

    def bad(fld: str, value: Any, allowed: str) -> ScenarioError:
        return ScenarioError(f"{where}: {fld} is {value!r}; {allowed}.")

    if not isinstance(s.name, str) or not _NAME.match(s.name):
        raise bad("name", s.name, "use lowercase letters, digits and dashes")
    if s.expect not in VERDICTS:
        raise bad("expect", s.expect, f"allowed: {', '.join(VERDICTS)}")
    if s.broker not in BROKERS:
        raise bad("broker", s.broker, f"allowed: {', '.join(BROKERS)}")
    if s.backend not in BACKENDS:
        raise bad("backend", s.backend, f"allowed: {', '.join(BACKENDS)}")
    if not isinstance(s.redis_options, dict) or not all(
        isinstance(k, str) and isinstance(v, (str, int)) for k, v in s.redis_options.items()
    ):
        raise bad("redis_options", s.redis_options, "give a dict of redis-server option names to values, e.g. {'maxmemory': '2mb'}")
    if not isinstance(s.config, dict) or not all(isinstance(k, str) and k.isidentifier() for k in s.config):
        raise bad("config", s.config, "give a dict of Celery setting names (lowercase, e.g. 'task_routes') to values")
    _check_modules(where, "tasks", s.tasks)
    if not isinstance(s.workers, tuple) or not s.workers:
        raise bad("workers", s.workers, "give a tuple of at least one lab.Worker")
    names: set[str] = set()
    for i, w in enumerate(s.workers):
        fw = f"workers[{i}]"
        if not isinstance(w, Worker):
            raise bad(fw, w, "each worker must be a lab.Worker")
        if not isinstance(w.name, str) or not re.match(r"^[A-Za-z0-9_-]+$", w.name):
            raise bad(f"{fw}.name", w.name, "use letters, digits, dashes and underscores")
        if w.name in names:
            raise bad(f"{fw}.name", w.name, "worker names must be unique")
        names.add(w.name)
        if w.queues is not None and (
            not isinstance(w.queues, tuple) or not w.queues or not all(isinstance(q, str) and _QUEUE.match(q) for q in w.queues)
        ):
            raise bad(f"{fw}.queues", w.queues, "give None (no -Q) or a non-empty tuple of queue names")
        if not isinstance(w.concurrency, int) or isinstance(w.concurrency, bool) or not 1 <= w.concurrency <= 16:
            raise bad(f"{fw}.concurrency", w.concurrency, "give a whole number from 1 to 16")
        if w.pool not in POOLS:
            raise bad(f"{fw}.pool", w.pool, f"allowed: {', '.join(POOLS)}")
        if w.tasks is not None:
            _check_modules(where, f"{fw}.tasks", w.tasks)
        if not isinstance(w.config, dict):
            raise bad(f"{fw}.config", w.config, "give a dict of Celery settings")
    if not isinstance(s.chords, tuple) or not s.chords:
        raise bad("chords", s.chords, "give a tuple of at least one lab.Chord")
    for i, c in enumerate(s.chords):
        fc = f"chords[{i}]"
        if not isinstance(c, Chord):
            raise bad(fc, c, "each entry must be a lab.Chord")
        if not isinstance(c.header, int) or isinstance(c.header, bool) or not 0 <= c.header <= 1000:
            raise bad(f"{fc}.header", c.header, "give a whole number of header parts from 0 to 1000")
        if not isinstance(c.count, int) or isinstance(c.count, bool) or not 1 <= c.count <= 1000:
            raise bad(f"{fc}.count", c.count, "give a whole number of chords from 1 to 1000")
        if isinstance(c.duration, tuple):
            if len(c.duration) != c.header or not all(isinstance(d, (int, float)) and 0 <= d <= 600 for d in c.duration):
                raise bad(f"{fc}.duration", c.duration, f"a tuple needs one duration (0 to 600 s) per header part ({c.header})")
        elif not isinstance(c.duration, (int, float)) or isinstance(c.duration, bool) or not 0 <= c.duration <= 600:
            raise bad(f"{fc}.duration", c.duration, "give seconds from 0 to 600, or a tuple with one per part")
        for fld in ("header_task", "callback"):
            v = getattr(c, fld)
            if not isinstance(v, str) or not v:
                raise bad(f"{fc}.{fld}", v, "give a registered task name")
        for fld in ("callback_options", "part_options"):
            if not isinstance(getattr(c, fld), dict):
                raise bad(f"{fc}.{fld}", getattr(c, fld), "give a dict of signature options, e.g. {'queue': 'reports'}")
        if not isinstance(c.raising_parts, tuple) or not all(isinstance(p, int) and 0 <= p < max(c.header, 1) for p in c.raising_parts):
            raise bad(f"{fc}.raising_parts", c.raising_parts, f"give indexes of header parts, 0 to {c.header - 1}")
        if not isinstance(c.chained_group, int) or isinstance(c.chained_group, bool) or not 0 <= c.chained_group < max(c.header, 1):
            raise bad(f"{fc}.chained_group", c.chained_group, f"give 0 (a flat header) or how many parts (1 to {c.header - 1}) run as a group after part 0")
    if not isinstance(s.faults, tuple):
        raise bad("faults", s.faults, "give a tuple of lab.Fault (or leave it out)")
    for i, f in enumerate(s.faults):
        ff = f"faults[{i}]"
        if not isinstance(f, Fault):
            raise bad(ff, f, "each fault must be a lab.Fault")
        if f.kind not in FAULT_KINDS:
            raise bad(f"{ff}.kind", f.kind, f"allowed: {', '.join(FAULT_KINDS)}")
        if f.trigger not in FAULT_TRIGGERS:
            raise bad(f"{ff}.trigger", f.trigger, f"allowed: {', '.join(FAULT_TRIGGERS)}")
        if f.kind in ("kill-worker", "kill-pool-child", "pause-worker", "partition-worker") and f.target not in names:
            raise bad(f"{ff}.target", f.target, f"name one of the workers: {', '.join(sorted(names))}")
        if f.kind in ("pause-container", "kill-container") and f.target not in names | {"redis"}:
            raise bad(f"{ff}.target", f.target, f"name one of the workers ({', '.join(sorted(names))}) or 'redis'")
        if f.kind == "partition-worker" and f.options.get("from", "redis") not in ("broker", "backend", "redis"):
            raise bad(f"{ff}.options['from']", f.options.get("from"), "allowed: broker, backend, redis (both)")
    for fld in ("settle", "quiet"):
        v = getattr(s, fld)
        if not isinstance(v, (int, float)) or not 0 < v <= 300:
            raise bad(fld, v, "give seconds from 0 to 300")
    return s


def _check_modules(where: str, fld: str, mods: Any) -> None:
    ok = isinstance(mods, tuple) and mods and all(
        isinstance(m, str) and all(p.isidentifier() and not keyword.iskeyword(p) for p in m.split(".")) for m in mods
    )
    if not ok:
        raise ScenarioError(f"{where}: {fld} is {mods!r}; give a tuple of importable module names, e.g. ('lab.apps.basic',).")


# -- loading ----------------------------------------------------------------


def scenario_paths() -> dict[str, Path]:
    """Every scenario shipped in ``scenarios/``, by name (file stem with dashes)."""
    return {p.stem.replace("_", "-"): p for p in sorted(SCENARIOS_DIR.glob("*.py")) if not p.name.startswith("_")}


def load(ref: str) -> Scenario:
    """Load a scenario by name (``split-queues``) or by path to a script."""
    path = Path(ref)
    if ref.endswith(".py") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"no scenario file at {ref!r}: give a path to a .py scenario script, or a name from `python -m lab list`.")
    else:
        known = scenario_paths()
        if ref not in known:
            near = [n for n in known if ref.split("-")[0] in n][:3]
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ScenarioError(f"unknown scenario {ref!r}{hint}: `python -m lab list` shows every scenario, or give a path to a script.")
        path = known[ref]
    return load_file(path)


def load_file(path: Path) -> Scenario:
    path = path.resolve()
    mod_name = f"_lab_scenario_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"{path} is not a Python file: a scenario script ends in .py.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except ScenarioError as e:
        raise ScenarioError(f"{path.name}: {e}") from None
    except SyntaxError as e:
        raise ScenarioError(f"{path.name} line {e.lineno}: syntax error ({e.msg}); fix the script.") from None
    except (Exception, SystemExit) as e:  # a user's script can raise anything; report it in one sentence
        raise ScenarioError(f"{path.name} raised {type(e).__name__}: {e}; fix the script.") from None
    finally:
        sys.path.remove(str(path.parent))
    s = getattr(module, "scenario", None)
    if s is None:
        raise ScenarioError(f"{path.name} defines no `scenario`: bind a lab.Scenario(...) to the name `scenario`.")
    try:
        s = validate(s)
    except ScenarioError:
        raise
    except Exception as e:  # a field of a type validate() does not expect (a list where a tuple goes...)
        raise ScenarioError(f"{path.name}: a field has a value of the wrong type ({type(e).__name__}: {e}); "
                            "compare each field with lab.Scenario, lab.Worker, lab.Chord and lab.Fault.") from None
    return dataclasses.replace(s, source=str(path))


def from_dict(d: dict[str, Any]) -> Scenario:
    """Rebuild a scenario from ``Scenario.to_dict()`` (a stored run, a saved finding)."""
    d = dict(d)
    d["workers"] = tuple(
        Worker(**{**w, "queues": tuple(w["queues"]) if w.get("queues") else None,
                  "tasks": tuple(w["tasks"]) if w.get("tasks") else None})
        for w in d["workers"]
    )
    d["chords"] = tuple(
        Chord(**{**c, "duration": tuple(c["duration"]) if isinstance(c.get("duration"), list) else c.get("duration", 0.0),
                 "callback_args": tuple(c.get("callback_args", ())), "raising_parts": tuple(c.get("raising_parts", ()))})
        for c in d["chords"]
    )
    d["faults"] = tuple(Fault(**f) for f in d.get("faults", ()))
    d["tasks"] = tuple(d.get("tasks", ("lab.apps.basic",)))
    known = {f.name for f in dataclasses.fields(Scenario)}
    return validate(Scenario(**{k: v for k, v in d.items() if k in known}))
