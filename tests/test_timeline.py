"""Tests for lab.timeline: the lanes and marks derived from a stored run, and both drawings."""

from __future__ import annotations

import copy
import io
import json
import pathlib
import random
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from lab.timeline import render_terminal, timeline_events, write_svg

DATA = pathlib.Path(__file__).parent / "data" / "observations_split_queues.json"
CALLBACK_ID = "c0ffee00-0000-4000-8000-00000000cb01"
HOST = "w1@split-queues-ab12"


@pytest.fixture
def obs() -> dict:
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
