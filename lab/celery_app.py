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

from lab import ledger

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


def release(app: Celery) -> None:
    """Let go of the producer's connections while the servers are still up.

    Sending a chord leaves AsyncResult objects subscribed to the result
    backend; collected after redis-server is gone, each would try to
    reconnect.  Collect them now, close the pubsub, then close the app.
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
        app.close()
    except Exception:  # already disconnected: nothing left to release
        pass
