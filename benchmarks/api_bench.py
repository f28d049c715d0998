"""API benchmark: create/get/update/list per second through the Client, beside the raw store.

Printed figures, not tests. One run on a MemoryStore; each figure is the median of ``--reps``
timed loops, and stands beside its floor — the store operation the API layer cannot avoid:

* create/s: ``Client.create`` of a ConfigMap with a few keys; floor ``store.put`` of the same
  JSON bytes (and, as a second row, the create-if-absent txn the client really issues);
* get/s: ``Client.get``; floor ``store.range`` of the key;
* update/s: ``Client.update`` with the read resourceVersion; floor a txn comparing the mod
  revision and putting the same bytes;
* list/s: ``Client.list`` of a namespace holding 100 ConfigMaps; floor a prefix range of the
  same 100 keys.

The ratio (Client / floor) is the price of the API layer: typed decode and encode, server
fields, admission (defaults and validation), and for writes a conditional transaction.

Usage: python benchmarks/api_bench.py [--reps N] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio

from kcore.api import Client, list_prefix, object_key
from kcore.objects import ObjectMeta, evolve, info_for
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    MemoryStore,
    PutRequest,
    Store,
    prefix_end,
)

CM = info_for(ConfigMap)
DATA = {
    "log-level": "info",
    "listen": "0.0.0.0:8080",
    "feature-flags": "a,b,c",
    "upstream": "http://backend.shop.svc.cluster.local:9000",
}
LIST_SIZE = 100


def config_map(name: str, namespace: str = "default") -> ConfigMap:
    meta = ObjectMeta(name=name, namespace=namespace, labels={"app": "web"})
    return ConfigMap(metadata=meta, data=DATA)


async def rate(fn: Callable[[], Awaitable[object]], n: int, reps: int) -> float:
    """Calls per second of ``fn``: the median of ``reps`` timed loops of ``n`` awaited calls."""
    rates = []
    for _ in range(reps):
        gc.collect()
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def row(name: str, value: float, floor: float | None) -> None:
    ratio = f"{value / floor:8.3f}x" if floor else " " * 9
    floor_text = f"{floor:>14,.0f}" if floor else " " * 14
    print(f"{name:<40}{value:>12,.0f}/s {floor_text}/s {ratio}")


async def stored_bytes(store: Store, name: str, namespace: str = "default") -> bytes:
    response = await store.range(object_key(CM, namespace, name))
    return response.kvs[0].value


async def bench_create(client: Client, store: Store, n: int, reps: int) -> None:
    names = (f"created-{i}" for i in itertools.count())
    kcore = await rate(lambda: client.create(config_map(next(names))), n, reps)
    value = await stored_bytes(store, "created-0")
    keys = (object_key(CM, "default", f"put-{i}") for i in itertools.count())
    floor_put = await rate(lambda: store.put(next(keys), value), n, reps)
    txn_keys = (object_key(CM, "default", f"txn-{i}") for i in itertools.count())

    def create_txn() -> Awaitable[object]:
        key = next(txn_keys)
        absent = Compare(key, CompareTarget.CREATE, CompareResult.EQUAL, create_revision=0)
        return store.txn(compare=[absent], success=[PutRequest(key, value)])

    floor_txn = await rate(create_txn, n, reps)
    row("create vs store.put (same bytes)", kcore, floor_put)
    row("create vs txn(absent)+put", kcore, floor_txn)


async def bench_get(client: Client, store: Store, n: int, reps: int) -> None:
    await client.create(config_map("read-me"))
    key = object_key(CM, "default", "read-me")
    kcore = await rate(lambda: client.get(ConfigMap, "read-me"), n, reps)
    floor = await rate(lambda: store.range(key), n, reps)
    row("get vs store.range(key)", kcore, floor)


async def bench_update(client: Client, store: Store, n: int, reps: int) -> None:
    current = [await client.create(config_map("update-me"))]
    counter = itertools.count()

    async def update() -> None:
        changed = evolve(current[0], data={**DATA, "generation": str(next(counter))})
        current[0] = await client.update(changed)

    kcore = await rate(update, n, reps)
    await client.create(config_map("raw-update"))
    key = object_key(CM, "default", "raw-update")
    value = await stored_bytes(store, "raw-update")
    revision = [(await store.range(key)).kvs[0].mod_revision]

    async def raw_update() -> None:
        unchanged = Compare(key, CompareTarget.MOD, CompareResult.EQUAL, mod_revision=revision[0])
        response = await store.txn(compare=[unchanged], success=[PutRequest(key, value)])
        assert response.succeeded
        revision[0] = response.header.revision

    floor = await rate(raw_update, n, reps)
    row("update vs txn(mod rev)+put", kcore, floor)


async def bench_list(client: Client, store: Store, n: int, reps: int) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name="bench")))
    for i in range(LIST_SIZE):
        await client.create(config_map(f"cm-{i:03d}", "bench"))
    prefix = list_prefix(CM, "bench")
    end = prefix_end(prefix)
    listed = await client.list(ConfigMap, "bench")
    assert len(listed) == LIST_SIZE
    assert len((await store.range(prefix, end)).kvs) == LIST_SIZE
    kcore = await rate(lambda: client.list(ConfigMap, "bench"), n, reps)
    floor = await rate(lambda: store.range(prefix, end), n, reps)
    row(f"list {LIST_SIZE} vs prefix range of {LIST_SIZE}", kcore, floor)
    print(f"{'  objects/s listed':<40}{kcore * LIST_SIZE:>12,.0f}/s {floor * LIST_SIZE:>14,.0f}/s")


async def run(n: int, list_n: int, reps: int) -> None:
    print(f"{'figure (MemoryStore)':<40}{'Client':>14} {'store floor':>16} {'ratio':>9}")
    async with MemoryStore() as store:
        client = Client(store)
        await client.create(Namespace(metadata=ObjectMeta(name="default")))
        await bench_create(client, store, n, reps)
        await bench_get(client, store, n, reps)
        await bench_update(client, store, n, reps)
        await bench_list(client, store, list_n, reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    n = 500 if args.quick else 5_000
    list_n = 50 if args.quick else 500
    anyio.run(run, n, list_n, args.reps)


if __name__ == "__main__":
    main()
