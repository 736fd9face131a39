"""A fuzz campaign, for a person: the progress line while it runs, each finding shrunk, the summary at the end.

    strategies → session → oracle + judge → search → findings → **this view**
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from lab.views.console import out


class ProgressReporter:
    """A progress bar: examples, chords/s, verdicts so far, findings."""

    def __init__(self, console: Console, total: int | None, budget_s: float | None):
        self.console = console
        self.progress = Progress(TextColumn("[bold]fuzzing[/bold]"), BarColumn(),
                                 TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=console, transient=False, refresh_per_second=4)
        self.budget_s = budget_s
        self.task = self.progress.add_task("starting", total=total if total else (budget_s or None))
        self.by_time = not total and bool(budget_s)
        self.t0 = time.time()

    def __enter__(self) -> "ProgressReporter":
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def example(self, stats, result, findings: int) -> None:
        verdicts = ", ".join(f"{n} {k}" for k, n in sorted(stats.verdicts.items()))
        desc = (f"{stats.examples} examples · {stats.chords_per_s:.1f} chords/s · {verdicts} · "
                f"{findings} finding(s)" + (" · shrinking" if stats.shrink_examples and result.findings else ""))
        done = (time.time() - self.t0) if self.by_time else stats.examples
        self.progress.update(self.task, description=desc, completed=done)

    def phase(self, msg: str) -> None:
        self.progress.console.print(f"[dim]{time.time() - self.t0:6.1f}s[/dim] {escape(msg)}")

    def finding(self, found) -> None:
        o = found.outcome
        rep = found.replay
        self.progress.console.print(
            f"[bold red]finding[/bold red] {found.kind}: {escape(o.summary)}  "
            f"[dim](after {found.examples_before} examples, shrunk in {found.shrink_s:.0f} s, "
            f"replayed {rep.get('reproduced')}/{rep.get('runs')})[/dim]")


def print_summary(stats, saved: list[tuple[dict, Path]], plan: dict[str, Any], records_file: Path) -> None:

    verdicts = ", ".join(f"{n} {k}" for k, n in sorted(stats.verdicts.items())) or "none"
    by_design = ", ".join(f"{n} {k}" for k, n in sorted(stats.as_expected.items()) if k != "completed")
    out.print(f"\n{stats.examples} examples, {stats.chords} chords in {stats.elapsed_s:.1f} s "
              f"({stats.chords_per_s:.1f} chords/s while running examples); verdicts: {verdicts}"
              + (f" (as the oracle expected: {by_design})" if by_design else ""))
    if stats.known_seen:
        out.print("[dim]known kinds seen again: " + ", ".join(f"{k} ×{n}" for k, n in stats.known_seen.items()) + "[/dim]")
    if getattr(stats, "unconfirmed", None):
        out.print("[yellow]seen only with other examples in flight, not again alone (so not reported; they may need "
                  "the concurrency, or another example's load, to show): "
                  + ", ".join(f"{k} ×{n}" for k, n in stats.unconfirmed.items())
                  + "; try --in-flight 1 to search for them one example at a time[/yellow]")
    if getattr(stats, "unshrunk", None):
        out.print("[yellow]seen, but not shrunk or reported: the budget was spent first: "
                  + ", ".join(f"{k} ×{n}" for k, n in stats.unshrunk.items())
                  + "; give more --examples or --budget to have them shrunk[/yellow]")
    if not saved:
        out.print("[green]no finding[/green]: every chord ended as its oracle says a correct Celery ends it.")
        return
    for rec, path in saved:
        mech = rec["mechanism"]
        rep = rec["replay"]
        out.print(f"\n[bold red]{rec['finding_kind']}[/bold red]  [bold]{rec['id']}[/bold]  "
                  + (f"known mechanism {mech['id']} ({mech['name']})" if mech["known"] else "[bold]new[/bold]: " + mech["why"]))
        out.print(f"  {escape(rec['summary'])}")
        out.print(f"  shrunk to: [bold]{escape(rec['canvas'])}[/bold]")
        for line in rec["evidence"][:8]:
            out.print(f"   [dim]•[/dim] {escape(line)}", soft_wrap=True)
        out.print(f"  replayed {rep['reproduced']}/{rep['runs']}" + (" [yellow](flaky)[/yellow]" if rep["flaky"] else ""))
        if rec.get("file_error"):
            out.print(f"  [red]its scenario file could not be written ({rec['file_error']}); the record is in "
                      f"{records_file}[/red]")
            continue
        text = path.read_text()
        runnable = text[text.index("def canvas(app):"):] if "def canvas(app):" in text else text[text.index("scenario = "):]
        out.print(f"  saved as [bold]{path}[/bold]: its canvas exactly as sent")
        out.print("[dim]" + escape(runnable.rstrip()) + "[/dim]", soft_wrap=True)
        out.print(f"  run: python -m lab run {rec['id']}; replay: python -m lab replay {rec['id']}; "
                  f"export: python -m lab export {rec['id']} --to DIR")
