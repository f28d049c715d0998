"""etcd-API benchmark: kcore's etcd-API server beside real etcd 3.4 and a bare grpc.aio floor.

Printed figures, not tests. The same Python gRPC client (raw grpc.aio calls with etcd's
protobuf messages, so client cost is equal for all) runs the same workloads against:

* real etcd 3.4 (Debian's etcd-server; one member, its own data dir, fsync as configured);
* kcore's etcd-API server, ``python -m kcore.store.server`` serving the **in-memory** backend;
* the floor: benchmarks/grpc_floor_server.py, a bare grpc.aio server that only stores into a
  dict (Put and Range only, so it has no watch row).

Each server runs in its own process on loopback. Workloads: sequential put, put from 50
concurrent tasks, sequential single-key get, and watch fan-out (W watch streams on one
prefix, one writer doing M puts; deliveries = W*M over the time from the first put until the
last stream has all M events). Each figure is the median of ``--reps`` rounds; rounds visit
the servers in turn so machine noise spreads evenly. Ratios: kcore/floor and kcore/etcd.

Usage: python benchmarks/etcd_bench.py [--quick] [--reps N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from kcore.store._etcdpb import rpc_pb2

ROOT = Path(__file__).resolve().parent.parent
VALUE = b"v" * 256


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    endpoint: str
    process: subprocess.Popen[bytes]
    has_watch: bool
    scratch: str | None = None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def start_etcd() -> Server:
    client, peer = free_port(), free_port()
    data = tempfile.mkdtemp(prefix="kcore-bench-etcd-")
    url_c, url_p = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    cmd = [
        shutil.which("etcd") or "etcd",
        "--name=bench",
        f"--data-dir={data}",
        f"--listen-client-urls={url_c}",
        f"--advertise-client-urls={url_c}",
        f"--listen-peer-urls={url_p}",
        f"--initial-advertise-peer-urls={url_p}",
        f"--initial-cluster=bench={url_p}",
        "--log-level=error",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Server("etcd 3.4 (real)", f"127.0.0.1:{client}", proc, True, data)


def start_kcore() -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "kcore.store.server", "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Server("kcore server (in-memory)", f"127.0.0.1:{port}", proc, True)


def start_floor() -> Server:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "benchmarks/grpc_floor_server.py"), "--listen"]
    proc = subprocess.Popen(
        [*cmd, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Server("floor: bare grpc.aio", f"127.0.0.1:{port}", proc, False)


class Client:
    """Raw grpc.aio calls with etcd's messages: identical client cost for every server."""

    def __init__(self, endpoint: str) -> None:
        self.channel = grpc.aio.insecure_channel(endpoint)
        self.put = self.channel.unary_unary(
            "/etcdserverpb.KV/Put",
            request_serializer=rpc_pb2.PutRequest.SerializeToString,
            response_deserializer=rpc_pb2.PutResponse.FromString,
        )
        self.range = self.channel.unary_unary(
            "/etcdserverpb.KV/Range",
            request_serializer=rpc_pb2.RangeRequest.SerializeToString,
            response_deserializer=rpc_pb2.RangeResponse.FromString,
        )
        self.watch = self.channel.stream_stream(
            "/etcdserverpb.Watch/Watch",
            request_serializer=rpc_pb2.WatchRequest.SerializeToString,
            response_deserializer=rpc_pb2.WatchResponse.FromString,
        )

    async def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                await self.range(rpc_pb2.RangeRequest(key=b"ready"), timeout=1)
                return
            except grpc.aio.AioRpcError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def seq_put(c: Client, n: int, tag: str) -> float:
    start = time.perf_counter()
    for i in range(n):
        await c.put(rpc_pb2.PutRequest(key=f"/bench/{tag}/{i:08d}".encode(), value=VALUE))
    return n / (time.perf_counter() - start)


async def concurrent_put(c: Client, n: int, tag: str, workers: int = 50) -> float:
    async def worker(w: int) -> None:
        for i in range(n // workers):
            key = f"/bench/{tag}/{w:02d}/{i:06d}".encode()
            await c.put(rpc_pb2.PutRequest(key=key, value=VALUE))

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return (n // workers * workers) / (time.perf_counter() - start)


async def seq_get(c: Client, n: int, tag: str) -> float:
    key = f"/bench/{tag}/get".encode()
    await c.put(rpc_pb2.PutRequest(key=key, value=VALUE))
    start = time.perf_counter()
    for _ in range(n):
        response = await c.range(rpc_pb2.RangeRequest(key=key))
        assert response.kvs[0].value == VALUE
    return n / (time.perf_counter() - start)


async def watch_fanout(c: Client, streams: int, puts: int, tag: str) -> float:
    prefix = f"/bench/{tag}/w/".encode()
    end = prefix[:-1] + bytes([prefix[-1] + 1])
    calls = []
    for _ in range(streams):
        call = c.watch()
        create = rpc_pb2.WatchCreateRequest(key=prefix, range_end=end)
        await call.write(rpc_pb2.WatchRequest(create_request=create))
        created = await call.read()
        assert created.created, created
        calls.append(call)

    async def drain(call: Any) -> None:
        seen = 0
        while seen < puts:
            response = await call.read()
            seen += len(response.events)

    start = time.perf_counter()
    readers = [asyncio.ensure_future(drain(call)) for call in calls]
    for i in range(puts):
        await c.put(rpc_pb2.PutRequest(key=prefix + b"%06d" % i, value=VALUE))
    await asyncio.wait_for(asyncio.gather(*readers), timeout=120)
    elapsed = time.perf_counter() - start
    for call in calls:
        call.cancel()
    return streams * puts / elapsed


@dataclass
class Sizes:
    puts: int
    concurrent_puts: int
    gets: int
    streams: int
    watch_puts: int


FULL = Sizes(puts=1000, concurrent_puts=2000, gets=1000, streams=50, watch_puts=200)
QUICK = Sizes(puts=50, concurrent_puts=100, gets=50, streams=5, watch_puts=20)


@dataclass
class Row:
    name: str
    samples: dict[str, list[float]] = field(default_factory=dict)

    def median(self, server: str) -> float | None:
        values = self.samples.get(server)
        return statistics.median(values) if values else None


async def run(servers: list[Server], sizes: Sizes, reps: int) -> list[Row]:
    workloads: list[tuple[str, Callable[[Client, str], Awaitable[float]], bool]] = [
        ("sequential put/s", lambda c, t: seq_put(c, sizes.puts, t), False),
        ("50-concurrent put/s", lambda c, t: concurrent_put(c, sizes.concurrent_puts, t), False),
        ("sequential get/s", lambda c, t: seq_get(c, sizes.gets, t), False),
        (
            f"watch deliveries/s ({sizes.streams} streams)",
            lambda c, t: watch_fanout(c, sizes.streams, sizes.watch_puts, t),
            True,
        ),
    ]
    rows = [Row(name) for name, _, _ in workloads]
    clients = {s.name: Client(s.endpoint) for s in servers}
    for s in servers:
        await clients[s.name].wait_ready(30)
    for rep in range(reps):
        for s in servers:
            for row, (_, workload, needs_watch) in zip(rows, workloads, strict=True):
                if needs_watch and not s.has_watch:
                    continue
                figure = await workload(clients[s.name], f"r{rep}")
                row.samples.setdefault(s.name, []).append(figure)
    for client in clients.values():
        await client.channel.close()
    return rows


def report(rows: list[Row], servers: list[Server], reps: int) -> None:
    etcd, kcore, floor = (s.name for s in servers)
    print(f"\nmedians of {reps}; kcore's server serves the in-memory backend\n")
    columns = ("etcd", "kcore", "floor", "kcore/floor", "kcore/etcd")
    header = f"{'workload':34} " + " ".join(f"{c:>11}" for c in columns)
    print(header)
    print("-" * len(header))

    def fmt(x: float | None) -> str:
        return f"{x:,.0f}" if x is not None else "-"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}x" if a is not None and b else "-"

    for row in rows:
        e, k, f = row.median(etcd), row.median(kcore), row.median(floor)
        cells = (fmt(e), fmt(k), fmt(f), ratio(k, f), ratio(k, e))
        print(f"{row.name:34} " + " ".join(f"{c:>11}" for c in cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("etcd") is None:
        print("etcd is not installed (scripts/install-peers.sh installs it)", file=sys.stderr)
        return 2
    sizes = QUICK if args.quick else FULL
    reps = 1 if args.quick else args.reps
    print(f"etcd-API benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    servers = [start_etcd(), start_kcore(), start_floor()]
    try:
        rows = asyncio.run(run(servers, sizes, reps))
    finally:
        for s in servers:
            s.stop()
    report(rows, servers, reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
