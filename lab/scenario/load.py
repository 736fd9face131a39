"""Scenarios, checked and loaded: the first step of the flow.

    **scenario** → topology up → chords sent → observations → verdict with proof → record → RESULTS.md

``validate`` checks a scenario whole, before any process starts: every problem
is one sentence that names the field, shows the value and says what is allowed.
``load`` finds a scenario by name (``scenarios/``) or path; a script binds one
``Scenario`` to the module-level name ``scenario``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import keyword
import os
import re
import sys
from pathlib import Path
from typing import Any

from lab.scenario.model import (BACKENDS, BROKERS, FAULT_KINDS, FAULT_TRIGGERS, PARTITION_SIDES, POOLS, SCENARIOS_DIR, VERDICTS, Chord,
                                Fault, Scenario, ScenarioError, Worker)


# -- validation -------------------------------------------------------------

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_QUEUE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_REDIS_OPTION = re.compile(r"^-{0,2}[a-z][a-z0-9-]*$")
MAX_SECONDS = 600  # a part's sleep, a fault's delay or length: far beyond any scenario's need

# What each fault kind reads from Fault.options (lab/drive/nemesis.py, lab/runtime/docker/containers.py), with a check and
# the words for what is allowed; any other option would be ignored, so it is refused as a typo.
_SECONDS = (lambda v: _is_number(v) and 0 <= v <= MAX_SECONDS, f"give seconds from 0 to {MAX_SECONDS}")
_BOOL = (lambda v: isinstance(v, bool), "give True or False")
_DB = (lambda v: _is_whole(v) and 0 <= v <= 15, "give a Redis database number from 0 to 15")
_POSITIVE = (lambda v: _is_whole(v) and v >= 1, "give a whole number of at least 1")
FAULT_OPTIONS: dict[str, dict[str, tuple[Any, str]]] = {
    "kill-worker": {"restart": _BOOL, "restart_after": _SECONDS},
    "kill-pool-child": {},
    "pause-worker": {"for": _SECONDS},
    "restart-redis": {"persist": _BOOL},
    "client-pause": {"for": _SECONDS, "mode": (lambda v: v in ("all", "write"), "allowed: all, write"),
                     "command": (lambda v: v == "debug-sleep", "allowed: debug-sleep (DEBUG SLEEP instead of CLIENT PAUSE)")},
    "flushdb": {"db": _DB},
    "fill-redis": {"db": _DB, "chunk": _POSITIVE, "limit": _POSITIVE, "for": _SECONDS, "ttl": _SECONDS,
                   "prefix": (lambda v: isinstance(v, str) and v != "", "give a key prefix, e.g. 'lab:fill:'")},
    "partition-worker": {"from": (lambda v: v in PARTITION_SIDES, "allowed: broker, backend, redis (both)"),
                         "for": _SECONDS},
    "pause-container": {"for": _SECONDS},
    "kill-container": {"restart": _BOOL, "restart_after": _SECONDS},
}
WORKER_FAULTS = ("kill-worker", "kill-pool-child", "pause-worker", "partition-worker")
CONTAINER_FAULTS = ("pause-container", "kill-container")  # a worker's container, or 'redis'


def _is_whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # v == v: not NaN


def _short(value: Any, limit: int = 160) -> str:
    """A value as the error shows it: its repr, on one line and short, whatever the object does."""
    try:
        text = repr(value)
    except Exception:  # a user's object whose __repr__ raises
        text = f"<a {type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unsendable(value: Any) -> Any:
    """The first piece of ``value`` that cannot travel as data, or None when all of it can.

    The one place that says what a JSON message or a JSON app spec can carry:
    strings, numbers, booleans, None, lists, tuples, and dicts with string keys.
    Chord arguments and options travel in JSON messages.  A Celery config given
    in a scenario file reaches the workers by import (lab/runtime/celery_app.py),
    so any value goes there; a scenario with no file (built in code) has only
    this way in.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if value == value and value not in (float("inf"), float("-inf")) else value
    if isinstance(value, (list, tuple)):
        return next((bad for bad in map(unsendable, value) if bad is not None), None)
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return k
            bad = unsendable(v)
            if bad is not None:
                return bad
        return None
    return value


# The check for a Celery setting, by the type Celery declares for it (celery.app.defaults); Celery
# itself takes a list where it declares a tuple or a dict (task_queues), so containers are one kind.
_SETTING_TYPES: dict[str, tuple[Any, str]] = {
    "bool": (lambda v: isinstance(v, bool), "give True or False"),
    "int": (_is_whole, "give a whole number"),
    "float": (_is_number, "give a number (seconds, for a time)"),
    "string": (lambda v: isinstance(v, str), "give a string"),
    "dict": (lambda v: isinstance(v, (dict, list, tuple)), "give a dict"),
    "list": (lambda v: isinstance(v, (list, tuple)), "give a list"),
    "tuple": (lambda v: isinstance(v, (list, tuple, str)), "give a tuple"),
}


def _celery_settings() -> dict[str, Any]:
    """Celery's own settings, by lowercase name, with their declared types (imported only when a config is checked)."""
    from celery.app.defaults import NAMESPACES, flatten

    return {key: opt for key, opt in flatten(NAMESPACES)}


def _route_ok(route: Any) -> bool:
    """A task_routes entry as Celery takes it: a dict of task name, glob or compiled regex to a route dict or queue
    name, a router's import path, or a router function (``celery.app.routes.prepare``)."""
    if isinstance(route, str) or callable(route) and not isinstance(route, type):
        return True
    return isinstance(route, dict) and all(isinstance(v, (dict, str)) for v in route.values()) \
        and all(isinstance(k, str) or isinstance(k, re.Pattern) for k in route)


def _check_config(where: str, fld: str, config: Any, *, by_import: bool = False) -> None:
    """A Celery config (the scenario's, or a worker's overrides): names, values the workers can receive, types.

    ``by_import``: the scenario comes from a file, which every worker imports, so any object is receivable."""
    if not isinstance(config, dict) or not all(isinstance(k, str) and k.isidentifier() for k in config):
        raise ScenarioError(f"{where}: {fld} is {_short(config)}; give a dict of Celery setting names "
                            "(lowercase, e.g. 'task_routes') to values.")
    settings = _celery_settings() if config else {}
    for key, value in config.items():
        at = f"{fld}[{key!r}]"
        bad = None if by_import else unsendable(value)
        if bad is not None:
            kind = type(bad).__name__ if type(bad).__module__ == "builtins" else f"{type(bad).__module__}.{type(bad).__qualname__}"
            what = f"a {kind}" if bad is value else f"it holds {_short(bad, 60)}, a {kind}"
            raise ScenarioError(f"{where}: {at} is {_short(value)} ({what}), which cannot be sent to the workers: a "
                                "scenario built in code has its config sent as JSON; put it in a scenario file (the workers import "
                                "that), or give strings, numbers, booleans, lists and dicts with string keys.")
        if key == "task_routes":
            if value is not None and not (_route_ok(value) or isinstance(value, (list, tuple)) and all(map(_route_ok, value))):
                raise ScenarioError(f"{where}: {at} is {_short(value)}; give a dict of task name (glob, or re.compile(...)) "
                                    "to a route such as {'queue': 'reports'}, a router function or its import path, or a list of these.")
            continue
        opt = settings.get(key)
        check = _SETTING_TYPES.get(getattr(opt, "type", None))
        if check and value is not None and not check[0](value) and not (by_import and _celery_object(value)):
            article = "an" if opt.type[0] in "aeiou" else "a"
            raise ScenarioError(f"{where}: {at} is {_short(value)}; Celery's {key} takes {article} {opt.type}: {check[1]}.")


def _celery_object(value: Any) -> bool:
    """A kombu or Celery object where Celery's declared type says dict or list (``task_queues=(Queue(...),)``)."""
    items = value if isinstance(value, (list, tuple, set)) else [value]
    return all(type(v).__module__.split(".")[0] in ("kombu", "celery") for v in items)


_APP_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.]*)?$")


def validate(s: Any, *, from_file: bool = False) -> Scenario:
    """Check every field; raise ScenarioError with one sentence on the first problem.

    Every field of Scenario, Worker, Chord and Fault is checked here, so a bad
    value is reported at load time, before any process starts.  ``from_file``:
    the scenario was loaded from a file, which the workers import (any config
    object reaches them).
    """
    if not isinstance(s, Scenario):
        raise ScenarioError(f"expected a lab.Scenario object, got {type(s).__name__}: build one with lab.Scenario(...)")
    where = f"scenario {_short(s.name, 60)}"

    def bad(fld: str, value: Any, allowed: str) -> ScenarioError:
        return ScenarioError(f"{where}: {fld} is {_short(value)}; {allowed}.")

    if not isinstance(s.name, str) or not _NAME.match(s.name):
        raise bad("name", s.name, "use lowercase letters, digits and dashes")
    if not isinstance(s.description, str):
        raise bad("description", s.description, "give one sentence saying what the scenario sets up")
    if s.expect not in VERDICTS:
        raise bad("expect", s.expect, f"allowed: {', '.join(VERDICTS)}")
    if s.expect_cause is not None and not (isinstance(s.expect_cause, str) and _NAME.match(s.expect_cause)):
        raise bad("expect_cause", s.expect_cause, "give None or a cause name, e.g. 'callback-queue-unconsumed'")
    for fld in ("mechanism", "source"):
        if getattr(s, fld) is not None and not isinstance(getattr(s, fld), str):
            raise bad(fld, getattr(s, fld), "give None or a string")
    if s.fix is not None and not (isinstance(s.fix, str) and _NAME.match(s.fix)):
        raise bad("fix", s.fix, "give None or the name of the scenario that applies the fix")
    if s.broker not in BROKERS:
        raise bad("broker", s.broker, f"allowed: {', '.join(BROKERS)}")
    if s.backend not in BACKENDS:
        raise bad("backend", s.backend, f"allowed: {', '.join(BACKENDS)}")
    if not isinstance(s.redis_options, dict) or not all(
        isinstance(k, str) and _REDIS_OPTION.match(k) and (isinstance(v, str) or _is_whole(v))
        for k, v in s.redis_options.items()
    ):
        raise bad("redis_options", s.redis_options, "give a dict of redis-server option names to values, e.g. {'maxmemory': '2mb'}")
    _check_config(where, "config", s.config, by_import=from_file)
    _check_modules(where, "tasks", s.tasks)
    if s.canvas is not None and not callable(s.canvas):
        raise bad("canvas", s.canvas, "give a function canvas(app) that returns a Celery canvas (or a list of them)")
    if s.canvas is not None and s.chords != (Chord(),):
        raise bad("chords", s.chords, "a scenario with a canvas sends the canvas: leave chords out")
    if s.app is not None and not (isinstance(s.app, str) and _APP_REF.match(s.app)):
        raise bad("app", s.app, "give None or the app as `celery -A` takes it, e.g. 'shop.worker:app'")
    if not isinstance(s.stand_ins, bool) or s.stand_ins and s.app is None:
        raise bad("stand_ins", s.stand_ins, "give True or False; stand-ins replace the task bodies of a user's app, so give app too")
    if s.read_after is not None and not (_is_number(s.read_after) and 0 < s.read_after <= MAX_SECONDS):
        raise bad("read_after", s.read_after, f"give None or seconds after sending (up to {MAX_SECONDS}) to hold the final read")
    if not isinstance(s.workers, tuple) or not s.workers:
        raise bad("workers", s.workers, "give a tuple of at least one lab.Worker")
    names: set[str] = set()
    for i, w in enumerate(s.workers):
        fw = f"workers[{i}]"
        if not isinstance(w, Worker):
            raise bad(fw, w, "each worker must be a lab.Worker")
        if not isinstance(w.name, str) or not re.match(r"^[A-Za-z0-9_-]+$", w.name):
            raise bad(f"{fw}.name", w.name, "use letters, digits, dashes and underscores")
        if w.name in names:
            raise bad(f"{fw}.name", w.name, "worker names must be unique")
        names.add(w.name)
        if w.queues is not None and (
            not isinstance(w.queues, tuple) or not w.queues or not all(isinstance(q, str) and _QUEUE.match(q) for q in w.queues)
        ):
            raise bad(f"{fw}.queues", w.queues, "give None (no -Q) or a non-empty tuple of queue names")
        if not _is_whole(w.concurrency) or not 1 <= w.concurrency <= 16:
            raise bad(f"{fw}.concurrency", w.concurrency, "give a whole number from 1 to 16")
        if w.pool not in POOLS:
            raise bad(f"{fw}.pool", w.pool, f"allowed: {', '.join(POOLS)}")
        if w.tasks is not None:
            _check_modules(where, f"{fw}.tasks", w.tasks)
        _check_config(where, f"{fw}.config", w.config, by_import=from_file)
        if w.app is not None and not (isinstance(w.app, str) and _APP_REF.match(w.app)):
            raise bad(f"{fw}.app", w.app, "give None or the app as `celery -A` takes it, e.g. 'shop.worker:app'")
        _check_worker_argv(where, fw, w)
    if not isinstance(s.chords, tuple) or not s.chords:
        raise bad("chords", s.chords, "give a tuple of at least one lab.Chord")
    for i, c in enumerate(s.chords):
        fc = f"chords[{i}]"
        if not isinstance(c, Chord):
            raise bad(fc, c, "each entry must be a lab.Chord")
        if not _is_whole(c.header) or not 0 <= c.header <= 1000:
            raise bad(f"{fc}.header", c.header, "give a whole number of header parts from 0 to 1000")
        if not _is_whole(c.count) or not 1 <= c.count <= 1000:
            raise bad(f"{fc}.count", c.count, "give a whole number of chords from 1 to 1000")
        if isinstance(c.duration, tuple):
            if len(c.duration) != c.header or not all(_is_number(d) and 0 <= d <= MAX_SECONDS for d in c.duration):
                raise bad(f"{fc}.duration", c.duration, f"a tuple needs one duration (0 to {MAX_SECONDS} s) per header part ({c.header})")
        elif not _is_number(c.duration) or not 0 <= c.duration <= MAX_SECONDS:
            raise bad(f"{fc}.duration", c.duration, f"give seconds from 0 to {MAX_SECONDS}, or a tuple with one per part")
        for fld in ("header_task", "callback"):
            v = getattr(c, fld)
            if not isinstance(v, str) or not v.strip():
                raise bad(f"{fc}.{fld}", v, "give a registered task name")
        if not isinstance(c.callback_args, tuple) or unsendable(c.callback_args) is not None:
            raise bad(f"{fc}.callback_args", c.callback_args, "give a tuple of arguments a JSON message can carry "
                      "(strings, numbers, booleans, lists, dicts with string keys)")
        for fld in ("callback_options", "part_options"):
            opts = getattr(c, fld)
            if not isinstance(opts, dict) or not all(isinstance(k, str) and k.isidentifier() for k in opts) \
                    or unsendable(opts) is not None:
                raise bad(f"{fc}.{fld}", opts, "give a dict of signature options a JSON message can carry, e.g. {'queue': 'reports'}")
            if "queue" in opts and not (isinstance(opts["queue"], str) and _QUEUE.match(opts["queue"])):
                raise bad(f"{fc}.{fld}['queue']", opts["queue"], "give a queue name")
            for key in ("countdown", "expires"):
                if key in opts and not (_is_number(opts[key]) and opts[key] >= 0):
                    raise bad(f"{fc}.{fld}[{key!r}]", opts[key], "give seconds, 0 or more")
        if not isinstance(c.raising_parts, tuple) or not all(_is_whole(p) and 0 <= p < max(c.header, 1) for p in c.raising_parts):
            raise bad(f"{fc}.raising_parts", c.raising_parts, f"give indexes of header parts, 0 to {c.header - 1}")
        if not _is_whole(c.chained_group) or not 0 <= c.chained_group < max(c.header, 1):
            raise bad(f"{fc}.chained_group", c.chained_group, f"give 0 (a flat header) or how many parts (1 to {c.header - 1}) run as a group after part 0")
    if not isinstance(s.faults, tuple):
        raise bad("faults", s.faults, "give a tuple of lab.Fault (or leave it out)")
    for i, f in enumerate(s.faults):
        ff = f"faults[{i}]"
        if not isinstance(f, Fault):
            raise bad(ff, f, "each fault must be a lab.Fault")
        if f.kind not in FAULT_KINDS:
            raise bad(f"{ff}.kind", f.kind, f"allowed: {', '.join(FAULT_KINDS)}")
        if f.trigger not in FAULT_TRIGGERS:
            raise bad(f"{ff}.trigger", f.trigger, f"allowed: {', '.join(FAULT_TRIGGERS)}")
        if not _is_number(f.delay) or not 0 <= f.delay <= MAX_SECONDS:
            raise bad(f"{ff}.delay", f.delay, f"give seconds after the trigger, from 0 to {MAX_SECONDS}")
        if f.kind in WORKER_FAULTS and f.target not in names:
            raise bad(f"{ff}.target", f.target, f"name one of the workers: {', '.join(sorted(names))}")
        if f.kind in CONTAINER_FAULTS and f.target not in names | {"redis"}:
            raise bad(f"{ff}.target", f.target, f"name one of the workers ({', '.join(sorted(names))}) or 'redis'")
        if f.kind not in WORKER_FAULTS + CONTAINER_FAULTS and f.target is not None:
            raise bad(f"{ff}.target", f.target, f"{f.kind} acts on redis-server and takes no target: leave it out")
        allowed = FAULT_OPTIONS[f.kind]
        if not isinstance(f.options, dict):
            raise bad(f"{ff}.options", f.options, f"give a dict; {f.kind} takes: {', '.join(allowed) or 'no options'}")
        for key, value in f.options.items():
            if key not in allowed:
                raise bad(f"{ff}.options", f.options, f"{f.kind} takes no option {_short(key, 40)}; "
                          f"it takes: {', '.join(allowed) or 'no options'}")
            ok, words = allowed[key]
            if not ok(value):
                raise bad(f"{ff}.options[{key!r}]", value, words)
    for fld in ("settle", "quiet"):
        v = getattr(s, fld)
        if not _is_number(v) or not 0 < v <= 300:
            raise bad(fld, v, "give seconds from 0 to 300")
    return s


# Worker arguments the lab owns: it names each worker, picks its app, keeps it in the foreground and reads its log.
_OWNED_ARGS = {"hostname": "the lab names each worker (Worker.name)", "detach": "the lab owns the process: it stays in the foreground",
               "logfile": "the lab reads the worker's log from its own file", "pidfile": "the lab owns the process",
               "uid": "the lab owns the process", "gid": "the lab owns the process", "beat": "beat is not a chord worker's job"}


def _check_worker_argv(where: str, fw: str, w: Worker) -> None:
    """``Worker.argv`` parses as ``celery worker`` arguments, with Celery's own command, and agrees with the fields."""
    if not isinstance(w.argv, str):
        raise ScenarioError(f"{where}: {fw}.argv is {_short(w.argv)}; give the extra `celery worker` arguments as one string, "
                            "e.g. \"-X execution --prefetch-multiplier 1\".")
    if not w.argv.strip():
        return
    import shlex

    try:
        args = shlex.split(w.argv)
    except ValueError as e:
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, not a command line ({e}); quote it as in a shell.") from None
    if args and args[0] in ("celery", "worker") or "-A" in args or "--app" in args or any(a.startswith("--app=") for a in args):
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, which gives the program or its app; give only the options that follow "
                            "`celery -A app worker`, e.g. \"-X execution\".")
    import click
    from celery import Celery
    from celery.bin.base import CLIContext
    from celery.bin.worker import worker as worker_command
    from click.core import ParameterSource

    app = Celery("lab-validate", set_as_current=False)
    try:
        ctx = worker_command.make_context("worker", list(args), obj=CLIContext(app=app, no_color=True, workdir=None, quiet=True))
    except click.ClickException as e:
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}: {e.format_message()} Give options as for `celery worker`.") from None
    finally:
        app.close()
    given = {n for n in ctx.params if ctx.get_parameter_source(n) == ParameterSource.COMMANDLINE}
    for name, why in _OWNED_ARGS.items():
        if name in given:
            raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, which sets --{name.replace('_', '-')}; drop it: {why}.")
    if "queues" in given and w.queues is not None:
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, which gives -Q, and so does {fw}.queues={w.queues!r}; give the queues once.")
    if "concurrency" in given and ctx.params.get("concurrency") != w.concurrency:
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, which gives -c {ctx.params.get('concurrency')}, but {fw}.concurrency is "
                            f"{w.concurrency}; give it once, as concurrency={ctx.params.get('concurrency')}.")
    if "pool" in given:
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, which gives -P; give the pool once, as {fw}.pool (one of {', '.join(POOLS)}).")
    if "loglevel" in given:
        raise ScenarioError(f"{where}: {fw}.argv is {w.argv!r}, which sets the log level; drop it: the lab reads the worker's INFO lines as evidence.")


def _check_modules(where: str, fld: str, mods: Any) -> None:
    ok = isinstance(mods, tuple) and mods and all(
        isinstance(m, str) and all(p.isidentifier() and not keyword.iskeyword(p) for p in m.split(".")) for m in mods
    )
    if not ok:
        raise ScenarioError(f"{where}: {fld} is {_short(mods)}; give a tuple of importable module names, e.g. ('lab.apps.basic',).")


# -- loading ----------------------------------------------------------------


def scenario_paths() -> dict[str, Path]:
    """Every scenario shipped in ``scenarios/``, by name (file stem with dashes)."""
    return {p.stem.replace("_", "-"): p for p in sorted(SCENARIOS_DIR.glob("*.py")) if not p.name.startswith("_")}


def finding_path(ref: str) -> Path | None:
    """A saved fuzzing finding's scenario file, by its id (``early-order-168d50``), in ``findings/`` (or
    ``$LAB_FINDINGS``); None if there is none."""
    folder = Path(os.environ.get("LAB_FINDINGS") or SCENARIOS_DIR.parent / "findings")
    path = folder / f"{ref.replace('-', '_')}.py"
    return path if path.is_file() else None


def load(ref: str) -> Scenario:
    """Load a scenario by name (``split-queues``), by a finding's id, or by path to a script."""
    path = Path(ref)
    if ref.endswith(".py") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"no scenario file at {ref!r}: give a path to a .py scenario script, or a name from `python -m lab list`.")
    elif ref not in scenario_paths() and finding_path(ref) is not None:
        path = finding_path(ref)
    else:
        known = scenario_paths()
        if ref not in known:
            near = [n for n in known if ref.split("-")[0] in n][:3]
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ScenarioError(f"unknown scenario {ref!r}{hint}: `python -m lab list` shows every scenario, or give a path to a script.")
        path = known[ref]
    return load_file(path)


def load_file(path: Path) -> Scenario:
    path = path.resolve()
    mod_name = f"_lab_scenario_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"{path} is not a Python file: a scenario script ends in .py.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # task modules and apps beside the script, as the workers will see them
    try:
        try:
            spec.loader.exec_module(module)
        except ScenarioError as e:
            raise ScenarioError(f"{path.name}: {e}") from None
        except SyntaxError as e:
            raise ScenarioError(f"{path.name} line {e.lineno}: syntax error ({e.msg}); fix the script.") from None
        except (Exception, SystemExit) as e:  # a user's script can raise anything; report it in one sentence
            raise ScenarioError(f"{path.name} raised {type(e).__name__}: {e}; fix the script.") from None
        s = getattr(module, "scenario", None)
        if s is None:
            raise ScenarioError(f"{path.name} defines no `scenario`: bind a lab.Scenario(...) to the name `scenario`.")
        try:
            s = validate(s, from_file=True)
            _check_importable(path, s)
        except ScenarioError:
            raise
        except Exception as e:  # a field of a type validate() does not expect (a list where a tuple goes...)
            raise ScenarioError(f"{path.name}: a field has a value of the wrong type ({type(e).__name__}: {e}); "
                                "compare each field with lab.Scenario, lab.Worker, lab.Chord and lab.Fault.") from None
    finally:
        sys.path.remove(str(path.parent))
    return dataclasses.replace(s, source=str(path))


def _check_importable(path: Path, s: Scenario) -> None:
    """Every task module the scenario names can be found, from the project or beside the script: a missing one
    is one sentence here, not a worker that dies at boot and a producer that raises ModuleNotFoundError."""
    for module in dict.fromkeys([*s.tasks, *(m for w in s.workers for m in (w.tasks or ()))]):
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):  # a parent package that is missing
            found = None
        if found is None:
            raise ScenarioError(f"{path.name}: task module {module!r} is not importable; put {module.replace('.', '/')}.py "
                                f"beside the script (in {path.parent}) or install its package.")
    for i, w in enumerate(s.workers):
        module = (w.app or "").split(":")[0]
        try:
            found = importlib.util.find_spec(module) if module else True
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise ScenarioError(f"{path.name}: workers[{i}].app is {w.app!r}, but module {module!r} is not importable; put its "
                                f"package beside the script (in {path.parent}) or install it.")


def from_dict(d: dict[str, Any]) -> Scenario:
    """Rebuild a scenario from ``Scenario.to_dict()`` (a stored run, a saved finding)."""
    d = dict(d)
    d["workers"] = tuple(
        Worker(**{**w, "queues": tuple(w["queues"]) if w.get("queues") else None,
                  "tasks": tuple(w["tasks"]) if w.get("tasks") else None})
        for w in d["workers"]
    )
    d["chords"] = tuple(
        Chord(**{**c, "duration": tuple(c["duration"]) if isinstance(c.get("duration"), list) else c.get("duration", 0.0),
                 "callback_args": tuple(c.get("callback_args", ())), "raising_parts": tuple(c.get("raising_parts", ()))})
        for c in d["chords"]
    )
    d["faults"] = tuple(Fault(**f) for f in d.get("faults", ()))
    d["tasks"] = tuple(d.get("tasks", ("lab.apps.basic",)))
    d["canvas"] = None  # stored as the function's name: the scenario file is what sends it again
    known = {f.name for f in dataclasses.fields(Scenario)}
    return validate(Scenario(**{k: v for k, v in d.items() if k in known}))
