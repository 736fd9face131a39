"""The docker runtime's scenarios and faults, checked without an engine: validation, refusals, one-sentence errors.

The partition scenarios validate like every other scenario; a fault only a
container engine gives (a container's pause or kill; a partition the process
runtime gives too, through a proxy) is refused by the process runtime with a
sentence saying which runtime to use; and where no engine answers, `--runtime docker`
says so in one sentence (exit 254), with no traceback.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from conftest import lab_env, has_traceback
from lab import Fault
from lab.errors import LabError
from lab.experiments.run import run_scenario
from lab.runtime.process.runtime import ProcessRuntime
from lab.scenario import DOCKER_FAULT_KINDS, ScenarioError, load, validate


@pytest.mark.parametrize("name", ["worker-partition", "worker-partition-fixed", "backend-partition", "backend-partition-fixed"])
def test_partition_scenarios_validate_with_a_fix_and_a_partition(name):
    """Each partition scenario (and its fix) partitions w1 from one side and heals it after a bound."""
    s = load(name)
    (f,) = s.faults
    assert f.kind == "partition-worker" and f.options["from"] in ("broker", "backend") and f.options["for"] > 0
    if not name.endswith("-fixed"):
        assert s.fix == f"{name}-fixed" and load(s.fix).faults == s.faults


@pytest.mark.parametrize("fault, words", [
    (Fault("partition-worker", target="nobody"), "faults[0].target is 'nobody'; name one of the workers: w1"),
    (Fault("partition-worker", target="w1", options={"from": "dns"}), "faults[0].options['from'] is 'dns'; allowed: broker, backend, redis"),
    (Fault("kill-container", target="db"), "faults[0].target is 'db'; name one of the workers (w1) or 'redis'"),
])
def test_docker_faults_are_validated_in_one_sentence(fault, words):
    """A docker fault with a bad target or side is refused before anything starts, naming the field and what is allowed."""
    s = dataclasses.replace(load("worker-partition"), faults=(fault,))
    with pytest.raises(ScenarioError) as e:
        validate(s)
    assert words in str(e.value)


def test_process_runtime_refuses_a_docker_only_fault():
    """A container pause without --runtime docker: one sentence naming the fault and the runtime that gives it."""
    assert "pause-container" in DOCKER_FAULT_KINDS
    s = dataclasses.replace(load("worker-partition"), name="container-pause",
                            faults=(Fault("pause-container", target="w1", options={"for": 1.0}),))
    with pytest.raises(LabError) as e:
        run_scenario(s, seed=1)
    assert "pause-container" in str(e.value) and "--runtime docker" in str(e.value)
    assert ProcessRuntime().refuses(load("worker-partition")) is None  # a partition: the process runtime's proxy


def test_no_engine_is_one_sentence_and_exit_254(lab_results):
    """With no engine at DOCKER_HOST, `--runtime docker` exits 254 saying where it looked and what to do."""
    env = {**lab_env(lab_results), "DOCKER_HOST": f"unix://{lab_results}/no-docker.sock"}
    p = subprocess.run([sys.executable, "-m", "lab", "run", "split-queues", "--runtime", "docker"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 254, p.stdout + p.stderr
    assert "no Docker engine answers at unix://" in p.stderr and "--runtime process" in p.stderr
    assert not has_traceback(p.stderr)
