"""The store suite's backends: every test taking ``backend`` runs once per store backend.

* ``memory``: MemoryStore on a virtual clock;
* ``durable``: DurableStore (WAL + snapshots) in a temp dir, on a virtual clock;
* ``etcd``: EtcdStore against a real etcd 3.4 started for the test (loopback, random ports,
  private data dir, stopped by PID) — skipped without etcd, failed with KCORE_REQUIRE_PEERS=1;
* ``kcore-server``: EtcdStore against kcore's own etcd-API server serving a MemoryStore.

A backend gives the store under test and a way to move its time (a virtual clock for the
embedded store, real sleeping otherwise), so lease-expiry tests run on all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import attrs
import pytest

from kcore.clock import VirtualClock
from kcore.store import MemoryStore, Store
from tests.conftest import require_peer


@attrs.define
class Backend:
    name: str
    store: Store
    clock: VirtualClock | None = None
    # bbolt keeps freed pages until a defragmentation, so real etcd's dbSizeInUse does not
    # drop on compaction; the in-memory store's does.
    compaction_shrinks_size: bool = True

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of the store's time pass."""
        if self.clock is not None:
            await self.clock.advance(seconds)
        else:  # a real peer: real time
            await anyio.sleep(seconds)


BACKENDS = ["memory", "durable", "etcd", "kcore-server"]


@pytest.fixture(params=BACKENDS)
async def backend(request: Any) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = VirtualClock()
        async with MemoryStore(clock=clock) as store:
            yield Backend("memory", store, clock)
    elif request.param == "durable":
        from kcore.store.durable import DurableStore

        tmp_path = request.getfixturevalue("tmp_path")
        clock = VirtualClock()
        async with DurableStore(tmp_path / "data", clock=clock) as store:
            yield Backend("durable", store, clock)
    elif request.param == "etcd":
        require_peer("etcd")
        from kcore.testing.etcd import EtcdProcess

        async with EtcdProcess() as etcd, etcd.store() as store:
            yield Backend("etcd", store, compaction_shrinks_size=False)
    else:
        from kcore.store.etcd import EtcdStore
        from kcore.store.server import EtcdServer

        async with (
            MemoryStore() as served,
            EtcdServer(served, "127.0.0.1:0") as server,
            EtcdStore(f"127.0.0.1:{server.port}") as store,
        ):
            yield Backend("kcore-server", store)
