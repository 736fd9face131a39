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

import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from lab.observe.config import (AuditError, backend_kind, broker_kind, chord_expires, default_queues,  # noqa: F401 (the face)
                               explain_route, load_app, native_join, redact, redis_memory_policy, routed_queue, seconds,
                               task_options, user_tasks)

SEVERITIES = ("info", "warning", "error")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
CHORD_UNLOCK = "celery.chord_unlock"
SHORT_EXPIRY_S = 300  # below this, with nothing declared, chord keys are "suspiciously short"


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


# -- workers --------------------------------------------------------------------


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
        if not native_join(app) and bk not in ("none", "rpc"):
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
            if not native_join(app) and bk not in ("none", "rpc"):
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
    native = native_join(app)
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
                v = seconds(getattr(t, attr, None))
                if v:
                    declared.append((v, f"{name} {attr} = {v:g} s"))
        for attr in ("task_time_limit", "task_soft_time_limit"):
            v = seconds(app.conf.get(attr))
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
                                    [f"setting: result_backend = {redact(app.conf.result_backend)}"], "run audit where the backend is reachable"))
        elif mem["maxmemory"] and str(mem["maxmemory_policy"]).startswith(("volatile-", "allkeys-")):
            findings.append(Finding(
                "eviction-policy", "error",
                f"the result backend evicts keys under memory pressure (maxmemory-policy {mem['maxmemory_policy']}); "
                "chord keys carry a TTL, so they can vanish and leave a chord PENDING",
                [f"backend INFO: maxmemory = {mem['maxmemory']}, maxmemory_policy = {mem['maxmemory_policy']}"],
                "set maxmemory-policy noeviction on the result backend (or give it its own Redis)", "maxmemory-policy"))

    # 6. redelivery before a countdown or a long acks_late task is done
    if broker_kind(app) in ("redis", "sqs"):
        vt = seconds((app.conf.broker_transport_options or {}).get("visibility_timeout")) or 3600.0
        declared = []
        if countdown:
            declared.append((countdown, f"declared countdown {countdown:g} s (--countdown)"))
        for name in tasks:
            t = app.tasks[name]
            if getattr(t, "acks_late", False):
                v = seconds(getattr(t, "time_limit", None)) or seconds(app.conf.task_time_limit)
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


def worst(findings: list[Finding]) -> str | None:
    return max((f.severity for f in findings), key=RANK.__getitem__, default=None)


def flags(findings: list[Finding], at_least: str = "warning") -> bool:
    """True when any finding is at or above ``at_least``: what "audit flags this configuration" means."""
    return any(RANK[f.severity] >= RANK[at_least] for f in findings)


# -- the command ---------------------------------------------------------------------


STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


