"""How each node of a run routes a task, and why: read from the apps themselves when the chords are sent.

    scenario → topology up → chords sent → **observations** → verdict with proof → record

Celery routes a message where it is published, with the publisher's own app:
a chord's header parts by the producer, its callback by the worker that
finishes the last part (with that worker's config), unless the signature names
its own queue.  So a task's route is read from every app that may publish it,
with the very config objects the nodes run (a regex route, a router function),
and the judge takes the reading of the node the ledger shows did publish.
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import Celery

from lab.observe.config import explain_route, routed_queue
from lab.observe.model import RouteReading


def worker_router(scenario: Any, worker: Any) -> Celery:
    """An app that routes as ``worker`` does: its own app (``Worker.app``), or the scenario's config with its
    overrides and its task modules.  It never connects: only its router is asked."""
    from lab.scenario.model import node_config

    if worker.app or scenario.app:
        from celery.app.utils import find_app

        return find_app(worker.app or scenario.app)
    app = Celery(f"lab-routes-{worker.name}", set_as_current=False)
    app.conf.update(node_config(scenario, worker.name))
    for module in worker.tasks or scenario.tasks:
        importlib.import_module(module)  # a task's own queue= option is part of its route
    app.finalize(auto=True)
    return app


def read_routes(producer: Celery, scenario: Any, hostnames: dict[str, str],
                tasks: list[tuple[str, str, dict[str, Any]]]) -> list[RouteReading]:
    """For each (role, task name, signature options): where each publisher sends it, and the setting that decides.

    ``role`` is "header" (the producer publishes) or "callback" (every worker may: the one that ends the last part);
    ``hostnames`` maps each scenario worker's name to its hostname, as the ledger names publishers."""
    readings: list[RouteReading] = []
    workers: dict[str, Celery] = {}
    unique = {(r, n, repr(sorted(o.items()))): (r, n, o) for r, n, o in tasks}
    for role, name, options in unique.values():
        if role == "header":
            publishers = [("producer", producer)]
        else:
            for w in scenario.workers:
                if w.name not in workers:
                    try:
                        workers[w.name] = worker_router(scenario, w)
                    except Exception as e:  # an app that cannot be read here: say so, do not guess its route
                        readings.append({"role": role, "task": name, "by": hostnames.get(w.name, w.name), "queue": None,
                                         "source": "unknown", "why": f"the app could not be read ({type(e).__name__}: {e})"})
                        continue
            publishers = [(hostnames.get(w.name, w.name), workers[w.name]) for w in scenario.workers if w.name in workers]
        for by, app in publishers:
            source = "signature" if options.get("queue") else ("producer" if by == "producer" else "worker")
            why = (f"the signature's own .set(queue={options['queue']!r})" if options.get("queue")
                   else explain_route(app, name, options))
            readings.append({"role": role, "task": name, "by": by, "queue": routed_queue(app, name, options),
                             "source": source, "why": why})
    return readings
