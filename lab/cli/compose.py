"""``lab compose``: a scenario's topology written as a compose file.
"""

from __future__ import annotations

import click

from lab.runtime.docker.compose import render
from lab.scenario import load


@click.command("compose")
@click.argument("scenario")
@click.option("--context", default=None, metavar="DIR",
              help="The build context the file names for the image (default: this checkout).")
def compose_cmd(scenario: str, context: str | None) -> None:
    """Print a docker-compose file for SCENARIO's topology: python -m lab compose split-queues > my-topology.yml"""
    click.echo(render(load(scenario), context=context), nl=False)
