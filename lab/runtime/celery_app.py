"""The Celery app of a run: one builder for the producer and for every worker.

    scenario → **topology up** → chords sent → observations → verdict → record

A worker is started as ``celery -A lab.worker_app worker`` with ``LAB_APP``
pointing at a JSON file written by the topology: the broker and backend URLs,
the Celery config (the scenario's, with the worker's own overrides), the task
modules this worker imports (stale code is just another module), and where its
ledger goes.  The producer builds its app from the same kind of file, so both
sides route with exactly the config the scenario gave them.
"""

from __future__ import annotations

import importlib
import json
import os
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


def app_spec(*, broker_url: str, result_backend: str, config: dict[str, Any], tasks: list[str],
             ledger_dir: str, node: str) -> dict[str, Any]:
    return {"broker_url": broker_url, "result_backend": result_backend, "config": config,
            "tasks": list(tasks), "ledger_dir": ledger_dir, "node": node}


def build_app(spec: dict[str, Any], *, main: str = "lab") -> Celery:
    """A Celery app from an app spec; imports the task modules so they register."""
    app = Celery(main, set_as_current=True)
    conf = {**LAB_DEFAULTS, **spec["config"], "broker_url": spec["broker_url"], "result_backend": spec["result_backend"]}
    app.conf.update(conf)
    for module in spec["tasks"]:
        importlib.import_module(module)
    app.finalize(auto=True)
    return app


def from_env() -> Celery:
    spec = json.loads(Path(os.environ["LAB_APP"]).read_text())
    ledger.configure(spec["ledger_dir"], spec["node"])
    ledger.connect_signals()
    return build_app(spec)


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
