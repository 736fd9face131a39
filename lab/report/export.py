"""A finding or a scenario as a standalone reproducer in plain Celery, for an upstream report.

    scenario / finding → **export** (plain Celery files: no lab) → an upstream bug report

``lab export early-order-168d50 --to upstream-repro/`` writes a folder that needs Celery and a
redis-server, nothing of the lab:

- ``repro_app.py``: the Celery app with the config the lab ran it with (the scenario's config on the
  lab's defaults), and one ``task_prerun`` handler that notes each task's arguments in Redis, so that
  ``repro.py`` can show what a callback was given (the lab's ledger does the same from its signals);
- the task code, copied from ``lab/apps`` as the workers ran it (it is plain Celery already), and one
  ``tasks*.py`` per deploy (``celery -A tasks worker``: the app and the code that worker runs);
- ``repro.py``: the canvas exactly as the lab sent it (the same calls, the same construction path),
  sent, then each final task's state, result and arguments read back with a bound and compared with
  what a correct Celery gives (the oracle, written out); exit 1 when the symptom shows;
- ``run.sh``: redis-server, the worker command lines exactly as the lab ran them, ``repro.py``; and
  ``README.md`` with the versions, what is expected and what happens, and ``requirements.txt``.

What cannot be written as plain Celery is refused in one sentence: faults (they need the lab's
nemesis), brokers and backends other than Redis, and task code other than ``lab/apps``'s.
"""

from __future__ import annotations

import dataclasses
import json
import pprint
import random
import re
import shlex
from pathlib import Path
from typing import Any

from lab import records
from lab.errors import LabError
from lab.scenario import Scenario, load, load_file
from lab.scenario.load import finding_path
from lab.scenario.model import node_config

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"

# The lab's task modules (plain Celery) and the task names each registers.
TASK_MODULES = {
    "lab.apps.basic": ("basic", ["lab.part", "lab.collect"]),
    "lab.apps.reject": ("reject", ["lab.part_reject", "lab.part_ignore"]),
    "lab.apps.no_result": ("no_result", ["lab.part_no_result", "lab.part_unstored"]),
    "lab.apps.stale_missing": ("stale_missing", ["lab.part"]),
    "lab.apps.stale_signature": ("stale_signature", ["lab.part", "lab.collect"]),
    "lab.apps.fuzz": ("fuzz", None),
    "lab.apps.fuzz_stale": ("fuzz_stale", None),
}
COPIED_WITH = {"fuzz": ["fuzz_tasks"], "fuzz_stale": ["fuzz_tasks"]}  # modules a task module imports


class ExportError(LabError):
    """What the lab cannot write as a plain Celery reproducer, and what to do instead."""


@dataclasses.dataclass
class Export:
    """What ``export`` wrote: the folder, its files, and the commands that run it."""

    folder: Path
    files: list[str]
    worker_lines: list[str]
    expected: list[dict[str, Any]]


# -- what to export ---------------------------------------------------------------------------------


def resolve(ref: str) -> tuple[Scenario, dict[str, Any] | None]:
    """The scenario, and the finding's data when ``ref`` is a finding (its id or its file): its FINDING, with
    the fuzzer's shapes of it (``drawn``: how each chain was built, which a built canvas forgets)."""
    path = Path(ref)
    if not (ref.endswith(".py") or path.exists()) and finding_path(ref) is not None:
        path = finding_path(ref)
    elif not (ref.endswith(".py") or path.exists()):
        return load(ref), None  # a scenario's name: one sentence if it is unknown
    if not path.is_file():
        raise ExportError(f"no file at {ref!r}: give a finding id (`ls findings/`), a scenario name "
                          "(`python -m lab list`) or a path to either.")
    if "FINDING = " not in path.read_text():
        return load_file(path), None  # a scenario file, not a finding
    from lab.fuzz import findings as F

    data = F.load(str(path))  # the file executed once as a scenario, once for its data
    return data["scenario"], {**data["finding"], "drawn": data["shapes"]}


def refusal(s: Scenario) -> str | None:
    """Why ``s`` cannot be a plain Celery reproducer, in one sentence (None: it can)."""
    if s.faults:
        kinds = ", ".join(sorted({f.kind for f in s.faults}))
        return (f"scenario {s.name!r} injects faults ({kinds}): they need the lab's nemesis, so a plain Celery "
                "reproducer cannot show them; report it with `python -m lab run` and its record instead.")
    if s.app:
        return f"scenario {s.name!r} runs your own app: your project is already plain Celery; send its canvas from it."
    if s.broker != "redis" or s.backend != "redis":
        return (f"scenario {s.name!r} uses broker {s.broker} and backend {s.backend}; export writes Redis reproducers "
                "only (the lab's own redis-server for both).")
    for module in sorted({*s.tasks, *(m for w in s.workers for m in w.tasks or ())}):  # sorted: the same sentence every time
        if module not in TASK_MODULES and _beside(s, module) is None:
            return (f"task module {module!r} is neither one of the lab's ({', '.join(TASK_MODULES)}) nor beside the "
                    "scenario file; export copies only those: copy yours beside the exported tasks.py by hand.")
    for w in s.workers:
        if w.app:
            return f"worker {w.name!r} runs its own app ({w.app}); export writes one app for every worker."
    if any(c.chained_group for c in s.chords) and s.canvas is None:
        return (f"scenario {s.name!r} sends a chained-group header; give it as a canvas (Scenario(canvas=...)) "
                "to export it exactly.")
    return None


# -- the canvas, as code -----------------------------------------------------------------------------


def canvas_code(s: Scenario, finding: dict[str, Any] | None, seed: int) -> tuple[list[str], list[dict[str, Any]], str, float]:
    """(lines of ``send(app)``'s body, the oracle per final task, how the canvas was written, seconds of work)."""
    if s.canvas is not None:
        return _canvas_of_function(s, finding)
    return _canvas_of_chords(s, seed)


def _canvas_of_function(s: Scenario, finding: dict[str, Any] | None) -> tuple[list[str], list[dict[str, Any]], str, float]:
    from celery import Celery

    from lab.fuzz import oracle
    from lab.fuzz import strategies as S

    if "lab.apps.fuzz" not in s.tasks:
        raise ExportError(f"scenario {s.name!r} builds a canvas of tasks the oracle does not know; "
                          "export writes canvases of lab.apps.fuzz's tasks.")
    import lab.apps.fuzz  # noqa: F401 - its tasks register with the app below

    app = Celery("export", set_as_current=False)
    app.finalize(auto=True)
    from lab.drive.user_canvas import build_canvases

    canvases = build_canvases(app, s, chords_only=False)
    try:
        shapes = [S.shape_of(c, app=app) for c in canvases]
    except ValueError as e:
        raise ExportError(f"scenario {s.name!r}: a canvas the oracle cannot read ({e}).") from None
    # the fuzzer's own data says how each chain was built: the finding file's very text
    drawn = finding["drawn"] if finding is not None else shapes
    env = {"fuzz": lab.apps.fuzz.bind(app), "app": app, **S.canvas_names()}

    def same(a, b) -> bool:  # the same structure, however each chain was built (inside a group Celery forgets)
        return S.with_chains(a, "chain-app") == S.with_chains(b, "chain-app")

    texts = []
    for shape, drawn_shape in zip(shapes, drawn):
        # as written; else with every chain built with a keyword, which merges nothing: the structure Celery made
        for candidate in (drawn_shape, S.with_chains(shape, "chain-app")):
            text = S.describe(candidate)
            if same(S.shape_of(eval(text, env), app=app), shape):  # noqa: S307 - our own generated text
                texts.append(text)
                break
        else:
            raise ExportError(f"scenario {s.name!r}: its canvas cannot be written back exactly as Python; "
                              "export it by hand.")
    expected = []
    for i, shape in enumerate(shapes):
        for j, exp in enumerate(oracle.expectations(shape, s)):
            expected.append({"canvas": i, "final": j, "task": exp.callback_task, "verdicts": list(exp.verdicts),
                             "args0": exp.args0, "result": exp.result, "reason": exp.reason})
    lines = ["fuzz = bind(app)", "return [c.apply_async() for c in [", *[f"    {t}," for t in texts], "]]"]
    return lines, expected, "canvas", sum(oracle.work_s(x) for x in shapes)


def _canvas_of_chords(s: Scenario, seed: int) -> tuple[list[str], list[dict[str, Any]], str, float]:
    """``lab.Chord``s as ``lab.drive.send`` sends them: ``chord(header, app=app)(body)``, the same values."""
    from lab.drive.send import chord_values

    rng = random.Random(seed)
    lines, expected, index = ["results = []"], [], 0
    for spec in s.chords:
        durations = spec.durations()
        for _ in range(spec.count):
            values = chord_values(rng, spec.header)
            opts = "".join(f", {k}={v!r}" for k, v in spec.part_options.items())
            header = ", ".join(f"app.signature({spec.header_task!r}, args=({v!r}, {d!r}, {i in spec.raising_parts!r}){opts})"
                               for i, (v, d) in enumerate(zip(values, durations)))
            body = f"app.signature({spec.callback!r}, args={tuple(spec.callback_args)!r})"
            if spec.callback_options:
                body += ".set(" + ", ".join(f"{k}={v!r}" for k, v in spec.callback_options.items()) + ")"
            lines.append(f"results.append(chord([{header}], app=app)({body}))")
            failing = bool(spec.raising_parts)
            expected.append({"canvas": index, "final": 0, "task": spec.callback,
                             "verdicts": ["failed"] if failing else ["completed"],
                             "args0": None if failing else values, "result": None if failing else values,
                             "reason": "a header part raises, so the chord fails" if failing else
                             "every part returns its value; the callback gets them in header order"})
            index += 1
    lines.append("return results")
    return lines, expected, "chords", sum(sum(c.durations()) * c.count for c in s.chords)


# -- the files -------------------------------------------------------------------------------------


def _deploys(s: Scenario) -> list[tuple[str, tuple[str, ...], list[str]]]:
    """(tasks module name, the lab task modules it imports, the workers that run it), the producer's first."""
    out: list[tuple[str, tuple[str, ...], list[str]]] = [("tasks", tuple(s.tasks), [])]
    for w in s.workers:
        code = tuple(w.tasks) if w.tasks else tuple(s.tasks)
        for name, mods, names in out:
            if mods == code:
                names.append(w.name)
                break
        else:
            out.append((f"tasks_{re.sub(r'[^A-Za-z0-9_]', '_', w.name)}", code, [w.name]))
    return out


def _worker_line(s: Scenario, w: Any, module: str) -> str:
    """The worker's command line as the lab ran it (``lab.runtime.process.topology``), with this folder's app."""
    argv = ["celery", "-A", module, "worker", "-n", f"{w.name}@%h", "-c", str(w.concurrency), "-P", w.pool,
            "-l", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"]
    if w.queues:
        argv += ["-Q", ",".join(w.queues)]
    return " ".join(shlex.quote(a) if "%" not in a else a for a in argv + w.extra_args())


def _beside(s: Scenario, module: str) -> Path | None:
    """The package (or module file) beside the scenario file that ``module`` lives in, if it is there."""
    if not s.source:
        return None
    root = Path(s.source).parent / module.split(".")[0]
    return root if root.is_dir() else root.with_suffix(".py") if root.with_suffix(".py").is_file() else None


def _py(value: Any, imports: set[str]) -> str:
    """``value`` as the Python that builds it: literals, compiled regexes, and functions by their import."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k, imports)}: {_py(v, imports)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_py(v, imports) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    from kombu import Exchange, Queue

    if isinstance(value, Queue):  # the common arguments; the eval check below refuses one with others
        imports.add("from kombu import Exchange, Queue")
        args = [repr(value.name)]
        if value.exchange is not None and value.exchange.name != value.name:
            args.append(_py(value.exchange, imports))
        if value.routing_key and value.routing_key != value.name:
            args.append(f"routing_key={value.routing_key!r}")
        return f"Queue({', '.join(args)})"
    if isinstance(value, Exchange):
        imports.add("from kombu import Exchange, Queue")
        return f"Exchange({value.name!r}" + (f", type={value.type!r})" if value.type != "direct" else ")")
    if isinstance(value, re.Pattern):
        imports.add("import re")
        return f"re.compile({value.pattern!r}" + (f", {int(value.flags)!r})" if value.flags != re.UNICODE else ")")
    if callable(value) and getattr(value, "__module__", None) and "<" not in getattr(value, "__qualname__", "<"):
        imports.add(f"from {value.__module__} import {value.__qualname__.split('.')[0]}")
        return value.__qualname__
    return repr(value)


def _config_source(s: Scenario) -> tuple[str, set[str]]:
    """The config as Python source, and the imports it needs; one sentence if it cannot be written so."""
    from lab.runtime.celery_app import LAB_DEFAULTS

    for w in s.workers:
        if node_config(s, w.name) != node_config(s, None):
            raise ExportError(f"worker {w.name!r} has config of its own; export writes one config for the producer "
                              "and every worker.")
    config = {**LAB_DEFAULTS, **node_config(s, None)}
    imports: set[str] = set()
    text = _py(config, imports)
    namespace: dict[str, Any] = {}
    try:
        for line in sorted(imports):
            exec(line, namespace)  # noqa: S102 - our own generated import lines
        if eval(text, namespace) != config:  # noqa: S307 - our own generated text
            raise ValueError("differs")
    except Exception:  # noqa: BLE001 - any value whose repr is not its source
        raise ExportError(f"scenario {s.name!r}'s config holds a value export cannot write as Python that builds it "
                          "(a lambda, an object with no import path); write its config by hand.") from None
    for line in imports:
        module = line.split()[1]
        if module not in ("re", "kombu") and _beside(s, module) is None:
            raise ExportError(f"scenario {s.name!r}'s config uses {module}, which is not beside the scenario file; "
                              "export copies only what is.")
    return text, imports


def _app_source(s: Scenario, config: str, imports: set[str]) -> str:
    extra = "".join(f"{line}\n" for line in sorted(imports))
    return f'''"""The Celery app of this reproducer: the broker, the result backend and the config the lab ran it with.

REPRO_REDIS (default redis://127.0.0.1:6379) names the redis-server: the broker is its db 0, the
result backend its db 1, as in the lab.
"""

import json
import os

from celery import Celery
from celery.signals import task_prerun
{extra}
REDIS = os.environ.get("REPRO_REDIS", "redis://127.0.0.1:6379").rstrip("/")

app = Celery("repro", broker=f"{{REDIS}}/0", backend=f"{{REDIS}}/1")
app.conf.update({config})


@task_prerun.connect
def note_arguments(task_id=None, args=None, **_):
    """What each task was called with, kept an hour, so repro.py can show what a callback got.
    Only an observer: remove it and the symptom stays (it does not touch the canvas or the tasks)."""
    app.backend.client.set(f"repro:args:{{task_id}}", json.dumps(list(args or []), default=repr), ex=3600)
'''


def _tasks_source(module: str, mods: tuple[str, ...], workers: list[str]) -> str:
    who = ("the producer (repro.py)" + (f" and worker(s) {', '.join(workers)}" if workers else "")) if module == "tasks" \
        else f"worker(s) {', '.join(workers)}: a deploy with other code"
    imports = "\n".join(f"import {TASK_MODULES[m][0]}  # noqa: F401,E402 - {m} in the lab" if m in TASK_MODULES
                        else f"import {m}  # noqa: F401,E402 - beside the scenario file" for m in mods)
    return f'''"""The app as {who} run it: `celery -A {module} worker ...`."""

from repro_app import app  # noqa: F401 - `celery -A {module}` finds it here

# the task code: importing a module registers its tasks (shared_task) with the app
{imports}
'''


def _beside_files(s: Scenario, roots: set[Path]) -> dict[str, str]:
    """Every .py file of the packages beside the scenario the reproducer needs, by its path in the export."""
    base = Path(s.source).parent if s.source else Path(".")
    out = {}
    for root in sorted(roots):
        for path in sorted([root] if root.is_file() else root.rglob("*.py")):
            text = path.read_text()
            if re.search(r"^\s*(from|import) lab\b", text, flags=re.M):
                raise ExportError(f"{path} imports the lab; a plain Celery reproducer cannot copy it.")
            out[str(path.relative_to(base))] = text
    return out


def _copied_module(name: str) -> str:
    text = (APPS_DIR / f"{name}.py").read_text()
    text = text.replace("from lab.apps.fuzz_tasks import", "from fuzz_tasks import")
    if re.search(r"^\s*(from|import) lab\b", text, flags=re.M):
        raise ExportError(f"lab/apps/{name}.py uses the lab; it cannot be copied as plain Celery.")
    return f"# Copied from the lab's lab/apps/{name}.py: the task code its workers ran.\n" + text


REPRO = '''"""{title}

Plain Celery: send the canvas exactly as the lab sent it, then read back each final task (a chord's
callback, a chain's last task, each member of a group) and compare it with what a correct Celery gives.
Start the worker(s) first (README.md, or `bash run.sh` for everything).  Exit 0: Celery behaved as
expected; 1: the symptom showed; 2: the workers never answered.
"""

import argparse
import json
import sys
import time

from datetime import datetime, timedelta, timezone  # noqa: F401 - an eta in send() below, where one is set

from celery import chain, chord, group  # noqa: F401 - what send() below is built with

from tasks import app
{bind_import}
# What a correct Celery gives each final task, computed by the lab's oracle from the canvas itself.
EXPECTED = {expected}
WAIT_S = {wait_s}  # the canvas needs well under a second of work: longer than this is not slow, it is stuck


def send(app):
    """The canvas, exactly as the lab sent it: the same calls, the same construction path."""
{send_body}


def finals(result):
    """The results that are a canvas's result, in order: itself, or each leaf of a group's result."""
    if getattr(result, "results", None) is not None:
        return [leaf for r in result.results for leaf in finals(r)]
    return [result]


def called_with(task_id):
    raw = app.backend.client.get(f"repro:args:{{task_id}}")
    return None if raw is None else json.loads(raw)


def verdict(result, deadline, wait_s):
    """What happened to one final task: (verdict, what was seen)."""
    while time.time() < deadline and not result.ready():
        time.sleep(0.05)
    state, args = result.state, called_with(result.id)
    if state == "SUCCESS":
        return "completed", {{"state": state, "result": result.result, "args0": (args or [None])[0]}}
    if state == "FAILURE":
        return "failed", {{"state": state, "result": repr(result.result)}}
    if args is not None:
        return "unrecorded", {{"state": state, "args0": args[0] if args else None}}
    return "stuck", {{"state": state, "note": f"never started; still {{state}} after {{wait_s}} s"}}


def wait_for_workers(n, bound=30.0):
    deadline, seen = time.time() + bound, []
    while time.time() < deadline:
        try:
            seen = app.control.ping(timeout=0.5) or []
        except Exception as e:  # the broker is not up yet
            seen = [repr(e)]
        if len([s for s in seen if isinstance(s, dict)]) >= n:
            return True
        time.sleep(0.2)
    print(f"only {{len(seen)}} of {{n}} worker(s) answered ping within {{bound}} s (last seen: {{seen}})")
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default={n_workers}, help="wait for this many workers first")
    ap.add_argument("--wait", type=float, default=WAIT_S, help="seconds to wait for the final tasks (WAIT_S)")
    a = ap.parse_args()
    if not wait_for_workers(a.workers):
        return 2
    app.set_current()  # a canvas built without app= uses the current app, as in a one-app program
    try:
        try:
            sent = [leaf for r in send(app) for leaf in finals(r)]
        except Exception as e:
            print(f"apply_async raised {{type(e).__name__}}: {{e}}")
            ok = all("failed" in x["verdicts"] for x in EXPECTED)
            print("as expected" if ok else "SYMPTOM: the canvas was never sent; a correct Celery sends it")
            return 0 if ok else 1
        return judge(sent, a.wait)
    finally:
        # stop listening for results first: a result collected at exit would otherwise UNSUBSCRIBE over a
        # connection Python is tearing down, and print a traceback that has nothing to do with the symptom
        app.backend.result_consumer.subscribed_to.clear()
        app.backend.result_consumer.stop()


def judge(sent, wait_s):
    deadline = time.time() + wait_s
    symptoms = 0
    for exp, result in zip(EXPECTED, sent):
        got, seen = verdict(result, deadline, wait_s)
        bad = got not in exp["verdicts"]
        if got == "completed" and exp["args0"] is not None and seen["args0"] != exp["args0"]:
            got, bad = "early", True  # it ran, with another argument than the canvas computes
        if got == "completed" and exp["result"] is not None and seen["result"] != exp["result"]:
            got, bad = "wrong-result", True
        symptoms += bad
        print(f"{{exp['task']}} {{result.id}}: {{'SYMPTOM' if bad else 'as expected'}}: {{got}} {{json.dumps(seen, default=repr)}}")
        print(f"    a correct Celery: {{' or '.join(exp['verdicts'])}}"
              + (f", called with {{exp['args0']!r}}" if exp["args0"] is not None else "")
              + (f", returning {{exp['result']!r}}" if exp["result"] is not None else "") + f" ({{exp['reason']}})")
    if len(sent) != len(EXPECTED):
        print(f"note: Celery's result has {{len(sent)}} final task(s), the canvas {{len(EXPECTED)}}")
    return 1 if symptoms else 0


if __name__ == "__main__":
    sys.exit(main())
'''


def reproducer_lines(ref: str, *, seed: int = 0) -> list[str]:
    """The heart of the export, for RESULTS.md: the config, each worker's command line, ``send(app)``."""
    scenario, finding = resolve(ref)
    why = refusal(scenario)
    if why:
        raise ExportError(why)
    _config_source(scenario)  # refuses what export refuses (its text is the full config; below, the scenario's)
    config = node_config(scenario, None)
    send_lines, _, _, _ = canvas_code(scenario, finding, seed)
    by_worker = {w: module for module, _, ws in _deploys(scenario) for w in ws}
    lines = [f"app.conf.update({', '.join(f'{k}={v!r}' for k, v in config.items())})" if config else
             "# app: the lab's defaults (json serializers), no config of its own"]
    if scenario.redis_options:
        lines.append(_redis_line(scenario).replace('"$PORT"', "6379"))
    lines += [_worker_line(scenario, w, by_worker[w.name]) + (f"  # code: {', '.join(w.tasks)}" if w.tasks else "")
              for w in scenario.workers]
    return lines + ["def send(app):", *["    " + ln for ln in send_lines]]


def export(ref: str, to: Path, *, seed: int | None = None, force: bool = False) -> Export:
    """Write the reproducer of ``ref`` (a finding id or file, a scenario name or file) into ``to``."""
    scenario, finding = resolve(ref)
    why = refusal(scenario)
    if why:
        raise ExportError(why)
    to = Path(to)
    if to.exists() and any(to.iterdir()) and not force:
        raise ExportError(f"{to} exists and is not empty: give an empty or new folder, or --force to overwrite.")
    seed = seed if seed is not None else 0
    config, imports = _config_source(scenario)
    send_lines, expected, how, work = canvas_code(scenario, finding, seed)
    deploys = _deploys(scenario)
    by_worker = {w: module for module, _, ws in deploys for w in ws}
    worker_lines = [_worker_line(scenario, w, by_worker[w.name]) for w in scenario.workers]
    lab_mods = [m for _, mods, _ in deploys for m in mods if m in TASK_MODULES]
    copied = sorted({TASK_MODULES[m][0] for m in lab_mods} | {c for m in lab_mods for c in COPIED_WITH.get(TASK_MODULES[m][0], [])})
    beside = {_beside(scenario, m) for _, mods, _ in deploys for m in mods if m not in TASK_MODULES}
    beside |= {_beside(scenario, line.split()[1]) for line in imports if line.split()[1] not in ("re", "kombu")}
    beside_files = _beside_files(scenario, {b for b in beside if b is not None})
    wait_s = round(10.0 + work, 2)
    title = (f"Reproducer of {finding['id']}: {finding['summary']}" if finding else
             f"Reproducer of scenario {scenario.name}: {scenario.description}")
    files: dict[str, str] = {
        "repro_app.py": _app_source(scenario, config, imports),
        **beside_files,
        **{f"{m}.py": _tasks_source(m, mods, ws) for m, mods, ws in deploys},
        **{f"{name}.py": _copied_module(name) for name in copied},
        "repro.py": REPRO.format(
            title=title.replace('"""', "'''")[:400],
            bind_import="from fuzz_tasks import bind  # noqa: F401\n" if how == "canvas" else "",
            expected=pprint.pformat(expected, width=100, sort_dicts=False), wait_s=wait_s,
            send_body="\n".join("    " + ln for ln in send_lines), n_workers=len(scenario.workers)),
        "run.sh": _run_sh(scenario, worker_lines),
        "requirements.txt": _requirements(),
        "README.md": _readme(scenario, finding, worker_lines, expected, send_lines),
    }
    to.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (to / name).parent.mkdir(parents=True, exist_ok=True)
        (to / name).write_text(text)
    (to / "run.sh").chmod(0o755)
    return Export(to, sorted(files), worker_lines, expected)


def _redis_line(s: Scenario) -> str:
    opts = " ".join(f"--{k} {shlex.quote(str(v))}" for k, v in s.redis_options.items())
    return f'redis-server --port "$PORT" --save "" --appendonly no {opts}'.rstrip()


def _run_sh(s: Scenario, worker_lines: list[str]) -> str:
    starts = "\n".join(f"{line} > worker-{w.name}.log 2>&1 &\npids+=($!)" for w, line in zip(s.workers, worker_lines))
    return f'''#!/usr/bin/env bash
# Everything at once: a redis-server of its own, the worker(s) exactly as the lab ran them, repro.py.
# Needs redis-server on PATH and `pip install -r requirements.txt`.  REPRO_PORT picks the port (6390).
set -u
cd "$(dirname "$0")"
PORT="${{REPRO_PORT:-6390}}"
export REPRO_REDIS="redis://127.0.0.1:$PORT"
pids=()
trap 'kill "${{pids[@]}}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
{_redis_line(s)} > redis.log 2>&1 &
pids+=($!)
python - "$PORT" <<'PY'  # the workers start once redis-server answers (else they back off for seconds)
import sys, time, redis
r, deadline = redis.Redis(port=int(sys.argv[1])), time.time() + 10
while True:
    try:
        r.ping()
        break
    except redis.ConnectionError as e:
        if time.time() > deadline:
            sys.exit(f"redis-server on port {{sys.argv[1]}} did not answer PING within 10 s ({{e}}); see redis.log")
        time.sleep(0.05)
PY
{starts}
python repro.py --workers {len(s.workers)} "$@"
'''


def _requirements() -> str:
    v = records.versions()
    return "".join(f"{pkg}=={v[key]}\n" for pkg, key in (("celery", "celery"), ("kombu", "kombu"),
                                                         ("redis", "redis-py"), ("billiard", "billiard")) if v.get(key))


def _readme(s: Scenario, finding: dict[str, Any] | None, worker_lines: list[str], expected: list[dict[str, Any]],
            send_lines: list[str]) -> str:
    v = records.versions()
    seen = (finding or {}).get("versions") or {}
    lines = [f"# {finding['id'] if finding else s.name}: {finding['finding_kind'] if finding else s.description}", ""]
    if finding:
        lines += [finding["summary"], ""]
        from lab.fuzz import findings as F
        from lab.fuzz import strategies as S

        shapes = [S.to_data(x) for x in finding["drawn"]]
        family = F.FAMILIES.get(F.family_of({**finding, "shapes": shapes}) or "")
        if family:
            lines += [f"Mechanism: {family.title}" + (f" (upstream: {family.upstream.split(' (')[0]})" if family.upstream else "")
                      + f". {family.meaning}", ""]
    lines += ["A standalone reproducer in plain Celery (no lab), written by "
              f"`python -m lab export {finding['id'] if finding else s.name}`.", "",
              "## Versions", "",
              f"- exported with: Python {v.get('python')}, celery {v.get('celery')}, kombu {v.get('kombu')}, "
              f"redis-py {v.get('redis-py')}, billiard {v.get('billiard')}"]
    if seen:
        lines.append(f"- found on: Python {seen.get('python')}, celery {seen.get('celery')}, kombu {seen.get('kombu')}, "
                     f"redis-py {seen.get('redis-py')}, redis-server {seen.get('redis-server')}")
    lines += ["", "## Run it", "", "```sh", "pip install -r requirements.txt",
              _redis_line(s).replace('"$PORT"', "6379") + "    # or any redis-server: REPRO_REDIS=redis://host:port",
              *[f"{line}    # worker {w.name}" for w, line in zip(s.workers, worker_lines)],
              "python repro.py", "```", "",
              "Or all of it at once, stopped at the end: `bash run.sh` (REPRO_PORT=6390 by default).", "",
              "## The canvas", "", "Exactly as the lab sent it (`send()` in `repro.py`):", "", "```python"]
    lines += [*send_lines, "```", "", "## Expected", ""]
    for e in expected:
        call = f", called with `{e['args0']!r}`" if e["args0"] is not None else ""
        ret = f", returning `{e['result']!r}`" if e["result"] is not None else ""
        lines.append(f"- `{e['task']}` (canvas {e['canvas']}, final task {e['final']}): {' or '.join(e['verdicts'])}"
                     f"{call}{ret}: {e['reason']}.")
    lines += ["", "## What happens", ""]
    if finding:
        lines += [f"{finding['summary']}.", "", "What the lab proved (its ledger, broker and backend):", "", "```text",
                  *finding.get("evidence", [])[:12], "```"]
        if finding.get("construction") and finding["construction"].get("needs"):
            from lab.fuzz.findings import construction_line

            lines += ["", f"Construction path: {construction_line(finding['construction'])}."]
    else:
        lines += [f"The lab expects `{s.expect}`" + (f" ({s.expect_cause})" if s.expect_cause else "") + "."]
    lines += ["", "`repro.py` prints, per final task, `SYMPTOM` or `as expected`, and exits 1 when the symptom shows.",
              "A `stuck` verdict here is only \"still PENDING after WAIT_S seconds, never started\"; the lab proves it "
              "from the broker, the backend and its ledger.", ""]
    return "\n".join(lines)


def to_json(e: Export) -> str:
    return json.dumps({"folder": str(e.folder), "files": e.files, "workers": e.worker_lines, "expected": e.expected},
                      default=repr)


__all__ = ["Export", "ExportError", "export", "refusal", "reproducer_lines", "resolve"]
