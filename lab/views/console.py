"""Views: what a person sees of a run, a verdict and its proof.

    scenario → runtime up → chords sent → observations → verdict → record → **views** (console)

Views read models (verdict dicts, records) and never a runtime: the CLI, the
fuzzer's CLI, ``lab attach`` and the docker runtime's ``clean`` print through
them.  ``Reporter`` is what a run says while it runs (silent); the console's
``ConsoleReporter`` says it to a person.  The exit codes of the lab's contract
are defined here once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.markup import escape
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.judge import CAUSES


class Reporter:
    """What a run says while it runs; the console gives a richer one."""

    def step(self, msg: str) -> None: ...

    def progress(self, total: int, started: int, ended: int) -> None: ...


EXIT = {"matched": 0, "mismatched": 1, "unknown": 2}
EXIT_BAD_INPUT = 254
EXIT_CRASH = 255
VERDICT_STYLE = {"completed": "green", "stuck": "bold red", "failed": "red", "duplicated": "magenta",
                 "early": "magenta", "unrecorded": "yellow", "unknown": "bold yellow", "running": "cyan"}

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class ConsoleReporter:
    """The run's progress for a person (the interface of Reporter)."""

    def __init__(self, console: Console):
        self.console = console
        self.status = None
        self.t0 = time.time()

    def step(self, msg: str) -> None:
        self.console.print(f"[dim]{time.time() - self.t0:5.2f}s[/dim] {escape(msg)}")  # a canvas has [brackets]

    def progress(self, total: int, started: int, ended: int) -> None:
        text = f"header parts: {ended}/{total} ended, {started - ended} running"
        if self.status is None:
            self.status = self.console.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def done(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def verdict_table(verdicts: list[dict[str, Any]]) -> Table:
    t = Table(show_edge=False, header_style="bold")
    t.add_column("#", justify="right")
    t.add_column("chord (callback id)")
    t.add_column("verdict")
    t.add_column("cause")
    t.add_column("what happened", overflow="fold")
    for v in verdicts:
        t.add_row(str(v["index"]), v["chord_id"][:8] + "…", Text(v["verdict"], style=VERDICT_STYLE.get(v["verdict"], "")),
                  v.get("cause") or "", v.get("summary") or "")
    return t


def print_proof(console: Console, verdicts: list[dict[str, Any]]) -> None:
    shown: set[tuple] = set()
    for v in verdicts:
        if v["verdict"] in ("completed",):
            continue
        key = (v["verdict"], v.get("cause"))
        if key in shown:
            continue
        shown.add(key)
        title = f"{v['verdict']}" + (f" · {v['cause']}" if v.get("cause") else "")
        console.print(f"\n[{VERDICT_STYLE.get(v['verdict'], 'bold')}]{title}[/]  chord {v['chord_id']}")
        console.print(f"  {v.get('summary') or ''}")
        if v.get("cause") in CAUSES:
            console.print(f"  [dim]mechanism: {CAUSES[v['cause']]}[/dim]")
        for line in v.get("evidence") or []:
            console.print(f"   [dim]•[/dim] {line}", soft_wrap=True)
    n_more = sum(1 for v in verdicts if v["verdict"] != "completed") - len(shown)
    if n_more > 0:
        console.print(f"\n  [dim](+{n_more} more chord(s) with the same verdict and cause)[/dim]")


def json_line(record: dict[str, Any], outcome: dict[str, Any]) -> str:
    return json.dumps({
        "scenario": record["scenario"], "expected": record["expected"], "reproduced": outcome["reproduced"],
        "outcomes": outcome["outcomes"], "causes": outcome["causes"], "proof": outcome["proof"],
        "status": outcome["status"], "elapsed_s": record["elapsed_s"], "versions": record["versions"],
        "seed": record["seed"], "run_id": record["run_id"], "git": record.get("git"), "replay": record["replay"],
        "timings": record.get("timings"),
    }, default=repr)
