"""RESULTS.md's section "The recorder as the witness", from the witness experiment's stored records.

    scenario → run under the file ledger, same seed under the flight recorder → records → **RESULTS.md**

Read-only over stored records, like ``lab.report.results``.  ``witness_section(recs)`` finds the pairs
``lab.experiments.witness`` stored (``python -m lab witness``), judges both records of each again with the
current checker, and tables per scenario: pairs, chords, the verdicts under each witness, and how many
chords agree; then every disagreement with both verdicts, the scenarios that could not run and why, and
where the recorder is a weaker witness than the files.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from lab.experiments.witness import row_of, skip_reason, stored_pairs


def _counts(words: list[str]) -> str:
    c = Counter(words)
    return ", ".join(f"{n}× {k}" if n > 1 else k for k, n in sorted(c.items())) or "—"


def _skipped(ran: set[str]) -> dict[str, str | None]:
    """The scenarios of scenarios/ that no pair covers, with why the experiment skips them (None: it does not)."""
    from lab.errors import LabError
    from lab.scenario import load, scenario_paths

    out = {}
    for name in scenario_paths():
        if name in ran:
            continue
        try:
            why = skip_reason(load(name))
        except LabError as e:
            why = str(e)
        out[name] = why
    return out


def _rows(recs: list[dict[str, Any]], recorder: str) -> list[dict[str, Any]]:
    from lab.fuzz.oracle import judge_observations

    return [row_of((p["recorder"].get("experiment") or {}).get("pair"), p, judge=judge_observations)
            for p in stored_pairs(recs, recorder)]


def _table(rows: list[dict[str, Any]]) -> list[str]:
    """Per scenario: pairs, chords, the verdicts under each witness, chords that agree, the events each witness
    held (and the recorder's stream still held when the run ended: what a reader after the fact gets); then every
    disagreement."""
    by_scenario: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_scenario[r["scenario"]].append(r)
    out = [("| scenario | pairs | chords | file ledger | flight recorder | agree | events: ledger / recorder / left in the stream | "
           "drops the recorder counted |"), "|---|---|---|---|---|---|---|---|"]
    for name in sorted(by_scenario):
        rs = by_scenario[name]
        n, ok = sum(r["chords"] for r in rs), sum(r["agree"] for r in rs)
        ledger = _counts([w for r in rs for w in r["ledger"]])
        recorder = _counts([w for r in rs for w in r["recorder"]])
        events = [sum(sum(r["events"][w].values()) for r in rs) for w in ("ledger", "recorder")]
        left = sum(r.get("stored") or 0 for r in rs)
        out.append(f"| `{name}` | {len(rs)} | {n} | {ledger} | {'same' if recorder == ledger and ok == n else recorder} | "
                   f"{ok}/{n}{'' if ok == n else ' (**differs**)'} | {events[0]} / {events[1]} / {left} | "
                   f"{sum(r.get('dropped') or 0 for r in rs)} |")
    misses = [(r, d) for r in rows for d in r["disagreements"]]
    out.append("")
    if misses:
        out += ["**Every disagreement** (chord in sending order; the events each witness held, by kind):", ""]
        out += [f"- `{r['scenario']}` (seed {r['seed']}, runs `{r['runs']['ledger']}` and `{r['runs']['recorder']}`), "
                f"chord {d['chord']}: ledger {d['ledger']}, recorder {d['recorder']}; events: ledger {r['events']['ledger']}, "
                f"recorder {r['events']['recorder']}" for r, d in misses]
        out.append("")
    else:
        out.append("No chord differs.\n")
    return out


def _figures(rows: list[dict[str, Any]]) -> list[str]:
    chords, agree = sum(r["chords"] for r in rows), sum(r["agree"] for r in rows)
    scenarios = len({r["scenario"] for r in rows})
    return [(f"- **{agree}/{chords}** chords get the same verdict and cause under both witnesses, over {len(rows)} pair(s) "
             f"of runs of {scenarios} scenarios."),
            (f"- the recorder's writers dropped **{sum(r.get('dropped') or 0 for r in rows)}** events; the run's reads of "
             f"its stream failed **{sum(r.get('read_errors') or 0 for r in rows)}** times.\n")]


def witness_section(recs: list[dict[str, Any]]) -> list[str]:
    """The section's markdown lines ([] when no pair is stored)."""
    rows, shared = _rows(recs, "recorder"), _rows(recs, "recorder-broker")
    if not rows and not shared:
        return []
    by_scenario = {r["scenario"] for r in rows}
    out = ["## The recorder as the witness\n",
           ("_From `python -m lab witness`: each scenario run twice with one seed, once witnessed by the lab's file ledger "
            "and once by the flight recorder (`lab.recorder.install`, in the producer and every worker, into a stream on a "
            "redis-server of the run's own) in its place. The same judge, unchanged, decides both; every verdict here was "
            "judged again from the stored observations._\n"),
           *(_figures(rows) + _table(rows) if rows else ["No pair with the recorder on a server of its own is stored yet.\n"])]
    skipped = _skipped(set(by_scenario))
    refused = {name: why for name, why in skipped.items() if why}
    if refused:
        out += ["**Not run under both witnesses:**", ""]
        out += [f"- `{name}`: {why}" for name, why in sorted(refused.items())]
        out.append("")
    unrun = sorted(name for name, why in skipped.items() if not why)
    if unrun:
        out.append(f"No stored pair yet for {len(unrun)} scenario(s) that can run: " + ", ".join(f"`{n}`" for n in unrun) + ".\n")
    out += [("**Where the recorder is a weaker witness than the files**, by design (each run's record lists the ones "
            "that apply, `observations.recorder.differences`):"), "",
            ("- a process killed outright (`kill-worker`, `kill-pool-child`) loses the events it had queued in memory and "
             "not yet written (those of its last flush delay); the file ledger's line is written before the signal "
             "handler returns. A lost start also hides a part from the quiescence check, which finds a dead part by the "
             "pid of its start event."),
            ("- events arrive late (a process writes what it queued after the recorder's flush delay, then a round trip), "
             "so the quiet window and the probe's consistency check count from their arrival (a fault's delay counts from "
             "the event's own time, so the faults fire at the same moment of the header's run);"),
            "- the stream is capped (`MAXLEN`), and an error is kept as its first line.",
            ("- its store must survive the incident: here it is a redis-server apart. On the run's own server a restart "
            "without persistence empties the stream, `allkeys-lru` may evict it (and its memory moves the eviction), "
            "`noeviction` refuses its writes, and `DEBUG SLEEP` / `CLIENT PAUSE` hold them past the recorder's timeout, "
            "so it drops them (and counts them): in a user's deployment, a recorder on the broker can lose its history to "
            "exactly the Redis faults it should explain."), ""]
    if shared:
        out += ["### With the stream on the scenario's own redis-server\n",
                ("_`python -m lab witness --store broker`: the recorder's stream on db 15 of the run's redis-server, where a "
                 "user's `install(app)` on a Redis broker puts it, so the scenario's Redis faults act on the witness too._\n"),
                *_figures(shared), *_table(shared), *_losses(shared)]
    return out


def _losses(rows: list[dict[str, Any]]) -> list[str]:
    """What the table shows of a recorder that shares the system's fate, said in sentences from its figures."""
    def total(r: dict[str, Any], w: str) -> int:
        return sum(r["events"][w].values())

    gone = sorted({r["scenario"] for r in rows if r.get("stored") is not None and r["stored"] < total(r, "recorder")})
    uncounted = sorted({r["scenario"] for r in rows if total(r, "recorder") < total(r, "ledger") and not r.get("dropped")})
    out = []
    if gone:
        out.append("- The run follows the stream live, so it had read what the fault then removed from it; a reader after "
                   "the fact (doctor) gets only what was *left in the stream*, less than the run read, in "
                   + ", ".join(f"`{n}`" for n in gone) + ".")
    if uncounted:
        out.append("- The recorder held fewer events than the ledger, and counted no drop, in " + ", ".join(f"`{n}`" for n in uncounted)
                   + ": its writers lost events while the store refused or held their writes, and a drop count is written "
                   "only with a later event of the same process, which never came.")
    return [*out, ""] if out else []
