"""Environments per Celery version: made once on demand, cached, and locked.

    scenario × **celery version → its environment** → `python -m lab run` inside it → record → matrix

The version matrix (``lab.experiments.matrix``) runs the lab itself, producer and workers,
inside an isolated environment per Celery version, so both sides of a run use
that version.  An environment holds ``celery[redis]==V`` with the kombu of the
same minor series (Celery and kombu are released in step; kombu's ``redis``
extra then bounds redis-py to what that series supports), billiard 4.2.x for
Celery before 5.7 (the series those releases shipped with; 4.3 arrived with
5.7), and the lab's runtime dependencies.

Environments live under ``$LAB_ENVS`` (default ``~/.cache/chord-lab/envs``),
one folder per Celery version, Python version and requirement set.  An
environment is usable once its ``lab-env.json`` marker exists; the marker is
written last, so a half-made environment (a crash, Ctrl-C) is rebuilt on the
next request.  A file lock per environment makes a second process wait for
the first to finish building instead of building the same one twice.

``uv`` builds an environment in about a second where ``venv`` + ``pip`` takes
ten or more, so ``uv`` is used when it is installed, and ``venv`` + ``pip``
otherwise.  The Celery version the lab itself runs on needs no environment:
its runs use the lab's own interpreter.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterator, Protocol

from lab.errors import LabError

# The lab's code imports these (besides Celery) when it runs a scenario, psycopg2 for
# the PostgreSQL backend scenarios; the report's extras (matplotlib, hypothesis) are
# not needed inside an environment.
LAB_RUNTIME = ("click>=8.1", "rich>=13", "psutil>=5.9", "sqlalchemy>=2.0", "psycopg2-binary>=2.9")
# billiard 4.3 (Sept. 2026) reports a pool child's exit before the child is gone, and
# Celery 5.7 changed its worker to match (celery/worker/request.py); Celery 5.3-5.6
# were released and tested with billiard 4.2.x, which their own bounds (<5.0) would
# otherwise let the resolver replace.
BILLIARD_4_3_SINCE = (5, 7)
SUPPORTED_MIN = (5, 3)  # the oldest series the lab's worker code is known to run on
SUPPORTED_BELOW = (6, 0)  # a new major release may change the APIs the lab's worker code uses
TESTED_RANGE = "5.3 to 5.7"
MARKER = "lab-env.json"
INSTALL_TIMEOUT_S = 900.0  # a cold install on a slow index, with room to spare
RESOLVE_TIMEOUT_S = 120.0

_SPEC = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


class VersionSpecError(LabError):
    """A --celery value that is not a list of versions."""


class InstallFailed(LabError):
    """A Celery version whose environment could not be made; the message is one line."""


# -- version specs ------------------------------------------------------------


@dataclass(frozen=True)
class VersionSpec:
    """A Celery version as the user asked for it: ``5.4`` (latest 5.4.x) or ``5.3.6`` (exactly)."""

    text: str
    release: tuple[int, ...]

    @property
    def exact(self) -> bool:
        return len(self.release) == 3

    @property
    def series(self) -> tuple[int, int]:
        return self.release[0], self.release[1]

    def requirement(self) -> str:
        """The pip requirement that picks this version: ``celery==5.3.6`` or ``celery==5.4.*``."""
        return f"celery=={self.text}" if self.exact else f"celery=={self.text}.*"

    def matches(self, version: str) -> bool:
        """Whether an exact release such as ``5.4.1`` satisfies this spec."""
        parts = release_of(version)
        return parts is not None and parts[: len(self.release)] == self.release

    def __str__(self) -> str:
        return self.text


def release_of(version: str) -> tuple[int, int, int] | None:
    """``'5.4.1'`` → ``(5, 4, 1)``; a pre-release or anything else → None."""
    m = _SPEC.match(version.strip())
    if not m or m.group(3) is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def parse_versions(text: str) -> list[VersionSpec]:
    """``"5.4, 5.5.3"`` → specs, in the order given, without repeats.

    Raises ``VersionSpecError`` with one sentence naming the bad item.
    """
    items = [t.strip() for t in (text or "").split(",")]
    if not any(items):
        raise VersionSpecError("--celery is empty: give Celery versions separated by commas, e.g. --celery 5.3.6,5.7.")
    specs: list[VersionSpec] = []
    for item in items:
        if not item:
            continue
        m = _SPEC.match(item)
        if not m:
            raise VersionSpecError(f"--celery: {item!r} is not a Celery version; give MAJOR.MINOR (the latest of "
                                   f"that series, e.g. 5.4) or MAJOR.MINOR.PATCH (exactly, e.g. 5.3.6).")
        release = tuple(int(g) for g in m.groups() if g is not None)
        if release[:2] < SUPPORTED_MIN:
            raise VersionSpecError(f"--celery: {item} is older than the lab supports; the lab's worker code runs on "
                                   f"Celery {SUPPORTED_MIN[0]}.{SUPPORTED_MIN[1]} and later (tested: {TESTED_RANGE}).")
        if release[:2] >= SUPPORTED_BELOW:
            raise VersionSpecError(f"--celery: {item} is newer than the lab supports; the lab's worker code runs on "
                                   f"Celery {SUPPORTED_MIN[0]}.{SUPPORTED_MIN[1]} up to, not including, "
                                   f"{SUPPORTED_BELOW[0]}.{SUPPORTED_BELOW[1]} (tested: {TESTED_RANGE}).")
        spec = VersionSpec(".".join(str(p) for p in release), release)
        if spec not in specs:
            specs.append(spec)
    return specs


def requirements(celery_version: str, extras: tuple[str, ...] = ()) -> list[str]:
    """What an environment for an exact Celery version installs (``extras``: more, e.g. a finding's hypothesis)."""
    release = release_of(celery_version)
    if release is None:
        raise VersionSpecError(f"{celery_version!r} is not an exact Celery release such as 5.3.6.")
    major, minor, _ = release
    reqs = [f"celery[redis]=={celery_version}", f"kombu[redis]~={major}.{minor}.0"]
    if (major, minor) < BILLIARD_4_3_SINCE:
        reqs.append("billiard<4.3")
    return [*reqs, *LAB_RUNTIME, *extras]


def installed_celery() -> str | None:
    """The Celery version of the lab's own interpreter."""
    try:
        return metadata.version("celery")
    except metadata.PackageNotFoundError:
        return None


# -- installers ---------------------------------------------------------------


def _one_line(text: str, limit: int = 240) -> str:
    """A tool's error output as one readable line: box drawing dropped, lines joined."""
    lines = [re.sub(r"^[\s×╰─▶│|]+", "", ln).strip() for ln in (text or "").splitlines()]
    lines = [re.sub(r"^(error|cause|ERROR):\s*", "", ln) for ln in lines
             if ln and not ln.startswith(("WARNING:", "hint:", "Using Python"))]
    line = " ".join(lines) or "no error output"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _run(argv: list[str], *, timeout: float, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)  # the target is always named explicitly
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise InstallFailed(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s") from None
    except OSError as e:
        raise InstallFailed(f"{argv[0]} could not be started: {e.strerror}") from None


class Installer(Protocol):
    name: str

    def resolve(self, requirement: str) -> str:
        """The exact version the index offers for ``celery==X.Y.*``."""

    def create(self, path: Path, reqs: list[str]) -> None:
        """Make a virtual environment at ``path`` with ``reqs`` installed (raise InstallFailed)."""


@dataclass
class UvInstaller:
    uv: str
    python: str = sys.executable
    name: str = "uv"

    def resolve(self, requirement: str) -> str:
        done = _run([self.uv, "pip", "compile", "-", "--no-deps", "--no-header", "--no-annotate", "--quiet",
                     "--python", self.python], stdin=requirement + "\n", timeout=RESOLVE_TIMEOUT_S)
        m = re.search(r"^celery==(\S+)$", done.stdout, re.M)
        if done.returncode or not m:
            raise InstallFailed(_one_line(done.stderr or done.stdout))
        return m.group(1)

    def create(self, path: Path, reqs: list[str]) -> None:
        done = _run([self.uv, "venv", "--quiet", "--python", self.python, str(path)], timeout=RESOLVE_TIMEOUT_S)
        if done.returncode:
            raise InstallFailed("uv venv failed: " + _one_line(done.stderr))
        done = _run([self.uv, "pip", "install", "--quiet", "--python", str(path / "bin" / "python"), *reqs],
                    timeout=INSTALL_TIMEOUT_S)
        if done.returncode:
            raise InstallFailed(_one_line(done.stderr))


@dataclass
class PipInstaller:
    python: str = sys.executable
    name: str = "venv+pip"

    def resolve(self, requirement: str) -> str:
        done = _run([self.python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
                     "--report", "-", requirement], timeout=RESOLVE_TIMEOUT_S)
        try:
            return json.loads(done.stdout)["install"][0]["metadata"]["version"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise InstallFailed(_one_line(done.stderr)) from None

    def create(self, path: Path, reqs: list[str]) -> None:
        done = _run([self.python, "-m", "venv", str(path)], timeout=RESOLVE_TIMEOUT_S)
        if done.returncode:
            raise InstallFailed("python -m venv failed: " + _one_line(done.stderr))
        done = _run([str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", *reqs], timeout=INSTALL_TIMEOUT_S)
        if done.returncode:
            raise InstallFailed(_one_line(done.stderr))


def find_uv() -> str | None:
    """The uv binary: the one the ``uv`` wheel ships, else one on PATH."""
    try:
        import uv  # the PyPI package: a wrapper that knows where its binary is

        found = uv.find_uv_bin()
        if found and os.access(found, os.X_OK):
            return found
    except (ImportError, FileNotFoundError):
        pass
    return shutil.which("uv")


def default_installer() -> Installer:
    if os.environ.get("LAB_INSTALLER") == "pip":  # to compare, or where uv misbehaves
        return PipInstaller()
    uv = find_uv()
    return UvInstaller(uv) if uv else PipInstaller()


# -- the cache ----------------------------------------------------------------


def envs_dir() -> Path:
    if os.environ.get("LAB_ENVS"):
        return Path(os.environ["LAB_ENVS"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "chord-lab" / "envs"


def env_name(celery_version: str, reqs: list[str], python_version: str | None = None) -> str:
    """One folder per Celery version, Python minor version and requirement set."""
    py = python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
    digest = hashlib.sha256("\n".join(reqs).encode()).hexdigest()[:8]
    return f"celery-{celery_version}-py{py}-{digest}"


@dataclass
class Env:
    """Where a Celery version's runs execute: an interpreter, and what is installed with it."""

    celery: str
    python: str
    path: Path | None = None  # None: the lab's own interpreter
    cached: bool = True  # made before this request (or the lab's own)
    build_s: float | None = None  # seconds it took to make, when this request made it
    versions: dict[str, str | None] = field(default_factory=dict)
    installer: str | None = None
    note: str | None = None  # e.g. "offline: used the newest cached 5.4.x"

    @property
    def own(self) -> bool:
        return self.path is None

    def describe(self) -> str:
        if self.own:
            return f"the lab's own interpreter ({self.python})"
        how = "cached" if self.cached else f"made in {self.build_s:.1f} s with {self.installer}"
        return f"{self.path} ({how})"


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process building this env: wait for it
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_marker(path: Path) -> dict | None:
    try:
        data = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not (path / "bin" / "python").exists():
        return None
    return data


def _probe_versions(python: Path) -> dict[str, str | None]:
    code = ("import json, importlib.metadata as m\n"
            "def v(d):\n"
            "    try: return m.version(d)\n"
            "    except m.PackageNotFoundError: return None\n"
            "print(json.dumps({k: v(d) for k, d in [('celery','celery'),('kombu','kombu'),('redis-py','redis'),"
            "('billiard','billiard')]}))")
    done = _run([str(python), "-c", code], timeout=60)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise InstallFailed(f"the new environment's Python does not start: {_one_line(done.stderr)}") from None


def _own_env(version: str) -> Env:
    def v(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return Env(version, sys.executable, None, True, None,
               {"celery": v("celery"), "kombu": v("kombu"), "redis-py": v("redis"), "billiard": v("billiard")})


def ensure_env(celery_version: str, *, root: Path | None = None, installer: Installer | None = None,
               use_own: bool = True, extras: tuple[str, ...] = ()) -> Env:
    """The environment for an exact Celery version: cached, or made now (under a lock).

    The lab's own interpreter serves its own Celery version (``use_own``).
    Raises ``InstallFailed`` (one line) when the version cannot be installed;
    nothing half-made is left behind.
    """
    if release_of(celery_version) is None:
        raise VersionSpecError(f"{celery_version!r} is not an exact Celery release such as 5.3.6.")
    if use_own and celery_version == installed_celery():
        return _own_env(celery_version)
    reqs = requirements(celery_version, extras)  # extras make an environment of their own (the name's digest)
    path = (root or envs_dir()) / env_name(celery_version, reqs)
    marker = _read_marker(path)
    if marker is not None:
        return Env(celery_version, str(path / "bin" / "python"), path, True, None, marker.get("versions") or {},
                   marker.get("installer"))
    installer = installer or default_installer()
    with _locked(path.with_name(path.name + ".lock")):
        marker = _read_marker(path)
        if marker is not None:  # another process made it while we waited for the lock
            return Env(celery_version, str(path / "bin" / "python"), path, True, None, marker.get("versions") or {},
                       marker.get("installer"))
        shutil.rmtree(path, ignore_errors=True)  # a half-made one from an interrupted build
        t0 = time.monotonic()
        try:
            installer.create(path, reqs)
            versions = _probe_versions(path / "bin" / "python")
            if versions.get("celery") != celery_version:
                raise InstallFailed(f"the environment holds celery {versions.get('celery')}, not {celery_version}")
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        build_s = time.monotonic() - t0
        record = {"celery": celery_version, "requirements": reqs, "versions": versions, "installer": installer.name,
                  "python": f"{sys.version_info[0]}.{sys.version_info[1]}", "build_s": round(build_s, 2),
                  "created_at": time.time()}
        tmp = path / (MARKER + ".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, path / MARKER)  # the marker, written last, is what makes the env usable
    return Env(celery_version, str(path / "bin" / "python"), path, False, build_s, versions, installer.name)


def cached_versions(root: Path | None = None) -> list[str]:
    """Exact Celery versions with a usable environment in the cache, for this Python."""
    root = root or envs_dir()
    py = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    found = []
    for path in sorted(root.glob(f"celery-*-{py}-*")) if root.exists() else []:
        marker = _read_marker(path) if path.is_dir() else None
        celery = str((marker or {}).get("celery") or "")
        if release_of(celery) and path.name == env_name(celery, requirements(celery)):
            found.append(celery)
    return found


def resolve(spec: VersionSpec, *, installer: Installer | None = None, root: Path | None = None) -> tuple[str, str | None]:
    """The exact release for a spec, and a note when it was not asked of the index.

    ``5.3.6`` is itself; ``5.4`` is the newest 5.4.x on the index.  Offline,
    the newest 5.4.x already at hand (the lab's own, or cached) stands in, and
    the note says so.
    """
    if spec.exact:
        return spec.text, None
    installer = installer or default_installer()
    try:
        version = installer.resolve(spec.requirement())
    except InstallFailed as e:
        at_hand = [v for v in [installed_celery(), *cached_versions(root)] if v and spec.matches(v)]
        if not at_hand:
            raise InstallFailed(f"no Celery {spec}.x found: {e}") from None
        best = max(at_hand, key=release_of)
        return best, f"the index did not answer ({e}); used {best}, the newest {spec}.x at hand"
    if not spec.matches(version):
        raise InstallFailed(f"the index offered celery {version} for {spec.requirement()}")
    return version, None


def prepare(spec: VersionSpec, *, installer: Installer | None = None, root: Path | None = None) -> Env:
    """Resolve a spec and make (or reuse) its environment; raises ``InstallFailed``."""
    installer = installer or default_installer()
    version, note = resolve(spec, installer=installer, root=root)
    env = ensure_env(version, root=root, installer=installer)
    env.note = note
    return env


# -- the releases on the index (lab bisect) ------------------------------------------------------

RELEASES_TTL_S = 24 * 3600.0  # a new Celery release is rare; a day-old list is fresh enough


def index_url() -> str:
    """The simple index the environments install from (uv's own setting first), without a trailing slash."""
    for var in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(var):
            return os.environ[var].rstrip("/")
    return "https://pypi.org/simple"


def released(package: str = "celery", *, root: Path | None = None) -> tuple[list[dict], str | None]:
    """Every version of ``package`` on the index, in the index's order (not release order: callers sort),
    as ``{"version", "requires_python", "yanked"}``, and a note when the list came from the cache
    because the index did not answer.

    Read from the index's JSON simple API (PEP 691) and cached a day under the environments'
    folder, per index; pre-releases and yanked releases are kept here (``release_of`` tells the
    former apart).  ``InstallFailed`` when the index does not answer and nothing is cached.
    """
    import urllib.request

    cache = (root or envs_dir()) / f"releases-{package}.json"
    try:
        cached = json.loads(cache.read_text())
    except (OSError, ValueError):
        cached = None
    url = f"{index_url()}/{package}/"
    if not isinstance(cached, dict) or cached.get("index") != url or not isinstance(cached.get("releases"), list):
        cached = None  # another index's list (or none) says nothing about this one
    elif time.time() - cached.get("fetched_at", 0) < RELEASES_TTL_S:
        return cached["releases"], None
    try:
        req = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        with urllib.request.urlopen(req, timeout=RESOLVE_TIMEOUT_S) as resp:
            data = json.loads(resp.read())
        by_version: dict[str, dict] = {}
        for f in data.get("files") or []:
            name = f.get("filename", "")
            version = (name.split("-")[1] if name.endswith(".whl")
                       else name.rsplit("-", 1)[-1].removesuffix(".tar.gz").removesuffix(".zip"))
            entry = by_version.setdefault(version, {"version": version, "requires_python": None, "yanked": True})
            entry["requires_python"] = entry["requires_python"] or f.get("requires-python")
            entry["yanked"] = entry["yanked"] and bool(f.get("yanked"))  # yanked only if every file is
        releases = [by_version.get(v) or {"version": v, "requires_python": None, "yanked": False}
                    for v in data.get("versions") or by_version]
    except (OSError, ValueError, AttributeError) as e:
        if cached is not None:
            return cached["releases"], f"the index {url} did not answer ({e}); used the list cached {time.ctime(cached['fetched_at'])}"
        raise InstallFailed(f"the index {url} did not list {package}'s releases ({e}), and none are cached") from None
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"fetched_at": time.time(), "index": url, "releases": releases}))
    os.replace(tmp, cache)
    return releases, None
