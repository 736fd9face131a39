"""``lab matrix``: scenarios × Celery versions, and the matrix table.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import click
from rich.text import Text

from lab import records
from lab.errors import LabError
from lab.experiments import envs
from lab.experiments.matrix import (Cell, cell_text, rich_matrix, run_cells, vkey, worst, cell_summaries,
                                    differences, prepare_all, scenario_label)
from lab.runtime.process.processes import install_signal_handlers
from lab.runtime.process.runtime import ProcessRuntime
from lab.scenario import load, scenario_paths
from lab.views.console import EXIT, out


@click.command("matrix")
@click.option("--celery", "versions", required=True, metavar="VERSIONS",
              help="Comma-separated Celery versions: 5.4 (the latest 5.4.x) or 5.3.6 (exactly).")
@click.option("--scenario", "-s", "scenarios", multiple=True, metavar="SCENARIO",
              help="A scenario to include (repeatable; default: every scenario in `lab list`).")
@click.option("--runs", type=click.IntRange(1, 100), default=3, show_default=True, help="Runs per cell.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Cells run at once (default: the number of cores).")
@click.option("--seed", type=int, default=None, help="First seed of every cell (run i uses seed+i).")
@click.option("--shard", "shard_arg", default=None, metavar="K/N",
              help="Run only shard K of N of the cells (in the order release, then scenario: cell i to shard i mod N, plus 1); "
                   "give every shard the same --seed, then merge their stores with `lab report --merge`.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def matrix_cmd(versions: str, scenarios: tuple[str, ...], runs: int, jobs: int | None, seed: int | None,
               shard_arg: str | None, as_json: bool) -> None:
    """Run scenarios on several Celery versions and show which versions reproduce each one.

    Each version gets its own environment (made once, then cached under
    $LAB_ENVS or ~/.cache/chord-lab/envs); its producer and workers run that
    version.  Every cell is RUNS real runs, recorded like any other run."""
    from lab.experiments.shards import matrix_cell_key, parse_shard, partition, shard_text

    t_start = time.monotonic()
    shard = parse_shard(shard_arg) if shard_arg is not None else (1, 1)
    specs = envs.parse_versions(versions)
    refs = list(dict.fromkeys(scenarios)) or list(scenario_paths())
    loaded = {ref: load(ref) for ref in refs}  # every scenario is checked before anything is installed or started
    # Faults such as network partitions need containers, and a version's environment runs local processes.
    container_only = [ref for ref, s in loaded.items() if ProcessRuntime().refuses(s)]
    refs = [str(Path(r).resolve()) if Path(r).is_file() else r for r in refs if r not in container_only]
    if shard != (1, 1) and seed is None:
        raise LabError("--shard needs --seed: every shard of the matrix must run its cells with the same seeds.")
    seed = seed if seed is not None else random.randrange(2**31)
    jobs = jobs or os.cpu_count() or 1
    # The shard's cells, chosen before any environment is made: a shard prepares only the versions it runs.
    all_pairs = [(spec, ref) for ref in refs for spec in specs]
    pairs = partition(all_pairs, shard, key=lambda p: matrix_cell_key(p[0].release, p[0].text, scenario_label(p[1]), p[1]))
    asked, specs = specs, [s for s in specs if any(p[0] == s for p in pairs)]
    install_signal_handlers()
    out.print(f"[bold]version matrix[/bold]: {len(refs)} scenario(s) × celery {', '.join(map(str, asked))}, "
              f"{runs} run(s) per cell, seeds {seed}..{seed + runs - 1}, {jobs} cell(s) at a time"
              + (f"; shard {shard_text(shard)}: {len(pairs)} of {len(all_pairs)} cell(s)" if shard != (1, 1) else ""))
    if not pairs:
        out.print(f"shard {shard_text(shard)} has no cell: the matrix has {len(all_pairs)} cell(s) for {shard[1]} shards.")
        if as_json:
            print(json.dumps({"seed": seed, "runs": runs, "shard": shard_text(shard), "status": "matched", "cells": []}))
        sys.exit(0)
    if container_only:
        out.print(f"[yellow]left out[/yellow] (their faults need `--runtime docker`, and the matrix runs local "
                  f"processes): {', '.join(scenario_label(r) for r in container_only)}", soft_wrap=True)
    t_env = time.monotonic()
    prepared = prepare_all(specs, lambda msg: out.print(msg, soft_wrap=True))
    prepared.sort(key=lambda p: (p.env is None, vkey(p.env.celery) if p.env else p.spec.release))  # columns in release order
    env_s = time.monotonic() - t_env

    wanted = {(spec.text, ref) for spec, ref in pairs}
    cells = [Cell(ref, p.spec.text, p.env, seed, runs, error=p.error) for ref in refs for p in prepared
             if (p.spec.text, ref) in wanted]
    to_run = [c for c in cells if c.env is not None]
    finished = [0]

    def done(cell: Cell) -> None:
        finished[0] += 1
        out.print(Text.assemble((f"[{finished[0]:>{len(str(len(to_run)))}}/{len(to_run)}] ", "dim"), cell.label, ": ",
                                cell_text(cell), (f"  {cell.elapsed_s:.1f} s", "dim")), soft_wrap=True)

    t_cells = time.monotonic()
    log_dir = run_cells("matrix", cells, jobs=jobs, on_done=done)
    cells_s = time.monotonic() - t_cells

    out.print()
    out.print(rich_matrix(cells, prepared))
    ids = {rid for c in cells for rid in (c.to_dict()["run_ids"]) if rid}
    recs = [r for r in records.load_all() if r["run_id"] in ids]
    for line in differences(cell_summaries(recs)):
        out.print(f"[magenta]differs[/magenta] {line}", soft_wrap=True)
    total = time.monotonic() - t_start
    out.print(f"[dim]environments {env_s:.1f} s, cells {cells_s:.1f} s, {total:.1f} s in all"
              + (f"; cell logs in {log_dir}" if log_dir else "") + "[/dim]")
    status = worst(c.status() for c in cells)
    if as_json:
        sys.stdout.flush()
        print(json.dumps({"seed": seed, "runs": runs, "jobs": jobs, "shard": shard_text(shard), "status": status,
                          "left_out": container_only,
                          "envs": [p.to_dict() for p in prepared], "cells": [c.to_dict() for c in cells],
                          "env_s": round(env_s, 2), "cells_s": round(cells_s, 2), "elapsed_s": round(total, 2)},
                         default=repr), flush=True)
    sys.exit(EXIT[status])
