"""One run of a scenario whose chords are a canvas of the fuzzer's tasks: sent as built, judged by the oracle.

    scenario (``canvas=``) → topology up → **canvas sent as built** → observations → verdicts against the
    oracle computed from the canvas → record

A scenario may give its work as a function, ``canvas(app)``, that builds any Celery canvas: ``|``,
``chain(...)``, ``group``, ``chord``, bare chains and groups included.  Built from ``lab.apps.fuzz``'s
tasks (each returns a number the shape alone predicts), the canvas is read back into its shape
(``lab.fuzz.strategies.shape_of``: the structure Celery made, and how each node was built), and the
oracle (``lab.fuzz.oracle``) says what each final task must show: a chord's callback, a chain's last
task, each member of a group.  The run goes through the fuzzer's session, the one that waits on the
ledger for every published task (nested canvases have no single header to quiesce), so a finding saved by
the fuzzer and rerun with ``lab run`` is judged exactly as the fuzzer judged it.

The record has a run's form; its observations say ``"oracle": "fuzz"``, so ``lab show`` and
``lab report`` judge them again with the same oracle (``lab.fuzz.oracle.judge_observations``).
"""

from __future__ import annotations

import random
import time
from typing import Any

from lab import records
from lab.drive.user_canvas import build_canvases
from lab.errors import LabSetupError
from lab.experiments.run import RunResult
from lab.fuzz import oracle
from lab.fuzz.session import FuzzSession
from lab.fuzz.strategies import describe, shape_of
from lab.judge import summarize
from lab.runtime.process.processes import install_signal_handlers
from lab.scenario import Scenario, ScenarioError
from lab.views.console import Reporter

def refusal(scenario: Scenario, runtime: str) -> str | None:
    """Why this canvas scenario cannot run as asked, in one sentence (None: it can)."""
    if runtime != "process":
        return (f"scenario {scenario.name!r} sends a canvas judged by its oracle, which runs on local processes only; "
                "drop --runtime docker.")
    if scenario.faults:
        return (f"scenario {scenario.name!r} sends a canvas and declares faults; a canvas judged by its oracle runs "
                "without a nemesis, so drop the faults or give the chords as lab.Chord(...).")
    return None


def shapes_of(app, canvases: list[Any], scenario: Scenario) -> list[Any]:
    """Each built canvas's shape, for the oracle; one sentence if a canvas holds what the oracle cannot predict."""
    shapes = []
    for i, c in enumerate(canvases):
        try:
            shapes.append(shape_of(c, app=app))
        except ValueError as e:
            raise ScenarioError(f"canvas {i} of scenario {scenario.name!r} cannot be judged by the oracle: {e}") from None
    return shapes


def run_canvas_scenario(scenario: Scenario, *, seed: int | None = None, reporter: Reporter | None = None,
                        scenario_ref: str | None = None, runtime: str = "process") -> RunResult:
    """Bring the topology up, send the scenario's canvases as built, judge them by their oracle, record the run."""
    why = refusal(scenario, runtime)
    if why:
        raise LabSetupError(why)
    rep = reporter or Reporter()
    seed = seed if seed is not None else random.randrange(2**31)  # recorded; a canvas has its own values
    install_signal_handlers()
    started_at = time.time()
    recorded = False
    session = FuzzSession(scenario, label=scenario.name, on_step=rep.step)
    try:
        with session:
            lock = records.RunDirLock(session.run_dir)
            try:
                canvases = build_canvases(session.app, scenario, chords_only=False)
                shapes = shapes_of(session.app, canvases, scenario)
                rep.step(f"sending {len(canvases)} canvas(es) as built: " + "; ".join(describe(s) for s in shapes)[:300])
                result = session.run_example(shapes, canvases=canvases)
                verdicts = oracle.verdicts_of(result.outcomes)
                record = _record(session, scenario, scenario_ref, seed, started_at, result, verdicts)
                records.append(record)
                recorded = True
            finally:
                lock.release()
    finally:
        if not recorded:
            session.discard_artifacts()  # nothing was recorded: leave nothing half-made
    return RunResult(record, verdicts, record["outcome"], record["timings"])


def _record(session: FuzzSession, scenario: Scenario, scenario_ref: str | None, seed: int, started_at: float,
            result: Any, verdicts: list[Any]) -> dict[str, Any]:
    obs = {**result.obs, "seed": seed, "started_at": started_at, "finished_at": time.time(),
           "canvas": [describe(s) for s in result.shapes]}
    outcome = summarize(obs["scenario"], verdicts)
    quiesced = obs["quiescence"]["t"]
    timings = {"boot_s": session.boots[0]["s"], **{k: round(v, 4) for k, v in result.timings.items()},
               "header_s": obs["quiescence"]["waited_s"], "verdict_after_quiesce_s": max(0.0, obs["finished_at"] - quiesced)}
    ref = scenario_ref or scenario.name
    return {
        "run_id": session.run_id, "scenario": scenario.name, "scenario_ref": ref, "expected": scenario.expect,
        "seed": seed, "versions": records.versions(session.topo.redis.version if session.topo.redis else None),
        "git": records.git_revision(), "replay": records.replay_command(ref, seed), "command": records.command_line(),
        "started_at": started_at, "elapsed_s": round(obs["finished_at"] - started_at, 3), "timings": timings,
        "observations": obs,  # raw, stored before (and beside) the judgement
        "verdicts": [{**v.to_dict(), **_oracle_fields(o)} for v, o in zip(verdicts, result.outcomes)],
        "outcome": outcome, "run_dir": str(session.run_dir),
    }


def _oracle_fields(o: oracle.ChordOutcome) -> dict[str, Any]:
    return {"expected": list(o.expected), "finding": o.finding, "kind": o.kind}
