"""Scenarios, the nouns: what a scenario is (the first step of the flow).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

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
# Faults the docker runtime gives (lab/runtime/docker/containers.py): a network, a container engine.  The process
# runtime gives partition-worker too, through a proxy (lab/runtime/process/partition_proxy.py); not the other two.
DOCKER_FAULT_KINDS = (
    "partition-worker",  # cut a worker off from the broker, the backend, or both; then heal
    "pause-container",  # docker pause (cgroup freezer), healed by unpause
    "kill-container",  # docker kill, healed by docker start
)
FAULT_KINDS += DOCKER_FAULT_KINDS
# partition-worker's ``from``: the paths it cuts (each runtime cuts them its own way), and how a note names them
PARTITION_SIDES = {"broker": ("broker",), "backend": ("backend",), "redis": ("broker", "backend")}
PARTITION_SIDE_WORDS = {"broker": "the broker", "backend": "the result backend",
                        "redis": "redis-server (broker and backend)"}
FAULT_TRIGGERS = ("after-sent", "after-parts-started", "after-parts-ended")

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"


class ScenarioError(LabError):
    """A scenario that cannot run, with one sentence saying why and how to fix it."""


def excluded_queues(argv: str | None) -> list[str]:
    """The queues a ``celery worker`` command line excludes (``-X a,b``, ``-Xa``, ``--exclude-queues=a``)."""
    import shlex

    try:
        args = shlex.split(argv or "")
    except ValueError:
        return []
    out: list[str] = []
    for i, a in enumerate(args):
        if a in ("-X", "--exclude-queues") and i + 1 < len(args):
            out += [q for q in args[i + 1].split(",") if q]
        elif a.startswith("--exclude-queues="):
            out += [q for q in a.split("=", 1)[1].split(",") if q]
        elif a.startswith("-X") and len(a) > 2:
            out += [q for q in a[2:].split(",") if q]
    return out


@dataclass(frozen=True)
class Worker:
    """One ``celery worker`` process.

    ``queues=None`` is a plain ``celery worker`` with no ``-Q``: it consumes
    the app's default queue only.  ``tasks`` names the task module(s) this
    worker imports, so two workers can run different code (a stale deploy);
    ``None`` means the scenario's ``tasks``.  ``app`` runs another Celery
    app, by the import path ``celery -A`` takes (``"shop.worker:app"``): its
    own config and routes, its own task modules, with the run's broker and
    backend; the scenario's ``config`` and ``tasks`` are not given to it, only
    the worker's own ``config``.  ``argv`` passes any further
    ``celery worker`` arguments through, as on a command line
    (``"-X execution --prefetch-multiplier 1 -O fair"``); they are parsed with
    Celery's own worker command at validation, and one that contradicts a
    field, or that the lab must own (``-n``, ``-A``, ``--detach``, the log
    file), is refused in one sentence.
    """

    name: str
    queues: tuple[str, ...] | None = None
    concurrency: int = 1
    pool: str = "prefork"
    tasks: tuple[str, ...] | None = None
    config: dict[str, Any] = field(default_factory=dict)  # worker-only Celery config overrides
    argv: str = ""  # more `celery worker` arguments, as typed
    app: str | None = None  # "pkg.module:app": this worker runs that Celery app (as `celery -A pkg.module:app`), a split deploy

    def extra_args(self) -> list[str]:
        """``argv`` split as a shell splits it (validated: it parses)."""
        import shlex

        return shlex.split(self.argv) if self.argv else []

    def excluded_queues(self) -> list[str]:
        """The queues ``-X``/``--exclude-queues`` in ``argv`` takes away from this worker."""
        return excluded_queues(self.argv)


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
    canvas: Callable[..., Any] | None = None  # canvas(app) -> a Celery canvas, or a list of them: sent instead of `chords`
    app: str | None = None  # a user's own app ("shop.worker:app"): the producer's, and every worker's without its own
    stand_ins: bool = False  # with `app`: each task's body is replaced by a stand-in of the same signature (lab run --stand-ins)
    read_after: float | None = None  # hold the final probe until this many seconds after sending (an expiry shows)
    source: str | None = None  # the file it was loaded from

    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON data, for records; a value JSON cannot hold (a regex route, a ``Queue``, a router,
        the canvas function) is kept as its ``repr``: the scenario file is what reruns it."""
        return as_data(dataclasses.asdict(self))

    def summary(self) -> str:
        ws = ", ".join(
            f"{w.name}(" + " ".join(x for x in (f"-Q {','.join(w.queues)}" if w.queues else ("" if w.argv else "no -Q"), w.argv) if x) + ")"
            for w in self.workers
        )
        return f"{self.broker} broker, {self.backend} backend; workers {ws}"


URL_SETTINGS = ("result_backend", "broker_url")  # settings a scenario may point elsewhere, with {redis}: the topology fills them


def judged_by_oracle(scenario: "Scenario") -> bool:
    """A canvas scenario of the fuzzer's tasks (``lab.apps.fuzz``): its oracle is computed from the canvas
    (``lab.experiments.canvas_run``); any other canvas is judged only on whether its callback ran, and how."""
    return scenario.canvas is not None and not scenario.app and "lab.apps.fuzz" in scenario.tasks


def node_config(scenario: "Scenario", worker: str | None) -> dict[str, Any]:
    """The Celery config the scenario gives its producer (``worker=None``) or one of its workers, as live objects.

    A worker takes the scenario's config with its own overrides on top; a worker that runs its own app
    (``Worker.app``) takes only its overrides, since its app brings the rest.  The URL settings are
    left out: the topology fills them (``{redis}``)."""
    if worker is None:
        config = {} if scenario.app else scenario.config
    else:
        w = next(w for w in scenario.workers if w.name == worker)
        config = w.config if (w.app or scenario.app) else {**scenario.config, **w.config}
    return {k: v for k, v in config.items() if k not in URL_SETTINGS}


def as_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _repr(k): as_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_data(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return _repr(value)


def _repr(value: Any) -> str:
    if callable(value) and getattr(value, "__qualname__", None) and getattr(value, "__module__", None):
        return f"{value.__module__}.{value.__qualname__}"  # a router or canvas function: where it lives, not its address
    try:
        return repr(value)
    except Exception:  # a user's object whose __repr__ raises
        return f"<a {type(value).__name__}>"
