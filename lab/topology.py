"""Topology: bring a scenario's processes up, and own them until the run ends.

    scenario → **topology up** → chords sent → observations → verdict → record

One ``redis-server`` per run on a free loopback port (the broker on db 0, the
Redis result backend on db 1), then one real ``celery worker`` subprocess per
scenario worker, each with its own ``-Q``, ``-n``, ``--concurrency``,
``--pool``, task code and log file.  Readiness is evidence: a PING, then each
worker's own "ready." log line, with a bound.  Every process belongs to the
run's ``ProcessOwner`` and is gone when the ``with`` block ends.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import brokers
from lab.celery_app import app_spec
from lab.processes import Node, ProcessOwner
from lab.redis_server import RedisServer, start_redis
from lab.scenario import Scenario, Worker

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_READY_TIMEOUT = 30.0


@dataclass
class WorkerNode:
    spec: Worker
    hostname: str
    node: Node
    app_spec: dict[str, Any]
    ready_at: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {"name": self.spec.name, "hostname": self.hostname, "queues": list(self.spec.queues) if self.spec.queues else None,
                "concurrency": self.spec.concurrency, "pool": self.spec.pool,
                "tasks": self.app_spec["tasks"], "pid": self.node.pid, "ready_at": self.ready_at,
                "log": str(self.node.log_path)}


@dataclass
class Topology:
    scenario: Scenario
    run_id: str
    run_dir: Path
    owner: ProcessOwner
    redis: RedisServer
    broker_url: str
    result_backend: str
    producer_spec: dict[str, Any]
    workers: list[WorkerNode] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)  # vhost, database: cleaned up by the owner of the run
    boot_s: float = 0.0

    def worker(self, name: str) -> WorkerNode:
        return next(w for w in self.workers if w.spec.name == name)

    def describe(self) -> dict[str, Any]:
        return {"redis": {"port": self.redis.port, "version": self.redis.version, "ready_at": self.redis.ready_at,
                          "options": self.redis.options},
                "broker_url": self.broker_url, "result_backend": self.result_backend,
                "workers": [w.describe() for w in self.workers], "boot_s": self.boot_s, **self.extras}


def _worker_argv(w: Worker, hostname: str) -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "lab.worker_app", "worker", "-n", hostname,
            "-c", str(w.concurrency), "-P", w.pool, "-l", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat"]
    if w.queues:
        argv += ["-Q", ",".join(w.queues)]
    return argv


def _pythonpath(scenario: Scenario) -> str:
    paths = [str(PROJECT_ROOT)]
    if scenario.source:  # a scenario script outside the package may bring its own task modules
        paths.append(str(Path(scenario.source).parent))
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(paths)


def bring_up(scenario: Scenario, run_id: str, run_dir: Path, owner: ProcessOwner, *, on_step=None) -> Topology:
    """Start redis-server and every worker; return when all are ready (or raise NodeNotReady)."""
    t0 = time.time()
    say = on_step or (lambda msg: None)
    (run_dir / "ledger").mkdir(parents=True, exist_ok=True)
    say("starting redis-server")
    redis = start_redis(owner, run_dir, {k: str(v) for k, v in scenario.redis_options.items()})
    extras: dict[str, Any] = {}
    broker_url = redis.url(0)
    if scenario.broker == "rabbitmq":
        broker_url, extras["vhost"] = brokers.rabbitmq_vhost(run_id)
    result_backend = {"redis": redis.url(1), "rpc": "rpc://"}.get(scenario.backend)
    if scenario.backend == "database":
        result_backend, extras["database"] = brokers.database_url(run_id, run_dir)
    producer_spec = app_spec(broker_url=broker_url, result_backend=result_backend, config=scenario.config,
                             tasks=list(scenario.tasks), ledger_dir=str(run_dir / "ledger"), node="producer")
    topo = Topology(scenario, run_id, run_dir, owner, redis, broker_url, result_backend, producer_spec, extras=extras)
    env = {**os.environ, "PYTHONPATH": _pythonpath(scenario), "PYTHONUNBUFFERED": "1"}
    short = run_id.rsplit("-", 1)[-1]
    for w in scenario.workers:
        hostname = f"{w.name}@{scenario.name}-{short}"
        spec = app_spec(broker_url=broker_url, result_backend=result_backend, config={**scenario.config, **w.config},
                        tasks=list(w.tasks or scenario.tasks), ledger_dir=str(run_dir / "ledger"), node=hostname)
        spec_path = run_dir / f"app-{w.name}.json"
        spec_path.write_text(json.dumps(spec, indent=2, default=repr))
        say(f"starting worker {w.name} ({'-Q ' + ','.join(w.queues) if w.queues else 'no -Q'})")
        node = owner.spawn(w.name, _worker_argv(w, hostname), env={**env, "LAB_APP": str(spec_path)}, cwd=run_dir)
        topo.workers.append(WorkerNode(w, hostname, node, spec))
    for wn in topo.workers:  # boot in parallel, then await each one's own ready line
        wn.node.wait_for_log(r"\bready\.", WORKER_READY_TIMEOUT)
        wn.ready_at = time.time()
    topo.boot_s = time.time() - t0
    return topo
