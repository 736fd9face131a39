"""Bad input never gives a traceback: the scenario loader and the CLI, fuzzed with hypothesis.

Random text, Python that defines no scenario or the wrong thing, and
``lab.Scenario(...)`` calls with random field values go through
``lab.scenario.load``: each either loads (a valid scenario) or raises
``ScenarioError`` with one sentence, never another exception.  Random command
lines go through the CLI's own entry (``lab.cli.entry``) in-process: each
ends with exit code 254 and one ``lab: ...`` sentence on stderr, never a
traceback.  A few of them run as a real ``python -m lab`` subprocess too.
No command generated here can start a topology (scenario names are never
real ones, and scenario files never valid ones when given to ``run``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from lab.scenario import ScenarioError, load, scenario_paths

from conftest import lab_env, has_traceback

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
KNOWN = set(scenario_paths())

# -- values a user might put in a scenario, right or wrong -----------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["redis", "rabbitmq", "database", "rpc", "stuck", "completed",
                                                           "prefork", "solo", "kill-worker", "after-sent", "w1",
                                                           "lab.part", "lab.apps.basic", "execution", "a-b"]))


class _Src(str):
    """Source text that stands as itself in a generated script (its repr is the text)."""

    def __repr__(self) -> str:
        return str(self)


# Values Python takes but the workers cannot receive (their config travels as JSON), written as the
# script would write them: a set, a compiled regex (the script imports re), a dict with a non-str key.
unsendables = st.one_of(st.sets(st.integers(0, 3), min_size=1, max_size=2),
                        st.sampled_from(["a.*", r"lab\..*", "x"]).map(lambda p: _Src(f"re.compile({p!r})")),
                        st.integers(0, 3).map(lambda k: {k: "q"}))
values = st.recursive(st.one_of(scalars, unsendables),
                      lambda inner: st.one_of(st.lists(inner, max_size=3).map(tuple), st.lists(inner, max_size=3),
                                              st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=8)
# Celery settings (and a typo), so a config reaches the type checks and not only the name check.
configs = st.dictionaries(st.sampled_from(["task_routes", "task_acks_late", "result_expires", "worker_prefetch_multiplier",
                                           "task_default_queue", "broker_transport_options", "accept_content",
                                           "task_ignore_result", "not_a_setting"]), values, max_size=3)


@st.composite
def workers(draw) -> str:
    kwargs = draw(st.dictionaries(st.sampled_from(["queues", "concurrency", "pool", "tasks", "config", "bogus"]), values,
                                  max_size=3))
    if draw(st.booleans()):
        kwargs["config"] = draw(configs)
    name = draw(st.one_of(st.just("w1"), values))
    return f"Worker({name!r}" + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"


@st.composite
def chords(draw) -> str:
    keys = ["header", "duration", "count", "header_task", "callback", "callback_args", "callback_options",
            "part_options", "raising_parts", "chained_group"]
    kwargs = draw(st.dictionaries(st.sampled_from(keys), values, max_size=4))
    return "Chord(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"


@st.composite
def faults(draw) -> str:
    kind = draw(st.one_of(st.sampled_from(["kill-worker", "pause-worker", "partition-worker", "flushdb", "fill-redis",
                                           "kill-container"]), values))
    kwargs = draw(st.dictionaries(st.sampled_from(["trigger", "delay", "target", "options"]), values, max_size=3))
    if draw(st.booleans()):  # the options the nemesis reads, with right and wrong values
        kwargs["options"] = draw(st.dictionaries(st.sampled_from(["for", "restart", "restart_after", "db", "from", "mode",
                                                                  "ttl", "prefix", "persist", "bogus"]), values, max_size=2))
    return f"Fault({kind!r}" + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"


@st.composite
def scenario_scripts(draw) -> str:
    """A scenario script with a plausible shape and random values in it."""
    fields = {"name": draw(st.one_of(st.just("fuzzed"), values)),
              "description": draw(st.one_of(st.just("d"), values)),
              "expect": draw(st.one_of(st.just("stuck"), values)),
              "workers": "(" + ", ".join(draw(st.lists(workers(), max_size=3))) + ",)"}
    if draw(st.booleans()):
        fields["chords"] = "(" + ", ".join(draw(st.lists(chords(), max_size=2))) + ",)"
    if draw(st.booleans()):
        fields["faults"] = "(" + ", ".join(draw(st.lists(faults(), max_size=2))) + ",)"
    for extra in draw(st.lists(st.sampled_from(["broker", "backend", "redis_options", "config", "tasks", "settle",
                                                "quiet", "expect_cause", "fix", "mechanism", "bogus_field"]),
                               max_size=3, unique=True)):
        fields[extra] = draw(configs if extra == "config" and draw(st.booleans()) else values)
    args = ", ".join(f"{k}={v}" if k in ("workers", "chords", "faults") else f"{k}={v!r}" for k, v in fields.items())
    return f"import re\nfrom lab import Chord, Fault, Scenario, Worker\n\nscenario = Scenario({args})\n"


scripts = st.one_of(
    scenario_scripts(),
    st.text(max_size=200),  # anything at all
    values.map(lambda v: f"scenario = {v!r}\n"),  # the wrong type
    st.sampled_from(["", "import lab\n", "raise SystemExit(3)\n", "1/0\n",
                     "import nonexistent_module_xyz\n", "scenario = None\n", "def f(:\n", "\x00\x01",
                     "from lab import Scenario\nscenario = Scenario()\n"]),
)


def assert_one_sentence(message: str) -> None:
    assert message.strip(), "an empty error message"
    assert not has_traceback(message)
    assert "\n" not in message.strip(), f"more than one line: {message!r}"
    assert len(message) < 1000, f"not one sentence: {message[:200]!r}..."


@FUZZ
@given(text=scripts)
@example(text="from lab import Fault, Scenario, Worker\nscenario = Scenario(name='x', description='d', expect='stuck', "
              "workers=(Worker('w1'),), faults=(Fault('partition-worker', target='w1', options=[1]),))\n")
@example(text="from lab import Chord, Scenario, Worker\nscenario = Scenario(name='x', description='d', expect='stuck', "
              "workers=(Worker('w1'),), chords=(Chord(raising_parts=5),))\n")
@example(text="import re\nfrom lab import Scenario, Worker\nscenario = Scenario(name='x', description='d', expect='stuck', "
              "workers=(Worker('w1'),), config={'task_routes': {re.compile('a.*'): {'queue': 'q'}}})\n")
@example(text="from lab import Fault, Scenario, Worker\nscenario = Scenario(name='x', description='d', expect='stuck', "
              "workers=(Worker('w1'),), faults=(Fault('kill-worker', target='w1', delay='soon'),))\n")
def test_a_scenario_file_loads_or_says_why_in_one_sentence(tmp_path_factory, text):
    """Any scenario file either loads into a valid Scenario or raises ScenarioError with one sentence."""
    path = tmp_path_factory.mktemp("scn") / "fuzzed.py"
    path.write_text(text, errors="surrogatepass") if "\ud800" not in text else path.write_bytes(text.encode("utf-8", "replace"))
    try:
        load(str(path))
    except ScenarioError as e:
        assert_one_sentence(str(e))
    except (Exception, SystemExit) as e:  # a script must not take the lab down (a real Ctrl-C still may)
        pytest.fail(f"{type(e).__name__} escaped the loader for {text!r}: {e}")


# -- the command line --------------------------------------------------------------------------------

unknown_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)
run_options = st.lists(st.one_of(
    st.tuples(st.just("--seed"), st.one_of(st.text(max_size=6), st.integers().map(str))).map(list),
    st.tuples(st.just("--runs"), st.one_of(st.sampled_from(["0", "1001", "-1", "x", "1.5", ""]), st.text(max_size=4))).map(list),
    st.tuples(st.just("--runtime"), st.text(max_size=8)).map(list),
    st.sampled_from([["--json"], ["--bogus"], ["-x"], ["--seed"], ["--runs"]]),
), max_size=3).map(lambda groups: [a for g in groups for a in g])


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    from lab.cli.main import entry

    old = sys.argv
    sys.argv = ["python -m lab", *argv]
    try:
        entry()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = old
    return code, capsys.readouterr().err


@FUZZ
@given(name=unknown_names, options=run_options)
@example(name="split_queues", options=[])
@example(name="nope.py", options=["--json"])
@example(name="lab", options=[])
def test_run_with_a_bad_scenario_or_option_exits_254_with_one_sentence(capsys, name, options):
    """`lab run NAME [options]` with an unknown scenario or a bad option: exit 254, one `lab:` sentence."""
    assume(name not in KNOWN and not name.startswith("-") and not (Path(name).is_file() and name.endswith(".py")))
    code, err = run_cli(["run", name, *options], capsys)
    assert code == 254, (name, options, err)
    assert err.startswith("lab: ")
    assert_one_sentence(" ".join(err.split()))


@FUZZ
@given(text=scripts, options=run_options)
def test_run_with_a_bad_scenario_file_exits_254_with_one_sentence(tmp_path_factory, capsys, text, options):
    """`lab run path/to/bad.py`: a file that is no valid scenario gives exit 254 and one sentence."""
    path = tmp_path_factory.mktemp("cli") / "bad.py"
    path.write_bytes(text.encode("utf-8", "replace"))
    try:
        load(str(path))
        assume(False)  # a valid scenario would really run: not this test's business
    except ScenarioError:
        pass
    code, err = run_cli(["run", str(path), *options], capsys)
    assert code == 254, (text, options, err)
    assert_one_sentence(" ".join(err.split()))


@FUZZ
@given(argv=st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
                     min_size=1, max_size=4))
@example(argv=["Traceback"])  # found by hypothesis 6.170: the word itself, echoed in "No such command", is no traceback
def test_any_command_line_gives_an_exit_code_never_a_traceback(capsys, argv):
    """Random words as a command line: a known exit code, and on error one sentence, never a traceback."""
    # commands that start processes, or write RESULTS.md (`report`), are not for random words
    assume(argv[0] not in ("run", "report", "fuzz", "replay", "doctor", "audit", "matrix", "attach", "compose", "clean"))
    code, err = run_cli(argv, capsys)
    assert code in (0, 254), (argv, code, err)  # `list`, `--help` succeed; the rest are bad input
    assert not has_traceback(err)
    if code == 254:
        assert err.startswith("lab: ")
        assert_one_sentence(" ".join(err.split()))


@pytest.mark.parametrize("argv", [
    ["run", "no-such-scenario"],
    ["run", "split-queues", "--runs", "0"],
    ["run", "split-queues", "--seed", "abc"],
    ["show", "no-such-run"],
    ["frobnicate"],
])
def test_the_real_entry_point_exits_254_with_one_line(argv, lab_results):
    """The same through a real `python -m lab` process: exit 254, one line on stderr, nothing on stdout."""
    done = subprocess.run([sys.executable, "-m", "lab", *argv], capture_output=True, text=True, timeout=60,
                          env={**lab_env(lab_results), "COLUMNS": "400"}, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 254, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("lab: ")
    assert not has_traceback(done.stderr + done.stdout)
