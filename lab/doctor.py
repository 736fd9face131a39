"""``lab doctor``: the lab's proof, brought to a user's own live deployment.

    a user's app + a chord id → observe.live (read) → a reading → judge.live (pure) → cause and fix → view

Thin by design: doctor imports the user's app (its broker, backend, routes and
tasks, as ``celery -A`` would), reads the live system with the lab's own
readers (``lab.observe.live``: read-only, no message consumed or acked),
judges the reading with a pure judge (``lab.judge.live``), and prints the
verdict, its proof and the fix.  ``--save`` stores the readings and the
verdicts as a record (``$LAB_RESULTS/diagnoses.jsonl``); ``lab show <id>``
judges them again.

``agreement_rows()`` (``python -m lab.doctor agreement``) runs every scenario,
leaves it up, and records the lab's, doctor's and audit's verdicts side by side.

Exit codes: 0 nothing stuck or failed, 1 stuck or failed, 2 cannot tell, 254 bad input.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from lab.audit import WorkerDecl, audit, load_app
from lab.judge.causes import STATIC_CAUSES
from lab.judge.live import Diagnosis, consumers_line, diagnose, exit_code, short
from lab.observe.live import Deployment, DeploymentError, read_chord, read_overview
from lab.views import VERDICT_STYLE

DoctorError = DeploymentError  # the name users' scripts and the CLI know


def overview(dep: Deployment, workers: dict[str, Any], names: set[str], max_chords: int = 10) -> dict[str, Any]:
    """Chords at risk across the deployment, judged, and the config risks audit sees."""
    seen = read_overview(dep, workers, names, max_chords)
    decls = [WorkerDecl(w, qs, True) for w, qs in sorted((workers.get("consumers") or {}).items())]
    risks = [f for f in audit(dep.app, decls, live_backend=True) if f.severity != "info"] if decls else []
    return {**seen, "chords": [diagnose(r).to_dict() for r in seen["chords"]], "readings": seen["chords"],
            "risks": [f.to_dict() for f in risks]}


def save_diagnosis(app_ref: str, readings: list[dict[str, Any]], diagnoses: list[Diagnosis]) -> str:
    """Store what was read and what was judged, so ``lab show`` can judge it again."""
    from lab import records

    diag_id = f"doctor-{datetime.now().strftime('%Y%m%dT%H%M%S')}-{os.urandom(3).hex()}"
    records.append({"run_id": diag_id, "kind": "doctor", "app": app_ref, "started_at": time.time(),
                    "command": records.command_line(), "versions": records.versions(),
                    "readings": readings, "diagnoses": [d.to_dict() for d in diagnoses]},
                   path=records.diagnoses_file(), latest=False)
    return diag_id


# -- the view --------------------------------------------------------------------------------------


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


def _render_overview(out, view: dict[str, Any]) -> None:
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


# -- the command ----------------------------------------------------------------------------


@click.command("doctor")
@click.option("--app", "app_ref", required=True, help="The Celery app, as for `celery -A` (module:attribute).")
@click.option("--chord", "chords", multiple=True, help="A chord's callback id (AsyncResult id), group id or header task id; repeatable.")
@click.option("--group", "groups", multiple=True, help="A chord's group id (AsyncResult(id).parent.id); repeatable.")
@click.option("--timeout", type=click.FloatRange(0.1, 30), default=1.0, show_default=True,
              help="Seconds to wait for workers to answer `inspect`.")
@click.option("--log", "logs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A worker log file to search for evidence lines (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the text.")
@click.option("--save", is_flag=True, help="Store what was read and judged; `lab show <id>` judges it again.")
def doctor_cmd(app_ref: str, chords: tuple[str, ...], groups: tuple[str, ...], timeout: float, logs: tuple[Path, ...],
               as_json: bool, save: bool) -> None:
    """Prove why a chord is stuck in a live deployment; read-only (no message is consumed or acked).

    With no --chord/--group: look at the whole deployment for chords at risk.
    Exit 0: nothing stuck or failed; 1: stuck or failed; 2: cannot tell; 254: bad input."""
    from rich.console import Console

    t0 = time.time()
    app = load_app(app_ref)
    dep = Deployment(app, timeout=timeout, log_paths=list(logs))
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
        _render_overview(out, view)
    out.print(f"\n[dim]read-only: {'; '.join(dict.fromkeys(dep.reads))}; {elapsed:.1f} s[/dim]", soft_wrap=True)
    if saved:
        out.print(f"[dim]saved as {saved}; judge it again: python -m lab show {saved}[/dim]")
    sys.exit(code)


# -- doctor and audit against every scenario (for RESULTS.md) -------------------------------------



def _run_json(argv: list[str], env: dict[str, str]) -> tuple[int, dict[str, Any] | None, float, str]:
    import subprocess

    t0 = time.time()
    done = subprocess.run([sys.executable, "-m", "lab", *argv], env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(Path(env.get("PYTHONPATH", ".").split(os.pathsep)[0])))
    elapsed = time.time() - t0
    lines = done.stdout.strip().splitlines()
    try:
        return done.returncode, json.loads(lines[-1]) if lines else None, elapsed, done.stderr.strip()[-500:]
    except ValueError:
        return done.returncode, None, elapsed, (done.stderr or done.stdout).strip()[-500:]


def audit_argv(scenario) -> list[str]:
    """The audit a user of this scenario's topology would run: its workers' command lines and its chords' tasks."""
    argv = []
    for w in scenario.workers:
        argv += ["--worker", f"-Q {','.join(w.queues)}" if w.queues else ""]
    for c in scenario.chords:
        argv += ["--callback", c.callback, "--header", c.header_task]
    longest = max((max(c.durations(), default=0.0) for c in scenario.chords), default=0.0)
    if longest:
        argv += ["--duration", f"{longest:g}"]
    countdown = max([float(o.get("countdown") or 0) for c in scenario.chords for o in (c.part_options, c.callback_options)] + [0.0])
    if countdown:
        argv += ["--countdown", f"{countdown:g}"]
    return argv


def _agree(lab: tuple[str, str | None], doc: dict[str, Any] | None) -> bool:
    if not doc:
        return False
    return doc["verdict"] == lab[0] and (lab[1] is None or doc.get("cause") == lab[1])


def agreement_row(name: str, *, seed: int = 0) -> dict[str, Any]:
    """Run scenario ``name`` up, leave it up, and ask doctor (by callback id, by group id) and audit about it."""
    from lab.errors import LabError
    from lab.livesystem import keep_up
    from lab.scenario import load

    try:
        s = load(name)
    except LabError as e:  # renamed or removed while the table was being made
        return {"scenario": name, "skipped": str(e)}
    row: dict[str, Any] = {"scenario": name, "expect": s.expect, "expect_cause": s.expect_cause, "mechanism": s.mechanism}
    t0 = time.time()
    try:
        with keep_up(s, seed=seed) as live:
            env = {**os.environ, **live.doctor_env()}
            row["lab"] = [{"chord_id": v.chord_id, "verdict": v.verdict, "cause": v.cause} for v in live.verdicts]
            for key, flag, ids in (("doctor_by_callback", "--chord", [c["chord_id"] for c in live.sent]),
                                   ("doctor_by_group", "--group", [c["group_id"] for c in live.sent if c.get("group_id")])):
                argv = ["doctor", "--app", "lab.worker_app:app", "--json"] + [a for i in ids for a in (flag, i)]
                rc, data, elapsed, err = _run_json(argv, env) if ids else (None, None, 0.0, "no ids")
                row[key] = [{k: d.get(k) for k in ("verdict", "cause", "rule", "likely_cause", "summary")}
                            for d in (data or {}).get("chords") or []]
                row[key + "_s"] = round(elapsed, 2)
                if data is None:
                    row[key + "_error"] = err
            rc, data, elapsed, err = _run_json(["audit", "--app", "lab.worker_app:app", "--json", *audit_argv(s)], env)
            row["audit"] = {"exit": rc, "flagged": any(f["severity"] in ("warning", "error") for f in (data or {}).get("findings") or []),
                            "findings": [f"{f['severity']}:{f['id']}" for f in (data or {}).get("findings") or []],
                            **({"error": err} if data is None else {})}
    except LabError as e:  # RabbitMQ or PostgreSQL not here, or a node that did not start
        row["skipped"] = str(e)
        return row
    row["elapsed_s"] = round(time.time() - t0, 1)
    lab = [(x["verdict"], x["cause"]) for x in row["lab"]]
    for key in ("doctor_by_callback", "doctor_by_group"):
        docs = row.get(key) or []
        agree = [_agree(l, docs[i] if i < len(docs) else None) for i, l in enumerate(lab)]
        row[key.replace("doctor_", "agree_")] = sum(agree)
        row[key.replace("doctor_", "stuck_on_completed_")] = sum(
            1 for i, l in enumerate(lab) if l[0] == "completed" and i < len(docs) and docs[i]["verdict"] == "stuck")
    row["chords"] = len(lab)
    bad = [l for l in lab if l[0] != "completed"]
    row["lab_outcome"] = f"{bad[0][0]}" + (f" · {bad[0][1]}" if bad and bad[0][1] else "") if bad else "completed"
    row["static"] = bool(bad) and any(c in STATIC_CAUSES for _, c in bad)
    row["audit_agrees"] = (row["audit"]["flagged"] if row["static"] else
                           (not row["audit"]["flagged"]) if not bad else None)  # None: not visible statically, not scored
    return row


def agreement_rows(names: list[str] | None = None, *, out: Path | None = None, seed: int = 0,
                   on_row=None) -> dict[str, Any]:
    """Doctor's and audit's verdicts next to the lab's, for every scenario, from real runs; written as JSON.

    Returns (and writes to ``$LAB_RESULTS/doctor_agreement.json`` unless ``out`` is given)::

        {"generated_at": iso, "versions": {...}, "rows": [row, ...], "summary": {...}}

    Each row: scenario, expect, expect_cause, mechanism, lab ([{chord_id, verdict, cause}]),
    doctor_by_callback / doctor_by_group ([{verdict, cause, rule, likely_cause, summary}], one per chord,
    in the lab's order) with their wall time (``*_s``), agree_by_callback / agree_by_group (chords whose
    verdict and cause match the lab's), stuck_on_completed_by_* (chords the lab saw complete that doctor
    called stuck: must be 0), audit ({exit, flagged, findings: ["severity:id"]}), static (the lab's cause
    is visible in configuration), audit_agrees (flagged when static, clean when completed, None when the
    cause is runtime-only), lab_outcome, chords, elapsed_s; or skipped (why) when a service is missing.
    """
    from lab import records
    from lab.scenario import scenario_paths

    rows = []
    for name in names or list(scenario_paths()):
        row = agreement_row(name, seed=seed)
        rows.append(row)
        if on_row:
            on_row(row)
    ran = [r for r in rows if "skipped" not in r]
    chords = sum(r["chords"] for r in ran)
    summary = {
        "scenarios": len(rows), "ran": len(ran), "chords": chords,
        "doctor_by_callback_agree": sum(r["agree_by_callback"] for r in ran),
        "doctor_by_group_agree": sum(r["agree_by_group"] for r in ran),
        "stuck_on_completed": sum(r["stuck_on_completed_by_callback"] + r["stuck_on_completed_by_group"] for r in ran),
        "audit_scored": sum(1 for r in ran if r["audit_agrees"] is not None),
        "audit_agree": sum(1 for r in ran if r["audit_agrees"]),
        "misses": [f"{r['scenario']}: lab {r['lab_outcome']}; doctor by {how} "
                   + ", ".join(sorted({f"{d['verdict']}" + (f" · {d['cause']}" if d.get('cause') else "")
                                       + (f" (likely {d['likely_cause']})" if d.get("likely_cause") else "")
                                       for d in r[f'doctor_by_{how}']}) or {"no answer"})
                   for r in ran for how in ("callback", "group") if r[f"agree_by_{how}"] < r["chords"]]
                  + [f"{r['scenario']}: lab {r['lab_outcome']}; audit {'flagged ' + ', '.join(r['audit']['findings']) if r['audit']['flagged'] else 'did not flag it'}"
                     for r in ran if r["audit_agrees"] is False],
    }
    result = {"generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
              "versions": records.versions(), "rows": rows, "summary": summary}
    path = out or records.store_dir() / "doctor_agreement.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=repr))
    os.replace(tmp, path)
    result["path"] = str(path)
    return result


def _main(argv: list[str]) -> int:
    """``python -m lab.doctor agreement [SCENARIO ...]``: write doctor_agreement.json from real runs."""
    if not argv or argv[0] != "agreement":
        print("usage: python -m lab.doctor agreement [SCENARIO ...]", file=sys.stderr)
        return 254

    def show(r: dict[str, Any]) -> None:
        if "skipped" in r:
            print(f"{r['scenario']:34} skipped: {r['skipped']}", flush=True)
            return
        print(f"{r['scenario']:34} lab {r['lab_outcome']:38} doctor(callback) {r['agree_by_callback']}/{r['chords']}  "
              f"doctor(group) {r['agree_by_group']}/{r['chords']}  audit {'flags' if r['audit']['flagged'] else 'clean'}"
              f"{'' if r['audit_agrees'] is None else (' ok' if r['audit_agrees'] else ' MISS')}  {r['elapsed_s']} s", flush=True)

    result = agreement_rows(argv[1:] or None, on_row=show)
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {result['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
