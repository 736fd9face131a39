"""A user's own project in the lab: their app, their worker command lines, their canvas, the lab's redis-server.

    **a user's app + worker lines + canvas function** → scenario → topology up → chords sent → verdict with proof

``lab run --app shop.worker:app --worker "celery -A shop.worker:app worker -Q celery" --canvas shop.jobs:nightly``
becomes a ``Scenario`` like any other: the producer runs the user's app (their
config and routes), each ``--worker`` line is a worker running the app its own
``-A`` names (the ``--app`` one when it names none) with every other argument
passed through as typed, and the chords are what the canvas function builds,
sent exactly as built.  Only the broker and backend URLs are the lab's own.
``--stand-ins`` replaces every task body with a stand-in of the same signature
(``runtime.celery_app.put_stand_ins``), for tasks that need the user's database.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from lab.scenario import Scenario, ScenarioError, Worker, validate

# Worker options the lab owns (it names each worker, reads its log at INFO, keeps it in the foreground),
# dropped from a user's line with a note; and options that map onto Worker's own fields.
_DROPPED = {"-n": True, "--hostname": True, "-l": True, "--loglevel": True, "-f": True, "--logfile": True,
            "--pidfile": True, "--detach": False, "-D": False}
_FIELDS = {"-Q": "queues", "--queues": "queues", "-c": "concurrency", "--concurrency": "concurrency",
           "-P": "pool", "--pool": "pool", "-A": "app", "--app": "app"}


def parse_worker_line(line: str, default_app: str | None) -> tuple[dict[str, Any], list[str]]:
    """A ``celery -A app worker ...`` line as Worker fields, and the options the lab dropped (with why)."""
    try:
        tokens = shlex.split(line)
    except ValueError as e:
        raise ScenarioError(f"--worker {line!r} is not a command line ({e}); quote it as in a shell.") from None
    fields: dict[str, Any] = {"app": default_app}
    rest: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("celery", "worker") or tok.endswith("/celery"):
            i += 1
            continue
        name, _, inline = tok.partition("=") if tok.startswith("--") else (tok[:2], "", tok[2:]) if len(tok) > 2 and tok[1] != "-" \
            and tok[:2] in _FIELDS | _DROPPED else (tok, "", "")
        if name in _FIELDS or name in _DROPPED:
            takes_value = name in _FIELDS or _DROPPED[name]
            value = inline or (tokens[i + 1] if takes_value and not inline and i + 1 < len(tokens) else "")
            i += 1 + (1 if takes_value and not inline else 0)
            if name in _DROPPED:
                dropped.append(f"{name}{' ' + value if value else ''}")
            else:
                fields[_FIELDS[name]] = value
            continue
        rest.append(tok)
        i += 1
    if not fields.get("app"):
        raise ScenarioError(f"--worker {line!r} names no app: give -A as on its command line, or --app for all workers.")
    if fields.get("queues"):
        fields["queues"] = tuple(q for q in fields["queues"].split(",") if q)
    if "concurrency" in fields:
        if not fields["concurrency"].isdigit():
            raise ScenarioError(f"--worker {line!r}: -c {fields['concurrency']!r} is not a number of processes.")
        fields["concurrency"] = int(fields["concurrency"])
    fields["argv"] = shlex.join(rest)
    return fields, dropped


def import_canvas(ref: str):
    """The user's canvas function from ``pkg.module:function``, imported from the current directory, as `celery -A` does."""
    from celery.utils.imports import symbol_by_name

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if ":" not in ref:
        raise ScenarioError(f"--canvas {ref!r}: give the function as module:function, e.g. shop.jobs:build_nightly_report.")
    try:
        fn = symbol_by_name(ref)
    except (ImportError, AttributeError) as e:
        raise ScenarioError(f"cannot import the canvas function {ref!r} ({type(e).__name__}: {e}); run from the folder "
                            "a worker starts in, or fix the path.") from None
    if not callable(fn):
        raise ScenarioError(f"--canvas {ref!r} is a {type(fn).__name__}, not a function that builds a chord.")
    return fn


def scenario_for_app(app: str, worker_lines: list[str], canvas: str, *, stand_ins: bool = False,
                     expect: str = "completed") -> tuple[Scenario, list[str]]:
    """The scenario of a user's project, and the notes on what the lab changed in their worker lines."""
    if os.getcwd() not in sys.path:  # the user's package, from where their workers start
        sys.path.insert(0, os.getcwd())
    notes: list[str] = []
    workers = []
    for i, line in enumerate(worker_lines or [""]):
        fields, dropped = parse_worker_line(line, app)
        if dropped:
            notes.append(f"worker w{i + 1}: dropped {', '.join(dropped)} (the lab names its workers, reads their INFO log "
                         "and keeps them in the foreground)")
        own_app = fields.pop("app")
        workers.append(Worker(f"w{i + 1}", app=None if own_app == app else own_app, **fields))
    fn = import_canvas(canvas)
    s = Scenario(name="user-app", description=f"your project: {app}, chords built by {canvas}", expect=expect,
                 workers=tuple(workers), app=app, stand_ins=stand_ins, canvas=fn)
    return validate(s), notes


def replay_args(app: str, worker_lines: list[str], canvas: str, stand_ins: bool) -> str:
    """The same run as `lab run` arguments (the record's replay command)."""
    return " ".join(["--app", shlex.quote(app), *[f"--worker {shlex.quote(w)}" for w in worker_lines],
                     "--canvas", shlex.quote(canvas), *(["--stand-ins"] if stand_ins else [])])
