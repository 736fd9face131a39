"""``lab report``: RESULTS.md, regenerated from the records; ``lab report --merge DIR...`` merges shards' stores first.
"""

from __future__ import annotations

from pathlib import Path

import click

from lab.errors import LabError
from lab.views.console import out


@click.command()
@click.argument("stores", nargs=-1, type=click.Path(path_type=Path))
@click.option("--merge", "merge", is_flag=True,
              help="First merge the results stores STORES (the shards of a campaign: each one's LAB_RESULTS, its "
                   "findings in its findings/) into this store: each record once, so merging again adds nothing.")
@click.option("--findings-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where merged finding files go (default findings/, or $LAB_FINDINGS).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (default: RESULTS.md at the project root).")
def report(stores: tuple[Path, ...], merge: bool, findings_dir: Path | None, output: Path | None) -> None:
    """Regenerate RESULTS.md from every stored run (with --merge, after merging the stores STORES into this one)."""
    from lab.report.results import write_report

    if stores and not merge:
        raise LabError(f"`lab report` takes stores to read only with --merge: `python -m lab report --merge "
                       f"{' '.join(map(str, stores))}` merges them into this store first.")
    if merge:
        if not stores:
            raise LabError("--merge needs the stores to merge: `python -m lab report --merge DIR [DIR ...]`, each DIR "
                           "a shard's results store (its LAB_RESULTS).")
        if output is not None and not output.parent.is_dir():  # before anything is merged
            raise LabError(f"--output {output}: the folder {output.parent} does not exist; create it, or write into a "
                           "folder that exists.")
        from lab import records
        from lab.experiments.shards import merge as merge_stores

        records.check_store_writable()
        merged = merge_stores(list(stores), findings_dir=findings_dir)
        out.print(merged.line(), soft_wrap=True)
    path, n = write_report(output)
    out.print(f"wrote {path} from {n} stored run(s)")
