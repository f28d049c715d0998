"""Store benchmark: MemoryStore through its public async API, beside a bare-Python floor.

Printed figures, not tests (ARCHITECTURE.md: "Benchmarks are not tests"). One run measures,
each figure the median of ``--reps`` repetitions (default 3):

* put/s: distinct 64-byte keys (in shuffled order), 256-byte values, one ``await store.put``
  after another;
* single-key range/s: ``await store.range(key)`` for random keys of an 11,000-key store;
* 1,000-key prefix range/s: ``await store.range(prefix, prefix_end(prefix))`` over a prefix
  holding 1,000 of those keys (each call returns all 1,000);
* txn/s: compare-and-swap, a MOD EQUAL compare and a put (every one must succeed);
* watch deliveries/s: 1,000 watchers on one prefix, each consuming with ``async for``, and a
  writer doing N puts; events received by all watchers / time from the first put until the
  last watcher has received its N-th event; and the same with the writer yielding after each
  put (200 puts), so every put wakes every watcher (no target: the per-write fan-out cost);
* bytes per key: tracemalloc growth while ``--keys`` keys (64 B key, 256 B value, fresh objects
  the store alone holds) are put, per key, minus the 320 raw key+value bytes, so everything
  else (Python object headers, index, revision bookkeeping) counts as overhead.

The floor, measured in the same run with the same keys and values: a bare dict-of-lists put
loop (``d.setdefault(key, []).append(value)``), its puts/s and its bytes per key measured the
same way. The ratio column is kcore / floor. A second floor row runs the same loop behind an
``async def`` to show what the async call alone costs.

Usage: python benchmarks/store_bench.py [--quick] [--keys N] [--reps N]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    MemoryStore,
    PutRequest,
    prefix_end,
)

KEY_LEN = 64
VALUE_LEN = 256
RAW = KEY_LEN + VALUE_LEN

TARGET_PUTS = 150_000.0
TARGET_DELIVERIES = 1_000_000.0
TARGET_OVERHEAD = 600.0

REPS = 3  # repetitions per figure (--reps); each figure is their median


@dataclass(frozen=True)
class Sizes:
    puts: int
    range_store: int
    prefix_keys: int
    ranges: int
    prefix_ranges: int
    txns: int
    watchers: int
    watch_puts: int
    interleaved_puts: int
    memory_keys: int


FULL = Sizes(
    puts=100_000,
    range_store=10_000,
    prefix_keys=1_000,
    ranges=50_000,
    prefix_ranges=300,
    txns=50_000,
    watchers=1_000,
    watch_puts=1_000,
    interleaved_puts=200,
    memory_keys=1_000_000,
)
QUICK = Sizes(
    puts=2_000,
    range_store=1_000,
    prefix_keys=1_000,
    ranges=2_000,
    prefix_ranges=10,
    txns=1_000,
    watchers=100,
    watch_puts=20,
    interleaved_puts=20,
    memory_keys=10_000,
)


def make_keys(tag: str, n: int, seed: int = 1) -> list[bytes]:
    """``n`` distinct 64-byte keys under ``/bench/<tag>/``, in a shuffled (seeded) order."""
    prefix = f"/bench/{tag}/".encode()
    width = KEY_LEN - len(prefix)
    keys = [prefix + b"%0*d" % (width, i) for i in range(n)]
    random.Random(seed).shuffle(keys)
    return keys


def value_for(i: int) -> bytes:
    """A fresh 256-byte value object."""
    return i.to_bytes(8, "big") * (VALUE_LEN // 8)


def new_store() -> MemoryStore:
    return MemoryStore()  # the default configuration: real clock, default buffers


class BenchError(Exception):
    """The store answered wrongly during a benchmark (the figure would mean nothing)."""


# --- the floor --------------------------------------------------------------------------


def floor_puts(keys: list[bytes], value: bytes) -> float:
    d: dict[bytes, list[bytes]] = {}
    gc.collect()
    t0 = time.perf_counter()
    for k in keys:
        d.setdefault(k, []).append(value)
    return len(keys) / (time.perf_counter() - t0)


async def floor_async_puts(keys: list[bytes], value: bytes) -> float:
    d: dict[bytes, list[bytes]] = {}

    async def put(k: bytes, v: bytes) -> None:
        d.setdefault(k, []).append(v)

    gc.collect()
    t0 = time.perf_counter()
    for k in keys:
        await put(k, value)
    return len(keys) / (time.perf_counter() - t0)


def floor_overhead(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        d: dict[bytes, list[bytes]] = {}
        prefix = b"/bench/mem/"
        width = KEY_LEN - len(prefix)
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            d.setdefault(prefix + b"%0*d" % (width, i), []).append(value_for(i))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del d
    return (after - before) / n - RAW


# --- the store --------------------------------------------------------------------------


async def store_puts(keys: list[bytes], value: bytes) -> float:
    async with new_store() as store:
        put = store.put
        gc.collect()
        t0 = time.perf_counter()
        for k in keys:
            await put(k, value)
        elapsed = time.perf_counter() - t0
        count = (await store.range(b"/bench/", prefix_end(b"/bench/"), count_only=True)).count
        if count != len(keys):
            raise BenchError(f"put: {len(keys)} keys put, range counts {count}")
    return len(keys) / elapsed


async def store_ranges(sizes: Sizes, value: bytes) -> tuple[list[float], list[float]]:
    """(single-key range/s per repetition, prefix range/s per repetition), one store."""
    singles: list[float] = []
    prefixes: list[float] = []
    async with new_store() as store:
        keys = make_keys("range", sizes.range_store)
        prefix = b"/bench/prefix/"
        prefix_keys = make_keys("prefix", sizes.prefix_keys)
        for k in keys + prefix_keys:
            await store.put(k, value)
        everything = keys + prefix_keys
        rng = random.Random(2)
        picks = [rng.choice(everything) for _ in range(sizes.ranges)]
        end = prefix_end(prefix)
        for _ in range(REPS):
            gc.collect()
            t0 = time.perf_counter()
            for k in picks:
                resp = await store.range(k)
            singles.append(len(picks) / (time.perf_counter() - t0))
            if len(resp.kvs) != 1:
                raise BenchError(f"range({picks[-1]!r}) returned {len(resp.kvs)} kvs, not 1")

            gc.collect()
            t0 = time.perf_counter()
            for _ in range(sizes.prefix_ranges):
                resp = await store.range(prefix, end)
            prefixes.append(sizes.prefix_ranges / (time.perf_counter() - t0))
            if len(resp.kvs) != sizes.prefix_keys:
                raise BenchError(
                    f"prefix range returned {len(resp.kvs)} kvs, not {sizes.prefix_keys}"
                )
    return singles, prefixes


async def store_txns(n: int, value: bytes) -> float:
    async with new_store() as store:
        keys = make_keys("txn", 1_000)
        mods = {k: (await store.put(k, value)).header.revision for k in keys}
        failed = 0
        gc.collect()
        t0 = time.perf_counter()
        for i in range(n):
            k = keys[i % len(keys)]
            resp = await store.txn(
                compare=[Compare(k, CompareTarget.MOD, CompareResult.EQUAL, mod_revision=mods[k])],
                success=[PutRequest(k, value)],
            )
            if resp.succeeded:
                mods[k] = resp.header.revision
            else:
                failed += 1
        elapsed = time.perf_counter() - t0
    if failed:
        raise BenchError(f"txn: {failed} of {n} compare-and-swaps failed; all should succeed")
    return n / elapsed


async def store_watch(watchers: int, puts: int, value: bytes, interleave: bool = False) -> float:
    """Deliveries/s to ``watchers`` prefix watchers of ``puts`` puts.

    MemoryStore's put never suspends, so a writer in a loop runs ahead and the watchers
    receive its revisions in batches. ``interleave`` makes the writer yield after every put,
    so each put wakes every watcher for one event: the per-write fan-out cost.
    """
    async with new_store() as store:
        prefix = b"/bench/watch/"
        keys = make_keys("watch", puts)
        handles = [await store.watch(prefix, prefix_end(prefix)) for _ in range(watchers)]
        received = [0] * watchers
        finished = [0.0] * watchers
        problems: list[str] = []

        async def consume(i: int) -> None:
            got = 0
            last = 0
            async with handles[i] as w:
                async for resp in w:
                    if resp.canceled:
                        problems.append(f"watcher {i} canceled: {resp.cancel_reason!r}")
                        break
                    if not resp.events:
                        continue
                    first = resp.events[0].kv.mod_revision
                    if first <= last:
                        problems.append(f"watcher {i}: revision {first} after {last}")
                    last = resp.events[-1].kv.mod_revision
                    got += len(resp.events)
                    if got >= puts:
                        finished[i] = time.perf_counter()
                        break
            received[i] = got

        gc.collect()
        with anyio.fail_after(max(60.0, watchers * puts / 20_000)):
            async with anyio.create_task_group() as tg:
                for i in range(watchers):
                    tg.start_soon(consume, i)
                for _ in range(5):  # let every consumer reach its first __anext__
                    await anyio.lowlevel.checkpoint()
                t0 = time.perf_counter()
                for k in keys:
                    await store.put(k, value)
                    if interleave:
                        await anyio.lowlevel.checkpoint()
        if problems:
            raise BenchError("watch: " + "; ".join(problems[:3]))
        total = sum(received)
        if total != watchers * puts:
            raise BenchError(f"watch: {total} events received, expected {watchers * puts}")
        return total / (max(finished) - t0)


async def store_overhead(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        async with new_store() as store:
            put = store.put
            prefix = b"/bench/mem/"
            width = KEY_LEN - len(prefix)
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            for i in range(n):
                await put(prefix + b"%0*d" % (width, i), value_for(i))
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / n - RAW


async def rss_probe(n: int) -> None:
    """``--rss-probe N``: the same puts in this (fresh) process, measured as RSS growth.

    tracemalloc counts the bytes Python asked for; RSS also counts the allocator's slack
    (partly used arenas), so it is the figure an operator would see. Linux only.
    """

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    async with new_store() as store:
        prefix = b"/bench/mem/"
        width = KEY_LEN - len(prefix)
        gc.collect()
        before = rss()
        for i in range(n):
            await store.put(prefix + b"%0*d" % (width, i), value_for(i))
        gc.collect()
        print(f"{(rss() - before) / n - RAW:.1f}")


def rss_cross_check(n: int) -> str:
    if not os.path.exists("/proc/self/statm"):
        return "n/a (no /proc)"
    cmd = [sys.executable, __file__, "--rss-probe", str(n)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    return f"{float(done.stdout):,.0f} B/key"


# --- running and printing -----------------------------------------------------------------


@dataclass
class Row:
    label: str
    unit: str
    kcore: float | None = None
    floor: float | None = None
    target: float | None = None
    higher_is_better: bool = True
    error: str = ""
    samples: list[float] = field(default_factory=list)


async def median_of(fn: Callable[[], Awaitable[float]]) -> tuple[float, list[float]]:
    samples = [await fn() for _ in range(REPS)]
    return statistics.median(samples), samples


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}"


def print_table(rows: list[Row], floors: list[Row], rss: str) -> None:
    head = (
        f"{'figure':<42} {'kcore':>12} {'spread':>7} {'floor':>12} {'ratio':>8}  "
        f"{'target':<14} {'met'}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.error:
            print(f"{r.label:<42} ERROR: {r.error}")
            continue
        ratio = "-"
        if r.kcore is not None and r.floor:
            ratio = f"{r.kcore / r.floor:.3g}x"
        target, met = "-", "-"
        if r.target is not None and r.kcore is not None:
            op = ">=" if r.higher_is_better else "<="
            target = f"{op} {r.target:,.0f}"
            ok = r.kcore >= r.target if r.higher_is_better else r.kcore <= r.target
            met = "yes" if ok else "NO"
        spread = "-"
        if len(r.samples) > 1 and r.kcore:
            spread = f"{(max(r.samples) - min(r.samples)) / r.kcore:.0%}"
        print(
            f"{r.label:<42} {fmt(r.kcore):>12} {spread:>7} {fmt(r.floor):>12} {ratio:>8}  "
            f"{target:<14} {met}"
        )
    print()
    print("floor (bare Python, same keys and values):")
    for r in floors:
        print(f"  {r.label:<40} {fmt(r.kcore):>12} {r.unit}")
    print()
    print(f"bytes/key cross-check, RSS growth in a fresh process (one run): {rss}")


async def run(sizes: Sizes, quick: bool) -> int:
    started = time.perf_counter()

    def progress(what: str) -> None:
        elapsed = time.perf_counter() - started
        print(f"[{elapsed:5.1f}s] measuring {what} ...", file=sys.stderr, flush=True)

    value = b"v" * VALUE_LEN
    put_keys = make_keys("put", sizes.puts)
    print(
        f"kcore store benchmark: MemoryStore on anyio/asyncio, Python {platform.python_version()}"
        f" on {platform.machine()}, {os.cpu_count()} CPUs; median of {REPS}"
        + (" (--quick: small sizes, figures are rough)" if quick else "")
    )
    print(
        f"sizes: {sizes.puts:,} puts, {sizes.range_store + sizes.prefix_keys:,}-key store for "
        f"ranges, {sizes.txns:,} txns, {sizes.watchers:,} watchers x {sizes.watch_puts:,} puts "
        f"({sizes.interleaved_puts:,} interleaved), {sizes.memory_keys:,} keys for bytes/key"
    )
    print(flush=True)

    floor_samples = [floor_puts(put_keys, value) for _ in range(REPS)]
    floor = statistics.median(floor_samples)
    afloor, _ = await median_of(lambda: floor_async_puts(put_keys, value))

    put = Row("put/s (64 B key, 256 B value)", "put/s", floor=floor, target=TARGET_PUTS)
    single = Row("single-key range/s", "range/s", floor=floor)
    prefix = Row(f"{sizes.prefix_keys:,}-key prefix range/s", "range/s")
    txn = Row("txn/s (compare mod_revision + put)", "txn/s", floor=floor)
    watch = Row(
        f"watch deliveries/s ({sizes.watchers:,} prefix watchers)",
        "events/s",
        target=TARGET_DELIVERIES,
    )
    watch1 = Row("  same, writer yields after each put", "events/s")
    mem = Row(
        f"bytes/key above raw 320 B ({sizes.memory_keys:,} keys)",
        "B/key",
        target=TARGET_OVERHEAD,
        higher_is_better=False,
    )

    async def measure(row: Row, fn: Callable[[], Awaitable[float]]) -> None:
        progress(row.label.strip())
        try:
            row.kcore, row.samples = await median_of(fn)
        except Exception as e:  # a broken store: report it in the table and fail the run
            row.error = f"{type(e).__name__}: {e}"

    await measure(put, lambda: store_puts(put_keys, value))
    progress(f"{single.label} and {prefix.label}")
    try:
        singles, prefixes = await store_ranges(sizes, value)
        single.kcore, single.samples = statistics.median(singles), singles
        prefix.kcore, prefix.samples = statistics.median(prefixes), prefixes
    except Exception as e:
        single.error = prefix.error = f"{type(e).__name__}: {e}"
    await measure(txn, lambda: store_txns(sizes.txns, value))
    await measure(watch, lambda: store_watch(sizes.watchers, sizes.watch_puts, value))
    await measure(watch1, lambda: store_watch(sizes.watchers, sizes.interleaved_puts, value, True))
    progress("the floor's bytes/key (dict-of-lists)")
    mem.floor = statistics.median(floor_overhead(sizes.memory_keys) for _ in range(REPS))
    await measure(mem, lambda: store_overhead(sizes.memory_keys))

    progress("bytes/key RSS cross-check")
    rss = rss_cross_check(sizes.memory_keys)

    rows = [put, single, prefix, txn, watch, watch1, mem]
    print_table(
        rows,
        [
            Row("dict-of-lists put loop", "put/s", kcore=floor),
            Row("the same loop behind an async def", "put/s", kcore=afloor),
            Row("dict-of-lists bytes/key above raw", "B/key", kcore=mem.floor),
        ],
        rss,
    )
    print()
    print(
        f"{prefix.label}: each call returns {sizes.prefix_keys:,} kvs, so "
        f"{fmt((prefix.kcore or 0) * sizes.prefix_keys)} kvs/s; no floor ratio (not one dict op)."
    )
    print(
        "watch rows: no floor ratio, a response carries many events (one shared tuple); the"
        " yielding row has each put wake every watcher for a one-event response."
    )
    print(
        "ratio = kcore / floor; each figure is the median over repetitions of ops / wall time;"
        " spread = (max - min) / median."
    )
    return 1 if any(r.error for r in rows) else 0


def main() -> int:
    global REPS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--keys", type=int, default=None, help="keys for bytes/key (1,000,000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (3)")
    parser.add_argument("--rss-probe", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_probe:
        anyio.run(rss_probe, args.rss_probe, backend="asyncio")
        return 0
    sizes = QUICK if args.quick else FULL
    if args.keys is not None:
        if args.keys < 1:
            parser.error("--keys must be at least 1")
        sizes = dataclasses.replace(sizes, memory_keys=args.keys)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    REPS = args.reps
    return anyio.run(run, sizes, args.quick, backend="asyncio")


if __name__ == "__main__":
    sys.exit(main())
