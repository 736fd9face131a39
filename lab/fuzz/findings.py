"""Findings: shrunk reproducers saved as scenario files and records, and their RESULTS.md section.

    strategies → session → oracle + judge → search → **findings** (files, records, report)

A finding is saved twice:

- ``findings/<id>.py`` (or ``$LAB_FINDINGS``): a scenario script that
  ``lab.scenario.load`` accepts and ``python -m lab run`` runs.  Its
  ``canvas(app)`` builds the shrunk canvas exactly as the fuzzer sent it, with
  the same calls (``a | b`` or ``chain(a, b, app=app)``, ``group(a, b)`` or
  ``group([a, b], app=app)``), and ``lab run`` judges it by the oracle computed
  from that canvas (``lab.experiments.canvas_run``).  Beside it: ``SHAPES``
  (the fuzzer's data for the same canvas, which ``lab replay`` and the records
  read) and ``FINDING`` (kind, verdict, cause, proof, seed, hypothesis blob,
  replay rate, versions, mechanism, and which construction path it needs).
- a record in ``fuzz.jsonl`` beside the run records (``records/``) in the lab's store
  (``$LAB_RESULTS``), with the raw observations of the shrunk example, so its
  verdict can be judged again.  Each fuzz run and each replay adds a record too.

``fuzzing_section(records_or_paths)`` renders the "Fuzzing findings" section
of RESULTS.md from those records: per space and topology, the examples run and
the fuzzing time (and "no finding" for a space that came out clean); per
finding, the minimal reproducer, the cause with its proof, the versions, the
replay rate and whether it is a known mechanism of
``shared/notes/mechanisms.md`` or new.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import pprint
import re
import runpy
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

from lab import records
from lab.errors import LabError
from lab.fuzz import strategies as S
from lab.fuzz.oracle import FUZZ_CAUSES, judge_example
from lab.judge import CAUSES
from lab.scenario import Chord, Scenario, load_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
SHORT_EXPIRY_S = 60.0  # a result expiry a chord's parts can outlive (catalog row 4); Celery's default is a day
EXPECTABLE = ("stuck", "failed", "duplicated", "early", "unrecorded", "completed")  # what a scenario may expect

# The rows of shared/notes/mechanisms.md, by number.
MECHANISMS = {
    "1": "callback queue unconsumed (split queues)",
    "1b": "route glob mismatch (the origin case)",
    "2": "chord_unlock unconsumed",
    "3": "header ignores results",
    "4": "short result expiry",
    "5": "eviction / flush / restart",
    "6": "stale or mixed workers",
    "7": "worker killed mid-task",
    "8": "visibility-timeout redelivery",
    "9": "header failure",
    "10": "nested canvas miscount",
    "11": "producer/worker backend mismatch",
    "12": "rpc backend",
    "13": "join timeout",
    "14": "Reject / Ignore in a header",
    "15": "backend error in the part return",
}


class FindingError(LabError):
    """A finding that cannot be found or read, with how to fix it."""


def findings_dir() -> Path:
    return Path(os.environ.get("LAB_FINDINGS") or PROJECT_ROOT / "findings")


def fuzz_records_file() -> Path:
    return records.store_dir() / "fuzz.jsonl"


# -- records ---------------------------------------------------------------------------------------


def append_record(record: dict[str, Any], path: Path | None = None) -> Path:
    """Append one whole record to ``fuzz.jsonl``: one write of one line, under a lock, fsynced."""
    path = path or fuzz_records_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, separators=(",", ":"), default=repr) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def load_records(path: Path | None = None) -> list[dict[str, Any]]:
    path = path or fuzz_records_file()
    out = []
    if not path.exists():
        return out
    with open(path, "rb") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn line is not a record
            if isinstance(rec, dict) and str(rec.get("kind", "")).startswith("fuzz-"):
                out.append(rec)
    return out


# -- known mechanism or new ---------------------------------------------------------------------------


def classify(verdict: str, cause: str | None, detail: str | None, shapes: list[dict], config: dict | None,
             scenario: dict, obs: dict | None = None) -> dict[str, Any]:
    """Which row of the mechanism catalog a finding is, with why; ``known`` False when none fits."""
    tasks = [n for s in shapes for n in _walk_data(s) if n.get("kind") == "task"]
    behaviours = {t.get("behaviour") for t in tasks}
    nested = any(n.get("kind") in ("chain", "group") or (n.get("kind") == "chord" and i > 0)
                 for s in shapes for i, n in enumerate(_walk_data(s)))
    cfg = scenario.get("config") or {}
    ignores = bool(cfg.get("task_ignore_result")) or any((t.get("options") or {}).get("ignore_result") for t in tasks)
    stats = (((obs or {}).get("probe") or {}).get("backend") or {}).get("stats") or {}

    def row(mid: str, why: str) -> dict[str, Any]:
        return {"id": mid, "name": MECHANISMS[mid], "known": True, "why": why}

    discarded = [e for e in (obs or {}).get("ledger") or [] if e.get("event") == "unregistered"]
    if verdict == "stuck" and discarded and cause in (None, "header-part-missing", "failure-not-propagated"):
        return row("6", f"a worker without {discarded[0].get('name')!r} discarded it, and the chord waits on it")
    if cause == "join-hang":
        if ignores:
            return row("3", "a variant: a part of a nested header group ignores its result, so the worker that "
                            "returned the last part waits in the chord's join for it forever (row 13 expects a "
                            "Join error after result_chord_join_timeout instead)")
        return {"id": None, "name": None, "known": False,
                "why": "the worker blocks in the chord's join past result_chord_join_timeout; row 13 expects a "
                       "Join error instead"}
    if cause == "callback-queue-unconsumed":
        routes = cfg.get("task_routes") or {}
        if "fuzz.total" not in routes and any("*" in k for k in routes):
            return row("1b", "a glob route meant for other tasks sends the callback to a queue no worker consumes")
        return row("1", "the callback is routed to a queue no worker consumes")
    if cause == "header-queue-unconsumed":
        return row("1", "the same mechanism on the header side: a part is routed to a queue no worker consumes")
    if cause in ("nested-failure-uncounted", "failure-not-propagated") and nested:
        return row("10", "a failure inside a nested canvas never reaches the outer callback, which stays PENDING "
                         "(row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases)")
    if cause == "failure-unrecorded":
        return row("3", "a variant: a task that ignores its results fails, so its failure is never stored for the "
                        "tasks after it")
    if cause == "chord-unlock-unconsumed":
        return row("2", "celery.chord_unlock is routed to a queue no worker consumes")
    if cause in ("part-return-missing", "chord-unlock-retrying", "header-part-missing") and behaviours & {"reject", "ignore"}:
        return row("14", "a part raises Reject or Ignore, so no part return is recorded")
    if cause in ("part-return-missing", "chord-unlock-retrying", "chord-counter-mismatch") and ignores:
        return row("3", "a part ignores its result")
    if cause == "chord-size-key-missing":
        if stats.get("evicted_keys") or (scenario.get("redis_options") or {}).get("maxmemory"):
            return row("5", "the chord keys were evicted under maxmemory")
        expiry = min((float(cfg[k]) for k in ("result_expires", "result_chord_expires") if cfg.get(k) is not None),
                     default=None)
        if expiry is not None and expiry < SHORT_EXPIRY_S:
            return row("4", "the chord keys expired before the parts returned")
        return {"id": None, "name": None, "known": False,
                "why": "the chord size key was gone though no short result expiry and no eviction could remove it "
                       f"(result_expires {'default' if expiry is None else f'{expiry:g} s'}, no maxmemory); "
                       "no row of the catalog fits"}
    if cause == "callback-unregistered":
        return row("6", "a worker without the callback task took its message")
    if cause == "header-part-unregistered":
        return row("6", "a worker without the header task took a part")
    if cause == "header-part-lost":
        return row("7", "a part started and its message is gone")
    if verdict == "duplicated":
        return row("8", "the callback ran twice")
    if cause == "join-error":
        return row("13", "joining the header's results failed")
    if verdict == "early" and nested and detail in ("missing-results", "extra-results"):
        return row("10", "a nested canvas miscounts its parts")
    why = {"order": "the callback gets the right results in the wrong order; the catalog has no such row "
                    "(closest: 10, nested canvas miscount)",
           "nesting": "the callback gets the right results nested differently; the catalog has no such row "
                      "(closest: 10, nested canvas miscount)",
           "wrong-values": "the callback gets different values than the canvas computes; the catalog has no such "
                           "row (closest: 10, nested canvas miscount)"}.get(detail or "", "no row of the catalog fits")
    return {"id": None, "name": None, "known": False, "why": why}


def _walk_data(d: dict) -> Iterable[dict]:
    yield d
    for key in ("links", "members", "header"):
        for x in d.get(key) or []:
            yield from _walk_data(x)
    if d.get("body"):
        yield from _walk_data(d["body"])


# -- saving a finding ------------------------------------------------------------------------------------


def finding_id(kind: str, scenario: Scenario, shapes: list[S.ChordShape]) -> str:
    """A readable, stable id: the kind, and a hash of the topology and the shapes."""
    payload = json.dumps({"kind": kind, "scenario": _topology_key(scenario), "shapes": [S.to_data(s) for s in shapes]},
                         sort_keys=True, default=repr)
    slug = re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")
    return f"{slug}-{hashlib.sha1(payload.encode()).hexdigest()[:6]}"


def _topology_key(s: Scenario) -> dict[str, Any]:
    d = s.to_dict()
    return {k: d[k] for k in ("workers", "broker", "backend", "redis_options", "config", "tasks")}


def construction_needed(session, found) -> dict[str, Any] | None:
    """Which way of building its chains the finding needs: the same canvas sent once more with every chain
    built the other way (``|`` merges as it goes; ``chain(..., app=app)`` merges nothing).  None: no chain."""
    from lab.fuzz.search import replay_example

    paths = set().union(*(S.chain_paths(s) for s in found.shapes))
    if not paths:
        return None
    reproduces = {}
    for path in S.CHAIN_PATHS:
        if paths == {path}:
            reproduces[path] = True  # as found
            continue
        shapes = [S.with_chains(s, path) for s in found.shapes]
        reproduces[path] = replay_example(session, shapes, found.config, found.kind, 1)["reproduced"] == 1
    return construction_summary(sorted(paths), reproduces, flaky=bool((found.replay or {}).get("flaky")))


def construction_summary(built: list[str], reproduces: dict[str, bool], *, flaky: bool = False) -> dict[str, Any]:
    """``needs``: the one path that reproduces the finding (None: either does, or only the mixed one, or the
    finding is flaky, so one path's miss says nothing)."""
    ok = [p for p, yes in reproduces.items() if yes]
    needs = ok[0] if len(ok) == 1 and not flaky else None
    return {"built": built, "reproduces": reproduces, "needs": needs, **({"flaky": True} if flaky else {})}


def scenario_for(found, name: str, chords: tuple[Chord, ...], expect: str, expect_cause: str | None,
                 mechanism: str | None, description: str) -> Scenario:
    base = found.scenario
    return dataclasses.replace(base, name=name, description=description, expect=expect,
                               expect_cause=expect_cause if expect in ("stuck", "failed") else None,
                               mechanism=mechanism, fix=None, chords=chords, faults=(), source=None)


def save(found, *, session, space: str, base: str | None, plan: dict[str, Any], directory: Path | None = None,
         check_construction: bool = True) -> tuple[dict[str, Any], Path]:
    """Write the finding's scenario file and its record; return (record, path)."""
    directory = directory or findings_dir()
    directory.mkdir(parents=True, exist_ok=True)
    o = found.outcome
    fid = finding_id(found.kind, found.scenario, found.shapes)
    shapes_data = [S.to_data(s) for s in found.shapes]
    verdict, _, detail = found.kind.partition("/")
    cause = o.cause
    obs = found.result.obs
    detail = None if detail == (cause or "") else detail
    mech = classify(verdict, cause, detail, shapes_data,
                    found.config.to_data() if found.config else None, found.scenario.to_dict(), obs)
    construction = construction_needed(session, found) if check_construction else None
    canvas = S.describe(found.failing_shape)
    expect = verdict if verdict in EXPECTABLE else "unknown"
    description = f"fuzzed: {found.kind} with {canvas}"[:300]
    scenario = scenario_for(found, fid, (Chord(),), expect, cause, mech["id"], description)
    versions = records.versions(session.topo.redis.version if session.topo else None)
    record = {
        "kind": "fuzz-finding", "id": fid, "finding_kind": found.kind, "t": time.time(),
        "space": space, "base": base, "verdict": verdict, "cause": cause, "detail": detail or None,
        "summary": o.summary, "evidence": o.evidence, "expected": list(o.expected),
        "canvas": canvas, "shapes": shapes_data, "failing_index": o.index,
        "config": found.config.to_data() if found.config else None,
        "config_changed": {k: _plain(v) for k, v in found.config.changed().items()} if found.config else None,
        "scenario": scenario.to_dict(), "exact": True, "construction": construction,
        "mechanism": mech, "seed": found.seed, "blob": found.blob, "hypothesis": hypothesis_version(),
        "examples_before": found.examples_before, "found_after_s": round(found.found_after_s, 2),
        "shrink_s": round(found.shrink_s, 2), "flaky_in_hypothesis": found.flaky_in_hypothesis,
        "replay": found.replay, "plan": plan, "versions": versions, "git": records.git_revision(),
        "command": records.command_line(), "observations": obs,
    }
    path = directory / f"{fid.replace('-', '_')}.py"
    try:
        path.write_text(scenario_source(scenario, record))
        load_file(path)  # the file must load as a scenario: a bug here is ours, not the user's
        record["path"] = _display_path(path)
    except Exception as e:  # noqa: BLE001 - the record (with its observations) must be kept all the same
        path.unlink(missing_ok=True)
        record["path"] = None
        record["file_error"] = f"{type(e).__name__}: {e}"
    append_record(record)
    return record, path


def hypothesis_version() -> str:
    import hypothesis

    return hypothesis.__version__


def _plain(v: Any) -> Any:
    if dataclasses.is_dataclass(v):
        return dataclasses.asdict(v)
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


PATH_WORDS = {"pipe": "`a | b`", "chain-app": "`chain(a, b, app=app)`"}


def construction_line(construction: dict[str, Any] | None) -> str:
    """The construction path a finding needs, in one sentence (empty: the canvas has no chain)."""
    if not construction:
        return ""
    needs, rep = construction.get("needs"), construction.get("reproduces") or {}
    if construction.get("flaky"):
        return ("the finding is flaky, so which construction path it needs is not decided "
                f"(reproduced on every replay built as `a | b`: {'yes' if rep.get('pipe') else 'no'}; as "
                f"`chain(a, b, app=app)`: {'yes' if rep.get('chain-app') else 'no'})")
    if needs:
        other = next(p for p in rep if p != needs)
        return (f"it needs its chains built as {PATH_WORDS[needs]}: built as {PATH_WORDS[other]} the same canvas "
                "does not show it, so the construction path is part of the cause")
    if rep and all(rep.values()):
        return "its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`)"
    return "built uniformly either way it does not reproduce: it needs its chains built as they are, mixed"


def scenario_source(scenario: Scenario, record: dict[str, Any]) -> str:
    """The finding as a scenario script: docstring, FINDING, SHAPES, ``canvas(app)`` (the canvas exactly as sent)
    and ``scenario``."""
    rep = record["replay"] or {}
    mech = record["mechanism"]
    known = (f"known mechanism {mech['id']} ({mech['name']}): {mech['why']}" if mech["known"]
             else f"new (not in shared/notes/mechanisms.md): {mech['why']}")
    path_line = construction_line(record.get("construction"))
    doc = f'''"""Fuzzing finding {record['id']}: {record['finding_kind']}.

Shrunk to: {record['canvas']}
{record['summary']}

{known}.{(chr(10) + "Construction: " + path_line + ".") if path_line else ""}
Found by `{record['command']}` (seed {record['seed']}), after {record['examples_before']} example(s);
replayed {rep.get('reproduced')}/{rep.get('runs')} time(s){' (flaky)' if rep.get('flaky') else ''}.
Run: `python -m lab run {record['id']}` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export {record['id']} --to DIR` writes it as plain Celery, for an upstream report.
"""'''
    finding = {k: record.get(k) for k in ("id", "finding_kind", "verdict", "cause", "detail", "summary", "evidence",
                                          "expected", "canvas", "failing_index", "config_changed", "exact",
                                          "construction", "mechanism", "seed", "blob", "hypothesis",
                                          "examples_before", "replay", "space", "base", "versions", "git")}
    finding["config"] = record["config"]
    canvases = [S.describe(S.from_data(d)) for d in record["shapes"]]
    lines = [doc, "",
             "from datetime import datetime, timedelta, timezone  # noqa: F401 - an eta in canvas() below, where one is set",
             "", "from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with",
             "", "from lab import Scenario, Worker", "from lab.apps.fuzz import bind", "",
             "# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).",
             "FINDING = " + pprint.pformat(finding, width=110, sort_dicts=False), "",
             "# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).",
             "SHAPES = " + pprint.pformat(record["shapes"], width=110, sort_dicts=False), "", "",
             "def canvas(app):",
             '    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""',
             "    fuzz = bind(app)",
             "    return [",
             *[f"        {c}," for c in canvases],
             "    ]", "", "",
             "scenario = " + _scenario_expr(scenario, canvas="canvas"), ""]
    return "\n".join(lines)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def _scenario_expr(s: Scenario, *, canvas: str | None = None) -> str:
    """``Scenario(...)`` as source; with ``canvas``, the name of the canvas function it sends instead of chords."""
    parts = [f"name={s.name!r}", f"description={s.description!r}", f"expect={s.expect!r}"]
    for f in dataclasses.fields(Scenario):
        if f.name in ("name", "description", "expect", "workers", "chords", "source", "canvas"):
            continue
        v = getattr(s, f.name)
        if v != _default(f):
            parts.append(f"{f.name}={v!r}")
    workers = ",\n        ".join(_dataclass_expr(w, "Worker") for w in s.workers)
    parts.append(f"workers=(\n        {workers},\n    )")
    if canvas:
        parts.append(f"canvas={canvas}")
    else:
        chords = ",\n        ".join(_dataclass_expr(c, "Chord") for c in s.chords)
        parts.append(f"chords=(\n        {chords},\n    )")
    return "Scenario(\n    " + ",\n    ".join(parts) + ",\n)"


def _dataclass_expr(obj: Any, cls: str) -> str:
    args = []
    for i, f in enumerate(dataclasses.fields(obj)):
        v = getattr(obj, f.name)
        if i == 0 and cls == "Worker":
            args.append(repr(v))
        elif v != _default(f):
            args.append(f"{f.name}={v!r}")
    return f"{cls}({', '.join(args)})"


# -- loading a finding ---------------------------------------------------------------------------------------


def resolve(ref: str, directory: Path | None = None) -> Path:
    """A finding file from its id, a unique id prefix, or a path."""
    path = Path(ref)
    if ref.endswith(".py") or path.exists():
        if not path.is_file():
            raise FindingError(f"no finding file at {ref!r}: give a finding id from `ls findings/` or a path to one.")
        return path
    directory = directory or findings_dir()
    stem = ref.replace("-", "_")
    matches = sorted(p for p in directory.glob("*.py") if p.stem == stem) or \
        sorted(p for p in directory.glob("*.py") if p.stem.startswith(stem))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(p.stem.replace("_", "-") for p in sorted(directory.glob("*.py"))[:5]) or "none yet"
        raise FindingError(f"no finding {ref!r} in {directory} (saved: {known}): run `python -m lab fuzz` to find some, "
                           "or give a path to a finding file.")
    raise FindingError(f"{ref!r} matches {len(matches)} findings in {directory}; give more of the id.")


def load(ref: str, directory: Path | None = None) -> dict[str, Any]:
    """A saved finding: its FINDING data, its shapes, its config and its scenario."""
    path = resolve(ref, directory)
    scenario = load_file(path)
    try:
        module = runpy.run_path(str(path))
    except Exception as e:  # load_file already proved it runs; this is only for the data
        raise FindingError(f"{path.name} raised {type(e).__name__}: {e}; fix the file.") from None
    finding, shapes = module.get("FINDING"), module.get("SHAPES")
    if not isinstance(finding, dict) or not isinstance(shapes, list):
        raise FindingError(f"{path.name} is a scenario, not a finding: it has no FINDING and SHAPES; "
                           "`python -m lab run` runs it.")
    try:
        shape_objs = [S.from_data(d) for d in shapes]
    except (ValueError, KeyError, TypeError) as e:
        raise FindingError(f"{path.name}: SHAPES is not a list of chord shapes ({e}).") from None
    config = S.FuzzConfig.from_data(finding["config"]) if finding.get("config") else None
    return {"path": path, "finding": finding, "shapes": shape_objs, "config": config, "scenario": scenario}


def latest_records(recs: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Each finding's latest record, with every later ``fuzz-finding-update`` applied, by id."""
    found: dict[str, dict[str, Any]] = {}
    for r in recs if recs is not None else load_records():
        if r.get("kind") == "fuzz-finding":
            found[r["id"]] = dict(r)
        elif r.get("kind") == "fuzz-finding-update" and r.get("id") in found:
            found[r["id"]].update(r.get("updates") or {})
    return found


def update(ref: str, updates: dict[str, Any], directory: Path | None = None) -> Path:
    """Change what is known of a saved finding (its construction path, say): a ``fuzz-finding-update`` record
    and its file written again, in the current form (``canvas(app)``, exactly as sent)."""
    path = resolve(ref, directory)
    data = load(str(path))
    fid = data["finding"]["id"]
    record = latest_records().get(fid)
    if record is None:
        raise FindingError(f"finding {fid} has no record in {fuzz_records_file()}: its file alone cannot be rewritten; "
                           "set LAB_RESULTS to the store it was found in.")
    before = dict(record)
    shapes = record["shapes"]
    canvas = S.describe(S.from_data(shapes[min(record.get("failing_index") or 0, len(shapes) - 1)]))
    updates = {**updates, "canvas": canvas, "exact": True, "path": _display_path(path)}
    now = rejudge(record)  # the current checker's reading of the stored observations is what the file expects
    if now and not now.get("error") and now.get("mechanism") != record.get("mechanism"):
        updates["mechanism"] = now["mechanism"]  # the catalog row as the current classifier reads it
    if now and not now.get("error") and now.get("finding") and now["finding_kind"] != record["finding_kind"]:
        updates.update({"stored_as": record.get("stored_as") or record["finding_kind"],
                        **{k: now[k] for k in ("finding_kind", "verdict", "cause", "summary", "evidence", "mechanism")}})
    record = {**record, **updates}
    verdict = record["verdict"]
    scenario = dataclasses.replace(data["scenario"], chords=(Chord(),), canvas=None, source=None,
                                   description=f"fuzzed: {record['finding_kind']} with {canvas}"[:300],
                                   expect=verdict if verdict in EXPECTABLE else "unknown",
                                   expect_cause=record.get("cause") if verdict in ("stuck", "failed") else None,
                                   mechanism=(record.get("mechanism") or {}).get("id"))
    text = scenario_source(scenario, record)
    tmp = path.with_name(f".{path.stem}.new.py")
    tmp.write_text(text)
    try:
        load_file(tmp)  # the file must load as a scenario before it replaces the old one
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    changed = {k: v for k, v in updates.items() if before.get(k) != v}
    if changed:  # a file rewritten in the current form with nothing new known adds no record
        append_record({"kind": "fuzz-finding-update", "id": fid, "t": time.time(), "updates": changed})
    return path


# -- merging the findings of many shards: one finding per mechanism, with its witnesses ------------------


def signature(r: dict[str, Any]) -> tuple:
    """What makes two findings one: the same kind of finding in the same space on the same topology (the
    key ``--skip-known`` and the search's own ``known`` set use), whatever canvas each shrank to."""
    return (r.get("space"), r.get("base"), r.get("finding_kind"))


def _merge_key(r: dict[str, Any]) -> tuple:
    """A fuzz record's identity across stores: its kind (a witness is a finding stored under another), id, time."""
    kind = "fuzz-finding" if r.get("kind") == "fuzz-witness" else r.get("kind")
    return (kind, r.get("id"), r.get("t"))


def witness_entry(r: dict[str, Any]) -> dict[str, Any]:
    """One witness of a finding, as RESULTS.md and the finding's record list it: which seed and shard found it."""
    rep = r.get("replay") or {}
    return {"id": r.get("id"), "seed": r.get("seed"), "shard": (r.get("plan") or {}).get("shard"),
            "canvas": r.get("canvas"), "replayed": f"{rep.get('reproduced')}/{rep.get('runs')}" if rep else None,
            "t": r.get("t"), "path": r.get("path")}


def _finding_file(source: Path, r: dict[str, Any]) -> Path | None:
    """A source store's file of finding ``r``: in its ``findings/`` (or ``findings/witnesses/``), else where
    its record says."""
    path = r.get("path")
    if not path:
        return None
    name = Path(path).name
    for p in (source / "findings" / name, source / "findings" / "witnesses" / name, Path(path), PROJECT_ROOT / path):
        if p.is_file():
            return p
    return None


def merge(source: Path, *, store: Path | None = None, directory: Path | None = None) -> dict[str, Any]:
    """The fuzzer's records and finding files of the store ``source`` merged into ``store`` (default: the current).

    A record already there (same kind, id and time) is left out, so merging twice adds nothing.  A finding
    whose ``signature`` has no finding yet becomes one, its file copied into ``findings_dir``; one whose
    signature has a finding already is stored as a ``fuzz-witness`` of it (its whole record kept, its file under
    ``findings/witnesses/``), and the finding's ``witnesses`` (a ``fuzz-finding-update``) list both, with the
    seed and shard of each.  All the source's new records are appended in one write.
    Returns counts (``added``, ``present``, ``findings``, ``witnesses``) and ``saved``: (record, file) of each
    finding that is new or has a new witness."""
    import shutil

    source = Path(source)
    target = Path(store or records.store_dir()) / "fuzz.jsonl"
    fdir = directory or findings_dir()
    have = load_records(target)
    keys = {_merge_key(r) for r in have}
    primaries: dict[tuple, dict[str, Any]] = {}
    for r in latest_records(have).values():
        primaries.setdefault(signature(r), r)
    lines: list[dict[str, Any]] = []
    counts = {"added": 0, "present": 0, "findings": 0, "witnesses": 0}
    made = 0  # the witnesses' updates written here, not records of the source
    saved: dict[str, tuple[dict[str, Any], Path | None]] = {}

    def place(r: dict[str, Any], folder: Path) -> tuple[str | None, Path | None]:
        src = _finding_file(source, r)
        if src is None:
            return r.get("path"), None
        dest = folder / src.name
        if not dest.exists():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        return _display_path(dest), dest

    for r in load_records(source / "fuzz.jsonl"):
        key = _merge_key(r)
        if key in keys:
            counts["present"] += 1
            continue
        keys.add(key)
        kind = r.get("kind")
        if kind in ("fuzz-finding", "fuzz-witness"):
            sig = signature(r)
            prim = primaries.get(sig)
            if prim is None:
                path, dest = place(r, fdir)
                rec = {**r, "kind": "fuzz-finding", "path": path}
                rec.pop("witness_of", None)
                primaries[sig] = rec
                lines.append(rec)
                counts["findings"] += 1
                saved[rec["id"]] = (rec, dest)
                continue
            path, dest = place(r, fdir / "witnesses")
            rec = {**r, "kind": "fuzz-witness", "witness_of": prim["id"], "path": path}
            lines.append(rec)
            witnesses = [*(prim.get("witnesses") or [witness_entry(prim)]), witness_entry(rec)]
            prim["witnesses"] = witnesses
            lines.append({"kind": "fuzz-finding-update", "id": prim["id"], "t": time.time(),
                          "updates": {"witnesses": witnesses}})
            made += 1
            counts["witnesses"] += 1
            if prim["id"] not in saved:
                stored = Path(prim["path"]) if prim.get("path") else None
                stored = stored if stored is None or stored.is_absolute() else PROJECT_ROOT / stored
                saved[prim["id"]] = (prim, stored if stored is not None and stored.is_file() else None)
            continue
        if kind == "fuzz-finding-update":
            # a source's own view of witnesses and paths is not the merged store's: those are recomputed here
            updates = {k: v for k, v in (r.get("updates") or {}).items() if k not in ("witnesses", "path")}
            if not updates:
                continue
            r = {**r, "updates": updates}
        lines.append(r)
    if lines:
        target.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join((json.dumps(x, separators=(",", ":"), default=repr) + "\n").encode() for x in lines)
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    counts["added"] = len(lines) - made
    return {**counts, "saved": list(saved.values())}


def witness_ids(recs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each stored witness's id → the finding it witnesses (fuzz runs name the ids their jobs saved)."""
    return {r["id"]: r.get("witness_of") for r in recs if r.get("kind") == "fuzz-witness"}


# -- mechanisms: what causes a finding, not the task that triggered it -------------------------------


@dataclasses.dataclass(frozen=True)
class Family:
    """A mechanism several findings share: what it is, how to avoid it, where upstream knows it."""

    title: str
    meaning: str
    fix: str
    upstream: str | None = None  # the upstream issue that reports this mechanism
    related: str | None = None  # upstream work that touches it without reporting it
    row: str | None = None  # the catalog row (shared/notes/mechanisms.md) it is a variant of


FAILING = ("raise", "reject", "timeout")

FAMILIES = {
    "keyword-chain": Family(
        "a chain built with a keyword is not merged",
        "`chain(a, b, app=app)` (any keyword) skips the merging that `a | b` and `chain(a, b)` do: a group of one is "
        "not unrolled into its task, `group | task` does not become a chord, a group of groups stays nested. The "
        "canvas reaches the workers in a shape `|` never builds, and misbehaves there; typed with `|`, the same "
        "canvas behaves (each finding here was replayed both ways: `lab replay <id> --chains both`).",
        "build chains with `|` or with `chain(a, b)` and no keyword (bind the tasks to the app instead of passing "
        "`app=`).",
        related="celery/celery#9456 made `|` unroll a group of one as `chain(a, b)` already did; the keyword path "
                "is not covered there"),
    "group-after-failure": Family(
        "a failure before a group in a chain",
        "A chain in which a task fails (raises, or rejects and is recorded as FAILURE) before a group later in the "
        "chain (at its end, or followed by more tasks): Celery stores the failure on the failing task, and nothing "
        "marks the group's members or what follows them, so they stay PENDING forever, and so does any chord that "
        "counts that chain. What fails (a raise, a Reject) is incidental; the group after it is the cause "
        "(`scenarios/trailing_group_after_failure.py`, a bare `part | raise | group(part, part)`).",
        "end such a chain in a task (a chord with a body instead of a bare group), or check the failing task's "
        "state instead of waiting on the group.",
        "Celery #6437 (a failure before a group at the end of a chain is not propagated to it)"),
    "group-in-chord-header": Family(
        "a group nested in a chord's header reorders its results",
        "A chord whose header holds a group (beside tasks, or alone) hands the callback that group's results in "
        "another order than its members were given (`[1, 0]` for `group(part(0), part(1))`); with the lab's "
        "distinct values the callback's argument shows it. Nothing fails and nothing is lost, so only a callback "
        "that relies on positions is wrong.",
        "flatten the header (list the tasks themselves, not a group of them), or carry a key in each result "
        "instead of relying on positions."),
    "nested-chord-failure": Family(
        "a failing chord nested in a chord's header",
        "A chord inside another chord's header whose own header fails: the inner callback is marked FAILURE "
        "without running, and the outer chord never counts it, so the outer callback neither runs nor fails "
        "(catalog row 10 lists PENDING for nested canvases; row 9 expects a ChordError).",
        "do not nest chords in a chord's header; chain them, or make the inner header's failure a value.",
        row="10"),
}


def _has_group_after_failure(node: dict) -> bool:
    """A chain with a failing task in one link and a group in a later one (at its end, or before more tasks)."""
    for n in _walk_data(node):
        links = n.get("links") or []
        if n.get("kind") != "chain":
            continue
        for i, link in enumerate(links):
            if any(t.get("kind") == "task" and t.get("behaviour") in FAILING for t in _walk_data(link)) and \
                    any(x.get("kind") == "group" for x in links[i + 1:]):
                return True
    return False


def family_of(r: dict[str, Any]) -> str | None:
    """The mechanism a finding record belongs to (a key of ``FAMILIES``), None when no family fits."""
    shapes = r.get("shapes") or []
    if (r.get("construction") or {}).get("needs") == "chain-app":
        return "keyword-chain"
    if (r.get("verdict") or str(r.get("finding_kind", "")).split("/")[0]) == "stuck" and \
            r.get("cause") not in ("nested-failure-uncounted",) and any(_has_group_after_failure(s) for s in shapes):
        return "group-after-failure"
    if r.get("finding_kind") == "early/order" and any(
            n.get("kind") == "group" for s in shapes for h in s.get("header") or [] for n in _walk_data(h)):
        return "group-in-chord-header"
    if r.get("cause") == "nested-failure-uncounted":
        return "nested-chord-failure"
    return None


def family_key(r: dict[str, Any]) -> str:
    """A family, else the catalog row (``row:3``), else the finding's kind (``kind:unknown/...``)."""
    fam = family_of(r)
    if fam:
        return fam
    mech = r.get("mechanism") or {}
    return f"row:{mech['id']}" if mech.get("known") and mech.get("id") else f"kind:{r.get('finding_kind')}"


def _family_order(key: str) -> tuple:
    known_row = key.startswith("row:")
    return (key.startswith("kind:unknown"), known_row, key.startswith("kind:"), key)


def _family_heading(key: str, r: dict[str, Any]) -> str:
    if key in FAMILIES:
        fam = FAMILIES[key]
        if fam.upstream:
            return f"{fam.title} · known upstream ({fam.upstream.split(' (')[0]})"
        return fam.title + (f" · a variant of catalog row {fam.row} ({MECHANISMS[fam.row]})" if fam.row else " · **new**")
    if key.startswith("row:"):
        mech = r["mechanism"]
        return f"known mechanism {mech['id']}: {mech['name']}"
    kind = key.split(":", 1)[1]
    return f"`{kind}`" + (" · undecided" if kind.startswith("unknown") else " · **new**")


# -- the RESULTS.md section --------------------------------------------------------------------------------


def _gather_records(records_or_paths: Any) -> list[dict[str, Any]]:
    if records_or_paths is None:
        return load_records()
    if isinstance(records_or_paths, (str, Path)):
        records_or_paths = [records_or_paths]
    out: list[dict[str, Any]] = []
    for item in records_or_paths:
        if isinstance(item, dict):
            if str(item.get("kind", "")).startswith("fuzz-"):
                out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            p = p / "fuzz.jsonl"
        out.extend(load_records(p))
    return out


def rejudge(r: dict[str, Any]) -> dict[str, Any]:
    """A finding record judged again from its stored observations with the current oracle and checker."""
    obs = r.get("observations")
    if not obs:
        return {}
    try:
        outcomes = judge_example(obs)
    except Exception as e:  # noqa: BLE001 - an old record the checker cannot read: say so, keep what was stored
        return {"error": f"{type(e).__name__}: {e}"}
    # a canvas with several final tasks (a chain ending in a group) has an outcome for each: the stored kind's
    # one, else one that is a finding, else the first (the first alone read a group's healthy member)
    mine = [x for x in outcomes if x.index == r.get("failing_index", 0)]
    o = next((x for x in mine if x.kind == r.get("finding_kind")), None) or next((x for x in mine if x.finding), None) \
        or next(iter(mine), None)
    if o is None:
        return {}
    verdict, _, detail = (o.kind or f"{o.verdict}/").partition("/")
    detail = None if detail == (o.cause or "") else detail
    mech = classify(o.verdict, o.cause, detail, r.get("shapes") or [], r.get("config"), r.get("scenario") or {}, obs)
    return {"finding": o.finding, "finding_kind": o.kind or f"{o.verdict} (as the oracle allows)", "verdict": o.verdict,
            "cause": o.cause, "summary": o.summary, "evidence": o.evidence, "mechanism": mech}


def _minutes(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def fuzzing_section(records_or_paths: Any = None, finding_runs: list[dict[str, Any]] | None = None,
                    exported: Callable[[str], list[str]] | None = None) -> str:
    """The "Fuzzing findings" section of RESULTS.md, in markdown.

    ``records_or_paths``: None (read ``$LAB_RESULTS/fuzz.jsonl``), or an iterable of fuzz records (dicts
    whose ``kind`` starts with ``fuzz-``; other dicts are skipped) and/or paths to ``fuzz.jsonl`` files or to
    store folders holding one.  ``finding_runs``: the run records of ``lab run <finding id>``, counted per finding.
    ``exported(path)``: a finding file as ``lab export`` writes it (``lab.report.export.reproducer_lines``);
    without it, or when it fails, the stored topology and shape are printed.
    """
    recs = _gather_records(records_or_paths)
    runs = [r for r in recs if r.get("kind") == "fuzz-run"]
    found = latest_records(recs)  # the latest record of a finding wins, with its later updates
    witnessed = witness_ids(recs)  # a merged shard's finding of a mechanism already found: a witness of that finding
    replays = defaultdict(list)
    for r in recs:
        if r.get("kind") == "fuzz-replay":
            replays[r["id"]].append(r)
    for fid, stored in list(found.items()):
        now = rejudge(stored)
        note = None
        if now.get("error"):
            note = f"the current checker could not judge the stored observations again ({now['error']})"
        elif now and now["finding_kind"] != stored["finding_kind"]:
            note = (f"stored as `{stored['finding_kind']}`; judged again from its stored observations with the "
                    f"current checker it is `{now['finding_kind']}`" + ("" if now["finding"] else ", not a finding"))
        if now and not now.get("error"):
            found[fid] = {**stored, **{k: v for k, v in now.items() if k != "finding"}, "_note": note}
        else:
            found[fid] = {**stored, "_note": note}
    out = ["## Fuzzing findings\n"]
    if not runs and not found:
        out.append("_No fuzz runs are stored yet: `python -m lab fuzz healthy --budget 300s` makes some._\n")
        return "\n".join(out) + "\n"
    total_s = sum(r["stats"]["elapsed_s"] for r in runs)
    total_ex = sum(r["stats"]["examples"] for r in runs)
    total_ch = sum(r["stats"]["chords"] for r in runs)
    out.append(f"_Generated from {len(runs)} fuzz run(s) stored in `fuzz.jsonl`: {total_ex} examples, {total_ch} chords, "
               f"{_minutes(total_s)} of fuzzing. Hypothesis drew chord shapes (and, in the `configs` space, the "
               "topology and Celery config), every chord's outer callback was judged against an oracle computed "
               "from the shape, and each finding was shrunk, saved under `findings/` and replayed._\n")
    out.append("| space | topology | runs | examples | chords | chords/s | fuzzing time | verdicts | findings |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple, list] = defaultdict(list)
    for r in runs:
        flat = (r.get("plan") or {}).get("nested") is False
        groups[(r["space"] + (" (flat chords)" if flat else ""), r.get("base") or "drawn")].append(r)
    for (space, base), rs in sorted(groups.items()):
        ex = sum(r["stats"]["examples"] for r in rs)
        ch = sum(r["stats"]["chords"] for r in rs)
        t = sum(r["stats"]["elapsed_s"] for r in rs)
        busy = sum(r["stats"].get("example_s", 0) for r in rs)
        verdicts: Counter = Counter()
        for r in rs:
            verdicts.update(r["stats"].get("verdicts") or {})
        ids = sorted({witnessed.get(i) or i for r in rs for i in r.get("findings") or []})
        kinds = ", ".join(f"`{k}`" for k in sorted({found[i]["finding_kind"] if i in found else i for i in ids}))
        out.append(f"| {space} | `{base}` | {len(rs)} | {ex} | {ch} | {ch / busy if busy else 0:.1f} | {_minutes(t)} | "
                   + ", ".join(f"{n} {k}" for k, n in sorted(verdicts.items()))
                   + f" | {kinds or '**no finding**'} |")
    out.append("")
    out.append("_Verdicts count every chord judged, shrinking included; a chord the oracle expected to be stuck "
               "or failed (a Reject, Ignore or raising part) counts under its verdict without being a finding._\n")
    # one subsection per mechanism (what causes it, not the task that happened to trigger it): its most
    # reliable, smallest reproducer in full, exported as plain Celery; then every other finding of it
    by_family: dict[str, list[dict]] = defaultdict(list)
    for fid, r in found.items():
        by_family[family_key({**r, "id": fid})].append({**r, "id": fid})
    by_scenario: dict[str, list[dict]] = defaultdict(list)
    for run in finding_runs or []:
        by_scenario[run.get("scenario")].append(run)

    def size(r: dict) -> tuple:
        rep = r.get("replay") or {}
        return (-(rep.get("rate") or 0), sum(1 for sh in r.get("shapes") or [] for n in _walk_data(sh)
                                            if n.get("kind") == "task"), r["id"])

    out.append("_Findings by mechanism. Each finding is a scenario file under `findings/` whose `canvas(app)` builds the shrunk canvas "
               "exactly as it was sent; `python -m lab run <id>` sends it and judges it by the oracle computed from "
               "it, and `python -m lab export <id> --to DIR` writes it as plain Celery (the form printed below; "
               "`tests/test_export.py` runs one per new mechanism in plain Celery). Findings are grouped by what "
               "causes them: the construction path of a chain is a cause of its own._\n")
    for key in sorted(by_family, key=_family_order):
        group = sorted(by_family[key], key=size)
        r = group[0]
        fid = r["id"]
        out.append(f"### {_family_heading(key, r)}\n")
        fam = FAMILIES.get(key)
        if fam:
            out.append(f"{fam.meaning}\n")
            out.append(f"_Fix:_ {fam.fix}\n")
            if fam.upstream:
                out.append(f"_Upstream:_ {fam.upstream}.\n")
            if fam.related:
                out.append(f"_Related upstream:_ {fam.related}.\n")
        mech = r["mechanism"]
        if mech.get("why") and not fam:
            out.append(f"_Why this row:_ {mech['why']}.\n")
        causes = {**CAUSES, **FUZZ_CAUSES}
        kinds = Counter(x["finding_kind"] for x in group)
        meanings = sorted({f"`{x['cause']}`: {causes[x['cause']]}" for x in group if x.get("cause") in causes})
        out.append(f"_Findings:_ {len(group)} ({', '.join(f'`{k}` ×{n}' for k, n in sorted(kinds.items()))})"
                   + (f"; {'; '.join(meanings)}" if meanings else "") + ".\n")
        if r.get("_note"):
            out.append(f"_Note:_ {r['_note']}.\n")
        rep = r.get("replay") or {}
        later = [x for x in replays.get(fid, []) if not (x.get("replay") or {}).get("chains")]  # paths: below
        rate = f"{rep.get('reproduced')}/{rep.get('runs')}" if rep else "not replayed"
        if later:
            rate += "; later replays " + ", ".join(f"{x['replay']['reproduced']}/{x['replay']['runs']}" for x in later)
        flaky = " **flaky**" if rep.get("flaky") or any(x["replay"].get("flaky") for x in later) else ""
        ran = by_scenario.get(fid) or []
        lab_runs = (f"; `lab run` matched {sum(1 for x in ran if (x.get('outcome') or {}).get('status') == 'matched')}"
                    f"/{len(ran)}") if ran else ""
        out.append(f"**Minimal reproducer** `{fid}`: {r['summary']} (space `{r['space']}`, topology "
                   f"`{r.get('base') or 'drawn'}`; found after {r['examples_before']} example(s), shrunk in "
                   f"{r['shrink_s']:.0f} s; replayed {rate}{flaky}{lab_runs}). Exported (`python -m lab export {fid}`):\n")
        out.append("```python\n" + "\n".join(_exported(r, exported)) + "\n```\n")
        if construction_line(r.get("construction")):
            out.append(f"_Construction:_ {construction_line(r.get('construction'))}.\n")
        if len(r.get("witnesses") or []) > 1:
            out.append(f"_Witnesses:_ {len(r['witnesses'])} findings of this kind merged into this one, each shrunk "
                       "from its own seed: " + "; ".join(
                           f"`{w['id']}` (seed {w.get('seed')}" + (f", shard {w['shard']}" if w.get("shard") else "")
                           + f": `{w.get('canvas')}`)" for w in r["witnesses"]) + ".\n")
        if r.get("evidence"):
            out.append("```text\n" + "\n".join(r["evidence"][:10]) + "\n```\n")
        v = r.get("versions") or {}
        out.append(f"Versions: celery {v.get('celery')}, kombu {v.get('kombu')}, redis-py {v.get('redis-py')}, "
                   f"redis-server {v.get('redis-server')}, hypothesis {r.get('hypothesis')}. "
                   f"Rerun: `python -m lab run {fid}`; in a fuzz session: `python -m lab replay {fid}`; "
                   f"scenario file `{r.get('path')}`"
                   + (f"; hypothesis blob `{r['blob']}`" if r.get("blob") else "") + ".\n")
        if len(group) > 1:
            out.append(f"Also {len(group) - 1} more, each shrunk and saved: " + "; ".join(
                f"`{x['id']}` (`{x['finding_kind']}`, {x['space']} on `{x.get('base') or 'drawn'}`, replayed "
                f"{(x.get('replay') or {}).get('reproduced')}/{(x.get('replay') or {}).get('runs')}"
                + (f", `lab run` matched {sum(1 for y in by_scenario[x['id']] if (y.get('outcome') or {}).get('status') == 'matched')}/{len(by_scenario[x['id']])}"
                   if by_scenario.get(x["id"]) else "")
                + f": `{x['canvas']}`)" for x in group[1:]) + ".\n")
    clean = [k for k, rs in groups.items() if not any(r.get("findings") for r in rs)]
    if clean:
        out.append("**No finding** in: " + "; ".join(
            f"`{s}` on `{b}` ({sum(r['stats']['examples'] for r in groups[(s, b)])} examples, "
            f"{_minutes(sum(r['stats']['elapsed_s'] for r in groups[(s, b)]))})" for s, b in sorted(clean)) + ".\n")
    return "\n".join(out) + "\n"


def _exported(r: dict[str, Any], exported: Callable[[str], list[str]] | None) -> list[str]:
    """The finding as ``lab export`` writes it (its workers' command lines, its canvas as sent); the stored
    topology and shape when its file is gone or cannot be exported."""
    path = r.get("path")
    if exported is not None and path and (PROJECT_ROOT / path).is_file():
        try:
            return exported(str(PROJECT_ROOT / path))
        except LabError as e:
            return [f"# not exportable as plain Celery: {e}"] + _reproducer_lines(r)
    return _reproducer_lines(r)


def _reproducer_lines(r: dict[str, Any]) -> list[str]:
    lines = []
    sc = r.get("scenario") or {}
    cfg = sc.get("config") or {}
    if cfg:
        lines.append("app.conf.update(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")")
    for w in sc.get("workers") or []:
        q = f" -Q {','.join(w['queues'])}" if w.get("queues") else ""
        code = f"  # code: {', '.join(w['tasks'])}" if w.get("tasks") else ""
        lines.append(f"celery -A proj worker -n {w['name']}@%h -P {w['pool']} -c {w['concurrency']}{q}{code}")
    if sc.get("redis_options"):
        lines.append("redis-server " + " ".join(f"--{k} {v}" for k, v in sc["redis_options"].items()))
    if sc.get("backend") != "redis":
        lines.append(f"# result backend: {sc.get('backend')}")
    shapes = [S.from_data(d) for d in r.get("shapes") or []]
    for s in shapes:
        lines.append(S.describe(s) + ".apply_async()")
    return lines
