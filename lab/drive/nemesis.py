"""The nemesis: faults a scenario declares, fired at their trigger, healed before the probe.

    scenario → topology up → chords sent → (**faults**) → observations → verdict → record

A fault fires once, at its trigger (``after-sent``, ``after-parts-started``,
``after-parts-ended``) plus its delay.  The delay counts from when the trigger
happened, by the witness's own clock (the first part's start event, the last
part's end event), not from when the lab read it: a witness that delivers its
events later (the flight recorder writes in batches) fires the fault at the
same moment of the header's run.  ``run.py`` calls ``fire`` from its
quiesce loop, every poll, so a heal that is due (a worker restarted
``restart_after`` seconds after its kill, a pause that lasted ``for`` seconds)
also happens there.  ``heal_all`` runs before the final probe and heals
whatever is left: paused workers resume, paused clients are released, killed
workers that the scenario restarts come back, filler keys are deleted.  So
the probe sees the system as it settles, not as the fault froze it.

Every fault and every heal goes into the run's timeline with its time, what
was done and to whom (worker hostname, pids), so the checker can tell a part
that died with its process from one that is still running.

Faults (``Fault.kind``) and their options:

- ``kill-worker``: SIGKILL the worker's main process (its prefork children die
  with it: Celery sets PDEATHSIG on them).  ``restart``: start it again as the
  heal; ``restart_after``: seconds until then (default: at ``heal_all``).
- ``kill-pool-child``: SIGKILL the pool child that runs a header part right
  now (per the ledger), else the first child.
- ``pause-worker``: SIGSTOP the worker's process group; SIGCONT after ``for``
  seconds (default: at ``heal_all``).
- ``restart-redis``: ``persist``: SAVE first, so the data survives.
- ``client-pause``: ``CLIENT PAUSE`` for ``for`` seconds (``mode``: ``all`` or
  ``write``; a WRITE pause heals by CLIENT UNPAUSE, an ALL pause, which holds
  CLIENT UNPAUSE too, by running out), or ``command: "debug-sleep"`` for ``DEBUG SLEEP`` (the whole
  server blocks; Redis 7 needs ``enable-debug-command local`` in the
  scenario's ``redis_options``).
- ``flushdb``: ``db`` (default 1, the result backend).
- ``fill-redis``: write ``chunk``-byte filler keys into ``db`` (default 2)
  until Redis refuses (noeviction) or ``limit`` keys; ``ttl``: give them a TTL
  (they then compete with the chord keys under ``volatile-*``); ``prefix``;
  ``for``: keep them that many seconds after the fill, even past the parts'
  end (``heal_all`` waits), since a part's result and failure are written
  after its end.  Healed by deleting them.
- ``partition-worker``: cut the worker off from the ``from`` side (``broker``,
  ``backend``, or ``redis``: both, the default) through its own partition proxy
  (``lab.runtime.process.partition_proxy``, started by the topology): every open
  connection reset, every new one reset as it comes; healed after ``for``
  seconds (default: at ``heal_all``), and ``heal_all`` lasts a ``for`` out, as
  the docker runtime's ``docker network disconnect`` does
  (``lab.runtime.docker.containers.DockerNemesis``, which fires it there).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from lab.scenario import PARTITION_SIDE_WORDS, PARTITION_SIDES, Fault

FILL_LIMIT = 20000
POLL_S = 0.02


class Nemesis:
    LASTING_HEALS: tuple[str, ...] = ("heal-partition",)  # heals heal_all waits for, where the fault has a length

    def __init__(self, faults: tuple[Fault, ...], topo: Any, timeline: list[dict[str, Any]]):
        self.faults = list(faults)
        self.topo = topo
        self.timeline = timeline
        self.fired: set[int] = set()
        self.armed_at: dict[int, float] = {}
        self.heals: list[dict[str, Any]] = []  # pending: {"kind", "target", "due" (None: at heal_all), ...}
        self._threads: list[threading.Thread] = []

    def extra_time(self) -> float:
        """Seconds the faults may add to the header's run: delays, pauses, restarts, redelivery."""
        extra = 0.0
        for f in self.faults:
            extra += f.delay + float(f.options.get("for", 0)) + float(f.options.get("restart_after", 0))
            if f.kind in ("kill-worker", "restart-redis"):
                extra += 10.0  # a worker or redis-server started again, and messages redelivered
            elif f.kind == "partition-worker":
                extra += 15.0  # a reconnect after backoff, and messages redelivered
        return extra

    def _note(self, what: str, kind: str = "fault", **fields: Any) -> None:
        self.timeline.append({"t": time.time(), "kind": kind, "what": what, **fields})

    # -- firing -------------------------------------------------------------

    def fire(self, trigger: str, watch: Any = None, sent: Any = None) -> None:
        now = time.time()
        for i, f in enumerate(self.faults):
            if i in self.fired or f.trigger != trigger:
                continue
            if i not in self.armed_at:
                self.armed_at[i] = min(now, _happened_at(trigger, watch, sent) or now)
            if now - self.armed_at[i] >= f.delay:
                self.fired.add(i)
                self._inject(f, watch, sent)
        self._heal_due(now)

    def fire_remaining(self, watch: Any = None, sent: Any = None) -> None:
        """Faults whose trigger was reached but whose delay had not passed yet fire now, in order."""
        for i, f in enumerate(self.faults):
            if i in self.armed_at and i not in self.fired:
                wait = self.armed_at[i] + f.delay - time.time()
                if wait > 0:
                    time.sleep(wait)
                self.fired.add(i)
                self._inject(f, watch, sent)
        unreached = [f"{f.kind} ({f.trigger})" for i, f in enumerate(self.faults) if i not in self.armed_at]
        if unreached:
            self._note(f"never fired, its trigger was not reached: {', '.join(unreached)}", kind="fault-skipped")

    def _inject(self, f: Fault, watch: Any, sent: Any) -> None:
        topo = self.topo
        opts = f.options
        if f.kind == "kill-worker":
            w = topo.worker(f.target)
            kids = w.node.children_pids()
            os.kill(w.node.pid, signal.SIGKILL)  # the main process only; Celery's PDEATHSIG takes its pool children along
            self._note(f"SIGKILL worker {f.target} main process (pid {w.node.pid})", fault=f.kind,
                       target=w.hostname, pids=[w.node.pid, *kids])
            if opts.get("restart"):
                self._schedule("restart-worker", f.target, opts.get("restart_after"))
        elif f.kind == "kill-pool-child":
            w = topo.worker(f.target)
            kids = w.node.children_pids()
            victim = _busy_child(watch, sent, kids) or (kids[0] if kids else None)
            if victim is None:
                self._note(f"no pool child to kill on worker {f.target}", kind="fault-skipped", fault=f.kind,
                           target=w.hostname)
                return
            os.kill(victim, signal.SIGKILL)
            self._note(f"SIGKILL pool child {victim} of worker {f.target}", fault=f.kind, target=w.hostname,
                       pids=[victim])
        elif f.kind == "pause-worker":
            w = topo.worker(f.target)
            w.node.pause()
            self._note(f"SIGSTOP worker {f.target} (pid {w.node.pid} and its children)", fault=f.kind,
                       target=w.hostname, pids=[w.node.pid])
            self._schedule("resume-worker", f.target, opts.get("for"))
        elif f.kind == "restart-redis":
            persist = bool(opts.get("persist", False))
            t0 = time.time()
            topo.redis.restart(persist=persist)
            self._note(f"restarted redis-server {'with' if persist else 'without'} persistence "
                       f"(down {time.time() - t0:.2f} s, same port {topo.redis.port})", fault=f.kind, persist=persist)
        elif f.kind == "client-pause":
            secs = float(opts.get("for", 2.0))
            if opts.get("command") == "debug-sleep":
                # DEBUG SLEEP blocks the server and its caller: run it from a thread, on its own connection
                client = topo.redis.client(0)
                t = threading.Thread(target=self._debug_sleep, args=(client, secs), daemon=True)
                self._note(f"DEBUG SLEEP {secs:g} s: redis-server answers nobody", fault=f.kind, seconds=secs)
                t.start()
                self._threads.append(t)
            else:
                mode = str(opts.get("mode", "all")).upper()
                topo.redis.client(0).execute_command("CLIENT", "PAUSE", int(secs * 1000), mode)
                self._note(f"CLIENT PAUSE {int(secs * 1000)} ms {mode}", fault=f.kind, seconds=secs, mode=mode)
                self._schedule("unpause-clients", None, secs, mode=mode)
        elif f.kind == "flushdb":
            db = int(opts.get("db", 1))
            client = topo.redis.client(db)
            n = client.dbsize()
            client.flushdb()
            self._note(f"FLUSHDB on db {db} ({n} keys)", fault=f.kind, db=db, keys=n)
        elif f.kind == "fill-redis":
            self._fill(f)
        elif f.kind == "partition-worker":
            w = topo.worker(f.target)
            side = str(opts.get("from", "redis"))
            proxies = [w.proxies[s] for s in PARTITION_SIDES[side]]
            reset = sum(p.cut() for p in proxies)
            where = " and ".join(str(p.port) for p in proxies)
            self._note(f"partitioned worker {f.target} from {PARTITION_SIDE_WORDS[side]} (its proxy on port {where} reset "
                       f"{reset} open connection(s) and resets every new one)", fault=f.kind, target=w.hostname,
                       side=side)  # no pids: every process lives on
            self._schedule("heal-partition", f.target, opts.get("for"), side=side)

    def _fill(self, f: Fault) -> None:
        db = int(f.options.get("db", 2))
        chunk = int(f.options.get("chunk", 64 * 1024))
        limit = int(f.options.get("limit", FILL_LIMIT))
        ttl = f.options.get("ttl")
        prefix = str(f.options.get("prefix", "lab:fill:"))
        client = self.topo.redis.client(db)
        blob = b"x" * chunk
        written, error = 0, None
        try:
            for n in range(limit):
                if ttl:
                    client.set(f"{prefix}{n}", blob, ex=int(ttl))
                else:
                    client.set(f"{prefix}{n}", blob)
                written = n + 1
        except Exception as e:  # OOM under noeviction (or volatile-* with nothing volatile left): Redis is full
            error = str(e).splitlines()[0]
        info = client.info()
        what = (f"filled db {db} with {written} x {chunk} B keys" + (f" (TTL {ttl} s)" if ttl else "")
                + (f" until Redis refused: {error}" if error else "")
                + f"; used_memory {info.get('used_memory')} of maxmemory {info.get('maxmemory')}, "
                  f"evicted_keys {info.get('evicted_keys')}")
        self._note(what, fault=f.kind, db=db, written=written, error=error, evicted_keys=info.get("evicted_keys"))
        self._schedule("unfill", None, f.options.get("for"), db=db, prefix=prefix)

    def _debug_sleep(self, client, secs: float) -> None:
        try:
            client.execute_command("DEBUG", "SLEEP", secs)
            self._note(f"DEBUG SLEEP {secs:g} s ended", "heal")
        except Exception as e:  # e.g. Redis 7 without enable-debug-command: the fault did not happen, say so
            self._note(f"DEBUG SLEEP refused: {str(e).splitlines()[0]}", "fault-failed")

    # -- healing ------------------------------------------------------------

    def _schedule(self, kind: str, target: str | None, after: Any, **fields: Any) -> None:
        due = time.time() + float(after) if after is not None else None
        self.heals.append({"kind": kind, "target": target, "due": due, **fields})

    def _heal_due(self, now: float) -> None:
        for h in [h for h in self.heals if h["due"] is not None and h["due"] <= now]:
            self.heals.remove(h)
            self._heal(h)

    def _heal(self, h: dict[str, Any]) -> None:
        kind, target = h["kind"], h["target"]
        if kind == "resume-worker":
            w = self.topo.worker(target)
            w.node.resume()
            self._note(f"SIGCONT worker {target}", "heal", target=w.hostname)
        elif kind == "restart-worker":
            w = self.topo.restart_worker(target)
            self._note(f"restarted worker {target} (pid {w.node.pid}), ready", "heal", target=w.hostname,
                       pids=[w.node.pid])
        elif kind == "unpause-clients":
            wait = (h["due"] or 0) - time.time()
            if h.get("mode") != "WRITE":
                # Under PAUSE ALL, Redis 7 holds CLIENT UNPAUSE too: the pause can only run out.
                if wait > 0:
                    time.sleep(wait)
                self._note("CLIENT PAUSE ran out", "heal")
                return
            try:
                self.topo.redis.client(0).execute_command("CLIENT", "UNPAUSE")
                self._note("CLIENT UNPAUSE" + (f", {wait:.1f} s early" if wait > 0.05 else ""), "heal")
            except Exception as e:  # the server went away meanwhile: nothing paused any more
                self._note(f"CLIENT UNPAUSE failed: {e}", "heal")
        elif kind == "heal-partition":
            w = self.topo.worker(target)
            proxies = [w.proxies[s] for s in PARTITION_SIDES[h["side"]]]
            closed = sum(p.heal() for p in proxies)
            self._note(f"healed the partition of worker {target} from {PARTITION_SIDE_WORDS[h['side']]} (its proxy accepts "
                       f"again; the {closed} cut connection(s) closed on Redis's side too)", "heal", target=w.hostname)
        elif kind == "unfill":
            wait = (h["due"] or 0) - time.time()
            if wait > 0:  # held full for as long as declared: Celery's failure writes come after the parts end
                time.sleep(wait)
            client = self.topo.redis.client(h["db"])
            n = 0
            try:
                for key in client.scan_iter(match=f"{h['prefix']}*", count=1000):
                    n += client.delete(key)
            except Exception as e:
                self._note(f"deleting filler keys failed after {n}: {e}", "heal")
                return
            self._note(f"deleted {n} filler keys from db {h['db']}", "heal", db=h["db"])

    def heal_all(self) -> None:
        """Heal every fault still in effect, now; wait for a DEBUG SLEEP to end; a heal of ``LASTING_HEALS`` given a
        length (``for``) lasts it out first: the run calls this as soon as the header quiesces, which can be while a
        cut-off worker is still failing its way through retries, and healing then would make the outcome a race
        with the worker."""
        due = [h["due"] for h in self.heals if h["kind"] in self.LASTING_HEALS and h["due"] is not None]
        while due and time.time() < max(due):
            self._heal_due(time.time())
            time.sleep(POLL_S)
        for t in self._threads:
            t.join(timeout=60)
        self._threads.clear()
        pending, self.heals = self.heals, []
        for h in pending:
            self._heal(h)




def _happened_at(trigger: str, watch: Any, sent: Any) -> float | None:
    """When the witness says ``trigger`` happened: the first header part's start, or the last one's end."""
    if trigger not in ("after-parts-started", "after-parts-ended") or watch is None or not sent:
        return None
    header = {h for c in sent for h in c.get("header_ids") or ()}
    kind = "start" if trigger == "after-parts-started" else "end"
    times = [e["t"] for e in watch.events if e.get("event") == kind and e.get("task_id") in header and "t" in e]
    if not times:
        return None
    return min(times) if kind == "start" else max(times)


def _busy_child(watch: Any, sent: Any, kids: list[int]) -> int | None:
    """The pool child that is running a header part right now, per the ledger."""
    if watch is None or not sent:
        return None
    watch.poll()
    header_ids = {h for c in sent for h in c["header_ids"]}
    ended = {e["task_id"] for e in watch.events if e["event"] == "end"}
    for e in reversed(watch.events):
        if e["event"] == "start" and e.get("task_id") in header_ids and e["task_id"] not in ended and e.get("pid") in kids:
            return e["pid"]
    return None
