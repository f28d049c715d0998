"""Compaction: which revisions are refused, what stays readable, and history really freed."""

from __future__ import annotations

import pytest

from kcore.errors import CompactedError, FutureRevisionError
from kcore.store import KeyValue

from ._util import current_revision, dump, get, unchanged

pytestmark = pytest.mark.anyio

COMPACTED = "mvcc: required revision has been compacted"
FUTURE = "mvcc: required revision is a future revision"


async def history(store) -> None:
    """a: put 2, put 4, put 6; b: put 3, deleted 5; c: put 7."""
    await store.put(b"a", b"a2")  # 2
    await store.put(b"b", b"b3")  # 3
    await store.put(b"a", b"a4")  # 4
    await store.delete_range(b"b")  # 5
    await store.put(b"a", b"a6")  # 6
    await store.put(b"c", b"c7")  # 7


async def test_compact_spends_no_revision_and_is_reported(backend):
    store = backend.store
    await history(store)
    before = await dump(store)
    resp = await store.compact(5)
    assert resp.header.revision == 7
    assert await dump(store) == before
    status = await store.status()
    assert status.compact_revision == 5
    assert status.header.revision == 7


async def test_compact_at_current_revision(backend):
    store = backend.store
    await history(store)
    await store.compact(7)
    assert (await store.status()).compact_revision == 7
    resp = await store.range(b"\0", b"\0", revision=7)
    assert [kv.key for kv in resp.kvs] == [b"a", b"c"]


async def test_compact_in_the_future_is_refused(backend):
    store = backend.store
    await history(store)
    async with unchanged(store):
        with pytest.raises(FutureRevisionError) as exc:
            await store.compact(8)
    assert str(exc.value) == FUTURE
    assert (await store.status()).compact_revision == 0
    with pytest.raises(FutureRevisionError):
        await store.compact(100)


@pytest.mark.parametrize("again", [5, 4, 2])
async def test_compact_at_or_below_last_compaction_is_refused(backend, again):
    store = backend.store
    await history(store)
    await store.compact(5)
    with pytest.raises(CompactedError) as exc:
        await store.compact(again)
    assert str(exc.value) == COMPACTED
    assert (await store.status()).compact_revision == 5
    await store.compact(6)  # forward still works
    assert (await store.status()).compact_revision == 6


async def test_range_below_compact_revision_is_refused(backend):
    store = backend.store
    await history(store)
    await store.compact(5)
    for rev in (1, 2, 4):
        with pytest.raises(CompactedError) as exc:
            await store.range(b"a", revision=rev)
        assert str(exc.value) == COMPACTED
    with pytest.raises(CompactedError):
        await store.range(b"\0", b"\0", revision=4, count_only=True)


async def test_range_at_compact_revision_is_served(backend):
    store = backend.store
    await history(store)
    await store.compact(5)
    resp = await store.range(b"\0", b"\0", revision=5)
    assert resp.kvs == (KeyValue(b"a", 2, 4, 2, b"a4"),)  # b was deleted at 5
    assert resp.header.revision == 7
    resp = await store.range(b"\0", b"\0", revision=6)
    assert resp.kvs == (KeyValue(b"a", 2, 6, 3, b"a6"),)


async def test_keys_unchanged_since_before_compaction_survive(backend):
    store = backend.store
    await store.put(b"old", b"1")  # 2
    for i in range(5):
        await store.put(b"busy", b"%d" % i)  # 3..7
    await store.compact(7)
    assert await get(store, b"old") == KeyValue(b"old", 2, 2, 1, b"1")
    assert await get(store, b"old", revision=7) == KeyValue(b"old", 2, 2, 1, b"1")
    assert await get(store, b"busy") == KeyValue(b"busy", 3, 7, 5, b"4")
    await store.put(b"busy", b"next")  # versions continue after compaction
    assert await get(store, b"busy") == KeyValue(b"busy", 3, 8, 6, b"next")
    await store.put(b"old", b"2")
    assert await get(store, b"old") == KeyValue(b"old", 2, 9, 2, b"2")


async def test_deleted_key_can_be_recreated_after_compaction(backend):
    store = backend.store
    await store.put(b"k", b"1")  # 2
    await store.delete_range(b"k")  # 3
    await store.compact(3)
    assert await get(store, b"k") is None
    assert await get(store, b"k", revision=3) is None
    await store.put(b"k", b"2")  # 4
    assert await get(store, b"k") == KeyValue(b"k", 4, 4, 1, b"2")


async def test_compact_then_writes_and_reads_at_new_revisions(backend):
    store = backend.store
    await history(store)
    await store.compact(6)
    await store.put(b"d", b"d8")  # 8
    resp = await store.range(b"\0", b"\0", revision=7)
    assert [kv.key for kv in resp.kvs] == [b"a", b"c"]
    assert (await store.range(b"\0", b"\0", revision=8)).count == 3
    with pytest.raises(CompactedError):
        await store.range(b"a", revision=5)
    with pytest.raises(FutureRevisionError):
        await store.range(b"a", revision=9)


async def test_physical_compaction(backend):
    store = backend.store
    await history(store)
    resp = await store.compact(6, physical=True)
    assert resp.header.revision == 7
    assert (await store.status()).compact_revision == 6
    with pytest.raises(CompactedError):
        await store.range(b"a", revision=5)


async def test_compaction_frees_history(backend):
    store = backend.store
    big = b"x" * 4096
    for i in range(200):
        await store.put(b"k", big + b"%d" % i)
    await store.put(b"gone", big)
    await store.delete_range(b"gone")
    before = await store.status()
    await store.compact(await current_revision(store), physical=True)
    after = await store.status()
    assert after.key_count == before.key_count == 1
    if backend.compaction_shrinks_size:
        # 200 versions of a 4 KiB value were retained; after compaction only the latest is
        assert after.db_size_in_use < before.db_size_in_use - 100 * 4096
    with pytest.raises(CompactedError):
        await store.range(b"k", revision=2)  # the old versions are gone on every backend
    assert (await get(store, b"k")).value == big + b"199"


async def test_compact_zero_on_a_never_compacted_store(backend):
    """etcd starts 'never compacted' (below 0): compact(0) works once, then 0 is compacted."""
    store = backend.store
    await store.put(b"k", b"v")
    await store.compact(0)
    assert (await get(store, b"k")).value == b"v"
    with pytest.raises(CompactedError):
        await store.compact(0)
    await store.compact(1)
    status = await store.status()
    # Over the wire the compact revision is found by probing reads, which cannot tell a
    # compaction at revision 1 from none; the embedded stores know it exactly.
    assert status.compact_revision == (1 if backend.name in ("memory", "durable") else 0)
