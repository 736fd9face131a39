"""Does the timeline agree with the ledger?  Re-draw stored runs and count contradictions.

    python bench/timeline_agreement.py [--store DIR] [--limit N] [--terminal]

Where this sits: after the records exist, beside ``lab show``.  Each stored
run's observations go through ``lab.views.timeline.timeline_events`` (what both the
terminal chart and the SVG draw) and the picture is checked against the
ledger itself, read here directly and independently of the timeline's code:

* ``never ran``: a task that ran (the ledger holds a start or an end of it)
  with more of its messages drawn as never taken ("never ran", "waiting",
  "unacked") than its publishes left over after its deliveries (a retry's
  second message may really still wait);
* ``no end``: a run drawn as "no end recorded" although the worker process
  that logged its start logged as many ends of that task as starts (a
  killed run's start paired with its redelivery's end, say);
* ``no bar``: a task the ledger shows started and ended that has no run bar.

With ``--terminal`` the terminal chart is rendered too, and a run counts when
one of its notes names such a task as waiting (the notes keep at most 12
moments, so this can only be lower).  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab import records  # noqa: E402
from lab.views.timeline import render_terminal, timeline_events  # noqa: E402


def ledger_facts(obs: dict) -> dict[str, dict[str, Any]]:
    """Per task id, counted straight from the ledger: publishes, deliveries, starts and ends per worker.

    A delivery is a worker taking a message: a start that is not a redelivery,
    or a discard (unregistered, rejected); a task with ends and no start was
    delivered as many times as it ended, and one that ran was delivered at
    least once.  Order and timestamps are not used.
    """
    facts: dict[str, dict[str, Any]] = defaultdict(lambda: {"publish": 0, "start": 0, "fresh_start": 0, "end": 0,
                                                            "discard": 0, "starts_on": Counter(), "ends_on": Counter(),
                                                            "start_pid": {}})
    for e in obs.get("ledger") or []:
        if not isinstance(e, dict) or not e.get("task_id"):
            continue
        f, ev = facts[e["task_id"]], e.get("event")
        if ev == "publish" and isinstance(e.get("t"), (int, float)):
            f["publish"] += 1
        elif ev == "start":
            f["start"] += 1
            f["fresh_start"] += e.get("redelivered") is not True
            f["starts_on"][(e.get("worker"), e.get("pid"))] += 1
            if isinstance(e.get("t"), (int, float)):
                f["start_pid"][round(e["t"], 4)] = e.get("pid")
        elif ev == "end":
            f["end"] += 1
            f["ends_on"][(e.get("worker"), e.get("pid"))] += 1
        elif ev in ("unregistered", "rejected"):
            f["discard"] += 1
    for f in facts.values():
        f["ran"] = bool(f["start"] or f["end"])
        f["deliveries"] = max((f["fresh_start"] if f["start"] else f["end"]) + f["discard"], int(f["ran"]))
    return facts


def contradictions(obs: dict) -> dict[str, set[str]]:
    """Task ids per kind of contradiction between the timeline of ``obs`` and its ledger."""
    facts = ledger_facts(obs)
    events = timeline_events(obs)
    host_of = {e["id"]: e.get("hostname") for e in events if e.get("type") == "lane" and e.get("kind") == "worker"}
    bars = [e for e in events if e.get("type") == "bar"]
    out: dict[str, set[str]] = {"never ran": set(), "no end": set(), "no bar": set()}
    waiting = Counter(b.get("task_id") for b in bars if b["kind"] == "wait" and b["outcome"] == "waiting")
    for tid, n in waiting.items():
        f = facts.get(tid)
        # more messages drawn as never taken than the ledger's publishes left over after its deliveries
        if f and f["ran"] and n > max(0, f["publish"] - f["deliveries"]):
            out["never ran"].add(tid)
    origin = obs.get("started_at") if isinstance(obs.get("started_at"), (int, float)) else None
    for b in bars:
        f = facts.get(b.get("task_id"))
        if b["kind"] == "run" and b["outcome"] == "unfinished" and f and origin is not None:
            # the process that logged this start: did it log as many ends of the task as starts?
            pid = f["start_pid"].get(round(origin + b["start"], 4), "?")
            key = (host_of.get(b["lane"]), pid)
            if f["ends_on"][key] and f["ends_on"][key] >= f["starts_on"][key]:
                out["no end"].add(b["task_id"])
    with_run_bar = {b.get("task_id") for b in bars if b["kind"] == "run"}
    out["no bar"] = {tid for tid, f in facts.items() if f["start"] and f["end"]} - with_run_bar
    return out


def terminal_says_waiting(obs: dict, verdicts: list[dict], tids: set[str]) -> bool:
    """Whether a note of the terminal chart says one of ``tids`` is waiting or never ran."""
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(render_terminal(obs, verdicts, width=160))
    for line in console.export_text(styles=False).splitlines():
        if any(w in line for w in ("never ran", "waiting", "unacked")):
            if any(f"(task {tid})" in line for tid in tids):
                return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, default=records.store_dir(), help="a results store (its records/ and any runs.jsonl)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N records (0: all)")
    ap.add_argument("--terminal", action="store_true", help="also render the terminal chart and read its notes")
    args = ap.parse_args()

    runs = 0
    runs_with: Counter = Counter()
    tasks_with: Counter = Counter()
    terminal_runs = 0
    examples: dict[str, str] = {}
    for rec in records.load_all(args.store):
        if args.limit and runs >= args.limit:
            break
        obs = rec.get("observations") or {}
        runs += 1
        found = contradictions(obs)
        for kind, tids in found.items():
            if tids:
                runs_with[kind] += 1
                tasks_with[kind] += len(tids)
                examples.setdefault(kind, rec.get("run_id", "?"))
        if any(found.values()):
            runs_with["any"] += 1
        if args.terminal and found["never ran"]:
            terminal_runs += terminal_says_waiting(obs, rec.get("verdicts") or [], found["never ran"])
    report = {"store": str(args.store), "runs": runs, "runs_with": dict(runs_with),
              "tasks_with": dict(tasks_with), "first_example": examples}
    if args.terminal:
        report["runs_whose_terminal_notes_say_never_ran"] = terminal_runs
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
