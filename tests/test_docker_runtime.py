"""The docker runtime: the same scenarios as containers, the same verdicts, and faults only a network gives.

These tests start a real topology in containers (a real redis-server and real
celery workers, from the lab's image) through a real Docker engine.  They are
marked ``docker`` and run in their own step (``python -m pytest -m docker``,
as .ci/run does, or with ``LAB_DOCKER_TESTS=1``); they skip, saying why, when
not asked for or when no engine answers.  Every test also checks that no
container or network of its runs is left behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from conftest import lab_env
from lab.runtime.docker import containers as docker_runtime
from lab.errors import LabSetupError
from lab.experiments.run import run_scenario
from lab.scenario import load

pytestmark = pytest.mark.docker


def _asked_for(config) -> bool:
    expr = config.getoption("markexpr", default="") or ""
    return os.environ.get("LAB_DOCKER_TESTS") == "1" or ("docker" in expr and "not docker" not in expr)


@pytest.fixture(scope="session")
def docker_client(pytestconfig):
    """A Docker engine that answered a ping, and the lab's image on it; else skip, saying why."""
    if not _asked_for(pytestconfig):
        pytest.skip("docker tests run in their own step: python -m pytest -m docker (or set LAB_DOCKER_TESTS=1)")
    try:
        client = docker_runtime.engine()
        docker_runtime.ensure_image(client, fresh=True)  # this checkout's code in the image, for compose
    except LabSetupError as e:
        pytest.skip(f"no Docker engine for the docker runtime here: {e}")
    return client


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    """After each docker test: no container or network this lab process labelled may remain."""
    yield
    if "docker_client" not in request.fixturenames:
        return
    client = request.getfixturevalue("docker_client")
    me = docker_runtime._owner_label()
    containers, networks = docker_runtime._labelled(client)
    mine = [c.name for c in containers if c.labels.get(docker_runtime.LABEL_OWNER) == me]
    mine += [n.name for n in networks if (n.attrs.get("Labels") or {}).get(docker_runtime.LABEL_OWNER) == me]
    if mine:
        docker_runtime.clean(client, everything=True)
    assert not mine, f"left behind: {mine}"


def verdicts_of(result) -> list[tuple[str, str | None]]:
    return [(v["verdict"], v["cause"]) for v in result.record["verdicts"]]


def test_split_queues_in_containers_is_stuck_with_the_same_proof(docker_client):
    """Mechanism 1 with every node in a container: stuck, callback-queue-unconsumed, proved from the broker, the workers and the ledger."""
    result = run_scenario(load("split-queues"), seed=7, runtime="docker")
    assert result.outcome["status"] == "matched"
    for v in result.record["verdicts"]:
        assert (v["verdict"], v["cause"]) == ("stuck", "callback-queue-unconsumed")
        assert "w1 consumes execution; none consumes 'reports'" in "\n".join(v["evidence"])
    topo = result.record["observations"]["topology"]
    assert topo["runtime"] == "docker" and topo["workers"][0]["container"].startswith("lab-split-queues-")
    assert topo["workers"][0]["container_urls"]["broker_url"] == "redis://broker:6379/0"
    assert result.record["replay"].endswith("--runtime docker")
    assert result.record["versions"]["redis-server"].startswith("7.")  # Debian's, as the process runtime prefers


@pytest.mark.parametrize("name", ["split-queues", "short-result-expiry"])
def test_both_runtimes_give_the_same_verdicts(docker_client, name):
    """A scenario that runs on both runtimes gets the same verdicts and causes on both (mechanisms 1 and 4)."""
    local = run_scenario(load(name), seed=11)
    contained = run_scenario(load(name), seed=11, runtime="docker")
    assert verdicts_of(contained) == verdicts_of(local)
    assert contained.outcome["status"] == local.outcome["status"] == "matched"


def test_a_regex_route_reaches_a_worker_container_as_a_pattern(docker_client):
    """Config by import in a container: the worker imports the mounted scenario file, so its regex route is a
    compiled pattern there too, and the proof names it, as on local processes (regex-route and its fix)."""
    stuck = run_scenario(load("regex-route"), seed=3, runtime="docker")
    assert stuck.outcome["status"] == "matched", stuck.record["verdicts"]
    assert any("task_routes entry re.compile('.*summar.*')" in line for v in stuck.record["verdicts"] for line in v["evidence"])
    fixed = run_scenario(load("regex-route-fixed"), seed=3, runtime="docker")
    assert fixed.outcome["status"] == "matched"


def test_worker_partition_fails_the_callback_publish(docker_client):
    """Cut off from the broker while its last part returns, the worker cannot publish the callback: FAILURE ChordError."""
    result = run_scenario(load("worker-partition"), seed=3, runtime="docker")
    (v,) = result.record["verdicts"]
    assert (v["verdict"], v["cause"]) == ("failed", "callback-publish-error")
    assert "ChordError" in "\n".join(v["evidence"])
    timeline = result.record["observations"]["timeline"]
    assert any(e["kind"] == "fault" and e.get("fault") == "partition-worker" and e.get("side") == "broker" for e in timeline)
    assert any(e["kind"] == "heal" and "healed the partition" in e["what"] for e in timeline)


def test_worker_partition_fixed_completes(docker_client):
    """Publish retries that outlast the partition: the callback is published after the heal, once."""
    result = run_scenario(load("worker-partition-fixed"), seed=3, runtime="docker")
    assert verdicts_of(result) == [("completed", None)]


def test_backend_partition_loses_the_part_return(docker_client):
    """Mechanism 15: cut off from the result backend as a part returns, the worker never records the return: stuck."""
    result = run_scenario(load("backend-partition"), seed=3, runtime="docker")
    (v,) = result.record["verdicts"]
    assert (v["verdict"], v["cause"]) == ("stuck", "part-return-error")
    assert "nemesis: partitioned worker w1 from the result backend" in "\n".join(v["evidence"])
    logs = "\n".join(line for lines in result.record["observations"]["probe"]["logs"].values() for line in lines)
    assert "Exception raised outside body" in logs and "ConnectionError" in logs


def test_backend_partition_fixed_completes(docker_client):
    """result_backend_always_retry: the part's result waits for the backend, and the chord completes."""
    result = run_scenario(load("backend-partition-fixed"), seed=3, runtime="docker")
    assert verdicts_of(result) == [("completed", None)]


def test_process_faults_work_on_containers_too(docker_client):
    """Mechanism 7 in containers: the nemesis SIGKILLs the worker's main process by its host pid and restarts the container."""
    result = run_scenario(load("worker-crash"), seed=5, runtime="docker")
    assert ("stuck", "header-part-lost") in verdicts_of(result)
    heals = [e for e in result.record["observations"]["timeline"] if e["kind"] == "heal"]
    assert heals and "restarted worker w1" in heals[0]["what"]


def test_kill_and_pause_container_are_healed(docker_client, tmp_path):
    """docker pause of redis-server while both parts run, then docker kill of the worker mid-part and docker start:
    each fault and heal is on the timeline, and the parts that died with the container are proved lost (mechanism 7)."""
    script = tmp_path / "container_faults.py"
    script.write_text(
        "from lab import Chord, Fault, Scenario, Worker\n"
        "scenario = Scenario(name='container-faults', description='pause redis, kill the worker', expect='stuck',\n"
        "    workers=(Worker('w1', concurrency=2),), chords=(Chord(header=2, duration=3.0),),\n"
        "    faults=(Fault('pause-container', target='redis', trigger='after-parts-started', delay=0.5, options={'for': 0.5}),\n"
        "            Fault('kill-container', target='w1', trigger='after-parts-started', delay=1.5)))\n")
    result = run_scenario(load(str(script)), seed=1, runtime="docker")
    assert verdicts_of(result) == [("stuck", "header-part-lost")]
    what = [(e["kind"], e["what"].split(" ")[0:2]) for e in result.record["observations"]["timeline"]
            if e["kind"] in ("fault", "heal")]
    assert ("fault", ["docker", "pause"]) in what and ("heal", ["docker", "unpause"]) in what
    assert ("fault", ["docker", "kill"]) in what and ("heal", ["docker", "start"]) in what


def test_clean_removes_what_a_dead_lab_left_and_spares_live_runs(docker_client, lab_results):
    """`lab clean` removes containers and networks whose owning lab process is gone; a live run's stay unless --all."""
    image = docker_runtime.image_name()
    dead = {docker_runtime.LABEL_RUN: "clean-test-dead",
            docker_runtime.LABEL_OWNER: f"{socket.gethostname()}:999999999:1"}  # this host, a pid that cannot run
    live = {docker_runtime.LABEL_RUN: "clean-test-live", docker_runtime.LABEL_OWNER: docker_runtime._owner_label()}
    net = docker_client.networks.create("lab-clean-test", labels={})  # unlabelled: clean must not touch it
    for labels in (dead, live):  # created, never started: leftovers are leftovers whether or not they run
        docker_client.containers.create(image, ["sleep", "60"], labels=labels, network=net.name)
    try:
        p = subprocess.run([sys.executable, "-m", "lab", "clean"], capture_output=True, text=True,
                           env=lab_env(lab_results), timeout=120)
        assert p.returncode == 0, p.stderr
        assert "removed run clean-test-dead: 1 container(s), 0 network(s)" in " ".join(p.stdout.split())
        left = {c.labels[docker_runtime.LABEL_RUN] for c in docker_runtime._labelled(docker_client)[0]}
        assert "clean-test-live" in left and "clean-test-dead" not in left
    finally:
        docker_runtime.clean(docker_client, everything=True)
        net.remove()
    assert not docker_runtime._labelled(docker_client, "clean-test-live")[0]


def test_run_cli_with_runtime_docker(docker_client, lab_results):
    """As a new user types it: `python -m lab run split-queues --runtime docker --json` exits 0 and says so."""
    p = subprocess.run([sys.executable, "-m", "lab", "run", "split-queues", "--runtime", "docker", "--json", "--seed", "2"],
                       capture_output=True, text=True, env=lab_env(lab_results), timeout=240)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert '"status": "matched"' in p.stdout.splitlines()[-1]
    assert "starting worker container w1" in p.stdout
