"""``lab list``: every scenario, one line each.
"""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from lab.errors import LabError
from lab.scenario import load_file, scenario_paths
from lab.views.console import VERDICT_STYLE, out


@click.command("list")
def list_cmd() -> None:
    """Every scenario, one line each: name, what it sets up, what it expects."""
    t = Table(show_edge=False, header_style="bold")
    t.add_column("scenario", no_wrap=True)
    t.add_column("expects", no_wrap=True)
    t.add_column("what it sets up", overflow="fold")
    for name, path in scenario_paths().items():
        try:
            s = load_file(path)
        except LabError as e:
            t.add_row(name, "[red]invalid[/red]", str(e))
            continue
        exp = s.expect + (f" ({s.expect_cause})" if s.expect_cause else "")
        t.add_row(name, Text(exp, style=VERDICT_STYLE.get(s.expect, "")), s.description)
    out.print(t)
