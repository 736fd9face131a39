"""Bisection across Celery releases: the first release where a scenario's or a finding's outcome changes.

    scenario or finding × **the releases in a range → binary search** → each step a matrix cell
    (lab.experiments.matrix, in its environment from lab.experiments.envs) → results/bisect.json → RESULTS.md

``python -m lab bisect REF --celery 5.3.0..5.7.0`` lists every Celery release in the range on the
package index (``envs.released()``), leaving out pre-releases, yanked releases and releases whose
``requires_python`` excludes this Python (each skip is said, with why).  It runs both ends first;
when they agree there is "no change in range".  Otherwise it halves the range between the last
release known to give the first end's outcome and the first release known to give another, until
the two are adjacent.  A step is one matrix cell: ``lab run REF --runs N --json`` inside that
release's cached environment (a finding's environment also holds the lab's hypothesis, which its
oracle needs), the same seeds on every release, so steps differ by the release only.

A step's outcome is decided differently for the two kinds of target:

- a *scenario*'s is what its runs agree on, its chords' verdicts and causes.  Runs that disagree
  make the step *flaky*: neither outcome is proof that the other is absent, so none is guessed at.
- a *finding*'s is whether it reproduces, and the lab's verdicts are proven: one run that reproduces
  proves the bug is in that release, so such a step "reproduces", with its rate (``2/4``).  "Does not
  reproduce" needs every run to miss, and misses prove nothing: each such step is weighed
  (``weigh_misses``) by how likely that many misses are, ``(1 - r)^N``, at the rate ``r`` seen on the
  nearest release that reproduced.  Above ``MISS_BOUND`` (5 %) the boundary is *uncertain*, and the
  number of runs that would bring the chance under it is said.

A step whose runs did not finish (an install that failed, a crash) and that holds no reproducing
run is *undecided*; a flaky or undecided step is not guessed at: the search goes on over the other
releases of the bracket, and a bracket left with only such releases between its ends is reported
as that, a range, with the undecided releases named.  An end that is flaky or undecided stops the
search, and says so.

The search itself (``search``) is a pure function of a probe, ``release → Step``, so the tests run it
over hand-built outcomes; ``probe_release`` is the real probe.  Each bisection is stored, the latest
per target, in ``$LAB_RESULTS/bisect.json`` (``store``), which ``lab.report.bisect`` turns into
RESULTS.md's release ranges.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from lab import records
from lab.errors import LabError
from lab.experiments import envs
from lab.experiments.matrix import Cell, run_cells

DEFAULT_REPEAT = 3
SCHEMA = 1
REPRODUCES = "reproduces"
MISS_BOUND = Fraction(1, 20)  # above this chance of the misses seen, a finding's boundary is uncertain


class BisectError(LabError):
    """A bisection asked for wrongly: a bad range, an unknown target; one sentence, exit 254."""


# -- the range and the releases in it ----------------------------------------------------------

_END = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
_BASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)")  # a pre-release's base release: 5.5.0rc1 → 5.5.0


@dataclass(frozen=True)
class ReleaseRange:
    """``5.3.0..5.7.0``, both ends included; an end of MAJOR.MINOR means its whole series (5.7 → 5.7.x)."""

    text: str
    low: tuple[int, int, int]
    high: tuple[int, int, int]

    def __contains__(self, release: tuple[int, int, int]) -> bool:
        return self.low <= release <= self.high


def parse_range(text: str) -> ReleaseRange:
    """``"5.3.0..5.7.0"`` → a ReleaseRange; ``BisectError`` with one sentence otherwise."""
    raw = (text or "").strip()
    if raw.count("..") != 1:
        raise BisectError(f"--celery {raw!r} is not a range: give two releases joined by '..', oldest first, "
                          "e.g. --celery 5.3.0..5.7.0.")
    ends = []
    for i, part in enumerate(p.strip() for p in raw.split("..")):
        m = _END.match(part)
        if not m:
            raise BisectError(f"--celery {raw!r}: {part!r} is not a Celery release; give MAJOR.MINOR.PATCH (5.3.0) "
                              "or MAJOR.MINOR (5.7, its whole series) at each end.")
        major, minor = int(m.group(1)), int(m.group(2))
        patch = int(m.group(3)) if m.group(3) is not None else (0 if i == 0 else 10**6)
        if (major, minor) < envs.SUPPORTED_MIN or (major, minor) >= envs.SUPPORTED_BELOW:
            raise BisectError(f"--celery {raw!r}: {part} is outside what the lab's worker code runs on, Celery "
                              f"{envs.SUPPORTED_MIN[0]}.{envs.SUPPORTED_MIN[1]} up to, not including, "
                              f"{envs.SUPPORTED_BELOW[0]}.{envs.SUPPORTED_BELOW[1]} (tested: {envs.TESTED_RANGE}).")
        ends.append((major, minor, patch))
    if ends[0] >= ends[1]:
        raise BisectError(f"--celery {raw!r}: the first release must be older than the second, e.g. 5.3.0..5.7.0.")
    return ReleaseRange(raw, ends[0], ends[1])


def python_allows(requires_python: str | None, python: tuple[int, ...] | None = None) -> bool:
    """Whether a release's ``requires_python`` admits this Python (or ``python``); lenient with what
    older uploads wrote (``">=3.6,"``), and an unreadable specifier is taken as no bound."""
    if not requires_python:
        return True
    py = ".".join(str(p) for p in (python or sys.version_info[:3]))
    spec = ",".join(p.strip() for p in requires_python.split(",") if p.strip())
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:  # packaging comes with pip's tooling almost everywhere; without it, no bound is read
        return True
    try:
        return SpecifierSet(spec).contains(py, prereleases=True)
    except InvalidSpecifier:
        return True


def select_releases(releases: Iterable[dict], rng: ReleaseRange,
                    python: tuple[int, ...] | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """The releases of ``rng`` to bisect over, oldest first, and those of the range left out, with why.

    ``releases``: ``{"version", "requires_python", "yanked"}`` as ``envs.released()`` gives them."""
    chosen: list[tuple[tuple[int, int, int], str]] = []
    skipped: list[tuple[tuple[int, int, int], str, str]] = []
    py = ".".join(str(p) for p in (python or sys.version_info[:3]))
    for r in releases:
        version = str(r.get("version") or "")
        exact = envs.release_of(version)
        base = _BASE.match(version)
        where = exact or (tuple(int(g) for g in base.groups()) if base else None)
        if where is None or where not in rng:
            continue
        if exact is None:
            skipped.append((where, version, "pre-release"))
        elif r.get("yanked"):
            skipped.append((where, version, "yanked from the index"))
        elif not python_allows(r.get("requires_python"), python):
            skipped.append((where, version, f"requires Python {r.get('requires_python')}, and this is {py}"))
        else:
            chosen.append((exact, version))
    chosen.sort()
    skipped.sort()
    return list(dict.fromkeys(v for _, v in chosen)), [(v, why) for _, v, why in skipped]


# -- one step: a release's runs ------------------------------------------------------------------


@dataclass
class Step:
    """What the runs on one release gave: one outcome per run, and the versions they ran with."""

    celery: str
    outcomes: list[str] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)  # each run: did it match the scenario's expectation
    versions: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why fewer runs than asked finished (install failed, crash, timeout)
    runs: int = 0  # how many were asked
    run_ids: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    details: list[str] = field(default_factory=list)  # each run's verdicts and causes (a finding's too)
    finding: bool = False  # a finding's step: one run that reproduces is proof

    @property
    def flaky(self) -> bool:
        return len(set(self.outcomes)) > 1

    @property
    def reproduced(self) -> int:
        return self.outcomes.count(REPRODUCES) if self.finding else 0

    @property
    def rate(self) -> str:
        """``2/4``: the runs that reproduced, of those that finished."""
        return f"{self.reproduced}/{len(self.outcomes)}"

    @property
    def outcome(self) -> str | None:
        """The outcome every run agrees on, or for a finding "reproduces" when any run did (proof, however
        many missed); None when runs disagree (flaky) or did not all finish."""
        if self.reproduced:
            return REPRODUCES
        if self.error or self.flaky or not self.outcomes or len(self.outcomes) < self.runs:
            return None
        return self.outcomes[0]

    def describe(self) -> str:
        unfinished = (self.error or "no run finished") if self.error or len(self.outcomes) < self.runs else None
        if self.reproduced:
            text = REPRODUCES if self.reproduced == self.runs else f"{REPRODUCES} {self.rate}"
            return text + (f" ({self.runs - len(self.outcomes)} run(s) did not finish: {unfinished})"
                           if unfinished else "")
        if self.outcome is not None:
            return self.outcome
        counts = {o: self.outcomes.count(o) for o in dict.fromkeys(self.outcomes)}
        seen = ", ".join(f"{o} ×{n}" for o, n in counts.items())
        if self.flaky:
            return f"flaky ({seen})"
        return f"undecided ({unfinished}" + (f"; {seen}" if seen else "") + ")"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome
        d["flaky"] = self.flaky
        if self.finding:
            d["reproduced"] = self.reproduced
        d["elapsed_s"] = round(self.elapsed_s, 2)
        return d


def outcome_of(run: dict[str, Any], *, finding: bool) -> str:
    """One run's outcome from its JSON line: a finding reproduces or not; a scenario's chords give verdicts
    and causes (``stuck · callback-queue-unconsumed``)."""
    if finding:
        return {"matched": "reproduces", "mismatched": "does not reproduce"}.get(run.get("status"), "unknown")
    verdicts = ", ".join(sorted(run.get("outcomes") or {})) or "no chords"
    causes = ", ".join(sorted(run.get("causes") or []))
    return verdicts + (f" · {causes}" if causes else "")


# -- the search ---------------------------------------------------------------------------------


@dataclass
class Bisection:
    """A bisection's outcome: where the outcome changed (or that it did not), and every step taken."""

    releases: list[str]
    steps: list[Step]  # in the order they were run
    status: str  # "changed", "changed-undecided", "no-change", "undecided-end"
    last_before: str | None = None  # the newest release known to give the first release's outcome
    first_changed: str | None = None  # the oldest release known to give another outcome
    undecided: list[str] = field(default_factory=list)  # flaky or undecided releases between those two

    def step(self, celery: str | None) -> Step | None:
        return next((s for s in self.steps if s.celery == celery), None)

    @property
    def finding(self) -> bool:
        return any(s.finding for s in self.steps)

    def steps_in_order(self) -> list[Step]:
        """The steps run, oldest release first."""
        order = {v: i for i, v in enumerate(self.releases)}
        return sorted(self.steps, key=lambda s: order[s.celery])

    @property
    def first(self) -> Step:
        return self.step(self.releases[0])

    @property
    def last(self) -> Step:
        return self.step(self.releases[-1])


def search(releases: list[str], probe: Callable[[str], Step]) -> Bisection:
    """Binary search over ``releases`` (oldest first) for the first whose outcome differs from the oldest's.

    ``probe`` runs one release (each at most once).  Both ends are run first.  A step without an
    outcome (``Step.outcome``: a scenario's runs that disagree, runs that did not finish) in the middle
    is set aside, never taken for either side, and the search goes on with the other releases of the
    bracket; an end without one stops it.  A finding's step where any run reproduced has one.
    """
    if len(releases) < 2:
        raise BisectError(f"a bisection needs two releases or more; the range holds {len(releases)}"
                          + (f" ({releases[0]})" if releases else "") + ".")
    steps: dict[str, Step] = {}

    def at(i: int) -> Step:
        v = releases[i]
        if v not in steps:
            steps[v] = probe(v)
        return steps[v]

    first, last = at(0), at(len(releases) - 1)
    done = lambda status, **kw: Bisection(list(releases), list(steps.values()), status, **kw)  # noqa: E731
    if first.outcome is None or last.outcome is None:
        return done("undecided-end")
    if first.outcome == last.outcome:
        return done("no-change")
    lo, hi = 0, len(releases) - 1
    set_aside: set[int] = set()
    while True:
        middle = (lo + hi) / 2
        candidates = sorted((i for i in range(lo + 1, hi) if i not in set_aside), key=lambda i: (abs(i - middle), i))
        if not candidates:
            break
        i = candidates[0]
        s = at(i)
        if s.outcome is None:
            set_aside.add(i)
        elif s.outcome == first.outcome:
            lo = i
        else:
            hi = i
    between = releases[lo + 1: hi]
    return done("changed-undecided" if between else "changed", last_before=releases[lo], first_changed=releases[hi],
                undecided=list(between))


@dataclass(frozen=True)
class Miss:
    """A finding's step where no run reproduced, weighed by the rate of the nearest release that did."""

    celery: str
    misses: int  # its runs, none of which reproduced
    nearest: str  # the nearest release (in release order) that reproduced
    reproduced: int  # there: runs that reproduced, of
    runs: int

    @property
    def _exact(self) -> Fraction:  # exact, so 19/20 reproducing and one miss is 5 %, not above it
        return Fraction(self.runs - self.reproduced, self.runs) ** self.misses

    @property
    def chance(self) -> float:
        """How likely ``misses`` misses in a row are at the nearest release's rate: ``(1 - r)^N``."""
        return float(self._exact)

    @property
    def uncertain(self) -> bool:
        return self._exact > MISS_BOUND

    @property
    def repeats_needed(self) -> int | None:
        """The fewest runs whose all missing would be under MISS_BOUND at that rate (None: at 100 %, one is)."""
        miss = Fraction(self.runs - self.reproduced, self.runs)
        if miss == 0:
            return None
        n = 1
        while miss ** n >= MISS_BOUND:  # exact, strictly under
            n += 1
        return n

    def text(self) -> str:
        said = (f"{self.misses} miss{'es' if self.misses != 1 else ''} at {self.celery} are {percent(self.chance)} "
                f"likely at the {self.reproduced}/{self.runs} seen at {self.nearest}")
        if self.uncertain:
            said += (f": above {percent(MISS_BOUND)}, so the boundary is uncertain; --repeat {self.repeats_needed} "
                     f"would bring that under {percent(MISS_BOUND)}")
        return said

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "chance": round(self.chance, 4), "uncertain": self.uncertain,
                "repeats_needed": self.repeats_needed if self.uncertain else None, "text": self.text()}


def percent(p: float | Fraction) -> str:
    return f"{100 * float(p):.1f} %".replace(".0 %", " %")


def weigh_misses(b: Bisection) -> list[Miss]:
    """Each decided step of a finding's bisection that did not reproduce, weighed (``Miss``), oldest first;
    a step with no reproducing release to weigh it by is left out.  Between two equally near reproducing
    releases the lower rate is taken, which makes the misses likelier, never the answer surer."""
    if not b.finding:
        return []
    order = {v: i for i, v in enumerate(b.releases)}
    yes = [s for s in b.steps if s.outcome == REPRODUCES]
    found = []
    for s in b.steps_in_order():
        if s.outcome is None or s.outcome == REPRODUCES or not yes:
            continue
        near = min(yes, key=lambda y: (abs(order[y.celery] - order[s.celery]), y.reproduced / len(y.outcomes)))
        found.append(Miss(s.celery, len(s.outcomes), near.celery, near.reproduced, len(near.outcomes)))
    return found


def flaky_rates(b: Bisection) -> str:
    """``2/4 at 5.3.0, 3/4 at 5.7.0``: a finding's steps that reproduced in some runs only ('' when none)."""
    return ", ".join(f"{s.rate} at {s.celery}" for s in b.steps_in_order()
                     if s.reproduced and s.reproduced < len(s.outcomes))


# -- the real probe: a release's environment and a matrix cell ---------------------------------


def extras_for(finding: bool) -> tuple[str, ...]:
    """What a step's environment holds beside the matrix's: a finding's oracle needs the lab's hypothesis."""
    if not finding:
        return ()
    try:
        return (f"hypothesis=={metadata.version('hypothesis')}",)
    except metadata.PackageNotFoundError:
        return ("hypothesis",)


def probe_release(ref: str, version: str, *, finding: bool, repeat: int, seed: int,
                  installer: envs.Installer | None = None, say: Callable[[str], None] = lambda m: None) -> Step:
    """Run ``ref`` ``repeat`` times on one release, in its cached environment, as one matrix cell."""
    t0 = time.monotonic()
    step = Step(version, runs=repeat, finding=finding)
    try:
        env = envs.ensure_env(version, installer=installer, extras=extras_for(finding))
    except envs.InstallFailed as e:
        step.error = f"install failed: {e}"
        step.elapsed_s = time.monotonic() - t0
        return step
    if not env.cached:
        say(f"celery {version}: environment made in {env.build_s:.1f} s with {env.installer}")
    cell = Cell(ref, version, env, seed, repeat)
    run_cells("bisect", [cell], jobs=1)
    step.outcomes = [outcome_of(r, finding=finding) for r in cell.results]
    step.matched = [r.get("status") == "matched" for r in cell.results]
    step.details = [outcome_of(r, finding=False) for r in cell.results]
    step.run_ids = [r.get("run_id") for r in cell.results if r.get("run_id")]
    v = (cell.results[-1].get("versions") if cell.results else None) or env.versions or {}
    step.versions = {k: v.get(k) for k in ("celery", "kombu", "billiard", "redis-py") if v.get(k)}
    step.error = cell.error
    step.elapsed_s = time.monotonic() - t0
    return step


# -- what a bisection found, as stored ---------------------------------------------------------


def reproduces(b: Bisection) -> dict[str, Any] | None:
    """The releases on which the target matched its expectation (a finding reproduced), as ``{"from", "to"}``
    (oldest, newest of the range), with ``"undecided"`` releases at its edge; None when neither side does."""
    def yes(s: Step | None) -> bool:
        if not s or s.outcome is None:
            return False
        return s.outcome == REPRODUCES if s.finding else bool(s.matched and all(s.matched))

    rel = b.releases
    if b.status == "undecided-end":
        return None
    if b.status == "no-change":
        return {"from": rel[0], "to": rel[-1], "undecided": []} if yes(b.first) else None
    if yes(b.last) and yes(b.step(b.first_changed)):
        return {"from": b.first_changed, "to": rel[-1], "undecided": b.undecided}
    if yes(b.first):
        return {"from": rel[0], "to": b.last_before, "undecided": b.undecided}
    return None


def summary(b: Bisection) -> str:
    """One sentence: where the outcome changed, or why it cannot be said; for a finding, with the rates of
    the releases that reproduced in some runs only and how likely the misses that place the boundary are."""
    first, last = b.first, b.last
    if b.status == "undecided-end":
        bad = [s for s in (first, last) if s.outcome is None]
        return ("the search needs both ends decided: " + "; ".join(f"celery {s.celery} is {s.describe()}" for s in bad)
                + " (a larger --repeat or a narrower range may decide it; a target flaky on every release has no "
                "outcome to bisect)")
    if b.status == "no-change":
        if b.finding and first.outcome == REPRODUCES:
            text = f"no change in range: reproduces in every release tried ({first.celery}, {last.celery})"
        else:
            text = f"no change in range: celery {first.celery} and {last.celery} both give {first.outcome}"
    else:
        changed = b.step(b.first_changed)
        text = (f"{b.first_changed} is the first release where the outcome changed: {first.outcome} up to "
                f"{b.last_before}, {changed.outcome} from {b.first_changed}")
        if b.undecided:
            text = (f"the outcome changed after {b.last_before} and by {b.first_changed}: {first.outcome} up to "
                    f"{b.last_before}, {changed.outcome} from {b.first_changed}; between them "
                    + ", ".join(f"{v} is {b.step(v).describe()}" for v in b.undecided))
        if last.outcome != changed.outcome:
            text += f" (and {last.outcome} at {last.celery}: it changes again later)"
    rates = flaky_rates(b)
    if rates:
        text += f"; flaky: reproduces {rates}"
    weighed = [m.text() for m in weigh_misses(b) if m.chance > 0]  # a rate of every run leaves nothing to weigh
    if weighed:
        text += "; " + "; ".join(weighed)
    return text


def to_record(target: str, kind: str, rng: ReleaseRange, skipped: list[tuple[str, str]], b: Bisection, *,
              repeat: int, seed: int, elapsed_s: float, notes: Iterable[str] = ()) -> dict[str, Any]:
    """A bisection as stored in bisect.json."""
    def versions(v: str | None) -> dict[str, Any] | None:
        s = b.step(v)
        return s.versions if s else None

    misses = weigh_misses(b)
    return {"target": target, "kind": kind, "range": rng.text, "releases": b.releases,
            "skipped": [{"version": v, "why": why} for v, why in skipped], "repeat": repeat, "seed": seed,
            "status": b.status, "summary": summary(b), "first_outcome": b.first.outcome, "last_outcome": b.last.outcome,
            "last_before": b.last_before, "first_changed": b.first_changed, "undecided": b.undecided,
            "versions_last_before": versions(b.last_before), "versions_first_changed": versions(b.first_changed),
            "reproduces": reproduces(b), "misses": [m.to_dict() for m in misses],
            "uncertain": any(m.uncertain for m in misses), "steps": [s.to_dict() for s in b.steps],
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "git": records.git_revision(),
            "python": ".".join(str(p) for p in sys.version_info[:3]), "elapsed_s": round(elapsed_s, 1),
            "notes": list(notes)}


# -- the store: bisect.json ----------------------------------------------------------------------


def store_path() -> Path:
    return records.store_dir() / "bisect.json"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_store(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every stored bisection, the latest per target ({} when there is none, or the file is unreadable)."""
    try:
        data = json.loads((path or store_path()).read_text())
    except (OSError, ValueError):
        return {}
    found = data.get("bisections") if isinstance(data, dict) else None
    return {k: v for k, v in (found or {}).items() if isinstance(v, dict)}


def store(record: dict[str, Any], path: Path | None = None) -> Path:
    """Add (or replace) one target's bisection in bisect.json: read, change, written whole, under a lock."""
    path = path or store_path()
    with _locked(path):
        found = load_store(path)
        found[record["target"]] = record
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"schema": SCHEMA, "bisections": dict(sorted(found.items()))}, indent=1,
                                  default=repr) + "\n")
        os.replace(tmp, path)
    return path


# -- the whole: `lab bisect` ---------------------------------------------------------------------


@dataclass
class Target:
    ref: str  # as the child `lab run` takes it
    name: str
    kind: str  # "finding" or "scenario"
    expect: str | None = None


def resolve_target(ref: str) -> Target:
    """A finding (id or file) or a scenario (name or file), loaded and checked before anything is installed."""
    from lab.runtime.process.runtime import ProcessRuntime
    from lab.scenario import load
    from lab.scenario.model import judged_by_oracle

    s = load(ref)  # ScenarioError (254) for an unknown name or a bad file
    refused = ProcessRuntime().refuses(s)
    if refused:
        raise BisectError(f"{refused.split(':')[0]}, and each release's environment runs local processes: "
                          "it cannot be bisected.")
    path = Path(ref)
    child_ref = str(path.resolve()) if path.is_file() else ref
    return Target(child_ref, s.name, "finding" if judged_by_oracle(s) else "scenario", s.expect)


def bisect(ref: str, range_text: str, *, repeat: int = DEFAULT_REPEAT, seed: int | None = None,
           say: Callable[[str], None] = lambda m: None, save: bool = True) -> dict[str, Any]:
    """Bisect ``ref`` over the releases of ``range_text``; the stored record (also saved, unless ``save`` is off)."""
    t0 = time.monotonic()
    rng = parse_range(range_text)
    target = resolve_target(ref)
    records.check_store_writable()  # before any environment is made or run started
    index, note = envs.released("celery")
    notes = [note] if note else []
    releases, skipped = select_releases(index, rng)
    if len(releases) < 2:
        raise BisectError(f"--celery {rng.text}: the index holds {len(releases)} release(s) in that range that install "
                          f"on this Python ({', '.join(releases) or 'none'}); a bisection needs two or more.")
    seed = seed if seed is not None else random.randrange(2**31)
    say(f"{target.name} ({target.kind}): {len(releases)} release(s) in {rng.text}: {', '.join(releases)}; "
        f"{repeat} run(s) each, seeds {seed}..{seed + repeat - 1}")
    if skipped:
        by_why: dict[str, list[str]] = {}
        for v, why in skipped:
            by_why.setdefault(why, []).append(v)
        say("skipped: " + "; ".join(f"{', '.join(vs)} ({why})" for why, vs in by_why.items()))
    for n in notes:
        say(f"note: {n}")
    installer = envs.default_installer()

    def probe(version: str) -> Step:
        step = probe_release(target.ref, version, finding=target.kind == "finding", repeat=repeat, seed=seed,
                             installer=installer, say=say)
        v = step.versions
        say(f"celery {version} (kombu {v.get('kombu', '?')}, billiard {v.get('billiard', '?')}): {step.describe()}"
            f"  [{step.elapsed_s:.1f} s]")
        return step

    b = search(releases, probe)
    rec = to_record(target.name, target.kind, rng, skipped, b, repeat=repeat, seed=seed,
                    elapsed_s=time.monotonic() - t0, notes=notes)
    if save:
        rec["stored_in"] = str(store(rec))
    return rec
