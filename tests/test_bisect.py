"""`lab bisect`: the binary search over Celery releases, the range, the releases on the index, the store.

The search tests run ``lab.experiments.bisect.search`` over hand-built outcomes (a probe that returns
what each release "gives"), so they start no process: a change in the middle, at the first and the
last release, ends that agree, flaky and undecided steps; and for a finding, where one reproducing run
decides a release and a release's misses are weighed by the nearest reproducing release's rate.  The range and release tests filter a
hand-built index listing.  The real test bisects split-queues (mechanism 1: the callback's queue has
no consumer) over two adjacent releases, 5.6.3 (the environment the matrix tests make) and the lab's
own Celery, with real redis-servers and workers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from conftest import CONTAINER_ONLY, container_only_scenario, has_traceback, lab_env
from lab.experiments import envs
from lab.experiments.bisect import (BisectError, Miss, Step, load_store, outcome_of, parse_range, python_allows,
                                    reproduces, search, select_releases, store, summary, to_record, weigh_misses)
from lab.report.bisect import bisect_section

RELEASES = ["5.3.0", "5.3.1", "5.3.4", "5.3.5", "5.3.6", "5.4.0", "5.5.0", "5.5.1", "5.5.2", "5.5.3",
            "5.6.0", "5.6.1", "5.6.2", "5.6.3", "5.7.0"]


def prober(gives, *, expect="stuck"):
    """A probe over hand-built outcomes: ``gives(version)`` is a list of run outcomes (or an error string);
    it records which releases were run, and how often."""
    ran: list[str] = []

    def probe(version):
        ran.append(version)
        got = gives(version)
        if isinstance(got, str):
            return Step(version, [], [], {"kombu": "k" + version}, error=got, runs=2)
        return Step(version, list(got), [o == expect for o in got], {"kombu": "k" + version, "billiard": "b" + version},
                    runs=len(got))

    probe.ran = ran
    return probe


def change_at(first_new, before="completed", after="stuck", repeat=2):
    return lambda v: [after if RELEASES.index(v) >= RELEASES.index(first_new) else before] * repeat


# -- the search --------------------------------------------------------------------------------------


@pytest.mark.parametrize("first_new", ["5.3.1", "5.5.1", "5.6.2", "5.7.0"])
def test_the_search_finds_the_first_release_that_changed_in_few_steps(first_new):
    """Wherever the change is (just after the first release, in the middle, at the last), the search names it
    and the release before, runs each release once, and runs no more than both ends + ceil(log2(n))."""
    probe = prober(change_at(first_new))
    b = search(RELEASES, probe)
    assert b.status == "changed"
    assert b.first_changed == first_new
    assert b.last_before == RELEASES[RELEASES.index(first_new) - 1]
    assert probe.ran[:2] == ["5.3.0", "5.7.0"]  # both ends first
    assert len(probe.ran) == len(set(probe.ran)) <= 2 + math.ceil(math.log2(len(RELEASES)))
    assert "first release where the outcome changed" in summary(b)


def test_ends_that_agree_are_no_change_in_range_after_two_steps():
    probe = prober(lambda v: ["stuck", "stuck"])
    b = search(RELEASES, probe)
    assert b.status == "no-change" and b.first_changed is None and probe.ran == ["5.3.0", "5.7.0"]
    assert summary(b) == "no change in range: celery 5.3.0 and 5.7.0 both give stuck"
    assert reproduces(b) == {"from": "5.3.0", "to": "5.7.0", "undecided": []}


def test_two_adjacent_releases_are_a_whole_search():
    b = search(["5.6.3", "5.7.0"], prober(change_at("5.7.0")))
    assert (b.status, b.last_before, b.first_changed) == ("changed", "5.6.3", "5.7.0")


def test_a_flaky_step_is_set_aside_and_named_never_taken_for_either_side():
    """5.5.0 gives stuck once and completed once: the search does not guess its side.  With the change at
    5.5.1 and 5.5.0 flaky, the answer is a range: completed up to 5.4.0, stuck from 5.5.1, 5.5.0 flaky."""
    def gives(v):
        if v == "5.5.0":
            return ["stuck", "completed"]
        return change_at("5.5.1")(v)

    probe = prober(gives)
    b = search(RELEASES, probe)
    assert b.status == "changed-undecided"
    assert (b.last_before, b.first_changed, b.undecided) == ("5.4.0", "5.5.1", ["5.5.0"])
    assert b.step("5.5.0").flaky and b.step("5.5.0").outcome is None
    assert "5.5.0 is flaky (stuck ×1, completed ×1)" in summary(b)
    assert reproduces(b) == {"from": "5.5.1", "to": "5.7.0", "undecided": ["5.5.0"]}


def test_a_flaky_step_away_from_the_change_is_passed_over_and_the_change_is_still_exact():
    def gives(v):
        return ["completed", "stuck"] if v == "5.5.1" else change_at("5.6.1")(v)

    b = search(RELEASES, prober(gives))
    assert (b.status, b.last_before, b.first_changed) == ("changed", "5.6.0", "5.6.1")
    assert b.step("5.5.1") is None or b.step("5.5.1").flaky


def test_an_undecided_step_is_set_aside_like_a_flaky_one():
    """A release whose runs did not finish (install failed, crash) is not an outcome."""
    def gives(v):
        return "install failed: no such wheel" if v == "5.6.0" else change_at("5.6.1")(v)

    b = search(RELEASES, prober(gives))
    assert (b.status, b.last_before, b.first_changed, b.undecided) == ("changed-undecided", "5.5.3", "5.6.1", ["5.6.0"])
    assert "undecided (install failed: no such wheel)" in summary(b)


@pytest.mark.parametrize("end", ["5.3.0", "5.7.0"])
def test_a_flaky_end_stops_the_search_and_says_so(end):
    probe = prober(lambda v: ["stuck", "completed"] if v == end else ["stuck", "stuck"])
    b = search(RELEASES, probe)
    assert b.status == "undecided-end" and b.first_changed is None and probe.ran == ["5.3.0", "5.7.0"]
    assert f"celery {end} is flaky" in summary(b) and "--repeat" in summary(b)
    assert reproduces(b) is None


def test_a_second_change_later_is_said():
    """completed → stuck at 5.5.0 → failed at 5.7.0: the first change from the oldest outcome is found,
    and the newest's other outcome is said."""
    def gives(v):
        return ["failed"] * 2 if v == "5.7.0" else change_at("5.5.0")(v)

    b = search(RELEASES, prober(gives))
    assert b.first_changed == "5.5.0" and "changes again later" in summary(b)


def test_a_fix_is_a_range_that_ends_before_the_change():
    b = search(RELEASES, prober(change_at("5.5.0", before="stuck", after="completed")))
    assert reproduces(b) == {"from": "5.3.0", "to": "5.4.0", "undecided": []}


def test_one_release_is_not_a_bisection():
    with pytest.raises(BisectError, match="needs two releases"):
        search(["5.7.0"], prober(lambda v: ["stuck"]))


# -- a finding: one run that reproduces is proof, misses are weighed ------------------------------------

R, M = "reproduces", "does not reproduce"


def finding_prober(gives):
    """Like ``prober``, for a finding: ``gives(version)`` is a string of runs, R for reproduces, M for a miss,
    U for unknown (or an error string starting with 'error:', then the runs that finished)."""
    ran: list[str] = []
    letters = {"R": R, "M": M, "U": "unknown"}

    def probe(version):
        ran.append(version)
        got, error, runs = gives(version), None, None
        if got.startswith("error:"):
            error, got = got.split(":")[1], got.split(":")[2]
            runs = len(got) + 1
        outcomes = [letters[c] for c in got]
        return Step(version, outcomes, [o == R for o in outcomes], {"kombu": "k" + version}, error=error,
                    runs=runs or len(outcomes), finding=True)

    probe.ran = ran
    return probe


def test_a_finding_flaky_at_an_end_is_decided_it_reproduces_there():
    """stuck-join-hang-18ae75's case: 2 of 4 runs at 5.3.0, 4 of 4 at 5.7.0.  Each run that reproduces is
    proof, so both ends reproduce: no change in range, with the rate said, after the two ends only."""
    probe = finding_prober(lambda v: "MRMR" if v == "5.3.0" else "RRRR")
    b = search(RELEASES, probe)
    assert b.status == "no-change" and probe.ran == ["5.3.0", "5.7.0"]
    assert b.first.flaky and b.first.outcome == R and b.first.describe() == "reproduces 2/4"
    assert reproduces(b) == {"from": "5.3.0", "to": "5.7.0", "undecided": []}
    assert summary(b) == ("no change in range: reproduces in every release tried (5.3.0, 5.7.0); "
                          "flaky: reproduces 2/4 at 5.3.0")
    assert weigh_misses(b) == []


def test_a_finding_flaky_at_one_end_and_missing_at_the_other_is_bisected_and_its_boundary_weighed():
    """stuck-header-part-unregistered-af0439's case: 2/4 up to 5.5.0, every run missing from 5.5.1.  The search
    runs to the change; 4 misses at 5.5.1 are (1 - 1/2)^4 = 6.25 % likely at 5.5.0's 2/4, over 5 %: uncertain,
    and 5 runs would bring it under."""
    b = search(RELEASES, finding_prober(lambda v: "RMRM" if RELEASES.index(v) < RELEASES.index("5.5.1") else "MMMM"))
    assert (b.status, b.last_before, b.first_changed) == ("changed", "5.5.0", "5.5.1")
    assert reproduces(b) == {"from": "5.3.0", "to": "5.5.0", "undecided": []}
    at = {m.celery: m for m in weigh_misses(b)}
    assert at["5.5.1"] == Miss("5.5.1", 4, "5.5.0", 2, 4)
    assert at["5.5.1"].chance == 0.0625 and at["5.5.1"].uncertain and at["5.5.1"].repeats_needed == 5
    text = summary(b)
    assert text.startswith("5.5.1 is the first release where the outcome changed: reproduces up to 5.5.0, "
                           "does not reproduce from 5.5.1; flaky: reproduces 2/4 at 5.3.0")
    assert ("4 misses at 5.5.1 are 6.2 % likely at the 2/4 seen at 5.5.0: above 5 %, so the boundary is uncertain; "
            "--repeat 5 would bring that under 5 %") in text
    rec = to_record("stuck-x-1", "finding", parse_range("5.3.0..5.7.0"), [], b, repeat=4, seed=7, elapsed_s=1.0)
    assert rec["uncertain"] is True and rec["steps"][0]["reproduced"] == 2
    assert {m["celery"] for m in rec["misses"] if m["uncertain"]} >= {"5.5.1"}


def test_misses_at_a_high_rate_leave_the_boundary_certain():
    """3/4 before the change: 4 misses are 0.25^4 = 0.4 % likely, under 5 %: said, not uncertain."""
    b = search(RELEASES, finding_prober(lambda v: "RRMR" if RELEASES.index(v) < RELEASES.index("5.6.1") else "MMMM"))
    assert (b.status, b.first_changed) == ("changed", "5.6.1")
    m = next(m for m in weigh_misses(b) if m.celery == "5.6.1")
    assert not m.uncertain and m.text() == "4 misses at 5.6.1 are 0.4 % likely at the 3/4 seen at 5.6.0"
    assert "uncertain" not in summary(b)
    rec = to_record("stuck-x-2", "finding", parse_range("5.3.0..5.7.0"), [], b, repeat=4, seed=7, elapsed_s=1.0)
    assert rec["uncertain"] is False


def test_misses_next_to_a_release_that_reproduced_every_time_are_not_weighed_in_the_summary():
    b = search(RELEASES, finding_prober(change_at_letters("5.6.3", "MM", "RR")))
    assert [m.chance for m in weigh_misses(b)] and all(m.chance == 0 for m in weigh_misses(b))
    assert summary(b) == ("5.6.3 is the first release where the outcome changed: does not reproduce up to 5.6.2, "
                          "reproduces from 5.6.3")


def change_at_letters(first_new, before, after):
    return lambda v: after if RELEASES.index(v) >= RELEASES.index(first_new) else before


@pytest.mark.parametrize("reproduced, runs, misses, chance, needed", [
    (2, 4, 4, 0.0625, 5),    # 0.5^4 > 5 % ≥ 0.5^5
    (1, 4, 4, 0.75 ** 4, 11),  # 0.75^10 = 5.6 %, 0.75^11 = 4.2 %
    (3, 4, 4, 0.25 ** 4, 3),
    (19, 20, 1, 0.05, 2),    # exactly 5 % is not under 5 %
])
def test_the_chance_of_the_misses_and_the_runs_that_bring_it_under_5_percent(reproduced, runs, misses, chance, needed):
    m = Miss("5.7.0", misses, "5.6.3", reproduced, runs)
    assert math.isclose(m.chance, chance)
    assert m.repeats_needed == needed
    assert (1 - reproduced / runs) ** needed < 0.05 <= (1 - reproduced / runs) ** (needed - 1)
    assert m.uncertain == (chance > 0.05)
    assert Miss("5.7.0", 4, "5.6.3", 4, 4).chance == 0 and Miss("5.7.0", 4, "5.6.3", 4, 4).repeats_needed is None


def test_equally_near_reproducing_releases_weigh_a_miss_by_the_lower_rate():
    gives = {"5.3.0": "RRRR", "5.7.0": "RMMM"}
    b = search(["5.3.0", "5.5.0", "5.7.0"], finding_prober(lambda v: gives.get(v, "MMMM")))
    assert b.status == "no-change"  # both ends reproduce; 5.5.0 is not run
    b.steps.append(finding_prober(lambda v: "MMMM")("5.5.0"))  # as if it were, between them
    (m,) = weigh_misses(b)
    assert (m.celery, m.nearest, m.reproduced) == ("5.5.0", "5.7.0", 1)


def test_a_finding_step_decides_with_one_reproducing_run_and_needs_every_run_to_miss_for_the_other_side():
    one = finding_prober(lambda v: "error:worker crashed:R")("5.6.0")  # 1 of 2 finished, and it reproduced
    assert one.outcome == R and "did not finish: worker crashed" in one.describe()
    none = finding_prober(lambda v: "error:worker crashed:M")("5.6.0")
    assert none.outcome is None and none.describe().startswith("undecided (worker crashed")
    mixed = finding_prober(lambda v: "MUM")("5.6.0")  # an unknown run is not a miss: no side is taken
    assert mixed.outcome is None and mixed.describe().startswith("flaky")
    assert finding_prober(lambda v: "MMM")("5.6.0").outcome == M


@pytest.mark.parametrize("finding", [False, True])
def test_a_scenario_keeps_runs_that_disagree_flaky_where_a_finding_decides(finding):
    """The same runs, 2 of 4 matching at 5.3.0: a scenario's end is flaky and stops the search (runs that
    disagree show two outcomes, neither the absence of the other); a finding's reproduces there."""
    def probe(v):
        got = ["stuck", "completed", "stuck", "completed"] if v == "5.3.0" else ["stuck"] * 4
        if finding:
            got = [R if o == "stuck" else M for o in got]
        return Step(v, got, [o in ("stuck", R) for o in got], runs=4, finding=finding)

    b = search(RELEASES, probe)
    if finding:
        assert b.status == "no-change" and "flaky: reproduces 2/4 at 5.3.0" in summary(b)
    else:
        assert b.status == "undecided-end" and "celery 5.3.0 is flaky (stuck ×2, completed ×2)" in summary(b)
        assert reproduces(b) is None and weigh_misses(b) == [] and "reproduces 2/4" not in summary(b)


# -- outcomes of runs --------------------------------------------------------------------------------


def test_a_runs_outcome_is_its_verdicts_and_causes_or_for_a_finding_whether_it_reproduces():
    run = {"status": "matched", "outcomes": {"stuck": 2, "completed": 1}, "causes": ["callback-queue-unconsumed"]}
    assert outcome_of(run, finding=False) == "completed, stuck · callback-queue-unconsumed"
    assert outcome_of(run, finding=True) == "reproduces"
    assert outcome_of({**run, "status": "mismatched"}, finding=True) == "does not reproduce"
    assert outcome_of({"status": "unknown", "outcomes": {"unknown": 1}}, finding=True) == "unknown"
    assert outcome_of({"status": "mismatched", "outcomes": {}, "causes": []}, finding=False) == "no chords"


def test_a_step_with_fewer_runs_than_asked_has_no_outcome():
    assert Step("5.7.0", ["stuck"], [True], runs=2).outcome is None
    assert Step("5.7.0", ["stuck", "stuck"], [True, True], runs=2).outcome == "stuck"


# -- the range and the releases ------------------------------------------------------------------------


def test_a_range_is_two_releases_oldest_first():
    r = parse_range("5.3.0..5.7.0")
    assert (r.low, r.high) == ((5, 3, 0), (5, 7, 0))
    series = parse_range(" 5.3 .. 5.7 ")
    assert (5, 3, 0) in series and (5, 7, 9) in series and (5, 8, 0) not in series


@pytest.mark.parametrize("text, words", [
    ("5.7.0..5.3.0", "must be older than the second"),
    ("5.3.0..5.3.0", "must be older than the second"),
    ("x..y", "'x' is not a Celery release"),
    ("5.3.0", "is not a range"),
    ("5.3.0..5.5.0..5.7.0", "is not a range"),
    ("4.4.0..5.7.0", "outside what the lab's worker code runs on"),
    ("5.3.0..6.0.0", "outside what the lab's worker code runs on"),
])
def test_a_bad_range_is_one_sentence(text, words):
    with pytest.raises(BisectError, match=words) as e:
        parse_range(text)
    assert e.value.exit_code == 254 and "\n" not in str(e.value)


INDEX = [  # as envs.released() gives them: in the index's order, pre-releases and yanked ones included
    {"version": "5.2.7", "requires_python": ">=3.7", "yanked": False},
    {"version": "5.3.0", "requires_python": ">=3.7", "yanked": False},
    {"version": "5.3.0rc1", "requires_python": ">=3.7", "yanked": False},
    {"version": "5.3.10", "requires_python": ">=3.6,", "yanked": False},  # an older upload's trailing comma
    {"version": "5.3.2", "requires_python": None, "yanked": True},
    {"version": "5.3.9", "requires_python": ">=3.8", "yanked": False},
    {"version": "5.6.0", "requires_python": ">=3.9", "yanked": False},
    {"version": "5.7.0", "requires_python": ">=3.12", "yanked": False},
    {"version": "5.7.1", "requires_python": ">=3.10", "yanked": False},
]


def test_the_releases_in_range_are_sorted_and_each_skip_says_why():
    chosen, skipped = select_releases(INDEX, parse_range("5.3.0..5.7.0"), python=(3, 11, 7))
    assert chosen == ["5.3.0", "5.3.9", "5.3.10", "5.6.0"]  # release order, not the index's (5.3.10 after 5.3.9)
    assert skipped == [("5.3.0rc1", "pre-release"), ("5.3.2", "yanked from the index"),
                       ("5.7.0", "requires Python >=3.12, and this is 3.11.7")]  # 5.2.7 and 5.7.1: outside the range


def test_requires_python_is_read_leniently():
    assert python_allows(">=3.6,", (3, 11, 7)) and python_allows(None) and python_allows("not a specifier")
    assert not python_allows(">=3.12", (3, 11, 7)) and python_allows(">=3.8,<4", (3, 11, 0))


def test_the_index_lists_celery_here():
    """The real index (or the list cached from it): every release of the supported range that installs here."""
    index, _ = envs.released("celery")
    chosen, _ = select_releases(index, parse_range("5.6.3..5.7.0"))
    assert chosen[0] == "5.6.3" and envs.installed_celery() in chosen


# -- the store and RESULTS.md ------------------------------------------------------------------------


def _record(target, b, kind="finding"):
    from lab.experiments.bisect import to_record

    return to_record(target, kind, parse_range("5.3.0..5.7.0"), [("5.3.0rc1", "pre-release")], b, repeat=2, seed=7,
                     elapsed_s=1.0)


def test_a_bisection_is_stored_per_target_the_latest_kept(lab_results):
    b = search(RELEASES, prober(change_at("5.5.0")))
    rec = _record("split-queues", b, "scenario")
    assert rec["versions_first_changed"] == {"kombu": "k5.5.0", "billiard": "b5.5.0"}
    assert rec["versions_last_before"]["kombu"] == "k5.4.0"
    path = store(rec)
    store(_record("early-order-168d50", search(RELEASES, prober(lambda v: ["stuck"] * 2)), "finding"))
    again = _record("split-queues", search(RELEASES, prober(lambda v: ["stuck"] * 2)), "scenario")
    store(again)
    found = load_store(path)
    assert set(found) == {"split-queues", "early-order-168d50"} and found["split-queues"]["status"] == "no-change"
    assert json.loads(path.read_text())["schema"] == 1


def test_the_section_gives_each_target_its_range_or_not_bisected_yet():
    changed = _record("stuck-a-1", search(RELEASES, prober(change_at("5.5.0"))))
    fixed = _record("split-queues", search(RELEASES, prober(change_at("5.6.0", before="stuck", after="completed"))),
                    "scenario")
    flaky = _record("stuck-b-2", search(RELEASES, prober(lambda v: ["stuck", "completed"])))
    lines = bisect_section({r["target"]: r for r in (changed, fixed, flaky)},
                           [("stuck-a-1", "finding"), ("stuck-b-2", "finding"), ("stuck-c-3", "finding"),
                            ("split-queues", "scenario")])
    text = "\n".join(lines)
    row = {ln.split("|")[1].strip(): ln for ln in lines if ln.startswith("| `")}
    assert "5.5.0..5.7.0" in row["`stuck-a-1`"] and "**5.5.0** (kombu k5.5.0, billiard b5.5.0)" in row["`stuck-a-1`"]
    assert "5.3.0..5.5.3" in row["`split-queues` (scenario)"]
    assert "undecided" in row["`stuck-b-2`"]
    assert "not bisected yet" in row["`stuck-c-3`"]
    assert "3 of 4 bisected" in text


def test_the_section_gives_a_flaky_finding_its_range_and_rates():
    kept = _record("stuck-d-4", search(RELEASES, finding_prober(lambda v: "MRMR" if v == "5.3.0" else "RRRR")))
    fixed = _record("stuck-e-5", search(RELEASES, finding_prober(
        lambda v: "RMRM" if RELEASES.index(v) < RELEASES.index("5.5.1") else "MMMM")))
    lines = bisect_section({r["target"]: r for r in (kept, fixed)}, [("stuck-d-4", "finding"), ("stuck-e-5", "finding")])
    row = {ln.split("|")[1].strip(): ln for ln in lines if ln.startswith("| `")}
    assert "| 5.3.0..5.7.0, reproduces in every release tried, flaky: 2/4 at 5.3.0 |" in row["`stuck-d-4`"]
    assert "| 5.3.0..5.5.0, flaky: 2/4 at 5.3.0, " in row["`stuck-e-5`"]
    assert "4 misses at 5.5.1 are 6.2 % likely at the 2/4 seen at 5.5.0" in row["`stuck-e-5`"]
    assert "the boundary is uncertain; --repeat 5" in row["`stuck-e-5`"]
    assert "before: 5.5.0 (kombu k5.5.0, billiard ?): reproduces 2/4 → does not reproduce" in row["`stuck-e-5`"]


# -- the command line, and one real bisection -----------------------------------------------------------


def lab(store_dir, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True,
                          env=lab_env(store_dir), timeout=timeout)


@pytest.mark.parametrize("args, words", [
    (["no-such-finding-123456", "--celery", "5.3.0..5.7.0"], "unknown scenario 'no-such-finding-123456'"),
    (["split-queues", "--celery", "5.7.0..5.3.0"], "must be older than the second"),
    (["split-queues", "--celery", "x..y"], "'x' is not a Celery release"),
    ([CONTAINER_ONLY, "--celery", "5.3.0..5.7.0"], "cannot be bisected"),
])
def test_bad_input_is_one_sentence_and_254(lab_results, tmp_path, args, words):
    args = [container_only_scenario(tmp_path) if a == CONTAINER_ONLY else a for a in args]
    p = lab(lab_results, "bisect", *args, timeout=60)
    assert p.returncode == 254, p.stdout + p.stderr
    assert words in p.stderr and not has_traceback(p.stdout + p.stderr)
    assert not (lab_results / "bisect.json").exists()


def test_split_queues_bisected_over_two_adjacent_releases(lab_results):
    """Mechanism 1 on Celery 5.6.3 (its environment, as the matrix tests make it) and on the lab's own Celery:
    both ends are run with real workers, they agree (no change in range), each step names the kombu and
    billiard it ran with, and the bisection is stored."""
    own = envs.installed_celery()
    p = lab(lab_results, "bisect", "split-queues", "--celery", f"5.6.3..{own}", "--repeat", "2", "--seed", "3", "--json")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    rec = json.loads(p.stdout.strip().splitlines()[-1])
    assert rec["releases"][0] == "5.6.3" and rec["releases"][-1] == own
    assert rec["status"] == "no-change", rec["summary"]
    assert [s["celery"] for s in rec["steps"]] == ["5.6.3", own]
    assert all(s["outcome"] == "stuck · callback-queue-unconsumed" and len(s["run_ids"]) == 2 for s in rec["steps"])
    assert rec["steps"][0]["versions"]["kombu"].startswith("5.6.") and rec["steps"][0]["versions"]["billiard"]
    assert rec["reproduces"] == {"from": "5.6.3", "to": own, "undecided": []}
    assert "no change in range" in p.stdout
    assert load_store(lab_results / "bisect.json")["split-queues"]["seed"] == 3


@pytest.mark.slow
def test_reject_ignore_changes_at_5_7_0_with_its_billiard():
    """Mechanism 14 (Reject in a header): stuck up to 5.6.3, failed from 5.7.0 (Celery's worker then stores the
    rejection as a failure); the change comes with billiard 4.2.x → 4.3.x, which the report names."""
    from lab.experiments.bisect import bisect

    own = envs.installed_celery()
    if own != "5.7.0":
        pytest.skip("the change is at 5.7.0; this lab runs another Celery")
    rec = bisect("reject-ignore", "5.6.3..5.7.0", repeat=2, seed=1)
    assert (rec["status"], rec["last_before"], rec["first_changed"]) == ("changed", "5.6.3", "5.7.0"), rec["summary"]
    assert rec["versions_last_before"]["billiard"].startswith("4.2.")
    assert rec["versions_first_changed"]["billiard"].startswith("4.3.")
    assert rec["first_outcome"].startswith("stuck") and rec["last_outcome"].startswith("failed")



# -- the index listing (envs.released) ------------------------------------------------------------------


def test_the_index_listing_is_read_cached_per_index_and_used_when_the_index_is_down(tmp_path, monkeypatch):
    """A PEP 691 listing served here: a release is yanked only when every file is; each release keeps its
    requires_python; the list is cached a day per index, and a cached list stands in (with a note) when the
    index does not answer."""
    import http.server
    import threading

    listing = {"versions": ["5.3.0", "5.3.1rc1", "5.3.2"], "files": [
        {"filename": "celery-5.3.0-py3-none-any.whl", "requires-python": ">=3.8", "yanked": False},
        {"filename": "celery-5.3.0.tar.gz", "requires-python": ">=3.8", "yanked": "broken sdist"},
        {"filename": "celery-5.3.1rc1.tar.gz", "requires-python": ">=3.8"},
        {"filename": "celery-5.3.2-py3-none-any.whl", "requires-python": ">=3.8", "yanked": "bad"},
    ]}

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(listing).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/simple"
    for var in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", url + "/")
    try:
        got, note = envs.released("celery", root=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert note is None
    assert {r["version"]: r["yanked"] for r in got} == {"5.3.0": False, "5.3.1rc1": False, "5.3.2": True}
    assert all(r["requires_python"] == ">=3.8" for r in got)
    cache = json.loads((tmp_path / "releases-celery.json").read_text())
    assert cache["index"] == url + "/celery/"
    cache["fetched_at"] -= 2 * envs.RELEASES_TTL_S  # stale: the index is asked again, and it is down now
    (tmp_path / "releases-celery.json").write_text(json.dumps(cache))
    again, note = envs.released("celery", root=tmp_path)
    assert again == got and "did not answer" in note
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/other")  # another index: the cache says nothing of it
    with pytest.raises(envs.InstallFailed, match="none are cached"):
        envs.released("celery", root=tmp_path)
