"""Canvas scenarios (``Scenario(canvas=...)``) and the fuzzer's findings as exact canvases.

Pure checks first (the finding files' canvases against their stored shapes, the mechanism families,
re-judging stored observations), then real runs: ``lab run`` on a canvas scenario and on saved
findings, with their own redis-server and workers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery

import lab.apps.fuzz  # noqa: F401 - registers the fuzz tasks with every app
from lab.fuzz import findings as F
from lab.fuzz import oracle
from lab.fuzz import strategies as S
from lab.runtime.celery_app import registering_nothing
from lab.scenario import load, load_file
from tests.conftest import has_traceback

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = sorted((ROOT / "findings").glob("*.py"))


def lab(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=cwd, timeout=180,
                          env=env)


@pytest.fixture(scope="module")
def app() -> Celery:
    a = Celery("canvas-check", set_as_current=False)
    a.finalize(auto=True)
    return a


# -- the finding files are exact -------------------------------------------------------------------


def steady(shape):
    """The shape with each eta to a tenth of a second: an eta is read back as the seconds left until it, to the
    millisecond, so two builds a moment apart differ there and nowhere else."""
    import dataclasses

    if isinstance(shape, S.TaskShape):
        eta = shape.options.eta
        return shape if eta is None else dataclasses.replace(shape, options=dataclasses.replace(shape.options,
                                                                                                  eta=round(eta, 1)))
    if isinstance(shape, S.ChainShape):
        return dataclasses.replace(shape, links=tuple(map(steady, shape.links)))
    if isinstance(shape, S.GroupShape):
        return dataclasses.replace(shape, members=tuple(map(steady, shape.members)))
    return dataclasses.replace(shape, header=tuple(map(steady, shape.header)), body=steady(shape.body))


@pytest.mark.parametrize("path", FINDINGS, ids=lambda p: p.stem)
def test_a_finding_files_canvas_is_the_shape_the_fuzzer_sent(path, app):
    scenario = load_file(path)
    data = F.load(str(path))
    assert scenario.canvas is not None and data["finding"]["exact"] is True
    built = scenario.canvas(app)
    assert [steady(S.shape_of(c, app=app)) for c in built] == \
        [steady(S.shape_of(S.build(app, s), app=app)) for s in data["shapes"]]
    # the docstring's "Shrunk to" line is the failing canvas, as code
    assert data["finding"]["canvas"] in path.read_text().split('"""')[1]


def test_a_finding_is_found_by_its_id():
    assert load("early-order-168d50").canvas is not None


def test_a_chain_the_finding_needs_built_with_a_keyword_says_so():
    fnd = F.load("early-wrong-values-4cda17")["finding"]
    assert fnd["construction"]["needs"] == "chain-app"
    assert "part of the cause" in F.construction_line(fnd["construction"])


# -- mechanism families (pure) ---------------------------------------------------------------------


def _task(behaviour="ok"):
    return {"kind": "task", "behaviour": behaviour, "value": 0}


def test_a_failure_before_a_trailing_group_is_one_family_whatever_fails():
    chain = {"kind": "chain", "links": [_task(), _task("reject"), {"kind": "group", "members": [_task(), _task()]}]}
    for cause in ("rejected-failure-lost", "failure-not-propagated"):
        r = {"cause": cause, "finding_kind": f"stuck/{cause}",
             "shapes": [{"kind": "chord", "header": [_task(), chain], "body": _task()}]}
        assert F.family_of(r) == "group-after-failure"
    then_a_task = {"kind": "chain", "links": [{"kind": "group", "members": [_task(), _task("raise")]},
                                              {"kind": "group", "members": [_task()]}, _task()]}
    assert F.family_of({"cause": "chord-size-key-missing", "finding_kind": "stuck/chord-size-key-missing",
                        "shapes": [then_a_task]}) == "group-after-failure"
    ends_in_task = {"kind": "chain", "links": [_task("raise"), _task()]}
    assert F.family_of({"cause": "failure-not-propagated", "shapes": [ends_in_task]}) is None


def test_a_finding_that_needs_the_keyword_path_belongs_to_that_family_first():
    r = {"cause": "failure-not-propagated", "construction": {"needs": "chain-app"},
         "shapes": [{"kind": "chain", "links": [_task("raise"), {"kind": "group", "members": [_task()]}]}]}
    assert F.family_of(r) == "keyword-chain"


def test_a_finding_no_family_fits_falls_back_to_its_catalog_row_then_its_kind():
    assert F.family_key({"mechanism": {"id": "1", "known": True}, "shapes": []}) == "row:1"
    assert F.family_key({"mechanism": {"known": False}, "finding_kind": "unknown/x", "shapes": []}) == "kind:unknown/x"


def test_stored_observations_are_judged_again_by_the_judge_they_were_made_for():
    recs = F.latest_records(F.load_records(ROOT / "results" / "fuzz.jsonl"))
    obs = {**recs["early-order-168d50"]["observations"], "oracle": "fuzz"}  # as a canvas run stores them
    again = oracle.judge_observations(obs)
    assert [v.verdict for v in again] == [o.verdict for o in oracle.judge_example(obs)] == ["early"]


def test_a_scenario_files_imports_register_no_task_in_a_node_that_runs_other_code(tmp_path, monkeypatch):
    (tmp_path / "side_tasks.py").write_text(
        "from celery import shared_task\n\n@shared_task(name='side.only')\ndef only():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registering_nothing(lambda: __import__("side_tasks"))
    a = Celery("node", set_as_current=False)
    a.finalize(auto=True)
    assert "side.only" not in a.tasks


# -- real runs ---------------------------------------------------------------------------------------


def test_a_bare_chain_scenario_runs_as_built_and_its_oracle_proves_6437(lab_results):
    r = lab("run", "trailing-group-after-failure", "--json")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    assert rec["status"] == "matched" and rec["outcomes"] == {"stuck": 2}
    assert rec["causes"] == ["failure-not-propagated"]
    shown = lab("show", "latest", "--json")
    again = json.loads(shown.stdout)
    assert again["same_as_stored"] is True and [v["verdict"] for v in again["verdicts"]] == ["stuck", "stuck"]


def test_a_canvas_scenario_written_by_hand_completes_and_bad_canvases_are_one_sentence(tmp_path):
    (tmp_path / "mine.py").write_text('''
from celery import chain, group
from lab import Scenario, Worker
from lab.apps.fuzz import bind

def canvas(app):
    fuzz = bind(app)
    return [fuzz.part.s(value=1) | fuzz.part.s(value=2), group(fuzz.part.s(value=3), fuzz.part.s(value=4))]

scenario = Scenario(name="mine", description="a pipe and a bare group", expect="completed",
                    tasks=("lab.apps.fuzz",), workers=(Worker("w1"),), canvas=canvas)
''')
    r = lab("run", str(tmp_path / "mine.py"), "--json")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["outcomes"] == {"completed": 3}
    (tmp_path / "sent.py").write_text('''
from lab import Scenario, Worker
from lab.apps.fuzz import bind

def canvas(app):
    return bind(app).part.delay(value=1)

scenario = Scenario(name="sent", description="sends instead of building", expect="completed",
                    tasks=("lab.apps.fuzz",), workers=(Worker("w1"),), canvas=canvas)
''')
    r = lab("run", str(tmp_path / "sent.py"))
    assert r.returncode == 254 and "must build (not send)" in r.stderr and not has_traceback(r.stderr), r.stderr


@pytest.mark.parametrize("fid", ["failed-callback-unregistered-72b1be", "early-wrong-values-4cda17"])
def test_a_saved_finding_reproduces_with_lab_run(fid):
    """A stale worker's code stays stale though the finding file imports every fuzz task for its canvas."""
    r = lab("run", fid, "--json")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["status"] == "matched"


def test_replay_both_ways_records_the_construction_path_the_finding_needs(tmp_path, lab_results):
    folder = tmp_path / "findings"
    folder.mkdir()
    shutil.copy(ROOT / "findings" / "early_wrong_values_4cda17.py", folder)
    lab_results.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "results" / "fuzz.jsonl", lab_results / "fuzz.jsonl")
    env = {**__import__("os").environ, "LAB_FINDINGS": str(folder)}
    r = lab("replay", "early-wrong-values-4cda17", "--runs", "1", "--chains", "both", "--json", env=env)
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr  # reproduced one way of two: "flaky" across paths
    assert json.loads(r.stdout.strip().splitlines()[-1])["replay"]["chains"] == {"pipe": 0, "chain-app": 1}
    assert "needs its chains built as `chain(a, b, app=app)`" in (folder / "early_wrong_values_4cda17.py").read_text()


def test_the_fuzzing_section_counts_lab_runs_of_each_finding_and_prints_its_exported_form():
    recs = F.load_records(ROOT / "results" / "fuzz.jsonl")
    runs = [{"scenario": "early-order-168d50", "outcome": {"status": "matched"}},
            {"scenario": "early-order-168d50", "outcome": {"status": "mismatched"}}]
    text = F.fuzzing_section(recs, finding_runs=runs, exported=lambda path: ["EXPORTED " + Path(path).stem])
    assert "`lab run` matched 1/2" in text
    assert "EXPORTED early_order_168d50" in text
    assert "a failure before a group in a chain · known upstream (Celery #6437)" in text
