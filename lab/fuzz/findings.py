"""Findings: shrunk reproducers saved as scenario files and records, and their RESULTS.md section.

    strategies → session → oracle + judge → search → **findings** (files, records, report)

A finding is saved twice:

- ``findings/<id>.py`` (or ``$LAB_FINDINGS``): a scenario script that
  ``lab.scenario.load`` accepts and ``python -m lab run`` runs, with the
  shrunk shape (``SHAPES``, fuzzer data) and everything else about the finding
  (``FINDING``: kind, verdict, cause, proof, seed, hypothesis blob, replay rate,
  versions, known mechanism).  ``lab.Chord`` only expresses flat chords; when
  the shape is nested, the scenario's chord is a flat projection of it (the
  file says whether that projection reproduces the finding), and
  ``python -m lab replay <id>`` runs the exact shape through a fuzz session.
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
from typing import Any, Iterable

from lab import records
from lab.errors import LabError
from lab.fuzz import strategies as S
from lab.fuzz.oracle import FUZZ_CAUSES, final_tasks, judge_example
from lab.judge import CAUSES
from lab.scenario import Chord, Scenario, load_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

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
        return row("4", "the chord keys expired before the parts returned")
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


def projection(shape: S.ChordShape) -> S.ChordShape:
    """A flat chord with the same tasks in its header: what ``lab.Chord`` can express of a nested shape."""
    if not isinstance(shape, S.ChordShape):  # a bare chain or group: its tasks before its first final task
        finals = final_tasks(shape)
        rest = [n for n in S.walk(shape) if isinstance(n, S.TaskShape) and n not in finals] or finals[:1]
        shape = S.ChordShape(tuple(rest), finals[0])
    leaves = [n for h in shape.header for n in S.walk(h) if isinstance(n, S.TaskShape)]
    behaviours = {t.behaviour for t in leaves} - {"raise"}
    behaviour = behaviours.pop() if len(behaviours) == 1 else "ok"
    options = leaves[0].options if leaves else S.Options()
    options = dataclasses.replace(options, eta=None)
    header = tuple(S.TaskShape(behaviour="raise" if t.behaviour == "raise" else behaviour, value=t.value,
                               duration=t.duration, options=options) for t in leaves)
    body = final_tasks(shape)[0]
    return S.ChordShape(header, S.TaskShape(options=body.options))


def scenario_for(found, name: str, chords: tuple[Chord, ...], expect: str, expect_cause: str | None,
                 mechanism: str | None, description: str) -> Scenario:
    base = found.scenario
    return dataclasses.replace(base, name=name, description=description, expect=expect,
                               expect_cause=expect_cause if expect in ("stuck", "failed") else None,
                               mechanism=mechanism, fix=None, chords=chords, faults=(), source=None)


def save(found, *, session, space: str, base: str | None, plan: dict[str, Any], directory: Path | None = None,
         check_projection: bool = True) -> tuple[dict[str, Any], Path]:
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
    exact = len(found.shapes) == 1 and S.is_flat(found.shapes[0])
    projected = found.shapes if exact else [projection(s) for s in found.shapes]
    projection_reproduces = None
    if not exact and check_projection:
        from lab.fuzz.search import replay_example

        projection_reproduces = replay_example(session, projected, found.config, found.kind, 1)["reproduced"] == 1
    chords = tuple(S.to_chord(s) for s in projected)
    canvas = S.describe(found.failing_shape)
    expect = verdict if verdict in ("stuck", "failed", "duplicated", "early", "unrecorded", "completed") else "unknown"
    description = f"fuzzed: {found.kind} with {canvas}"[:300]
    scenario = scenario_for(found, fid, chords, expect, cause, mech["id"], description)
    versions = records.versions(session.topo.redis.version if session.topo else None)
    record = {
        "kind": "fuzz-finding", "id": fid, "finding_kind": found.kind, "t": time.time(),
        "space": space, "base": base, "verdict": verdict, "cause": cause, "detail": detail or None,
        "summary": o.summary, "evidence": o.evidence, "expected": list(o.expected),
        "canvas": canvas, "shapes": shapes_data, "failing_index": o.index,
        "config": found.config.to_data() if found.config else None,
        "config_changed": {k: _plain(v) for k, v in found.config.changed().items()} if found.config else None,
        "scenario": scenario.to_dict(), "exact": exact, "projection_reproduces": projection_reproduces,
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


def scenario_source(scenario: Scenario, record: dict[str, Any]) -> str:
    """The finding as a scenario script: docstring, FINDING, SHAPES and ``scenario``."""
    rep = record["replay"] or {}
    mech = record["mechanism"]
    known = (f"known mechanism {mech['id']} ({mech['name']}): {mech['why']}" if mech["known"]
             else f"new (not in shared/notes/mechanisms.md): {mech['why']}")
    how_run = ("`python -m lab run` sends exactly this chord" if record["exact"] else
               "the shape is nested: `python -m lab run` sends the flat projection below, which "
               + {True: "reproduces the finding too", False: "does NOT reproduce it",
                  None: "was not checked"}[record["projection_reproduces"]]
               + "; `python -m lab replay` sends the exact shape")
    doc = f'''"""Fuzzing finding {record['id']}: {record['finding_kind']}.

Shrunk to: {record['canvas']}
{record['summary']}

{known}.
Found by `{record['command']}` (seed {record['seed']}), after {record['examples_before']} example(s);
replayed {rep.get('reproduced')}/{rep.get('runs')} time(s){' (flaky)' if rep.get('flaky') else ''}.
Replay: `python -m lab replay {record['id']}`; {how_run}.
"""'''
    finding = {k: record[k] for k in ("id", "finding_kind", "verdict", "cause", "detail", "summary", "evidence",
                                      "expected", "canvas", "failing_index", "config_changed", "exact",
                                      "projection_reproduces", "mechanism", "seed", "blob", "hypothesis",
                                      "examples_before", "replay", "space", "base", "versions", "git")}
    finding["config"] = record["config"]
    lines = [doc, "", "from lab import Chord, Scenario, Worker", "",
             "# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).",
             "FINDING = " + pprint.pformat(finding, width=110, sort_dicts=False), "",
             "# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).",
             "SHAPES = " + pprint.pformat(record["shapes"], width=110, sort_dicts=False), "",
             "scenario = " + _scenario_expr(scenario), ""]
    return "\n".join(lines)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def _scenario_expr(s: Scenario) -> str:
    parts = [f"name={s.name!r}", f"description={s.description!r}", f"expect={s.expect!r}"]
    for f in dataclasses.fields(Scenario):
        if f.name in ("name", "description", "expect", "workers", "chords", "source"):
            continue
        v = getattr(s, f.name)
        if v != _default(f):
            parts.append(f"{f.name}={v!r}")
    workers = ",\n        ".join(_dataclass_expr(w, "Worker") for w in s.workers)
    chords = ",\n        ".join(_dataclass_expr(c, "Chord") for c in s.chords)
    parts.append(f"workers=(\n        {workers},\n    )")
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
    o = next((x for x in outcomes if x.index == r.get("failing_index", 0)), None)
    if o is None:
        return {}
    verdict, _, detail = (o.kind or f"{o.verdict}/").partition("/")
    detail = None if detail == (o.cause or "") else detail
    mech = classify(o.verdict, o.cause, detail, r.get("shapes") or [], r.get("config"), r.get("scenario") or {}, obs)
    return {"finding": o.finding, "finding_kind": o.kind or f"{o.verdict} (as the oracle allows)", "verdict": o.verdict,
            "cause": o.cause, "summary": o.summary, "evidence": o.evidence, "mechanism": mech}


def _minutes(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def fuzzing_section(records_or_paths: Any = None) -> str:
    """The "Fuzzing findings" section of RESULTS.md, in markdown.

    ``records_or_paths``: None (read ``$LAB_RESULTS/fuzz.jsonl``), or an iterable of fuzz records (dicts
    whose ``kind`` starts with ``fuzz-``; other dicts are skipped) and/or paths to ``fuzz.jsonl`` files or to
    store folders holding one.
    """
    recs = _gather_records(records_or_paths)
    runs = [r for r in recs if r.get("kind") == "fuzz-run"]
    found = {}
    for r in recs:
        if r.get("kind") == "fuzz-finding":
            found[r["id"]] = r  # the latest record of a finding wins
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
        ids = sorted({i for r in rs for i in r.get("findings") or []})
        kinds = ", ".join(f"`{k}`" for k in sorted({found[i]["finding_kind"] if i in found else i for i in ids}))
        out.append(f"| {space} | `{base}` | {len(rs)} | {ex} | {ch} | {ch / busy if busy else 0:.1f} | {_minutes(t)} | "
                   + ", ".join(f"{n} {k}" for k, n in sorted(verdicts.items()))
                   + f" | {kinds or '**no finding**'} |")
    out.append("")
    out.append("_Verdicts count every chord judged, shrinking included; a chord the oracle expected to be stuck "
               "or failed (a Reject, Ignore or raising part) counts under its verdict without being a finding._\n")
    # one subsection per kind of finding: its smallest reproducer in full, then where else it was found
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for fid, r in found.items():
        by_kind[r["finding_kind"]].append({**r, "id": fid})

    def size(r: dict) -> tuple:
        rep = r.get("replay") or {}
        return (-(rep.get("rate") or 0), sum(1 for sh in r.get("shapes") or [] for n in _walk_data(sh)
                                            if n.get("kind") == "task"), r["id"])

    kinds_in_order = sorted(by_kind, key=lambda k: (not by_kind[k][0]["mechanism"]["known"], k))
    for kind in kinds_in_order:
        group = sorted(by_kind[kind], key=size)
        r = group[0]
        fid = r["id"]
        mech = r["mechanism"]
        label = (f"known mechanism {mech['id']} ({mech['name']})" if mech["known"] else "**new**")
        out.append(f"### `{kind}` · {label}\n")
        out.append(f"{r['summary']}\n")
        if r.get("_note"):
            out.append(f"_Note:_ {r['_note']}.\n")
        if mech.get("why"):
            out.append(f"_Why this row:_ {mech['why']}.\n")
        causes = {**CAUSES, **FUZZ_CAUSES}
        if r.get("cause") in causes:
            out.append(f"_Cause:_ {causes[r['cause']]}.\n")
        rep = r.get("replay") or {}
        later = replays.get(fid, [])
        rate = f"{rep.get('reproduced')}/{rep.get('runs')}" if rep else "not replayed"
        if later:
            rate += "; later replays " + ", ".join(f"{x['replay']['reproduced']}/{x['replay']['runs']}" for x in later)
        flaky = " **flaky**" if rep.get("flaky") or any(x["replay"].get("flaky") for x in later) else ""
        out.append(f"**Minimal reproducer** `{fid}` (space `{r['space']}`, topology `{r.get('base') or 'drawn'}`; "
                   f"found after {r['examples_before']} example(s), shrunk in {r['shrink_s']:.0f} s; replayed {rate}{flaky}):\n")
        out.append("```python\n" + "\n".join(_reproducer_lines(r)) + "\n```\n")
        if r.get("evidence"):
            out.append("```text\n" + "\n".join(r["evidence"][:10]) + "\n```\n")
        v = r.get("versions") or {}
        out.append(f"Versions: celery {v.get('celery')}, kombu {v.get('kombu')}, redis-py {v.get('redis-py')}, "
                   f"redis-server {v.get('redis-server')}, hypothesis {r.get('hypothesis')}. "
                   f"Replay: `python -m lab replay {fid}`; scenario file `{r.get('path')}` "
                   + ("(exact)" if r.get("exact") else
                      f"(a flat projection, which {'reproduces it too' if r.get('projection_reproduces') else 'does not reproduce it'})")
                   + (f"; hypothesis blob `{r['blob']}`" if r.get("blob") else "") + ".\n")
        if len(group) > 1:
            out.append(f"Also found {len(group) - 1} more time(s), each shrunk and saved: " + "; ".join(
                f"`{x['id']}` ({x['space']} on `{x.get('base') or 'drawn'}`, replayed "
                f"{(x.get('replay') or {}).get('reproduced')}/{(x.get('replay') or {}).get('runs')}: {x['canvas']})"
                for x in group[1:]) + ".\n")
    clean = [k for k, rs in groups.items() if not any(r.get("findings") for r in rs)]
    if clean:
        out.append("**No finding** in: " + "; ".join(
            f"`{s}` on `{b}` ({sum(r['stats']['examples'] for r in groups[(s, b)])} examples, "
            f"{_minutes(sum(r['stats']['elapsed_s'] for r in groups[(s, b)]))})" for s, b in sorted(clean)) + ".\n")
    return "\n".join(out) + "\n"


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
