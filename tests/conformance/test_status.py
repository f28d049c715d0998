"""Status: current revision, compact revision, live key count, approximate size."""

from __future__ import annotations

import anyio
import pytest

from kcore.store import StatusResponse

from ._util import current_revision

pytestmark = pytest.mark.anyio


async def test_new_store(backend):
    status = await backend.store.status()
    assert isinstance(status, StatusResponse)
    assert status.header.revision == 1
    assert status.compact_revision == 0
    assert status.key_count == 0
    assert status.db_size >= 0
    assert isinstance(status.version, str)


async def test_revision_and_key_count_follow_writes(backend):
    store = backend.store
    for k in (b"a", b"b", b"c"):
        await store.put(k, b"v")
    await store.put(b"a", b"v2")  # an overwrite is not a new key
    status = await store.status()
    assert status.header.revision == 5
    assert status.key_count == 3
    await store.delete_range(b"a", b"c")
    status = await store.status()
    assert status.header.revision == 6
    assert status.key_count == 1
    assert status.compact_revision == 0


async def test_compact_revision(backend):
    store = backend.store
    for i in range(4):
        await store.put(b"k", b"%d" % i)
    await store.compact(3)
    assert (await store.status()).compact_revision == 3
    await store.compact(5)
    status = await store.status()
    assert status.compact_revision == 5
    assert status.header.revision == 5
    assert status.key_count == 1


async def test_size_grows_with_data(backend):
    store = backend.store
    before = await store.status()
    for i in range(50):
        await store.put(b"key-%d" % i, b"x" * 4096)
    # etcd's backend publishes its size when it commits (every 100 ms): wait, bounded.
    with anyio.fail_after(5):
        while True:
            after = await store.status()
            if after.db_size_in_use > before.db_size_in_use + 50 * 4096 // 2:
                break
            await anyio.sleep(0.05)
    assert after.db_size >= before.db_size
    assert after.db_size >= after.db_size_in_use


async def test_status_changes_nothing(backend):
    store = backend.store
    await store.put(b"k", b"v")
    await store.status()
    await store.status()
    assert await current_revision(store) == 2
