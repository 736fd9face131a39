"""The witness experiment: is the flight recorder the lab's own ledger?  Every scenario run under both.

    scenario → run witnessed by the file ledger, same seed witnessed by the flight recorder → records → verdicts compared → RESULTS.md

``witness_rows(names)`` (``python -m lab witness [SCENARIO ...]``) runs each scenario twice with one seed:
once as every lab run is witnessed (the file ledger, ``lab.observe.ledger``), once with the flight recorder
(``lab.recorder``) installed in the producer and every worker in its place (``lab run --witness recorder``).
The same judge decides both; ``compare`` sets their verdicts and causes side by side, chord by chord in
sending order.  Both records go to the results store like any run, marked
``"experiment": {"name": "witness", "pair": id, "witness": ...}``, so RESULTS.md's section
(``lab.report.witness``) is rebuilt from them, re-judged, by ``lab report``.  A scenario the process runtime
cannot run (container faults) or that the fuzzer's session runs (a canvas) is skipped, with the reason.
``recorder="recorder-broker"`` (``lab witness --store broker``) puts the recorder's stream on the scenario's own
redis-server instead, where a user's recorder on the broker would be, faults and all.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from lab import records
from lab.errors import LabError
from lab.scenario import Scenario

WITNESSES = ("ledger", "recorder")  # the two sides of a pair; the recorder's side is "recorder" or "recorder-broker"
RECORDERS = ("recorder", "recorder-broker")
EXPERIMENT = "witness"


def skip_reason(s: Scenario) -> str | None:
    """Why scenario ``s`` cannot be run under both witnesses here, in one sentence; None when it can."""
    from lab.runtime.process.runtime import ProcessRuntime
    from lab.scenario.model import judged_by_oracle

    why = ProcessRuntime().refuses(s)
    if why:
        return why
    if judged_by_oracle(s):
        return "a canvas of the fuzzer's tasks, run by the fuzzer's session, which follows the file ledger only"
    return None


def signature(verdict: Any) -> str:
    """A verdict and its cause as one word: ``stuck·callback-queue-unconsumed``."""
    v, c = (verdict["verdict"], verdict.get("cause")) if isinstance(verdict, dict) else (verdict.verdict, verdict.cause)
    return v + (f"·{c}" if c else "")


def compare(scenario: str, by_witness: dict[str, list[Any]], **fields: Any) -> dict[str, Any]:
    """The two witnesses' verdicts, chord by chord in sending order: ``{scenario, chords, agree, ledger: [...],
    recorder: [...], disagreements: [{chord, ledger, recorder}]}`` (a chord one run sent and the other did not
    reads "not sent")."""
    ledger = [signature(v) for v in by_witness["ledger"]]
    recorder = [signature(v) for v in by_witness["recorder"]]
    n = max(len(ledger), len(recorder))
    ledger, recorder = (xs + ["not sent"] * (n - len(xs)) for xs in (ledger, recorder))
    disagreements = [{"chord": i, "ledger": a, "recorder": b} for i, (a, b) in enumerate(zip(ledger, recorder)) if a != b]
    return {"scenario": scenario, **fields, "chords": n, "agree": n - len(disagreements), "ledger": ledger,
            "recorder": recorder, "disagreements": disagreements}


def event_counts(record: dict[str, Any]) -> dict[str, int]:
    """The events a run's witness saw, by kind: where two witnesses disagree, the first thing to look at."""
    return dict(sorted(Counter(e.get("event") for e in (record.get("observations") or {}).get("ledger") or []).items()))


def witness_pair(name: str, *, seed: int = 0, reporter: Any = None, recorder: str = "recorder") -> dict[str, Any]:
    """Run scenario ``name`` under the file ledger and then under ``recorder`` with ``seed``; their records stored,
    their verdicts compared."""
    from lab.experiments.run import run_scenario
    from lab.scenario import load

    try:
        s = load(name)
    except LabError as e:
        return {"scenario": name, "skipped": str(e)}
    why = skip_reason(s)
    if why:
        return {"scenario": name, "skipped": why}
    pair = f"{s.name}-{secrets.token_hex(3)}"
    recs: dict[str, dict[str, Any]] = {}
    t0 = time.time()
    for side, witness in zip(WITNESSES, ("ledger", recorder)):
        try:
            result = run_scenario(s, seed=seed, reporter=reporter, witness=witness,
                                  extra={"experiment": {"name": EXPERIMENT, "pair": pair, "witness": witness}})
        except LabError as e:  # RabbitMQ or PostgreSQL not here, a node that did not start
            return {"scenario": name, "skipped": str(e)}
        recs[side] = result.record
    return row_of(pair, recs, elapsed_s=round(time.time() - t0, 1))


def row_of(pair: str, recs: dict[str, dict[str, Any]], *, judge: Callable[[dict], list] | None = None,
           **fields: Any) -> dict[str, Any]:
    """One pair's row from its two records: their stored verdicts, or ``judge(observations)``'s (re-judged)."""
    verdicts = {w: judge(rec["observations"]) if judge else rec["verdicts"] for w, rec in recs.items()}
    rec = recs["recorder"]
    witnessed = rec["observations"].get("recorder") or {}
    return compare(rec["scenario"], verdicts, pair=pair, seed=rec["seed"], recorder_witness=rec["observations"].get("witness"),
                   runs={w: r["run_id"] for w, r in recs.items()},
                   events={w: event_counts(r) for w, r in recs.items()},
                   dropped=witnessed.get("dropped"), read_errors=witnessed.get("read_errors"),
                   stored=witnessed.get("stored"), **fields)


def stored_pairs(recs: Iterable[dict[str, Any]], recorder: str | None = None) -> list[dict[str, dict[str, Any]]]:
    """The witness experiment's pairs among stored records, in the order they were stored: ``{"ledger": record,
    "recorder": record}`` with both sides present (a pair cut short by an interruption is left out); only those
    whose recorder side is ``recorder`` ("recorder" or "recorder-broker") when given."""
    pairs: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in recs:
        exp = rec.get("experiment") or {}
        if exp.get("name") == EXPERIMENT and exp.get("witness") in ("ledger", *RECORDERS):
            if exp["witness"] != "ledger" and recorder and exp["witness"] != recorder:
                continue
            pairs.setdefault(exp.get("pair"), {})["ledger" if exp["witness"] == "ledger" else "recorder"] = rec
    return [p for p in pairs.values() if all(w in p for w in WITNESSES)]


def summarize_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ran = [r for r in rows if "skipped" not in r]
    return {"scenarios": len(rows), "ran": len(ran), "pairs": len(ran), "chords": sum(r["chords"] for r in ran),
            "agree": sum(r["agree"] for r in ran),
            "disagreements": [f"{r['scenario']} (seed {r['seed']}) chord {d['chord']}: ledger {d['ledger']}, "
                              f"recorder {d['recorder']}" for r in ran for d in r["disagreements"]],
            "skipped": {r["scenario"]: r["skipped"] for r in rows if "skipped" in r}}


def default_campaign(label: str = EXPERIMENT) -> str:
    """The next campaign name in the store's numbering: ``<UTC date>-<n>-witness``."""
    numbers = [int(m.group(1)) for p in records.campaign_files()
               if (m := re.match(r"\d{4}-\d{2}-\d{2}-(\d+)-", p.name))]
    return f"{time.strftime('%Y-%m-%d', time.gmtime())}-{max(numbers, default=0) + 1}-{label}"


def witness_rows(names: list[str], *, seed: int = 0, campaign: str | None = None, reporter: Any = None,
                 recorder: str = "recorder", on_row: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Every scenario of ``names`` under both witnesses, stored in ``campaign`` ($LAB_CAMPAIGN, else the next
    ``<date>-<n>-witness``): ``{"campaign", "rows": [row, ...], "summary": {...}}``."""
    name = campaign or os.environ.get("LAB_CAMPAIGN") or default_campaign()
    before = os.environ.get("LAB_CAMPAIGN")
    os.environ["LAB_CAMPAIGN"] = name
    rows: list[dict[str, Any]] = []
    try:
        records.campaign()  # a bad name: one sentence before anything runs
        for n in names:
            row = witness_pair(n, seed=seed, reporter=reporter, recorder=recorder)
            rows.append(row)
            if on_row:
                on_row(row)
    finally:
        if before is None:
            os.environ.pop("LAB_CAMPAIGN", None)
        else:
            os.environ["LAB_CAMPAIGN"] = before
    return {"campaign": name, "rows": rows, "summary": summarize_rows(rows)}
