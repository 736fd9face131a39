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
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def matrix_cmd(versions: str, scenarios: tuple[str, ...], runs: int, jobs: int | None, seed: int | None,
               as_json: bool) -> None:
    """Run scenarios on several Celery versions and show which versions reproduce each one.

    Each version gets its own environment (made once, then cached under
    $LAB_ENVS or ~/.cache/chord-lab/envs); its producer and workers run that
    version.  Every cell is RUNS real runs, recorded like any other run."""
    t_start = time.monotonic()
    specs = envs.parse_versions(versions)
    refs = list(dict.fromkeys(scenarios)) or list(scenario_paths())
    loaded = {ref: load(ref) for ref in refs}  # every scenario is checked before anything is installed or started
    # Faults such as network partitions need containers, and a version's environment runs local processes.
    container_only = [ref for ref, s in loaded.items() if ProcessRuntime().refuses(s)]
    refs = [str(Path(r).resolve()) if Path(r).is_file() else r for r in refs if r not in container_only]
    seed = seed if seed is not None else random.randrange(2**31)
    jobs = jobs or os.cpu_count() or 1
    install_signal_handlers()
    out.print(f"[bold]version matrix[/bold]: {len(refs)} scenario(s) × celery {', '.join(map(str, specs))}, "
              f"{runs} run(s) per cell, seeds {seed}..{seed + runs - 1}, {jobs} cell(s) at a time")
    if container_only:
        out.print(f"[yellow]left out[/yellow] (their faults need `--runtime docker`, and the matrix runs local "
                  f"processes): {', '.join(scenario_label(r) for r in container_only)}", soft_wrap=True)
    t_env = time.monotonic()
    prepared = prepare_all(specs, lambda msg: out.print(msg, soft_wrap=True))
    prepared.sort(key=lambda p: (p.env is None, vkey(p.env.celery) if p.env else p.spec.release))  # columns in release order
    env_s = time.monotonic() - t_env

    cells = [Cell(ref, p.spec.text, p.env, seed, runs, error=p.error) for ref in refs for p in prepared]
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
        print(json.dumps({"seed": seed, "runs": runs, "jobs": jobs, "status": status, "left_out": container_only,
                          "envs": [p.to_dict() for p in prepared], "cells": [c.to_dict() for c in cells],
                          "env_s": round(env_s, 2), "cells_s": round(cells_s, 2), "elapsed_s": round(total, 2)},
                         default=repr), flush=True)
    sys.exit(EXIT[status])
