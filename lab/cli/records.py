"""``lab records``: the stored records, one gzip JSON Lines file per campaign; list, compact, migrate.
"""

from __future__ import annotations

import click

from lab import records
from lab.views.console import out


@click.group("records")
def records_cmd() -> None:
    """The stored records: one gzip JSON Lines file per campaign under records/ ($LAB_CAMPAIGN names the current one)."""


@records_cmd.command("list")
def records_list() -> None:
    """Every file of records, in the order they are read: records, bytes."""
    files = records.record_files()
    if not files:
        out.print(f"no stored runs in {records.store_dir()}")
    for f in files:
        n = sum(1 for _ in records.load_all(f))
        out.print(f"{f.relative_to(records.store_dir())}: {n} record(s), {f.stat().st_size:,} bytes")
    out.print(f"[dim]new runs go to {records.runs_file().relative_to(records.store_dir())}[/dim]")


@records_cmd.command("compact")
def records_compact() -> None:
    """Rewrite each campaign as one gzip member (appends make one member each), keeping every record."""
    records.check_store_writable()
    done = records.compact()
    for name, before, after, n in done:
        out.print(f"{name}: {n} record(s), {before:,} → {after:,} bytes")
    if not done:
        out.print(f"no campaign to compact in {records.records_dir()}")


@records_cmd.command("migrate")
def records_migrate() -> None:
    """Move an older lab's runs.jsonl into campaign files, every record byte for byte, then remove it."""
    records.check_store_writable()
    moved = records.migrate()
    if moved is None:
        out.print(f"nothing to migrate: {records.legacy_runs_file()} does not exist")
        return
    total = sum(size for _, _, size in moved["campaigns"])
    out.print(f"moved {moved['records']} record(s) from runs.jsonl ({moved['legacy_bytes']:,} bytes) into "
              f"{len(moved['campaigns'])} campaign(s) ({total:,} bytes); runs.jsonl removed")
    for name, n, size in moved["campaigns"]:
        out.print(f"  records/{name}{records.CAMPAIGN_SUFFIX}: {n} record(s), {size:,} bytes")
    if moved["skipped"]:
        out.print(f"[yellow]{moved['skipped']} line(s) were not records (a torn line) and were left out[/yellow]")
