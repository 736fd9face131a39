"""One user's topology kept up for a test suite, and each test's chords judged on it with proof.

    a user's app + worker lines → scenario → topology up (once) → chords sent → observations → **verdict with proof**

``ChordLab`` is ``lab run --app`` held open: the user's app is the producer
(their config and routes; only the broker and backend URLs are the lab's, on
its own redis-server), each worker line is a real ``celery worker`` process,
and ``verdict(signature)`` sends what the test built, exactly as built, waits
on evidence (``lab.experiments.run.drive``: the ledger until the header
quiesced, then the broker, the backend and the workers), and returns the
judge's verdict with its proof and the cause's fix.  Between two verdicts the
topology is reset: every queue and unacked message deleted, the result backend
flushed, the ledger emptied; the workers are restarted only when something was
left running.  Every process belongs to the run's ``ProcessOwner`` and dies
with the lab, SIGKILL of pytest included.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.experiments.run import drive
from lab.experiments.user_app import parse_worker_line
from lab.judge.causes import CATALOGUE, fix_for
from lab.observe import config as config_reader
from lab.observe.model import ChordRef
from lab.runtime.base import lifecycle
from lab.runtime.celery_app import release
from lab.runtime.process.runtime import ProcessRuntime
from lab.scenario import Scenario, Worker, validate

ANY_STARTED_LEFT = ("bound", "stopped")  # quiescence ended so: something may still run, restart the workers
_USING: dict[str, "ChordLab"] = {}  # a user's app (one object per process) -> the lab whose servers it points at


@dataclass(frozen=True)
class Deployment:
    """What a test suite runs its chords on: the user's app, its worker command lines, stand-ins or not."""

    app: str
    workers: tuple[str, ...] = ()
    stand_ins: bool = False

    def describe(self) -> str:
        lines = "; ".join(self.workers) or f"celery -A {self.app} worker"
        return f"{self.app} with {lines}" + (" (stand-ins)" if self.stand_ins else "")


@dataclass
class ChordVerdict:
    """The lab's verdict on one chord a test sent, with what proves it and what fixes it."""

    chord_id: str
    verdict: str  # completed, failed, stuck, unrecorded, early, unknown...
    cause: str | None
    summary: str
    evidence: list[str] = field(default_factory=list)
    meaning: str | None = None
    fix: str | None = None
    deployment: str = ""
    run_dir: str = ""

    @property
    def completed(self) -> bool:
        return self.verdict == "completed"

    def explain(self) -> str:
        """The verdict as ``lab run`` prints it: verdict · cause, what happened, the mechanism, the proof, the fix."""
        lines = [f"{self.verdict}" + (f" · {self.cause}" if self.cause else "") + f"  chord {self.chord_id}",
                 f"  {self.summary}"]
        if self.meaning:
            lines.append(f"  mechanism: {self.meaning}")
        lines += [f"   • {line}" for line in self.evidence]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        if self.deployment:
            lines.append(f"  (on {self.deployment})")
        return "\n".join(lines)

    __str__ = explain


class ChordNotCompleted(AssertionError):
    """``assert_chord_completes`` failed: the message is the verdict with its proof and its fix."""

    def __init__(self, verdicts: list[ChordVerdict]):
        self.verdicts = verdicts
        bad = [v for v in verdicts if not v.completed]
        head = (f"the chord did not complete: {bad[0].verdict}" + (f" · {bad[0].cause}" if bad[0].cause else "")
                if len(verdicts) == 1 else f"{len(bad)} of {len(verdicts)} chords did not complete")
        super().__init__(head + "\n" + "\n\n".join(v.explain() for v in bad))


class _RunReading:
    """What a cause's fix reads of a chord (``judge.causes``: the workers' queues, the tasks, the expiry)."""

    def __init__(self, obs: dict[str, Any], sent: dict[str, Any], app: Any):
        self.workers = (obs.get("probe") or {}).get("workers") or {}
        self.ref = ChordRef(asked=sent["chord_id"], callback_id=sent["chord_id"], header_task=sent.get("header_task"),
                            callback_task=sent.get("callback_task"), group_id=sent.get("group_id"))
        self._app = app

    def chord_expires(self) -> tuple[float | None, str]:
        return config_reader.chord_expires(self._app)


def _queue_for(cause: str | None, sent: dict[str, Any]) -> str | None:
    return sent.get("header_queue") if (cause or "").startswith("header") else sent.get("callback_queue")


class ChordLab:
    """A user's topology, up for many verdicts.  Use as a context manager (or ``start`` / ``close``)."""

    def __init__(self, deployment: Deployment, *, on_step=None):
        self.deployment = deployment
        self.say = on_step or (lambda msg: None)
        self.notes: list[str] = []
        self._pending: list[Any] = []
        self._stack: contextlib.ExitStack | None = None
        self.topo: Any = None
        self.verdicts_given = 0
        self.resets = 0
        self.boot_s = 0.0
        workers = []
        for i, line in enumerate(deployment.workers or ("",)):
            fields, dropped = parse_worker_line(line, deployment.app)
            if dropped:
                self.notes.append(f"worker w{i + 1}: dropped {', '.join(dropped)} (the lab names its workers and reads "
                                  "their INFO log)")
            own_app = fields.pop("app")
            workers.append(Worker(f"w{i + 1}", app=None if own_app == deployment.app else own_app, **fields))
        pending = self._pending

        def test_chords():  # what drive() sends: the chords of the verdict being asked (a function, not a method:
            return list(pending)  # a scenario is copied whole, and its canvas function is copied as itself)

        self.scenario: Scenario = validate(Scenario(
            name="pytest", description=f"a test suite's chords on {deployment.describe()}", expect="completed",
            workers=tuple(workers), app=deployment.app, stand_ins=deployment.stand_ins, canvas=test_chords))

    # -- up and down --------------------------------------------------------------------------------

    def start(self) -> "ChordLab":
        if self._stack is not None:
            return self
        if not os.environ.get("LAB_RESULTS"):  # nothing of a suite's in the lab's store; the folder goes at exit
            os.environ["LAB_RESULTS"] = made = tempfile.mkdtemp(prefix="lab-pytest-")
            atexit.register(shutil.rmtree, made, True)
        t0 = time.time()
        stack = contextlib.ExitStack()
        try:
            run = stack.enter_context(lifecycle(self.scenario, ProcessRuntime(), on_step=self.say))
        except BaseException:
            stack.close()
            raise
        self._stack, self.topo = stack, run.system
        self.boot_s = time.time() - t0
        return self

    def close(self) -> None:
        stack, self._stack, self.topo = self._stack, None, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> "ChordLab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- verdicts ------------------------------------------------------------------------------------

    def verdicts(self, *signatures: Any) -> list[ChordVerdict]:
        """Send ``signatures`` (chords, unsent, built with the user's app) together; one verdict per chord."""
        if not signatures:
            raise LabError("lab_verdict() needs a chord to send: pass the chord(...) signature itself, unsent.")
        self.start()
        self._take_app()
        self._pending[:] = signatures
        try:
            judged = drive(self.topo, seed=0)
        finally:
            self._pending.clear()
        self.verdicts_given += 1
        by_id = {c["chord_id"]: c for c in judged.sent}
        out = []
        for v in judged.verdicts:
            sent = by_id.get(v.chord_id) or {"chord_id": v.chord_id}
            cause = CATALOGUE.get(v.cause or "")
            fix = fix_for(v.cause, _RunReading(judged.obs, sent, judged.app), _queue_for(v.cause, sent)) \
                if v.verdict != "completed" else None
            out.append(ChordVerdict(v.chord_id, v.verdict, v.cause, v.summary, list(v.evidence),
                                    cause.meaning if cause else None, fix, self.deployment.describe(),
                                    str(self.topo.run_dir)))
        self._reset(judged.obs)
        return out

    def _take_app(self) -> None:
        """The user's app is one object in this process, shared by every lab of the suite: when another lab
        used it last, its connection pools and its result backend still point at that lab's redis-server."""
        ref = self.deployment.app
        if _USING.get(ref) not in (None, self):
            from celery.app.utils import find_app

            app = find_app(ref)
            release(app)
            app._local.__dict__.pop("backend", None)  # Celery caches the backend per thread, built from the old URL
        _USING[ref] = self

    def verdict(self, signature: Any) -> ChordVerdict:
        """One chord sent, waited on evidence, judged: its verdict with proof (a chord of chords: the outer one)."""
        return self.verdicts(signature)[0]

    # -- between two verdicts -----------------------------------------------------------------------

    def _left_running(self, obs: dict[str, Any]) -> bool:
        if (obs.get("quiescence") or {}).get("how") in ANY_STARTED_LEFT:
            return True
        if ((obs.get("probe") or {}).get("broker") or {}).get("unacked"):
            return True
        starts: dict[str, int] = {}
        for e in obs.get("ledger") or []:
            if e["event"] == "start":
                starts[e["task_id"]] = starts.get(e["task_id"], 0) + 1
            elif e["event"] == "end":
                starts[e["task_id"]] = starts.get(e["task_id"], 0) - 1
        return any(n > 0 for n in starts.values())

    def _reset(self, obs: dict[str, Any]) -> None:
        """Nothing of one test's chords is left for the next: queues, unacked messages, results, the ledger."""
        topo = self.topo
        restart = self._left_running(obs)
        broker = topo.redis.client(0)
        for key in broker.scan_iter(count=1000):
            kind = broker.type(key)
            if kind in (b"list", "list") or key in (b"unacked", b"unacked_index", b"unacked_mutex"):
                broker.delete(key)
        backend_db = _db_of(topo.result_backend)
        if backend_db is not None and backend_db != 0:
            topo.redis.client(backend_db).flushdb()
        if restart:
            for w in topo.workers:
                topo.restart_worker(w.spec.name)
            self.resets += 1
        for path in Path(topo.producer_spec["ledger_dir"]).glob("*"):
            if path.is_file():
                os.truncate(path, 0)  # its writers append (O_APPEND): they go on at the new end


def _db_of(url: str) -> int | None:
    """The Redis database number of a redis:// URL (None for another backend)."""
    if not str(url).startswith(("redis://", "rediss://")):
        return None
    tail = str(url).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0
