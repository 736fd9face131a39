"""``lab audit``: predict chord risks from a user's app and worker command lines, with no live system.

    (a user's app + worker command lines) → **findings** → exit code for CI

The lab's scenarios show which configurations leave a chord stuck; this module
looks for those configurations statically.  It imports the user's app as a
worker would (``--app`` as for ``celery -A``), parses each ``--worker``
command line with Celery's own ``celery worker`` option parser, routes every
registered task with Celery's own router, and reports:

    route-unconsumed        a task (a chord callback, or celery.chord_unlock) routed to a queue no declared worker consumes
    header-ignores-result   a task that stores no result (ignore_result), which a chord header cannot count
    chord-expiry-short      result_chord_expires / result_expires shorter than declared durations or countdowns
    rpc-backend             the rpc:// backend (or none), which refuses chords
    eviction-policy         a result-backend Redis whose maxmemory policy evicts keys with a TTL (chord keys have one)
    visibility-timeout      a Redis/SQS visibility_timeout shorter than declared countdowns or acks_late task runs

Each finding has an id, a severity (info < warning < error), its evidence and
its fix.  ``--fail-on`` sets the severity at which the command exits 1.  No
existing package audits Celery chord configuration, so the checks are the
lab's own; everything they interpret (option parsing, routing, queue
selection, key expiry settings) comes from Celery itself.

The only thing audit reads from a live system is the result backend's
``INFO memory`` (eviction policy), and only when that backend answers.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from lab.errors import LabError

SEVERITIES = ("info", "warning", "error")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
CHORD_UNLOCK = "celery.chord_unlock"
SHORT_EXPIRY_S = 300  # below this, with nothing declared, chord keys are "suspiciously short"


class AuditError(LabError):
    """Bad input to audit or doctor: one sentence naming it and the fix."""


@dataclass
class Finding:
    id: str
    severity: str
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""
    subject: str | None = None  # the task or setting it is about

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkerDecl:
    """A worker as declared on its command line, and the queues it would consume."""

    argv: str
    queues: list[str]
    explicit: bool  # True when -Q was given

    def describe(self) -> str:
        return f"`{self.argv.strip() or '(no options)'}` consumes {', '.join(self.queues) or 'nothing'}"


# -- the user's app -----------------------------------------------------------


def load_app(ref: str):
    """The user's Celery app from ``module:attribute`` (as ``celery -A``), with its tasks imported."""
    from celery import Celery
    from celery.app.utils import find_app

    if os.getcwd() not in sys.path:  # `celery -A` imports from the current directory too
        sys.path.insert(0, os.getcwd())
    try:
        app = find_app(ref)
    except (ImportError, AttributeError) as e:
        raise AuditError(f"cannot import the app {ref!r} ({type(e).__name__}: {e}); give --app as for `celery -A`, "
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


# -- workers --------------------------------------------------------------------


def default_queues(app) -> list[str]:
    """What `celery worker` without -Q consumes: every queue in task_queues, else the default queue."""
    declared = app.conf.task_queues
    if declared:
        return sorted(q.name for q in declared)
    return [app.conf.task_default_queue]


def parse_worker(app, argv: str) -> WorkerDecl:
    """A worker command line, parsed with Celery's own `celery worker` options."""
    from celery.bin.worker import worker as worker_command

    try:
        args = shlex.split(argv)
    except ValueError as e:
        raise AuditError(f"--worker {argv!r} is not a valid command line ({e}); quote it as you would in a shell.") from None
    if "worker" in args:  # a whole `celery -A proj worker ...` line
        args = args[args.index("worker") + 1:]
    try:
        ctx = worker_command.make_context("worker", list(args), resilient_parsing=True)
    except click.ClickException as e:
        raise AuditError(f"--worker {argv!r}: {e.format_message()}; give options as for `celery worker`, e.g. \"-Q execution,celery\".") from None
    include = [q for q in (ctx.params.get("queues") or []) if q]
    exclude = set(ctx.params.get("exclude_queues") or [])
    queues = include or default_queues(app)
    return WorkerDecl(argv, sorted(q for q in dict.fromkeys(queues) if q not in exclude), bool(include))


# -- routing --------------------------------------------------------------------


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

    opts = {**task_options(app, name), **(options or {})}
    queue = routed_queue(app, name, options)
    if opts.get("queue"):
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


def route_patterns_matching_nothing(app) -> list[str]:
    from celery.app.routes import MapRoute

    conf = app.conf.task_routes
    entries = list(conf) if isinstance(conf, (list, tuple)) else ([conf] if conf else [])
    names = list(app.tasks)
    dead = []
    for entry in entries:
        if isinstance(entry, Mapping):
            for pattern, route in entry.items():
                if not any(MapRoute({pattern: route})(n) is not None for n in names):
                    dead.append(str(pattern))
    return dead


# -- settings --------------------------------------------------------------------


def _seconds(v: Any) -> float | None:
    if v is None:
        return None
    if hasattr(v, "total_seconds"):
        return float(v.total_seconds())
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def chord_expires(app) -> tuple[float | None, str]:
    """How long the chord keys live (Celery 5.7: result_chord_expires, else result_expires), and which setting says so."""
    own = _seconds(app.conf.get("result_chord_expires"))
    if own:
        return own, "result_chord_expires"
    return _seconds(app.conf.result_expires), "result_expires"


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


def _native_join(app) -> bool:
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


# -- the audit ---------------------------------------------------------------------


def audit(app, workers: list[WorkerDecl], *, callbacks: list[str] = (), headers: list[str] = (),
          duration: float | None = None, countdown: float | None = None, live_backend: bool = True) -> list[Finding]:
    """Every finding for ``app`` run by ``workers``; pure except the optional INFO read of the backend."""
    findings: list[Finding] = []
    tasks = user_tasks(app)
    known = set(app.tasks)
    for name in [*callbacks, *headers]:
        if name not in known:
            raise AuditError(f"task {name!r} is not registered in the app; registered tasks: "
                             f"{', '.join(tasks[:8]) or 'none'}{' …' if len(tasks) > 8 else ''}.")
    bk = backend_kind(app)

    # 1. routes to queues nobody consumes
    if workers:
        consumed = sorted({q for w in workers for q in w.queues})
        consume_line = "; ".join(w.describe() for w in workers)
        subjects = list(tasks)
        if not _native_join(app) and bk not in ("none", "rpc"):
            subjects.append(CHORD_UNLOCK)
        for name in subjects:
            q = routed_queue(app, name)
            if q is None or q in consumed:
                continue
            is_callback = name in callbacks
            if name == CHORD_UNLOCK:
                continue  # chord_unlock follows each callback's queue: reported with the callback below
            role = "chord callback " if is_callback else ("chord header task " if name in headers else "task ")
            ev = [f"route: {explain_route(app, name)}", f"workers: {consume_line}; none consumes {q!r}"]
            if not _native_join(app) and bk not in ("none", "rpc"):
                ev.append(f"backend {bk} has no native join: celery.chord_unlock for a chord with this callback goes to {q!r} too")
            alt = consumed[0] if len(consumed) == 1 else None
            fix = (f"start a worker with `-Q {','.join([q, *consumed])}`"
                   + (f", or route {name.rsplit('.', 1)[-1]} to {alt!r}" if alt else f", or route {name.rsplit('.', 1)[-1]} to one of: {', '.join(consumed)}"))
            findings.append(Finding(
                "route-unconsumed", "error",
                f"{role}{name!r} is routed to queue {q!r}, which none of {len(workers)} declared worker(s) consumes"
                + (": a chord with this callback stays PENDING forever" if is_callback else
                   ": its messages wait forever (a chord using it as callback stays PENDING)"),
                ev, fix, name))
        for pattern in route_patterns_matching_nothing(app):
            findings.append(Finding(
                "route-matches-nothing", "info", f"task_routes entry {pattern!r} matches no registered task",
                [f"registered tasks: {', '.join(tasks[:6])}{' …' if len(tasks) > 6 else ''}"],
                "check the pattern against the names tasks are registered under (`celery inspect registered`)", pattern))

    # 2. results ignored.  Seen in the lab's runs on Celery 5.7: the Redis backend still counts a header part
    # that ignores its result (on_chord_part_return runs anyway), so the chord completes; backends without
    # native join poll stored results (chord_unlock), so it never completes.
    native = _native_join(app)
    if app.conf.task_ignore_result:
        findings.append(Finding(
            "header-ignores-result", "error",
            "task_ignore_result=True: no task stores a result, so "
            + ("a chord's callback result is never stored either: AsyncResult stays PENDING even after it ran" if native
               else "chord_unlock never sees the header ready and retries forever"),
            ["setting: task_ignore_result = True", f"backend: {bk} ({'native join' if native else 'chord_unlock polls results'})"],
            "set task_ignore_result=False (or ignore_result=True only on tasks that are never in a chord)", "task_ignore_result"))
    else:
        for name in tasks:
            if getattr(app.tasks[name], "ignore_result", False):
                is_header = name in headers
                severity = ("error" if is_header else "warning") if not native else "info"
                findings.append(Finding(
                    "header-ignores-result", severity,
                    f"{'chord header task' if is_header else 'task'} {name!r} has ignore_result=True: "
                    + ("chord_unlock never sees it ready, so a chord with it in the header retries forever" if not native
                       else "the Redis backend still counts it in a chord (Celery 5.7), but Celery's docs forbid it"),
                    [f"task: {name} declares ignore_result=True", f"backend: {bk}"],
                    f"remove ignore_result from {name.rsplit('.', 1)[-1]}, or keep it out of chord headers", name))

    # 3. chord keys that expire too soon
    expires, which = chord_expires(app)
    if bk == "redis" and expires:
        declared = []
        if duration:
            declared.append((duration, f"declared header duration {duration:g} s (--duration)"))
        if countdown:
            declared.append((countdown, f"declared countdown {countdown:g} s (--countdown)"))
        for name in tasks:
            t = app.tasks[name]
            for attr in ("time_limit", "soft_time_limit"):
                v = _seconds(getattr(t, attr, None))
                if v:
                    declared.append((v, f"{name} {attr} = {v:g} s"))
        for attr in ("task_time_limit", "task_soft_time_limit"):
            v = _seconds(app.conf.get(attr))
            if v:
                declared.append((v, f"{attr} = {v:g} s"))
        longer = [(v, why) for v, why in declared if v >= expires]
        if longer:
            v, why = max(longer)
            findings.append(Finding(
                "chord-expiry-short", "error",
                f"chord keys expire after {expires:g} s ({which}), sooner than {why}: such a chord never completes, silently",
                [f"setting: {which} = {expires:g} s", f"declared: {why}"],
                f"set result_chord_expires (and result_expires) well above {v:g} s", which))
        elif not declared and expires < SHORT_EXPIRY_S:
            findings.append(Finding(
                "chord-expiry-short", "warning",
                f"chord keys expire after {expires:g} s ({which}): any chord whose header takes longer never completes",
                [f"setting: {which} = {expires:g} s; no task declares a duration (--duration, time_limit)"],
                f"set result_chord_expires above the longest chord header you run (e.g. 3600)", which))

    # 4. backends that cannot run chords
    if bk == "rpc":
        findings.append(Finding("rpc-backend", "error", "the rpc:// result backend refuses chords (NotImplementedError at apply)",
                                [f"setting: result_backend = {app.conf.result_backend!r}"],
                                "use the Redis or database result backend for chords", "result_backend"))
    elif bk == "none":
        findings.append(Finding("rpc-backend", "error", "no result backend is configured, so a chord cannot count its header",
                                ["setting: result_backend is not set"],
                                "set result_backend, e.g. redis://host:6379/1", "result_backend"))

    # 5. eviction of keys with a TTL
    if live_backend and bk == "redis":
        mem = redis_memory_policy(app)
        if mem is None:
            findings.append(Finding("eviction-policy", "info", "the result backend did not answer, so its eviction policy was not checked",
                                    [f"setting: result_backend = {_redact(app.conf.result_backend)}"], "run audit where the backend is reachable"))
        elif mem["maxmemory"] and str(mem["maxmemory_policy"]).startswith(("volatile-", "allkeys-")):
            findings.append(Finding(
                "eviction-policy", "error",
                f"the result backend evicts keys under memory pressure (maxmemory-policy {mem['maxmemory_policy']}); "
                "chord keys carry a TTL, so they can vanish and leave a chord PENDING",
                [f"backend INFO: maxmemory = {mem['maxmemory']}, maxmemory_policy = {mem['maxmemory_policy']}"],
                "set maxmemory-policy noeviction on the result backend (or give it its own Redis)", "maxmemory-policy"))

    # 6. redelivery before a countdown or a long acks_late task is done
    if broker_kind(app) in ("redis", "sqs"):
        vt = _seconds((app.conf.broker_transport_options or {}).get("visibility_timeout")) or 3600.0
        declared = []
        if countdown:
            declared.append((countdown, f"declared countdown {countdown:g} s (--countdown)"))
        for name in tasks:
            t = app.tasks[name]
            if getattr(t, "acks_late", False):
                v = _seconds(getattr(t, "time_limit", None)) or _seconds(app.conf.task_time_limit)
                if v:
                    declared.append((v, f"acks_late task {name} may run {v:g} s (time_limit)"))
                elif duration:
                    declared.append((duration, f"acks_late task {name} within a {duration:g} s header (--duration)"))
        longer = [(v, why) for v, why in declared if v > vt]
        if longer:
            v, why = max(longer)
            findings.append(Finding(
                "visibility-timeout", "error",
                f"visibility_timeout is {vt:g} s, shorter than {why}: the broker redelivers the message, so a part can run twice",
                [f"setting: broker_transport_options.visibility_timeout = {vt:g} s", f"declared: {why}"],
                f"set broker_transport_options={{'visibility_timeout': {int(v * 2)}}} (above the longest countdown or run)",
                "visibility_timeout"))
    return findings


def _redact(url: Any) -> str:
    s = str(url or "")
    if "@" in s and "://" in s:
        scheme, rest = s.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return s


def worst(findings: list[Finding]) -> str | None:
    return max((f.severity for f in findings), key=RANK.__getitem__, default=None)


def flags(findings: list[Finding], at_least: str = "warning") -> bool:
    """True when any finding is at or above ``at_least``: what "audit flags this configuration" means."""
    return any(RANK[f.severity] >= RANK[at_least] for f in findings)


# -- the command ---------------------------------------------------------------------


STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


@click.command("audit")
@click.option("--app", "app_ref", required=True, help="The Celery app, as for `celery -A` (module:attribute).")
@click.option("--worker", "workers", multiple=True,
              help='A worker command line, repeatable: "-Q execution" or "celery -A proj worker -Q a,b". "" is a worker without -Q.')
@click.option("--callback", "callbacks", multiple=True, help="A task used as a chord callback (repeatable).")
@click.option("--header", "headers", multiple=True, help="A task used in chord headers (repeatable).")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="Longest time, in seconds, from sending a chord to its last header part returning.")
@click.option("--countdown", type=click.FloatRange(min=0), default=None, help="Longest countdown/eta, in seconds, your code uses.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--offline", is_flag=True, help="Do not read the result backend's eviction policy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def audit_cmd(app_ref: str, workers: tuple[str, ...], callbacks: tuple[str, ...], headers: tuple[str, ...],
              duration: float | None, countdown: float | None, fail_on: str, offline: bool, as_json: bool) -> None:
    """Predict chord risks from the app's config and the worker command lines, without a live system.

    Exit 0: nothing at or above --fail-on; 1: findings at or above it; 254: bad input."""
    from rich.console import Console

    app = load_app(app_ref)
    decls = [parse_worker(app, w) for w in workers]
    found = audit(app, decls, callbacks=list(callbacks), headers=list(headers), duration=duration,
                  countdown=countdown, live_backend=not offline)
    failing = [f for f in found if RANK[f.severity] >= RANK[fail_on]]
    if as_json:
        print(json.dumps({"app": app_ref, "workers": [asdict(w) for w in decls], "findings": [f.to_dict() for f in found],
                          "fail_on": fail_on, "failed": bool(failing)}, default=repr))
        sys.exit(1 if failing else 0)
    out = Console(highlight=False)
    out.print(f"[bold]audit[/bold] {app_ref}: broker {broker_kind(app)}, backend {backend_kind(app)}, "
              f"{len(user_tasks(app))} task(s)")
    for w in decls:
        out.print(f"  worker {w.describe()}")
    if not decls:
        out.print("  [yellow]no --worker given: routes were not checked against consumers[/yellow]")
    for f in sorted(found, key=lambda f: -RANK[f.severity]):
        out.print(f"\n[{STYLE[f.severity]}]{f.severity}[/] [bold]{f.id}[/bold]  {f.summary}", soft_wrap=True)
        for line in f.evidence:
            out.print(f"   [dim]•[/dim] {line}", soft_wrap=True)
        if f.fix:
            out.print(f"   [green]fix:[/green] {f.fix}", soft_wrap=True)
    counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    out.print(f"\n{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s); "
              + (f"[red]failing[/red] (--fail-on {fail_on})" if failing else f"[green]passing[/green] (--fail-on {fail_on})"))
    sys.exit(1 if failing else 0)
