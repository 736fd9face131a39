"""``lab report``: RESULTS.md, regenerated from the records.
"""

from __future__ import annotations

from pathlib import Path

import click

from lab.views.console import out


@click.command()
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (default: RESULTS.md at the project root).")
def report(output: Path | None) -> None:
    """Regenerate RESULTS.md from every stored run."""
    from lab.report.results import write_report

    path, n = write_report(output)
    out.print(f"wrote {path} from {n} stored run(s)")
