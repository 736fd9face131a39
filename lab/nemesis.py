"""The nemesis: faults a scenario declares, fired at their trigger, healed before the probe.

    scenario → topology up → chords sent → (**faults**) → observations → verdict → record

A fault fires once, at its trigger (``after-sent``, ``after-parts-started``,
``after-parts-ended``) plus its delay.  Every fault and every heal is written
into the run's timeline with its time.  ``heal_all`` runs before the final
probe: paused processes resume, paused clients are released, so the probe
sees the system as it settles, not as the fault froze it.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from lab.scenario import Fault


class Nemesis:
    def __init__(self, faults: tuple[Fault, ...], topo: Any, timeline: list[dict[str, Any]]):
        self.faults = list(faults)
        self.topo = topo
        self.timeline = timeline
        self.fired: set[int] = set()
        self.armed_at: dict[int, float] = {}
        self.heals: list[tuple[str, Any]] = []

    def extra_time(self) -> float:
        return sum(f.delay + float(f.options.get("for", 0)) for f in self.faults)

    def _note(self, what: str, kind: str = "fault") -> None:
        self.timeline.append({"t": time.time(), "kind": kind, "what": what})

    def fire(self, trigger: str, watch: Any = None, sent: Any = None) -> None:
        now = time.time()
        for i, f in enumerate(self.faults):
            if i in self.fired or f.trigger != trigger:
                continue
            self.armed_at.setdefault(i, now)
            if now - self.armed_at[i] >= f.delay:
                self.fired.add(i)
                self._inject(f)

    def fire_remaining(self, watch: Any = None, sent: Any = None) -> None:
        """Faults whose trigger was reached but whose delay had not passed yet fire now, in order."""
        for i, f in enumerate(self.faults):
            if i in self.armed_at and i not in self.fired:
                wait = self.armed_at[i] + f.delay - time.time()
                if wait > 0:
                    time.sleep(wait)
                self.fired.add(i)
                self._inject(f)

    def _inject(self, f: Fault) -> None:
        topo = self.topo
        if f.kind == "kill-worker":
            w = topo.worker(f.target)
            os.kill(w.node.pid, signal.SIGKILL)  # the main process only: its pool children are orphaned, as in production
            self._note(f"SIGKILL worker {f.target} main process (pid {w.node.pid})")
            if f.options.get("restart"):
                self.heals.append(("restart-worker", f.target))
        elif f.kind == "kill-pool-child":
            w = topo.worker(f.target)
            kids = w.node.children_pids()
            if kids:
                os.kill(kids[0], signal.SIGKILL)
                self._note(f"SIGKILL pool child {kids[0]} of worker {f.target}")
            else:
                self._note(f"no pool child to kill on worker {f.target}")
        elif f.kind == "pause-worker":
            w = topo.worker(f.target)
            w.node.pause()
            self._note(f"SIGSTOP worker {f.target}")
            self.heals.append(("resume-worker", f.target))
        elif f.kind == "restart-redis":
            persist = bool(f.options.get("persist", False))
            topo.redis.restart(persist=persist)
            self._note(f"restarted redis-server {'with' if persist else 'without'} persistence")
        elif f.kind == "client-pause":
            ms = int(float(f.options.get("for", 2.0)) * 1000)
            topo.redis.client(0).execute_command("CLIENT", "PAUSE", ms)
            self._note(f"CLIENT PAUSE {ms} ms")
        elif f.kind == "flushdb":
            db = int(f.options.get("db", 1))
            topo.redis.client(db).flushdb()
            self._note(f"FLUSHDB on db {db}")
        elif f.kind == "fill-redis":
            self._fill(topo.redis.client(int(f.options.get("db", 2))), int(f.options.get("chunk", 64 * 1024)))

    def _fill(self, client, chunk: int) -> None:
        blob = b"x" * chunk
        n = 0
        try:
            for n in range(100000):
                client.set(f"lab:fill:{n}", blob)
        except Exception as e:  # OOM under noeviction: Redis is full
            self._note(f"filled Redis with {n} x {chunk} B keys until: {str(e).splitlines()[0]}")
            return
        self._note(f"wrote {n} x {chunk} B filler keys")

    def heal_all(self) -> None:
        for kind, target in self.heals:
            if kind == "resume-worker":
                self.topo.worker(target).node.resume()
                self._note(f"SIGCONT worker {target}", "heal")
            elif kind == "restart-worker":
                self.topo.restart_worker(target)
                self._note(f"restarted worker {target}", "heal")
        self.heals.clear()
