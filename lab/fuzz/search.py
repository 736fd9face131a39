"""The hypothesis driver: examples, steering, shrinking, replay rate.

    strategies → session → oracle + judge → **search** → findings

``fuzz(plan, session, reporter)`` runs hypothesis over chord batches (the
``shapes`` space: one fixed topology) or over (configuration, chord batch)
pairs (the ``configs`` space: the session restarts only what a drawn
configuration changes).  Each example sends its chords and waits on evidence
(``FuzzSession.run_example``).  A chord whose verdict the oracle does not allow
raises a finding, one exception class per kind of finding (``stuck/<cause>``,
``early/order``...), so hypothesis shrinks each kind on its own and never
trades one for another.  ``hypothesis.target`` steers toward slow callbacks
(the delay between the last part and the callback) and bigger canvases.

When hypothesis stops with findings, each shrunk example is replayed a few
times through the session: a finding that does not reproduce every time is
kept and reported as flaky with its replay rate.  Its kind is then known, and
the search goes on (a new hypothesis run with the next seed) until the
examples or the time budget are spent, so one run can report several kinds.
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

if sys.version_info < (3, 11):  # a builtin from 3.11; hypothesis depends on the backport before it
    from exceptiongroup import BaseExceptionGroup

from lab.fuzz import strategies as S
from lab.fuzz.oracle import ChordOutcome
from lab.fuzz.session import POLL_S, ConfigCannotBoot, ExampleResult, FuzzSession
from lab.scenario import Scenario

SPACES = ("shapes", "configs")
MAX_CHUNK = 5000  # examples per hypothesis run; budget permitting
MIN_CHUNK = 20
SHRINK_MIN_S = 60.0  # with a time budget, a finding is shrunk for at least this long,
SHRINK_SHARE = 0.1  # or this share of the budget, whichever is longer; then the smallest so far is the finding
CLEAN_EVERY = 100  # examples judged with chords in flight before the flight is let empty and the topology cleaned


class Finding(AssertionError):
    """Raised inside an example when a chord's verdict is not one the oracle allows."""

    kind = ""


class BudgetSpent(Exception):
    """Raised inside an example once the time budget is spent (and no finding is being shrunk)."""


_FINDING_TYPES: dict[str, type[Finding]] = {}


def finding_type(kind: str) -> type[Finding]:
    """One exception class per kind of finding, always the same one (hypothesis tells bugs apart by type)."""
    if kind not in _FINDING_TYPES:
        name = "Finding_" + re.sub(r"\W+", "_", kind)
        _FINDING_TYPES[kind] = type(name, (Finding,), {"kind": kind})
    return _FINDING_TYPES[kind]


@dataclass
class FuzzPlan:
    """What to search: the space, its bounds, how long, with which seed."""

    space: str = "shapes"
    base: Scenario | None = None  # the topology of the shapes space
    examples: int | None = 200
    budget_s: float | None = None
    seed: int = 0
    behaviours: tuple[str, ...] = S.BEHAVIOURS
    max_chords: int = 3
    max_header: int = 4
    max_leaves: int = 6
    nested: bool = True
    bare: bool = True  # also bare chains and groups, not only chords (with nested)
    options: bool = True
    queues: tuple[str | None, ...] = (None,)
    known: set[str] = field(default_factory=set)  # kinds not to report again
    replays: int = 3
    max_findings: int | None = None
    report: bool = True  # False: judge every chord, but raise no finding and steer nowhere (a benchmark measures)
    shard: tuple[int, int] = (1, 1)  # (k, n): this run is shard k of n, and takes every n-th hypothesis run's seed
    in_flight: int = 1  # examples whose chords may be in flight at once (1: each waits for the one before)


@dataclass
class FoundFinding:
    """A shrunk finding, with what reproduces it."""

    kind: str
    outcome: ChordOutcome
    shapes: list[S.Shape]
    config: S.FuzzConfig | None
    scenario: Scenario
    result: ExampleResult
    seed: int
    blob: str | None
    examples_before: int
    found_after_s: float
    shrink_s: float
    flaky_in_hypothesis: bool = False
    replay: dict[str, Any] = field(default_factory=dict)

    @property
    def failing_shape(self) -> S.Shape:
        return self.shapes[self.outcome.index]


@dataclass
class FuzzStats:
    started: float = field(default_factory=time.time)
    examples: int = 0
    chords: int = 0
    verdicts: Counter = field(default_factory=Counter)
    as_expected: Counter = field(default_factory=Counter)  # verdicts the oracle allowed, e.g. stuck by design
    known_seen: Counter = field(default_factory=Counter)  # findings of kinds already reported
    resets: int = 0
    reconfigurations: int = 0
    example_s: float = 0.0
    shrink_examples: int = 0  # examples run while a finding was being shrunk
    unbootable: int = 0  # drawn configurations whose workers did not start
    hypothesis_runs: int = 0
    unconfirmed: Counter = field(default_factory=Counter)  # kinds seen in flight that did not come back alone
    unshrunk: Counter = field(default_factory=Counter)  # kinds seen in flight, not shrunk: the budget was spent, or Ctrl-C
    in_flight_peak: int = 0  # the most examples that were in flight at once
    shrinks_cut: int = 0  # shrink candidates not tried: the shrinking's share of the time budget was spent

    @property
    def elapsed_s(self) -> float:
        return time.time() - self.started

    @property
    def chords_per_s(self) -> float:
        return self.chords / self.example_s if self.example_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "chords": self.chords, "elapsed_s": round(self.elapsed_s, 2),
                "example_s": round(self.example_s, 2), "chords_per_s": round(self.chords_per_s, 2),
                "verdicts": dict(self.verdicts), "as_expected": dict(self.as_expected),
                "known_seen": dict(self.known_seen), "resets": self.resets,
                "reconfigurations": self.reconfigurations, "shrink_examples": self.shrink_examples,
                "unbootable": self.unbootable,
                "hypothesis_runs": self.hypothesis_runs, "unconfirmed": dict(self.unconfirmed),
                "unshrunk": dict(self.unshrunk),
                "in_flight_peak": self.in_flight_peak, "shrinks_cut": self.shrinks_cut}


class Reporter:
    """What a fuzz run says while it runs; the CLI gives one with a progress bar."""

    def example(self, stats: FuzzStats, result: ExampleResult, findings: int) -> None: ...

    def phase(self, msg: str) -> None: ...

    def finding(self, found: FoundFinding) -> None: ...


@dataclass(eq=False)
class Drawn:
    """An example hypothesis drew while exploring with chords in flight, and what came of it."""

    index: int
    key: str  # the example as drawn (a digest), to know it again when the same seed draws it a second time
    rejected: bool = False  # its configuration did not boot
    kinds: tuple[str, ...] | None = None  # the kinds of finding it showed, once judged (None: not judged)
    # only these are kept: a run explores thousands of examples, and their observations are megabytes each


def example_key(config: S.FuzzConfig | None, shapes: list[S.Shape]) -> str:
    return hashlib.blake2b(repr((config, shapes)).encode(), digest_size=16).hexdigest()


def shard_seed(seed: int, run: int, shard: tuple[int, int]) -> int:
    """The seed of hypothesis run ``run`` of shard ``(k, n)``: the campaign's runs are dealt out in turn, so
    shard k of n takes runs k-1, k-1+n, k-1+2n, ... of the unsharded campaign (run r uses seed + r), so n shards
    together use the seeds one unsharded campaign would, none of them twice."""
    k, n = shard
    return seed + (k - 1) + n * run


def example_strategy(plan: FuzzPlan) -> st.SearchStrategy:
    batches = S.chord_batches(max_chords=plan.max_chords, behaviours=plan.behaviours, queues=plan.queues,
                              max_header=plan.max_header, max_leaves=plan.max_leaves, nested=plan.nested,
                              options=plan.options, bare=plan.bare)
    if plan.space == "configs":
        return st.tuples(S.configs(), batches)
    return st.tuples(st.none(), batches)


def config_scenario(config: S.FuzzConfig) -> Scenario:
    return config.to_scenario("fuzz-configs", description="a configuration drawn by the fuzzer")


class Search:
    """One fuzz run over one session."""

    def __init__(self, plan: FuzzPlan, session: FuzzSession, reporter: Reporter | None = None,
                 on_found: Callable[[FoundFinding], None] | None = None):
        if plan.space not in SPACES:
            raise ValueError(f"space {plan.space!r}: allowed {', '.join(SPACES)}")
        self.plan = plan
        self.session = session
        self.rep = reporter or Reporter()
        self.on_found = on_found  # called as soon as a finding is shrunk and replayed: save it before anything else
        self.stats = FuzzStats()
        self.known = set(plan.known)
        self.found: list[FoundFinding] = []
        self.last_failure: dict[str, tuple] = {}  # kind -> (shapes, config, result, outcome): the latest is the shrunk one
        self.first_failure_at: dict[str, tuple[int, float]] = {}
        self._finding_in_run = False
        self._shrink_until: float | None = None  # with a time budget: when shrinking the run's finding stops
        self._smallest: tuple[str, str] = ("", "")  # the kind and example key of the smallest example seen failing
        self._unbooted = False
        self._deadline = time.time() + plan.budget_s if plan.budget_s else None

    # -- one example -------------------------------------------------------------------------------

    def _budget_left(self, in_flight: int = 0) -> bool:
        if self._deadline is not None and time.time() >= self._deadline:
            return False
        return self.plan.examples is None or self.stats.examples + in_flight < self.plan.examples

    def run_one(self, config: S.FuzzConfig | None, shapes: list[S.Shape]) -> ExampleResult:
        if config is not None:
            try:
                if self.session.reconfigure(config_scenario(config)):
                    self.stats.reconfigurations += 1
            except ConfigCannotBoot as e:
                self.stats.unbootable += 1
                self.rep.phase(f"a drawn configuration did not boot, skipped: {e}")
                hypothesis.reject()
        result = self.session.run_example(shapes)
        self.stats.example_s += result.elapsed_s
        self._count(result)
        return result

    def _count(self, result: ExampleResult) -> None:
        """One judged example into the statistics and the progress line (its time is counted by the caller)."""
        st_ = self.stats
        st_.examples += 1
        st_.chords += len(result.shapes)
        st_.resets += int(result.reset)
        st_.shrink_examples += int(self._finding_in_run)
        for o in result.outcomes:
            st_.verdicts[o.verdict] += 1
            if not o.finding:
                st_.as_expected[o.verdict] += 1
            elif o.kind in self.known:
                st_.known_seen[o.kind] += 1
        self.rep.example(st_, result, len(self.found))

    def check(self, config: S.FuzzConfig | None, shapes: list[S.Shape], *, budget: bool = True,
              only: str | None = None, steer: bool = True) -> None:
        """The property hypothesis tests: every chord's verdict is one its oracle allows (``only``: raise
        for this kind of finding only; the others are shrunk in their own turn)."""
        if budget and not self._finding_in_run and not self._budget_left():
            raise BudgetSpent()
        if self._finding_in_run and self._shrink_until is not None and time.time() >= self._shrink_until:
            # shrinking's time is up: every candidate passes untried, so hypothesis stops at the smallest example
            # seen failing, which it runs once more to report it: that one fails again, as it did
            kind, key = self._smallest
            if example_key(config, shapes) == key:
                raise finding_type(kind)(f"{kind}: the smallest example seen failing")
            self.stats.shrinks_cut += 1
            return
        result = self.run_one(config, shapes)
        if self.plan.report and steer:  # steer toward slow callbacks and bigger canvases (not when only measuring)
            delays = [d for d in (_callback_delay(result.obs, c) for c in result.obs["chords"]) if d is not None]
            hypothesis.target(max(delays, default=0.0), label="callback delay after the last part (s)")
            hypothesis.target(float(sum(S.task_count(s) for s in shapes)), label="tasks in the example")
        new = [o for o in result.findings if o.kind not in self.known] if self.plan.report else []
        if only is not None:
            new = [o for o in new if o.kind == only]
        if new:
            o = new[0]
            if not self._finding_in_run and self.plan.budget_s:  # a time budget bounds the shrinking too
                self._shrink_until = time.time() + max(SHRINK_MIN_S, SHRINK_SHARE * self.plan.budget_s)
            self._smallest = (o.kind, example_key(config, shapes))
            self._finding_in_run = True
            self.last_failure[o.kind] = (list(shapes), config, result, o)
            self.first_failure_at.setdefault(o.kind, (self.stats.examples, time.time()))
            raise finding_type(o.kind)(f"{o.verdict}: {o.summary}")

    # -- the search --------------------------------------------------------------------------------

    def run(self) -> list[FoundFinding]:
        run = 0
        while self._budget_left():
            if self.plan.max_findings is not None and len(self.found) >= self.plan.max_findings:
                break
            seed = shard_seed(self.plan.seed, run, self.plan.shard)
            run += 1
            self.stats.hypothesis_runs += 1
            if self.plan.in_flight > 1:
                new, errors = self._explore_then_shrink(seed)
            else:
                errors = self._hypothesis_run(seed)
                new = self._collect(errors, seed)
            if not new and not errors:
                continue  # the chunk ran clean: next chunk, next seed
            if not new and all(isinstance(e, BudgetSpent) for e in errors):
                break
        return self.found

    def _chunk_size(self) -> int:
        left = []
        if self.plan.examples is not None:
            left.append(self.plan.examples - self.stats.examples)
        if self._deadline is not None:
            rate = self.stats.examples / self.stats.example_s if self.stats.example_s else 5.0
            left.append(int((self._deadline - time.time()) * rate * 1.2) + MIN_CHUNK)
        return max(1, min([MAX_CHUNK, *left]))

    def _hypothesis_run(self, seed: int) -> list[BaseException]:
        self._finding_in_run, self._shrink_until = False, None
        self.first_failure_at.clear()  # a kind seen in an earlier run and dropped then counts from this run
        self.last_failure.clear()
        strategy = example_strategy(self.plan)

        @hypothesis.seed(seed)
        # no "explain" phase: it reruns the shrunk example with every part varied, which costs real runs
        @settings(max_examples=self._chunk_size(), deadline=None, database=None, print_blob=True,
                  phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
                  verbosity=Verbosity.quiet, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def chords_complete_as_the_oracle_says(example):
            config, shapes = example
            self.check(config, shapes)

        try:
            chords_complete_as_the_oracle_says()
        except BaseException as e:  # noqa: BLE001 - hypothesis raises what the property raised
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            return _flatten(e)
        return []

    # -- chords in flight: explore with many examples at once, then shrink each finding alone ---------

    def _explore_then_shrink(self, seed: int) -> tuple[list[FoundFinding], list[BaseException]]:
        """One hypothesis run with up to ``plan.in_flight`` examples in flight, then, for each new kind of
        finding it saw, in the order first seen, the same seed again with one example at a time, to confirm
        the kind alone and shrink it.  The second run draws the same examples as the first (same seed, same
        answers), so the ones explored are answered from what was seen without being run, until the first
        one that showed the kind: that one runs again, alone.  A kind seen in flight that does not come
        back alone is counted as unconfirmed, not reported: its evidence may have been another example's.
        Once the budget is spent, the kinds left are counted as unshrunk (one at a time, hypothesis stops at
        its first finding, so it would not have seen them either)."""
        self.first_failure_at.clear()
        self.last_failure.clear()
        drawn, errors = self._explore(seed)
        first: dict[str, Drawn] = {}
        for d in drawn:
            for kind in d.kinds or () if self.plan.report else ():
                if kind not in self.known and kind not in first:
                    first[kind] = d
        new: list[FoundFinding] = []
        order = sorted(first.items(), key=lambda kd: kd[1].index)
        try:
            self._shrink_each(seed, drawn, order, new)
        except KeyboardInterrupt:  # the kinds not reached yet were seen: say so in the run's statistics
            for kind, _ in order:
                if kind not in self.known and kind not in self.stats.unconfirmed and kind not in self.stats.unshrunk:
                    self.stats.unshrunk[kind] += 1
            raise
        return new, errors

    def _shrink_each(self, seed: int, drawn: list[Drawn], order: list[tuple[str, Drawn]], new: list[FoundFinding]) -> None:
        for kind, d in order:
            if kind in self.known:
                continue  # found while shrinking another kind
            if self.plan.max_findings is not None and len(self.found) >= self.plan.max_findings:
                break
            if new and not self._budget_left():  # as one at a time: shrinking spends the budget, the first goes on
                self.stats.unshrunk[kind] += 1
                continue
            self.rep.phase(f"confirming {kind} alone, then shrinking it")
            got = self._collect(self._shrink_alone(seed, drawn, d, kind), seed)
            if kind not in {f.kind for f in got}:
                self.stats.unconfirmed[kind] += 1
            new.extend(got)

    def _explore(self, seed: int) -> tuple[list[Drawn], list[BaseException]]:
        """Hypothesis draws examples (generation only: nothing to shrink yet) and each is sent as soon as
        there is room in flight; they are judged as they settle."""
        self._finding_in_run = False
        drawn: list[Drawn] = []
        session = self.session
        t0 = time.time()

        @hypothesis.seed(seed)
        # no target phase: its hill climbing draws candidates by the thousand, most never reaching the property
        # (so no budget check), and steering on what settles later cannot follow the examples in flight anyway
        @settings(max_examples=self._chunk_size(), deadline=None, database=None, phases=(Phase.generate,),
                  verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck))
        @given(example_strategy(self.plan))
        def drawn_examples(example):
            config, shapes = example
            if not self._budget_left(session.in_flight):
                raise BudgetSpent()
            d = Drawn(len(drawn), example_key(config, shapes))
            drawn.append(d)
            target = config_scenario(config) if config is not None else None
            if target is not None and (self._unbooted or target.to_dict() != session.scenario.to_dict()):
                self._unbooted = False
                self._absorb(session.drain())  # a configuration applies to the whole topology: the others first
                try:
                    if session.reconfigure(target):
                        self.stats.reconfigurations += 1
                except ConfigCannotBoot as e:
                    self._unbooted = True  # the topology is half-moved: the next configuration is applied whole
                    d.rejected = True
                    self.stats.unbootable += 1
                    self.rep.phase(f"a drawn configuration did not boot, skipped: {e}")
                    hypothesis.reject()
            self._submit(d, list(shapes))

        errors: list[BaseException] = []
        resets = session.resets
        try:
            try:
                drawn_examples()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # noqa: BLE001 - hypothesis raises what the property raised
                errors = [err for err in _flatten(e) if isinstance(err, BudgetSpent)]
                if not errors:
                    raise
            self._absorb(session.drain())
        finally:  # interrupted too: the time spent and the restarts count in the run's statistics
            self.stats.example_s += time.time() - t0
            self.stats.resets += session.resets - resets
        return drawn, errors

    def _submit(self, d: Drawn, shapes: list[S.Shape]) -> None:
        """Send ``d`` once there is room: fewer than ``in_flight`` examples out, and none of them waiting
        for the workers to be restarted.  Every so often the flight is let empty, so the topology is
        cleaned up (a FLUSHDB cannot run while any example is in flight)."""
        session = self.session
        while session.in_flight >= self.plan.in_flight or (session.in_flight and session.wants_reset()):
            done = session.advance()
            self._absorb(done)
            if self._deadline is not None and time.time() >= self._deadline:
                raise BudgetSpent()  # the time is up while waiting for room: send nothing more
            if not done:
                time.sleep(POLL_S)
        if session.wants_reset() or session.unclean >= CLEAN_EVERY:
            self._absorb(session.drain())
        session.begin_example(shapes, tag=d)
        self.stats.in_flight_peak = max(self.stats.in_flight_peak, session.in_flight)

    def _absorb(self, results: list[ExampleResult]) -> None:
        for result in results:
            result.tag.kinds = tuple(o.kind for o in result.findings)
            self._count(result)
            for o in result.findings:  # when it was first seen, for the finding's record
                if o.kind not in self.known:
                    self.first_failure_at.setdefault(o.kind, (self.stats.examples, time.time()))

    def _shrink_alone(self, seed: int, drawn: list[Drawn], first: Drawn, kind: str) -> list[BaseException]:
        """The same seed again, one example at a time: the explored examples are answered from the
        exploration up to ``first``, which runs for real (and raises if ``kind`` comes back alone; if not,
        the next explored example that showed it runs, and so on); from there hypothesis shrinks as it
        always does, each candidate run alone."""
        self._finding_in_run, self._shrink_until = False, None
        seen = {d.key: d for d in drawn}

        def shows(d: Drawn) -> bool:
            return kind in (d.kinds or ())

        @hypothesis.seed(seed)
        @settings(max_examples=max(1, len(drawn)), deadline=None, database=None, print_blob=True,
                  phases=(Phase.generate, Phase.shrink), verbosity=Verbosity.quiet,
                  report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck))
        @given(example_strategy(self.plan))
        def alone(example):
            config, shapes = example
            d = seen.get(example_key(config, shapes))
            if d is not None and d.rejected:
                hypothesis.reject()
            if not self._finding_in_run and (d is None or (d is not first and not shows(d))):
                return  # explored already, and clean; or drawn past what was explored
            self.check(config, shapes, budget=False, only=kind, steer=False)

        try:
            alone()
        except BaseException as e:  # noqa: BLE001 - hypothesis raises what the property raised
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            return _flatten(e)
        return []

    def _collect(self, errors: list[BaseException], seed: int) -> list[FoundFinding]:
        new = []
        for e in errors:
            flaky = isinstance(e, Flaky)
            inner = _flatten(e) if flaky and isinstance(e, BaseExceptionGroup) else [e]
            for err in inner:
                if isinstance(err, BudgetSpent) or not isinstance(err, Finding):
                    if not isinstance(err, (Finding, BudgetSpent)):
                        raise err
                    continue
                kind = err.kind
                if kind in self.known or kind not in self.last_failure:
                    continue
                shapes, config, result, outcome = self.last_failure[kind]
                n_before, t_first = self.first_failure_at[kind]
                scenario = config_scenario(config) if config is not None else self.session.scenario
                found = FoundFinding(kind=kind, outcome=outcome, shapes=shapes, config=config, scenario=scenario,
                                     result=result, seed=seed, blob=_blob(e) or _blob(err),
                                     examples_before=n_before, found_after_s=t_first - self.stats.started,
                                     shrink_s=time.time() - t_first, flaky_in_hypothesis=flaky)
                self.rep.phase(f"replaying the shrunk {kind} finding {self.plan.replays} times")
                found.replay = self.replay(found)
                self.known.add(kind)
                self.found.append(found)
                new.append(found)
                if self.on_found is not None:
                    self.on_found(found)
                self.rep.finding(found)
        return new

    def replay(self, found: FoundFinding, runs: int | None = None) -> dict[str, Any]:
        """Run the shrunk example again ``runs`` times; how often does the same kind come back?"""
        runs = self.plan.replays if runs is None else runs
        return replay_example(self.session, found.shapes, found.config, found.kind, runs)


def replay_example(session: FuzzSession, shapes: list[S.Shape], config: S.FuzzConfig | None, kind: str,
                   runs: int, on_run: Callable[[ExampleResult], None] | None = None) -> dict[str, Any]:
    """Rerun an example ``runs`` times on ``session``; count the runs that show ``kind`` again."""
    kinds = []
    for _ in range(runs):
        if config is not None:
            session.reconfigure(config_scenario(config))
        result = session.run_example(shapes)
        if on_run:
            on_run(result)
        got = [o.kind for o in result.outcomes if o.finding]
        kinds.append(kind if kind in got else (got[0] if got else "as-expected"))
    reproduced = sum(1 for k in kinds if k == kind)
    return {"runs": runs, "reproduced": reproduced, "rate": reproduced / runs if runs else None,
            "flaky": reproduced < runs, "seen": kinds}


def _callback_delay(obs: dict, c: dict) -> float | None:
    """Seconds from the last header part's end to the callback's start (None if either is missing)."""
    ends = [e["t"] for e in obs["ledger"] if e["event"] == "end" and e.get("task_id") in set(c["header_ids"])]
    start = next((e["t"] for e in obs["ledger"] if e["event"] == "start" and e.get("task_id") == c["chord_id"]), None)
    if start is None or not ends:
        return None
    return max(0.0, start - max(ends))


def _flatten(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        out = []
        for sub in e.exceptions:
            out.extend(_flatten(sub))
        return out
    return [e]


def _blob(e: BaseException) -> str | None:
    for note in getattr(e, "__notes__", None) or []:
        m = re.search(r"@reproduce_failure\(('[^']*'), (b'[^']*')\)", note)
        if m:
            return f"@reproduce_failure({m.group(1)}, {m.group(2)})"
    return None


def _defines(modules: tuple[str, ...], task: str) -> bool:
    """True if one of ``modules`` defines ``task`` itself (a worker's own deploy, read from its source:
    importing it here would register its tasks in the producer)."""
    import ast
    import importlib.util

    for mod in modules:
        spec = importlib.util.find_spec(mod)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        tree = ast.parse(open(spec.origin).read())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                names = [k.value.value for k in getattr(deco, "keywords", [])
                         if k.arg == "name" and isinstance(k.value, ast.Constant)]
                if task in names or (not names and task == f"{mod}.{node.name}"):
                    return True
    return False


def shapes_topology(base: Scenario) -> tuple[Scenario, tuple[str | None, ...]]:
    """The base scenario's topology, ready for fuzzed chords, and the queues its workers consume.

    Fuzzed header tasks (``fuzz.*``) are routed where the base scenario's header task goes, and the fuzzed
    callback (``fuzz.total``) where its callback goes, so a broken route of the base breaks fuzzed chords
    the same way.  Every worker also imports ``lab.apps.fuzz``; a worker whose own deploy lacks the base's
    callback task imports ``lab.apps.fuzz_stale`` instead (no ``fuzz.total``), so a stale deploy stays stale.
    """
    import dataclasses

    from celery import Celery

    from lab.errors import LabError
    from lab.drive.send import routed_queue

    app = Celery("fuzz-routing", set_as_current=False)
    app.conf.update({**base.config, "broker_url": "memory://", "result_backend": "cache+memory://"})
    default = app.conf.task_default_queue
    first = base.chords[0]
    header_q = routed_queue(app, first.header_task, first.part_options) or default
    callback_q = routed_queue(app, first.callback, first.callback_options) or default
    routes: dict[str, Any] = {}
    if callback_q != default or header_q != default:
        routes["fuzz.total"] = {"queue": callback_q}
    if header_q != default:
        routes["fuzz.*"] = {"queue": header_q}
    config = dict(base.config)
    if routes:
        base_routes = config.get("task_routes") or {}
        if not isinstance(base_routes, dict):
            raise LabError(f"scenario {base.name!r}: task_routes is a {type(base_routes).__name__}; the fuzzer mirrors "
                           "only a dict of routes onto its tasks, so give the scenario a dict.")
        config["task_routes"] = {**routes, **base_routes}
    fuzz = "lab.apps.fuzz"
    workers = tuple(dataclasses.replace(w, tasks=(*w.tasks, fuzz if _defines(w.tasks, first.callback) else "lab.apps.fuzz_stale"))
                    if w.tasks and fuzz not in w.tasks else w for w in base.workers)
    tasks = base.tasks if fuzz in base.tasks else (*base.tasks, fuzz)
    consumed = tuple(sorted({q for w in base.workers for q in (w.queues or (default,))}))
    scenario = dataclasses.replace(base, name=f"fuzz-{base.name}"[:60], config=config, workers=workers, tasks=tasks,
                                   faults=(), description=f"fuzzed chords on the topology of {base.name}")
    return scenario, consumed
