"""A scenario brought up and left up: the live system that ``lab doctor`` is checked against.

    scenario → topology up → chords sent → observations → verdict → **(kept up)**

``run.run_scenario`` tears its topology down as soon as the verdicts are in.
To test ``doctor`` as a user would meet it, the stuck chord must still be
stuck while a separate process looks at it.  ``keep_up`` composes the same
steps (``topology.bring_up``, ``send.send_chords``, the nemesis,
``observe.wait_for_quiescence``, ``run.probe_all`` and ``judge.judge``) and
then yields the live system instead of stopping it.  Every process still
belongs to a ``ProcessOwner`` and dies when the ``with`` block ends.

Nothing is recorded in ``runs.jsonl``: the run folder holds the logs, the
ledger and each worker's app spec (``app-<worker>.json``), which is what a
user's app is for these topologies (``LAB_APP=<spec> --app lab.worker_app:app``).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lab import brokers, ledger, records
from lab import scenario as scenario_module
from lab.celery_app import release
from lab.errors import LabSetupError
from lab.judge import Verdict
from lab.processes import NodeNotReady, ProcessOwner
from lab.run import Reporter, _unreleased, drive
from lab.scenario import Scenario
from lab.topology import PROJECT_ROOT, Topology, bring_up

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

    def doctor_env(self, worker: str | None = None) -> dict[str, str]:
        """Environment for ``python -m lab doctor --app lab.worker_app:app`` against this system."""
        return {"LAB_APP": str(self.app_spec_path(worker)), "PYTHONPATH": str(PROJECT_ROOT)}


class _StepReporter(Reporter):
    def __init__(self, say):
        self.step = say


@contextlib.contextmanager
def keep_up(scenario: Scenario, *, seed: int = 0, on_step=None, keep_dir: bool = False) -> Iterator[LiveSystem]:
    """Bring ``scenario`` up, send its chords, judge them, and yield the system still running."""
    say = on_step or (lambda msg: None)
    docker_only = sorted({f.kind for f in scenario.faults if f.kind in getattr(scenario_module, "DOCKER_FAULT_KINDS", ())})
    if docker_only:  # as run_scenario: these faults need containers, which a live process topology has not
        raise LabSetupError(f"scenario {scenario.name!r} has the fault(s) {', '.join(docker_only)}, which only a "
                            "container engine gives; keep_up runs process topologies only.")
    run_id = records.new_run_id(scenario.name)
    run_dir = records.run_dir_for(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    topo: Topology | None = None
    try:
        with ProcessOwner(run_dir) as owner:
            try:
                topo = bring_up(scenario, run_id, run_dir, owner, on_step=say)
            except NodeNotReady as e:
                raise LabSetupError(str(e)) from None
            judged = drive(topo, seed=seed, reporter=_StepReporter(say), started_at=started_at)
            app, sent, verdicts, outcome, obs = judged.app, judged.sent, judged.verdicts, judged.outcome, judged.obs
            _unreleased.remove(app)  # released below, once the caller is done with the live system
            say("live: " + ", ".join(f"{n} {k}" for k, n in sorted(outcome["outcomes"].items())))
            try:
                yield LiveSystem(scenario, topo, app, sent, verdicts, outcome, obs,
                                 {"boot_s": topo.boot_s, "elapsed_s": time.time() - started_at})
            finally:  # let go of the producer's connections while redis-server is still up
                release(app)
    finally:
        ledger.configure(None, "producer")
        if topo is not None:
            if topo.extras.get("vhost"):
                brokers.drop_rabbitmq_vhost(topo.extras["vhost"])
            if topo.extras.get("database"):
                brokers.drop_database(topo.extras["database"])
        if not keep_dir:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was recorded: a live system leaves no run behind
