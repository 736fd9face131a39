"""Trust in stored verdicts: re-judging a stored run with the current checker gives the stored verdict.

A record keeps the raw observations beside the verdicts derived from them
(``lab/records.py``), and the checker (``lab.judge.judge``) is pure.  So a
checker change that would silently turn a stored ``stuck`` into something else
shows here, over a committed sample of real runs
(``tests/data/stored_runs_sample.jsonl``: one run per scenario and Celery
version, each made with the checker of its day).  A deliberate checker change
that re-classifies runs must come with a rebuilt sample:

    python tests/test_trust.py --rebuild results-stability-staging [more stores, or record files...]

The agreement table (``lab.report.stability``) is checked here too, over hand-built
records.  No processes: pure logic.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lab import records  # noqa: E402
from lab.judge import judge, summarize  # noqa: E402
from lab.report.stability import agreement, agreement_table, run_signature  # noqa: E402

SAMPLE = Path(__file__).with_name("data") / "stored_runs_sample.jsonl"


def _sample() -> list[dict]:
    return list(records.load_all(SAMPLE))


def _pairs(rec: dict) -> list[tuple[str, str | None]]:
    return [(v["verdict"], v.get("cause")) for v in rec["verdicts"]]


def test_the_sample_covers_the_catalogue():
    """The committed sample holds real runs of many scenarios, with every kind of verdict the lab gives."""
    recs = _sample()
    assert len({r["scenario"] for r in recs}) >= 30
    kinds = {v["verdict"] for r in recs for v in r["verdicts"]}
    assert {"completed", "stuck", "failed"} <= kinds


@pytest.mark.parametrize("rec", _sample(), ids=lambda r: f"{r['scenario']}@{r['versions']['celery']}")
def test_rejudging_a_stored_run_gives_the_stored_verdict(rec):
    """Each stored run, judged again from its raw observations, gets the same verdict and cause per chord,
    and the same outcome (matched / mismatched / unknown)."""
    now = judge(rec["observations"])
    assert [(v.verdict, v.cause) for v in now] == _pairs(rec), rec["run_id"]
    assert summarize(rec["observations"]["scenario"], now)["status"] == rec["outcome"]["status"]


def test_rejudging_never_reads_the_clock_or_the_machine():
    """The checker is pure: with time and processes made unusable, re-judging gives the same verdicts."""
    import time

    import psutil

    def refuse(*a, **k):
        raise AssertionError("the checker read the clock or the process table")

    recs = _sample()
    with pytest.MonkeyPatch.context() as mp:  # undone before the store fixture's own teardown reads the clock
        mp.setattr(time, "time", refuse)
        mp.setattr(psutil, "Process", refuse)
        judged = [[(v.verdict, v.cause) for v in judge(rec["observations"])] for rec in recs]
    assert judged == [_pairs(rec) for rec in recs]


# -- the agreement table (lab.report.stability) over hand-built records ---------------------------------


def _rec(scenario: str, *pairs: tuple[str, str | None], celery: str = "5.7.0", expect: str = "stuck") -> dict:
    return {"scenario": scenario, "expected": expect, "versions": {"celery": celery},
            "observations": {"scenario": {"expect": expect}, "topology": {}},
            "verdicts": [{"verdict": v, "cause": c} for v, c in pairs]}


def test_a_run_signature_ignores_chord_order():
    """Two runs whose chords end the same way, in another order, have one signature."""
    a = run_signature([{"verdict": "stuck", "cause": "x"}, {"verdict": "completed", "cause": None}])
    b = run_signature([{"verdict": "completed", "cause": None}, {"verdict": "stuck", "cause": "x"}])
    assert a == b


def test_agreement_counts_verdict_and_cause_per_scenario_and_version():
    """A scenario whose cause changes in one run of four agrees 75%; another Celery version is its own row."""
    recs = [_rec("split-queues", ("stuck", "callback-queue-unconsumed")) for _ in range(3)]
    recs.append(_rec("split-queues", ("stuck", "header-part-lost")))
    recs += [_rec("split-queues", ("stuck", "callback-queue-unconsumed"), celery="5.3.6") for _ in range(2)]
    rows = {(r["scenario"], r["celery"]): r for r in agreement(recs)}
    assert rows[("split-queues", "5.7.0")]["rate"] == 0.75
    assert rows[("split-queues", "5.7.0")]["others"] == [("stuck·header-part-lost", 1)]
    assert rows[("split-queues", "5.3.6")]["rate"] == 1.0


def test_agreement_table_is_markdown_naming_the_disagreement():
    """The table has one row per group with its rate, and a closing line naming who disagrees."""
    recs = [_rec("a", ("completed", None), expect="completed")] * 4 + [_rec("b", ("stuck", "c"))] * 2 + [_rec("b", ("unknown", None))]
    table = agreement_table(recs)
    assert table.startswith("| scenario | celery | runs | agreement |")
    assert "| a | 5.7.0 | 4 | 100% | completed | none |" in table
    assert "| b | 5.7.0 | 3 | **67%** | stuck·c | unknown (1) |" in table
    assert "b (67%)" in table.splitlines()[-1]


def test_agreement_table_marks_a_nondeterministic_scenario():
    """A scenario marked nondeterministic shows its measured rate, marked, not as a defect."""
    recs = [_rec("n", ("stuck", "c"))] * 3 + [_rec("n", ("failed", "d"))]
    for r in recs:
        r["observations"] = {"scenario": {"expect": "stuck", "nondeterministic": "Celery's own race"}, "topology": {}}
    assert "75% (nondeterministic)" in agreement_table(recs)


def test_agreement_table_over_the_committed_sample_reads_every_record():
    """The real records of the sample go through the table without error (one run each: nothing to compare)."""
    recs = _sample()
    assert agreement_table(recs, min_runs=1).count("\n|") >= len({(r["scenario"], r["versions"]["celery"]) for r in recs})


# -- rebuilding the sample -------------------------------------------------------------------------


def rebuild(stores: list[Path], out: Path = SAMPLE) -> int:
    """One record per scenario on the installed Celery, plus one per other Celery version whose verdicts differ.

    Each is the newest whose re-judged verdicts equal its stored ones (an older
    checker's run is skipped), kept whole: raw observations included.
    """
    from importlib import metadata

    here = metadata.version("celery")
    newest: dict[tuple[str, str], dict] = {}
    for store in stores:
        for rec in records.load_all(store):
            if [(v.verdict, v.cause) for v in judge(rec["observations"])] != _pairs(rec):
                continue  # made by an older checker: not a fixed point of this one
            newest[(rec["scenario"], str(rec["versions"].get("celery")))] = rec
    chosen = {k: r for k, r in newest.items() if k[1] == here}
    for (name, celery), rec in newest.items():
        mine = chosen.get((name, here))
        if celery != here and (mine is None or run_signature(mine["verdicts"]) != run_signature(rec["verdicts"])):
            chosen[(name, celery)] = rec
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for key in sorted(chosen):
            f.write(json.dumps(chosen[key], separators=(",", ":"), default=repr) + "\n")
    print(f"wrote {len(chosen)} records to {out}; verdicts: "
          f"{dict(Counter(v['verdict'] for r in chosen.values() for v in r['verdicts']))}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "--rebuild":
        sys.exit("usage: python tests/test_trust.py --rebuild STORE [...]")
    sys.exit(rebuild([Path(p) for p in sys.argv[2:]]))
