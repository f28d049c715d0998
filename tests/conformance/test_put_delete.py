"""Put and DeleteRange: revision accounting, per-key generations, prev_kv, leases, ignore_*."""

from __future__ import annotations

import pytest

from kcore.errors import (
    KeyNotFoundError,
    KeyNotProvidedError,
    LeaseNotFoundError,
    LeaseProvidedError,
    ValueProvidedError,
)
from kcore.store import KeyValue, prefix_end

from ._util import current_revision, dump, get, unchanged

pytestmark = pytest.mark.anyio


# --- revision accounting ---------------------------------------------------------------


async def test_each_change_adds_exactly_one_revision(backend):
    store = backend.store
    assert await current_revision(store) == 1
    assert (await store.put(b"a", b"1")).header.revision == 2
    assert (await store.put(b"b", b"1")).header.revision == 3
    assert (await store.put(b"a", b"1")).header.revision == 4  # same value: still a change
    assert (await store.delete_range(b"a")).header.revision == 5
    assert await current_revision(store) == 5
    assert (await store.status()).header.revision == 5


async def test_deleting_a_missing_key_spends_no_revision(backend):
    store = backend.store
    await store.put(b"a", b"1")
    resp = await store.delete_range(b"missing")
    assert resp.deleted == 0
    assert resp.prev_kvs == ()
    assert resp.header.revision == 2
    resp = await store.delete_range(b"x", b"z", prev_kv=True)
    assert resp.deleted == 0
    assert resp.header.revision == 2
    await store.delete_range(b"a")
    resp = await store.delete_range(b"a")  # already deleted
    assert resp.deleted == 0
    assert resp.header.revision == 3
    assert await current_revision(store) == 3


async def test_reads_and_lease_grant_spend_no_revision(backend):
    store = backend.store
    await store.put(b"a", b"1")
    await store.range(b"a")
    await store.range(b"\0", b"\0", revision=1)
    await store.status()
    lease = await store.lease_grant(10)
    await store.lease_keepalive(lease.id)
    await store.lease_time_to_live(lease.id, keys=True)
    await store.leases()
    assert await current_revision(store) == 2


# --- per-key create/mod/version ----------------------------------------------------------


async def test_version_create_and_mod_revision(backend):
    store = backend.store
    await store.put(b"k", b"v1")  # 2
    await store.put(b"other", b"x")  # 3
    await store.put(b"k", b"v1")  # 4, same value
    await store.put(b"k", b"v2")  # 5
    assert await get(store, b"k") == KeyValue(b"k", 2, 5, 3, b"v2")
    assert await get(store, b"other") == KeyValue(b"other", 3, 3, 1, b"x")


async def test_delete_and_recreate_starts_a_new_generation(backend):
    store = backend.store
    await store.put(b"k", b"v1")  # 2
    await store.put(b"k", b"v2")  # 3
    await store.delete_range(b"k")  # 4
    assert await get(store, b"k") is None
    await store.put(b"k", b"v3")  # 5
    assert await get(store, b"k") == KeyValue(b"k", 5, 5, 1, b"v3")
    await store.put(b"k", b"v4")  # 6
    assert await get(store, b"k") == KeyValue(b"k", 5, 6, 2, b"v4")
    # every generation stays readable in history
    assert await get(store, b"k", revision=3) == KeyValue(b"k", 2, 3, 2, b"v2")
    assert await get(store, b"k", revision=4) is None
    assert await get(store, b"k", revision=5) == KeyValue(b"k", 5, 5, 1, b"v3")


# --- put ---------------------------------------------------------------------------------


async def test_put_prev_kv(backend):
    store = backend.store
    resp = await store.put(b"k", b"v1", prev_kv=True)
    assert resp.prev_kv is None  # a new key has no previous value
    resp = await store.put(b"k", b"v2", prev_kv=True)
    assert resp.prev_kv == KeyValue(b"k", 2, 2, 1, b"v1")
    resp = await store.put(b"k", b"v3")
    assert resp.prev_kv is None  # not asked for
    await store.delete_range(b"k")
    resp = await store.put(b"k", b"v4", prev_kv=True)
    assert resp.prev_kv is None  # deleted: no previous value in this generation


async def test_put_empty_value(backend):
    store = backend.store
    await store.put(b"k")
    assert await get(store, b"k") == KeyValue(b"k", 2, 2, 1, b"")


async def test_put_binary_key_and_value(backend):
    store = backend.store
    key, value = bytes(range(1, 256)), bytes(range(256)) * 4
    await store.put(key, value)
    assert (await get(store, key)).value == value


async def test_put_empty_key_is_refused(backend):
    store = backend.store
    async with unchanged(store):
        with pytest.raises(KeyNotProvidedError) as exc:
            await store.put(b"", b"v")
    assert str(exc.value) == "etcdserver: key is not provided"


async def test_put_with_lease(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v", lease=lease.id)
    assert await get(store, b"k") == KeyValue(b"k", 2, 2, 1, b"v", lease.id)
    ttl = await store.lease_time_to_live(lease.id, keys=True)
    assert ttl.keys == (b"k",)


async def test_put_without_lease_detaches_the_lease(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v", lease=lease.id)
    await store.put(b"k", b"v2")
    assert (await get(store, b"k")).lease == 0
    assert (await store.lease_time_to_live(lease.id, keys=True)).keys == ()
    await store.lease_revoke(lease.id)  # the key is not the lease's any more
    assert (await get(store, b"k")).value == b"v2"


async def test_put_with_unknown_lease(backend):
    store = backend.store
    await store.put(b"k", b"v")
    async with unchanged(store):
        with pytest.raises(LeaseNotFoundError) as exc:
            await store.put(b"k", b"v2", lease=0x1234)
        with pytest.raises(LeaseNotFoundError):
            await store.put(b"new", b"v", lease=0x1234)
    assert str(exc.value) == "etcdserver: requested lease not found"


async def test_put_with_revoked_lease(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.lease_revoke(lease.id)
    async with unchanged(store):
        with pytest.raises(LeaseNotFoundError):
            await store.put(b"k", b"v", lease=lease.id)


async def test_ignore_value_keeps_the_value(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v1")  # 2
    resp = await store.put(b"k", ignore_value=True, lease=lease.id, prev_kv=True)  # 3
    assert resp.prev_kv == KeyValue(b"k", 2, 2, 1, b"v1")
    assert await get(store, b"k") == KeyValue(b"k", 2, 3, 2, b"v1", lease.id)


async def test_ignore_lease_keeps_the_lease(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v1", lease=lease.id)  # 2
    await store.put(b"k", b"v2", ignore_lease=True)  # 3
    assert await get(store, b"k") == KeyValue(b"k", 2, 3, 2, b"v2", lease.id)
    await store.put(b"k", ignore_value=True, ignore_lease=True)  # 4
    assert await get(store, b"k") == KeyValue(b"k", 2, 4, 3, b"v2", lease.id)
    assert (await store.lease_time_to_live(lease.id, keys=True)).keys == (b"k",)


async def test_ignore_value_with_a_value_is_refused(backend):
    store = backend.store
    await store.put(b"k", b"v1")
    async with unchanged(store):
        with pytest.raises(ValueProvidedError) as exc:
            await store.put(b"k", b"v2", ignore_value=True)
    assert str(exc.value) == "etcdserver: value is provided"


async def test_ignore_lease_with_a_lease_is_refused(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v1")
    async with unchanged(store):
        with pytest.raises(LeaseProvidedError) as exc:
            await store.put(b"k", b"v1", ignore_lease=True, lease=lease.id)
    assert str(exc.value) == "etcdserver: lease is provided"


async def test_provided_errors_come_before_key_not_found(backend):
    """etcd checks the request itself before looking at the store."""
    store = backend.store
    lease = await store.lease_grant(30)
    async with unchanged(store):
        with pytest.raises(ValueProvidedError):
            await store.put(b"missing", b"v", ignore_value=True)
        with pytest.raises(LeaseProvidedError):
            await store.put(b"missing", b"v", ignore_lease=True, lease=lease.id)


@pytest.mark.parametrize("flag", ["ignore_value", "ignore_lease"])
async def test_ignore_flags_on_a_missing_key(backend, flag):
    store = backend.store
    await store.put(b"gone", b"v")
    await store.delete_range(b"gone")
    async with unchanged(store):
        with pytest.raises(KeyNotFoundError) as exc:
            await store.put(b"missing", **{flag: True})
        with pytest.raises(KeyNotFoundError):
            await store.put(b"gone", **{flag: True})
    assert str(exc.value) == "etcdserver: key not found"


# --- delete_range --------------------------------------------------------------------------


async def test_delete_single_key(backend):
    store = backend.store
    await store.put(b"a", b"1")
    await store.put(b"ab", b"1")
    resp = await store.delete_range(b"a")
    assert resp.deleted == 1
    assert resp.prev_kvs == ()  # not asked for
    assert resp.header.revision == 4
    assert await dump(store) == (4, (KeyValue(b"ab", 3, 3, 1, b"1"),))


async def test_delete_range_is_one_revision(backend):
    store = backend.store
    for k in (b"a", b"k1", b"k2", b"k3", b"z"):
        await store.put(k, b"v-" + k)  # revisions 2..6
    resp = await store.delete_range(b"k", prefix_end(b"k"), prev_kv=True)
    assert resp.header.revision == 7
    assert resp.deleted == 3
    assert resp.prev_kvs == (
        KeyValue(b"k1", 3, 3, 1, b"v-k1"),
        KeyValue(b"k2", 4, 4, 1, b"v-k2"),
        KeyValue(b"k3", 5, 5, 1, b"v-k3"),
    )
    assert await current_revision(store) == 7
    assert [kv.key for kv in (await dump(store))[1]] == [b"a", b"z"]
    # at revision 6 all three still exist, at 7 none does
    assert (await store.range(b"k", b"l", revision=6)).count == 3
    assert (await store.range(b"k", b"l", revision=7)).count == 0


async def test_delete_everything_from_key(backend):
    store = backend.store
    for k in (b"a", b"b", b"c"):
        await store.put(k, b"v")
    resp = await store.delete_range(b"b", b"\0")
    assert resp.deleted == 2
    assert [kv.key for kv in (await dump(store))[1]] == [b"a"]
    resp = await store.delete_range(b"\0", b"\0")
    assert resp.deleted == 1
    assert (await dump(store)) == (6, ())


async def test_delete_prev_kvs_carry_leases_and_versions(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"a", b"1", lease=lease.id)  # 2
    await store.put(b"a", b"2", ignore_lease=True)  # 3
    resp = await store.delete_range(b"a", prev_kv=True)
    assert resp.prev_kvs == (KeyValue(b"a", 2, 3, 2, b"2", lease.id),)
    assert (await store.lease_time_to_live(lease.id, keys=True)).keys == ()


async def test_delete_empty_key_is_refused(backend):
    store = backend.store
    await store.put(b"a", b"1")
    async with unchanged(store):
        with pytest.raises(KeyNotProvidedError) as exc:
            await store.delete_range(b"")
        with pytest.raises(KeyNotProvidedError):
            await store.delete_range(b"", b"\0")
    assert str(exc.value) == "etcdserver: key is not provided"
