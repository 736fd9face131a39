"""Scenario validation and loading: every problem is one sentence naming the field, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import re

import pytest

from lab import Chord, Fault, Scenario, Worker
from lab.scenario import ScenarioError, from_dict, load, scenario_paths, unsendable, validate

GOOD = Scenario(name="ok", description="d", expect="stuck", workers=(Worker("w1", queues=("a",)),))


def test_every_shipped_scenario_is_valid_and_round_trips():
    """Each file in scenarios/ loads, validates, and survives to_dict/from_dict (stored runs rebuild it).

    A config JSON cannot hold (a regex route, a router function, kombu Queues) reaches the workers by import;
    its record keeps each such value as its repr, and that record form round-trips."""
    names = scenario_paths()
    assert {"healthy", "split-queues", "route-glob-mismatch", "multiple-workers", "short-result-expiry", "wrong-signature",
            "regex-route", "router-object", "split-apps"} <= set(names)
    for name in names:
        s = load(name)
        assert s.name == name
        again = from_dict(s.to_dict())
        if unsendable(s.config) is None and s.canvas is None:
            assert dataclasses.replace(again, source=s.source) == s
        else:
            assert again.to_dict() == {**s.to_dict(), "canvas": None}


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
    # fields that used to be checked only once processes were up (issue 11)
    ({"faults": (Fault("kill-worker", target="w1", delay="soon"),)}, "faults[0].delay", "seconds after the trigger"),
    ({"faults": (Fault("kill-worker", target="w1", delay=float("nan")),)}, "faults[0].delay", "seconds after the trigger"),
    ({"faults": (Fault("flushdb", target="w1"),)}, "faults[0].target", "takes no target"),
    ({"faults": (Fault("flushdb", options=[1]),)}, "faults[0].options", "give a dict"),
    ({"faults": (Fault("flushdb", options={"db": "one"}),)}, "faults[0].options['db']", "0 to 15"),
    ({"faults": (Fault("pause-worker", target="w1", options={"fro": 3}),)}, "faults[0].options", "no option 'fro'; it takes: for"),
    ({"faults": (Fault("kill-worker", target="w1", options={"restart": "yes"}),)}, "faults[0].options['restart']", "True or False"),
    ({"faults": (Fault("client-pause", options={"mode": "read"}),)}, "faults[0].options['mode']", "allowed: all, write"),
    ({"config": {"task_routes": 5}}, "config['task_routes']", "a dict of task name (glob, or re.compile(...)) to a route"),
    ({"config": {"task_routes": {"lab.*": 5}}}, "config['task_routes']", "a dict of task name (glob, or re.compile(...)) to a route"),
    ({"config": {"task_acks_late": "yes"}}, "config['task_acks_late']", "takes a bool: give True or False"),
    ({"config": {"worker_prefetch_multiplier": 1.5}}, "config['worker_prefetch_multiplier']", "takes an int"),
    ({"config": {"result_expires": "soon"}}, "config['result_expires']", "takes a float"),
    ({"config": {"task_default_queue": 5}}, "config['task_default_queue']", "takes a string"),
    ({"workers": (Worker("w1", config={"task_acks_late": 1}),)}, "workers[0].config['task_acks_late']", "takes a bool"),
    ({"workers": (Worker("w1", config=[]),)}, "workers[0].config", "Celery setting names"),
    # a worker's own command line (issue 13): parsed by Celery's `celery worker`, checked against the fields
    ({"workers": (Worker("w1", argv="--bogus"),)}, "workers[0].argv", "No such option '--bogus'"),
    ({"workers": (Worker("w1", argv="-c lots"),)}, "workers[0].argv", "Invalid value for '-c'"),
    ({"workers": (Worker("w1", argv="-n other@host"),)}, "workers[0].argv", "sets --hostname; drop it"),
    ({"workers": (Worker("w1", argv="--detach"),)}, "workers[0].argv", "stays in the foreground"),
    ({"workers": (Worker("w1", queues=("a",), argv="-Q b"),)}, "workers[0].argv", "give the queues once"),
    ({"workers": (Worker("w1", concurrency=2, argv="-c 4"),)}, "workers[0].argv", "concurrency=4"),
    ({"workers": (Worker("w1", argv="-P threads"),)}, "workers[0].argv", "give the pool once"),
    ({"workers": (Worker("w1", argv="-A proj worker -Q a"),)}, "workers[0].argv", "gives the program or its app"),
    ({"workers": (Worker("w1", argv="-Q 'a"),)}, "workers[0].argv", "not a command line"),
    ({"chords": (Chord(callback_args=[1]),)}, "chords[0].callback_args", "a tuple of arguments"),
    ({"chords": (Chord(callback_options={"queue": 5}),)}, "chords[0].callback_options['queue']", "a queue name"),
    ({"chords": (Chord(part_options={"countdown": "later"}),)}, "chords[0].part_options['countdown']", "seconds"),
    ({"chords": (Chord(header=2, duration=(True, 1.0)),)}, "chords[0].duration", "one duration"),
    ({"chords": (Chord(header_task=" "),)}, "chords[0].header_task", "registered task name"),
    ({"chords": (Chord(raising_parts=(False,)),)}, "chords[0].raising_parts", "indexes of header parts"),
    ({"redis_options": {"maxmemory": True}}, "redis_options", "redis-server option names"),
    ({"redis_options": {"max memory": "2mb"}}, "redis_options", "redis-server option names"),
    ({"description": None}, "description", "one sentence"),
    ({"expect_cause": 3}, "expect_cause", "a cause name"),
    ({"fix": "Not A Name"}, "fix", "name of the scenario"),
    ({"mechanism": 1}, "mechanism", "None or a string"),
    ({"settle": True}, "settle", "0 to 300"),
])
def test_bad_field_is_one_sentence(change, field, words):
    """A bad field is named, its value shown, and the allowed values given, in one line."""
    with pytest.raises(ScenarioError) as e:
        validate(dataclasses.replace(GOOD, **change))
    msg = str(e.value)
    assert f"{field} is " in msg and words in msg and "\n" not in msg


@pytest.mark.parametrize("value, holds", [
    ({re.compile(r"lab\..*"): {"queue": "q"}}, "re.Pattern"),  # Celery takes a regex key; JSON does not
    ([re.compile(r"lab\..*")], "re.Pattern"),
    ({"lab.part": {"queue": {"a", "b"}}}, "set"),
    (lambda name, *a, **kw: {"queue": "q"}, "function"),  # a router function
    ({1: {"queue": "q"}}, "int"),  # json.dumps would turn the key into '1' without a word
    (float("nan"), "float"),
])
def test_a_config_value_the_workers_cannot_receive_names_the_key(value, holds):
    """A scenario built in code has no file for the workers to import: its config travels as JSON, and a value
    JSON cannot carry is named, with its key, at validation."""
    for change, field in (({"config": {"task_routes": value}}, "config['task_routes']"),
                          ({"workers": (Worker("w1", config={"task_routes": value}),)}, "workers[0].config['task_routes']")):
        with pytest.raises(ScenarioError) as e:
            validate(dataclasses.replace(GOOD, **change))
        msg = str(e.value)
        assert f"{field} is " in msg and f"{holds}" in msg and "cannot be sent to the workers" in msg and "\n" not in msg


@pytest.mark.parametrize("value", [{re.compile(r"lab\..*"): {"queue": "q"}}, [{re.compile(r"lab\..*"): "q"}],
                                   (lambda name, *a, **kw: {"queue": "q"},), "lab.routers.by_name"])
def test_a_scenario_file_may_give_any_route_celery_takes(value):
    """From a scenario file the workers import the config, so regex keys and router objects are accepted."""
    validate(dataclasses.replace(GOOD, config={"task_routes": value}), from_file=True)


def test_task_queues_of_kombu_objects_are_accepted_from_a_file():
    from kombu import Exchange, Queue

    validate(dataclasses.replace(GOOD, config={"task_queues": (Queue("a", Exchange("a"), routing_key="a"),)}), from_file=True)
    with pytest.raises(ScenarioError):
        validate(dataclasses.replace(GOOD, config={"task_queues": (Queue("a"),)}))


def test_unsendable_is_the_one_place_that_says_what_travels():
    """JSON's own types pass, tuples included (they travel as lists); anything else is the piece that would not."""
    assert unsendable({"a": [1, 2.5, None, True, ("x", {"b": "c"})]}) is None
    pattern = re.compile("x")
    assert unsendable({"a": [1, {"b": pattern}]}) is pattern
    assert unsendable({("k",): 1}) == ("k",)


WRONG = object()  # no field takes an arbitrary object: it is no str, number, tuple, dict, or JSON value


@pytest.mark.parametrize("cls, field", [(cls, f.name) for cls in (Scenario, Worker, Chord, Fault)
                                        for f in dataclasses.fields(cls)])
def test_every_field_of_every_dataclass_is_checked_at_load(cls, field):
    """Systematic: each field of Scenario, Worker, Chord and Fault, given a wrong value, is named in one sentence."""
    base_fault = Fault("kill-worker", target="w1")
    if cls is Scenario:
        s, named = dataclasses.replace(GOOD, **{"faults": (base_fault,), field: WRONG}), field
    elif cls is Worker:
        s = dataclasses.replace(GOOD, workers=(dataclasses.replace(GOOD.workers[0], **{field: WRONG}),))
        named = f"workers[0].{field}"
    elif cls is Chord:
        s, named = dataclasses.replace(GOOD, chords=(dataclasses.replace(Chord(), **{field: WRONG}),)), f"chords[0].{field}"
    else:
        s, named = dataclasses.replace(GOOD, faults=(dataclasses.replace(base_fault, **{field: WRONG}),)), f"faults[0].{field}"
    with pytest.raises(ScenarioError) as e:
        validate(s)
    msg = str(e.value)
    assert f"{named} is <object object" in msg and "\n" not in msg, msg


def test_a_value_whose_repr_raises_or_is_huge_still_gives_one_short_sentence():
    """The error shows a value short and on one line, even when its repr raises or spans lines."""
    class Odd:
        def __repr__(self):
            raise RuntimeError("no repr")

    with pytest.raises(ScenarioError, match="config\\['x'\\] is <a Odd>"):
        validate(dataclasses.replace(GOOD, config={"x": Odd()}))
    with pytest.raises(ScenarioError) as e:
        validate(dataclasses.replace(GOOD, config={"task_routes": ["line\n" * 500, 5]}))
    assert len(str(e.value)) < 500 and "\n" not in str(e.value)


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


def test_a_worker_command_line_passes_through_as_typed():
    """Any `celery worker` option the lab does not own passes; -X is read back as the queues it takes away."""
    w = Worker("w1", queues=None, argv="-Q execution,celery -X celery --prefetch-multiplier 1 -O fair -E --max-tasks-per-child 10")
    validate(dataclasses.replace(GOOD, workers=(w,)))
    assert w.excluded_queues() == ["celery"]
    assert Worker("w1", argv="--exclude-queues=a,b -Xc").excluded_queues() == ["a", "b", "c"]
    from lab.runtime.process.topology import _worker_argv

    argv = _worker_argv(w, "w1@host")
    assert argv[argv.index("-X"):argv.index("-X") + 2] == ["-X", "celery"] and "--max-tasks-per-child" in argv
