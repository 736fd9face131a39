"""``lab audit``: predict chord risks from a user's app and worker command lines, with no live system.

    (a user's app + worker command lines [+ a canvas function]) → **findings, in the judge's causes** → exit code for CI

The lab's scenarios show which configurations leave a chord stuck; this module
looks for those configurations statically.  It imports the user's app as a
producer would (``--app`` as for ``celery -A``), parses each ``--worker``
command line with Celery's own ``celery`` and ``celery worker`` commands
(``-A``, ``-Q``, ``-X``), loads the app each worker line names with its own
``-A``, and routes each task with Celery's own router in the app that really
publishes it: header parts (and ``celery.chord_unlock``) in the producer's app,
a chord's callback in the app of the worker that finishes the last part (the
worker publishes it, with its own config), each with the signature's own
options when a canvas function (``--canvas``) gives the real signatures.

Every finding names a check (``id``) and, where the lab's judge has one, the
cause its verdict would give the same chord (``cause``, from
``lab/judge/causes.py``), so a risk audit predicts and a verdict doctor proves
use the same word:

    route-unconsumed        callback-queue-unconsumed, header-queue-unconsumed, chord-unlock-unconsumed
    task-unregistered       callback-unregistered, header-part-unregistered: a consumer whose app lacks the task
    header-ignores-result   chord-unlock-retrying, result-ignored
    chord-expiry-short      chord-size-key-missing: chord keys expire sooner than a declared duration (an error)
    rpc-backend             chord-refused
    eviction-policy         chord-key-evicted (the one thing read live: the backend's INFO memory, when it answers)
    visibility-timeout      message-redelivered
    route-matches-nothing, worker-consumes-nothing   no verdict of their own

Each finding has a severity (info < warning < error), its evidence and its
fix.  ``--fail-on`` sets the severity at which the command exits 1.  No
existing package audits Celery chord configuration, so the checks are the
lab's own; everything they interpret (option parsing, routing, queue
selection, key expiry settings) comes from Celery itself.
"""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import click

from lab.observe.config import (AuditError, backend_kind, broker_kind, chord_expires, default_queues,  # noqa: F401 (the face)
                               explain_route, load_app, native_join, parse_duration, redact, redis_memory_policy,
                               routed_queue, seconds, task_options, user_tasks)

SEVERITIES = ("info", "warning", "error")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
CHORD_UNLOCK = "celery.chord_unlock"
SHORT_EXPIRY_S = 300  # below this, with nothing declared, chord keys are "suspiciously short"
MAX_NODES = 5000  # a canvas walk stops here: a canvas function that builds millions of signatures is not audited whole


@dataclass
class Finding:
    id: str
    severity: str
    summary: str
    evidence: list[str] = field(default_factory=list)
    fix: str = ""
    subject: str | None = None  # the task or setting it is about
    cause: str | None = None  # the judge's cause id for the verdict this risk leads to (lab/judge/causes.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkerDecl:
    """A worker as declared on its command line: the queues it would consume, and the app its own -A names."""

    argv: str
    queues: list[str]
    explicit: bool  # True when -Q was given
    excluded: list[str] = field(default_factory=list)  # its -X
    app_ref: str | None = None  # its own -A; None: the --app one
    app: Any = field(default=None, repr=False, compare=False)  # that app, loaded; None: the --app one

    def describe(self) -> str:
        return f"`{self.argv.strip() or '(no options)'}` consumes {', '.join(self.queues) or 'nothing'}"

    def to_dict(self) -> dict[str, Any]:
        return {"argv": self.argv, "queues": self.queues, "explicit": self.explicit, "excluded": self.excluded,
                "app": self.app_ref}


# -- workers --------------------------------------------------------------------

_TAKES_VALUE = {"-Q", "--queues", "-X", "--exclude-queues", "-A", "--app", "-n", "--hostname", "-c", "--concurrency",
                "-P", "--pool", "-l", "--loglevel", "-b", "--broker"}


def _split_line(argv: str) -> tuple[list[str], list[str]]:
    """``celery [GLOBAL] worker [OPTIONS]`` (or just the options) as (global options, worker options)."""
    try:
        args = shlex.split(argv)
    except ValueError as e:
        raise AuditError(f"--worker {argv!r} is not a valid command line ({e}); quote it as you would in a shell.") from None
    if args and (args[0] == "celery" or args[0].endswith("/celery")):
        args = args[1:]
    elif len(args) >= 3 and args[1:3] == ["-m", "celery"]:  # python -m celery ...
        args = args[3:]
    for i, a in enumerate(args):
        if a == "worker" and (i == 0 or args[i - 1] not in _TAKES_VALUE):
            return args[:i], args[i + 1:]
    return [], args


def _own_app(argv: str, pre: list[str], post: list[str]) -> tuple[str | None, list[str]]:
    """The worker line's own -A (before `worker`, as Celery wants it, or among the options), and the rest."""
    from celery.bin.celery import celery as celery_command

    ref = None
    if pre:
        try:
            ctx = celery_command.make_context("celery", [*pre, "worker"])
        except click.ClickException as e:
            raise AuditError(f"--worker {argv!r}: {e.format_message()}; give it as `celery -A proj worker -Q a,b`.") from None
        ref = ctx.params.get("app")
    rest, i = [], 0
    while i < len(post):  # `-A` after `worker` is refused by Celery 5; a user who writes it means the same app
        a = post[i]
        if a in ("-A", "--app"):
            if i + 1 >= len(post):
                raise AuditError(f"--worker {argv!r}: {a} needs the app, e.g. -A shop.worker:app.")
            ref, i = post[i + 1], i + 2
            continue
        if a.startswith("--app="):
            ref = a.split("=", 1)[1]
        elif a.startswith("-A") and len(a) > 2:
            ref = a[2:]
        else:
            rest.append(a)
        i += 1
    return ref, rest


def parse_worker(app, argv: str, apps: dict[str, Any] | None = None) -> WorkerDecl:
    """A worker command line, parsed with Celery's own `celery` and `celery worker` commands.

    Its own ``-A`` is loaded (``apps`` caches apps by reference) and decides its default queues; without one, the
    worker runs ``app``."""
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker as worker_command

    pre, post = _split_line(argv)
    ref, rest = _own_app(argv, pre, post)
    own = None
    if ref:
        cache = apps if apps is not None else {}
        if ref not in cache:
            cache[ref] = load_app(ref, given_as=f"the -A of --worker {argv!r}")
        own = cache[ref]
    wapp = own if own is not None else app
    try:
        ctx = worker_command.make_context("worker", list(rest), obj=CLIContext(app=wapp, no_color=True, workdir=None, quiet=True))
    except click.ClickException as e:
        raise AuditError(f"--worker {argv!r}: {e.format_message()}; give options as for `celery worker`, e.g. \"-Q execution,celery\".") from None
    include = [q for q in (ctx.params.get("queues") or []) if q]
    exclude = [q for q in (ctx.params.get("exclude_queues") or []) if q]
    queues = include or default_queues(wapp)
    return WorkerDecl(argv, sorted(q for q in dict.fromkeys(queues) if q not in exclude), bool(include),
                      sorted(set(exclude)), ref, None if own is None or own is app else own)


# -- canvases ---------------------------------------------------------------------


def load_canvases(ref: str, app) -> tuple[str, list]:
    """What the user's canvas function (``pkg.module:function``) builds, unsent: a canvas or a list of them."""
    from celery.canvas import Signature
    from celery.utils.imports import symbol_by_name

    if ":" not in ref:
        raise AuditError(f"--canvas {ref!r}: give the function as module:function, e.g. shop.jobs:build_nightly_report.")
    try:
        fn = symbol_by_name(ref)
    except Exception as e:
        raise AuditError(f"--canvas {ref!r} cannot be imported ({type(e).__name__}: {e}); give module:function, importable "
                         "from the directory a worker starts in.") from None
    if not callable(fn):
        raise AuditError(f"--canvas {ref!r} is a {type(fn).__name__}, not a function that builds a canvas.")
    try:
        takes_app = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
                        for p in inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        takes_app = False
    try:
        made = fn(app) if takes_app else fn()
    except Exception as e:
        raise AuditError(f"--canvas {ref!r} raised {type(e).__name__}: {e}; it must build (not send) a canvas.") from None
    canvases = list(made) if isinstance(made, (list, tuple)) else [made]
    for c in canvases:
        if not isinstance(c, Signature):
            raise AuditError(f"--canvas {ref!r} returned a {type(c).__name__}; return a Celery canvas (a chord, chain, group or "
                             "signature), or a list of them, unsent.")
    return ref, canvases


_ROUTING = ("queue", "exchange", "routing_key")


def _routing(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in _ROUTING if options.get(k)}


@dataclass
class Placement:
    """One task of a chord, published by one publisher: the queue its route picks, and why."""

    role: str  # header, callback, chord_unlock, task, task-as-callback
    task: str
    queue: str | None
    by: str  # who publishes it, in words
    why: str
    options: dict[str, Any]
    where: str = ""  # its place in the canvas
    for_task: str | None = None  # chord_unlock: the callback it unlocks


class Routes:
    """Where each task of a chord goes, published by whom: the producer's app routes what the producer sends, a
    worker's own app what that worker sends (a callback, a chain's next step)."""

    def __init__(self, app, app_ref: str, workers: list[WorkerDecl]):
        self.app, self.workers = app, workers
        self.producer = (f"the producer (--app {app_ref})", app)
        self.native = native_join(app) or backend_kind(app) in ("none", "rpc")
        self.placements: list[Placement] = []
        self.durations: list[tuple[float, str]] = []  # declared by the canvas: countdowns, time limits
        self.countdowns: list[tuple[float, str]] = []
        self.nodes = 0

    def wapp(self, w: WorkerDecl):
        return w.app if w.app is not None else self.app

    def worker_publishers(self, queues: set[str] | None = None) -> list[tuple[str, Any]]:
        """The workers that may publish what follows a task in ``queues`` (every worker when None)."""
        return [(f"worker `{w.argv.strip()}`" + (f" (its app {w.app_ref})" if w.app_ref else ""), self.wapp(w))
                for w in self.workers if queues is None or set(w.queues) & queues]

    def place(self, role: str, name: str, options: Mapping[str, Any], publishers, where: str = "",
              for_task: str | None = None) -> set[str]:
        got = set()
        for by, papp in publishers:
            q = routed_queue(papp, name, dict(options))
            why = explain_route(papp, name, dict(options))
            self.placements.append(Placement(role, name, q, by, why, dict(options), where, for_task))
            if q:
                got.add(q)
        return got

    def chord(self, parts: list, body, publishers, inherited: dict, where: str, role: str) -> set[str]:
        finished: set[str] = set()
        for i, p in enumerate(parts):
            finished |= self.walk(p, publishers, inherited, f"{where} header[{i}]", "header")
        if body is None:
            return finished
        from celery.canvas import maybe_signature

        body = maybe_signature(body, app=self.app)
        if not self.native and type(body).__name__ == "Signature":
            # no native join: the chord's publisher sends celery.chord_unlock to the callback's queue, and the worker
            # that runs it publishes the callback (Celery's fallback_chord_unlock)
            unlock_q = self.place("chord_unlock", CHORD_UNLOCK, {**_routing(body.options), **inherited}, publishers,
                                  f"{where} chord_unlock", for_task=body.task)
            pubs = self.worker_publishers(unlock_q)
        else:
            pubs = self.worker_publishers(finished)
        return self.walk(body, pubs, inherited, f"{where} body", "callback" if role != "header" else "header")

    def walk(self, sig, publishers, inherited: dict, where: str, role: str) -> set[str]:
        """Place every task of ``sig``; the queues its last tasks run in (which decide who publishes what follows)."""
        from celery.canvas import Signature, _chain, _chord, group, maybe_signature

        self.nodes += 1
        if self.nodes > MAX_NODES or not publishers:
            return set()
        sig = maybe_signature(sig, app=self.app)
        opts = {**_routing(sig.options), **inherited}  # a chord's or group's own options win over its members' (Celery)
        self._declared(sig, where)
        if isinstance(sig, _chord):
            header = sig.tasks
            parts = list(header.tasks if isinstance(header, (group, _chain)) else
                         [header] if isinstance(header, Signature) else header)
            return self.chord(parts, sig.body, publishers, opts, where or "chord", role)
        if isinstance(sig, group):
            done: set[str] = set()
            for i, t in enumerate(sig.tasks):
                done |= self.walk(t, publishers, opts, f"{where}[{i}]", role)
            return done
        if isinstance(sig, _chain):
            steps, pubs, done, i = list(sig.tasks), publishers, set(), 0
            while i < len(steps):
                step = maybe_signature(steps[i], app=self.app)
                step_opts = opts if i == 0 else {}  # a chain's options go to its first task
                if isinstance(step, group) and i + 1 < len(steps):  # group then more: Celery runs it as a chord
                    done = self.chord(list(step.tasks), steps[i + 1], pubs, step_opts, f"{where} step[{i}]", role)
                    i += 2
                else:
                    done = self.walk(step, pubs, step_opts, f"{where} step[{i}]", role)
                    i += 1
                pubs = self.worker_publishers(done)  # the next step is sent by the worker that ran this one
            return done
        return self.place(role, sig.task, opts, publishers, where)

    def _declared(self, sig, where: str) -> None:
        for key in ("countdown",):
            v = seconds(sig.options.get(key))
            if v:
                self.countdowns.append((v, f"{where or 'canvas'} {getattr(sig, 'task', '')} .set({key}={v:g})"))
        for key in ("time_limit", "soft_time_limit"):
            v = seconds(sig.options.get(key))
            if v:
                self.durations.append((v, f"{where or 'canvas'} {getattr(sig, 'task', '')} .set({key}={v:g})"))


def _route_findings(r: Routes, bk: str) -> list[Finding]:
    """route-unconsumed and task-unregistered, from where every placement goes."""
    findings: list[Finding] = []
    workers = r.workers
    consumed = sorted({q for w in workers for q in w.queues})
    consume_line = "; ".join(w.describe() for w in workers)
    groups: dict[tuple[str, str, str], list[Placement]] = {}
    for p in r.placements:
        if p.queue is not None and p.queue not in consumed:
            groups.setdefault((p.role, p.for_task or p.task, p.queue), []).append(p)
    for (role, name, q), ps in groups.items():
        short = name.rsplit(".", 1)[-1]
        cause = {"header": "header-queue-unconsumed", "chord_unlock": "chord-unlock-unconsumed"}.get(role, "callback-queue-unconsumed")
        what = {
            "callback": f"chord callback {name!r} is routed to queue {q!r}, which none of {len(workers)} declared worker(s) "
                        "consumes: a chord with this callback stays PENDING forever",
            "header": f"chord header task {name!r} is routed to queue {q!r}, which none of {len(workers)} declared worker(s) "
                      "consumes: its parts wait there and the chord never completes",
            "chord_unlock": f"celery.chord_unlock for a chord with callback {name!r} goes to queue {q!r} (the callback's route; "
                            f"the {bk} backend has no native join), which none of {len(workers)} declared worker(s) consumes: "
                            "the callback is never sent",
            "task-as-callback": f"task {name!r}, as a chord callback, is routed to queue {q!r} by a worker's own app, which none "
                                f"of {len(workers)} declared worker(s) consumes: a chord with this callback stays PENDING "
                                "forever when that worker finishes the last part",
        }.get(role, f"task {name!r} is routed to queue {q!r}, which none of {len(workers)} declared worker(s) consumes: "
                    "its messages wait forever (a chord using it as callback stays PENDING)")
        ev = []
        for p in ps:
            at = f" ({p.where.strip()})" if p.where.strip() else ""
            ev.append(f"route{at}, published by {p.by}: {p.why}")
        ev.append(f"workers: {consume_line}; none consumes {q!r}")
        if not r.native and role in ("task", "callback"):
            ev.append(f"backend {bk} has no native join: celery.chord_unlock for a chord with this callback goes to {q!r} too")
        excluders = [w for w in workers if q in w.excluded]
        if excluders:
            # the queue was taken away by -X: the fix is to give it back, not to add a -Q
            ev += [f"worker `{w.argv.strip()}` would consume {q!r}, but its own -X {','.join(w.excluded)} takes it away"
                   for w in excluders]
            fix = "; ".join(f"drop `-X {','.join(w.excluded)}` from worker `{w.argv.strip()}`" if w.excluded == [q]
                            else f"drop {q!r} from the -X of worker `{w.argv.strip()}`" for w in excluders)
            fix += "; the waiting messages then run by themselves"
        else:
            alt = consumed[0] if len(consumed) == 1 else None
            fix = (f"start a worker with `-Q {','.join([q, *consumed])}`"
                   + (f", or route {short} to {alt!r}" if alt else f", or route {short} to one of: {', '.join(consumed)}" if consumed else ""))
            by_workers = sorted({p.by for p in ps if not p.by.startswith("the producer")})
            if by_workers and role in ("callback", "task-as-callback"):
                fix += f"; the route that decides is in the app of {', '.join(by_workers)}: the worker publishes the callback"
        findings.append(Finding("route-unconsumed", "warning" if role == "task-as-callback" else "error", what, ev, fix,
                                name, cause))
    # a consumer whose own app lacks the task discards the message (a split deploy with different code)
    seen = set()
    for p in r.placements:
        if p.role not in ("header", "callback") or p.queue is None or p.queue not in consumed:
            continue
        for w in workers:
            if w.app is None or p.queue not in w.queues or p.task in w.app.tasks or (p.task, w.argv) in seen:
                continue
            seen.add((p.task, w.argv))
            cause = "callback-unregistered" if p.role == "callback" else "header-part-unregistered"
            findings.append(Finding(
                "task-unregistered", "error",
                f"worker `{w.argv.strip()}` consumes {p.queue!r}, where {p.role} task {p.task!r} goes, but its app {w.app_ref} "
                "does not register it: it discards the message and the chord never completes",
                [f"route, published by {p.by}: {p.why}", f"worker: {w.describe()}; {w.app_ref} registers "
                 f"{', '.join(user_tasks(w.app)[:6]) or 'no tasks'}{' …' if len(user_tasks(w.app)) > 6 else ''}"],
                f"make {w.app_ref} import the module that defines {p.task!r} (include=/imports=), or stop it consuming {p.queue!r}",
                p.task, cause))
    return findings


def _worker_findings(workers: list[WorkerDecl]) -> list[Finding]:
    out = []
    for w in workers:
        if not w.queues:
            fix = (f"drop `-X {','.join(w.excluded)}` from it" if w.excluded else "give it -Q with the queues it should consume")
            out.append(Finding("worker-consumes-nothing", "warning",
                               f"worker `{w.argv.strip()}` consumes no queue: it starts, and never runs a task",
                               [f"worker: -Q gives {'nothing' if not w.explicit else 'queues'}; -X {','.join(w.excluded) or '(none)'}"],
                               fix, w.argv))
    return out


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


# -- the audit ---------------------------------------------------------------------


def audit(app, workers: list[WorkerDecl], *, callbacks: list[str] = (), headers: list[str] = (),
          duration: float | None = None, countdown: float | None = None, live_backend: bool = True,
          canvases: list | None = None, app_ref: str = "app") -> list[Finding]:
    """Every finding for ``app`` (the producer's) run by ``workers``; pure except the optional INFO read of the backend.

    ``canvases``: what the user's canvas function built; its signatures decide the roles and their own options."""
    findings: list[Finding] = []
    tasks = user_tasks(app)
    known = set(app.tasks).union(*(set(w.app.tasks) for w in workers if w.app is not None))
    for name in [*callbacks, *headers]:
        if name not in known:
            raise AuditError(f"task {name!r} is not registered in the app; registered tasks: "
                             f"{', '.join(tasks[:8]) or 'none'}{' …' if len(tasks) > 8 else ''}.")
    bk = backend_kind(app)
    r = Routes(app, app_ref, workers)

    # 1. routes to queues nobody consumes, each routed by the app that publishes it
    if canvases:
        for i, c in enumerate(canvases):
            r.walk(c, [r.producer], {}, f"canvas[{i}]" if len(canvases) > 1 else "", "task")
        headers = sorted({p.task for p in r.placements if p.role == "header"})
        callbacks = sorted({p.task for p in r.placements if p.role == "callback"})
    elif workers:
        header_q: set[str] = set()
        for h in headers:
            header_q |= r.place("header", h, {}, [r.producer])
        for cb in callbacks:
            if not r.native:
                pubs = r.worker_publishers(r.place("chord_unlock", CHORD_UNLOCK, {}, [r.producer], for_task=cb))
            else:
                pubs = r.worker_publishers(header_q if headers else None)
            r.place("callback", cb, {}, pubs)
        split = [(by, a) for by, a in r.worker_publishers() if a is not app]
        for name in tasks:
            if name in callbacks or name in headers:
                continue
            r.place("task", name, {}, [r.producer])
            if split and not callbacks:  # a worker with its own app routes a callback its own way
                r.place("task-as-callback", name, {}, split)
    if workers:
        findings += _route_findings(r, bk)
        findings += _worker_findings(workers)
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
            "set task_ignore_result=False (or ignore_result=True only on tasks that are never in a chord)", "task_ignore_result",
            "result-ignored" if native else "chord-unlock-retrying"))
    else:
        for name in sorted(set(tasks) | set(headers) | set(callbacks)):
            task = app.tasks.get(name)
            if not getattr(task, "ignore_result", False):
                continue
            if name in callbacks and name not in headers:
                findings.append(Finding(
                    "header-ignores-result", "warning",
                    f"chord callback {name!r} has ignore_result=True: it runs, but its result is never stored, so the "
                    "chord's AsyncResult reads PENDING forever",
                    [f"task: {name} declares ignore_result=True", f"backend: {bk}"],
                    f"remove ignore_result from {name.rsplit('.', 1)[-1]} if anything reads the chord's result", name,
                    "result-ignored"))
                continue
            is_header = name in headers
            severity = ("error" if is_header else "warning") if not native else "info"
            findings.append(Finding(
                "header-ignores-result", severity,
                f"{'chord header task' if is_header else 'task'} {name!r} has ignore_result=True: "
                + ("chord_unlock never sees it ready, so a chord with it in the header retries forever" if not native
                   else "the Redis backend still counts it in a chord (Celery 5.7), but Celery's docs forbid it"),
                [f"task: {name} declares ignore_result=True", f"backend: {bk}"],
                f"remove ignore_result from {name.rsplit('.', 1)[-1]}, or keep it out of chord headers", name,
                None if native else "chord-unlock-retrying"))

    # 3. chord keys that expire too soon, in every app that writes them: the producer sets .s, each worker .j/.t
    declared: list[tuple[float, str]] = []
    if duration:
        declared.append((duration, f"declared header duration {duration:g} s (--duration)"))
    if countdown:
        declared.append((countdown, f"declared countdown {countdown:g} s (--countdown)"))
    declared += r.durations + r.countdowns
    timed = headers or tasks
    for name in timed:
        t = app.tasks.get(name)
        for attr in ("time_limit", "soft_time_limit"):
            v = seconds(getattr(t, attr, None))
            if v:
                declared.append((v, f"{name} {attr} = {v:g} s"))
    for attr in ("task_time_limit", "task_soft_time_limit"):
        v = seconds(app.conf.get(attr))
        if v:
            declared.append((v, f"{attr} = {v:g} s"))
    writers = [(f"--app {app_ref}", app)] + [(f"worker `{w.argv.strip()}` ({w.app_ref})", w.app) for w in workers if w.app is not None]
    said = set()
    for who, wapp in writers:
        if backend_kind(wapp) != "redis":
            continue
        expires, which = chord_expires(wapp)
        if not expires or (expires, which) in said:
            continue
        said.add((expires, which))
        where = f"{which} = {expires:g} s" + (f" in {who}" if len(writers) > 1 else "")
        longer = [(v, why) for v, why in declared if v >= expires]
        if longer:
            v, why = max(longer)
            findings.append(Finding(
                "chord-expiry-short", "error",
                f"chord keys expire after {expires:g} s ({which}), sooner than {why}: such a chord never completes, silently",
                [f"setting: {where}", f"declared: {why}",
                 "Celery 5.7 keeps chord keys for result_chord_expires, else result_expires"],
                f"set result_chord_expires (and result_expires) well above {v:g} s", which, "chord-size-key-missing"))
        elif not declared and expires < SHORT_EXPIRY_S:
            findings.append(Finding(
                "chord-expiry-short", "warning",
                f"chord keys expire after {expires:g} s ({which}): any chord whose header takes longer never completes",
                [f"setting: {where}; no task declares a duration (--duration 30s, time_limit)"],
                "set result_chord_expires above the longest chord header you run (e.g. 3600); declare it with --duration "
                "to make this an error", which, "chord-size-key-missing"))

    # 4. backends that cannot run chords
    if bk == "rpc":
        findings.append(Finding("rpc-backend", "error", "the rpc:// result backend refuses chords (NotImplementedError at apply)",
                                [f"setting: result_backend = {app.conf.result_backend!r}"],
                                "use the Redis or database result backend for chords", "result_backend", "chord-refused"))
    elif bk == "none":
        findings.append(Finding("rpc-backend", "error", "no result backend is configured, so a chord cannot count its header",
                                ["setting: result_backend is not set"],
                                "set result_backend, e.g. redis://host:6379/1", "result_backend", "chord-refused"))

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
                "set maxmemory-policy noeviction on the result backend (or give it its own Redis)", "maxmemory-policy",
                "chord-key-evicted"))

    # 6. redelivery before a countdown or a long acks_late task is done
    if broker_kind(app) in ("redis", "sqs"):
        vt = seconds((app.conf.broker_transport_options or {}).get("visibility_timeout")) or 3600.0
        late: list[tuple[float, str]] = []
        if countdown:
            late.append((countdown, f"declared countdown {countdown:g} s (--countdown)"))
        late += r.countdowns
        for name in tasks:
            t = app.tasks[name]
            if getattr(t, "acks_late", False):
                v = seconds(getattr(t, "time_limit", None)) or seconds(app.conf.task_time_limit)
                if v:
                    late.append((v, f"acks_late task {name} may run {v:g} s (time_limit)"))
                elif duration:
                    late.append((duration, f"acks_late task {name} within a {duration:g} s header (--duration)"))
        longer = [(v, why) for v, why in late if v > vt]
        if longer:
            v, why = max(longer)
            findings.append(Finding(
                "visibility-timeout", "error",
                f"visibility_timeout is {vt:g} s, shorter than {why}: the broker redelivers the message, so a part can run twice",
                [f"setting: broker_transport_options.visibility_timeout = {vt:g} s", f"declared: {why}"],
                f"set broker_transport_options={{'visibility_timeout': {int(v * 2)}}} (above the longest countdown or run)",
                "visibility_timeout", "message-redelivered"))
    return findings


def worst(findings: list[Finding]) -> str | None:
    return max((f.severity for f in findings), key=RANK.__getitem__, default=None)


def flags(findings: list[Finding], at_least: str = "warning") -> bool:
    """True when any finding is at or above ``at_least``: what "audit flags this configuration" means."""
    return any(RANK[f.severity] >= RANK[at_least] for f in findings)


# -- the command ---------------------------------------------------------------------


STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
