"""One run, end to end: the whole flow in one function.

    scenario → topology up → chords sent → observations → verdict with proof → record

``run_scenario`` brings the topology up, sends the chords, lets the nemesis
fire its faults, waits for the header to quiesce, then probes and judges until
every chord's verdict is final (or the settle bound passes, leaving
``unknown``).  A redis-server lost while the chords are sent ends the sending
and the run goes straight to the probe: the chords sent so far are judged
(``unknown``, naming the loss) and recorded.  The probe also notes every worker
found dead; whether a fault planned that is the judge's to say.
The raw observations are put in the record first and the
verdicts are derived from them, so ``lab show`` can judge the same record
again.  Every process is stopped when the function returns, however it returns.

The witness is the file ledger, or with ``witness="recorder"`` the flight recorder
(``lab.recorder``), installed in the producer and every worker and writing to a
redis-server of the run's own; the run then follows its stream (``observe.follow``)
where it would read the ledger's files, and the same judge decides.  The
observations say which witness it was (``witness``) and, for the recorder, what
its store said of itself and where it is a weaker witness than the files
(``recorder``: ``witness_differences``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lab import records
from lab.observe import ledger
from lab.observe import probe as observe
from lab.observe.backend import meta_ttls
from lab.observe.follow import RecorderWatch
from lab.observe.routes import read_routes
from lab.observe.model import ExitedWorker, Observations, Probe, Quiescence, SentChord, TimelineEntry
from lab.runtime.celery_app import UNRELEASED, build_app, install_witness, release
from lab.judge import Verdict, judge, summarize
from lab.drive.nemesis import Nemesis
from lab.runtime.process.processes import describe_exit
from lab.scenario import Scenario
from lab.drive.send import chord_size_ttls, send_chords
from lab.runtime.base import OwnNemesis, lifecycle, runtime_for
from lab.runtime.process.topology import Topology, redis_lost
from lab.views.console import Reporter

POLL_S = 0.05
_unreleased = UNRELEASED  # producer apps not yet let go of: the run's lifecycle releases them, interrupted or not


@dataclass
class RunResult:
    record: dict[str, Any]
    verdicts: list[Verdict]
    outcome: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def _quiesce_bound(s: Scenario) -> float:
    """Generous upper bound on the header's run time: its work spread over the workers, plus slack."""
    work = sum(sum(c.durations()) * c.count for c in s.chords)
    slots = max(1, sum(w.concurrency for w in s.workers))
    longest = max((max(c.durations(), default=0.0) for c in s.chords), default=0.0)
    return work / slots + longest + 15.0


def _unreachable(probe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A probe's reading, or what made it fail: a server that went away is an observation, not a crash."""
    try:
        return probe()
    except Exception as e:  # redis ConnectionError, kombu OperationalError, OSError...
        return {"error": f"{type(e).__name__}: {str(e).strip()[:300]}"}


def exited_workers(topo: Any) -> list[ExitedWorker]:
    """Every worker whose current life has ended: name, pid, how (the judge asks whether a fault planned it)."""
    out: list[ExitedWorker] = []
    for w in getattr(topo, "workers", None) or []:
        node = getattr(w, "node", None)
        if node is None or not hasattr(node, "alive") or node.alive():
            continue
        out.append({"worker": w.spec.name, "hostname": w.hostname, "pid": node.pid, "returncode": node.returncode,
                    "how": describe_exit(node.returncode)})
    return out


def probe_all(topo: Topology, app, sent: list[SentChord], watch: observe.LedgerWatch | RecorderWatch, quiesced: bool) -> Probe:
    watch.poll()
    queues = observe.known_queues(topo.scenario.to_dict(), sent, watch.events)
    lost = redis_lost(getattr(topo, "redis", None))  # no heal left it down: nobody planned this
    exited = exited_workers(topo)
    # A server that is gone is not asked: every client would retry for seconds to learn what is known.
    unread = {"error": f"not read: {lost}", "unread": True} if lost else None
    if topo.scenario.broker == "redis":
        broker = dict(unread) if unread else _unreachable(lambda: observe.probe_redis_broker(topo.broker_client(), queues,
                                                                                  observe.RedisNaming.for_conf(app.conf)))
    else:
        broker = _unreachable(lambda: observe.probe_rabbitmq_broker(app, queues))
    if unread and topo.scenario.broker == "redis":
        workers = {"consumers": {}, "registered": {}, **unread}
    else:
        workers = observe.probe_workers(app, len(topo.scenario.workers))
    if topo.scenario.backend == "redis":
        backend = dict(unread) if unread else _unreachable(lambda: observe.probe_redis_backend(app, sent))
        elsewhere = {} if unread else observe.probe_worker_backends(topo, sent)  # workers with another result backend
        if elsewhere:
            backend["worker_backends"] = elsewhere
    elif topo.scenario.backend == "database":
        backend = observe.probe_database_backend(app, sent)
    elif topo.scenario.backend == "rpc":
        backend = observe.probe_rpc_backend(app, sent)
    else:
        backend = {"kind": topo.scenario.backend, "metas": {}}
    logs = observe.worker_log_lines({w.hostname: w.node.log_path for w in topo.workers if w.node is not None})
    return {"t": time.time(), "quiesced": quiesced, "broker": broker, "workers": workers, "backend": backend, "logs": logs,
            **({"lost": lost} if lost else {}), **({"exited": exited} if exited else {})}


def run_scenario(scenario: Scenario, *, seed: int | None = None, reporter: Reporter | None = None,
                 scenario_ref: str | None = None, runtime: str = "process", witness: str = "ledger",
                 extra: dict[str, Any] | None = None) -> RunResult:
    """Bring the scenario's topology up on ``runtime`` (process or docker), exercise it, record the run;
    everything the runtime started is gone on return (``lab.runtime.lifecycle``).  ``witness``: "ledger"
    or "recorder" (see the module docstring); ``extra``: fields added to the record (an experiment's own)."""
    rep = reporter or Reporter()
    seed = seed if seed is not None else random.randrange(2**31)
    with lifecycle(scenario, runtime_for(runtime), on_step=rep.step, witness=witness) as run:
        result = exercise(run.system, seed=seed, reporter=rep, scenario_ref=scenario_ref, started_at=run.started_at,
                          extra=extra)
        run.recorded = True
    result.timings.update(run.timings)
    return result


@dataclass
class Judged:
    """What ``drive`` leaves: the producer app (still connected: the caller releases it), the raw
    observations, and the verdicts judged from them."""

    app: Any
    sent: list[SentChord]
    obs: Observations
    verdicts: list[Verdict]
    outcome: dict[str, Any]
    timings: dict[str, float]


def drive(topo: Any, *, seed: int, reporter: Reporter | None = None, started_at: float | None = None) -> Judged:
    """Send the chords into a topology that is up, let the nemesis act, observe and judge; record nothing.

    ``topo`` is a local ``Topology``, or any object with the same attributes
    (``lab.experiments.attach`` gives one for a topology someone else started).
    """
    rep = reporter or Reporter()
    scenario: Scenario = topo.scenario
    run_id, run_dir = topo.run_id, topo.run_dir
    started_at = started_at or time.time()
    timeline: list[TimelineEntry] = [{"t": started_at, "kind": "run", "what": f"run {run_id} started"}]
    timings: dict[str, float] = {"boot_s": topo.boot_s}
    if topo.redis is not None:
        timeline.append({"t": topo.redis.ready_at, "kind": "ready", "what": "redis-server"})
    timeline += [{"t": w.ready_at, "kind": "ready", "what": w.spec.name} for w in topo.workers]

    (run_dir / "ledger").mkdir(parents=True, exist_ok=True)
    store = topo.producer_spec.get("recorder")  # the flight recorder is the witness (--witness recorder)
    if store:
        app = build_app(topo.producer_spec)
        _unreleased.append(app)
        install_witness(app, topo.producer_spec)
        watch: observe.LedgerWatch | RecorderWatch = RecorderWatch(store)
    else:
        ledger.configure(topo.producer_spec["ledger_dir"], "producer")
        ledger.connect_signals()
        app = build_app(topo.producer_spec)
        _unreleased.append(app)
        watch = observe.LedgerWatch(Path(topo.producer_spec["ledger_dir"]))
    # a System that fires faults of its own (containers) brings its nemesis; the lab's fires the rest
    nemesis = topo.make_nemesis(scenario.faults, timeline) if isinstance(topo, OwnNemesis) else Nemesis(scenario.faults, topo, timeline)

    meta_history: list[dict[str, Any]] = []  # callback metas' TTLs while the final read is held (read_after)
    rep.step(f"sending {sum(c.count for c in scenario.chords)} chord(s)")
    t_send = time.time()
    sent = send_chords(app, scenario, seed)
    routes = read_routes(app, scenario, {w.spec.name: w.hostname for w in topo.workers}, [
        (role, c[f"{role}_task"], opts) for c, spec in zip(sent, _specs_of(scenario))
        for role, opts in (("header", spec.part_options), ("callback", spec.callback_options))] if not scenario.canvas else [
        (role, c[f"{role}_task"], c.get("part_options" if role == "header" else "callback_options") or {})
        for c in sent for role in ("header", "callback") if c.get(f"{role}_task")])
    failed = sent[-1] if sent and sent[-1].get("send_error") else None
    callback_ids = [c["chord_id"] for c in sent if not c.get("send_error") and not c.get("apply_error")]
    lost = redis_lost(getattr(topo, "redis", None)) if failed else None
    size_ttls = (_unreachable(lambda: {"ttls": chord_size_ttls(app, sent)}).get("ttls") or []) \
        if scenario.backend == "redis" and not lost else []
    timeline.append({"t": t_send, "kind": "sent", "what": f"{len(sent) - bool(failed)} chord(s) sent"})
    if failed:
        timeline.append({"t": failed["send_failed_at"], "kind": "send-failed",
                         "what": f"sending chord {failed['index']} raised {failed['send_error']}" + (f": {lost}" if lost else "")})
    if lost:
        # The server is gone: nothing will move, and no fault may act on it (a restart would hide the
        # loss).  Straight to the probe, which reads what is left and names the loss.
        rep.step(f"sending stopped: {lost}")
        watch.poll()
        total, started, ended = observe.parts_state(watch.events, sent)
        quiescence: Quiescence = {"how": "server-lost", "t": time.time(), "waited_s": 0.0, "parts": [total, started, ended],
                      "note": lost}
    else:
        if failed:
            rep.step(f"sending stopped at chord {failed['index']}: {failed['send_error']}")
        nemesis.fire("after-sent", watch, sent)

        def tick(total: int, started: int, ended: int) -> None:
            rep.progress(total, started, ended)
            if started:
                nemesis.fire("after-parts-started", watch, sent)
            if ended >= total:
                nemesis.fire("after-parts-ended", watch, sent)
                if scenario.read_after:  # the meta's TTL as early as it can exist, for its history
                    meta_history.extend(_unreachable(lambda: {"ttls": meta_ttls(app, callback_ids)}).get("ttls") or [])

        quiescence = observe.wait_for_quiescence(watch, sent, quiet=scenario.quiet,
                                                 bound=_quiesce_bound(scenario) + nemesis.extra_time(),
                                                 on_progress=tick)
        nemesis.fire_remaining(watch, sent)
        nemesis.heal_all()
    timeline.append({"t": quiescence["t"], "kind": "quiesced", "what": quiescence["how"]})
    timings["header_s"] = quiescence["t"] - t_send
    if scenario.read_after and not lost:
        meta_history += hold_final_read(app, callback_ids, t_send + scenario.read_after, rep, timeline)

    # Probe and judge until every verdict is final, or the settle bound passes.
    deadline = time.time() + scenario.settle
    while True:
        probe = probe_all(topo, app, sent, watch, quiesced=True)
        obs: Observations = {
            "run_id": run_id, "scenario": scenario.to_dict(), "seed": seed, "started_at": started_at,
            "topology": topo.describe(), "chords": sent, "size_ttls": size_ttls, "quiescence": quiescence,
            "ledger": list(watch.events), "probe": probe, "timeline": timeline, "routes": routes,
            **({"meta_ttls": meta_history} if scenario.read_after else {}),
            "witness": topo.producer_spec.get("witness", "recorder") if store else "ledger",
        }
        verdicts = judge(obs)
        # A probe is a consistent snapshot only if the ledger did not move while the broker and
        # backend were read: a callback that ended mid-probe would look "ran, no meta" or "never ran".
        moved = watch.poll()
        if (all(v.final for v in verdicts) and not moved) or time.time() >= deadline:
            break
        if not moved:
            time.sleep(POLL_S)
    t_verdict = time.time()
    timings["verdict_after_quiesce_s"] = t_verdict - quiescence["t"]
    header_ids = {h for c in sent for h in c["header_ids"]}
    last_part_end = max((e["t"] for e in watch.events if e["event"] == "end" and e.get("task_id") in header_ids), default=None)
    if last_part_end:
        timings["verdict_after_last_part_s"] = t_verdict - last_part_end
    obs["finished_at"] = t_verdict
    if isinstance(watch, RecorderWatch):
        obs["recorder"] = {**watch.summary(), "differences": witness_differences(scenario, obs["witness"])}
    outcome = summarize(obs["scenario"], verdicts)
    timings["elapsed_s"] = t_verdict - started_at
    return Judged(app, sent, obs, verdicts, outcome, timings)


def hold_final_read(app, callback_ids: list[str], until: float, rep: Reporter, timeline: list[TimelineEntry]) -> list[dict[str, Any]]:
    """Hold the final read until ``until``, as the scenario declares (``read_after``), reading the callbacks'
    meta TTLs on the way: their history is what proves a result was stored and then expired."""
    left = until - time.time()
    if left <= 0:
        return []
    rep.step(f"holding the final read {left:.1f} s (read_after), watching the callbacks' result TTLs")
    timeline.append({"t": time.time(), "kind": "hold", "what": f"final read held until {left:.1f} s from now (read_after)"})
    history: list[dict[str, Any]] = []
    while True:
        history += _unreachable(lambda: {"ttls": meta_ttls(app, callback_ids)}).get("ttls") or []
        left = until - time.time()
        if left <= 0:
            return history
        time.sleep(min(0.25, left))  # the hold is the scenario's declared time, not a wait for evidence


def _specs_of(scenario: Scenario) -> list[Any]:
    """Each sent chord's ``lab.Chord``, in sending order (a spec with ``count`` 3 sends three chords)."""
    return [spec for spec in scenario.chords for _ in range(spec.count)]


def exercise(topo: Any, *, seed: int, reporter: Reporter | None = None, scenario_ref: str | None = None,
             started_at: float | None = None, extra: dict[str, Any] | None = None) -> RunResult:
    """``drive`` the topology, then record the run: the raw observations beside their verdicts."""
    started_at = started_at or time.time()
    judged = drive(topo, seed=seed, reporter=reporter, started_at=started_at)
    scenario: Scenario = topo.scenario
    app, obs, verdicts, outcome, timings = judged.app, judged.obs, judged.verdicts, judged.outcome, judged.timings
    run_dir = topo.run_dir
    t_verdict = obs["finished_at"]
    record = {
        "run_id": topo.run_id, "scenario": scenario.name, "scenario_ref": scenario_ref or scenario.name,
        "expected": scenario.expect, "seed": seed,
        "versions": records.versions(topo.redis.version if topo.redis is not None else None),
        "git": records.git_revision(),
        "replay": records.replay_command(scenario_ref or scenario.name, seed)
                  + (" --runtime docker" if obs["topology"].get("runtime") == "docker" else "")
                  + (f" --witness {obs['witness']}" if obs.get("witness", "ledger") != "ledger" else ""),
        "command": records.command_line(),
        "started_at": started_at, "elapsed_s": round(t_verdict - started_at, 3), "timings": timings,
        "observations": obs,  # raw, stored before (and beside) the judgement
        "verdicts": [v.to_dict() for v in verdicts], "outcome": outcome,
        "run_dir": str(run_dir),
        **(extra or {}),
    }
    release(app)
    _unreleased.remove(app)
    records.append(record)
    ledger.configure(None, "producer")
    return RunResult(record, verdicts, outcome, timings)


# Where the flight recorder is a weaker witness than the file ledger, by the faults that expose it.
KILLS = ("kill-worker", "kill-pool-child")


REDIS_FAULTS = ("restart-redis", "flushdb", "fill-redis", "client-pause")


def witness_differences(scenario: Scenario, witness: str = "recorder") -> list[str]:
    """What the recorder, as this run's witness, may see differently from the file ledger, in sentences."""
    out = [("events arrive late (each process writes what it queued after the recorder's flush delay, then a round "
            "trip): the quiet window and the probe's consistency check count from their arrival, not from the moment "
            "they happened (a fault's delay counts from the event's own time)"),
           ("the producer's and workers' events are read from one stream, capped at the recorder's MAXLEN, "
            "where the file ledger keeps every line"),
           "an error is kept as its first line (200 characters at most)"]
    kills = sorted({f.kind for f in scenario.faults if f.kind in KILLS})
    if kills:
        out.insert(0, f"{' and '.join(kills)}: a SIGKILLed process loses the events it had queued and not yet written "
                      "(the file ledger has written each line before the signal returns); a lost start also hides the "
                      "part from the quiescence check, which finds a dead part by the pid of its start event")
    shared = sorted({f.kind for f in scenario.faults if f.kind in REDIS_FAULTS})
    if witness == "recorder-broker" and (shared or scenario.redis_options):
        out.insert(0, "the stream is on the scenario's own redis-server (db 15), so its faults and limits act on it too"
                      + (f" ({', '.join(shared)})" if shared else "") + ": what they remove or refuse is lost, and the "
                      "writes they time out are dropped (counted in `dropped`)")
    return out
