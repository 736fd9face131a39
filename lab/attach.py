"""Attach: exercise a topology that someone else started (containers, a staging box).

    scenario → (topology already up) → chords sent → observations → verdict with proof → record

``python -m lab attach SCENARIO --app-spec spec.json`` takes the same JSON app
spec the workers were started with (``LAB_APP``): broker and backend URLs, the
Celery config, the task modules and the ledger folder, which must be shared
with the workers (a volume).  It waits, by ping, until the scenario's workers
answer, then sends the chords and judges them exactly as a local run does.
It starts and stops nothing, and it refuses scenarios with faults: a nemesis
needs to own the processes it breaks.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from lab import records
from lab.celery_app import app_spec, build_app, release
from lab.errors import LabError, LabSetupError
from lab.scenario import Scenario, load

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
                    tasks=list(scenario.tasks), ledger_dir=ledger_dir, node=node)


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


def attach(scenario: Scenario, spec: dict[str, Any], *, seed: int | None = None, reporter=None,
           scenario_ref: str | None = None):
    from lab.run import exercise

    if scenario.faults:
        raise LabError(f"scenario {scenario.name!r} has faults, which need the lab to own the processes: "
                       "run it with `python -m lab run` instead of attach.")
    seed = seed if seed is not None else random.randrange(2**31)
    run_id = records.new_run_id(scenario.name)
    run_dir = records.run_dir_for(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    Path(spec["ledger_dir"]).mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    app = build_app(spec)
    try:
        seen = await_workers(app, len(scenario.workers))
    finally:
        release(app)
    hosts = sorted(seen)
    workers = [AttachedWorker(w, hosts[i] if i < len(hosts) else w.name, seen.get(hosts[i], t0) if i < len(hosts) else t0,
                              app_spec=spec)
               for i, w in enumerate(scenario.workers)]
    topo = AttachedTopology(scenario, run_id, run_dir, {**spec, "node": "producer"}, workers, boot_s=time.time() - t0)
    return exercise(topo, seed=seed, reporter=reporter, scenario_ref=scenario_ref, started_at=t0)


@click.command("attach")
@click.argument("scenario")
@click.option("--app-spec", "spec_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The JSON app spec the workers run with (their LAB_APP).")
@click.option("--seed", type=int, default=None)
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def attach_cmd(scenario: str, spec_path: Path, seed: int | None, as_json: bool) -> None:
    """Send SCENARIO's chords into a topology that is already running, and judge them."""
    import sys

    from lab.views import EXIT, ConsoleReporter, json_line, out, print_proof, verdict_table

    s = load(scenario)
    try:
        spec = json.loads(spec_path.read_text())
        missing = {"broker_url", "result_backend", "config", "tasks", "ledger_dir"} - set(spec)
    except ValueError as e:
        raise LabError(f"{spec_path} is not JSON ({e}): give the app spec the workers were started with.") from None
    if missing:
        raise LabError(f"{spec_path} lacks {', '.join(sorted(missing))}: give the app spec the workers were started with.")
    rep = ConsoleReporter(out)
    rep.step(f"waiting for {len(s.workers)} worker(s) on {spec['broker_url']}")
    try:
        result = attach(s, spec, seed=seed, reporter=rep, scenario_ref=scenario)
    finally:
        rep.done()
    out.print(verdict_table(result.record["verdicts"]))
    print_proof(out, result.record["verdicts"])
    out.print(f"\n{result.outcome['status']}: expected {s.expect}; recorded as {result.record['run_id']}")
    if as_json:
        sys.stdout.flush()
        print(json_line(result.record, result.outcome), flush=True)
    sys.exit(EXIT[result.outcome["status"]])
