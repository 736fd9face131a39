"""A fuzz session: one running topology that runs many examples without rebooting.

    strategies → **session** (topology up once → chords sent → observations → verdicts) → findings

``lab.experiments.run.run_scenario`` boots a topology per run (about 0.7 s).  A fuzzer that
did the same would spend its time booting, so a session brings the topology up
once (``lab.runtime.process.topology.bring_up``, every process owned by one ``ProcessOwner``)
and then, per example:

1. sends the example's chords (shapes built into Celery canvases) with the
   producer app of the topology, and writes down each chord's oracle;
2. waits on evidence only, never a fixed sleep: the example is over when the
   ledger shows every published task ended, or parked in a queue that no
   worker consumes, or discarded; or, once the ledger has been still for a
   while, when the broker shows the rest are nowhere (lost); or at a bound.
   A task that raised ``Reject`` is finished off by its worker's main process
   after its own end (Celery 5.7 records a FAILURE there and counts the part),
   so then it also waits for that FAILURE and for the backend to be still
   (asked at each poll, so other examples in flight are not held up);
3. probes what the verdict needs (the backend metas only, when every callback
   ran; the broker, the workers and the logs too, when one did not), and
   judges every chord (``lab.fuzz.oracle``, on top of ``lab.judge``);
4. leaves the topology clean for the next example: parked messages are
   deleted, the result backend is flushed; if something was still in flight
   at the bound, the workers are restarted.

``reconfigure`` moves the session to another scenario, restarting only what
changed: Redis options are set live (``CONFIG SET``), a worker is restarted
only if its command line, code or config changed, the producer app is rebuilt
(cheap).  The observations of each example have the same form as a run's, so
``lab.judge`` judges them and a finding stores them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from lab import records
from lab.observe import ledger
from lab.observe import probe as observe
from lab.runtime.process import services as brokers
from lab.runtime.celery_app import app_spec, build_app, release
from lab.errors import LabSetupError
from lab.fuzz import oracle as oracle_mod
from lab.fuzz.strategies import Shape, build, to_data
from lab.observe.backend import task_metas
from lab.runtime.process.processes import NodeNotReady, ProcessOwner
from lab.runtime.base import Run
from lab.runtime.process.runtime import ProcessRuntime
from lab.scenario import Scenario, Worker
from lab.drive.send import chord_size_ttls, routed_queue
from lab.runtime.process.topology import WORKER_READY_TIMEOUT, Topology, WorkerNode, _pythonpath, _worker_argv

POLL_S = 0.005  # the ledger is read this often while an example runs: a chord takes a few ms per task
IDLE_BEFORE_LOST_S = 1.0  # ledger still this long with tasks unaccounted for: look for them in the broker
UNLOCK_RUNS_STUCK = 3  # chord_unlock retried this often after everything else ended: it retries forever
BASE_BOUND_S = 12.0  # an example's bound, plus the sleeps its shapes ask for: past it, judge what is there
REJECT_META_BOUND_S = 1.0  # the longest wait for a worker's main process to finish off a rejected task
STABLE_S = 0.03  # two reads of the backend this far apart, the same: the main process is done


@dataclass
class ExampleResult:
    """One example: what was sent, what was seen, and a judgement per chord."""

    shapes: list[Shape]
    outcomes: list[oracle_mod.ChordOutcome]
    obs: dict[str, Any]
    elapsed_s: float
    settled: str  # how the wait ended: quiescent, lost, unlock-retrying, bound
    reset: bool = False  # the topology had to be restarted afterwards
    timings: dict[str, float] = field(default_factory=dict)
    tag: Any = None  # what ``begin_example`` was given as its tag

    @property
    def findings(self) -> list[oracle_mod.ChordOutcome]:
        return [o for o in self.outcomes if o.finding]


@dataclass(eq=False)
class InFlight:
    """An example sent and not yet judged: what was sent, and the ledger events that are its own."""

    shapes: list[Shape]
    sent: list[dict[str, Any]]
    t0: float
    t_sent: float
    bound: float
    log_marks: dict[str, int]
    size_ttls: list = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    changed: bool = False
    last_change: float = 0.0
    lost_checked: float = 0.0
    pending: list[tuple[str, str, bool]] | None = None
    unlock_runs: int = 0
    judged: bool = False
    t_judged: float = 0.0
    overlapped: bool = False  # another example was in flight during its run
    reject_since: float = 0.0  # when it first had nothing left in flight but rejected tasks' metas to wait for
    reject_snapshot: Any = None
    reject_snap_t: float = 0.0
    tag: Any = None  # the caller's name for it, handed back on its result


class ConfigCannotBoot(LabSetupError):
    """A drawn configuration whose workers do not start (for example Redis full under noeviction)."""


def _final_results(result) -> list:
    """The results that are a canvas's result, in order: itself, or each leaf of a group result."""
    if getattr(result, "results", None) is not None:
        return [leaf for r in result.results for leaf in _final_results(r)]
    return [result]


def _leaf_ids(result) -> list[str]:
    """The task ids a chord counts, in header order: a group result inside the header (a chain that ends
    in a group) counts each of its tasks."""
    ids = []
    for r in getattr(result, "results", None) or []:
        ids.extend(_leaf_ids(r) if getattr(r, "results", None) is not None else [r.id])
    return ids


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _ids_of(sent: list[dict], events: list[dict]) -> set[str]:
    ids = {e.get("task_id") for e in events} | {e.get("group_id") for e in events}
    ids |= {c["chord_id"] for c in sent} | {h for c in sent for h in c["header_ids"]} | {c.get("group_id") for c in sent}
    return {i for i in ids if i}


def _own_lines(logs: dict[str, list[str]], ids: set[str]) -> dict[str, list[str]]:
    """The log lines of one example among several in flight: those naming one of its ids, and those
    naming no id at all (they cannot be told apart, so each example sees them)."""
    out = {}
    for name, lines in logs.items():
        out[name] = [ln for ln in lines if not (named := set(_UUID.findall(ln))) or named & ids]
    return out


def _spec_key(spec: dict[str, Any]) -> dict[str, Any]:
    """What of a worker's app spec needs a restart when it changes (its node name does not)."""
    return {k: v for k, v in spec.items() if k != "node"}


class FuzzSession:
    """A reusable topology for fuzzing.  Use as a context manager; every process dies with it."""

    def __init__(self, scenario: Scenario, *, label: str = "fuzz", on_step: Callable[[str], None] | None = None):
        self.scenario = scenario
        self.run_id = records.new_run_id(label)
        self.run_dir = records.run_dir_for(self.run_id)
        self.say = on_step or (lambda msg: None)
        self.owner: ProcessOwner | None = None
        self.topo: Topology | None = None
        self.app = None
        self.watch: observe.LedgerWatch | None = None
        self.consumers: dict[str, list[str]] = {}
        self.generation = 0
        self.boots: list[dict[str, Any]] = []  # what was (re)started, when, how long it took
        self.examples = 0
        self.chords_sent = 0
        self._publishing: set[str] | None = None
        self._workers: dict[str, Any] = {}  # the workers probe of the running generation
        self._flight: list[InFlight] = []  # examples sent and not yet judged, oldest first
        self._by_root: dict[str, InFlight] = {}
        self._by_task: dict[str, InFlight] = {}
        self._dirty: list[dict] = []  # publish events of judged examples not yet cleaned up after
        self._dirty_settled = "quiescent"  # the worst way one of them settled
        self.unclean = 0  # examples sent since the topology was last cleaned up
        self.resets = 0  # times the workers were restarted to clean up after an example

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> "FuzzSession":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack()
        try:
            t0 = time.time()
            # the process runtime brings the topology up and takes it down (processes, vhost, database)
            place = Run(self.scenario, self.run_id, self.run_dir, t0)
            self.topo = self._stack.enter_context(ProcessRuntime().up(self.scenario, place, self.say))
            self.owner = self.topo.owner
            self.boots.append({"t": t0, "what": "topology", "s": time.time() - t0})
            ledger.configure(self.run_dir / "ledger", "producer")
            ledger.connect_signals()
            from celery import signals

            signals.after_task_publish.connect(self._on_publish, weak=False, dispatch_uid="lab-fuzz-roots")
            self.watch = observe.LedgerWatch(self.run_dir / "ledger")
            self._build_producer()
            self._learn_consumers()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.app is not None:
            consumer = getattr(self.app.backend, "result_consumer", None)
            release(self.app)
            if consumer is not None:  # an AsyncResult collected later must not try to unsubscribe from a gone Redis
                consumer.subscribed_to.clear()
            self.app = None
        ledger.configure(None, "producer")
        from celery import signals

        signals.after_task_publish.disconnect(dispatch_uid="lab-fuzz-roots")
        stack, self._stack = getattr(self, "_stack", None), None
        if stack is not None:
            stack.close()

    def _on_publish(self, sender=None, headers=None, **_) -> None:
        """Every root id the producer publishes while sending one chord: the chord's tasks carry one of them."""
        if self._publishing is not None and headers:
            self._publishing.add(headers.get("root_id") or headers.get("id"))

    def discard_artifacts(self) -> None:
        """Remove the session's run folder (logs, ledger) once nothing refers to it."""
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def _build_producer(self) -> None:
        if self.app is not None:
            release(self.app)
        self.app = build_app(self.topo.producer_spec)

    def _learn_consumers(self) -> None:
        """Which queues each worker consumes, asked once per (re)start: it decides what counts as parked."""
        n = len(self.topo.workers)
        deadline = time.time() + WORKER_READY_TIMEOUT
        while True:
            probe = observe.probe_workers(self.app, n)
            self.consumers = probe.get("consumers") or {}
            self._workers = probe
            if len(self.consumers) >= n or time.time() >= deadline:
                return
            time.sleep(0.05)

    # -- reconfiguring: restart only what changed -------------------------------------------------

    def reconfigure(self, scenario: Scenario) -> list[str]:
        """Move to ``scenario``'s topology; return what was restarted or changed."""
        old, topo = self.scenario, self.topo
        changed: list[str] = []
        if scenario.broker != old.broker:
            raise LabSetupError("a fuzz session cannot change the broker kind; start another session.")
        if scenario.redis_options != old.redis_options:
            client = topo.redis.client(0)
            wanted = {"maxmemory": "0", "maxmemory-policy": "noeviction", **{k: str(v) for k, v in scenario.redis_options.items()}}
            for key in sorted(set(old.redis_options) | set(wanted)):
                client.config_set(key, wanted.get(key, ""))
            topo.redis.options = dict(scenario.redis_options)
            changed.append("redis options " + json.dumps(scenario.redis_options))
        backend_changed = scenario.backend != old.backend
        if backend_changed:
            if scenario.backend == "redis":
                topo.result_backend = topo.redis.url(1)
            elif scenario.backend == "database":
                topo.result_backend, topo.extras["database"] = brokers.database_url(self.run_id, self.run_dir)
            else:
                raise LabSetupError(f"a fuzz session runs the redis or database backend, not {scenario.backend!r}.")
            changed.append(f"backend {scenario.backend}")
        topo.producer_spec = app_spec(broker_url=topo.broker_url, result_backend=topo.result_backend,
                                      config=scenario.config, tasks=list(scenario.tasks),
                                      ledger_dir=str(self.run_dir / "ledger"), node="producer")
        self.scenario = topo.scenario = scenario
        if scenario.config != old.config or backend_changed or scenario.tasks != old.tasks:
            self._build_producer()
        restart = []
        for i, w in enumerate(scenario.workers):
            current = topo.workers[i] if i < len(topo.workers) else None
            if current is None or _spec_key(self._worker_spec(w)) != _spec_key(current.app_spec) or current.spec != w \
                    or not current.node.alive():
                restart.append(i)
        extra = topo.workers[len(scenario.workers):]
        for wn in extra:
            wn.node.kill()
        del topo.workers[len(scenario.workers):]
        if extra:
            changed.append(f"stopped {len(extra)} worker(s)")
        if restart:
            try:
                self._restart_workers(restart)
            except LabSetupError:  # Redis may be full from the last example: empty it and try once more
                self.topo.redis.client(0).flushall()
                try:
                    self._restart_workers(restart)
                except LabSetupError as e:
                    raise ConfigCannotBoot(str(e)) from None
            changed.append("restarted " + ", ".join(scenario.workers[i].name for i in restart))
        if restart or extra:
            self._learn_consumers()
        return changed

    def _worker_spec(self, w: Worker) -> dict[str, Any]:
        return app_spec(broker_url=self.topo.broker_url, result_backend=self.topo.result_backend,
                        config={**self.scenario.config, **w.config}, tasks=list(w.tasks or self.scenario.tasks),
                        ledger_dir=str(self.run_dir / "ledger"), node="")

    def _restart_workers(self, indexes: list[int]) -> None:
        """(Re)start the workers at ``indexes`` in parallel; return when each logged ready."""
        t0 = time.time()
        topo = self.topo
        self.generation += 1
        env = {**os.environ, "PYTHONPATH": _pythonpath(self.scenario), "PYTHONUNBUFFERED": "1"}
        short = self.run_id.rsplit("-", 1)[-1]
        started = []
        for i in indexes:
            w = self.scenario.workers[i]
            if i < len(topo.workers):
                topo.workers[i].node.kill()
            name = f"{w.name}-g{self.generation}"
            hostname = f"{name}@fuzz-{short}"
            spec = {**self._worker_spec(w), "node": hostname}
            spec_path = self.run_dir / f"app-{name}.json"
            spec_path.write_text(json.dumps(spec, indent=2, default=repr))
            argv, wenv = _worker_argv(w, hostname), {**env, "LAB_APP": str(spec_path)}
            node = self.owner.spawn(name, argv, env=wenv, cwd=self.run_dir)
            wn = WorkerNode(w, hostname, node, spec, argv=argv, env=wenv)
            if i < len(topo.workers):
                topo.workers[i] = wn
            else:
                topo.workers.append(wn)
            started.append(wn)
        for wn in started:
            try:
                wn.node.wait_for_log(r"\bready\.", WORKER_READY_TIMEOUT)
            except NodeNotReady as e:
                raise LabSetupError(str(e)) from None
            wn.ready_at = time.time()
        self.boots.append({"t": t0, "what": "workers " + ", ".join(w.spec.name for w in started),
                           "s": time.time() - t0})

    def reset(self) -> None:
        """A clean slate after an example left work in flight: every worker restarted, Redis flushed."""
        self._dirty, self._dirty_settled = [], "quiescent"
        self.topo.redis.client(0).flushall()
        self._restart_workers(list(range(len(self.topo.workers))))
        self._learn_consumers()

    # -- one example ----------------------------------------------------------------------------------

    def send(self, shapes: list[Shape]) -> list[dict[str, Any]]:
        """Build each shape into a canvas and send it; return the 'sent' records, with their oracles."""
        self.app.set_current()  # a canvas built without app= uses the current app, as in a user's one-app program
        return self.send_canvases([(shape, build(self.app, shape)) for shape in shapes])

    def send_canvases(self, items: list[tuple[Shape, Any]]) -> list[dict[str, Any]]:
        """Send each (shape, canvas) as it is; return one 'sent' record per final task (a chord's callback, a
        chain's last task, each member of a group), each with its oracle computed from the shape."""
        sent = []
        self.app.set_current()  # a canvas built without app= uses the current app, as in a user's one-app program
        for i, (shape, canvas) in enumerate(items):
            expectations = oracle_mod.expectations(shape, self.scenario)
            sent_at = time.time()
            roots: set[str] = set()
            self._publishing = roots
            try:
                result = canvas.apply_async()
            except Exception as e:  # Celery refused the canvas: a finding, not a crash of the lab
                exp = expectations[0]
                sent.append({**self._sent_base(i, shape, exp, sent_at, 0, len(expectations)), "chord_id": f"not-sent-{i}",
                             "group_id": None, "header_ids": [], "roots": sorted(roots),
                             "send_error": f"{type(e).__name__}: {e}",
                             "send_traceback": traceback.format_exc(limit=-4).strip().splitlines()[-8:]})
                continue
            finally:
                self._publishing = None
            leaves = _final_results(result)
            for j, (exp, leaf) in enumerate(zip(expectations, leaves)):
                parent = getattr(leaf, "parent", None)
                header = parent if getattr(parent, "results", None) is not None else None  # a chord's header
                sent.append({**self._sent_base(i, shape, exp, sent_at, j, len(expectations)), "chord_id": leaf.id,
                             "group_id": getattr(header, "id", None), "roots": sorted(roots),
                             "header_ids": _leaf_ids(header) if header is not None else []})
            if len(leaves) != len(expectations):  # the oracle's reading of the shape and Celery's differ: say so
                sent[-1]["oracle_note"] = (f"Celery's result has {len(leaves)} final task(s), the shape "
                                           f"{len(expectations)}; the first {min(len(leaves), len(expectations))} are judged")
            del result, leaves  # no AsyncResult kept: its __del__ unsubscribes the producer from its channel
        self.chords_sent += len(sent)
        return sent

    def _sent_base(self, i: int, shape: Shape, exp: oracle_mod.Expectation, sent_at: float, j: int, n: int) -> dict[str, Any]:
        return {"index": i, "header_task": "fuzz.*", "callback_task": exp.callback_task, "header_queue": None,
                "callback_queue": routed_queue(self.app, exp.callback_task, exp.callback_options),
                "expected": exp.args0, "expectation": exp.to_dict(), "shape": to_data(shape), "sent_at": sent_at,
                **({"final": j, "finals": n} if n > 1 else {})}

    def run_example(self, shapes: list[Shape], *, bound: float | None = None,
                    canvases: list[Any] | None = None) -> ExampleResult:
        """One example alone: the shapes built and sent, or ``canvases`` (Celery canvases, each the one its
        shape was read from, ``shape_of``) sent exactly as they are; waited on, probed, judged, cleaned up."""
        if self._flight:
            self.drain()
        ex = self.begin_example(shapes, bound=bound, canvases=canvases)
        while True:
            done = self.advance()
            if done:
                result = done[0]
                break
            time.sleep(POLL_S)
        result.reset = self._clean_up()
        result.timings["clean_s"] = time.time() - ex.t_judged
        result.elapsed_s = time.time() - ex.t0
        return result

    # -- examples in flight -------------------------------------------------------------------------

    def begin_example(self, shapes: list[Shape], *, bound: float | None = None,
                      canvases: list[Any] | None = None, tag: Any = None) -> "InFlight":
        """Send one example's chords and return at once; ``advance`` settles and judges it.  Its evidence
        is kept apart from the other examples in flight by its root ids: every task of a canvas carries
        the root id of the message the producer published for it."""
        t0 = time.time()
        self._route(self.watch.poll())
        log_marks = {w.hostname: w.node.log_size() for w in self.topo.workers}
        sent = self.send(shapes) if canvases is None else self.send_canvases(list(zip(shapes, canvases)))
        ex = InFlight(shapes=list(shapes), sent=sent, t0=t0, t_sent=time.time(), log_marks=log_marks, tag=tag,
                      bound=bound if bound is not None else BASE_BOUND_S + sum(oracle_mod.work_s(s) for s in shapes))
        ex.last_change = ex.t_sent
        for c in sent:
            for root in c.get("roots") or ():
                self._by_root[root] = ex
            for tid in (*(c.get("roots") or ()), c["chord_id"], *c["header_ids"]):
                self._by_task[tid] = ex
        self.unclean += 1
        if self._flight:  # its run overlaps theirs: the worker logs they share are read by id
            ex.overlapped = True
            for other in self._flight:
                other.overlapped = True
        self._flight.append(ex)
        ex.size_ttls = chord_size_ttls(self.app, sent) if self.scenario.backend == "redis" else []
        return ex

    @property
    def in_flight(self) -> int:
        return len(self._flight)

    def advance(self) -> list[ExampleResult]:
        """Read the ledger once, give each event to its example, and finish every example that settled."""
        self._route(self.watch.poll())
        now = time.time()
        done = []
        for ex in list(self._flight):
            how = self._settled(ex, now)
            if how is not None:
                done.append(self._finish(ex, how))
        return done

    def drain(self) -> list[ExampleResult]:
        """Finish every example in flight, then clean up after all of them (one FLUSHDB, parked messages
        deleted; the workers restarted if one of them needed it)."""
        done = []
        while self._flight:
            done.extend(self.advance())
            if self._flight:
                time.sleep(POLL_S)
        if done or self._dirty:
            reset = self._clean_up()
            for r in done:
                r.reset = reset
        return done

    def wants_reset(self) -> bool:
        """An example finished in a state that needs the workers restarted, once the others are done."""
        return self._dirty_settled in ("bound", "unlock-retrying") or any(not w.node.alive() for w in self.topo.workers)

    def _route(self, new: int) -> None:
        """Give the ledger's new events to the examples they belong to (by root id, else by task id); the
        events of an example already judged are dropped: a late event belongs to no example in flight."""
        if not new and not self.watch.events:
            return
        for e in self.watch.events:
            ex = self._by_root.get(e.get("root_id")) or self._by_task.get(e.get("task_id"))
            if ex is None or ex.judged:
                continue
            ex.events.append(e)
            ex.changed = True
            if e.get("task_id"):
                self._by_task[e["task_id"]] = ex
        del self.watch.events[:]  # held by the examples now; a long session must not hoard them

    def _settled(self, ex: "InFlight", now: float) -> str | None:
        """How ``ex`` settled (quiescent, unlock-retrying, lost, bound), or None while it is in flight."""
        if ex.changed:
            ex.changed = False
            ex.last_change = now
            ex.pending, ex.unlock_runs = self._in_flight(ex.events)
        elif ex.pending is None:
            ex.pending, ex.unlock_runs = self._in_flight(ex.events)
        if not ex.pending:
            return "quiescent" if self._rejections_settled(ex, now) else None
        movers = [p for p in ex.pending if p[1] != "celery.chord_unlock"]
        if not movers and ex.unlock_runs >= UNLOCK_RUNS_STUCK:
            return "unlock-retrying"  # only chord_unlock still moves: it polls forever
        if now - ex.last_change >= IDLE_BEFORE_LOST_S and now - ex.lost_checked >= IDLE_BEFORE_LOST_S:
            ex.lost_checked = now
            nowhere = self._nowhere([p[0] for p in movers], ex.events)
            if movers and len(nowhere) == len(movers) and not any(p[2] for p in movers):
                return "lost"
        if now - ex.t_sent >= ex.bound:
            return "bound"
        return None

    def _finish(self, ex: "InFlight", settled: str) -> ExampleResult:
        """Probe and judge a settled example (its own ids only: other examples may still be running)."""
        in_flight = [p[0] for p in ex.pending or []] if settled != "quiescent" else []
        sent = ex.sent
        first_metas = self._callback_metas(sent)  # before any further wait: a short result_expires must not hide them
        self._route(self.watch.poll())
        t_settled = time.time()
        events = ex.events
        everything_ran = settled == "quiescent" and all(
            any(e["event"] == "end" and e.get("task_id") == c["chord_id"] for e in events)
            for c in sent if not c.get("send_error"))
        probe = self._probe(sent, events, full=not everything_ran, log_marks=ex.log_marks)
        if ex.overlapped and probe["logs"]:
            probe["logs"] = _own_lines(probe["logs"], _ids_of(sent, events))
        metas = probe["backend"].setdefault("metas", {})
        for cid, meta in first_metas.items():
            metas.setdefault(cid, {**meta, "seen": "when the example settled; gone by the final probe"})
        obs = {
            "run_id": self.run_id, "scenario": self.scenario.to_dict(), "seed": None, "started_at": ex.t0, "oracle": "fuzz",
            "topology": self.topo.describe(), "chords": sent, "size_ttls": ex.size_ttls,
            "quiescence": {"how": settled, "t": t_settled, "waited_s": t_settled - ex.t_sent, "in_flight": in_flight},
            "ledger": events, "probe": probe, "timeline": [],
        }
        if len(self._flight) > 1:
            obs["quiescence"]["alongside"] = len(self._flight) - 1  # examples in flight with it when it settled
        outcomes = oracle_mod.judge_example(obs)
        ex.t_judged = time.time()
        ex.judged = True
        self._flight.remove(ex)
        for c in sent:
            for root in c.get("roots") or ():
                self._by_root.pop(root, None)
        for tid in {e.get("task_id") for e in events} | {t for c in sent for t in (c["chord_id"], *c["header_ids"])}:
            self._by_task.pop(tid, None)  # the ids it was sent with too: one with no event would stay forever
        self._dirty.extend(e for e in events if e["event"] == "publish")
        if settled in ("bound", "unlock-retrying"):
            self._dirty_settled = settled
        self.examples += 1
        return ExampleResult(ex.shapes, outcomes, obs, ex.t_judged - ex.t0, settled, False,
                             {"send_s": ex.t_sent - ex.t0, "wait_s": t_settled - ex.t_sent,
                              "judge_s": ex.t_judged - t_settled, "clean_s": 0.0}, tag=ex.tag)

    # -- waiting on evidence ------------------------------------------------------------------------

    def _consumed(self, queue: str | None) -> bool:
        return any(queue in qs for qs in self.consumers.values())

    def _rejections_settled(self, ex: "InFlight", now: float) -> bool:
        """A task that raised Reject is finished off by its worker's main process after the task's own end:
        since Celery 5.7 that stores FAILURE for it, then counts the part, which may fail its chord.  True
        once those metas are stored and the backend has stopped changing for the example (two reads STABLE_S
        apart, the same), or REJECT_META_BOUND_S after it first asked; asked again at each ``advance``, so
        the other examples in flight are not held up meanwhile."""
        if not oracle_mod.REJECT_RECORDS_FAILURE:
            return True
        rejected = [e["task_id"] for e in ex.events if e["event"] == "end" and e.get("state") == "REJECTED"]
        if not rejected:
            return True
        if not ex.reject_since:
            ex.reject_since = now
        if now - ex.reject_since >= REJECT_META_BOUND_S:
            return True
        if now - ex.reject_snap_t < STABLE_S:
            return False
        backend = self.app.backend
        statuses = [backend.get_task_meta(t).get("status") for t in rejected]
        if "PENDING" in statuses:
            return False
        finals = [backend.get_task_meta(c["chord_id"]).get("status") for c in ex.sent if not c.get("send_error")]
        # the whole backend's size too, when no other example writes to it meanwhile (a part's count, say)
        size = self.topo.redis.client(1).dbsize() if self.scenario.backend == "redis" and len(self._flight) == 1 else None
        snapshot = (statuses, finals, size)
        stable = snapshot == ex.reject_snapshot
        ex.reject_snapshot, ex.reject_snap_t = snapshot, now
        return stable

    def _in_flight(self, events: list[dict]) -> tuple[list[tuple[str, str, bool]], int]:
        """(task id, name, started) of every task published or started and not yet settled; and how
        often chord_unlock retried after every other task had ended.  Settled: ended as often as started,
        or parked, or discarded."""
        published: dict[str, int] = {}
        starts: dict[str, int] = {}
        ends: dict[str, int] = {}
        queues: dict[str, str | None] = {}
        names: dict[str, str] = {}
        discarded: set[str] = set()
        unlock_retries: list[float] = []
        last_other_end = 0.0
        for e in events:
            tid, kind = e.get("task_id"), e["event"]
            names.setdefault(tid, e.get("name") or "?")
            if kind == "publish":
                published[tid] = published.get(tid, 0) + 1
                queues[tid] = e.get("queue")
            elif kind == "start":
                starts[tid] = starts.get(tid, 0) + 1
            elif kind == "end":
                ends[tid] = ends.get(tid, 0) + 1
                if e.get("name") == "celery.chord_unlock":
                    if e.get("state") == "RETRY":
                        unlock_retries.append(e["t"])
                else:
                    last_other_end = max(last_other_end, e["t"])
            elif kind in ("unregistered", "rejected"):
                discarded.add(tid)
        pending = []
        for tid in set(published) | set(starts):
            if tid in discarded:
                continue
            n_pub, n_start, n_end = published.get(tid, 0), starts.get(tid, 0), ends.get(tid, 0)
            if n_start and n_end >= n_start and n_pub <= n_start:
                continue  # ran to its end, and no retry of it is waiting (a retry publishes the id again)
            if not n_start and not self._consumed(queues.get(tid)):
                continue  # parked: its queue has no consumer, so it will never start
            pending.append((tid, names.get(tid, "?"), n_start > n_end))
        # chord_unlock retries that saw every other task of the example ended: it will poll forever
        return pending, sum(1 for t in unlock_retries if t > last_other_end)

    def _nowhere(self, task_ids: list[str], events: list[dict]) -> list[str]:
        """The ids, of those given, that are in no queue and held unacked by no worker (Redis broker)."""
        if not task_ids or self.scenario.broker != "redis":
            return []
        client = self.topo.redis.client(0)
        queues = observe.known_queues(self.scenario.to_dict(), [], events[-2000:])
        probe = observe.probe_redis_broker(client, queues)
        seen = {m.get("task_id") for q in probe["queues"].values() for m in q["messages"]}
        seen |= {m.get("task_id") for m in probe["unacked"]}
        return [t for t in task_ids if t not in seen]

    # -- probing and cleaning up ------------------------------------------------------------------------

    def _probe(self, sent: list[dict], events: list[dict], *, full: bool, log_marks: dict[str, int]) -> dict[str, Any]:
        app = self.app
        if self.scenario.backend == "redis":
            backend = observe.probe_redis_backend(app, sent)
        else:
            backend = observe.probe_database_backend(app, sent)
        self._more_metas(backend, sent, events)
        probe: dict[str, Any] = {"t": time.time(), "quiesced": True, "backend": backend, "full": full,
                                 "broker": {"queues": {}, "unacked": []}, "workers": {"consumers": self.consumers},
                                 "logs": {}}
        if full:
            queues = observe.known_queues(self.scenario.to_dict(), sent, events)
            probe["broker"] = observe.probe_redis_broker(self.topo.redis.client(0), queues)
            # what each worker consumes and has registered is read once per (re)start, unless one died since
            alive = all(w.node.alive() for w in self.topo.workers)
            probe["workers"] = dict(self._workers) if alive and self._workers else \
                observe.probe_workers(app, len(self.topo.workers))
            probe["logs"] = self._log_lines(log_marks)
        return probe

    def _callback_metas(self, sent: list[dict]) -> dict[str, dict]:
        """The callbacks' metas, read right when the example settled."""
        backend = self.app.backend
        out = {}
        for c in sent:
            if c.get("send_error"):
                continue
            m = backend.get_task_meta(c["chord_id"])
            if m.get("status") != "PENDING":
                out[c["chord_id"]] = {"status": m.get("status"), "result": observe._jsonable(m.get("result")),
                                      "t": time.time()}
        return out

    def _more_metas(self, backend: dict[str, Any], sent: list[dict], events: list[dict]) -> None:
        """The metas of every other task of the example too (a nested task's stored failure is evidence)."""
        known = set(backend.get("metas") or {}) | {c["chord_id"] for c in sent} | {h for c in sent for h in c["header_ids"]}
        others = sorted({e.get("task_id") for e in events if e.get("task_id")} - known)
        if not others:
            return
        backend.setdefault("metas", {}).update(task_metas(self.app, self.scenario.backend, others))

    def _log_lines(self, log_marks: dict[str, int]) -> dict[str, list[str]]:
        """Evidence lines each worker logged during this example (from where the example started)."""
        paths = {w.hostname: w.node.log_path for w in self.topo.workers}
        return observe.worker_log_lines(paths, {w.hostname: log_marks.get(w.hostname, w.node.log_offset)
                                                for w in self.topo.workers})

    def _clean_up(self) -> bool:
        """Leave nothing of the examples judged since the last clean-up behind (their publishes are in
        ``_dirty``); return True if the workers had to be restarted.  Called with no example in flight: a
        FLUSHDB would take the others' evidence with it."""
        self.unclean = 0
        if self.wants_reset():
            self.reset()
            self.resets += 1
            return True
        client = self.topo.redis.client(0)
        parked = {e.get("queue") for e in self._dirty if not self._consumed(e.get("queue"))}
        for queue in sorted(q for q in parked if q):
            client.delete(queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9)))
        if self.scenario.backend == "redis":
            self.topo.redis.client(1).flushdb()
        self._dirty, self._dirty_settled = [], "quiescent"
        return False
