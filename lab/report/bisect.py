"""RESULTS.md's release ranges: since which Celery release each finding and each stuck scenario reproduces.

    lab bisect (lab.experiments.bisect) → results/bisect.json → **this section** → RESULTS.md

One row per fuzzing finding (the files in ``findings/``, or ``$LAB_FINDINGS``) and per scenario that
expects ``stuck``, read from the stored bisections; a target never bisected says "not bisected yet".
A finding's range comes with the rates of the releases where it reproduced in some runs only, and
the chance of the misses that place its boundary (``lab.experiments.bisect.weigh_misses``, stored
as ``misses``) where that chance is not nil; records stored before either was kept show neither.
"""

from __future__ import annotations

from typing import Any

from lab.experiments.bisect import load_store


def _targets() -> list[tuple[str, str]]:
    """(name, kind) of every finding and every stuck scenario, findings first."""
    from lab.fuzz.findings import findings_dir
    from lab.scenario import load, scenario_paths

    found = [(p.stem.replace("_", "-"), "finding") for p in sorted(findings_dir().glob("*.py"))
             if not p.name.startswith("_")]
    for name in scenario_paths():
        try:
            if load(name).expect == "stuck":
                found.append((name, "scenario"))
        except Exception:  # a scenario that does not load is the catalogue's to report, not this section's
            continue
    return found


def _stack(v: dict | None) -> str:
    v = v or {}
    return f"kombu {v.get('kombu') or '?'}, billiard {v.get('billiard') or '?'}"


def _order(rec: dict[str, Any]) -> dict[str, int]:
    return {v: i for i, v in enumerate(rec.get("releases") or [])}


def flaky_rates(rec: dict[str, Any]) -> str:
    """A finding's releases that reproduced in some runs only: ``2/4 at 5.3.0`` ('' when none, or a scenario)."""
    if rec.get("kind") != "finding":
        return ""
    order = _order(rec)
    said = []
    for s in sorted(rec.get("steps") or [], key=lambda s: order.get(s.get("celery"), 0)):
        got = s.get("outcomes") or []
        k = got.count("reproduces")
        if 0 < k < len(got):
            said.append(f"{k}/{len(got)} at {s.get('celery')}")
    return ", ".join(said)


def range_text(rec: dict[str, Any]) -> str:
    """Where a stored bisection says the target reproduces: ``5.5.0..5.7.0``, with what is not certain."""
    r = rec.get("reproduces")
    status = rec.get("status")
    if status == "undecided-end":
        return "undecided: " + (rec.get("summary") or "an end is flaky")
    rates = flaky_rates(rec)
    weighed = [m["text"] for m in rec.get("misses") or [] if m.get("chance")]  # nil at a rate of every run
    if not r:
        text = f"none in {rec.get('range')} ({rec.get('first_outcome')} → {rec.get('last_outcome')})"
    else:
        text = f"{r['from']} only" if r["from"] == r["to"] else f"{r['from']}..{r['to']}"
        if status == "no-change":
            text += ", reproduces in every release tried" if rates else " (no change in range)"
        if r.get("undecided"):
            text += f"; flaky or undecided next to it: {', '.join(r['undecided'])}"
    if rates:
        text += f", flaky: {rates}"
    if weighed:
        text += "; " + "; ".join(weighed)
    return text


def _said(rec: dict[str, Any], celery: str | None) -> str:
    """A step's outcome; for a finding, with what its runs showed (``does not reproduce (completed)``)."""
    step = next((s for s in rec.get("steps") or [] if s.get("celery") == celery), None) or {}
    shown = list(dict.fromkeys(step.get("details") or []))
    extra = f" ({'; '.join(shown)})" if rec.get("kind") == "finding" and shown else ""
    got = step.get("outcomes") or []
    k = got.count("reproduces")
    rate = f" {k}/{len(got)}" if rec.get("kind") == "finding" and 0 < k < len(got) else ""
    return f"{step.get('outcome')}{rate}{extra}"


def change_text(rec: dict[str, Any]) -> str:
    if not rec.get("first_changed"):
        return "—"
    return (f"**{rec['first_changed']}** ({_stack(rec.get('versions_first_changed'))}); before: "
            f"{rec['last_before']} ({_stack(rec.get('versions_last_before'))}): "
            f"{_said(rec, rec['last_before'])} → {_said(rec, rec['first_changed'])}")


def bisect_section(store: dict[str, dict[str, Any]] | None = None,
                   targets: list[tuple[str, str]] | None = None) -> list[str]:
    """The section's lines ([] when there is nothing to show: no finding, no stuck scenario)."""
    store = load_store() if store is None else store
    targets = _targets() if targets is None else targets
    if not targets:
        return []
    out = ["## Since when? Release ranges (`lab bisect`)\n",
           "_Generated from `results/bisect.json`, which `python -m lab bisect REF --celery 5.3.0..5.7.0 --repeat N` "
           "writes: both ends of the range run first, then a binary search over every release between them on the "
           "index (pre-releases, yanked releases and releases this Python cannot install are left out), each step its "
           "runs in that release's own environment. A finding's outcome is whether it reproduces; a scenario's is its "
           "chords' verdicts and causes. A scenario's release whose runs disagree is flaky, and is named, never guessed at. "
           "A finding's verdicts are proven, so a release where one run reproduces it reproduces it (its rate, e.g. "
           "*flaky: 2/4 at 5.3.0*, is given when some runs missed); one where every run missed is weighed by how likely "
           "that many misses are at the rate of the nearest release that reproduced, (1 − r)^N, and above 5 % the "
           "boundary is said to be uncertain, with the `--repeat` that would bring it under._\n",
           "| finding or scenario | reproduces on | first release where the outcome changed | releases run | bisected |",
           "|---|---|---|---|---|"]
    done = 0
    for name, kind in targets:
        rec = store.get(name)
        label = f"`{name}`" + (" (scenario)" if kind == "scenario" else "")
        if not rec:
            out.append(f"| {label} | not bisected yet | | | |")
            continue
        done += 1
        steps = rec.get("steps") or []
        out.append(f"| {label} | {range_text(rec)} | {change_text(rec)} | "
                   f"{len(steps)} of {len(rec.get('releases') or [])}, {rec.get('repeat')} run(s) each | "
                   f"{(rec.get('date') or '')[:10]}, `{rec.get('git') or '?'}` |")
    out.append("")
    out.append(f"{done} of {len(targets)} bisected. A range ending in the newest release checked and marked *no change "
               "in range* rests on both ends agreeing: a change and a change back between them would not be seen.\n")
    return out
