"""docker-compose.yml: the split-queues topology in containers, checked without a Docker engine.

No engine runs on this machine kind, so the file is checked statically: it
parses, every service's command is a real lab or celery command, and the app
spec it mounts describes the split-queues topology.  The same shape (an
external redis-server, a worker started from the app spec, the lab attached to
them) is run for real, with local processes, in test_attach.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import lab_env

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_parses_and_has_the_three_services():
    """redis, a worker and the lab as a one-shot service."""
    services = compose()["services"]
    assert set(services) == {"redis", "worker", "lab"}
    assert services["redis"]["command"][0] == "redis-server"


def test_worker_command_is_a_real_celery_worker_command(lab_results):
    """The worker's argv is accepted by the celery CLI (checked with --help, which parses it) and consumes only 'execution'."""
    argv = compose()["services"]["worker"]["command"]
    assert argv[:4] == ["celery", "-A", "lab.worker_app", "worker"]
    assert argv[argv.index("-Q") + 1] == "execution"
    spec = ROOT / "docker" / "split-queues.json"
    env = {**lab_env(lab_results), "LAB_APP": str(spec)}
    p = subprocess.run([sys.executable, "-m", *argv, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr


def test_lab_command_is_a_real_lab_command(lab_results):
    """The lab service's command is `python -m lab attach split-queues`; the CLI knows it and its options."""
    argv = compose()["services"]["lab"]["command"]
    assert argv[:4] == ["python", "-m", "lab", "attach"] and "split-queues" in argv
    p = subprocess.run([sys.executable, *argv[1:4], "--help"], capture_output=True, text=True, env=lab_env(lab_results), timeout=60)
    assert p.returncode == 0 and "--app-spec" in p.stdout


def test_app_spec_matches_the_scenario():
    """The mounted app spec routes like split-queues and points at the compose services."""
    from lab.scenario import load

    spec = json.loads((ROOT / "docker" / "split-queues.json").read_text())
    assert spec["config"] == load("split-queues").config
    assert spec["broker_url"].startswith("redis://redis:") and spec["ledger_dir"] == "/ledger"
