"""``lab casebook [--out DIR] [--scenario NAME ...]``: the static casebook site (``lab.report.casebook``).
"""

from __future__ import annotations

from pathlib import Path

import click

from lab.views.console import out


@click.command("casebook")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="The folder to write (default: docs/casebook at the project root); a casebook there is replaced.")
@click.option("--scenario", "names", multiple=True, metavar="NAME",
              help="Only this scenario (with its fixed variant) or finding id; repeat for more. Default: all of them.")
def casebook_cmd(out_dir: Path | None, names: tuple[str, ...]) -> None:
    """Write the casebook: a static HTML folder, one page per scenario (its set-up, config, the timeline of a
    representative stored run, the verdict with proof, the cause's meaning and fix, its fixed variant's picture)
    and per fuzzing finding (its exported reproducer), with the versions and release ranges. Opens from file://."""
    from lab.report.casebook import write_casebook
    from lab.report.results import PROJECT_ROOT

    folder = out_dir if out_dir is not None else PROJECT_ROOT / "docs" / "casebook"
    w = write_casebook(folder, names, log=lambda line: out.print(f"[dim]{line}[/dim]", highlight=False))
    out.print(f"wrote {w.folder}: {w.pages} page(s) ({len(w.scenarios)} scenario(s), {len(w.findings)} finding(s)), "
              f"{w.pictures} timeline(s); {w.bytes / 1024:.0f} KiB in all, of which pictures {w.svg_bytes / 1024:.0f} KiB; "
              f"open {w.folder / 'index.html'}", highlight=False, soft_wrap=True)
