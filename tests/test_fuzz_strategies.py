"""The fuzzer's strategies: the shapes and configurations they must be able to draw, bounded (pure).

No processes: hypothesis draws shapes and configs, and ``find`` proves each
required kind of shape is reachable; ``build`` turns shapes into Celery
canvases on an app that never connects to anything.
"""

from __future__ import annotations

import pytest
from celery import Celery
from celery.canvas import _chain, chord, group
from hypothesis import HealthCheck, Phase, find, given, settings

import lab.apps.fuzz  # noqa: F401  (registers the fuzz.* tasks)
from lab.fuzz import strategies as S
from lab.scenario import Scenario, Worker, validate

# find() without its shrink phase: the first example that satisfies the predicate is proof enough
FIND = settings(max_examples=2000, database=None, phases=(Phase.generate,), suppress_health_check=list(HealthCheck))


def nodes(shape):
    return list(S.walk(shape))


def has(shape, pred) -> bool:
    return any(pred(n) for n in nodes(shape))


def parent_child(shape, outer, inner) -> bool:
    """True if some node of type ``outer`` directly holds a node of type ``inner``."""
    for n in nodes(shape):
        kids = (n.links if isinstance(n, S.ChainShape) else n.members if isinstance(n, S.GroupShape)
                else (*n.header, n.body) if isinstance(n, S.ChordShape) else ())
        if isinstance(n, outer) and any(isinstance(k, inner) for k in kids):
            return True
    return False


# -- the shapes it must be able to produce ------------------------------------------------------------


@pytest.mark.parametrize("what, predicate", [
    ("an empty header", lambda c: c.header == ()),
    ("a chord in a chain in a group", lambda c: any(
        isinstance(g, S.GroupShape) and any(isinstance(ch, S.ChainShape) and any(isinstance(x, S.ChordShape) for x in ch.links)
                                            for ch in g.members) for g in nodes(c))),
    ("a chord of chords", lambda c: sum(isinstance(h, S.ChordShape) for h in c.header) >= 2),
    ("a group of one", lambda c: has(c, lambda n: isinstance(n, S.GroupShape) and len(n.members) == 1)),
    ("an immutable (.si) callback", lambda c: isinstance(c.body, S.TaskShape) and c.body.immutable),
    ("a partial (.s) callback", lambda c: isinstance(c.body, S.TaskShape) and not c.body.immutable),
    ("a chain as the body", lambda c: isinstance(c.body, S.ChainShape)),
    ("a chord inside the body", lambda c: has(c.body, lambda n: isinstance(n, S.ChordShape))),
    ("a group inside the body", lambda c: has(c.body, lambda n: isinstance(n, S.GroupShape))),
])
def test_chords_reach_every_required_shape(what, predicate):
    """Every nesting the issue names is reachable: find() fails the test if the strategy cannot draw it."""
    assert predicate(find(S.chords(), predicate, settings=FIND)), what


@pytest.mark.parametrize("behaviour", S.BEHAVIOURS)
def test_tasks_reach_every_behaviour(behaviour):
    """Raise, retry, Reject, Ignore, soft time limit and large results are all drawn."""
    find(S.chords(), lambda c: has(c, lambda n: isinstance(n, S.TaskShape) and n.behaviour == behaviour), settings=FIND)


@pytest.mark.parametrize("option, test", [
    ("queue", lambda o: o.queue == "reports"),
    ("ignore_result", lambda o: o.ignore_result),
    ("headers", lambda o: o.headers),
    ("countdown", lambda o: o.countdown is not None),
    ("eta", lambda o: o.eta is not None),
])
def test_tasks_reach_every_option(option, test):
    """Per-signature options: queue, ignore_result, custom headers, countdown and eta."""
    find(S.tasks(queues=("reports",)), lambda t: test(t.options), settings=FIND)


def test_options_and_behaviours_can_be_turned_off():
    """--no-options and a behaviour list leave them out entirely."""

    @settings(max_examples=200, database=None, suppress_health_check=list(HealthCheck))
    @given(S.chords(behaviours=("ok",), options=False))
    def check(c):
        for n in nodes(c):
            if isinstance(n, S.TaskShape):
                assert n.behaviour == "ok" and n.options == S.Options()

    check()


def test_unknown_behaviour_is_refused():
    with pytest.raises(ValueError, match="unknown behaviour"):
        S.tasks(behaviours=("ok", "explode"))


# -- bounded sizes -------------------------------------------------------------------------------------


@settings(max_examples=150, database=None, suppress_health_check=list(HealthCheck))
@given(S.chord_batches(max_chords=2, max_header=3, max_leaves=4))
def test_sizes_are_bounded(batch):
    """At most max_chords chords and max_header header elements; each element a bounded canvas: st.recursive
    draws at most max_leaves tasks, plus one callback per chord it nests (so at most 2 * max_leaves); a body
    is a chain of at most two such canvases and a callback."""
    assert 1 <= len(batch) <= 2
    for c in batch:
        if not isinstance(c, S.ChordShape):  # a bare chain (2 to 3 links) or group (up to max_header members)
            kids = c.links if isinstance(c, S.ChainShape) else c.members
            assert len(kids) <= 3 and all(S.task_count(k) <= 2 * 4 for k in kids)
            continue
        assert len(c.header) <= 3
        for element in c.header:
            assert S.task_count(element) <= 2 * 4
        assert S.task_count(c.body) <= 2 * (2 * 4) + 1


def test_flat_chords_have_plain_tasks_only():
    @settings(max_examples=200, database=None, suppress_health_check=list(HealthCheck))
    @given(S.chords(nested=False))
    def check(c):
        assert all(isinstance(h, S.TaskShape) for h in c.header) and isinstance(c.body, S.TaskShape)

    check()


# -- data, text and canvases ------------------------------------------------------------------------------


@settings(max_examples=200, database=None, suppress_health_check=list(HealthCheck))
@given(S.chords())
def test_shapes_round_trip_through_json_data(c):
    """A saved finding stores shapes as data: from_data(to_data(shape)) is the same shape."""
    assert S.from_data(S.to_data(c)) == c
    assert S.describe(c).startswith("chord([")


def test_from_data_refuses_what_is_not_a_shape():
    with pytest.raises(ValueError, match="not a chord shape"):
        S.from_data({"kind": "pipeline"})


@pytest.fixture(scope="module")
def app():
    a = Celery("fuzz-build-test", set_as_current=False)
    a.conf.update(broker_url="memory://", result_backend="cache+memory://")
    return a


def test_build_makes_the_canvas_the_shape_describes(app):
    """chord([task, chain(task, group(task, task))], chain(task.si(), total.s())) as a Celery canvas."""
    T = S.TaskShape
    shape = S.ChordShape(
        (T(value=1), S.ChainShape((T(value=2), S.GroupShape((T(value=3), T(value=4, behaviour="raise")))))),
        S.ChainShape((T(value=5, immutable=True), T(value=6, options=S.Options(queue="reports", headers=True)))))
    canvas = S.build(app, shape)
    assert isinstance(canvas, chord)
    first, second = canvas.tasks
    assert first.task == "fuzz.part" and first.kwargs == {"value": 1}
    assert isinstance(second, _chain) and isinstance(second.tasks[1], group)
    assert second.tasks[1].tasks[1].task == "fuzz.raise"
    body = canvas.body
    assert isinstance(body, _chain)
    assert body.tasks[0].immutable and body.tasks[0].task == "fuzz.part"
    assert body.tasks[1].task == "fuzz.total"  # the chord's callback is fuzz.total: routes can tell it apart
    assert body.tasks[1].options["queue"] == "reports" and "organization_id" in body.tasks[1].options["headers"]


@settings(max_examples=100, database=None, suppress_health_check=list(HealthCheck))
@given(S.chords())
def test_every_drawn_shape_builds(c):
    """build() never fails on what the strategy draws (whether Celery can apply it is for the fuzzer to see)."""
    app = Celery("fuzz-build-prop", set_as_current=False)
    S.build(app, c)


def test_flat_shapes_become_lab_chords():
    """A flat shape is written into a finding as a lab.Chord, which the scenario validator accepts."""
    T = S.TaskShape
    shape = S.ChordShape((T(duration=0.02), T(behaviour="raise")), T())
    assert S.is_flat(shape)
    c = S.to_chord(shape)
    assert (c.header, c.duration, c.raising_parts, c.header_task, c.callback) == (2, (0.02, 0.0), (1,), "fuzz.part", "fuzz.total")
    assert not S.is_flat(S.ChordShape((S.GroupShape((T(), T())),), T()))
    assert not S.is_flat(S.ChordShape((T(behaviour="retry"), T(behaviour="large")), T()))


# -- configurations -----------------------------------------------------------------------------------------


def test_default_config_is_the_healthy_topology():
    """The shrink target: one worker on the default queue, no routes, Celery's defaults, Redis, no eviction."""
    sc = S.FuzzConfig().to_scenario()
    assert [(w.queues, w.concurrency, w.pool, w.tasks) for w in sc.workers] == [(None, 1, "prefork", None)]
    assert sc.config == {} and sc.redis_options == {} and sc.backend == "redis"


@settings(max_examples=200, database=None, suppress_health_check=list(HealthCheck))
@given(S.configs())
def test_every_drawn_config_is_a_valid_scenario(cfg):
    """Routes, expiry, ignore_result, acks, workers, pools, backends and maxmemory all make a valid scenario."""
    sc = validate(cfg.to_scenario("fuzz-x"))
    assert isinstance(sc, Scenario) and 1 <= len(sc.workers) <= 3
    assert S.FuzzConfig.from_data(cfg.to_data()) == cfg


@pytest.mark.parametrize("field, value", [
    ("callback_queue", "reports"), ("header_queue", "execution"), ("unlock_queue", "reports"),
    ("result_expires", 1), ("task_ignore_result", True), ("task_acks_late", True),
    ("task_reject_on_worker_lost", True), ("backend", "database"), ("maxmemory_policy", "allkeys-lru"),
])
def test_configs_reach_every_setting(field, value):
    find(S.configs(), lambda c: getattr(c, field) == value, settings=FIND)


def test_configs_reach_stale_workers_and_several_pools():
    find(S.configs(), lambda c: any(w.code == "stale" for w in c.workers) and {w.pool for w in c.workers} >= {"solo", "threads"},
         settings=FIND)


def test_config_routes_header_tasks_by_glob_and_the_callback_by_name():
    cfg = S.FuzzConfig(header_queue="execution", callback_queue="reports", unlock_queue="celery", result_expires=2)
    assert cfg.celery_config() == {
        "task_routes": {"fuzz.total": {"queue": "reports"}, "fuzz.*": {"queue": "execution"},
                        "celery.chord_unlock": {"queue": "celery"}},
        "result_expires": 2}




def test_an_eta_is_written_into_a_scenario_as_the_same_countdown():
    """A finding's scenario file holds plain data: a part's or callback's eta (a datetime once sent) becomes a
    countdown of the same delay, and the shape stops being exact."""
    T = S.TaskShape
    shape = S.ChordShape((T(options=S.Options(eta=0.1)),), T(options=S.Options(eta=0.02)))
    assert not S.is_flat(shape)
    c = S.to_chord(shape)
    assert (c.part_options, c.callback_options) == ({"countdown": 0.1}, {"countdown": 0.02})
    validate(Scenario(name="x", description="x", expect="completed", workers=(Worker("w1"),), chords=(c,)))


@settings(max_examples=100, database=None, suppress_health_check=list(HealthCheck))
@given(S.chord_batches())
def test_the_described_text_builds_what_build_builds_options_included(batch):
    """describe() is the text a finding file and an export hold: evaluated as they evaluate it, it gives the
    canvas build() sends, with Celery's own options (message headers as a dict, an eta as a datetime, not the
    shape's flags: `.set(headers=True, eta=0.02)` made apply_async raise in `lab run` of a finding)."""
    import datetime
    import re

    app = Celery("fuzz-describe-prop", set_as_current=False)
    env = {"fuzz": lab.apps.fuzz.bind(app), "app": app, **S.canvas_names()}
    for shape in batch:
        canvas = eval(S.describe(shape), env)  # noqa: S307 - our own generated text
        def text(sig):  # an eta read back is seconds from now, to the millisecond: compare that one is set
            return re.sub(r"seconds=[0-9.e-]+", "seconds=...", S.describe(S.shape_of(sig, app=app)))

        assert text(canvas) == text(S.build(app, shape))  # `|` merges chains as built does
        for sig in _signatures(canvas):
            if "eta" in sig.options:
                assert isinstance(sig.options["eta"], datetime.datetime), sig.options
            if "headers" in sig.options:
                assert sig.options["headers"] == S.FUZZ_HEADERS, sig.options


def _signatures(sig):
    tasks = getattr(sig, "tasks", None)
    if tasks is not None:
        for t in tasks:
            yield from _signatures(t)
        body = getattr(sig, "body", None)
        if body is not None:
            yield from _signatures(body)
    else:
        yield sig


def test_a_finding_is_judged_again_by_the_final_task_it_was_found_on(monkeypatch):
    """A chain ending in a group has one outcome per member, all with the canvas's index: judging a stored
    finding again reads the member that showed it, not the first (a healthy one, which made RESULTS.md call
    two findings "completed (as the oracle allows)")."""
    from lab.fuzz import findings as F
    from lab.fuzz.oracle import ChordOutcome

    def outcome(index, chord_id, verdict, kind=None):
        return ChordOutcome(index, chord_id, verdict, None, f"{chord_id} {verdict}", [], ("completed",),
                            kind is not None, kind)

    outcomes = [outcome(0, "a", "completed"), outcome(1, "m1", "completed"),
                outcome(1, "m2", "early", "early/missing-results"), outcome(1, "m3", "early", "early/extra-results")]
    monkeypatch.setattr(F, "judge_example", lambda obs: outcomes)
    monkeypatch.setattr(F, "classify", lambda *a, **k: {"id": "10", "known": True})
    for kind, chord_id in (("early/extra-results", "m3"), ("early/missing-results", "m2")):
        now = F.rejudge({"observations": {"chords": []}, "failing_index": 1, "finding_kind": kind})
        assert (now["finding_kind"], now["summary"]) == (kind, f"{chord_id} early")
    now = F.rejudge({"observations": {"chords": []}, "failing_index": 1, "finding_kind": "stuck/gone-since"})
    assert now["finding_kind"] == "early/missing-results" and now["finding"]  # another finding of that canvas
