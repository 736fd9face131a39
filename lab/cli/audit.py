"""``lab audit``: the static risks in an app's configuration.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from lab.doctor.audit import (RANK, SEVERITIES, STYLE, audit, backend_kind, broker_kind, load_app, parse_worker,
                              user_tasks)


@click.command("audit")
@click.option("--app", "app_ref", required=True, help="The Celery app, as for `celery -A` (module:attribute).")
@click.option("--worker", "workers", multiple=True,
              help='A worker command line, repeatable: "-Q execution" or "celery -A proj worker -Q a,b". "" is a worker without -Q.')
@click.option("--callback", "callbacks", multiple=True, help="A task used as a chord callback (repeatable).")
@click.option("--header", "headers", multiple=True, help="A task used in chord headers (repeatable).")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help="Longest time, in seconds, from sending a chord to its last header part returning.")
@click.option("--countdown", type=click.FloatRange(min=0), default=None, help="Longest countdown/eta, in seconds, your code uses.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--offline", is_flag=True, help="Do not read the result backend's eviction policy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def audit_cmd(app_ref: str, workers: tuple[str, ...], callbacks: tuple[str, ...], headers: tuple[str, ...],
              duration: float | None, countdown: float | None, fail_on: str, offline: bool, as_json: bool) -> None:
    """Predict chord risks from the app's config and the worker command lines, without a live system.

    Exit 0: nothing at or above --fail-on; 1: findings at or above it; 254: bad input."""
    from rich.console import Console

    app = load_app(app_ref)
    decls = [parse_worker(app, w) for w in workers]
    found = audit(app, decls, callbacks=list(callbacks), headers=list(headers), duration=duration,
                  countdown=countdown, live_backend=not offline)
    failing = [f for f in found if RANK[f.severity] >= RANK[fail_on]]
    if as_json:
        print(json.dumps({"app": app_ref, "workers": [asdict(w) for w in decls], "findings": [f.to_dict() for f in found],
                          "fail_on": fail_on, "failed": bool(failing)}, default=repr))
        sys.exit(1 if failing else 0)
    out = Console(highlight=False)
    out.print(f"[bold]audit[/bold] {app_ref}: broker {broker_kind(app)}, backend {backend_kind(app)}, "
              f"{len(user_tasks(app))} task(s)")
    for w in decls:
        out.print(f"  worker {w.describe()}")
    if not decls:
        out.print("  [yellow]no --worker given: routes were not checked against consumers[/yellow]")
    for f in sorted(found, key=lambda f: -RANK[f.severity]):
        out.print(f"\n[{STYLE[f.severity]}]{f.severity}[/] [bold]{f.id}[/bold]  {f.summary}", soft_wrap=True)
        for line in f.evidence:
            out.print(f"   [dim]•[/dim] {line}", soft_wrap=True)
        if f.fix:
            out.print(f"   [green]fix:[/green] {f.fix}", soft_wrap=True)
    counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    out.print(f"\n{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s); "
              + (f"[red]failing[/red] (--fail-on {fail_on})" if failing else f"[green]passing[/green] (--fail-on {fail_on})"))
    sys.exit(1 if failing else 0)
