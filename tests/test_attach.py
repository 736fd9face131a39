"""`lab attach`: the lab exercises a topology it did not start, and reaches the same verdict.

This is the docker-compose shape run with local processes: a redis-server and
a worker started from the app spec, as a user (or a container) would start
them, and the lab attached through the spec and a shared ledger folder.
"""

from __future__ import annotations

import json
import sys

from conftest import lab_env
from lab.experiments.attach import attach, spec_for
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis
from lab.scenario import load


def test_attach_proves_split_queues_on_an_external_topology(tmp_path, lab_results):
    """Mechanism 1 on a topology the lab did not start: stuck, callback-queue-unconsumed, with the same proof."""
    s = load("split-queues")
    with ProcessOwner(tmp_path / "external") as owner:
        redis = start_redis(owner, tmp_path / "external")
        spec = spec_for(s, broker_url=redis.url(0), result_backend=redis.url(1), ledger_dir=str(tmp_path / "ledger"), node="w1")
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec))
        argv = [sys.executable, "-m", "celery", "-A", "lab.worker_app", "worker", "-n", "w1@external", "-Q", "execution",
                "-c", "2", "--without-mingle", "--without-gossip", "--without-heartbeat"]
        owner.spawn("w1", argv, env={**lab_env(lab_results), "LAB_APP": str(spec_path)}, cwd=tmp_path / "external")
        result = attach(s, spec, seed=5)
    assert result.outcome["status"] == "matched"
    assert {v["cause"] for v in result.record["verdicts"]} == {"callback-queue-unconsumed"}
    assert "none consumes 'reports'" in "\n".join(result.record["verdicts"][0]["evidence"])
