"""``lab audit``: the static risks in an app's configuration, its workers' command lines and (optionally) its canvas.

    --app + --worker lines [+ --canvas] → lab.doctor.audit (findings, in the judge's cause ids) → table or JSON → exit code
"""

from __future__ import annotations

import json
import sys

import click

from lab.doctor.audit import (RANK, SEVERITIES, STYLE, AuditError, audit, backend_kind, broker_kind, load_app, load_canvases,
                              parse_duration, parse_worker, user_tasks)


@click.command("audit")
@click.option("--app", "app_ref", required=True, help="The producer's Celery app, as for `celery -A` (module:attribute).")
@click.option("--worker", "workers", multiple=True,
              help='A worker command line, repeatable: "-Q execution", or "celery -A shop.reports:app worker -Q reports" '
                   '(its own -A is the app that worker runs). "" is a worker of --app without -Q.')
@click.option("--canvas", "canvas_ref", default=None,
              help="PKG.MOD:FUNC that builds (does not send) your chord(s): their signatures and .set(queue=...) are audited.")
@click.option("--callback", "callbacks", multiple=True, help="A task used as a chord callback (repeatable).")
@click.option("--header", "headers", multiple=True, help="A task used in chord headers (repeatable).")
@click.option("--duration", default=None,
              help="Longest time from sending a chord to its last header part returning: 30, 30s, 5m, 2h.")
@click.option("--countdown", default=None, help="Longest countdown/eta your code uses: 30, 30s, 5m.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="error", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--offline", is_flag=True, help="Do not read the result backend's eviction policy.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
def audit_cmd(app_ref: str, workers: tuple[str, ...], canvas_ref: str | None, callbacks: tuple[str, ...],
              headers: tuple[str, ...], duration: str | None, countdown: str | None, fail_on: str, offline: bool,
              as_json: bool) -> None:
    """Predict chord risks from the app's config, the worker command lines and the canvas, without a live system.

    Exit 0: nothing at or above --fail-on; 1: findings at or above it; 254: bad input."""
    from rich.console import Console

    dur = parse_duration(duration, "--duration") if duration is not None else None
    cd = parse_duration(countdown, "--countdown") if countdown is not None else None
    if canvas_ref and (callbacks or headers):
        raise AuditError("--canvas gives the chords' tasks and their options; leave out --callback and --header with it.")
    app = load_app(app_ref)
    apps = {app_ref: app}
    decls = [parse_worker(app, w, apps) for w in workers]
    canvases = load_canvases(canvas_ref, app)[1] if canvas_ref else None
    found = audit(app, decls, callbacks=list(callbacks), headers=list(headers), duration=dur, countdown=cd,
                  live_backend=not offline, canvases=canvases, app_ref=app_ref)
    failing = [f for f in found if RANK[f.severity] >= RANK[fail_on]]
    if as_json:
        print(json.dumps({"app": app_ref, "canvas": canvas_ref, "workers": [w.to_dict() for w in decls],
                          "findings": [f.to_dict() for f in found], "fail_on": fail_on, "failed": bool(failing)}, default=repr))
        sys.exit(1 if failing else 0)
    out = Console(highlight=False)
    out.print(f"[bold]audit[/bold] {app_ref}: broker {broker_kind(app)}, backend {backend_kind(app)}, "
              f"{len(user_tasks(app))} task(s)" + (f"; canvas {canvas_ref}: {len(canvases)} built" if canvases else ""))
    for w in decls:
        out.print(f"  worker {w.describe()}" + (f" (app {w.app_ref})" if w.app_ref else ""))
    if not decls:
        out.print("  [yellow]no --worker given: routes were not checked against consumers[/yellow]")
    for f in sorted(found, key=lambda f: -RANK[f.severity]):
        # the judge's cause first: the word doctor and the lab use for the verdict this risk leads to
        name = f"{f.cause} [dim]({f.id})[/dim]" if f.cause else f.id
        out.print(f"\n[{STYLE[f.severity]}]{f.severity}[/] [bold]{name}[/bold]  {f.summary}", soft_wrap=True)
        for line in f.evidence:
            out.print(f"   [dim]•[/dim] {line}", soft_wrap=True)
        if f.fix:
            out.print(f"   [green]fix:[/green] {f.fix}", soft_wrap=True)
    counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    out.print(f"\n{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s); "
              + (f"[red]failing[/red] (--fail-on {fail_on})" if failing else f"[green]passing[/green] (--fail-on {fail_on})"))
    sys.exit(1 if failing else 0)
