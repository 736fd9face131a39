"""`lab compose`: a compose file for any scenario, and the committed docker-compose.yml, started for real.

The first tests need no engine: the generated file parses, each worker's
command is the celery command line of a lab run (checked by the celery CLI),
and the app spec in its environment is the scenario's.  The ``docker`` ones
start the topology with ``docker compose`` (or Debian's ``docker-compose``)
against the locally built image and check that the lab service proves what
the scenario expects.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import lab_env, has_traceback
from lab.runtime.docker.compose import render
from lab.errors import LabError
from lab.scenario import load
from test_docker_runtime import docker_client  # noqa: F401  (the engine fixture: skips without one)

ROOT = Path(__file__).resolve().parent.parent


def generated(name: str) -> dict:
    return yaml.safe_load(render(load(name)))


def unwrap(command: list[str]) -> list[str]:
    """The program a service runs once its spec is written: what follows `sh -c WRITE_SPEC sh`."""
    assert command[:2] == ["sh", "-c"] and command[3] == "sh"
    return command[4:]


def test_compose_for_split_queues_has_redis_the_worker_and_the_lab(lab_results):
    """Three services; the worker runs exactly a lab run's celery command; its spec routes like the scenario."""
    services = generated("split-queues")["services"]
    assert list(services) == ["redis", "w1", "lab"]
    argv = unwrap(services["w1"]["command"])
    assert argv[:4] == ["celery", "-A", "lab.worker_app", "worker"] and argv[argv.index("-Q") + 1] == "execution"
    spec = json.loads(services["w1"]["environment"]["LAB_APP_JSON"])
    assert spec["config"] == load("split-queues").config
    assert spec["broker_url"] == "redis://redis:6379/0" and spec["ledger_dir"] == "/ledger"
    spec_file = lab_results / "w1.json"
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    spec_file.write_text(json.dumps(spec))
    p = subprocess.run([sys.executable, "-m", *argv, "--help"], capture_output=True, text=True,
                       env={**lab_env(lab_results), "LAB_APP": str(spec_file)}, timeout=60)
    assert p.returncode == 0, p.stderr
    assert unwrap(services["lab"]["command"])[:5] == ["python", "-m", "lab", "attach", "split-queues"]


def test_compose_fills_redis_options_worker_urls_and_mounts_a_script_of_ones_own(tmp_path):
    """redis_options reach redis-server's command line; a worker's own {redis} backend points at the compose
    redis; a scenario script outside scenarios/ is mounted and attached by its path in the container."""
    script = tmp_path / "mine.py"
    script.write_text(
        "from lab import Scenario, Worker\n"
        "scenario = Scenario(name='mine', description='d', expect='completed', redis_options={'maxmemory': '8mb'},\n"
        "    workers=(Worker('w1'), Worker('w2', config={'result_backend': 'redis://{redis}/2'})))\n")
    services = yaml.safe_load(render(load(str(script))))["services"]
    assert services["redis"]["command"][-2:] == ["--maxmemory", "8mb"]
    spec = json.loads(services["w2"]["environment"]["LAB_APP_JSON"])
    assert spec["result_backend"] == "redis://redis:6379/2" and "result_backend" not in spec["config"]
    assert f"{tmp_path}:/scenario:ro" in services["lab"]["volumes"]
    assert services["w1"]["environment"]["PYTHONPATH"] == "/scenario"
    assert unwrap(services["lab"]["command"])[4] == "/scenario/mine.py"


def test_a_scenario_with_faults_gets_no_lab_service_and_says_why():
    """A nemesis must own what it breaks: the partition scenario's file has no lab service, and its header says how to run it."""
    text = render(load("worker-partition"))
    assert "lab" not in yaml.safe_load(text)["services"]
    assert "python -m lab run worker-partition --runtime docker" in text


def test_compose_command_prints_the_file_and_rejects_a_bad_name(lab_results):
    """`python -m lab compose NAME > file.yml` writes YAML; an unknown name is one sentence and exit 254."""
    ok = subprocess.run([sys.executable, "-m", "lab", "compose", "split-queues"], capture_output=True, text=True,
                        env=lab_env(lab_results), timeout=60)
    assert ok.returncode == 0 and yaml.safe_load(ok.stdout)["services"]["w1"]
    bad = subprocess.run([sys.executable, "-m", "lab", "compose", "no-such-scenario"], capture_output=True, text=True,
                         env=lab_env(lab_results), timeout=60)
    assert bad.returncode == 254 and "unknown scenario 'no-such-scenario'" in bad.stderr and not has_traceback(bad.stderr)


def test_a_topology_that_is_not_redis_is_refused_in_one_sentence(tmp_path):
    """Compose files (like the docker runtime) are Redis topologies: a database backend gets one sentence saying so."""
    script = tmp_path / "db.py"
    script.write_text("from lab import Scenario, Worker\n"
                      "scenario = Scenario(name='db', description='d', expect='completed', backend='database',\n"
                      "    workers=(Worker('w1'),))\n")
    with pytest.raises(LabError) as e:
        render(load(str(script)))
    assert "uses the redis broker and the database backend; a compose file of the lab runs Redis for both" in str(e.value)


# -- with an engine ------------------------------------------------------------------------


def compose_cli() -> list[str]:
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) and subprocess.run([*argv, "version"], capture_output=True, timeout=60).returncode == 0:
            return argv
    pytest.skip("neither `docker compose` nor `docker-compose` is installed")


def compose_up(workdir: Path, file: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`up` until the lab service exits (its exit code is up's), then `down -v`, always."""
    cli = compose_cli()
    project = f"labtest{uuid.uuid4().hex[:8]}"
    base = [*cli, "-f", str(file), "-p", project]
    try:
        return subprocess.run([*base, "up", "--no-build", "--abort-on-container-exit", "--exit-code-from", "lab"],
                              cwd=workdir, capture_output=True, text=True, env=env, timeout=240)
    finally:
        subprocess.run([*base, "down", "-v", "--remove-orphans"], cwd=workdir, capture_output=True, env=env, timeout=120)


@pytest.mark.docker
def test_generated_compose_file_proves_split_queues(docker_client, tmp_path, lab_results):  # noqa: F811
    """Mechanism 1 in a compose topology written by `lab compose`: the lab service exits 0 (matched: stuck as expected)."""
    file = tmp_path / "my-topology.yml"
    file.write_text(render(load("split-queues")))
    env = {**lab_env(lab_results), "REDIS_IMAGE": "chord-failure-lab:latest"}  # no registry in CI: the lab's image has redis
    p = compose_up(tmp_path, file, env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    last = [ln for ln in p.stdout.splitlines() if '"status"' in ln][-1]
    assert '"status": "matched"' in last and "callback-queue-unconsumed" in last
    assert list((tmp_path / "results").glob("records/*.jsonl.gz"))


@pytest.mark.docker
def test_committed_compose_file_runs_against_the_local_image(docker_client, tmp_path, lab_results):  # noqa: F811
    """The committed docker-compose.yml (copied, so its ./results lands in a temp folder) proves split-queues."""
    file = tmp_path / "docker-compose.yml"
    shutil.copy(ROOT / "docker-compose.yml", file)
    env = {**lab_env(lab_results), "REDIS_IMAGE": "chord-failure-lab:latest"}
    p = compose_up(tmp_path, file, env)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert '"status": "matched"' in p.stdout
