"""Tests for lab.views.timeline: the lanes and marks derived from a stored run, and both drawings."""

from __future__ import annotations

import copy
import io
import json
import pathlib
import random
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from builders import T0, W1, chord, end, observations, publish, start

from lab.observe.model import LedgerEvent, Observations, TimelineEntry
from lab.views.timeline import render_terminal, task_lifecycles, timeline_events, write_svg

DATA = pathlib.Path(__file__).parent / "data" / "observations_split_queues.json"
CALLBACK_ID = "c0ffee00-0000-4000-8000-00000000cb01"
HOST = "w1@split-queues-ab12"


@pytest.fixture
def obs() -> Observations:
    return json.loads(DATA.read_text())


@pytest.fixture
def verdicts() -> list[dict]:
    return [{
        "chord_id": CALLBACK_ID, "index": 0, "verdict": "stuck", "cause": "callback-queue-unconsumed",
        "summary": "The callback waits in queue 'reports', which no worker consumes.",
        "evidence": ["ledger: lab.collect published to reports by w1", "probe: reports holds 1 message"],
    }]


def _of(events: list[dict], type_: str) -> list[dict]:
    return [e for e in events if e["type"] == type_]


def _render_lines(renderable, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.export_text(styles=False).splitlines()


def test_lanes_one_per_worker_and_per_queue(obs):
    """One lane per worker (keyed by hostname, labelled by its short name) and one per queue."""
    lanes = _of(timeline_events(obs), "lane")
    workers = [lane for lane in lanes if lane["kind"] == "worker"]
    queues = [lane for lane in lanes if lane["kind"] == "queue"]
    assert [(w["hostname"], w["label"]) for w in workers] == [(HOST, "w1")]
    assert sorted(q["label"] for q in queues) == ["execution", "reports"]
    assert len({lane["id"] for lane in lanes}) == len(lanes)
    by_name = {q["label"]: q for q in queues}
    assert by_name["reports"]["consumers"] == []
    assert by_name["execution"]["consumers"] == ["w1"]


def test_header_parts_are_bars_on_their_worker(obs):
    """Each header part that ran is one bar on w1's lane, start to end, with its outcome; overlaps are stacked."""
    events = timeline_events(obs)
    runs = [b for b in _of(events, "bar") if b["kind"] == "run"]
    assert len(runs) == 3
    assert {b["lane"] for b in runs} == {f"worker:{HOST}"}
    assert all(b["role"] == "header" and b["outcome"] == "SUCCESS" and not b["open"] for b in runs)
    first = min(runs, key=lambda b: b["start"])
    assert first["start"] == pytest.approx(1.32) and first["end"] == pytest.approx(1.43)
    # parts 0 and 1 overlap (concurrency 2), so they sit on different rows
    p0, p1 = sorted(runs, key=lambda b: b["start"])[:2]
    assert p0["slot"] != p1["slot"]


def test_callback_publish_marked_on_queue_with_arrow_from_worker(obs):
    """The callback's publish is a mark on the reports lane, coming from w1's lane."""
    marks = [m for m in _of(timeline_events(obs), "mark") if m["kind"] == "publish" and m.get("role") == "callback"]
    assert len(marks) == 1
    assert marks[0]["lane"] == "queue:reports"
    assert marks[0]["from_lane"] == f"worker:{HOST}"
    assert marks[0]["t"] == pytest.approx(1.56)


def test_stuck_callback_waits_until_the_probe(obs):
    """The stuck callback's message is a bar on the reports lane from its publish to the probe time, saying why."""
    events = timeline_events(obs)
    waits = [b for b in _of(events, "bar") if b["kind"] == "wait" and b["task_id"] == CALLBACK_ID]
    assert len(waits) == 1
    wait = waits[0]
    assert wait["lane"] == "queue:reports"
    assert wait["start"] == pytest.approx(1.56)
    assert wait["end"] == pytest.approx(obs["probe"]["t"] - obs["started_at"])
    assert wait["outcome"] == "waiting" and wait["open"]
    assert wait["label"] == "callback waiting: no consumer"
    # and no callback run anywhere
    assert not [b for b in _of(events, "bar") if b["kind"] == "run" and b["role"] == "callback"]


def test_ready_and_fault_marks(obs):
    """Node ready times become marks (redis for the whole run, workers on their lane); faults go on the named worker."""
    obs["timeline"].append({"t": obs["started_at"] + 1.5, "kind": "fault", "what": "SIGKILL worker w1 main process"})
    marks = _of(timeline_events(obs), "mark")
    ready = {(m["lane"], m["label"]) for m in marks if m["kind"] == "ready"}
    assert (None, "redis ready") in ready
    assert (f"worker:{HOST}", "w1 ready") in ready
    assert len([m for m in marks if m["kind"] == "ready"]) == 2      # topology and timeline not doubled
    faults = [m for m in marks if m["kind"] == "fault"]
    assert len(faults) == 1 and faults[0]["lane"] == f"worker:{HOST}"


def test_nested_probe_shape_is_understood(obs):
    """The runner's probe nests queues under broker and consumers under workers; the lanes read the same."""
    probe = obs["probe"]
    obs["probe"] = {"t": probe["t"], "broker": {"queues": probe["queues"], "unacked": []},
                    "workers": {"consumers": probe["consumers"], "registered": {}}}
    events = timeline_events(obs)
    reports = next(e for e in events if e["type"] == "lane" and e.get("queue") == "reports")
    assert reports["consumers"] == []
    wait = next(b for b in _of(events, "bar") if b["task_id"] == CALLBACK_ID)
    assert wait["label"] == "callback waiting: no consumer"


@pytest.mark.parametrize("width", [100, 60])
def test_terminal_rendering_names_lanes_and_fits_width(obs, verdicts, width):
    """The character chart names every lane, says where the chord stopped, and no line is wider than asked."""
    lines = _render_lines(render_terminal(obs, verdicts, width=width), width=200)
    text = "\n".join(lines)
    for name in ("w1", "execution", "reports", "split-queues", "1 stuck"):
        assert name in text
    assert "callback waiting: no consumer" in text
    assert max(len(line) for line in lines) <= width


def test_svg_written_valid_xml_with_queue_names(obs, verdicts, tmp_path):
    """write_svg writes a well-formed SVG whose text (not paths) names the queues and the scenario."""
    out = write_svg(obs, verdicts, tmp_path / "sub" / "run.svg")
    assert out == tmp_path / "sub" / "run.svg" and out.exists()
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = out.read_text()
    for name in ("execution", "reports", "split-queues", "callback waiting: no consumer"):
        assert name in text


def test_sparse_observations_still_render(tmp_path):
    """An observation dict with most keys missing (or odd values) still yields events and both drawings."""
    sparse_cases = [
        {},
        {"run_id": "x-1"},
        {"scenario": "just-a-name", "ledger": [{"event": "start", "task_id": "a", "worker": "w9@h", "t": 5.0}]},
        {"started_at": 100.0, "topology": {"workers": [{"name": "w1"}]}, "chords": [{"index": 0}],
         "ledger": [None, {"event": "publish"}, {"event": "end", "t": "soon"}], "probe": {"t": None},
         "timeline": [{"kind": "fault"}]},
    ]
    for i, case in enumerate(sparse_cases):
        events = timeline_events(copy.deepcopy(case))
        assert isinstance(events, list)
        lines = _render_lines(render_terminal(case, [], width=80), width=200)
        assert max(len(line) for line in lines) <= 80
        out = write_svg(case, None, tmp_path / f"sparse{i}.svg")  # type: ignore[arg-type]
        ET.parse(out)
    # a worker seen only in the ledger still gets a lane, with an open bar
    events = timeline_events(sparse_cases[2])
    assert [lane["label"] for lane in _of(events, "lane")] == ["w9"]
    assert _of(events, "bar")[0]["open"]


def test_wrongly_typed_values_do_not_crash(obs):
    """Values of the wrong type anywhere in the record (seeded random damage) never make the chart raise."""
    rnd = random.Random(20261129)
    junk = [None, 0, -1, 1e300, float("nan"), "x", [], {}, [None], {"a": 1}, True]

    def paths(o, pre=()):
        yield pre
        if isinstance(o, dict):
            for k, v in o.items():
                yield from paths(v, (*pre, k))
        elif isinstance(o, list):
            for i, v in enumerate(o):
                yield from paths(v, (*pre, i))

    for _ in range(150):
        damaged = copy.deepcopy(obs)
        where = [p for p in paths(damaged) if p]
        for path in rnd.sample(where, k=4):
            parent = damaged
            try:
                for key in path[:-1]:
                    parent = parent[key]
                if isinstance(parent, dict) and rnd.random() < 0.5:
                    parent.pop(path[-1], None)
                else:
                    parent[path[-1]] = rnd.choice(junk)
            except (KeyError, IndexError, TypeError):
                pass            # an earlier change already removed the way there
        timeline_events(damaged)
        lines = _render_lines(render_terminal(damaged, [{"verdict": None}], width=70), width=200)
        assert max(len(line) for line in lines) <= 70


def test_timeline_events_does_not_modify_its_input(obs):
    """Deriving events is pure: the observations are left as they were."""
    before = copy.deepcopy(obs)
    timeline_events(obs)
    assert obs == before


# --------------------------------------------------------------------------
# the timeline never contradicts the ledger, whatever the order of its events
# --------------------------------------------------------------------------

PART_IDS = [f"5e000000-0000-4000-8000-00000000000{i}" for i in range(4)]
SKEW_CALLBACK = "5e000000-0000-4000-8000-0000000000cb"


def _skew_obs(ledger: list[LedgerEvent], parts: int = 2, timeline: list[TimelineEntry] | None = None) -> Observations:
    """One chord of ``parts`` parts on w1 consuming ``celery``; the probe (at 3 s) found the queue empty."""
    return observations(ledger, run_id="skew-20261201T000000-5e5e5e", scenario={"name": "skew"},
                        chords=[chord(chord_id=SKEW_CALLBACK, header_ids=PART_IDS[:parts], sent_at=T0 + 0.9)],
                        queues={"celery": {"length": 0, "messages": []}}, timeline=timeline, probe_t=T0 + 3.0)


def _callback_ran() -> list[LedgerEvent]:
    return [publish(SKEW_CALLBACK, T0 + 1.50, name="lab.collect", by=W1),
            start(SKEW_CALLBACK, T0 + 1.52, pid=4102, name="lab.collect"),
            end(SKEW_CALLBACK, T0 + 1.60, pid=4102, name="lab.collect")]


def _part_bars(events: list[dict], tid: str) -> tuple[list[dict], list[dict]]:
    bars = [b for b in _of(events, "bar") if b["task_id"] == tid]
    return [b for b in bars if b["kind"] == "run"], [b for b in bars if b["kind"] == "wait"]


def _glyph_styles(renderable, glyph: str) -> set[str]:
    """The styles the terminal chart gives ``glyph`` (its lines are rich Text objects)."""
    styles = set()
    for line in renderable.renderables:
        for span in line.spans:
            if glyph in line.plain[span.start:span.end]:
                styles.add(str(span.style))
    return styles


# part 0's events as logged, in the ledger's list order; part 1 is an ordinary run
SKEWED_PART0 = {
    "start and end logged before the publish": [
        start(PART_IDS[0], T0 + 1.00), end(PART_IDS[0], T0 + 1.10), publish(PART_IDS[0], T0 + 1.12)],
    "started before published, ended after": [
        start(PART_IDS[0], T0 + 1.00), publish(PART_IDS[0], T0 + 1.02), end(PART_IDS[0], T0 + 1.10)],
    "ended before started (timestamp skew), publish last in the list": [
        end(PART_IDS[0], T0 + 1.00), start(PART_IDS[0], T0 + 1.05), publish(PART_IDS[0], T0 + 0.98)],
    "everything reversed, no pids recorded": [
        publish(PART_IDS[0], T0 + 1.12), end(PART_IDS[0], T0 + 1.10, pid=None), start(PART_IDS[0], T0 + 1.00, pid=None)],
}


@pytest.mark.parametrize("case", list(SKEWED_PART0))
def test_part_that_ran_is_drawn_ran_whatever_its_event_order(case, tmp_path):
    """A part with a start and an end SUCCESS is a green bar in the events, the terminal and the SVG, never
    "never ran", even when its start (or end) was logged before its publish or its end before its start."""
    ledger = SKEWED_PART0[case] + [publish(PART_IDS[1], T0 + 1.00), start(PART_IDS[1], T0 + 1.01, pid=4102),
                                   end(PART_IDS[1], T0 + 1.20, pid=4102)] + _callback_ran()
    obs = _skew_obs(ledger)
    events = timeline_events(obs)
    runs, waits = _part_bars(events, PART_IDS[0])
    assert [(b["outcome"], b["open"]) for b in runs] == [("SUCCESS", False)]
    times = [e["t"] - T0 for e in SKEWED_PART0[case] if e["event"] in ("start", "end")]
    assert runs[0]["start"] == pytest.approx(min(times)) and runs[0]["end"] == pytest.approx(max(times))
    assert [w["outcome"] for w in waits] == ["taken"]
    assert waits[0]["end"] >= waits[0]["start"]
    assert not [m for m in _of(events, "mark") if "not recorded" in m["label"] or m["kind"] == "stopped"]

    chart = render_terminal(obs, [], width=100)
    text = "\n".join(_render_lines(chart, width=200))
    for wrong in ("never ran", "never taken", "no end", "not recorded", "waiting"):
        assert wrong not in text
    assert "part ok" in text and "green" in _glyph_styles(chart, "█")

    svg = write_svg(obs, [], tmp_path / "skew.svg").read_text()
    for wrong in ("never ran", "never taken", "no end recorded"):
        assert wrong not in svg
    assert "part ran: success" in svg


def test_part_discarded_before_its_publish_was_logged_is_taken_not_waiting(tmp_path):
    """A worker that received a part and discarded it (unregistered) before the producer logged the publish
    took the message: the part is drawn discarded, not as a message that never ran."""
    ledger = [{"event": "unregistered", "t": T0 + 1.00, "task_id": PART_IDS[0], "name": "lab.part",
               "worker": W1, "error": "KeyError"}, publish(PART_IDS[0], T0 + 1.03)]
    obs = _skew_obs(ledger, parts=1)
    events = timeline_events(obs)
    runs, waits = _part_bars(events, PART_IDS[0])
    assert runs == [] and [w["outcome"] for w in waits] == ["taken"]
    assert [m["kind"] for m in _of(events, "mark") if m.get("task_id") == PART_IDS[0]] == ["unregistered", "publish"]
    text = "\n".join(_render_lines(render_terminal(obs, [], width=100), width=200))
    assert "not registered" in text and "never ran" not in text and "never taken" not in text
    svg = write_svg(obs, [], tmp_path / "discard.svg").read_text()
    assert "unregistered" in svg and "never" not in svg


def test_killed_run_and_its_redelivery_pair_by_process(tmp_path):
    """A start in a process that was killed, then a redelivered start and end in another process of the same
    worker: the redelivered run is the SUCCESS bar and the killed one ends at the fault (not the other way)."""
    kill = {"t": T0 + 1.30, "kind": "fault", "what": f"SIGKILL worker {W1}"}
    ledger = [publish(PART_IDS[0], T0 + 1.00), start(PART_IDS[0], T0 + 1.01, pid=4101),
              start(PART_IDS[0], T0 + 2.00, pid=4202, redelivered=True), end(PART_IDS[0], T0 + 2.10, pid=4202)]
    obs = _skew_obs(ledger, parts=1, timeline=[kill])
    runs, waits = _part_bars(timeline_events(obs), PART_IDS[0])
    by_outcome = {b["outcome"]: b for b in runs}
    assert sorted(by_outcome) == ["SUCCESS", "unfinished"]
    assert by_outcome["SUCCESS"]["start"] == pytest.approx(2.00) and "redelivered" in by_outcome["SUCCESS"]["label"]
    assert by_outcome["unfinished"]["start"] == pytest.approx(1.01)
    assert by_outcome["unfinished"]["end"] == pytest.approx(1.30) and by_outcome["unfinished"]["closed_by"] == "fault"
    assert [w["outcome"] for w in waits] == ["taken"]      # the redelivery took no second message


def test_message_that_never_ran_still_says_so_in_both_drawings(tmp_path):
    """The fix must not hide a real stop: a part published and never started is "never ran" in both drawings,
    and a retry message published after the only run is the one left waiting."""
    ledger = [publish(PART_IDS[0], T0 + 1.00), start(PART_IDS[0], T0 + 0.99), end(PART_IDS[0], T0 + 1.10, state="RETRY"),
              publish(PART_IDS[0], T0 + 1.05, by=W1), publish(PART_IDS[1], T0 + 1.00)]
    obs = _skew_obs(ledger)
    events = timeline_events(obs)
    _, waits0 = _part_bars(events, PART_IDS[0])
    assert sorted((round(w["start"], 2), w["outcome"]) for w in waits0) == [(1.0, "taken"), (1.05, "waiting")]
    _, waits1 = _part_bars(events, PART_IDS[1])
    assert [w["outcome"] for w in waits1] == ["waiting"]
    text = "\n".join(_render_lines(render_terminal(obs, [], width=120), width=200))
    assert f"part never ran (not in queue at probe), in celery since 1.00s (task {PART_IDS[1]})" in text
    assert "never ran" in write_svg(obs, [], tmp_path / "stop.svg").read_text()


def test_task_lifecycles_reads_events_in_any_order():
    """The one source of a task's lifecycle gives the same answer for every order of the same events."""
    events = [publish(PART_IDS[0], T0 + 1.2), start(PART_IDS[0], T0 + 1.0), end(PART_IDS[0], T0 + 1.1, state="FAILURE")]
    rnd = random.Random(7)
    for _ in range(10):
        rnd.shuffle(events)
        lc = task_lifecycles(events)[PART_IDS[0]]
        assert lc.ran and lc.state == "FAILURE" and lc.taken == [True]
        assert [(r.first, r.last) for r in lc.runs] == [(T0 + 1.0, T0 + 1.1)]


# ---- property: permuted and skewed events, the drawn part states equal the ledger's --------------

FATES = ("SUCCESS", "FAILURE", "unfinished", "never ran", "unregistered", "killed, redelivered, SUCCESS",
         "prefetched, restored, SUCCESS")


@st.composite
def skewed_chords(draw):
    """A chord's parts, each with a fate, their ledger events with every timestamp skewed, in any list order."""
    n = draw(st.integers(1, 4))
    fates = [draw(st.sampled_from(FATES)) for _ in range(n)]
    with_pids = draw(st.booleans())
    skew = st.floats(-0.4, 0.4, allow_nan=False)

    def t(base: float) -> float:  # a time of the run, skewed
        return T0 + base + draw(skew)

    ledger: list[dict] = []
    for i, fate in enumerate(fates):
        tid, pid = PART_IDS[i], (4101 + i if with_pids else None)
        ledger.append(publish(tid, t(1.0)))
        if fate in ("SUCCESS", "FAILURE"):
            ledger += [start(tid, t(1.1), pid=pid), end(tid, t(1.3), state=fate, pid=pid)]
        elif fate == "unfinished":
            ledger.append(start(tid, t(1.1), pid=pid))
        elif fate == "unregistered":
            ledger.append({"event": "unregistered", "t": t(1.1), "task_id": tid, "name": "lab.part",
                           "worker": W1, "error": "KeyError"})
        elif fate.startswith("killed"):     # two processes: only the pid tells the runs apart
            ledger += [start(tid, t(1.1), pid=4201 + i), start(tid, t(1.6), pid=4301 + i, redelivered=True),
                       end(tid, t(1.8), state="SUCCESS", pid=4301 + i)]
        elif fate.startswith("prefetched"):     # its only start is a redelivery: still the message taken
            ledger += [start(tid, t(1.6), pid=pid, redelivered=True), end(tid, t(1.8), state="SUCCESS", pid=pid)]
    return fates, draw(st.permutations(ledger))


def _ledger_state(fate: str) -> str:
    return "SUCCESS" if fate.endswith(", SUCCESS") else fate


def _drawn_state(events: list[dict], tid: str) -> str:
    runs, waits = _part_bars(events, tid)
    closed = [b for b in runs if not b["open"]]
    if closed:
        assert len(closed) == 1, closed
        return closed[0]["outcome"]
    if runs:
        return "unfinished"
    if any(m["kind"] == "unregistered" and m.get("task_id") == tid for m in _of(events, "mark")):
        return "unregistered"
    return "never ran" if [w for w in waits if w["outcome"] == "waiting"] else "?"


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(skewed_chords())
def test_drawn_part_states_equal_the_ledgers_whatever_the_order(chord):
    """Permute the ledger and skew every timestamp: each part is drawn as the ledger says it ended, a part
    that ran has no message drawn as never taken, and the terminal names no part that ran as waiting."""
    fates, ledger = chord
    obs = _skew_obs(ledger, parts=len(fates))
    events = timeline_events(obs)
    for i, fate in enumerate(fates):
        tid = PART_IDS[i]
        assert _drawn_state(events, tid) == _ledger_state(fate), (fate, tid)
        _, waits = _part_bars(events, tid)
        assert [w["outcome"] for w in waits] == (["waiting"] if fate == "never ran" else ["taken"])
        assert all(w["end"] >= w["start"] for w in waits)
    ended = sum(f not in ("unfinished", "never ran", "unregistered") for f in fates)
    stopped = [m for m in _of(events, "mark") if m["kind"] == "stopped"]
    if any(f not in ("never ran", "unregistered") for f in fates):
        assert len(stopped) == 1 and f"({ended}/{len(fates)} parts ended" in stopped[0]["label"]
    lines = _render_lines(render_terminal(obs, [], width=120), width=200)
    for i, fate in enumerate(fates):
        said_waiting = [ln for ln in lines if f"(task {PART_IDS[i]})" in ln]
        assert bool(said_waiting) == (fate == "never ran"), (fate, said_waiting)
