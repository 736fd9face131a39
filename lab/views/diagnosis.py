"""A doctor diagnosis, for a person: verdict, proof, fix; the deployment overview.

    a reading → judge.live → Diagnosis → **this view**
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lab.judge.live import Diagnosis, diagnose, short
from lab.views.console import VERDICT_STYLE


def render(console, d: Diagnosis) -> None:
    ids = d.ids
    parts = []
    if ids.get("asked_is") != "unknown":
        parts.append(f"the {ids.get('asked_is')} id")
    if ids.get("callback_task"):
        parts.append(f"callback {short(ids['callback_task'])}" + ("" if ids.get("asked_is") == "callback" else f" {ids.get('callback_id')}"))
    if ids.get("group_id") and ids.get("asked_is") != "group":
        parts.append(f"group {ids['group_id']}")
    if ids.get("header_ids"):
        parts.append(f"{len(ids['header_ids'])} header part(s)")
    console.print(f"[bold]chord[/bold] {d.asked}" + (f"  [dim]({'; '.join(parts)})[/dim]" if parts else ""))
    title = d.verdict.upper() + (f" · {d.cause}" if d.cause else "")
    console.print(f"[{VERDICT_STYLE.get(d.verdict, 'bold')}]{title}[/]  {d.summary}", soft_wrap=True)
    if d.fix:
        console.print(f"[green]fix:[/green] {d.fix}", soft_wrap=True)
    for line in d.evidence:
        console.print(f"  [dim]•[/dim] {line}", soft_wrap=True)
    for line in d.missing:
        console.print(f"  [yellow]missing:[/yellow] {line}", soft_wrap=True)
    if d.rule == "doctor":
        console.print("  [dim](decided by a live rule over what was read; the lab's checker needs a run's ledger here)[/dim]")


def render_overview(out, view: dict[str, Any]) -> None:
    out.print()
    if not view["queues"]:
        out.print("[green]no messages wait in any queue[/green]")
    for q in view["queues"]:
        style = "" if q["consumed"] else "bold red"
        tasks = ", ".join(f"{n} {short(t)}" for t, n in sorted(q["tasks"].items(), key=lambda kv: -kv[1])[:4])
        counted = " (RabbitMQ: counted, not read)" if q.get("counts_only") else f" ({tasks})" if tasks else ""
        out.print(f"queue [{style or 'bold'}]{q['queue']}[/]: {q['length']} message(s){counted}"
                  + ("" if q["consumed"] else " [red]· no worker consumes it[/red]"))
    for c in view["chords"]:
        out.print()
        render(out, Diagnosis.from_dict(c))
    if view["more_chords"]:
        out.print(f"\n[dim](+{view['more_chords']} more chord(s) at risk not shown; name one with --chord)[/dim]")
    if not view["chords"]:
        out.print("[green]no open chord in the backend and no callback waiting in an unconsumed queue[/green]")
    for f in view["risks"]:
        out.print(f"\n[yellow]risk[/yellow] [bold]{f['id']}[/bold]: {f['summary']}", soft_wrap=True)
        if f.get("fix"):
            out.print(f"  [green]fix:[/green] {f['fix']}", soft_wrap=True)


def print_saved(out, rec: dict[str, Any], as_json: bool) -> None:
    """``lab show`` of a saved diagnosis: every reading judged again, beside what was stored."""
    now = [diagnose(r) for r in rec.get("readings") or []]
    stored = [(d["verdict"], d.get("cause")) for d in rec.get("diagnoses") or []]
    same = stored == [(d.verdict, d.cause) for d in now]
    if as_json:
        print(json.dumps({"run_id": rec["run_id"], "kind": "doctor", "chords": [d.to_dict() for d in now],
                          "same_as_stored": same}, default=repr))
        return
    out.print(f"[bold]{rec['run_id']}[/bold]  lab doctor {rec.get('app')}: {len(now)} chord(s) read "
              f"{datetime.fromtimestamp(rec.get('started_at') or 0).isoformat(timespec='seconds')}, judged again now")
    for d in now:
        out.print()
        render(out, d)
    if not same:
        out.print(f"\n[yellow]note: the stored verdicts were {stored}; the current judge says "
                  f"{[(d.verdict, d.cause) for d in now]}[/yellow]")
    out.print(f"\n[dim]read with: {rec.get('command')}[/dim]")
