"""``lab show RUN``: a stored run (or a saved doctor diagnosis) judged again, with its timeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from lab import records
from lab.fuzz.oracle import judge_observations
from lab.judge import Verdict, summarize
from lab.views.console import out, print_proof, verdict_table


@click.command()
@click.argument("run_ref", default="latest")
@click.option("--json", "as_json", is_flag=True, help="Print the re-judged verdicts as one JSON object.")
@click.option("--svg/--no-svg", default=True, help="Write the timeline as an SVG next to the run's records.")
def show(run_ref: str, as_json: bool, svg: bool) -> None:
    """The whole story of a stored run: topology, timeline, evidence, logs (re-judged now)."""
    rec = records.find(run_ref)
    if rec.get("kind") == "doctor":  # a saved diagnosis: its readings, judged again by the live judge
        from lab.views.diagnosis import print_saved

        print_saved(out, rec, as_json)
        return
    obs = rec["observations"]
    verdicts = [v.to_dict() for v in judge_observations(obs)]
    outcome = summarize(obs.get("scenario") or {}, [Verdict.from_dict(v) for v in verdicts])
    stored = [(v["verdict"], v.get("cause")) for v in rec.get("verdicts", [])]
    now = [(v["verdict"], v.get("cause")) for v in verdicts]
    if as_json:
        print(json.dumps({"run_id": rec["run_id"], "verdicts": verdicts, "outcome": outcome,
                          "same_as_stored": stored == now}, default=repr))
        return
    sc = obs.get("scenario") or {}
    out.print(f"[bold]{rec['run_id']}[/bold]  scenario [bold]{rec['scenario']}[/bold] (expects {rec['expected']}), seed {rec['seed']}")
    out.print(f"[dim]{sc.get('description', '')}[/dim]")
    v = rec.get("versions") or {}
    out.print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + f"; git {rec.get('git')}")
    topo = obs.get("topology") or {}
    out.print(f"topology: redis-server {((topo.get('redis') or {}).get('version'))} on port {((topo.get('redis') or {}).get('port'))}"
              f", broker {topo.get('broker_url')}, backend {topo.get('result_backend')}")
    argvs = {w.get("name"): w.get("argv") for w in sc.get("workers") or []}
    for w in topo.get("workers") or []:
        out.print(f"  worker {w['name']}: {'-Q ' + ','.join(w['queues']) if w.get('queues') else 'no -Q'}, "
                  f"-c {w['concurrency']} -P {w['pool']}" + (f", {argvs[w['name']]}" if argvs.get(w["name"]) else "")
                  + f", code {', '.join(w.get('tasks') or [])}; log {w.get('log')}")
    cfg = sc.get("config") or {}
    if cfg:
        out.print("config: " + json.dumps(cfg, default=repr))
    try:
        from lab.views.timeline import render_terminal, write_svg

        out.print()
        out.print(render_terminal(obs, verdicts, width=min(out.width, 120)))
        if svg:
            path = Path(rec.get("run_dir") or records.run_dir_for(rec["run_id"]))
            if path.exists():
                try:
                    written = write_svg(obs, verdicts, path / "timeline.svg")
                    out.print(f"[dim]timeline written to {written}[/dim]")
                except OSError as e:  # a read-only store can still be read: the story needs no SVG
                    out.print(f"[dim](timeline.svg not written: {e.strerror})[/dim]")
    except ImportError as e:  # the timeline is for teaching; its absence must not hide the verdicts
        out.print(f"[dim](no timeline: {e})[/dim]")
    out.print()
    out.print(verdict_table(verdicts))
    print_proof(out, verdicts)
    if stored != now:
        out.print(f"\n[yellow]note: the stored verdicts were {stored}; the current checker says {now}[/yellow]")
    logs = (obs.get("probe") or {}).get("logs") or {}
    for w, lines in logs.items():
        if lines:
            out.print(f"\n[bold]{w}[/bold] log (evidence lines):")
            for ln in lines[-8:]:
                out.print(f"  [dim]{ln}[/dim]", soft_wrap=True)
    out.print(f"\n[dim]replay: {rec.get('replay')}[/dim]")
