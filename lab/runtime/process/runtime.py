"""The process runtime: a scenario's topology as OS processes the lab owns.

    scenario → **runtime up** (processes) → chords sent → observations → verdict → record

Its own redis-server on a free loopback port, real ``celery worker``
subprocesses, and a RabbitMQ vhost or database of its own where the scenario
needs one (``lab.runtime.process.topology.bring_up``), and a partition proxy in
front of each worker a ``partition-worker`` fault cuts off.  Every process belongs to a
``ProcessOwner`` and is stopped on exit; the vhost and database are dropped.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from lab.runtime.process import services as brokers
from lab.errors import LabSetupError
from lab.runtime.process.processes import NodeNotReady, ProcessOwner
from lab.scenario import DOCKER_FAULT_KINDS, Scenario
from lab.runtime.process.topology import Topology, bring_up

# partition-worker is a container engine's fault that the process runtime gives too, with a proxy of its own
# (lab.runtime.process.partition_proxy); the rest need containers.
CONTAINER_ONLY = tuple(k for k in DOCKER_FAULT_KINDS if k != "partition-worker")


class ProcessRuntime:
    name = "process"

    def refuses(self, scenario: Scenario) -> str | None:
        docker_only = sorted({f.kind for f in scenario.faults if f.kind in CONTAINER_ONLY})
        if docker_only:
            return (f"scenario {scenario.name!r} has the fault(s) {', '.join(docker_only)}, which only a "
                    "container engine gives: run it with --runtime docker.")
        return None

    @contextlib.contextmanager
    def up(self, scenario: Scenario, run, on_step: Callable[[str], None]) -> Iterator[Topology]:
        topo: Topology | None = None
        try:
            with ProcessOwner(run.run_dir) as owner:
                try:
                    topo = bring_up(scenario, run.run_id, run.run_dir, owner, on_step=on_step,
                                   witness=getattr(run, "witness", "ledger"))
                except NodeNotReady as e:
                    raise LabSetupError(str(e)) from None
                yield topo
        finally:
            if topo is not None:
                if topo.extras.get("vhost"):
                    brokers.drop_rabbitmq_vhost(topo.extras["vhost"])
                if topo.extras.get("database"):
                    brokers.drop_database(topo.extras["database"])
