"""``lab bisect FINDING-or-SCENARIO --celery 5.3.0..5.7.0``: since which Celery release (``lab.experiments.bisect``).
"""

from __future__ import annotations

import json
import sys

import click

from lab.views.console import out

EXIT_DECIDED, EXIT_UNDECIDED = 0, 2


def _stack(versions: dict | None) -> str:
    v = versions or {}
    return f"kombu {v.get('kombu') or '?'}, billiard {v.get('billiard') or '?'}"


@click.command("bisect")
@click.argument("ref")
@click.option("--celery", "celery_range", required=True, metavar="LOW..HIGH",
              help="The releases to search, both ends included: 5.3.0..5.7.0 (an end of 5.7 means all of 5.7.x).")
@click.option("--repeat", type=click.IntRange(1, 50), default=3, show_default=True,
              help="Runs per release.  A scenario's release whose runs disagree is reported flaky, never guessed; "
                   "a finding reproduces on a release when any run does (proof), and where every run missed, how "
                   "likely that is at the nearest reproducing release's rate is said.")
@click.option("--seed", type=int, default=None, help="First seed of every step's runs (run i uses seed+i).")
@click.option("--json", "as_json", is_flag=True, help="Also print one JSON object as the last line of stdout.")
def bisect_cmd(ref: str, celery_range: str, repeat: int, seed: int | None, as_json: bool) -> None:
    """Find the first Celery release in a range where REF's outcome changes (a scenario's verdicts and
    causes, or whether a finding reproduces): both ends first, then binary search, each step REPEAT runs
    in that release's cached environment.  The outcome is stored in results/bisect.json.
    Exit 0: decided; 2: a flaky or undecided release keeps it from being decided exactly, or a finding's
    misses are too likely (over 5 %) at the rate it reproduced with for its boundary to be certain."""
    from lab.experiments.bisect import bisect

    rec = bisect(ref, celery_range, repeat=repeat, seed=seed, say=lambda m: out.print(m, markup=False, highlight=False,
                                                                                     soft_wrap=True))
    out.print()
    status = rec["status"]
    if rec["first_changed"]:
        out.print(f"[bold]{rec['target']}: first changed in celery {rec['first_changed']}[/bold] "
                  f"({_stack(rec['versions_first_changed'])}); before it, celery {rec['last_before']} "
                  f"({_stack(rec['versions_last_before'])})", soft_wrap=True)
    out.print(f"{rec['target']}: {rec['summary']}", markup=False, highlight=False, soft_wrap=True)
    from lab.report.bisect import range_text

    out.print(f"reproduces on: {range_text(rec)}", markup=False, highlight=False, soft_wrap=True)
    steps = rec["steps"]
    out.print(f"[dim]{len(steps)} release(s) run of {len(rec['releases'])}, {sum(len(s['outcomes']) for s in steps)} "
              f"run(s), {rec['elapsed_s']:.1f} s; stored in {rec.get('stored_in')}[/dim]", soft_wrap=True)
    if as_json:
        sys.stdout.flush()
        print(json.dumps(rec, default=repr), flush=True)
    decided = status in ("changed", "no-change") and not rec.get("uncertain")
    sys.exit(EXIT_DECIDED if decided else EXIT_UNDECIDED)
