"""The runtime interface and the run lifecycle, written once.

    scenario → **runtime up** → chords sent → observations → verdict → record

A ``Runtime`` brings a scenario's topology up as a ``System`` and takes it down
again, and says in one sentence which scenarios it cannot run (``refuses``).
Faults are capabilities of the System (Jepsen's db/nemesis protocols are the
model): a process topology can kill, restart and SIGSTOP workers and fault its
redis-server; a docker topology adds network partitions and container faults
(its ``make_nemesis``); an attached system, which the lab does not own, offers
none.

``lifecycle`` is the one place a run is made: it refuses early, gives the run
its id and folder (locked while it lives), quarantines folders of killed runs,
installs the signal handlers, brings the System up, and on the way out (done,
failed, Ctrl-C or SIGTERM) lets go of every producer app, takes the System
down, and removes the folder when nothing was recorded.  ``lab run``,
``keep_up`` (doctor's live systems) and ``lab attach`` all run through it.
A run's *witness* is the file ledger, or (the process runtime only) the flight
recorder: on a redis-server of the run's own (``witness="recorder"``), or on the
scenario's own redis-server, db 15, as a user's recorder on the broker would be
(``"recorder-broker"``).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Protocol, Sequence, runtime_checkable

from lab import records
from lab.observe import ledger
from lab.runtime.celery_app import release_unreleased
from lab.errors import LabSetupError
from lab.runtime.process.processes import install_signal_handlers
from lab.scenario import Scenario


@runtime_checkable
class System(Protocol):
    """A topology that is up: what ``lab.experiments.run.drive`` sends into, faults and probes."""

    scenario: Scenario
    run_id: str
    run_dir: Path
    producer_spec: dict[str, Any]
    boot_s: float
    workers: Sequence[Any]
    extras: dict[str, Any]

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class Restartable(Protocol):
    """Workers can be killed and started again (kill-worker, restart-worker)."""

    def restart_worker(self, name: str) -> Any: ...


@runtime_checkable
class OwnNemesis(Protocol):
    """The System fires faults of its own (a container engine's partitions and pauses)."""

    def make_nemesis(self, faults: list, timeline: list) -> Any: ...


class Runtime(Protocol):
    name: str  # "process" | "docker" | "attached"

    def refuses(self, scenario: Scenario) -> str | None:
        """Why this runtime cannot run ``scenario``, in one sentence; None when it can."""

    def up(self, scenario: Scenario, run: "Run", on_step: Callable[[str], None]) -> ContextManager[System]:
        """Bring the topology up; everything it made is gone when the context exits."""


@dataclass
class Run:
    """One run's place: its id, folder and clock; ``recorded`` once its record is stored."""

    scenario: Scenario
    run_id: str
    run_dir: Path
    started_at: float
    system: Any = None
    recorded: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    witness: str = "ledger"  # what records the events: the file ledger, or the flight recorder ("recorder")


def runtime_for(name: str, **options: Any) -> Runtime:
    """The runtime called ``name`` ("process", "docker", or "attached" with ``spec=``)."""
    if name == "process":
        from lab.runtime.process.runtime import ProcessRuntime

        return ProcessRuntime()
    if name == "docker":
        from lab.runtime.docker.runtime import DockerRuntime

        return DockerRuntime()
    if name == "attached":
        from lab.runtime.attached import AttachedRuntime

        return AttachedRuntime(options["spec"])
    raise LabSetupError(f"no runtime {name!r}: use process or docker.")


WITNESSES = ("ledger", "recorder", "recorder-broker")


def witness_refusal(runtime: str, witness: str) -> str | None:
    """Why a run on ``runtime`` cannot have ``witness``, in one sentence; None when it can."""
    if witness not in WITNESSES:
        return f"no witness {witness!r}: use {' or '.join(WITNESSES)}."
    if witness != "ledger" and runtime != "process":
        return (f"--witness {witness} runs the flight recorder on a redis-server the run starts itself, which only the "
                f"process runtime does: drop --runtime {runtime}.")
    return None


@contextlib.contextmanager
def lifecycle(scenario: Scenario, runtime: Runtime, *, on_step: Callable[[str], None] | None = None,
              keep_dir: bool = False, witness: str = "ledger") -> Iterator[Run]:
    """Make a run of ``scenario`` on ``runtime`` and yield it with its System up; clean up on any exit.

    The caller sets ``run.recorded`` once the record is stored: a run that recorded
    nothing leaves no folder (unless ``keep_dir``)."""
    say = on_step or (lambda msg: None)
    why = witness_refusal(runtime.name, witness) or runtime.refuses(scenario)
    if why:
        raise LabSetupError(why)
    run_id = records.new_run_id(scenario.name)
    run = Run(scenario, run_id, records.run_dir_for(run_id), time.time(), witness=witness)
    orphaned = records.orphaned_run_dirs()  # folders of killed runs; live runs hold their lock
    if orphaned:
        say(records.orphaned_line(orphaned))
    install_signal_handlers()
    run.run_dir.mkdir(parents=True, exist_ok=True)
    lock = records.RunDirLock(run.run_dir)  # held until the run is recorded or its folder removed
    t_down = None
    try:
        with runtime.up(scenario, run, say) as system:
            run.system = system
            try:
                yield run
            finally:
                release_unreleased()  # let go of the producer's connections while the servers are still up
                t_down = time.time()
        if t_down is not None:
            run.timings["teardown_s"] = time.time() - t_down
    finally:
        release_unreleased()  # interrupted before the System was up: nothing may retry at exit
        ledger.configure(None, "producer")
        if witness != "ledger":
            from lab.recorder import uninstall

            uninstall()  # the producer's recorder wrote to this run's witness server, which is gone now
        if not run.recorded and not keep_dir:
            shutil.rmtree(run.run_dir, ignore_errors=True)  # nothing was recorded: leave nothing half-made
        lock.release()
