"""``lab clean``: what killed runs left behind (run folders, containers).
"""

from __future__ import annotations

import click

from lab import records
from lab.errors import LabError
from lab.views.console import out


@click.command()
@click.option("--all", "everything", is_flag=True, help="Also remove the containers of runs whose lab is still running.")
@click.option("--dry-run", is_flag=True, help="Only list what would be moved or removed.")
@click.pass_context
def clean(ctx: click.Context, everything: bool, dry_run: bool) -> None:
    """Quarantine the run folders a killed lab left without a record; remove the containers and networks it left.

    A live run's folder is never touched, even with --all: it holds a lock until the run ends."""
    orphaned = records.orphaned_run_dirs(move=not dry_run)
    out.print(records.orphaned_line(orphaned, moved=not dry_run) if orphaned
              else "no run folder to quarantine: every one belongs to a recorded or a live run")
    from lab.runtime.docker import containers as docker_runtime

    try:
        ctx.invoke(docker_runtime.clean_cmd, everything=everything, dry_run=dry_run)
    except LabError as e:  # no SDK or no engine: there is no container to look at, and the folders are done
        from rich.markup import escape

        out.print(f"[dim]containers: not checked ({escape(str(e))})[/dim]", soft_wrap=True)
