"""The Celery app of a run: one builder for the producer and for every worker.

    scenario → **topology up** → chords sent → observations → verdict → record

A worker is started as ``celery -A lab.worker_app worker`` with ``LAB_APP``
pointing at an app spec written by the topology: the broker and backend URLs,
the task modules this worker imports (stale code is just another module), and
where its ledger goes (or, with ``recorder``, the flight recorder's store, which
then witnesses in the ledger's place).  Its Celery config comes by import, not as data: the
worker imports the scenario file the lab loaded and takes the very objects it
holds (a regex route, a router function, ``Queue`` objects), the scenario's
config with the worker's own overrides, as ``config_of`` computes them.  A
scenario that has no file (one the fuzzer built) has plain config, and that
travels in the spec.  A worker with ``Worker(app="pkg.module:app")`` runs that
app, with only the run's URLs and its own overrides put on it.  The producer
builds its app the same way, so both sides route with exactly the config the
scenario gave them.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from celery import Celery

from lab.observe import ledger

# Settings the lab adds under the scenario's own: they make boot fast and
# output readable, and change nothing about how chords are counted.
LAB_DEFAULTS: dict[str, Any] = {
    "broker_connection_retry_on_startup": True,
    "worker_hijack_root_logger": True,
    "worker_redirect_stdouts": True,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
}


# The producer (the lab itself) gives up on a lost result backend within about a second, not Celery's
# 20 x 1 s: sending happens before any fault fires, so a connection lost then is a server gone,
# and the run says so at once.  Workers keep Celery's (or the scenario's) policy.
PRODUCER_BACKEND_RETRY = {"max_retries": 3, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5}


def app_spec(*, broker_url: str, result_backend: str, config: dict[str, Any], tasks: list[str],
             ledger_dir: str, node: str, scenario_file: str | None = None, worker: str | None = None,
             app: str | None = None, stand_ins: bool = False, paths: list[str] | None = None,
             recorder: str | None = None) -> dict[str, Any]:
    """What a node's app is made of.  ``config`` is kept as data for reading (``to_dict``'s forms); with a
    ``scenario_file`` the node imports the live config from it (``worker`` names whose overrides apply,
    None for the producer).  ``app`` is a user's app (``pkg.module:app``); ``paths`` go on ``sys.path``.
    ``recorder`` is a flight recorder's store: the node records there instead of writing the file ledger
    (``lab run --witness recorder``)."""
    from lab.scenario.model import as_data

    spec = {"broker_url": broker_url, "result_backend": result_backend, "config": as_data(config),
            "tasks": list(tasks), "ledger_dir": ledger_dir, "node": node}
    if scenario_file and _file_gives(scenario_file, worker, spec["config"]):
        spec["config_from"] = {"scenario_file": scenario_file, "worker": worker}
    else:
        from lab.scenario import ScenarioError, unsendable

        bad = unsendable(config)
        if bad is not None:  # a scenario changed in code from its file (or with none): JSON is its only way in
            raise ScenarioError(f"the config for {worker or 'the producer'} holds {bad!r}, which JSON cannot carry, and its "
                                "scenario file does not give that config; put the config in the scenario file.")
    if app:
        spec["app"] = app
    if stand_ins:
        spec["stand_ins"] = True
    if paths:
        spec["paths"] = list(paths)
    if recorder:
        spec["recorder"] = recorder
    return spec


def config_of(scenario: Any, worker: str | None) -> dict[str, Any]:
    """The Celery config a run gives its producer (``worker=None``) or a worker (``scenario.model.node_config``),
    with the producer's backend retry bounded (a scenario's own ``retry_policy`` wins)."""
    from lab.scenario.model import node_config

    config = node_config(scenario, worker)
    if worker is None:
        transport = dict(config.get("result_backend_transport_options") or {})
        transport.setdefault("retry_policy", PRODUCER_BACKEND_RETRY)
        config = {**config, "result_backend_transport_options": transport}
    return config


_SCENARIOS: dict[tuple[str, float], Any] = {}


def scenario_from_file(path: str) -> Any:
    """The ``scenario`` a scenario file binds, executed as the lab loaded it (cached per file and mtime)."""
    key = (path, os.path.getmtime(path))
    if key not in _SCENARIOS:
        import re

        name = f"_lab_scenario_{re.sub(r'[^A-Za-z0-9_]', '_', Path(path).stem)}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(Path(path).parent))
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(Path(path).parent))
        _SCENARIOS[key] = module.scenario
    return _SCENARIOS[key]


def _file_gives(path: str, worker: str | None, data: Any) -> bool:
    """The scenario file still gives this node exactly this config (as data): a scenario the lab changed in code
    (the fuzzer's routes, the matrix's options) keeps its file's path, but not its file's config."""
    from lab.scenario.model import as_data

    try:
        file_scenario = scenario_from_file(path)
        if worker is not None and worker not in {w.name for w in file_scenario.workers}:
            return False
        return as_data(config_of(file_scenario, worker)) == data
    except Exception:  # a file that no longer loads here: the data in the spec is what this node gets
        return False


def registering_nothing(read: Any) -> Any:
    """``read()`` with any task it declares left out of this process's apps.

    A node imports its scenario file for its config; a task module the file imports at its top (say
    ``lab.apps.fuzz``, for its canvas) would otherwise register its tasks in every worker, and a worker
    that runs other code (``Worker(tasks=...)``, a stale deploy) would quietly run the current code.
    Celery registers a ``shared_task`` with each app when the app is finalized (``celery._state``'s
    finalizers): the ones the read added are dropped.  The node's own task modules are imported first,
    so they are not read here again and keep theirs."""
    from celery import _state

    before = set(_state._on_app_finalizers)
    try:
        return read()
    finally:
        _state._on_app_finalizers.intersection_update(before)


def live_config(spec: dict[str, Any]) -> dict[str, Any]:
    """A node's Celery config: imported from its scenario file when it has one, else the spec's data."""
    source = spec.get("config_from")
    if not source:
        return spec["config"]
    return config_of(scenario_from_file(source["scenario_file"]), source["worker"])


def build_app(spec: dict[str, Any], *, main: str = "lab") -> Celery:
    """A Celery app from an app spec; imports the task modules so they register.

    With ``spec["app"]`` it is the user's own app, imported as ``celery -A`` would, with only the run's
    URLs and the node's own overrides put on it: its serializers and routes stay the user's."""
    for path in reversed(spec.get("paths") or []):
        if path not in sys.path:
            sys.path.insert(0, path)  # task modules beside a scenario file, for the producer as for a worker
    urls = {"broker_url": spec["broker_url"], "result_backend": spec["result_backend"]}
    if spec.get("app"):
        from celery.app.utils import find_app

        app = find_app(spec["app"])
        app.set_current()
    else:
        app = Celery(main, set_as_current=True)
    for module in spec["tasks"]:  # the node's own code first: what the scenario file imports must not add to it
        importlib.import_module(module)
    config = registering_nothing(lambda: live_config(spec))
    defaults = {"broker_connection_retry_on_startup": True} if spec.get("app") else LAB_DEFAULTS
    app.conf.update({**defaults, **config, **urls})
    if spec.get("app"):
        app.loader.import_default_modules()  # what `celery -A` imports: the app's `include` and `imports`
    app.finalize(auto=True)
    if spec.get("stand_ins"):
        put_stand_ins(app)
    return app


def put_stand_ins(app: Celery) -> list[str]:
    """Replace the body of every task of the user's app with a stand-in of the same signature.

    A stand-in binds its arguments to the real signature (so a call the real task would refuse with a
    TypeError is refused the same way: the wrong-signature chord stays a finding) and returns its own task
    id, so the oracle of a chord is its header's ids in order.  Nothing of the user's (a database, an API)
    is touched; the routing, the names and the options stay theirs."""
    import inspect

    replaced = []
    for name, task in sorted(app.tasks.items()):
        if name.startswith("celery."):
            continue
        signature = inspect.signature(task.run)

        def stand_in(*args, _task=task, _signature=signature, **kwargs):
            _signature.bind(*args, **kwargs)  # raises TypeError as the real body's call would
            return _task.request.id

        task.run = stand_in
        replaced.append(name)
    return replaced


def from_env() -> Celery:
    spec = json.loads(Path(os.environ["LAB_APP"]).read_text())
    if spec.get("recorder"):
        app = build_app(spec)
        install_witness(app, spec)
        return app
    ledger.configure(spec["ledger_dir"], spec["node"])
    ledger.connect_signals()
    return build_app(spec)


def install_witness(app: Celery, spec: dict[str, Any]):
    """Make the flight recorder this node's witness, in place of the file ledger: ``lab.recorder.install``
    into the spec's store, with arguments and results (the judge compares a callback's arguments with the
    oracle), and the node named as the file ledger names it.  Return the sink."""
    from lab.recorder import install, uninstall

    ledger.configure(None, spec["node"])
    uninstall()  # a user's app that installs itself at import records elsewhere, without arguments
    sink = install(app, spec["recorder"], arguments=True)
    ledger.name_node(spec["node"])  # a worker is renamed at worker_init to its hostname: the same name
    return sink


UNRELEASED: list = []  # producer apps of runs still open: released by the run's lifecycle, interrupted or not


def release_unreleased() -> None:
    """Release every producer app a run still holds (the lifecycle calls it while the servers are up)."""
    while UNRELEASED:
        release(UNRELEASED.pop())


def release(app: Celery) -> None:
    """Let go of the producer's connections while the servers are still up, and close every one of them.

    Sending a chord leaves AsyncResult objects subscribed to the result
    backend; collected after redis-server is gone, each would try to
    reconnect.  Collect them now, close the pubsub, then close what the app
    opened: ``Celery.close()`` only forgets its connection pool, and kombu keeps
    the producer pool (with its connections, channels and epoll handle) in a
    process-wide registry keyed by broker URL, so without this each run left
    its sockets to a redis-server that no longer exists.
    """
    import gc

    consumer = getattr(app.backend, "result_consumer", None)
    # Closing the pubsub below drops every subscription at once: no UNSUBSCRIBE per result, which would
    # retry for 20 s against a redis-server that is gone.
    getattr(consumer, "subscribed_to", set()).clear()
    for mapping in getattr(app.backend, "_pending_results", None) or ():
        mapping.clear()  # the backend holds sent chords' results strongly until they are fulfilled
    gc.collect()
    try:
        if consumer is not None:
            consumer.stop()
    except Exception:  # already disconnected: nothing left to release
        pass
    _close_broker_pools(app)
    _close_backend_client(app)
    app.close()
    gc.collect()  # kombu's transports and redis-py's pools hold cycles: free their epoll handles now


def _close_broker_pools(app: Celery) -> None:
    """Close the app's broker connection pool and its producer pool, and drop them from kombu's registry.

    The registry (``kombu.pools.producers`` / ``connections``) is keyed by URL;
    a run's URL names its own redis-server port, so its entries are this app's
    alone and are dead once the run ends.
    """
    from kombu import pools

    amqp = app.__dict__.get("amqp")  # not created yet: nothing was sent
    producers = getattr(amqp, "_producer_pool", None)
    owned = [p for p in (producers, getattr(producers, "connections", None), app._pool) if p is not None]
    for group in (pools.producers, pools.connections):
        for key, pool in list(group.items()):
            if any(pool is p for p in owned):
                dict.__delitem__(group, key)  # the stored key is already the eqhash
    for pool in owned:
        try:
            pool.force_close_all()
        except Exception:  # a connection to a server that is gone: closing it is all we wanted
            pass
    if amqp is not None:
        amqp._producer_pool = None
    app._pool = None


def _close_backend_client(app: Celery) -> None:
    """Disconnect the Redis result backend's connection pool (Celery gives it no close of its own)."""
    client = app.backend.__dict__.get("client")  # a cached_property: absent if never used
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        try:
            pool.disconnect()
        except Exception:  # the server is gone: the sockets are closed anyway
            pass
