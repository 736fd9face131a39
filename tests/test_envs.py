"""Environments per Celery version: version parsing, the cache, its lock, and install failures.

No network and no real install: a fake installer makes an "environment" whose
``bin/python`` is a shell script reporting the versions installed, which is
all ``lab.experiments.envs`` reads from an environment.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from lab.experiments import envs
from lab.experiments.envs import InstallFailed, VersionSpec, VersionSpecError, parse_versions


# -- version parsing ---------------------------------------------------------------------


def test_a_series_means_its_latest_release_and_a_full_version_means_exactly_it():
    """'5.4' asks the index for the newest 5.4.x; '5.3.6' is that release and nothing else."""
    series, exact = parse_versions("5.4, 5.3.6")
    assert (series.text, series.exact, series.requirement()) == ("5.4", False, "celery==5.4.*")
    assert (exact.text, exact.exact, exact.requirement()) == ("5.3.6", True, "celery==5.3.6")
    assert series.matches("5.4.0") and series.matches("5.4.2")
    assert not series.matches("5.5.0") and not series.matches("5.40.1") and not series.matches("5.4.0rc1")
    assert exact.matches("5.3.6") and not exact.matches("5.3.7")


def test_versions_keep_their_order_and_lose_repeats():
    """A list is run in the order given; a version given twice runs once."""
    assert [s.text for s in parse_versions("5.7,5.3.6 ,5.7, 5.05")] == ["5.7", "5.3.6", "5.5"]


@pytest.mark.parametrize("text, needle", [
    ("", "empty"),
    (" , ", "empty"),
    ("5", "'5' is not a Celery version"),
    ("5.x", "'5.x' is not a Celery version"),
    ("latest", "'latest' is not a Celery version"),
    ("5.6.0rc1", "'5.6.0rc1' is not a Celery version"),
    ("5.4,5..1", "'5..1' is not a Celery version"),
    ("4.4", "older than the lab supports"),
    ("5.2.7", "older than the lab supports"),
])
def test_bad_versions_get_one_sentence_naming_the_item(text, needle):
    """Bad input is one sentence (a LabError, exit 254) that names the bad item and says what is allowed."""
    with pytest.raises(VersionSpecError) as e:
        parse_versions(text)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg
    assert e.value.exit_code == 254


def test_an_environment_pins_kombu_to_celerys_minor_series_and_billiard_to_its_era():
    """Celery and kombu are released in step: celery 5.3.6 gets kombu 5.3.x (whose redis extra bounds redis-py),
    and the billiard 4.2.x that Celery before 5.7 shipped with."""
    reqs = envs.requirements("5.3.6")
    assert reqs[:3] == ["celery[redis]==5.3.6", "kombu[redis]~=5.3.0", "billiard<4.3"]
    assert "billiard<4.3" not in envs.requirements("5.7.0")  # billiard 4.3 came with Celery 5.7
    assert any(r.startswith("click") for r in reqs) and any(r.startswith("psutil") for r in reqs)
    with pytest.raises(VersionSpecError):
        envs.requirements("5.3")


def test_environment_names_follow_the_version_python_and_requirements():
    """Another Celery version, Python or requirement set is another folder; the same ones are the same folder."""
    a = envs.env_name("5.3.6", envs.requirements("5.3.6"), "3.11")
    assert a == envs.env_name("5.3.6", envs.requirements("5.3.6"), "3.11")
    assert a.startswith("celery-5.3.6-py3.11-")
    assert a != envs.env_name("5.3.6", envs.requirements("5.3.6"), "3.12")
    assert a != envs.env_name("5.3.6", envs.requirements("5.3.6") + ["extra"], "3.11")


def test_the_cache_lives_under_LAB_ENVS_or_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_ENVS", str(tmp_path / "e"))
    assert envs.envs_dir() == tmp_path / "e"
    monkeypatch.delenv("LAB_ENVS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert envs.envs_dir() == tmp_path / "c" / "chord-lab" / "envs"


def test_tool_errors_become_one_line():
    """uv's boxed error output is folded into one readable line."""
    text = ("  × No solution found when resolving dependencies:\n"
            "  ╰─▶ Because there is no version of celery==5.9.1 and you require celery==5.9.1, we can conclude\n"
            "      that your requirements are unsatisfiable.\n")
    line = envs._one_line(text)
    assert "\n" not in line and line.startswith("No solution found") and "celery==5.9.1" in line
    assert envs._one_line("error: boom\n  cause: it broke") == "boom it broke"


# -- the cache, with a fake installer ---------------------------------------------------------


class FakeInstaller:
    """Makes an 'environment' whose bin/python reports ``reports`` as its installed versions."""

    name = "fake"

    def __init__(self, *, fail: str | None = None, reports: str | None = None, hold: threading.Event | None = None,
                 entered: threading.Event | None = None, offers: str | None = None):
        self.fail, self.reports, self.hold, self.entered, self.offers = fail, reports, hold, entered, offers
        self.created: list[Path] = []
        self.resolved: list[str] = []

    def resolve(self, requirement: str) -> str:
        self.resolved.append(requirement)
        if self.offers is None:
            raise InstallFailed("the index did not answer")
        return self.offers

    def create(self, path: Path, reqs: list[str]) -> None:
        self.created.append(path)
        if self.entered:
            self.entered.set()
        if self.hold:
            assert self.hold.wait(10), "the test never released the build"
        (path / "bin").mkdir(parents=True)
        if self.fail:
            raise InstallFailed(self.fail)
        celery = self.reports or reqs[0].split("==")[1]
        versions = {"celery": celery, "kombu": "5.3.7", "redis-py": "5.3.1", "billiard": "4.3.2"}
        script = path / "bin" / "python"
        script.write_text(f"#!/bin/sh\necho '{json.dumps(versions)}'\n")
        script.chmod(0o755)


def test_an_environment_is_made_once_then_served_from_the_cache(tmp_path):
    """The first request builds (and says how long it took); the next one reuses it without building."""
    fake = FakeInstaller()
    first = envs.ensure_env("5.3.6", root=tmp_path, installer=fake, use_own=False)
    assert not first.cached and first.build_s is not None and first.installer == "fake"
    assert first.versions["kombu"] == "5.3.7" and first.python == str(first.path / "bin" / "python")
    marker = json.loads((first.path / envs.MARKER).read_text())
    assert marker["celery"] == "5.3.6" and marker["requirements"] == envs.requirements("5.3.6")
    again = envs.ensure_env("5.3.6", root=tmp_path, installer=fake, use_own=False)
    assert again.cached and again.path == first.path and again.versions == first.versions
    assert len(fake.created) == 1
    assert envs.cached_versions(tmp_path) == ["5.3.6"]


def test_a_half_made_environment_is_rebuilt(tmp_path):
    """A folder without its marker (a build cut short) is not used: it is wiped and made again."""
    path = tmp_path / envs.env_name("5.4.0", envs.requirements("5.4.0"))
    (path / "bin").mkdir(parents=True)
    (path / "leftover").write_text("from an interrupted build")
    fake = FakeInstaller()
    env = envs.ensure_env("5.4.0", root=tmp_path, installer=fake, use_own=False)
    assert not env.cached and fake.created == [path]
    assert not (path / "leftover").exists()


def test_a_failed_install_leaves_nothing_behind_and_is_tried_again_next_time(tmp_path):
    """An install failure raises one line and removes the folder, so the cache never serves a broken env."""
    with pytest.raises(InstallFailed, match="no matching distribution"):
        envs.ensure_env("5.5.3", root=tmp_path, installer=FakeInstaller(fail="no matching distribution"), use_own=False)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    assert envs.cached_versions(tmp_path) == []
    env = envs.ensure_env("5.5.3", root=tmp_path, installer=FakeInstaller(), use_own=False)
    assert not env.cached


def test_an_environment_that_holds_another_celery_is_refused(tmp_path):
    """The environment is checked after the install: it must hold exactly the version asked for."""
    with pytest.raises(InstallFailed, match="holds celery 5.3.5, not 5.3.6"):
        envs.ensure_env("5.3.6", root=tmp_path, installer=FakeInstaller(reports="5.3.5"), use_own=False)
    assert envs.cached_versions(tmp_path) == []


def test_the_labs_own_celery_needs_no_environment(tmp_path):
    """Runs on the Celery the lab itself runs on use the lab's own interpreter: nothing is built."""
    fake = FakeInstaller()
    own = envs.ensure_env(envs.installed_celery(), root=tmp_path, installer=fake)
    assert own.own and own.path is None and fake.created == []
    assert own.versions["celery"] == envs.installed_celery()


def _lock_waiters(lock_path: Path) -> int:
    """How many lock requests on ``lock_path`` are blocked, per /proc/locks ("->" lines)."""
    inode = os.stat(lock_path).st_ino
    return sum(1 for line in Path("/proc/locks").read_text().splitlines()
               if "->" in line and line.split()[-3].endswith(f":{inode}"))


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads blocked locks from /proc/locks (Linux)")
def test_two_requests_for_the_same_environment_build_it_once(tmp_path):
    """While one request builds an environment, a second waits on the lock, then uses what the first made."""
    hold, entered = threading.Event(), threading.Event()
    first_installer, second_installer = FakeInstaller(hold=hold, entered=entered), FakeInstaller()
    got: dict[str, envs.Env] = {}
    a = threading.Thread(target=lambda: got.setdefault("a", envs.ensure_env(
        "5.6.3", root=tmp_path, installer=first_installer, use_own=False)))
    b = threading.Thread(target=lambda: got.setdefault("b", envs.ensure_env(
        "5.6.3", root=tmp_path, installer=second_installer, use_own=False)))
    a.start()
    assert entered.wait(10), "the first build never started"
    b.start()
    lock = tmp_path / (envs.env_name("5.6.3", envs.requirements("5.6.3")) + ".lock")
    deadline = time.monotonic() + 10
    while _lock_waiters(lock) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    waiting = _lock_waiters(lock)
    hold.set()
    a.join(10), b.join(10)
    assert waiting == 1, "the second request did not wait on the environment's lock"
    assert len(first_installer.created) == 1 and second_installer.created == []
    assert not got["a"].cached and got["b"].cached and got["a"].path == got["b"].path


# -- resolving a series -----------------------------------------------------------------------


def test_an_exact_version_is_not_asked_of_the_index(tmp_path):
    fake = FakeInstaller()
    assert envs.resolve(VersionSpec("5.3.6", (5, 3, 6)), installer=fake, root=tmp_path) == ("5.3.6", None)
    assert fake.resolved == []


def test_a_series_is_resolved_by_the_index(tmp_path):
    fake = FakeInstaller(offers="5.4.2")
    assert envs.resolve(VersionSpec("5.4", (5, 4)), installer=fake, root=tmp_path) == ("5.4.2", None)
    assert fake.resolved == ["celery==5.4.*"]


def test_offline_a_series_falls_back_to_the_newest_cached_release(tmp_path):
    """Without the index, '5.4' runs on the newest 5.4.x already at hand, and says so."""
    for v in ("5.4.0", "5.4.1", "5.5.0"):
        envs.ensure_env(v, root=tmp_path, installer=FakeInstaller(), use_own=False)
    version, note = envs.resolve(VersionSpec("5.4", (5, 4)), installer=FakeInstaller(), root=tmp_path)
    assert version == "5.4.1" and "5.4.1" in note and "did not answer" in note


def test_offline_a_series_with_nothing_at_hand_fails_in_one_line(tmp_path):
    with pytest.raises(InstallFailed, match=r"no Celery 5\.4\.x found"):
        envs.resolve(VersionSpec("5.4", (5, 4)), installer=FakeInstaller(), root=tmp_path)


def test_the_installer_is_uv_when_present_unless_pip_is_asked_for(monkeypatch):
    monkeypatch.setenv("LAB_INSTALLER", "pip")
    assert isinstance(envs.default_installer(), envs.PipInstaller)
    monkeypatch.delenv("LAB_INSTALLER")
    expected = envs.UvInstaller if envs.find_uv() else envs.PipInstaller
    assert isinstance(envs.default_installer(), expected)
