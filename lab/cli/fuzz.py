"""``python -m lab fuzz`` and ``python -m lab replay``: the fuzzer's commands.

    strategies → session → oracle + judge → search → findings → **cli**

``lab/cli/main.py`` loads these lazily (hypothesis is slow to import).  While a
fuzz run runs, a progress line shows the examples run, chords per second, the
verdicts so far and the findings; at the end each finding is printed shrunk,
as a runnable scenario, with where it was saved.  Exit codes: ``fuzz`` 0 no
finding, 1 finding(s); ``replay`` 0 reproduced every time, 1 never, 2 flaky.
A user's mistake is one sentence (exit 254).

``--shard K/N`` runs one shard of a campaign (``lab.experiments.shards``); ``--jobs N`` runs N shards
as child processes, each on its own topology with its own store, and merges their stores into this one.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import click

from lab import records
from rich.markup import escape
from lab.errors import LabError
from lab.runtime.process.processes import install_signal_handlers
from lab.views.console import out
from lab.views.fuzzing import ProgressReporter, print_summary

DEFAULT_IN_FLIGHT = 8  # examples in flight at once unless --in-flight says otherwise (bench/fuzz_in_flight.py)


def parse_budget(text: str | None) -> float | None:
    """``300``, ``300s``, ``5m``, ``1h`` → seconds."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a duration; give seconds like 300s, or 5m, or 1h.")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


@click.command("fuzz")
@click.argument("topology", required=False, default=None)
@click.option("--space", type=click.Choice(["shapes", "configs"]), default="shapes", show_default=True,
              help="shapes: fuzz chord shapes on TOPOLOGY; configs: also draw the topology and Celery config.")
@click.option("--examples", type=click.IntRange(1, 1_000_000), default=None,
              help="Stop after this many examples (default 200, or none with --budget).")
@click.option("--budget", "budget", default=None, metavar="DURATION", help="Stop after this long, e.g. 300s or 5m.")
@click.option("--seed", type=int, default=0, show_default=True, help="Hypothesis seed; the same seed draws the same examples.")
@click.option("--behaviours", default=",".join(("ok", "raise", "retry", "reject", "ignore", "timeout", "large")),
              show_default=True, help="Task behaviours to draw, comma-separated.")
@click.option("--max-chords", type=click.IntRange(1, 20), default=3, show_default=True, help="Chords sent per example.")
@click.option("--max-header", type=click.IntRange(0, 50), default=4, show_default=True, help="Header size bound.")
@click.option("--max-leaves", type=click.IntRange(1, 50), default=6, show_default=True,
              help="Bound on the tasks of one nested header element.")
@click.option("--flat", is_flag=True, help="Flat chords only: no chains, groups or chords nested inside.")
@click.option("--no-options", is_flag=True, help="No per-signature options (queue, ignore_result, headers, countdown, eta).")
@click.option("--replays", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Replay each shrunk finding this many times to measure its replay rate.")
@click.option("--max-findings", type=click.IntRange(1, 1000), default=None, help="Stop after this many findings.")
@click.option("--skip-known", is_flag=True, help="Do not report again the kinds of finding already saved for this space and topology.")
@click.option("--findings-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where findings are saved (default findings/, or $LAB_FINDINGS).")
@click.option("--shard", "shard_arg", default=None, metavar="K/N",
              help="Run shard K of N of the campaign: every N-th hypothesis run's seed, starting at the K-th; "
                   "shards 1..N of the same command take every seed once (merge their stores with `lab report --merge`).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Run this many shards at once as child processes, each on its own topology and store; "
                   "--examples is divided among them, --budget is each one's; their stores are merged into this one.")
@click.option("--in-flight", "in_flight", type=click.IntRange(1, 64), default=DEFAULT_IN_FLIGHT, show_default=True,
              help="Examples whose chords may be in flight at once (1: each example waits for the one before).")
@click.option("--skip-kind", "skip_kinds", multiple=True, hidden=True,
              help="A kind of finding not to report (what --skip-known hands to the jobs of --jobs).")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def fuzz_cmd(topology: str | None, space: str, examples: int | None, budget: str | None, seed: int, behaviours: str,
             max_chords: int, max_header: int, max_leaves: int, flat: bool, no_options: bool, replays: int,
             max_findings: int | None, skip_known: bool, findings_dir: Path | None, shard_arg: str | None, jobs: int,
             in_flight: int, skip_kinds: tuple[str, ...], as_json: bool) -> None:
    """Search chord shapes (and configurations) for chords that do not complete as they should.

    TOPOLOGY is a scenario name or path (default: healthy) whose workers, queues and config the chords
    run on; fuzzed header tasks and callbacks are routed where its header task and callback go."""
    from lab.fuzz import findings as F
    from lab.fuzz import strategies as S
    from lab.fuzz.search import FuzzPlan, Search, shapes_topology
    from lab.fuzz.session import FuzzSession
    from lab.experiments.shards import parse_shard, shard_text
    from lab.scenario import load

    shard = parse_shard(shard_arg) if shard_arg is not None else (1, 1)
    budget_s = parse_budget(budget)
    if examples is None and budget_s is None:
        examples = 200
    wanted = tuple(b.strip() for b in behaviours.split(",") if b.strip())
    unknown = sorted(set(wanted) - set(S.BEHAVIOURS))
    if unknown or not wanted:
        raise click.BadParameter(f"unknown behaviour(s) {', '.join(unknown) or '(none given)'}; "
                                 f"choose from {', '.join(S.BEHAVIOURS)}.", param_hint="--behaviours")
    if space == "configs":
        if topology:
            out.print(f"[yellow]note: --space configs draws the topology itself; {topology!r} is not used[/yellow]")
        scenario = S.FuzzConfig().to_scenario("fuzz-configs", description="a configuration drawn by the fuzzer")
        queues: tuple = (None, *S.QUEUES)
        base_name = None
    else:
        base = load(topology or "healthy")
        scenario, consumed = shapes_topology(base)
        queues = (None, *consumed)
        base_name = base.name
    fdir = findings_dir or F.findings_dir()
    known: set[str] = set(skip_kinds)
    if skip_known:
        known |= {r["finding_kind"] for r in F.load_records() if r.get("kind") == "fuzz-finding"
                  and r.get("space") == space and r.get("base") == base_name}
    plan = FuzzPlan(space=space, examples=examples, budget_s=budget_s, seed=seed, behaviours=wanted,
                    max_chords=max_chords, max_header=max_header, max_leaves=max_leaves, nested=not flat,
                    options=not no_options, queues=queues, known=known, replays=replays, max_findings=max_findings,
                    shard=shard, in_flight=in_flight)
    plan_data = {"space": space, "topology": base_name, "examples": examples, "budget_s": budget_s, "seed": seed,
                 "behaviours": list(wanted), "max_chords": max_chords, "max_header": max_header,
                 "max_leaves": max_leaves, "nested": not flat, "options": not no_options, "replays": replays,
                 "skip_known": sorted(known), "shard": shard_text(shard), "in_flight": in_flight}
    install_signal_handlers()
    out.print(f"[bold]fuzz[/bold] space {space} on "
              + (f"the topology of [bold]{base_name}[/bold]" if base_name else "drawn topologies")
              + f"; seed {seed}; " + (f"{examples} examples" if examples else "") + (" / " if examples and budget_s else "")
              + (f"budget {budget_s:.0f} s" if budget_s else "")
              + (f"; shard {shard_text(shard)}" if shard != (1, 1) else "")
              + (f"; {in_flight} example(s) in flight" if in_flight > 1 else "")
              + (f"; {jobs} jobs" if jobs > 1 else ""))
    if jobs > 1:
        base_argv = [*([topology] if topology and space == "shapes" else []), "--space", space,
                     *(["--budget", budget] if budget else []), "--seed", str(seed), "--behaviours", ",".join(wanted),
                     "--max-chords", str(max_chords), "--max-header", str(max_header), "--max-leaves", str(max_leaves),
                     *(["--flat"] if flat else []), *(["--no-options"] if no_options else []), "--replays", str(replays),
                     *(["--max-findings", str(max_findings)] if max_findings is not None else []),
                     *[a for k in sorted(known) for a in ("--skip-kind", k)], "--in-flight", str(in_flight)]
        _fuzz_jobs(base_argv, plan_data, examples, shard, jobs, fdir, as_json)
        return
    t_start = time.time()
    saved: list[tuple[dict, Path]] = []
    aborted: BaseException | None = None
    with FuzzSession(scenario, label=f"fuzz-{space}", on_step=lambda m: out.print(f"[dim]{m}[/dim]")) as session:
        out.print(f"[dim]topology up in {session.boots[0]['s']:.2f} s: {scenario.summary()}[/dim]")
        with ProgressReporter(out, examples, budget_s) as rep:

            def save(found) -> None:  # at once: a crash later must not lose a shrunk finding
                saved.append(F.save(found, session=session, space=space, base=base_name, plan=plan_data, directory=fdir))

            search = Search(plan, session, rep, on_found=save)
            try:
                search.run()
            except KeyboardInterrupt:
                rep.phase("interrupted: what was found so far is saved")
            except Exception as e:  # recorded with the run, then reported as the CLI reports any error
                aborted = e
        stats = search.stats
        run_record = {"kind": "fuzz-run", "id": session.run_id, "t": time.time(), "started_at": t_start,
                      "space": space, "base": base_name, "seed": seed, "plan": plan_data, "stats": stats.to_dict(),
                      "findings": [r["id"] for r, _ in saved], "boots": session.boots,
                      "versions": records.versions(session.topo.redis.version), "git": records.git_revision(),
                      "command": records.command_line(), "run_dir": str(session.run_dir),
                      **({"aborted": f"{type(aborted).__name__}: {aborted}"} if aborted else {})}
    F.append_record(run_record)
    if aborted is not None:
        raise aborted
    print_summary(stats, saved, plan_data, F.fuzz_records_file())
    if as_json:
        print(json.dumps({"space": space, "topology": base_name, "seed": seed, "stats": stats.to_dict(),
                          "findings": [{"id": r["id"], "kind": r["finding_kind"], "path": str(p),
                                        "mechanism": r["mechanism"], "replay": r["replay"], "canvas": r["canvas"]}
                                       for r, p in saved]}, default=repr))
    sys.exit(1 if saved else 0)


def _fuzz_jobs(base_argv: list[str], plan_data: dict, examples: int | None, shard: tuple[int, int], jobs: int,
               fdir: Path, as_json: bool) -> None:
    """``--jobs N``: N child fuzz runs, one shard each, then their stores merged into this one; exits like one run."""
    from lab.experiments import shards as SH
    from lab.fuzz import findings as F
    from lab.fuzz.search import FuzzStats
    from lab.runtime.process.processes import ProcessOwner, Stopped

    counts = SH.split_examples(examples, jobs)
    folder = SH.jobs_dir("fuzz-jobs")
    job_list = SH.make_jobs(base_argv, SH.job_shards(shard, len(counts)), counts, folder)
    if len(job_list) < jobs:
        out.print(f"[yellow]note: {examples} example(s) make {len(job_list)} job(s), not {jobs}[/yellow]")
    out.print(f"[dim]{len(job_list)} jobs, each on its own topology and store under {folder}[/dim]", soft_wrap=True)
    t_start = time.time()

    def started(job: SH.Job) -> None:
        share = f"{job.argv[job.argv.index('--examples') + 1]} examples" if "--examples" in job.argv else "the budget"
        out.print(f"[dim]{job.label} started (pid {job.node.pid}, {share}; log {job.log.name})[/dim]")

    def found(job: SH.Job, rec: dict) -> None:
        out.print(f"{job.label}: [bold red]{escape(rec['finding_kind'])}[/bold red] {rec['id']}, shrunk to "
                  f"{escape(rec.get('canvas') or '?')}")

    def done(job: SH.Job) -> None:
        st = (job.result or {}).get("stats") or {}
        state = "done" if job.exit_code in (0, 1) else "stopped" if job.exit_code in (130, 143) else "[red]failed[/red]"
        out.print(f"{job.label} {state} in {job.elapsed_s:.1f} s: "
                  + (f"{st.get('examples', 0)} examples, {st.get('chords', 0)} chords, "
                     f"{st.get('chords_per_s', 0)} chords/s, {len((job.result or {}).get('findings') or [])} finding(s)"
                     if st else f"exit {job.exit_code}: {escape(job.last_words())} (log {job.log})"), soft_wrap=True)

    stopped: Stopped | None = None
    interrupted = False
    try:
        with ProcessOwner(folder) as owner:
            SH.run_jobs(job_list, owner, on_start=started, on_finding=found, on_done=done,
                        on_tick=lambda s, running: out.print(
                            f"[dim]{s:6.0f}s {len(running)} job(s) running; "
                            f"{sum(len(j.seen_findings) for j in job_list)} finding(s) so far[/dim]"))
    except (KeyboardInterrupt, Stopped) as e:  # Ctrl-C: like one run, what was found is merged and summed up
        stopped = e if isinstance(e, Stopped) else None
        interrupted = True
        out.print("[yellow]interrupted: every job was told to stop and record what it found; merging that[/yellow]")
    sources = [j.store for j in job_list if (j.store / "fuzz.jsonl").is_file() or records.record_files(j.store)]
    merged = SH.merge(sources, findings_dir=fdir, copy_runs=False) if sources else SH.Merged([])
    if stopped is not None:  # SIGTERM: merged, then stop as asked
        raise stopped
    runs = [r for j in job_list for r in F.load_records(j.store / "fuzz.jsonl") if r.get("kind") == "fuzz-run"]
    stats = FuzzStats(started=t_start)
    for r in runs:  # every counter of every job, summed (a peak is the highest job's)
        for f in dataclasses.fields(stats):
            cur, v = getattr(stats, f.name), r["stats"].get(f.name)
            if v is None or f.name in ("started", "example_s"):
                continue
            if isinstance(cur, Counter):
                cur.update(v)
            elif isinstance(cur, (int, float)) and not isinstance(cur, bool):
                setattr(stats, f.name, max(cur, v) if f.name.endswith("peak") else cur + v)
    # the jobs ran side by side: the campaign ran examples for as long as its busiest job did
    stats.example_s = max((r["stats"].get("example_s") or 0 for r in runs), default=0.0)
    saved = []
    for rec, path in merged.fuzz.get("saved") or []:
        if path is None:
            rec = {**rec, "file_error": "its scenario file was not in its job's store"}
        saved.append((rec, path))
    out.print(f"[dim]{merged.line()}[/dim]", soft_wrap=True)
    print_summary(stats, saved, {**plan_data, "jobs": len(job_list)}, F.fuzz_records_file())
    for rec, _ in saved:
        ws = rec.get("witnesses") or []
        if len(ws) > 1:
            out.print(f"  {rec['id']} has {len(ws)} witnesses (findings of this kind, each shrunk from its own seed): "
                      + "; ".join(f"{w['id']} (seed {w.get('seed')}, shard {w.get('shard')})" for w in ws),
                      soft_wrap=True)
    # a job told to stop may end as a stopped run (130) or be killed after the grace: neither is a failure
    failed = [j for j in job_list if j.exit_code not in (0, 1) and not (interrupted and j.exit_code in (130, 143, None))]
    if as_json:
        print(json.dumps({"space": plan_data["space"], "topology": plan_data["topology"], "seed": plan_data["seed"],
                          "stats": stats.to_dict(), "jobs": [{"shard": SH.shard_text(j.shard), "exit_code": j.exit_code,
                                                              "elapsed_s": round(j.elapsed_s, 2), "store": str(j.store),
                                                              "stats": (j.result or {}).get("stats")} for j in job_list],
                          "findings": [{"id": r["id"], "kind": r["finding_kind"], "path": str(p) if p else None,
                                        "mechanism": r.get("mechanism"), "replay": r.get("replay"),
                                        "canvas": r.get("canvas"), "witnesses": r.get("witnesses") or []}
                                       for r, p in saved]}, default=repr))
    if failed:  # bad input a job found (254) is the campaign's; anything else is the lab crashing (255)
        e = LabError(f"{len(failed)} of {len(job_list)} job(s) did not finish: " + "; ".join(
            f"{j.label} exited {j.exit_code} ({j.last_words()}; log {j.log})" for j in failed)
            + "; what the others found is merged.")
        e.exit_code = 254 if all(j.exit_code == 254 for j in failed) else 255
        raise e
    sys.exit(1 if saved or any(j.exit_code == 1 for j in job_list) else 130 if interrupted else 0)


@click.command("replay")
@click.argument("finding")
@click.option("--runs", type=click.IntRange(1, 100), default=3, show_default=True, help="Replay it this many times.")
@click.option("--findings-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where findings are saved (default findings/, or $LAB_FINDINGS).")
@click.option("--chains", type=click.Choice(["as-found", "pipe", "chain-app", "both"]), default="as-found",
              show_default=True,
              help="Build its chains as found, as `a | b` (pipe), as `chain(a, b, app=app)`, or both ways in turn: "
                   "`both` records in the finding which construction path it needs.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def replay_cmd(finding: str, runs: int, findings_dir: Path | None, chains: str, as_json: bool) -> None:
    """Rerun a shrunk finding exactly (its shape, through a fuzz session) and print its verdict and proof.

    FINDING is a finding id (from findings/) or a path to a finding file."""
    from lab.views.console import print_proof, verdict_table
    from lab.fuzz import findings as F
    from lab.fuzz import strategies as S
    from lab.fuzz.search import replay_example
    from lab.fuzz.session import FuzzSession

    data = F.load(finding, findings_dir)
    fnd, shapes, scenario = data["finding"], data["shapes"], data["scenario"]
    kind = fnd["finding_kind"]
    out.print(f"[bold]{fnd['id']}[/bold]: {kind}  ({data['path']})")
    out.print(f"[dim]{scenario.summary()}[/dim]")
    for s in shapes:
        out.print(f"  {escape(S.describe(s))}")
    install_signal_handlers()
    shown = []

    def show(result) -> None:
        n = len(shown) + 1
        rows = [o.to_dict() for o in result.outcomes]
        out.print(f"\n[bold]run {n}/{runs * (2 if chains == 'both' else 1)}[/bold] ({result.elapsed_s:.2f} s, {result.settled})")
        out.print(verdict_table(rows))
        print_proof(out, rows)
        shown.append(rows)

    paths = S.CHAIN_PATHS if chains == "both" else (chains,)
    by_path: dict[str, dict] = {}
    with FuzzSession(scenario, label="replay") as session:
        for path in paths:
            built = shapes if path == "as-found" else [S.with_chains(s, path) for s in shapes]
            if path != "as-found":
                out.print(f"\n[bold]chains built as {F.PATH_WORDS[path]}[/bold]: " + escape("; ".join(S.describe(s) for s in built)))
            by_path[path] = replay_example(session, built, None, kind, runs, on_run=show)
        versions = records.versions(session.topo.redis.version)
    if chains == "both":
        construction = F.construction_summary(sorted(set().union(*(S.chain_paths(s) for s in shapes))),
                                              {p: r["reproduced"] == runs for p, r in by_path.items()},
                                              flaky=bool((fnd.get("replay") or {}).get("flaky"))
                                              or any(0 < r["reproduced"] < runs for r in by_path.values()))
        line = F.construction_line(construction) if construction["built"] else "the canvas has no chain"
        out.print(f"\n[bold]construction[/bold]: {line}")
        if construction["built"]:
            F.update(str(data["path"]), {"construction": construction}, findings_dir)
            out.print(f"[dim]recorded in {data['path']} and {F.fuzz_records_file()}[/dim]")
    replay = {"runs": sum(r["runs"] for r in by_path.values()),
              "reproduced": sum(r["reproduced"] for r in by_path.values()),
              "seen": [k for r in by_path.values() for k in r["seen"]]}
    replay.update({"rate": replay["reproduced"] / replay["runs"], "flaky": replay["reproduced"] < replay["runs"],
                   **({"chains": {p: r["reproduced"] for p, r in by_path.items()}} if chains != "as-found" else {})})
    runs = replay["runs"]
    state = "reproduced every time" if replay["reproduced"] == runs else (
        "did not reproduce" if replay["reproduced"] == 0 else "flaky")
    style = {"reproduced every time": "red", "did not reproduce": "green", "flaky": "yellow"}[state]
    out.print(f"\n[{style}]{state}[/]: {kind} in {replay['reproduced']}/{runs} run(s); seen: {', '.join(replay['seen'])}")
    F.append_record({"kind": "fuzz-replay", "id": fnd["id"], "t": time.time(), "finding_kind": kind, "replay": replay,
                     "versions": versions, "git": records.git_revision(), "command": records.command_line()})
    if as_json:
        print(json.dumps({"id": fnd["id"], "kind": kind, "replay": replay, "verdicts": shown[-1] if shown else []},
                         default=repr))
    sys.exit(0 if state == "reproduced every time" else 1 if state == "did not reproduce" else 2)


__all__ = ["fuzz_cmd", "replay_cmd", "parse_budget", "LabError"]
