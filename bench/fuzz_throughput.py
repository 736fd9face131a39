"""Benchmark: chords per second through the fuzzer, against bare Celery sending the same chords.

    python bench/fuzz_throughput.py [--examples 300] [--seed 1] [--rounds 2] [--json]

Where it sits: outside the lab's flow, measuring it.  One healthy topology
(``scenarios/healthy.py`` as the fuzzer runs it: one worker, ``-c 2``, its own
redis-server) is brought up once by a fuzz session, and on it, in one run:

1. **fuzzer**: hypothesis draws ``--examples`` examples of small chords (plain
   tasks that return at once, no options, up to 4 header tasks; flat chords
   up to 3 per example, then up to 8 per example, then nested shapes); each is sent, waited on through the ledger, probed and
   judged against its oracle, and the topology is cleaned for the next one.
   Findings are judged but not raised and nothing is steered
   (``FuzzPlan(report=False)``), so the same seed draws the same chords every
   round and no shrinking changes the workload.  The chords it sent are
   recorded.
2. **bare Celery**: the same chords, in the same batches, sent by a plain
   Celery app with the same config, with no lab around them (the lab's
   publish signals disconnected, no ledger reading, no probing, no judging):
   ``apply_async()`` each chord of a batch, then ``AsyncResult.get()`` each
   callback.

Both are run ``--rounds`` times, interleaved (fuzzer, bare, fuzzer, bare...),
and the best round of each is kept, so load from elsewhere on the machine
counts against neither.  It prints chords per second for both and the ratio
(the fuzzer's time per chord over bare Celery's).  Then, for information,
chords per second through the fuzzer with its default strategy (every
behaviour, options and sleeps), which bare Celery cannot wait on (some of
those chords are stuck by design).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import signals  # noqa: E402

from lab.observe import ledger  # noqa: E402
from lab.runtime.celery_app import build_app, release  # noqa: E402
from lab.fuzz import strategies as S  # noqa: E402
from lab.fuzz.search import FuzzPlan, Reporter, Search, shapes_topology  # noqa: E402
from lab.fuzz.session import FuzzSession  # noqa: E402
from lab.scenario import load  # noqa: E402

SMALL = dict(behaviours=("ok",), options=False, max_chords=3, max_header=4, nested=False)
CASES = {  # label: strategy
    "small flat chords, up to 3 per example (the default batch)": SMALL,
    "small flat chords, up to 8 per example": {**SMALL, "max_chords": 8},
    "small nested chords, up to 3 per example": {**SMALL, "nested": True, "max_leaves": 4},
}


class Recorder(Reporter):
    def __init__(self):
        self.batches: list[list[S.ChordShape]] = []

    def example(self, stats, result, findings: int) -> None:
        self.batches.append(list(result.shapes))


def fuzz_round(session: FuzzSession, consumed, examples: int, seed: int, **strategy) -> tuple[float, int, Recorder, Search]:
    rec = Recorder()
    plan = FuzzPlan(examples=examples, seed=seed, queues=(None, *consumed), replays=1, report=False, **strategy)
    search = Search(plan, session, rec)
    t0 = time.perf_counter()
    search.run()
    return time.perf_counter() - t0, search.stats.chords, rec, search


def bare_round(session: FuzzSession, batches: list[list[S.ChordShape]]) -> tuple[float, int]:
    """The same chords through a plain Celery app: send a batch, wait for each callback with .get()."""
    publish_hooks = ("lab-ledger-publish", "lab-fuzz-roots")
    for uid in publish_hooks:
        signals.after_task_publish.disconnect(dispatch_uid=uid)
    app = build_app(session.topo.producer_spec, main="bare")
    chords = 0
    try:
        t0 = time.perf_counter()
        for batch in batches:
            results = []
            for shape in batch:
                try:
                    results.append(S.build(app, shape).apply_async())
                except Exception:  # a canvas Celery refuses (the fuzzer's failed/apply-raised): nothing to wait on
                    pass
            for r in results:
                r.get(timeout=60, propagate=False, disable_sync_subtasks=False)
            chords += len(batch)
            del results
        elapsed = time.perf_counter() - t0
    finally:
        release(app)
        ledger.connect_signals()
        signals.after_task_publish.connect(session._on_publish, weak=False, dispatch_uid="lab-fuzz-roots")
        session.app = build_app(session.topo.producer_spec)  # the fuzzer's producer app, current again
    return elapsed, chords


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--topology", default="healthy")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("LAB_RESULTS", tempfile.mkdtemp(prefix="lab-bench-"))
    scenario, consumed = shapes_topology(load(args.topology))
    figures = {}
    with FuzzSession(scenario, label="bench") as session:
        boot = session.boots[0]["s"]
        for label, strategy in CASES.items():
            fuzz_runs, bare_runs = [], []
            for r in range(args.rounds):
                elapsed, chords, rec, _ = fuzz_round(session, consumed, args.examples, args.seed, **strategy)
                fuzz_runs.append((elapsed, chords))
                b_elapsed, b_chords = bare_round(session, rec.batches)
                bare_runs.append((b_elapsed, b_chords))
                print(f"{label}, round {r + 1}: fuzzer {chords} chords in {elapsed:6.2f} s ({chords / elapsed:5.1f}/s); "
                      f"bare Celery {b_chords} in {b_elapsed:6.2f} s ({b_chords / b_elapsed:5.1f}/s)", flush=True)
            fuzz_best = min(fuzz_runs, key=lambda x: x[0] / x[1])
            bare_best = min(bare_runs, key=lambda x: x[0] / x[1])
            fuzz_rate, bare_rate = fuzz_best[1] / fuzz_best[0], bare_best[1] / bare_best[0]
            figures[label] = {"fuzzer_chords_per_s": round(fuzz_rate, 1), "bare_chords_per_s": round(bare_rate, 1),
                              "overhead_ratio": round(bare_rate / fuzz_rate, 2),
                              "fuzzer_rounds": [[round(e, 2), c] for e, c in fuzz_runs],
                              "bare_rounds": [[round(e, 2), c] for e, c in bare_runs]}
        d_elapsed, d_chords, _, d_search = fuzz_round(session, consumed, args.examples, args.seed)
    result = {"topology": args.topology, "examples": args.examples, "seed": args.seed, "rounds": args.rounds,
              "boot_s": round(boot, 2), "cpus": os.cpu_count(), **figures,
              "default strategy": {"fuzzer_chords_per_s": round(d_chords / d_elapsed, 1), "chords": d_chords,
                                   "elapsed_s": round(d_elapsed, 2), "verdicts": dict(d_search.stats.verdicts)}}
    print()
    for label, f in figures.items():
        print(f"{label} on {args.topology}: fuzzer {f['fuzzer_chords_per_s']} chords/s, bare Celery "
              f"{f['bare_chords_per_s']} chords/s, overhead {f['overhead_ratio']}x "
              f"(best of {args.rounds} rounds, {args.examples} examples each)")
    print(f"default strategy (every behaviour, options, sleeps, nesting): fuzzer {d_chords / d_elapsed:.1f} chords/s")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
