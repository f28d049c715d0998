"""Reconcile benchmark: the control loop's throughput and memory, each beside its floor.

Printed figures, not tests; one run, each figure the median of ``--reps`` repetitions (3):

* queue ops/s: ``WorkQueue`` add, then get + done, for N distinct keys (one task), beside a bare
  ``asyncio.Queue`` put_nowait + get of the same keys (the floor: no dedup, no priorities);
* items/s through queue + worker + no-op reconcile: N Requests fed straight into a Controller's
  queue and worked by its worker (``Controller.run``), until every one was reconciled once —
  with the manager's Prometheus metrics on and off — beside an ``asyncio.Queue`` with one
  worker awaiting a no-op coroutine per item (the floor; also shown yielding once per item,
  as ``WorkQueue.get()`` does). Target: >= 50,000 items/s;
* end to end: N ConfigMaps created through the Client on a MemoryStore while a Manager runs a
  no-op controller, timed until each was reconciled once, beside the same creates with no
  manager running (the floor: what the API costs on its own); and N ConfigMaps already stored
  when the manager starts (initial list, then reconcile);
* bytes per cached Pod: tracemalloc growth while an Informer lists N Pods (the Pod of
  objects_bench, each with its own name, uid and podIP) into its cache, per Pod, beside the
  Pod's stored JSON size (the anchor). Target: <= 2 KB;
* Cluster startup: ``async with Cluster():`` entry (and the whole enter + exit), median of 20.
  Target: < 50 ms.

Usage: python benchmarks/reconcile_bench.py [--reps N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from kcore.api import Client
from kcore.api.keys import object_key
from kcore.kinds import ConfigMap, Pod
from kcore.objects import ObjectMeta, evolve, from_yaml, info_for, to_dict
from kcore.reconcile import Context, Controller, Informer, Manager, Request, WorkQueue
from kcore.store import MemoryStore
from kcore.testing.cluster import Cluster

sys.path.insert(0, str(Path(__file__).resolve().parent))
from objects_bench import POD_YAML  # a sibling script, not a package

ITEMS_TARGET = 50_000  # items/s through queue + worker + no-op reconcile
POD_BYTES_TARGET = 2048  # bytes per cached typical Pod
STARTUP_TARGET = 0.050  # seconds per Cluster entry


async def median_of(reps: int, measure: Callable[[], Awaitable[float]]) -> float:
    samples = []
    for _ in range(reps):
        gc.collect()
        samples.append(await measure())
    return statistics.median(samples)


def row(name: str, value: float, floor: float | None, unit: str, target: str = "") -> None:
    ratio = f"{value / floor:8.3f}x" if floor else " " * 9
    floor_text = f"{floor:>14,.1f}" if floor else " " * 14
    print(f"{name:<44}{value:>14,.1f}{unit:<6}{floor_text}  {ratio}  {target}")


# --- 1. the queue on its own -----------------------------------------------------------------


async def workqueue_ops(n: int) -> float:
    queue: WorkQueue[str] = WorkQueue()
    keys = [f"default/item-{i}" for i in range(n)]
    start = time.perf_counter()
    for key in keys:
        queue.add(key)
    for _ in range(n):
        key = await queue.get()
        queue.done(key)
    return n / (time.perf_counter() - start)


async def asyncio_queue_ops(n: int) -> float:
    queue: asyncio.Queue[str] = asyncio.Queue()
    keys = [f"default/item-{i}" for i in range(n)]
    start = time.perf_counter()
    for key in keys:
        queue.put_nowait(key)
    for _ in range(n):
        await queue.get()
        queue.task_done()
    return n / (time.perf_counter() - start)


# --- 2. items through a controller -----------------------------------------------------------


async def controller_items(n: int, metrics: bool) -> float:
    done = anyio.Event()
    count = 0

    async def noop(ctx: Context, req: Request) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    async with MemoryStore() as store:
        manager = Manager(Client(store), metrics=metrics)
        ctrl = Controller("bench", ConfigMap, noop)
        manager.add(ctrl)  # sets up the queue; the manager itself is not run
        queue = ctrl.queue
        assert queue is not None
        requests = [Request(f"cm-{i}", "default") for i in range(n)]
        async with anyio.create_task_group() as group:
            start = time.perf_counter()
            for request in requests:
                queue.add(request)
            group.start_soon(ctrl.run)
            await done.wait()
            elapsed = time.perf_counter() - start
            group.cancel_scope.cancel()
    return n / elapsed


async def asyncio_pipeline(n: int, yield_each: bool) -> float:
    queue: asyncio.Queue[Request] = asyncio.Queue()
    done = asyncio.Event()
    count = 0

    async def noop(request: Request) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    async def worker() -> None:
        while True:
            request = await queue.get()
            if yield_each:  # as WorkQueue.get() does, so one worker cannot hog the loop
                await asyncio.sleep(0)
            await noop(request)
            queue.task_done()

    requests = [Request(f"cm-{i}", "default") for i in range(n)]
    start = time.perf_counter()
    for request in requests:
        queue.put_nowait(request)
    task = asyncio.create_task(worker())
    await done.wait()
    elapsed = time.perf_counter() - start
    task.cancel()
    return n / elapsed


def config_maps(n: int) -> list[ConfigMap]:
    return [ConfigMap(metadata=ObjectMeta(name=f"cm-{i}"), data={"i": str(i)}) for i in range(n)]


async def creates_only(n: int) -> float:
    async with MemoryStore() as store:
        client = Client(store)
        await client.ensure_namespaces("default")
        objects = config_maps(n)
        start = time.perf_counter()
        for obj in objects:
            await client.create(obj)
        return n / (time.perf_counter() - start)


async def end_to_end(n: int, stored_first: bool) -> float:
    """Objects per second from the first create (or the manager's start) to the last
    reconcile."""
    done = anyio.Event()
    seen: set[str] = set()

    async def noop(ctx: Context, req: Request) -> None:
        seen.add(req.name)
        if len(seen) == n:
            done.set()

    async with MemoryStore() as store:
        client = Client(store)
        await client.ensure_namespaces("default")
        objects = config_maps(n)
        manager = Manager(client).add(Controller("e2e", ConfigMap, noop))
        async with anyio.create_task_group() as group:
            if stored_first:
                for obj in objects:
                    await client.create(obj)
                start = time.perf_counter()
                group.start_soon(manager.run)
            else:
                group.start_soon(manager.run)
                with anyio.fail_after(60):
                    while not manager.ready():
                        await anyio.sleep(0.001)
                start = time.perf_counter()
                for obj in objects:
                    await client.create(obj)
            with anyio.fail_after(600):
                await done.wait()
            elapsed = time.perf_counter() - start
            manager.stop()
    return n / elapsed


# --- 3. memory per cached Pod ----------------------------------------------------------------


def pod_documents(n: int) -> list[tuple[bytes, bytes]]:
    """(store key, stored JSON) of ``n`` Pods differing in name, uid and podIP."""
    (template,) = from_yaml(POD_YAML)
    info = info_for(Pod)
    stored = []
    for i in range(n):
        name = f"web-7d4b9c8f6d-{i:05d}"
        pod = evolve(
            template,
            metadata__name=name,
            metadata__uid=f"0d6f9a3e-5a1b-4c1e-9a7e-{i:012d}",
            status__pod_ip=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
        )
        document = to_dict(pod)
        document["metadata"].pop("resourceVersion", None)
        data = json.dumps(document, separators=(",", ":")).encode()
        stored.append((object_key(info, pod.metadata.namespace, name), data))
    return stored


async def bytes_per_cached_pod(n: int) -> tuple[float, float]:
    documents = pod_documents(n)
    async with MemoryStore() as store:
        for key, data in documents:
            await store.put(key, data)
        client = Client(store)
        informer = Informer(client, Pod)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        async with anyio.create_task_group() as group:
            group.start_soon(informer.run)
            await informer.wait_synced(timeout=600)
            group.cancel_scope.cancel()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert len(informer.cache) == n, len(informer.cache)
        del informer
    raw = statistics.mean(len(data) for _, data in documents)
    return (after - before) / n, raw


# --- 4. Cluster startup ----------------------------------------------------------------------


async def cluster_startup(times: int) -> tuple[float, float]:
    enters, whole = [], []
    for _ in range(times):
        start = time.perf_counter()
        cluster = Cluster()
        await cluster.__aenter__()
        entered = time.perf_counter()
        await cluster.__aexit__(None, None, None)
        ended = time.perf_counter()
        enters.append(entered - start)
        whole.append(ended - start)
    return statistics.median(enters), statistics.median(whole)


# --- the report ------------------------------------------------------------------------------


async def run(reps: int, quick: bool) -> None:
    n = 2_000 if quick else 10_000
    header = f"{'figure':<44}{'kcore':>14}{'':<6}{'floor':>14}  {'ratio':>9}  target"
    print(f"reconcile benchmark: N={n:,}, median of {reps}")
    print(header)

    print("-- 1. work queue")
    floor = await median_of(reps, lambda: asyncio_queue_ops(n))
    value = await median_of(reps, lambda: workqueue_ops(n))
    row("add+get+done vs asyncio.Queue put+get", value, floor, " ops/s")

    print("-- 2. items through a controller")
    floor = await median_of(reps, lambda: asyncio_pipeline(n, yield_each=False))
    yielding = await median_of(reps, lambda: asyncio_pipeline(n, yield_each=True))
    target = f">= {ITEMS_TARGET:,}/s"
    value = await median_of(reps, lambda: controller_items(n, metrics=True))
    row("queue+worker+no-op reconcile (metrics on)", value, floor, " it/s", target)
    value = await median_of(reps, lambda: controller_items(n, metrics=False))
    row("queue+worker+no-op reconcile (metrics off)", value, floor, " it/s", target)
    row("  the same vs a floor that yields per item", value, yielding, " it/s")
    floor = await median_of(reps, lambda: creates_only(n))
    value = await median_of(reps, lambda: end_to_end(n, stored_first=False))
    row("e2e: create + reconcile vs create alone", value, floor, " obj/s")
    value = await median_of(reps, lambda: end_to_end(n, stored_first=True))
    row("e2e: stored first, list + reconcile", value, None, " obj/s")

    print("-- 3. memory")
    samples = [await bytes_per_cached_pod(n) for _ in range(reps)]
    per_pod = statistics.median(s[0] for s in samples)
    raw = samples[0][1]
    row("bytes per cached Pod vs its stored JSON", per_pod, raw, " B", f"<= {POD_BYTES_TARGET} B")

    print("-- 4. testing.Cluster")
    entry, whole = await cluster_startup(20)
    target = f"< {STARTUP_TARGET * 1000:.0f} ms"
    row("Cluster() entry (median of 20)", entry * 1000, None, " ms", target)
    row("Cluster() entry + exit (median of 20)", whole * 1000, None, " ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 items instead of 10,000")
    args = parser.parse_args()
    anyio.run(run, args.reps, args.quick)


if __name__ == "__main__":
    main()
