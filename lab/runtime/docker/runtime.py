"""The docker runtime: a scenario's topology as containers, with the faults only a network gives.

    scenario → **runtime up** (containers) → chords sent → observations → verdict → record

Each node is a container on networks made for the run (``lab.runtime.docker.containers``);
every container and network labelled with the run's id is removed on exit,
and what a killed lab left behind is removed before a run starts.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from lab.errors import LabError, LabSetupError
from lab.runtime.process.processes import NodeNotReady
from lab.scenario import Scenario


class DockerRuntime:
    name = "docker"

    def refuses(self, scenario: Scenario) -> str | None:
        from lab.runtime.docker import containers as docker_runtime

        try:
            docker_runtime.check_supported(scenario)
        except LabError as e:
            return str(e)
        return None

    @contextlib.contextmanager
    def up(self, scenario: Scenario, run, on_step: Callable[[str], None]) -> Iterator[object]:
        from lab.runtime.docker import containers as docker_runtime

        client = docker_runtime.engine()
        gone = docker_runtime.clean(client)  # a crashed lab's containers would only hold ports and subnets
        if gone:
            on_step(f"removed what {len(gone)} dead run(s) left behind: {', '.join(sorted(gone))}")
        try:
            try:
                topo = docker_runtime.bring_up(scenario, run.run_id, run.run_dir, client, on_step=on_step)
            except NodeNotReady as e:
                raise LabSetupError(str(e)) from None
            yield topo
        finally:
            run.timings["remove_s"] = docker_runtime.remove_run(client, run.run_id)
