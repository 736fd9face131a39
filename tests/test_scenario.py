"""Scenario validation and loading: every problem is one sentence naming the field, the value and what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from lab import Chord, Fault, Scenario, Worker
from lab.scenario import ScenarioError, from_dict, load, scenario_paths, validate

GOOD = Scenario(name="ok", description="d", expect="stuck", workers=(Worker("w1", queues=("a",)),))


def test_every_shipped_scenario_is_valid_and_round_trips():
    """Each file in scenarios/ loads, validates, and survives to_dict/from_dict (stored runs rebuild it)."""
    names = scenario_paths()
    assert {"healthy", "split-queues", "route-glob-mismatch", "multiple-workers", "short-result-expiry", "wrong-signature"} <= set(names)
    for name in names:
        s = load(name)
        assert s.name == name
        again = from_dict(s.to_dict())
        assert dataclasses.replace(again, source=s.source) == s


@pytest.mark.parametrize("change, field, words", [
    ({"expect": "hung"}, "expect", "allowed: completed, stuck"),
    ({"broker": "kafka"}, "broker", "allowed: redis, rabbitmq"),
    ({"name": "Has Spaces"}, "name", "lowercase"),
    ({"workers": ()}, "workers", "at least one"),
    ({"workers": (Worker("w1", concurrency=0),)}, "workers[0].concurrency", "1 to 16"),
    ({"workers": (Worker("w1", queues=()),)}, "workers[0].queues", "None (no -Q)"),
    ({"workers": (Worker("w1"), Worker("w1"))}, "workers[1].name", "unique"),
    ({"workers": (Worker("w1", pool="gevent"),)}, "workers[0].pool", "allowed: prefork"),
    ({"chords": (Chord(header=-1),)}, "chords[0].header", "0 to 1000"),
    ({"chords": (Chord(header=2, duration=(1.0,)),)}, "chords[0].duration", "one duration"),
    ({"config": {"Bad Key": 1}}, "config", "Celery setting names"),
    ({"tasks": ("not a module",)}, "tasks", "importable module names"),
    ({"faults": (Fault("kill-worker", target="nobody"),)}, "faults[0].target", "name one of the workers"),
    ({"faults": (Fault("meteor"),)}, "faults[0].kind", "allowed: kill-worker"),
])
def test_bad_field_is_one_sentence(change, field, words):
    """A bad field is named, its value shown, and the allowed values given, in one line."""
    with pytest.raises(ScenarioError) as e:
        validate(dataclasses.replace(GOOD, **change))
    msg = str(e.value)
    assert f"{field} is " in msg and words in msg and "\n" not in msg


def test_unknown_scenario_suggests_list():
    """An unknown name says how to see the known ones."""
    with pytest.raises(ScenarioError, match="python -m lab list"):
        load("no-such-scenario")


def test_malformed_scenario_files(tmp_path):
    """A script with a syntax error, one that raises, and one without `scenario` each get one clear sentence."""
    cases = {
        "syntax.py": ("scenario = (", "syntax error"),
        "raises.py": ("raise RuntimeError('boom')", "raised RuntimeError: boom"),
        "empty.py": ("x = 1", "defines no `scenario`"),
        "wrongtype.py": ("scenario = 42", "expected a lab.Scenario"),
    }
    for name, (text, words) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ScenarioError, match=words):
            load(str(p))
    with pytest.raises(ScenarioError, match="no scenario file"):
        load(str(tmp_path / "missing.py"))


def test_scenario_script_outside_the_package(tmp_path):
    """A user's own script, anywhere on disk, loads through the public API."""
    p = tmp_path / "mine.py"
    p.write_text("from lab import Scenario, Worker, Chord\n"
                 "scenario = Scenario(name='mine', description='d', expect='completed', workers=(Worker('w'),), chords=(Chord(header=2),))\n")
    s = load(str(p))
    assert s.name == "mine" and s.source == str(p.resolve())
