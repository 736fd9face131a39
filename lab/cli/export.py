"""``lab export FINDING-or-SCENARIO --to DIR``: a standalone reproducer in plain Celery (``lab.report.export``).
"""

from __future__ import annotations

from pathlib import Path

import click

from lab.views.console import out


@click.command("export")
@click.argument("ref")
@click.option("--to", "to", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write (new or empty).")
@click.option("--seed", type=int, default=None, help="For a scenario of lab.Chord(...)s: the seed of its values (0).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def export_cmd(ref: str, to: Path, seed: int | None, force: bool, as_json: bool) -> None:
    """Write REF (a finding id or file, or a scenario name or file) as plain Celery, for an upstream report:
    tasks, the canvas exactly as sent, the worker command lines, a README; `bash run.sh` runs it."""
    from lab.report.export import export, to_json

    e = export(ref, to, seed=seed, force=force)
    out.print(f"[bold]wrote {e.folder}[/bold]: {', '.join(e.files)}")
    for line in e.worker_lines:
        out.print(f"  worker: {line}", markup=False, highlight=False)
    out.print(f"run it: cd {e.folder} && pip install -r requirements.txt && bash run.sh   "
              "(exit 1: the symptom showed)", markup=False, highlight=False)
    if as_json:
        print(to_json(e))
