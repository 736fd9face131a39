"""Chords in flight: several examples out at once, their evidence kept apart by ids, a finding shrunk alone.

The pure tests build ledger events and log lines by hand; the others run real topologies (their own
redis-server, real workers) and compare the in-flight engine with the one-at-a-time one."""

from __future__ import annotations

from collections import Counter

import pytest

from lab.fuzz import strategies as S
from lab.fuzz.search import FuzzPlan, Reporter, Search, shapes_topology
from lab.fuzz.session import FuzzSession, InFlight, _ids_of, _own_lines
from lab.runtime.process.redis_server import find_redis_server
from lab.scenario import load

A, B = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
A2 = "aaaaaaaa-0000-4000-8000-000000000003"


def test_log_lines_of_one_example_are_those_naming_its_ids_or_none():
    logs = {"w1": [f"Task fuzz.ok[{A}] succeeded", f"Task fuzz.ok[{B}] raised", "celery@w1 ready.",
                   f"chord {A2} and {B} share a line"]}
    own = _own_lines(logs, {A, A2})
    assert own == {"w1": [f"Task fuzz.ok[{A}] succeeded", "celery@w1 ready.", f"chord {A2} and {B} share a line"]}


def test_an_examples_ids_are_what_it_sent_and_what_its_events_name():
    sent = [{"chord_id": A, "header_ids": [A2], "group_id": None}]
    events = [{"task_id": "c-1", "group_id": "g-1"}, {"task_id": None}]
    assert _ids_of(sent, events) == {A, A2, "c-1", "g-1"}


class _Watch:
    def __init__(self):
        self.events: list[dict] = []

    def poll(self) -> int:
        return len(self.events)


def test_events_go_to_their_example_by_root_id_then_task_id_and_late_ones_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path))
    session = FuzzSession(load("healthy"))  # not entered: no process starts; only its routing is used
    session.watch = _Watch()
    one = InFlight(shapes=[], sent=[], t0=0, t_sent=0, bound=1, log_marks={})
    two = InFlight(shapes=[], sent=[], t0=0, t_sent=0, bound=1, log_marks={})
    session._by_root = {"root-1": one, "root-2": two}
    session._by_task = {"cb-2": two}
    session.watch.events = [
        {"event": "publish", "task_id": "t-1", "root_id": "root-1"},
        {"event": "start", "task_id": "cb-2"},  # no root id (a ledger line written before it was known)
        {"event": "end", "task_id": "t-1"},  # found by the task id learnt from its publish
        {"event": "end", "task_id": "stranger"},
    ]
    session._route(4)
    assert [e["task_id"] for e in one.events] == ["t-1", "t-1"]
    assert [e["task_id"] for e in two.events] == ["cb-2"]
    assert session.watch.events == []  # handed over: a long session does not hoard them
    two.judged = True
    session.watch.events = [{"event": "end", "task_id": "cb-2"}]
    session._route(1)
    assert [e["task_id"] for e in two.events] == ["cb-2"]  # late: its example was already judged


try:
    find_redis_server()
    HAVE_REDIS = ""
except Exception as e:  # noqa: BLE001 - no redis-server here: the real tests cannot run
    HAVE_REDIS = f"needs redis-server: {e}"
real = pytest.mark.skipif(bool(HAVE_REDIS), reason=HAVE_REDIS or "-")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LAB_FINDINGS", str(tmp_path / "findings"))
    return tmp_path


class _Results(Reporter):
    def __init__(self):
        self.results = []

    def example(self, stats, result, findings: int) -> None:
        self.results.append(result)


def _verdicts_by_example(in_flight: int, examples: int, seed: int) -> tuple[dict[str, list[str]], Search]:
    scenario, consumed = shapes_topology(load("healthy"))
    plan = FuzzPlan(examples=examples, seed=seed, queues=(None, *consumed), report=False, in_flight=in_flight)
    rep = _Results()
    with FuzzSession(scenario) as session:
        search = Search(plan, session, rep)
        search.run()
    # keyed by the example as drawn: the same seed draws the same examples either way
    return {repr(r.shapes): [o.verdict for o in r.outcomes] for r in rep.results}, search


@real
def test_in_flight_examples_get_the_verdicts_they_get_one_at_a_time(store):
    alone, _ = _verdicts_by_example(1, 30, 5)
    together, search = _verdicts_by_example(4, 30, 5)
    assert search.stats.in_flight_peak == 4
    assert together.keys() == alone.keys()
    differ = {k: (alone[k], together[k]) for k in alone if alone[k] != together[k]}
    assert not differ, differ
    assert Counter(v for vs in together.values() for v in vs)["completed"] > 0


@real
def test_a_finding_seen_in_flight_is_confirmed_and_shrunk_alone(store):
    """split-queues: the callback's queue has no consumer.  Explored with 4 examples in flight, the stuck
    chord is then run again alone and shrunk to a chord of a few header tasks, which replays every time."""
    scenario, consumed = shapes_topology(load("split-queues"))
    plan = FuzzPlan(examples=20, seed=7, queues=(None, *consumed), max_findings=1, replays=2, in_flight=4)
    with FuzzSession(scenario) as session:
        search = Search(plan, session)
        found = search.run()
    assert found and found[0].kind == "stuck/callback-queue-unconsumed"
    assert search.stats.in_flight_peak > 1
    f = found[0]
    assert len(f.shapes) == 1, [S.describe(s) for s in f.shapes]  # down to the one chord that shows it
    assert S.task_count(f.failing_shape) <= 4, S.describe(f.failing_shape)
    assert f.replay["rate"] == 1.0
    assert "alongside" not in f.result.obs["quiescence"]  # its evidence is from a run alone
