"""Partition proxy: the process runtime's ``partition-worker``, a TCP proxy the lab owns between one worker and Redis.

    scenario → **topology up** (a proxy per cut-off worker and side) → chords sent → (**faults**) → ...

``lab.runtime.process.topology`` starts one proxy per worker and side (broker, result backend) that a
``partition-worker`` fault targets, as a node of the run's ``ProcessOwner`` (its own session, the reaper,
PDEATHSIG: it dies with the run like redis-server and the workers), and points only that worker's URL at
it; the producer and every other worker connect directly.  ``lab.drive.nemesis`` cuts and heals it.

The proxy runs as ``python -I -S partition_proxy.py --target HOST:PORT`` (standard library only, so it
starts fast), listens on a loopback port of its own choosing plus a control port, and logs both
(``listening on 127.0.0.1:P control 127.0.0.1:C``).  The control channel is one line over TCP:
``cut`` answers ``cut N`` (N open connections reset), ``heal`` answers ``healed N``.

Cut is reset-and-refuse, not a blackhole.  ``docker network disconnect``, which the docker runtime
uses, takes the worker's interface off the network: its open sockets fail at once (no route) and the
name no longer resolves, so redis-py raises ConnectionError within seconds, which is what the scenarios
depend on.  A reset (SO_LINGER 0, so close() sends RST) of every open connection and an accept-then-reset
of every new one give redis-py that same ConnectionError at once.  New connections are accepted and reset
rather than left unaccepted: the listening socket stays ours, so no other process can take its port
during the cut.  A blackhole (bytes silently dropped) would look like a frozen network instead, and
would surface only through socket timeouts (``socket_timeout``, ``socket_connect_timeout``, TCP
keepalive), which Celery's Redis clients leave unset by default: the worker would hang, not fail.

The server side of a cut connection is not closed: as after a docker disconnect, Redis still sees its
client, and whatever Redis sends it (a BRPOP that pops a message) is read and dropped, lost in the
partition.  Those connections are closed at the heal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import re
import struct
import sys
from pathlib import Path

CHUNK = 64 * 1024
SCRIPT = Path(__file__).resolve()
READY = r"^listening on 127\.0\.0\.1:(\d+) control 127\.0\.0\.1:(\d+) "
READY_TIMEOUT = 10.0
CONTROL_TIMEOUT = 5.0


class _Pair:
    """One proxied connection: the worker's side and Redis's side."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter):
        self.client, self.upstream, self.severed = client, upstream, False


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on, 0 s, then abort (no FIN, no flush)."""
    with contextlib.suppress(OSError, AttributeError):
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Proxy:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.cut = False
        self.open: set[_Pair] = set()
        self.severed: set[_Pair] = set()  # cut off: Redis's side kept (and read into the void) until the heal

    async def on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        pair = _Pair(writer, up_writer)
        if self.cut:  # cut while connecting upstream
            _reset(writer)
            up_writer.close()
            return
        self.open.add(pair)
        await asyncio.gather(self._pump(reader, up_writer, pair), self._pump(up_reader, writer, pair))

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, pair: _Pair) -> None:
        try:
            while data := await src.read(CHUNK):
                if pair.severed:
                    continue  # Redis answered a worker that is cut off: the partition swallows it
                dst.write(data)
                await dst.drain()
        except OSError:
            pass
        finally:
            if not pair.severed and pair in self.open:  # an ordinary close, from either end: close both
                self.open.discard(pair)
                pair.client.close()
                pair.upstream.close()

    def do_cut(self) -> int:
        self.cut = True
        pairs, self.open = self.open, set()
        for pair in pairs:
            pair.severed = True
            _reset(pair.client)
        self.severed |= pairs
        return len(pairs)

    def do_heal(self) -> int:
        self.cut = False
        pairs, self.severed = self.severed, set()
        for pair in pairs:
            pair.upstream.close()
        return len(pairs)

    async def on_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := (await reader.readline()).strip():
                if line == b"cut":
                    reply = f"cut {self.do_cut()}"
                elif line == b"heal":
                    reply = f"healed {self.do_heal()}"
                else:
                    reply = f"error: unknown command {line.decode(errors='replace')!r}"
                print(reply, flush=True)  # the node's log: each cut and heal, in order
                writer.write(reply.encode() + b"\n")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


async def serve(host: str, port: int) -> None:
    proxy = Proxy(host, port)
    server = await asyncio.start_server(proxy.on_client, "127.0.0.1", 0, reuse_address=True)
    control = await asyncio.start_server(proxy.on_control, "127.0.0.1", 0)
    p, c = server.sockets[0].getsockname()[1], control.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{p} control 127.0.0.1:{c} target {host}:{port}", flush=True)
    async with server, control:
        await asyncio.gather(server.serve_forever(), control.serve_forever())


# -- the lab's side: start one, cut it, heal it ------------------------------------------------------


class PartitionProxy:
    """A running proxy node: ``port`` is where the worker connects, ``target`` where its bytes go."""

    def __init__(self, node, target: tuple[str, int], port: int, control_port: int):
        self.node, self.target, self.port, self.control_port = node, target, port, control_port

    def command(self, word: str) -> int:
        """Send ``cut`` or ``heal`` and wait for the answer: how many connections it reset or closed."""
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=CONTROL_TIMEOUT) as s:
            s.sendall(word.encode() + b"\n")
            reply = s.makefile("rb").readline().decode().strip()
        m = re.fullmatch(r"(?:cut|healed) (\d+)", reply)
        if not m:
            raise RuntimeError(f"partition proxy {self.node.name} answered {word!r} with {reply!r}")
        return int(m.group(1))

    def cut(self) -> int:
        return self.command("cut")

    def heal(self) -> int:
        return self.command("heal")

    def describe(self) -> dict:
        return {"pid": self.node.pid, "port": self.port, "target": f"{self.target[0]}:{self.target[1]}",
                "log": str(self.node.log_path)}


def start_proxies(owner, wanted: dict[str, tuple[str, int]]) -> dict[str, PartitionProxy]:
    """Start one proxy per name in ``wanted`` (name → target), as nodes of ``owner``, all at once; return them
    once each logged its ports (``NodeNotReady`` if one does not within ``READY_TIMEOUT``)."""
    nodes = {name: owner.spawn(name, [sys.executable, "-I", "-S", str(SCRIPT), "--target", f"{host}:{port}"],
                               cwd=owner.run_dir)
             for name, (host, port) in wanted.items()}
    out = {}
    for name, node in nodes.items():
        m = node.wait_for_log(READY, READY_TIMEOUT)
        out[name] = PartitionProxy(node, wanted[name], int(m.group(1)), int(m.group(2)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="HOST:PORT to forward to")
    host, _, port = ap.parse_args(argv).target.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, int(port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
