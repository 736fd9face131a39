"""What a Celery app's configuration says: its broker and backend kinds, where a task is routed and why,
how long chord keys live, the backend's eviction policy.

    a user's app (or a lab run's) → **config readers** → audit's findings, doctor's reading

Shared by audit (static risks) and the live reader (``observe.live``); nothing here judges.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from lab.errors import LabError


class AuditError(LabError):
    """Bad input to audit or doctor: one sentence naming it and the fix."""


def load_app(ref: str, *, given_as: str = "--app"):
    """The user's Celery app from ``module:attribute`` (as ``celery -A``), with its tasks imported; ``given_as``
    names where the user gave it, for the sentence when it cannot be imported."""
    from celery import Celery
    from celery.app.utils import find_app

    if os.getcwd() not in sys.path:  # `celery -A` imports from the current directory too
        sys.path.insert(0, os.getcwd())
    try:
        app = find_app(ref)
    except (ImportError, AttributeError) as e:
        raise AuditError(f"cannot import the app {ref!r} ({type(e).__name__}: {e}); give {given_as} as for `celery -A`, "
                         "e.g. myproject.worker:app, from the directory a worker starts in.") from None
    except Exception as e:  # the user's module raised while importing
        raise AuditError(f"importing the app {ref!r} raised {type(e).__name__}: {e}; fix that module, or set what it "
                         "needs (a worker started with the same environment would fail the same way).") from None
    if not isinstance(app, Celery):
        raise AuditError(f"{ref!r} is a {type(app).__name__}, not a Celery app; point --app at the Celery() instance.")
    try:
        app.loader.import_default_modules()  # what a worker imports: `imports`, `include`, autodiscovered tasks
        app.finalize(auto=True)
    except Exception as e:
        raise AuditError(f"importing the task modules of {ref!r} raised {type(e).__name__}: {e}; fix that module.") from None
    return app


def user_tasks(app) -> list[str]:
    """Registered task names, without Celery's built-ins."""
    return sorted(n for n in app.tasks if not n.startswith("celery."))


def default_queues(app) -> list[str]:
    """What `celery worker` without -Q consumes: every queue in task_queues, else the default queue."""
    declared = app.conf.task_queues
    if declared:
        return sorted(q.name for q in declared)
    return [app.conf.task_default_queue]


def task_options(app, name: str) -> dict[str, Any]:
    """The routing options a task declares on itself (``@app.task(queue=...)``)."""
    task = app.tasks.get(name)
    if task is None:
        return {}
    return {k: v for k, v in (("queue", getattr(task, "queue", None)), ("exchange", getattr(task, "exchange", None)),
                             ("routing_key", getattr(task, "routing_key", None))) if v}


def routed_queue(app, name: str, options: dict[str, Any] | None = None) -> str | None:
    """The queue Celery's router sends ``name`` to (with the task's own options and ``options``)."""
    opts = {**task_options(app, name), **(options or {})}
    try:
        route = app.amqp.router.route(dict(opts), name, (), {}, app.tasks.get(name))
    except Exception:  # a router that raises: the worker log shows it; audit reports "unknown"
        return None
    q = route.get("queue")
    return getattr(q, "name", q)


def explain_route(app, name: str, options: dict[str, Any] | None = None) -> str:
    """Which setting sends ``name`` where, in words (the first task_routes entry that matches)."""
    from celery.app.routes import MapRoute

    queue = routed_queue(app, name, options)
    if (options or {}).get("queue"):  # call options win over routes (Celery's Router.route: lpmerge)
        return f"the signature's own .set(queue={options['queue']!r}) sends {name!r} to queue {queue!r}"
    if task_options(app, name).get("queue"):
        return f"{name!r} is sent to queue {queue!r} by its own queue= option"
    conf = app.conf.task_routes
    entries = list(conf) if isinstance(conf, (list, tuple)) else ([conf] if conf else [])
    router = app.amqp.router
    for entry in entries:
        if isinstance(entry, Mapping):
            for pattern, route in entry.items():
                if MapRoute({pattern: route})(name) is not None:
                    return f"task_routes entry {pattern!r} matches {name!r} and sends it to queue {queue!r}"
        else:
            try:
                fn = router.expand_router_string(entry) if isinstance(entry, str) else entry
                hit = router.query_router(fn, name, (), {}, {}, app.tasks.get(name))
            except Exception:
                hit = None
            if hit:
                return f"the router {getattr(entry, '__name__', entry)!s} sends {name!r} to queue {queue!r}"
    if entries:
        return f"no task_routes entry matches {name!r}, so it goes to the default queue {queue!r}"
    return f"there are no task_routes, so {name!r} goes to the default queue {queue!r}"


def seconds(v: Any) -> float | None:
    if v is None:
        return None
    if hasattr(v, "total_seconds"):
        return float(v.total_seconds())
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: Any, what: str = "--duration") -> float:
    """Seconds from ``30``, ``30s``, ``1.5m``, ``250ms``, ``2h``; one sentence when it is none of those."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h|d)?\s*", str(text))
    if not m:
        raise AuditError(f"{what} {text!r} is not a duration; give seconds or a number with a unit, e.g. 30s, 5m, 2h.")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def chord_expires(app) -> tuple[float | None, str]:
    """How long the chord keys live (Celery 5.7: result_chord_expires, else result_expires), and which setting says so."""
    own = seconds(app.conf.get("result_chord_expires"))
    if own:
        return own, "result_chord_expires"
    return seconds(app.conf.result_expires), "result_expires"


def backend_kind(app) -> str:
    url = str(app.conf.result_backend or "")
    scheme = url.split(":", 1)[0].lower()
    if not url or scheme == "disabled":
        return "none"
    if scheme in ("redis", "rediss", "sentinel"):
        return "redis"
    if scheme.startswith("db+") or scheme in ("database",):
        return "database"
    if scheme == "rpc":
        return "rpc"
    return scheme


def broker_kind(app) -> str:
    url = str(app.conf.broker_url or "")
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("redis", "rediss", "sentinel"):
        return "redis"
    if scheme in ("amqp", "amqps", "pyamqp", "librabbitmq"):
        return "rabbitmq"
    return scheme or "amqp"


def native_join(app) -> bool:
    try:
        return bool(app.backend.supports_native_join)
    except Exception:  # a backend that cannot even be built is reported elsewhere
        return True


def redis_memory_policy(app, timeout: float = 1.0) -> dict[str, Any] | None:
    """The result backend's maxmemory and policy from INFO (read-only), or None when it does not answer."""
    if backend_kind(app) != "redis":
        return None
    try:
        import redis

        client = redis.Redis.from_url(str(app.conf.result_backend), socket_timeout=timeout, socket_connect_timeout=timeout)
        info = client.info("memory")
        client.close()
    except Exception:
        return None
    return {"maxmemory": int(info.get("maxmemory") or 0), "maxmemory_policy": info.get("maxmemory_policy")}


def redact(url: Any) -> str:
    s = str(url or "")
    if "@" in s and "://" in s:
        scheme, rest = s.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return s
