"""A scenario brought up and left up: the live system that ``lab doctor`` is checked against.

    scenario → topology up → chords sent → observations → verdict → **(kept up)**

``run.run_scenario`` tears its topology down as soon as the verdicts are in.
To test ``doctor`` as a user would meet it, the stuck chord must still be
stuck while a separate process looks at it.  ``keep_up`` composes the same
steps (``topology.bring_up``, ``send.send_chords``, the nemesis,
``observe.wait_for_quiescence``, ``run.probe_all`` and ``judge.judge``) in
the run lifecycle every run has, and yields the live system instead of
stopping it.  Every process still belongs to a ``ProcessOwner`` and dies when
the ``with`` block ends.

Nothing is recorded (no record in ``records/``): the run folder holds the logs, the
ledger and each worker's app spec (``app-<worker>.json``), which is what a
user's app is for these topologies (``LAB_APP=<spec> --app lab.worker_app:app``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lab.judge import Verdict
from lab.experiments.run import Reporter, drive
from lab.runtime.base import lifecycle
from lab.runtime.process.runtime import ProcessRuntime
from lab.scenario import Scenario
from lab.runtime.process.topology import PROJECT_ROOT, Topology

POLL_S = 0.05


@dataclass
class LiveSystem:
    """A scenario's topology, up, with its chords sent and the lab's own verdicts on them."""

    scenario: Scenario
    topology: Topology
    app: Any
    sent: list[dict[str, Any]]
    verdicts: list[Verdict]
    outcome: dict[str, Any]
    observations: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.topology.run_dir

    def app_spec_path(self, worker: str | None = None) -> Path:
        """The JSON app spec a worker was started with: the 'user's app' for doctor."""
        name = worker or self.topology.workers[0].spec.name
        return self.run_dir / f"app-{name}.json"

    @property
    def recorder_store(self) -> str | None:
        """The flight recorder's store when it is the run's witness (``keep_up(witness="recorder")``)."""
        return self.topology.producer_spec.get("recorder")

    def doctor_env(self, worker: str | None = None) -> dict[str, str]:
        """Environment for ``python -m lab doctor --app lab.worker_app:app`` against this system."""
        return {"LAB_APP": str(self.app_spec_path(worker)), "PYTHONPATH": str(PROJECT_ROOT)}


class _StepReporter(Reporter):
    def __init__(self, say):
        self.step = say


@contextlib.contextmanager
def keep_up(scenario: Scenario, *, seed: int = 0, on_step=None, keep_dir: bool = False,
            witness: str = "ledger") -> Iterator[LiveSystem]:
    """Bring ``scenario`` up, send its chords, judge them, and yield the system still running.

    The run's lifecycle (``lab.runtime.lifecycle``) is the one every run has; nothing is recorded, so the
    run's folder goes with it unless ``keep_dir``."""
    say = on_step or (lambda msg: None)
    with lifecycle(scenario, ProcessRuntime(), on_step=say, keep_dir=keep_dir, witness=witness) as run:
        topo = run.system
        judged = drive(topo, seed=seed, reporter=_StepReporter(say), started_at=run.started_at)
        say("live: " + ", ".join(f"{n} {k}" for k, n in sorted(judged.outcome["outcomes"].items())))
        # the producer app stays connected while the caller looks; the lifecycle lets go of it after
        yield LiveSystem(scenario, topo, judged.app, judged.sent, judged.verdicts, judged.outcome, judged.obs,
                         {"boot_s": topo.boot_s, "elapsed_s": time.time() - run.started_at})
