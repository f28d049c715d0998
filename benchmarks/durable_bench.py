"""Durable store benchmark: put/s of kcore's DurableStore beside MemoryStore and real etcd 3.4.

Printed figures, not tests. One run measures, each as the median of ``--reps`` rounds (rounds
visit the targets in turn so machine noise spreads evenly), 256-byte values, fresh keys:

* ``durable (embedded)``: DurableStore in this process, data dir in a temp dir; every put
  returns only after its WAL record is fdatasynced (group commit shares the fsyncs);
* ``memory (embedded)``: MemoryStore in this process (no disk at all);
* ``etcd 3.4 (real)``: Debian's etcd, one member on loopback with a temp data dir (it fsyncs
  its WAL before answering too), driven through **raw grpc.aio** calls with etcd's protobuf
  messages (benchmarks/etcd_bench.py's client: cheaper per call than kcore's EtcdStore, so
  it favours etcd);
* ``kcore server --data-dir``: ``python -m kcore.store.server`` serving the DurableStore, same
  raw grpc.aio client as etcd: the like-for-like row (both over gRPC, both fsyncing).

Workloads: 1 writer (sequential puts) and 50 concurrent writers. Ratios: durable/etcd,
durable/memory, and kcore-server-durable/etcd. etcd and the server are stopped by PID.

Usage: python benchmarks/durable_bench.py [--quick] [--reps N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from etcd_bench import (
    Client,
    Server,
    concurrent_put,
    free_port,
    seq_put,
    start_etcd,
)

from kcore.store import MemoryStore
from kcore.store.durable import DurableStore

VALUE = b"v" * 256
WRITERS = 50


async def embedded_seq(store: MemoryStore, n: int, tag: str) -> float:
    start = time.perf_counter()
    for i in range(n):
        await store.put(f"/bench/{tag}/{i:08d}".encode(), VALUE)
    return n / (time.perf_counter() - start)


async def embedded_concurrent(store: MemoryStore, n: int, tag: str) -> float:
    async def worker(w: int) -> None:
        for i in range(n // WRITERS):
            await store.put(f"/bench/{tag}/{w:02d}/{i:06d}".encode(), VALUE)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(WRITERS)))
    return (n // WRITERS * WRITERS) / (time.perf_counter() - start)


def start_kcore_durable() -> Server:
    port = free_port()
    data = tempfile.mkdtemp(prefix="kcore-bench-durable-srv-")
    cmd = [
        sys.executable,
        "-m",
        "kcore.store.server",
        "--listen",
        f"127.0.0.1:{port}",
        "--data-dir",
        f"{data}/data",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Server("kcore server --data-dir", f"127.0.0.1:{port}", proc, True, data)


async def run(sizes: dict[str, int], reps: int) -> dict[tuple[str, str], list[float]]:
    samples: dict[tuple[str, str], list[float]] = {}
    scratch = tempfile.mkdtemp(prefix="kcore-bench-durable-")
    servers = [start_etcd(), start_kcore_durable()]
    try:
        clients = {s.name: Client(s.endpoint) for s in servers}
        for c in clients.values():
            await c.wait_ready(30)
        async with (
            DurableStore(Path(scratch) / "data") as durable,
            MemoryStore() as memory,
        ):
            targets: list[tuple[str, Callable[[str, str], Awaitable[float]]]] = [
                (
                    "durable (embedded)",
                    lambda w, t: (
                        embedded_seq(durable, sizes["seq"], t)
                        if w == "1"
                        else embedded_concurrent(durable, sizes["conc"], t)
                    ),
                ),
                (
                    "memory (embedded)",
                    lambda w, t: (
                        embedded_seq(memory, sizes["mem"], t)
                        if w == "1"
                        else embedded_concurrent(memory, sizes["mem"], t)
                    ),
                ),
            ]
            for s in servers:
                c = clients[s.name]
                targets.append(
                    (
                        s.name,
                        lambda w, t, c=c: (
                            seq_put(c, sizes["seq"], t)
                            if w == "1"
                            else concurrent_put(c, sizes["conc"], t, WRITERS)
                        ),
                    )
                )
            for rep in range(reps):
                for writers in ("1", str(WRITERS)):
                    for name, fn in targets:
                        figure = await fn(writers, f"r{rep}w{writers}")
                        samples.setdefault((name, writers), []).append(figure)
            fsyncs = durable.flushes
            records = durable.records_written
        for c in clients.values():
            await c.channel.close()
        print(f"durable (embedded): {records} WAL records in {fsyncs} flushes (fsyncs)")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return samples


def report(samples: dict[tuple[str, str], list[float]], reps: int) -> None:
    names = [
        "durable (embedded)",
        "memory (embedded)",
        "etcd 3.4 (real)",
        "kcore server --data-dir",
    ]
    print(f"\nput/s, medians of {reps}; 256-byte values\n")
    header = f"{'writers':>8} " + " ".join(f"{n:>24}" for n in names)
    print(header)
    print("-" * len(header))
    med = {k: statistics.median(v) for k, v in samples.items()}
    for w in ("1", str(WRITERS)):
        print(f"{w:>8} " + " ".join(f"{med[(n, w)]:>24,.0f}" for n in names))
    print()
    for w in ("1", str(WRITERS)):
        d, m, e, k = (med[(n, w)] for n in names)
        print(
            f"{w:>3} writer(s): durable/etcd {d / e:.2f}x   durable/memory {d / m:.3f}x   "
            f"kcore-server-durable/etcd {k / e:.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("etcd") is None:
        print("etcd is not installed (scripts/install-peers.sh installs it)", file=sys.stderr)
        return 2
    sizes = (
        {"seq": 50, "conc": 200, "mem": 1000}
        if args.quick
        else {"seq": 1000, "conc": 5000, "mem": 20000}
    )
    reps = 1 if args.quick else args.reps
    print(f"durable store benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    samples = asyncio.run(run(sizes, reps))
    report(samples, reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
