"""The pytest plugin: a user's tests assert on proven chord verdicts, on their own app and worker lines.

    pytest ini (lab_app, lab_workers) or the ``lab_deployment`` fixture → ``ChordLab`` (up once) → **a verdict per test**

Registered through the ``pytest11`` entry point, so installing the lab is enough;
it does nothing until a test asks for one of its fixtures.  Two lines of
configuration::

    [pytest]
    lab_app = shop.worker:app
    lab_workers = celery -A shop.worker:app worker -Q celery

Then ``def test_nightly(assert_chord_completes): assert_chord_completes(nightly())``.
A failing assertion says what ``lab run`` says: the verdict, the cause, the proof
lines and the fix.  ``@pytest.mark.lab_workers("celery -A shop.worker:app worker
-Q celery,billing")`` runs a test on other worker lines (one topology per distinct
set, each brought up once).  The topologies live for the session, or per module
with ``lab_scope = module``; state is reset between tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported when a test first asks for the lab: a suite that never does pays nothing at start-up
    from lab.testing.chords import ChordLab, Deployment

_LABS = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("lab_app", "the Celery app the chord lab runs your chords with, as celery -A takes it (pkg.module:app)")
    parser.addini("lab_workers", "the worker command lines of the chord lab's topology, one per line "
                                 "(celery -A pkg.module:app worker -Q ...)", type="linelist", default=[])
    parser.addini("lab_stand_ins", "replace every task body with a stand-in of the same signature (tasks that need "
                                   "your database or an API)", type="bool", default=False)
    parser.addini("lab_scope", "how long a chord lab topology lives: session (default) or module", default="session")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab_workers(*lines, app=None, stand_ins=None): run this test's chords on a "
                                       "topology of these worker command lines (the chord lab)")
    config.stash[_LABS] = {}


def pytest_unconfigure(config: pytest.Config) -> None:
    _close_all(config)


def _close_all(config: pytest.Config) -> None:
    labs = config.stash.get(_LABS, {})
    while labs:
        _, lab = labs.popitem()
        lab.close()


@pytest.fixture(scope="session")
def lab_deployment(pytestconfig: pytest.Config) -> "Deployment":
    """The app and worker lines of the suite (from the ini options); override this fixture to set them in code."""
    from lab.testing.chords import Deployment

    app = pytestconfig.getini("lab_app")
    if not app:
        raise pytest.UsageError("the chord lab needs your app: set lab_app = pkg.module:app in pytest.ini (or "
                                "[tool.pytest.ini_options] in pyproject.toml), or override the lab_deployment fixture.")
    return Deployment(app, tuple(pytestconfig.getini("lab_workers")), bool(pytestconfig.getini("lab_stand_ins")))


@pytest.fixture(scope="module", autouse=True)
def _lab_module_scope(pytestconfig: pytest.Config):
    yield
    if pytestconfig.getini("lab_scope") == "module":
        _close_all(pytestconfig)


@pytest.fixture
def chord_lab(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> "ChordLab":
    """The topology this test's chords run on: the suite's, or the one its ``lab_workers`` marker names; up once."""
    from lab.errors import LabError
    from lab.testing.chords import ChordLab, Deployment

    marker = request.node.get_closest_marker("lab_workers")
    if marker is not None:
        base = None
        app = marker.kwargs.get("app")
        stand_ins = marker.kwargs.get("stand_ins")
        if app is None or stand_ins is None:
            base = request.getfixturevalue("lab_deployment")
        deployment = Deployment(app or base.app, tuple(marker.args),
                                bool(base.stand_ins if stand_ins is None else stand_ins))
    else:
        deployment = request.getfixturevalue("lab_deployment")
    labs = pytestconfig.stash[_LABS]
    lab = labs.get(deployment)
    if lab is None:
        try:
            lab = ChordLab(deployment)
        except LabError as e:
            raise pytest.UsageError(f"the chord lab cannot run {deployment.describe()}: {e}") from None
        labs[deployment] = lab
    try:
        lab.start()
    except LabError as e:
        pytest.fail(f"the chord lab's topology did not come up ({deployment.describe()}): {e}", pytrace=False)
    return lab


@pytest.fixture
def lab_verdict(chord_lab: "ChordLab"):
    """``lab_verdict(chord)``: send the chord, wait on evidence, return its ``ChordVerdict`` (verdict, cause,
    evidence, meaning, fix)."""
    return chord_lab.verdict


@pytest.fixture
def assert_chord_completes(chord_lab: "ChordLab"):
    """``assert_chord_completes(chord, ...)``: fail the test with the lab's verdict, proof and fix unless every
    chord given completes."""
    from lab.testing.chords import ChordNotCompleted

    def check(*signatures):
        __tracebackhide__ = True
        verdicts = chord_lab.verdicts(*signatures)
        if not all(v.completed for v in verdicts):
            raise ChordNotCompleted(verdicts)
        return verdicts[0] if len(verdicts) == 1 else verdicts

    return check
