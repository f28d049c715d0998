"""Helpers for the durable store tests: a mixed workload and a full dump of a store's state."""

from __future__ import annotations

import random
from typing import Any

import anyio

from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    PutRequest,
    Store,
    prefix_end,
)
from kcore.testing.watchcheck import WatchChecker, WriteLog, watch_until


async def workload(store: Store, rng: random.Random, steps: int) -> None:
    """Puts, deletes, range deletes, txns, leases (attached keys, revoke, keep-alive)."""
    leases: list[int] = []
    for i in range(steps):
        roll = rng.random()
        key = b"/k/%d" % rng.randrange(20)
        if roll < 0.45:
            lease = rng.choice(leases) if leases and rng.random() < 0.3 else 0
            await store.put(key, b"v%d" % i, lease=lease)
        elif roll < 0.55:
            await store.delete_range(key)
        elif roll < 0.6:
            await store.delete_range(b"/k/1", b"/k/2")
        elif roll < 0.75:
            await store.txn(
                [Compare(key, CompareTarget.VERSION, CompareResult.GREATER, version=0)],
                [PutRequest(key, b"t%d" % i), PutRequest(b"/t/%d" % i, b"x")],
                [DeleteRangeRequest(b"/t/", prefix_end(b"/t/"))],
            )
        elif roll < 0.85:
            leases.append((await store.lease_grant(rng.choice([5, 60, 3600]))).id)
        elif roll < 0.9 and leases:
            await store.lease_revoke(leases.pop(rng.randrange(len(leases))))
        elif leases:
            await store.lease_keepalive(rng.choice(leases))


async def dump(store: Store, *, with_watch: bool = True) -> dict[str, Any]:
    """Everything observable: revisions, every retained revision's full key space, leases
    (with remaining TTL and keys) and the events a watch from the oldest retained revision
    replays (with prev_kv)."""
    status = await store.status()
    rev = status.header.revision
    compact = status.compact_revision
    first = max(compact, 1)
    states = {r: (await store.range(b"\0", b"\0", revision=r)).kvs for r in range(first, rev + 1)}
    leases = {}
    for lease in (await store.leases()).leases:
        ttl = await store.lease_time_to_live(lease.id, keys=True)
        leases[lease.id] = (ttl.ttl, ttl.granted_ttl, ttl.keys)
    out: dict[str, Any] = {
        "revision": rev,
        "compact": compact,
        "keys": status.key_count,
        "states": states,
        "leases": leases,
    }
    if with_watch:
        checker = WatchChecker(WriteLog(), b"\0", b"\0", start_revision=first, prev_kv=True)
        with anyio.fail_after(10):
            async with await store.watch(b"\0", b"\0", start_revision=first, prev_kv=True) as w:
                await watch_until(w, checker, rev)
        out["events"] = [(e.type, e.kv, e.prev_kv) for e in checker.events]
    return out
