"""The command line's trunk: ``python -m lab <command>``; each command is its own short module.

    parse → one call into the flow → a view → an exit code

Every command is imported only when used (hypothesis and the version matrix are
slow to import, and ``lab run`` should not pay for them).  Output is for a
person; ``--json`` adds one JSON object as the last line of stdout.  Exit codes
follow Jepsen: 0 the outcome matches what the scenario expects, 1 it does not,
2 unknown, 254 bad input, 255 the lab crashed.  A user's mistake gets one
sentence, never a traceback.  Nothing below the CLI imports it.
"""

from __future__ import annotations

import copy
import functools
import os
import signal
import sys
import traceback
from typing import Any

import click

from lab import records
from lab.errors import LabError
from lab.runtime.process.processes import stop_requested
from lab.views.console import EXIT_BAD_INPUT, EXIT_CRASH, err

# Every command, as module:attribute below lab.cli.
COMMANDS = {
    "list": "lab.cli.catalogue:list_cmd",
    "run": "lab.cli.run:run",
    "show": "lab.cli.show:show",
    "report": "lab.cli.report:report",
    "clean": "lab.cli.clean:clean",
    "records": "lab.cli.records:records_cmd",
    "fuzz": "lab.cli.fuzz:fuzz_cmd",
    "replay": "lab.cli.fuzz:replay_cmd",
    "doctor": "lab.cli.doctor:doctor_cmd",
    "audit": "lab.cli.audit:audit_cmd",
    "matrix": "lab.cli.matrix:matrix_cmd",
    "attach": "lab.cli.attach:attach_cmd",
    "compose": "lab.cli.compose:compose_cmd",
    "export": "lab.cli.export:export_cmd",
    "witness": "lab.cli.witness:witness_cmd",
    "bisect": "lab.cli.bisect:bisect_cmd",
    "casebook": "lab.cli.casebook:casebook_cmd",
}


# Commands that write the results store: it is checked once their options are parsed, before
# they start any process, so an unwritable store is one sentence and exit 254, not a crash mid-run.
WRITES_STORE = ("run", "fuzz", "replay", "matrix", "attach", "witness", "bisect")


def _checking_store_first(cmd: click.Command) -> click.Command:
    """A copy of ``cmd`` whose body runs only once the store is known to be writable."""
    body = cmd.callback

    @functools.wraps(body)
    def checked(*args: Any, **kwargs: Any) -> Any:
        records.check_store_writable()
        return body(*args, **kwargs)

    checked_cmd = copy.copy(cmd)
    checked_cmd.callback = checked
    return checked_cmd


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._available(n))

    @staticmethod
    def _available(name: str) -> bool:
        import importlib.util

        try:
            return importlib.util.find_spec(COMMANDS[name].split(":")[0]) is not None
        except ModuleNotFoundError:  # its parent package is not there yet
            return False

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and self._available(name):
            import importlib

            module, attr = COMMANDS[name].split(":")
            cmd = getattr(importlib.import_module(module), attr)
        else:
            cmd = super().get_command(ctx, name)
        return _checking_store_first(cmd) if cmd is not None and name in WRITES_STORE else cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A reproducible chord failure lab: real Redis, real Celery workers, verdicts with proof."""


def entry() -> None:
    """Run the CLI with the lab's exit codes and one-sentence errors."""
    try:
        main.main(standalone_mode=False, prog_name="python -m lab")
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.UsageError as e:
        hint = f" (see `python -m lab {e.ctx.info_name} --help`)" if e.ctx and e.ctx.info_name != "python -m lab" else " (see `python -m lab --help`)"
        err.print(f"lab: {e.format_message()}{hint}")
        sys.exit(EXIT_BAD_INPUT)
    except click.Abort:
        err.print("lab: interrupted; every process it started has been stopped.")
        sys.exit(130)
    except LabError as e:
        err.print(f"lab: {e}", soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err.print("lab: interrupted; every process it started has been stopped, and nothing was recorded.")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # a crash of the lab itself: one line, the traceback only on request
        signum = stop_requested()
        if signum:  # asked to stop, and something failed while it unwound: the stop is the outcome, the failure is said
            err.print(f"lab: stopped by {signal.Signals(signum).name}; while stopping, {type(e).__name__}: {e}"
                      + ("" if os.environ.get("LAB_DEBUG") else " (set LAB_DEBUG=1 for the traceback)"), soft_wrap=True)
            if os.environ.get("LAB_DEBUG"):
                traceback.print_exc()
            sys.exit(128 + signum)
        err.print(f"lab crashed: {type(e).__name__}: {e}" + ("" if os.environ.get("LAB_DEBUG") else " (set LAB_DEBUG=1 for the traceback)"))
        if os.environ.get("LAB_DEBUG"):
            traceback.print_exc()
        sys.exit(EXIT_CRASH)
