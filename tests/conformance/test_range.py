"""Range: key ranges, limit/more/count, revisions, sorting, keys_only/count_only, filters."""

from __future__ import annotations

import pytest

from kcore.errors import FutureRevisionError, KeyNotProvidedError
from kcore.store import KeyValue, SortOrder, SortTarget, Store, prefix_end

from ._util import current_revision

pytestmark = pytest.mark.anyio


def keys(resp: object) -> list[bytes]:
    return [kv.key for kv in resp.kvs]  # type: ignore[attr-defined]


async def put_all(store: Store, *keys_: bytes) -> None:
    for k in keys_:
        await store.put(k, b"v-" + k)


async def seed_sortable(store: Store) -> None:
    """Three keys whose key, version, create, mod and value orders all differ.

    Final state: a: create 5, mod 5, version 1, value "3"
                 b: create 2, mod 7, version 3, value "2"
                 c: create 3, mod 4, version 2, value "1"
    """
    await store.put(b"b", b"0")  # rev 2
    await store.put(b"c", b"0")  # rev 3
    await store.put(b"c", b"1")  # rev 4
    await store.put(b"a", b"3")  # rev 5
    await store.put(b"b", b"0")  # rev 6
    await store.put(b"b", b"2")  # rev 7
    assert await current_revision(store) == 7


# ascending order of the three seeded keys for each sort target
ASCENDING = {
    SortTarget.KEY: [b"a", b"b", b"c"],
    SortTarget.VERSION: [b"a", b"c", b"b"],
    SortTarget.CREATE: [b"b", b"c", b"a"],
    SortTarget.MOD: [b"c", b"a", b"b"],
    SortTarget.VALUE: [b"c", b"b", b"a"],
}


# --- which keys ------------------------------------------------------------------------


async def test_new_store_is_at_revision_1_and_empty(backend):
    resp = await backend.store.range(b"\0", b"\0")
    assert resp.header.revision == 1
    assert resp.kvs == ()
    assert resp.count == 0
    assert resp.more is False


async def test_single_key(backend):
    store = backend.store
    await put_all(store, b"a", b"ab", b"b")
    resp = await store.range(b"a")
    assert resp.kvs == (KeyValue(b"a", 2, 2, 1, b"v-a"),)
    assert resp.count == 1
    assert resp.more is False
    assert resp.header.revision == 4


async def test_missing_key(backend):
    store = backend.store
    await put_all(store, b"a")
    resp = await store.range(b"b")
    assert resp.kvs == ()
    assert resp.count == 0
    assert resp.more is False
    assert resp.header.revision == 2


async def test_half_open_range(backend):
    store = backend.store
    await put_all(store, b"a", b"b", b"ba", b"c", b"d")
    resp = await store.range(b"b", b"d")
    assert keys(resp) == [b"b", b"ba", b"c"]
    assert resp.count == 3


async def test_range_end_not_after_key_is_empty(backend):
    store = backend.store
    await put_all(store, b"a", b"b", b"c")
    assert keys(await store.range(b"b", b"b")) == []
    assert keys(await store.range(b"c", b"a")) == []


async def test_range_end_zero_byte_means_every_key_from_key(backend):
    store = backend.store
    await put_all(store, b"\x01", b"a", b"b", b"c", b"\xff\xff")
    assert keys(await store.range(b"b", b"\0")) == [b"b", b"c", b"\xff\xff"]


async def test_zero_byte_key_and_range_end_means_everything(backend):
    store = backend.store
    await put_all(store, b"\x00", b"\x01", b"a", b"\xff")
    resp = await store.range(b"\0", b"\0")
    assert keys(resp) == [b"\x00", b"\x01", b"a", b"\xff"]
    assert resp.count == 4


async def test_prefix_with_prefix_end(backend):
    store = backend.store
    await put_all(store, b"pre", b"pre/", b"pre/a", b"pre/b/c", b"pre0", b"prf", b"pr")
    assert prefix_end(b"pre/") == b"pre0"
    resp = await store.range(b"pre/", prefix_end(b"pre/"))
    assert keys(resp) == [b"pre/", b"pre/a", b"pre/b/c"]
    assert resp.count == 3


async def test_prefix_ending_in_ff(backend):
    store = backend.store
    await put_all(store, b"a\xfe", b"a\xff", b"a\xff\x00", b"a\xff\xff", b"b")
    assert prefix_end(b"a\xff") == b"b"
    assert keys(await store.range(b"a\xff", prefix_end(b"a\xff"))) == [
        b"a\xff",
        b"a\xff\x00",
        b"a\xff\xff",
    ]
    assert prefix_end(b"\xff") == b"\0"
    await put_all(store, b"\xff", b"\xff\x01")
    assert keys(await store.range(b"\xff", prefix_end(b"\xff"))) == [b"\xff", b"\xff\x01"]


async def test_empty_key_is_refused(backend):
    store = backend.store
    with pytest.raises(KeyNotProvidedError) as exc:
        await store.range(b"")
    assert str(exc.value) == "etcdserver: key is not provided"
    with pytest.raises(KeyNotProvidedError):
        await store.range(b"", b"\0")


# --- limit, more, count ------------------------------------------------------------------


async def test_limit_more_and_count(backend):
    store = backend.store
    await put_all(store, b"k1", b"k2", b"k3", b"k4", b"k5")
    resp = await store.range(b"k", b"l", limit=2)
    assert keys(resp) == [b"k1", b"k2"]
    assert resp.more is True
    assert resp.count == 5  # count ignores limit


@pytest.mark.parametrize(
    ("limit", "n", "more"), [(0, 5, False), (4, 4, True), (5, 5, False), (9, 5, False)]
)
async def test_limit_boundaries(backend, limit, n, more):
    store = backend.store
    await put_all(store, b"k1", b"k2", b"k3", b"k4", b"k5")
    resp = await store.range(b"k", b"l", limit=limit)
    assert len(resp.kvs) == n
    assert resp.more is more
    assert resp.count == 5


async def test_keys_only(backend):
    store = backend.store
    await store.put(b"a", b"value-a")
    await store.put(b"a", b"value-a2")
    await store.put(b"b", b"value-b")
    resp = await store.range(b"a", b"c", keys_only=True)
    assert resp.kvs == (KeyValue(b"a", 2, 3, 2, b""), KeyValue(b"b", 4, 4, 1, b""))
    assert resp.count == 2


async def test_count_only(backend):
    store = backend.store
    await put_all(store, b"k1", b"k2", b"k3")
    resp = await store.range(b"k", b"l", count_only=True)
    assert resp.kvs == ()
    assert resp.count == 3
    resp = await store.range(b"k", b"l", count_only=True, limit=1)
    assert resp.kvs == ()
    assert resp.count == 3


# --- revisions -------------------------------------------------------------------------


async def test_read_at_old_revision_sees_old_state_and_current_header(backend):
    store = backend.store
    await store.put(b"a", b"1")  # 2
    await store.put(b"b", b"1")  # 3
    await store.put(b"a", b"2")  # 4
    await store.delete_range(b"b")  # 5
    await store.put(b"c", b"1")  # 6

    resp = await store.range(b"\0", b"\0", revision=3)
    assert resp.kvs == (KeyValue(b"a", 2, 2, 1, b"1"), KeyValue(b"b", 3, 3, 1, b"1"))
    assert resp.count == 2
    assert resp.header.revision == 6  # header is always the current revision

    resp = await store.range(b"\0", b"\0", revision=5)
    assert resp.kvs == (KeyValue(b"a", 2, 4, 2, b"2"),)
    resp = await store.range(b"\0", b"\0", revision=1)
    assert resp.kvs == ()
    assert resp.header.revision == 6


@pytest.mark.parametrize("revision", [0, -1, -100])
async def test_revision_zero_or_negative_means_latest(backend, revision):
    store = backend.store
    await store.put(b"a", b"1")
    await store.put(b"a", b"2")
    resp = await store.range(b"a", revision=revision)
    assert resp.kvs == (KeyValue(b"a", 2, 3, 2, b"2"),)
    assert resp.header.revision == 3


async def test_revision_equal_to_current_is_served(backend):
    store = backend.store
    await store.put(b"a", b"1")
    resp = await store.range(b"a", revision=2)
    assert keys(resp) == [b"a"]


async def test_future_revision(backend):
    store = backend.store
    await store.put(b"a", b"1")
    with pytest.raises(FutureRevisionError) as exc:
        await store.range(b"a", revision=3)
    assert str(exc.value) == "mvcc: required revision is a future revision"
    with pytest.raises(FutureRevisionError):
        await store.range(b"a", revision=1000)


# --- sorting -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", list(SortTarget))
async def test_sort_ascend(backend, target):
    await seed_sortable(backend.store)
    resp = await backend.store.range(b"a", b"d", sort_target=target, sort_order=SortOrder.ASCEND)
    assert keys(resp) == ASCENDING[target]


@pytest.mark.parametrize("target", list(SortTarget))
async def test_sort_descend(backend, target):
    await seed_sortable(backend.store)
    resp = await backend.store.range(b"a", b"d", sort_target=target, sort_order=SortOrder.DESCEND)
    assert keys(resp) == ASCENDING[target][::-1]


@pytest.mark.parametrize("target", list(SortTarget))
async def test_sort_order_none_is_ascending(backend, target):
    """Order NONE: by key for target KEY, ascending by the target for any other target."""
    await seed_sortable(backend.store)
    resp = await backend.store.range(b"a", b"d", sort_target=target, sort_order=SortOrder.NONE)
    assert keys(resp) == ASCENDING[target]
    resp = await backend.store.range(b"a", b"d", sort_target=target)
    assert keys(resp) == ASCENDING[target]


async def test_sort_happens_before_limit(backend):
    store = backend.store
    await seed_sortable(store)
    resp = await store.range(
        b"a", b"d", sort_target=SortTarget.MOD, sort_order=SortOrder.DESCEND, limit=2
    )
    assert keys(resp) == [b"b", b"a"]
    assert resp.more is True
    assert resp.count == 3
    resp = await store.range(b"a", b"d", sort_target=SortTarget.CREATE, limit=1)
    assert keys(resp) == [b"b"]
    resp = await store.range(b"a", b"d", sort_order=SortOrder.DESCEND, limit=1)
    assert keys(resp) == [b"c"]


async def test_sort_at_old_revision(backend):
    store = backend.store
    await seed_sortable(store)
    # at revision 4: b (create 2, version 1, "0"), c (create 3, mod 4, version 2, "1")
    resp = await store.range(
        b"a", b"d", revision=4, sort_target=SortTarget.VERSION, sort_order=SortOrder.DESCEND
    )
    assert keys(resp) == [b"c", b"b"]


# --- min/max revision filters ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"min_mod_revision": 5}, [b"a", b"b"]),
        ({"max_mod_revision": 5}, [b"a", b"c"]),
        ({"min_mod_revision": 4, "max_mod_revision": 6}, [b"a", b"c"]),
        ({"min_create_revision": 3}, [b"a", b"c"]),
        ({"max_create_revision": 2}, [b"b"]),
        ({"min_create_revision": 3, "max_create_revision": 4}, [b"c"]),
        ({"min_mod_revision": 8}, []),
        ({"min_create_revision": 2, "max_mod_revision": 5}, [b"a", b"c"]),
    ],
)
async def test_revision_filters(backend, kwargs, expected):
    await seed_sortable(backend.store)
    resp = await backend.store.range(b"a", b"d", **kwargs)
    assert keys(resp) == expected
    assert resp.more is False
    assert resp.count == 3  # count is the number of keys in range: filters do not change it


async def test_filters_apply_before_limit(backend):
    store = backend.store
    await seed_sortable(store)
    # filter first: [b]; limit first would keep [a] and then filter it away
    resp = await store.range(b"a", b"d", min_mod_revision=6, limit=1)
    assert keys(resp) == [b"b"]
    assert resp.more is False
    assert resp.count == 3
    # two keys pass the filter, limit 1 cuts one: more is true
    resp = await store.range(b"a", b"d", min_mod_revision=5, limit=1)
    assert keys(resp) == [b"a"]
    assert resp.more is True
    resp = await store.range(b"a", b"d", max_create_revision=3, limit=1)
    assert keys(resp) == [b"b"]
    assert resp.more is True


async def test_filters_with_sort_and_limit(backend):
    store = backend.store
    await seed_sortable(store)
    resp = await store.range(
        b"a",
        b"d",
        min_create_revision=3,
        sort_target=SortTarget.VALUE,
        sort_order=SortOrder.DESCEND,
        limit=1,
    )
    assert keys(resp) == [b"a"]  # a ("3") and c ("1") pass; descending value puts a first
    assert resp.more is True


async def test_reads_change_nothing(backend):
    store = backend.store
    await seed_sortable(store)
    await store.range(b"a", b"d", limit=1, sort_target=SortTarget.MOD, keys_only=True)
    await store.range(b"a", revision=3)
    await store.range(b"a", b"\0", count_only=True)
    assert await current_revision(store) == 7
