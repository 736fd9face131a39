"""Benchmark: the fuzzer with chords in flight, and on every core, against itself one example at a time.

    python bench/fuzz_in_flight.py [--examples 100] [--in-flight 8] [--rounds 2] [--core-examples 200]
                                   [--jobs-examples 200] [--json]

Where it sits: outside the lab's flow, measuring it.  In one run, side by side:

1. **in flight** (one fuzz session on ``healthy``, the topology up once): the same
   examples (``FuzzPlan(report=False)``: judged, nothing raised or steered, so one
   seed draws the same examples both ways) at ``--in-flight 1`` (each example waits
   for the one before: the engine as it was) and at ``--in-flight N``; for the
   default strategy (every behaviour, options, sleeps, nesting) and for small flat
   chords (tasks that return at once, up to 3 chords of up to 4 parts per example).
   Rounds alternate (1, N, 1, N...); the best round of each is kept.
2. **the ceiling**: the small flat chords of the last round, every one sent at once
   by a plain Celery app on the same topology (no ledger reading, no judging), then
   every callback's ``get()``: what the topology itself does, in chords and tasks per
   second.
3. **every core, the default strategy** (the issue's goal: 3x the engine as it was, on 2 cores):
   the same number of examples explored (judged, nothing raised, as in 1) by one child process
   at ``--in-flight 1`` (the engine as it was), one at ``--in-flight N``, and two at ``N``.  Each
   child is its own session on its own topology (its own redis-server and worker, as ``--jobs``
   gives them) with its own share of the seeds (``shard_seed``).  The children boot, say they
   are ready, and start together on a word from this process, which times from that word to the
   last child's figures: the boots are left out, so what differs is only the work done at once.
   The default strategy's tasks sleep (durations, soft time limits), so one worker's two pool
   slots bound it; a second job brings a second worker.
4. **every core, the whole command**: the whole command ``python -m lab fuzz healthy --behaviours ok
   --flat --no-options --examples E --in-flight N`` with ``--jobs 1`` against
   ``--jobs 2`` (each job its own topology and store), alternating, wall time from
   start to exit, boots included.  Small flat chords find nothing on healthy, so
   no shrinking changes the work.

It prints every figure and the ratios; BENCHMARKS.md has a run of it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import signals  # noqa: E402

from lab.fuzz import strategies as S  # noqa: E402
from lab.fuzz.search import FuzzPlan, Reporter, Search, shapes_topology, shard_seed  # noqa: E402
from lab.fuzz.session import FuzzSession  # noqa: E402
from lab.observe import ledger  # noqa: E402
from lab.runtime.celery_app import build_app, release  # noqa: E402
from lab.scenario import load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMALL = dict(behaviours=("ok",), options=False, max_chords=3, max_header=4, nested=False)
CASES = {"default strategy": {}, "small flat chords": SMALL}


class _Batches(Reporter):
    def __init__(self):
        self.batches: list[list[S.Shape]] = []
        self.tasks = 0

    def example(self, stats, result, findings: int) -> None:
        self.batches.append(list(result.shapes))
        self.tasks += sum(S.task_count(s) + 1 for s in result.shapes)  # its parts and its callback


def fuzz_round(session: FuzzSession, consumed, examples: int, seed: int, in_flight: int, **strategy):
    rep = _Batches()
    plan = FuzzPlan(examples=examples, seed=seed, queues=(None, *consumed), report=False, in_flight=in_flight,
                    **strategy)
    search = Search(plan, session, rep)
    t0 = time.perf_counter()
    search.run()
    return time.perf_counter() - t0, search.stats, rep


def ceiling(session: FuzzSession, batches: list[list[S.Shape]]) -> tuple[float, int, int]:
    """Every chord sent at once by a plain Celery app, then every callback's get(): (seconds, chords, tasks)."""
    hooks = ("lab-ledger-publish", "lab-fuzz-roots")
    for uid in hooks:
        signals.after_task_publish.disconnect(dispatch_uid=uid)
    app = build_app(session.topo.producer_spec, main="bare")
    shapes = [s for b in batches for s in b]
    try:
        t0 = time.perf_counter()
        results = [S.build(app, s).apply_async() for s in shapes]
        for r in results:
            r.get(timeout=120, propagate=False, disable_sync_subtasks=False)
        elapsed = time.perf_counter() - t0
        del results
    finally:
        release(app)
        ledger.connect_signals()
        signals.after_task_publish.connect(session._on_publish, weak=False, dispatch_uid="lab-fuzz-roots")
        session.app = build_app(session.topo.producer_spec)
    return elapsed, len(shapes), sum(S.task_count(s) + 1 for s in shapes)


def whole_command(jobs: int, examples: int, in_flight: int, seed: int) -> tuple[float, int, int | None]:
    """``lab fuzz`` as a user runs it, with its own stores: (wall seconds, chords, exit code)."""
    store = tempfile.mkdtemp(prefix=f"lab-bench-jobs{jobs}-")
    env = {**os.environ, "LAB_RESULTS": f"{store}/results", "LAB_FINDINGS": f"{store}/findings"}
    argv = [sys.executable, "-m", "lab", "fuzz", "healthy", "--behaviours", "ok", "--flat", "--no-options",
            "--examples", str(examples), "--seed", str(seed), "--in-flight", str(in_flight), "--jobs", str(jobs),
            "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    try:
        last = json.loads(done.stdout.strip().splitlines()[-1])
        chords = int(last["stats"]["chords"])
    except (IndexError, ValueError, KeyError):
        raise SystemExit(f"lab fuzz --jobs {jobs} printed no JSON line (exit {done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-400:]}") from None
    return wall, chords, done.returncode


def child(examples: int, seed: int, in_flight: int) -> int:
    """``--child``: one session up, "ready" on stdout, then the default strategy's exploration on a line
    from stdin; its figures as one JSON line."""
    scenario, consumed = shapes_topology(load("healthy"))
    with FuzzSession(scenario, label="bench-child") as session:
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
        elapsed, stats, rep = fuzz_round(session, consumed, examples, seed, in_flight)
        print(json.dumps({"elapsed_s": elapsed, "chords": stats.chords, "tasks": rep.tasks,
                          "verdicts": dict(stats.verdicts)}), flush=True)
    return 0


def every_core(jobs: int, examples: int, seed: int, in_flight: int) -> tuple[float, int, int]:
    """``jobs`` children sharing ``examples`` (each its own topology and seed), started together:
    (seconds from the start word to the last child's figures, chords, tasks)."""
    share = [examples // jobs + (1 if k < examples % jobs else 0) for k in range(jobs)]
    children = []
    try:
        for k in range(jobs):
            env = {**os.environ, "LAB_RESULTS": tempfile.mkdtemp(prefix=f"lab-bench-core{k}-")}
            argv = [sys.executable, __file__, "--child", "--examples", str(share[k]),
                    "--seed", str(shard_seed(seed, 0, (k + 1, jobs))), "--in-flight", str(in_flight)]
            children.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, text=True))
        for c in children:
            line = c.stdout.readline().strip()
            if line != "ready":
                raise SystemExit(f"a bench child did not come up (it printed {line!r}, exit {c.poll()})")
        t0 = time.perf_counter()
        for c in children:
            c.stdin.write("go\n")
            c.stdin.flush()
        figures = [json.loads(c.stdout.readline()) for c in children]
        elapsed = time.perf_counter() - t0
        for c in children:
            c.wait(timeout=120)
    finally:
        for c in children:
            if c.poll() is None:
                c.terminate()
                c.wait(timeout=60)
    return elapsed, sum(f["chords"] for f in figures), sum(f["tasks"] for f in figures)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--in-flight", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--jobs-examples", type=int, default=200, help="examples of the whole-command runs (0: skip)")
    ap.add_argument("--core-examples", type=int, default=200,
                    help="examples of the default strategy's every-core runs (0: skip)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.examples, args.seed, args.in_flight)
    os.environ.setdefault("LAB_RESULTS", tempfile.mkdtemp(prefix="lab-bench-"))
    scenario, consumed = shapes_topology(load("healthy"))
    t_start = time.time()
    load_start = os.getloadavg()
    figures: dict = {"cpus": os.cpu_count(), "examples": args.examples, "seed": args.seed, "in_flight": args.in_flight}
    with FuzzSession(scenario, label="bench") as session:
        last_small = None
        for label, strategy in CASES.items():
            runs: dict[int, list] = {1: [], args.in_flight: []}
            for r in range(args.rounds):
                for n in (1, args.in_flight):
                    elapsed, stats, rep = fuzz_round(session, consumed, args.examples, args.seed, n, **strategy)
                    runs[n].append((elapsed, stats.chords, rep.tasks, dict(stats.verdicts)))
                    print(f"{label}, round {r + 1}, in flight {n:2d}: {stats.chords} chords in {elapsed:6.2f} s "
                          f"({stats.chords / elapsed:5.1f}/s)", flush=True)
                    if label == "small flat chords":
                        last_small = rep.batches
            best = {n: min(v, key=lambda x: x[0] / x[1]) for n, v in runs.items()}
            rate = {n: b[1] / b[0] for n, b in best.items()}
            same = all(v[3] == runs[1][0][3] for vs in runs.values() for v in vs)
            figures[label] = {"chords_per_s": {str(n): round(x, 1) for n, x in rate.items()},
                              "tasks_per_s": {str(n): round(b[2] / b[0], 1) for n, b in best.items()},
                              "ratio": round(rate[args.in_flight] / rate[1], 2), "same_verdicts": same,
                              "rounds": {str(n): [[round(e, 2), c] for e, c, _, _ in v] for n, v in runs.items()}}
        c_s, c_chords, c_tasks = ceiling(session, last_small)
        figures["ceiling"] = {"chords_per_s": round(c_chords / c_s, 1), "tasks_per_s": round(c_tasks / c_s, 1),
                              "chords": c_chords, "elapsed_s": round(c_s, 2)}
        print(f"ceiling: the same small flat chords sent at once by plain Celery: {c_chords} in {c_s:.2f} s "
              f"({c_chords / c_s:.1f} chords/s, {c_tasks / c_s:.0f} tasks/s)", flush=True)
    if args.core_examples:  # the question: on 2 cores, against the engine as it was
        ways = ((1, 1), (1, args.in_flight), (2, args.in_flight))  # (jobs, in flight)
        core_runs: dict[tuple[int, int], list] = {w: [] for w in ways}
        for r in range(args.rounds):
            for j, n in ways:
                elapsed, chords, tasks = every_core(j, args.core_examples, args.seed, n)
                core_runs[(j, n)].append((elapsed, chords, tasks))
                print(f"default strategy, {j} job(s), in flight {n:2d}, round {r + 1}: {chords} chords in "
                      f"{elapsed:6.2f} s ({chords / elapsed:5.1f}/s)", flush=True)
        best_c = {w: min(v, key=lambda x: x[0] / x[1]) for w, v in core_runs.items()}
        rate_c = {w: b[1] / b[0] for w, b in best_c.items()}
        key = {w: f"jobs {w[0]}, in flight {w[1]}" for w in ways}
        figures["every core"] = {"examples": args.core_examples,
                                 "chords_per_s": {key[w]: round(x, 1) for w, x in rate_c.items()},
                                 "tasks_per_s": {key[w]: round(b[2] / b[0], 1) for w, b in best_c.items()},
                                 "jobs_ratio": round(rate_c[ways[2]] / rate_c[ways[1]], 2),
                                 "against_the_engine_as_it_was": round(rate_c[ways[2]] / rate_c[ways[0]], 2),
                                 "rounds": {key[w]: [[round(e, 2), c] for e, c, _ in v] for w, v in core_runs.items()}}
    if args.jobs_examples:
        jobs_runs: dict[int, list] = {1: [], 2: []}
        for r in range(args.rounds):
            for j in (1, 2):
                wall, chords, code = whole_command(j, args.jobs_examples, args.in_flight, args.seed)
                jobs_runs[j].append((wall, chords))
                print(f"lab fuzz --jobs {j}, round {r + 1}: {chords} chords in {wall:6.2f} s ({chords / wall:5.1f}/s), "
                      f"exit {code}", flush=True)
        best_j = {j: min(v, key=lambda x: x[0] / x[1]) for j, v in jobs_runs.items()}
        figures["jobs"] = {"examples": args.jobs_examples,
                           "chords_per_s": {str(j): round(b[1] / b[0], 1) for j, b in best_j.items()},
                           "ratio": round((best_j[2][1] / best_j[2][0]) / (best_j[1][1] / best_j[1][0]), 2),
                           "rounds": {str(j): [[round(w, 2), c] for w, c in v] for j, v in jobs_runs.items()}}
    figures["took_s"] = round(time.time() - t_start, 1)
    figures["load_average"] = {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]}
    print()
    for label in CASES:
        f = figures[label]
        print(f"{label}: in flight 1 {f['chords_per_s']['1']} chords/s, in flight {args.in_flight} "
              f"{f['chords_per_s'][str(args.in_flight)]} chords/s: {f['ratio']}x; the same verdicts: {f['same_verdicts']}")
    small = figures["small flat chords"]["chords_per_s"][str(args.in_flight)]
    print(f"small flat chords in flight against the ceiling: {small} / {figures['ceiling']['chords_per_s']} chords/s "
          f"= {small / figures['ceiling']['chords_per_s']:.2f}")
    if "every core" in figures:
        c = figures["every core"]
        print("default strategy, " + ", ".join(f"{k}: {v} chords/s" for k, v in c["chords_per_s"].items())
              + f"; 2 jobs against 1: {c['jobs_ratio']}x; against 1 job in flight 1: {c['against_the_engine_as_it_was']}x")
    if "jobs" in figures:
        j = figures["jobs"]
        print(f"lab fuzz --jobs 1 {j['chords_per_s']['1']} chords/s, --jobs 2 {j['chords_per_s']['2']} chords/s: {j['ratio']}x")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
