"""The attached runtime: a topology someone else started, read and driven, never owned.

    scenario → **runtime up** (already running: wait for its workers) → chords sent → observations → verdict → record

Nothing is started and nothing is stopped: ``up`` waits until the workers of
the app spec answer a ping and yields a System over them (``lab.experiments.attach``).
A fault needs the lab to own the processes, so an attached runtime refuses
scenarios that have any.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from lab.runtime.celery_app import app_spec, build_app, release
from lab.errors import LabSetupError
from lab.scenario import Scenario

WORKERS_TIMEOUT = 60.0


@dataclass
class AttachedWorker:
    spec: Any
    hostname: str
    ready_at: float
    node: None = None
    app_spec: dict[str, Any] = field(default_factory=dict)  # the spec it runs with (the observer compares backends)


@dataclass
class AttachedTopology:
    scenario: Scenario
    run_id: str
    run_dir: Path
    producer_spec: dict[str, Any]
    workers: list[AttachedWorker] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    boot_s: float = 0.0
    redis: None = None

    def broker_client(self):
        import redis

        return redis.Redis.from_url(self.producer_spec["broker_url"], socket_timeout=10)

    def describe(self) -> dict[str, Any]:
        return {"attached": True, "broker_url": self.producer_spec["broker_url"],
                "result_backend": self.producer_spec["result_backend"],
                "workers": [{"name": w.spec.name, "hostname": w.hostname, "queues": list(w.spec.queues or []) or None,
                             "concurrency": w.spec.concurrency, "pool": w.spec.pool, "ready_at": w.ready_at}
                            for w in self.workers]}


def spec_for(scenario: Scenario, *, broker_url: str, result_backend: str, ledger_dir: str, node: str) -> dict[str, Any]:
    """The app spec a container worker (and the attached producer) of this scenario is started with."""
    return app_spec(broker_url=broker_url, result_backend=result_backend, config=scenario.config,
                    tasks=list(scenario.tasks), ledger_dir=ledger_dir, node=node, scenario_file=scenario.source,
                    paths=[str(Path(scenario.source).parent)] if scenario.source else None)


def await_workers(app, expected: int, timeout: float = WORKERS_TIMEOUT) -> dict[str, float]:
    """Ping until ``expected`` workers answer; on timeout say who did."""
    deadline = time.time() + timeout
    seen: dict[str, float] = {}
    last_error = None
    while time.time() < deadline:
        try:
            for reply in app.control.ping(timeout=0.5) or []:
                for host in reply:
                    seen.setdefault(host, time.time())
        except Exception as e:  # the broker is not up yet: keep asking until the bound
            last_error = f"{type(e).__name__}: {e}"
        if len(seen) >= expected:
            return seen
    raise LabSetupError(f"only {len(seen)} of {expected} workers answered a ping within {timeout:.0f} s "
                        f"(answered: {', '.join(sorted(seen)) or 'none'}; last error: {last_error or 'none'}): "
                        "start the workers, or check the broker URL in the app spec.")


class AttachedRuntime:
    name = "attached"

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    def refuses(self, scenario: Scenario) -> str | None:
        if scenario.faults:
            return (f"scenario {scenario.name!r} has faults, which need the lab to own the processes: "
                    "run it with `python -m lab run` instead of attach.")
        return None

    @contextlib.contextmanager
    def up(self, scenario: Scenario, run, on_step: Callable[[str], None]) -> Iterator[Any]:
        Path(self.spec["ledger_dir"]).mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        app = build_app(self.spec)
        try:
            seen = await_workers(app, len(scenario.workers))
        finally:
            release(app)
        hosts = sorted(seen)
        workers = [AttachedWorker(w, hosts[i] if i < len(hosts) else w.name,
                                  seen.get(hosts[i], t0) if i < len(hosts) else t0, app_spec=self.spec)
                   for i, w in enumerate(scenario.workers)]
        yield AttachedTopology(scenario, run.run_id, run.run_dir, {**self.spec, "node": "producer"}, workers,
                               boot_s=time.time() - t0)
