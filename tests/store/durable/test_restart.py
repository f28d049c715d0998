"""Restart equality: a DurableStore reopened from its data dir is the store it was.

State at every retained revision, compact revision, key count, leases (remaining TTL, keys)
and the events a watch from the oldest retained revision replays are compared before and
after a restart, with snapshots taken often, rarely, and after a compaction.
"""

from __future__ import annotations

import random
from pathlib import Path

import anyio
import pytest

from kcore.clock import VirtualClock
from kcore.store.durable import DurableStore
from tests.store.durable._util import dump, workload

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("snapshot_every", [1, 7, 100_000])
@pytest.mark.parametrize("compact", [False, True])
async def test_restart_restores_everything(
    tmp_path: Path, snapshot_every: int, compact: bool
) -> None:
    rng = random.Random(snapshot_every * 2 + compact)
    clock = VirtualClock()
    # The wall clock moves with the virtual one, so remaining TTLs compare exactly.
    async with DurableStore(
        tmp_path, clock=clock, wall=lambda: clock.now() + 1e6, snapshot_every=snapshot_every
    ) as store:
        await workload(store, rng, 150)
        await clock.advance(10)  # the 5 s leases expire: their keys go in one revision each
        await workload(store, rng, 50)
        if compact:
            rev = (await store.status()).header.revision
            await store.compact(rev - 40)
            await workload(store, rng, 30)
        before = await dump(store)
    assert before["revision"] > 100
    clock2 = VirtualClock(clock.now())
    async with DurableStore(
        tmp_path, clock=clock2, wall=lambda: clock2.now() + 1e6, snapshot_every=snapshot_every
    ) as again:
        after = await dump(again)
        assert after == before
        # and it keeps working from there: revisions continue, new leases get fresh IDs
        resp = await again.put(b"/after", b"1")
        assert resp.header.revision == before["revision"] + 1
        lease = await again.lease_grant(60)
        assert lease.id not in before["leases"]


async def test_lease_keeps_remaining_ttl_by_wall_time(tmp_path: Path) -> None:
    now = [5000.0]
    clock = VirtualClock()
    async with DurableStore(tmp_path, clock=clock, wall=lambda: now[0]) as store:
        lease = await store.lease_grant(100)
        await store.put(b"k", b"v", lease=lease.id)
        await clock.advance(30)
        now[0] += 30
    now[0] += 50  # 50 s pass while the store is down
    clock2 = VirtualClock()
    async with DurableStore(tmp_path, clock=clock2, wall=lambda: now[0]) as store:
        ttl = await store.lease_time_to_live(lease.id)
        assert ttl.ttl == 20
        await clock2.advance(21)
        assert (await store.range(b"k")).kvs == ()
    async with DurableStore(tmp_path, clock=VirtualClock(), wall=lambda: now[0]) as store:
        assert (await store.lease_time_to_live(lease.id)).ttl == -1  # the expiry was logged


async def test_restart_after_expiry_while_down(tmp_path: Path) -> None:
    now = [0.0]
    async with DurableStore(tmp_path, clock=VirtualClock(), wall=lambda: now[0]) as store:
        lease = await store.lease_grant(10)
        await store.put(b"k", b"v", lease=lease.id)
    now[0] += 11
    async with DurableStore(tmp_path, clock=VirtualClock(), wall=lambda: now[0]) as store:
        assert (await store.range(b"k")).kvs == ()  # expired on the first request
        assert (await store.status()).header.revision == 3


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_runs_under_asyncio_and_trio(tmp_path: Path, anyio_backend: str) -> None:
    async with DurableStore(tmp_path, clock=VirtualClock(), snapshot_every=5) as store:
        async with anyio.create_task_group() as tg:
            for w in range(10):
                tg.start_soon(store.put, b"k%d" % w, b"v")
        async with await store.watch(b"k", b"l", start_revision=2) as watch:
            with anyio.fail_after(5):
                got = 0
                async for resp in watch:
                    got += len(resp.events)
                    if got == 10:
                        break
        await store.compact(6)
    async with DurableStore(tmp_path, clock=VirtualClock()) as store:
        status = await store.status()
        assert (status.header.revision, status.compact_revision, status.key_count) == (11, 6, 10)
