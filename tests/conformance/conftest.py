"""The store suite's backends: every test taking ``backend`` runs once per store backend.

A backend gives the store under test and a way to move its time (a virtual clock for the
embedded stores, real sleeping for a real etcd), so lease-expiry tests run on all of them.
Later issues add EtcdStore against real etcd and against kcore's etcd-API server here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from kcore.clock import VirtualClock
from kcore.store import MemoryStore, Store


@attrs.define
class Backend:
    name: str
    store: Store
    clock: VirtualClock | None = None

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of the store's time pass."""
        if self.clock is not None:
            await self.clock.advance(seconds)
        else:  # a real peer: real time
            import anyio

            await anyio.sleep(seconds)


BACKENDS = ["memory"]


@pytest.fixture(params=BACKENDS)
async def backend(request: Any) -> AsyncIterator[Backend]:
    if request.param == "memory":
        clock = VirtualClock()
        async with MemoryStore(clock=clock) as store:
            yield Backend("memory", store, clock)
    else:  # pragma: no cover - added by later issues
        raise AssertionError(request.param)
