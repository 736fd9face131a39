"""Topology: bring a scenario's processes up, and own them until the run ends.

    scenario → **topology up** → chords sent → observations → verdict → record

One ``redis-server`` per run on a free loopback port (the broker on db 0, the
Redis result backend on db 1), then one real ``celery worker`` subprocess per
scenario worker, each with its own ``-Q``, ``-n``, ``--concurrency``,
``--pool``, task code and log file.  Readiness is evidence: a PING, then each
worker's own "ready." log line, with a bound; if the run's redis-server dies
while a worker boots, the boot ends at once with ``NodeLost`` naming the
server (exit 2), not with a missing ready line.  Every process belongs to the
run's ``ProcessOwner`` and is gone when the ``with`` block ends.

A worker (or the scenario) may name its own ``result_backend`` or
``broker_url`` in its config, with ``{redis}`` standing for the run's
redis-server (``redis://{redis}/2``): that is how a producer and its workers
end up on different result databases.  ``result_backend: "{postgres}"`` with
the database backend asks for PostgreSQL (a database of the run's own, created
and dropped) whatever ``LAB_POSTGRES_URL`` says.  ``restart_worker`` is the nemesis's
heal after a kill: the same worker, hostname, app spec and log, started again.

A worker that a ``partition-worker`` fault targets reaches the side it cuts (``from``: broker, backend, or
``redis``, both) through a proxy of its own (``lab.runtime.process.partition_proxy``), started before the
workers as a node of the same owner; only that worker's URL names the proxy, so the producer and every
other worker connect directly, and the nemesis cuts that worker alone.  A restarted worker keeps its proxies.

With ``witness="recorder"`` (``lab run --witness recorder``) the run starts a second redis-server of its
own, ``witness``, and every node records into its stream through the flight recorder (``lab.recorder``)
instead of writing the file ledger.  It is a server apart because the scenarios fault the first one: a
restart without persistence empties every database, ``allkeys-lru`` evicts keys of every database (and a
stream there would change when eviction starts), ``noeviction`` refuses its writes, and ``DEBUG SLEEP`` or
``CLIENT PAUSE`` hold them past the recorder's timeout.  On that server the witness would lose events to
the very fault under test; on its own it sees what the file ledger sees.  ``witness="recorder-broker"``
puts the stream there all the same (db 15, which no scenario uses), as a user's ``install(app)`` on a
Redis broker does, to measure what those faults cost the recorder.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lab.errors import LabSetupError
from lab.runtime.process import services as brokers
from lab.runtime.celery_app import app_spec, config_of
from lab.runtime.process.partition_proxy import PartitionProxy, start_proxies
from lab.runtime.process.processes import Node, NodeLost, NodeNotReady, ProcessOwner, describe_exit
from lab.runtime.process.redis_server import RedisServer, start_redis
from lab.scenario import PARTITION_SIDES, Scenario, Worker
from lab.scenario.model import URL_SETTINGS

PROJECT_ROOT = Path(__file__).resolve().parents[3]
WORKER_READY_TIMEOUT = 30.0
_SIDE_SETTING = {"broker": "broker_url", "backend": "result_backend"}


@dataclass
class WorkerNode:
    spec: Worker
    hostname: str
    node: Node
    app_spec: dict[str, Any]
    ready_at: float = 0.0
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    restarts: list[dict[str, Any]] = field(default_factory=list)  # earlier lives: pid, until
    proxies: dict[str, PartitionProxy] = field(default_factory=dict)  # side ("broker", "backend") → its proxy

    def describe(self) -> dict[str, Any]:
        return {"name": self.spec.name, "hostname": self.hostname, "queues": list(self.spec.queues) if self.spec.queues else None,
                "concurrency": self.spec.concurrency, "pool": self.spec.pool,
                "tasks": self.app_spec["tasks"], "pid": self.node.pid, "ready_at": self.ready_at,
                "log": str(self.node.log_path), "result_backend": self.app_spec["result_backend"],
                **({"earlier_lives": self.restarts} if self.restarts else {}),
                **({"proxies": {side: p.describe() for side, p in self.proxies.items()}} if self.proxies else {})}


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
    witness: RedisServer | None = None  # the flight recorder's own redis-server (--witness recorder)

    def broker_client(self):
        """A client on the broker's Redis database, for peeking at queues."""
        return self.redis.client(0)

    def worker(self, name: str) -> WorkerNode:
        return next(w for w in self.workers if w.spec.name == name)

    def restart_worker(self, name: str, timeout: float = WORKER_READY_TIMEOUT) -> WorkerNode:
        """Start worker ``name`` again: same hostname, app spec and log; return once it logged "ready.".

        Whatever is left of its earlier life (a stopped or orphaned process
        group) is killed first, so two lives never consume at once.
        """
        wn = self.worker(name)
        since = end_life(wn)
        wn.node = self.owner.spawn(name, wn.argv, env=wn.env, cwd=self.run_dir)
        await_ready(wn, self.redis, timeout, since=since)
        return wn

    def backend_urls(self) -> dict[str, str]:
        """Every result backend URL in use, by who uses it: the producer and each worker."""
        urls = {"producer": self.result_backend}
        urls.update({w.hostname: w.app_spec["result_backend"] for w in self.workers})
        return urls

    def describe(self) -> dict[str, Any]:
        return {"redis": {"port": self.redis.port, "version": self.redis.version, "ready_at": self.redis.ready_at,
                          "options": self.redis.options},
                "broker_url": self.broker_url, "result_backend": self.result_backend,
                "workers": [w.describe() for w in self.workers], "boot_s": self.boot_s, **self.extras,
                **({"witness": self.describe_witness()} if self.producer_spec.get("recorder") else {})}

    def describe_witness(self) -> dict[str, Any]:
        server = self.witness or self.redis
        return {"kind": self.producer_spec.get("witness"), "store": self.producer_spec.get("recorder"), "port": server.port,
                "own_server": self.witness is not None, "version": server.version, "ready_at": server.ready_at}


def redis_lost(redis: Any) -> str | None:
    """The run's own redis-server, if it died: which server, its pid and port, how it died; else None.

    Nothing here asks whether a fault planned it: a planned restart leaves it running, on the same
    port, and every fault is healed before the final probe.
    """
    node = getattr(redis, "node", None)
    if node is None or node.alive():
        return None
    return f"redis-server (pid {node.pid}, port {redis.port}) is gone ({describe_exit(node.returncode)})"


def await_ready(wn: WorkerNode, redis: Any, timeout: float, *, since: int | None = None) -> None:
    """Wait for worker ``wn``'s "ready." line; if the run's redis-server dies meanwhile, say that, at once.

    A worker whose broker is gone retries its connection for minutes and never logs "ready.":
    the loss of the server is the news, not the missing line (``NodeLost``, exit code 2).
    """
    try:
        wn.node.wait_for_log(r"\bready\.", timeout, since=since, give_up=lambda: redis_lost(redis))
    except NodeNotReady as e:
        lost = redis_lost(redis)  # a worker that exited or timed out: the server it needed may be why
        if lost:
            raise NodeLost(f"{lost}, while worker {wn.spec.name} was starting (it never logged 'ready.'); "
                           "the run cannot go on, and no verdict can be given.") from e
        raise
    wn.ready_at = time.time()


def end_life(wn) -> int:
    """End a worker's current life before a restart: note it in ``wn.restarts``, kill what is left of it (a stopped
    or orphaned process or container), and return where its log ends, for the next life's "ready." wait."""
    old = wn.node
    wn.restarts.append({"pid": old.pid, "until": time.time(),
                        "exit": old.returncode if old.returncode is not None else "killed by the lab"})
    old.kill()
    return old.log_size()


def _worker_argv(w: Worker, hostname: str) -> list[str]:
    argv = [sys.executable, "-m", "celery", "-A", "lab.worker_app", "worker", "-n", hostname,
            "-c", str(w.concurrency), "-P", w.pool, "-l", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat"]
    if w.queues:
        argv += ["-Q", ",".join(w.queues)]
    return argv + w.extra_args()  # the scenario's own worker arguments, as typed (validated against the fields)


def _pythonpath(scenario: Scenario) -> str:
    paths = [str(PROJECT_ROOT), *node_paths(scenario)]  # a scenario script's own task modules, or a user's project
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(paths)


def _own_urls(config: dict[str, Any], redis: RedisServer) -> dict[str, str]:
    """The broker/backend URLs a config names for itself, with {redis} filled in ({postgres}: see bring_up)."""
    here = f"{redis.url(0).split('://', 1)[1].rsplit('/', 1)[0]}"
    return {k: config[k].replace("{redis}", here) for k in URL_SETTINGS
            if isinstance(config.get(k), str) and config[k] != "{postgres}"}


def partitioned_sides(scenario: Scenario) -> dict[str, list[str]]:
    """Worker name → the sides ("broker", "backend") some ``partition-worker`` fault cuts it from."""
    out: dict[str, list[str]] = {}
    for f in scenario.faults:
        if f.kind == "partition-worker":
            sides = out.setdefault(f.target, [])
            sides += [s for s in PARTITION_SIDES[str(f.options.get("from", "redis"))] if s not in sides]
    return out


def _endpoint(url: str | None) -> tuple[str, int] | None:
    """The TCP address a broker or backend URL connects to, or None (rpc://, a SQLite file)."""
    try:
        u = urlsplit(url or "")
        return (u.hostname, u.port) if u.hostname and u.port else None
    except ValueError:
        return None


def _through(url: str, port: int) -> str:
    """``url`` with its host:port replaced by the proxy's loopback port (user, password, path and query kept)."""
    u = urlsplit(url)
    user = u.netloc.rpartition("@")[0]
    return u._replace(netloc=f"{user + '@' if user else ''}127.0.0.1:{port}").geturl()


def _start_proxies(scenario: Scenario, owner: ProcessOwner, urls: dict[str, dict[str, str]], say) -> dict[str, dict[str, PartitionProxy]]:
    """Start a proxy for each (worker, side) a partition cuts; ``urls``: worker → setting → its URL, rewritten in place."""
    wanted: dict[str, tuple[str, int]] = {}
    where: dict[str, tuple[str, str]] = {}
    for name, sides in partitioned_sides(scenario).items():
        for side in sides:
            setting = _SIDE_SETTING[side]
            target = _endpoint(urls[name].get(setting))
            if target is None:
                raise LabSetupError(f"worker {name}'s {setting} {urls[name].get(setting)!r} has no TCP address, so the "
                                    f"process runtime cannot cut it off from the {side} (partition-worker).")
            wanted[f"proxy-{name}-{side}"] = target
            where[f"proxy-{name}-{side}"] = (name, side)
    if not wanted:
        return {}
    say(f"starting {len(wanted)} partition prox{'y' if len(wanted) == 1 else 'ies'} ({', '.join(wanted)})")
    out: dict[str, dict[str, PartitionProxy]] = {}
    for pname, proxy in start_proxies(owner, wanted).items():
        name, side = where[pname]
        urls[name][_SIDE_SETTING[side]] = _through(urls[name][_SIDE_SETTING[side]], proxy.port)
        out.setdefault(name, {})[side] = proxy
    return out


def node_paths(scenario: Scenario) -> list[str]:
    """Where a scenario file's own task modules are: its folder, for the producer and every worker alike."""
    if scenario.source:
        return [str(Path(scenario.source).parent)]
    return [os.getcwd()] if scenario.app else []  # a user's project (lab run --app): where they start their workers


def bring_up(scenario: Scenario, run_id: str, run_dir: Path, owner: ProcessOwner, *, on_step=None,
             witness: str = "ledger") -> Topology:
    """Start redis-server and every worker; return when all are ready (or raise NodeNotReady).
    ``witness``: "ledger" (the file ledger), "recorder" (the flight recorder, on a redis-server of its own) or
    "recorder-broker" (the flight recorder on the run's redis-server, db 15)."""
    t0 = time.time()
    say = on_step or (lambda msg: None)
    (run_dir / "ledger").mkdir(parents=True, exist_ok=True)
    say("starting redis-server")
    redis = start_redis(owner, run_dir, {k: str(v) for k, v in scenario.redis_options.items()})
    if witness == "recorder":
        say("starting the witness's redis-server (the flight recorder's store)")
        witness_redis = start_redis(owner, run_dir, {}, name="witness")
    else:
        witness_redis = None
    extras: dict[str, Any] = {}
    broker_url = redis.url(0)
    result_backend = {"redis": redis.url(1), "rpc": "rpc://"}.get(scenario.backend)
    try:
        # Each shared-server resource is the owner's to drop, before it exists: even a SIGKILLed lab leaves none.
        if scenario.broker == "rabbitmq":
            broker_url, extras["vhost"] = brokers.rabbitmq_vhost(run_id, before_create=lambda name: owner.add_cleanup(
                brokers.cleanup_argv("vhost", name), lambda: brokers.drop_rabbitmq_vhost(name)))
        if scenario.backend == "database":
            engine = "postgresql" if scenario.config.get("result_backend") == "{postgres}" else None
            result_backend, extras["database"] = brokers.database_url(
                run_id, run_dir, engine=engine, before_create=lambda name: owner.add_cleanup(
                    brokers.cleanup_argv("database", name), lambda: brokers.drop_database(name)))
        recorder = witness_redis.url(0) if witness_redis else (redis.url(15) if witness == "recorder-broker" else None)
        return _start_workers(scenario, run_id, run_dir, owner, say, t0, redis, broker_url, result_backend, extras,
                              witness=witness_redis, recorder=recorder, witness_name=witness)
    except BaseException:
        _drop_extras(extras)  # the run never gets a topology to clean up: drop its vhost and database here
        raise


def _drop_extras(extras: dict[str, Any]) -> None:
    if extras.get("vhost"):
        brokers.drop_rabbitmq_vhost(extras["vhost"])
    if extras.get("database"):
        brokers.drop_database(extras["database"])


def _start_workers(scenario: Scenario, run_id: str, run_dir: Path, owner: ProcessOwner, say, t0: float,
                   redis: RedisServer, broker_url: str, result_backend: str | None, extras: dict[str, Any], *,
                   witness: RedisServer | None = None, recorder: str | None = None,
                   witness_name: str = "ledger") -> Topology:
    shared = _own_urls(scenario.config, redis)
    broker_url = shared.get("broker_url", broker_url)
    result_backend = shared.get("result_backend", result_backend)
    producer_spec = app_spec(broker_url=broker_url, result_backend=result_backend, config=config_of(scenario, None),
                             tasks=[] if scenario.app else list(scenario.tasks), ledger_dir=str(run_dir / "ledger"), node="producer",
                             scenario_file=scenario.source, app=scenario.app, paths=node_paths(scenario), recorder=recorder)
    if recorder:
        producer_spec["witness"] = witness_name
    topo = Topology(scenario, run_id, run_dir, owner, redis, broker_url, result_backend, producer_spec, extras=extras,
                    witness=witness)
    env = {**os.environ, "PYTHONPATH": _pythonpath(scenario), "PYTHONUNBUFFERED": "1"}
    short = run_id.rsplit("-", 1)[-1]
    urls = {w.name: {"broker_url": broker_url, "result_backend": result_backend, **_own_urls(w.config, redis)}
            for w in scenario.workers}  # a worker deployed with another broker or backend URL has its own
    proxies = _start_proxies(scenario, owner, urls, say)  # a worker a partition cuts: that side through its proxy
    for w in scenario.workers:
        hostname = f"{w.name}@{scenario.name}-{short}"
        own = urls[w.name]
        spec = app_spec(broker_url=own["broker_url"], result_backend=own["result_backend"],
                        config=config_of(scenario, w.name), tasks=list(w.tasks or (() if w.app or scenario.app else scenario.tasks)),
                        ledger_dir=str(run_dir / "ledger"), node=hostname, scenario_file=scenario.source, worker=w.name,
                        app=w.app or scenario.app, stand_ins=scenario.stand_ins, paths=node_paths(scenario),
                        recorder=recorder)
        spec_path = run_dir / f"app-{w.name}.json"
        spec_path.write_text(json.dumps(spec, indent=2))
        say(f"starting worker {w.name} ({'-Q ' + ','.join(w.queues) if w.queues else 'no -Q'}{' ' + w.argv if w.argv else ''})")
        argv, wenv = _worker_argv(w, hostname), {**env, "LAB_APP": str(spec_path)}
        node = owner.spawn(w.name, argv, env=wenv, cwd=run_dir)
        topo.workers.append(WorkerNode(w, hostname, node, spec, argv=argv, env=wenv, proxies=proxies.get(w.name, {})))
    for wn in topo.workers:  # boot in parallel, then await each one's own ready line
        await_ready(wn, redis, WORKER_READY_TIMEOUT)
    topo.boot_s = time.time() - t0
    return topo
