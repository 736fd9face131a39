"""``lab doctor``: read a live deployment, judge the reading, print cause and fix.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from lab.doctor.audit import load_app
from lab.doctor.diagnose import overview, save_diagnosis
from lab.judge.live import Diagnosis, consumers_line, diagnose, exit_code
from lab.observe.live import Deployment, read_chord
from lab.views.diagnosis import render_overview, render


@click.command("doctor")
@click.option("--app", "app_ref", required=True, help="The Celery app, as for `celery -A` (module:attribute).")
@click.option("--chord", "chords", multiple=True, help="A chord's callback id (AsyncResult id), group id or header task id; repeatable.")
@click.option("--group", "groups", multiple=True, help="A chord's group id (AsyncResult(id).parent.id); repeatable.")
@click.option("--timeout", type=click.FloatRange(0.1, 30), default=1.0, show_default=True,
              help="Seconds to wait for workers to answer `inspect`.")
@click.option("--log", "logs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A worker log file to search for evidence lines (repeatable).")
@click.option("--recorder", "recorder", metavar="STORE",
              help="Where the flight recorder (lab.recorder.install) writes: redis://… or file:///…; default: "
                   "app.conf.lab_recorder, else the broker when it is Redis; 'none' reads no recorded history.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the text.")
@click.option("--save", is_flag=True, help="Store what was read and judged; `lab show <id>` judges it again.")
@click.option("--watch", is_flag=True, help="Follow the deployment (the flight recorder, else Celery events and the "
              "broker): a line each time a chord becomes at risk, recovers or completes; --json: one object a line.")
@click.option("--for", "for_s", type=click.FloatRange(0.1, None), metavar="SECONDS",
              help="With --watch: stop after this many seconds (default: until Ctrl-C or SIGTERM).")
def doctor_cmd(app_ref: str, chords: tuple[str, ...], groups: tuple[str, ...], timeout: float, logs: tuple[Path, ...],
               recorder: str | None, as_json: bool, save: bool, watch: bool = False, for_s: float | None = None) -> None:
    """Prove why a chord is stuck in a live deployment; read-only (no message is consumed or acked).

    With no --chord/--group: look at the whole deployment for chords at risk.
    Exit 0: nothing stuck or failed; 1: stuck or failed; 2: cannot tell; 254: bad input.
    With --watch: 1 if a chord is at risk or stuck at the end (or failed while watched), 2 if nothing could be followed."""
    from rich.console import Console

    if watch or for_s is not None:  # the body is lab/doctor/watch.py
        from lab.doctor.watch import check_watch_options, run_watch

        check_watch_options(watch=watch, for_s=for_s, chords=chords, groups=groups, save=save, logs=logs)
        sys.exit(run_watch(load_app(app_ref), app_ref, recorder=recorder, for_s=for_s, as_json=as_json, timeout=timeout))

    t0 = time.time()
    app = load_app(app_ref)
    dep = Deployment(app, timeout=timeout, log_paths=list(logs), recorder=recorder)
    try:
        workers = dep.read_workers()
        names = dep.queue_names(workers)
        targets = [(c, "chord") for c in chords] + [(g, "group") for g in groups]
        readings = [read_chord(dep, ident, hint, workers, names) for ident, hint in targets]
        view = overview(dep, workers, names) if not targets else None
    finally:
        dep.close()
    diagnoses = [diagnose(r) for r in readings]
    elapsed = time.time() - t0
    verdicts = [d.verdict for d in diagnoses] + ([c["verdict"] for c in view["chords"]] if view else [])
    code = exit_code(verdicts)
    saved = None
    if save:
        saved = save_diagnosis(app_ref, readings + (view["readings"] if view else []),
                               diagnoses + ([Diagnosis.from_dict(c) for c in view["chords"]] if view else []))
    if as_json:
        print(json.dumps({"app": app_ref, "broker": dep.broker_kind, "backend": dep.backend_kind,
                          "workers": workers.get("consumers"), "chords": [d.to_dict() for d in diagnoses],
                          "overview": {k: v for k, v in view.items() if k != "readings"} if view else None,
                          "read": dep.reads, "elapsed_s": round(elapsed, 3),
                          **({"saved": saved} if saved else {})}, default=repr))
        sys.exit(code)
    out = Console(highlight=False)
    out.print(f"[bold]lab doctor[/bold] {app_ref}: broker {dep.broker_kind}, backend {dep.backend_kind}; "
              f"{consumers_line(workers)}")
    for d in diagnoses:
        out.print()
        render(out, d)
    if view is not None:
        render_overview(out, view)
    out.print(f"\n[dim]read-only: {'; '.join(dict.fromkeys(dep.reads))}; {elapsed:.1f} s[/dim]", soft_wrap=True)
    if saved:
        out.print(f"[dim]saved as {saved}; judge it again: python -m lab show {saved}[/dim]")
    sys.exit(code)
