"""The store's async API is anyio-native: the same walk-through runs under trio."""

from __future__ import annotations

import anyio
import pytest

from kcore.clock import VirtualClock
from kcore.store import EventType, MemoryStore, prefix_end


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_put_watch_and_lease_expiry_under_each_event_loop() -> None:
    clock = VirtualClock()
    async with MemoryStore(clock=clock) as store:
        watch = await store.watch(b"/jobs/", prefix_end(b"/jobs/"))
        lease = await store.lease_grant(5)
        await store.put(b"/jobs/a", b"1", lease=lease.id)
        await store.put(b"/jobs/b", b"2", lease=lease.id)
        await clock.advance(6)  # the background timer expires the lease on the virtual clock
        seen: list[tuple[EventType, bytes, int]] = []
        with anyio.fail_after(5):
            async with watch:
                async for response in watch:
                    seen += [(e.type, e.kv.key, e.kv.mod_revision) for e in response.events]
                    if len(seen) == 4:
                        break
        assert seen == [
            (EventType.PUT, b"/jobs/a", 2),
            (EventType.PUT, b"/jobs/b", 3),
            (EventType.DELETE, b"/jobs/a", 4),
            (EventType.DELETE, b"/jobs/b", 4),
        ]
        assert (await store.range(b"/jobs/", prefix_end(b"/jobs/"))).count == 0
