"""The partition proxy (lab/runtime/process/partition_proxy.py) over real sockets, as a real process of the lab.

An echo server on loopback stands for Redis: bytes go through the proxy both
ways; a cut resets an open connection (the client reads ECONNRESET, not EOF)
and resets a new one; the heal accepts again; the proxy is gone after the
owner stops, and after a SIGKILLed lab (the reaper).  Then the two partition
scenarios on the process runtime, real redis-server and real workers: each
gives the verdict its docker run gives, and only the cut-off worker's URL
names its proxy.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from lab.scenario import load
from lab.experiments.run import run_scenario
from lab.runtime.process.partition_proxy import start_proxies
from lab.runtime.process.processes import ProcessOwner

BOUND = 5.0


@pytest.fixture
def echo():
    """A loopback echo server (one thread per connection); yields its (host, port)."""
    srv = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []

    def serve_one(c: socket.socket) -> None:
        with c:
            while data := c.recv(65536):
                c.sendall(data)

    def accept() -> None:
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)
            threading.Thread(target=serve_one, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield srv.getsockname()
    srv.close()
    for c in conns:
        c.close()


def roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as s:
        s.sendall(payload)
        return recv_exactly(s, len(payload))


def recv_exactly(s: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got


def reads_reset(s: socket.socket) -> bool:
    """The peer reset the connection: recv (or a send, then recv) raises ECONNRESET within the bound."""
    s.settimeout(BOUND)
    try:
        s.sendall(b"PING\r\n")
        s.recv(1)  # b"" would be a FIN (an orderly close), not what a partition looks like
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def new_connection_reset(port: int) -> bool:
    """A new connection is accepted, then reset: the connect itself may already read the RST (a timeout's
    connect polls, then reads SO_ERROR), or the first send or recv does."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
    except ConnectionResetError:
        return True
    with s:
        return reads_reset(s)


def test_forwards_cuts_with_resets_refuses_heals_and_stops(tmp_path, echo):
    owner = ProcessOwner(tmp_path)
    with owner:
        proxy = start_proxies(owner, {"proxy-w1-broker": echo})["proxy-w1-broker"]
        assert proxy.node.alive() and proxy.port != echo[1]
        big = bytes(range(256)) * 4096  # 1 MiB each way: more than one read
        assert roundtrip(proxy.port, big) == big

        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=BOUND)
        held.sendall(b"hello")
        assert recv_exactly(held, 5) == b"hello"
        assert proxy.cut() == 1  # the held connection, reset
        assert reads_reset(held)
        held.close()
        assert new_connection_reset(proxy.port)

        assert proxy.heal() == 1  # the cut connection's upstream side, closed now
        assert roundtrip(proxy.port, b"after the heal") == b"after the heal"
        assert "cut 1" in proxy.node.log_text() and "healed 1" in proxy.node.log_text()
        pid = proxy.node.pid
    assert wait_gone(pid)


def test_a_sigkilled_lab_leaves_no_proxy(tmp_path, echo):
    """The lab dies by SIGKILL with a proxy up: the reaper kills it (and PDEATHSIG would too)."""
    script = textwrap.dedent(f"""
        import sys, time
        from lab.runtime.process.partition_proxy import start_proxies
        from lab.runtime.process.processes import ProcessOwner
        owner = ProcessOwner({str(tmp_path)!r})
        p = start_proxies(owner, {{"proxy": ({echo[0]!r}, {echo[1]})}})["proxy"]
        print(p.node.pid, flush=True)
        time.sleep(300)
    """)
    lab = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(lab.stdout.readline())
        assert psutil.pid_exists(pid)
        lab.send_signal(signal.SIGKILL)
        assert lab.wait(timeout=BOUND) == -signal.SIGKILL
        assert wait_gone(pid)
    finally:
        lab.kill()
        lab.wait()


def only_w1_through_its_proxy(result, side: str) -> None:
    """The producer's URLs name the run's redis-server; w1 has one proxy, for ``side``, forwarding to it."""
    topo = result.record["observations"]["topology"]
    (w1,) = topo["workers"]
    direct = f"127.0.0.1:{topo['redis']['port']}"
    assert direct in topo["broker_url"] and direct in topo["result_backend"]
    (proxy,) = w1["proxies"].values()
    assert list(w1["proxies"]) == [side] and proxy["target"] == direct
    assert (f"127.0.0.1:{proxy['port']}/" in w1["result_backend"]) == (side == "backend")


@pytest.mark.slow
def test_backend_partition_loses_the_part_return_on_the_process_runtime():
    """Mechanism 15: w1's backend proxy cut while the slow part runs: its GET before the part return raises
    ConnectionError, the return is never counted, the chord is stuck; healed after 10 s."""
    result = run_scenario(load("backend-partition"), seed=3)
    (v,) = result.record["verdicts"]
    assert (v["verdict"], v["cause"]) == ("stuck", "part-return-error"), v
    assert "nemesis: partitioned worker w1 from the result backend" in "\n".join(v["evidence"])
    timeline = result.record["observations"]["timeline"]
    assert any(e["kind"] == "fault" and e.get("side") == "backend" for e in timeline)
    assert any(e["kind"] == "heal" and "healed the partition" in e["what"] for e in timeline)
    only_w1_through_its_proxy(result, "backend")


@pytest.mark.slow
def test_worker_partition_fails_the_callback_publish_on_the_process_runtime():
    """w1's broker proxy cut as its last part returns: the callback publish gives up, the chord fails.

    The scenario's partition is 40 s: a connect the proxy refuses fails at once, so each of Celery 5.7's 4
    publish attempts lasts kombu's whole reconnect schedule (connects at 0, 2 and 6 s against the 4 s
    broker_connection_timeout: 6 s, where docker's 1 s failing lookups give 4 s), and the 4th attempt ends
    about 26 s after the cut (the scenario's docstring)."""
    s = load("worker-partition")
    result = run_scenario(s, seed=3)
    (v,) = result.record["verdicts"]
    assert (v["verdict"], v["cause"]) == ("failed", "callback-publish-error"), v
    timeline = result.record["observations"]["timeline"]
    cut = next(e for e in timeline if e["kind"] == "fault" and e.get("fault") == "partition-worker")
    heal = next(e for e in timeline if e["kind"] == "heal" and "healed the partition" in e["what"])
    assert cut["side"] == "broker" and heal["t"] - cut["t"] >= 40.0  # heal_all lasts the partition out
    only_w1_through_its_proxy(result, "broker")


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False
