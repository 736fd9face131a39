"""RESULTS.md's release ranges: since which Celery release each finding and each stuck scenario reproduces.

    lab bisect (lab.experiments.bisect) → results/bisect.json → **this section** → RESULTS.md

One row per fuzzing finding (the files in ``findings/``, or ``$LAB_FINDINGS``) and per scenario that
expects ``stuck``, read from the stored bisections; a target never bisected says "not bisected yet".
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


def range_text(rec: dict[str, Any]) -> str:
    """Where a stored bisection says the target reproduces: ``5.5.0..5.7.0``, with what is not certain."""
    r = rec.get("reproduces")
    status = rec.get("status")
    if status == "undecided-end":
        return "undecided: " + (rec.get("summary") or "an end is flaky")
    if not r:
        return f"none in {rec.get('range')} ({rec.get('first_outcome')} → {rec.get('last_outcome')})"
    text = f"{r['from']} only" if r["from"] == r["to"] else f"{r['from']}..{r['to']}"
    if status == "no-change":
        text += " (no change in range)"
    if r.get("undecided"):
        text += f"; flaky or undecided next to it: {', '.join(r['undecided'])}"
    return text


def _said(rec: dict[str, Any], celery: str | None) -> str:
    """A step's outcome; for a finding, with what its runs showed (``does not reproduce (completed)``)."""
    step = next((s for s in rec.get("steps") or [] if s.get("celery") == celery), None) or {}
    shown = list(dict.fromkeys(step.get("details") or []))
    extra = f" ({'; '.join(shown)})" if rec.get("kind") == "finding" and shown else ""
    return f"{step.get('outcome')}{extra}"


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
           "_Generated from `results/bisect.json`, which `python -m lab bisect REF --celery 5.3.0..5.7.0 --repeat 2` "
           "writes: both ends of the range run first, then a binary search over every release between them on the "
           "index (pre-releases, yanked releases and releases this Python cannot install are left out), each step its "
           "runs in that release's own environment. A finding's outcome is whether it reproduces; a scenario's is its "
           "chords' verdicts and causes. A release whose runs disagree is flaky, and is named, never guessed at._\n",
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
