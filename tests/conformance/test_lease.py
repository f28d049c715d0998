"""Leases: grant, revoke, keep-alive, time-to-live, list, and expiry by the store's clock."""

from __future__ import annotations

import anyio
import pytest

from kcore.errors import LeaseExistsError, LeaseNotFoundError, LeaseTTLTooLargeError
from kcore.store import Event, EventType, KeyValue, PutRequest

from ._util import TIMEOUT, collect_events, current_revision, dump, get, unchanged

pytestmark = pytest.mark.anyio


async def lease_ids(store) -> set[int]:
    return {status.id for status in (await store.leases()).leases}


# --- grant ---------------------------------------------------------------------------------


async def test_grant_chooses_a_unique_id(backend):
    store = backend.store
    a = await store.lease_grant(10)
    b = await store.lease_grant(10)
    assert a.id > 0 and b.id > 0 and a.id != b.id
    assert a.ttl == 10
    assert a.error == ""
    assert await lease_ids(store) == {a.id, b.id}


async def test_grant_with_caller_chosen_id(backend):
    store = backend.store
    resp = await store.lease_grant(10, id=0x7E57)
    assert resp.id == 0x7E57
    assert await lease_ids(store) == {0x7E57}
    ttl = await store.lease_time_to_live(0x7E57)
    assert ttl.id == 0x7E57
    assert ttl.granted_ttl == 10


async def test_grant_existing_id_is_refused(backend):
    store = backend.store
    await store.lease_grant(10, id=42)
    with pytest.raises(LeaseExistsError) as exc:
        await store.lease_grant(20, id=42)
    assert str(exc.value) == "etcdserver: lease already exists"
    assert (await store.lease_time_to_live(42)).granted_ttl == 10


@pytest.mark.parametrize(("asked", "granted"), [(1, 2), (2, 2), (3, 3), (3600, 3600)])
async def test_granted_ttl_is_at_least_the_minimum(backend, asked, granted):
    store = backend.store
    resp = await store.lease_grant(asked)
    assert resp.ttl == granted
    assert (await store.lease_time_to_live(resp.id)).granted_ttl == granted


async def test_ttl_too_large(backend):
    store = backend.store
    with pytest.raises(LeaseTTLTooLargeError) as exc:
        await store.lease_grant(9_000_000_001)
    assert str(exc.value) == "etcdserver: too large lease TTL"
    assert await lease_ids(store) == set()
    assert (await store.lease_grant(9_000_000_000)).ttl == 9_000_000_000


# --- revoke --------------------------------------------------------------------------------


async def test_revoke_deletes_all_keys_in_one_revision(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"b", b"1", lease=lease.id)  # 2
    await store.put(b"a", b"1", lease=lease.id)  # 3
    await store.put(b"c", b"1", lease=lease.id)  # 4
    await store.put(b"free", b"1")  # 5
    async with await store.watch(b"\0", b"\0", prev_kv=True) as w:
        resp = await store.lease_revoke(lease.id)
        assert resp.header.revision == 6
        events = await collect_events(w, 3)
    assert await dump(store) == (6, (KeyValue(b"free", 5, 5, 1, b"1"),))
    assert [ev.type for ev in events] == [EventType.DELETE] * 3
    assert [ev.kv for ev in events] == [
        KeyValue(b"a", mod_revision=6),
        KeyValue(b"b", mod_revision=6),
        KeyValue(b"c", mod_revision=6),
    ]
    assert [ev.prev_kv.lease for ev in events] == [lease.id] * 3
    assert lease.id not in await lease_ids(store)
    assert (await store.lease_time_to_live(lease.id)).ttl == -1


async def test_revoke_lease_without_keys_spends_no_revision(backend):
    store = backend.store
    await store.put(b"k", b"v")
    lease = await store.lease_grant(30)
    resp = await store.lease_revoke(lease.id)
    assert resp.header.revision == 2
    assert await current_revision(store) == 2
    assert await lease_ids(store) == set()


async def test_revoke_lease_whose_keys_were_deleted_spends_no_revision(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v", lease=lease.id)  # 2
    await store.delete_range(b"k")  # 3
    await store.lease_revoke(lease.id)
    assert await current_revision(store) == 3


async def test_revoke_unknown_lease(backend):
    store = backend.store
    await store.put(b"k", b"v")
    async with unchanged(store):
        with pytest.raises(LeaseNotFoundError) as exc:
            await store.lease_revoke(12345)
    assert str(exc.value) == "etcdserver: requested lease not found"
    lease = await store.lease_grant(30)
    await store.lease_revoke(lease.id)
    with pytest.raises(LeaseNotFoundError):
        await store.lease_revoke(lease.id)


async def test_put_with_another_lease_moves_the_key(backend):
    store = backend.store
    first = await store.lease_grant(30)
    second = await store.lease_grant(30)
    await store.put(b"k", b"1", lease=first.id)  # 2
    await store.put(b"k", b"2", lease=second.id)  # 3
    assert (await store.lease_time_to_live(first.id, keys=True)).keys == ()
    assert (await store.lease_time_to_live(second.id, keys=True)).keys == (b"k",)
    await store.lease_revoke(first.id)  # no keys any more: nothing deleted, no revision
    assert await get(store, b"k") == KeyValue(b"k", 2, 3, 2, b"2", second.id)
    await store.lease_revoke(second.id)
    assert await get(store, b"k") is None
    assert await current_revision(store) == 4


async def test_put_with_lease_inside_txn(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.txn([], [PutRequest(b"a", b"1", lease=lease.id), PutRequest(b"b", b"1")], [])
    assert (await store.lease_time_to_live(lease.id, keys=True)).keys == (b"a",)
    await store.lease_revoke(lease.id)
    assert [kv.key for kv in (await dump(store))[1]] == [b"b"]


# --- keep-alive, time-to-live, list ----------------------------------------------------


async def test_keepalive(backend):
    store = backend.store
    lease = await store.lease_grant(10)
    resp = await store.lease_keepalive(lease.id)
    assert resp.id == lease.id
    assert resp.ttl == 10


async def test_keepalive_unknown_lease_answers_ttl_0(backend):
    store = backend.store
    resp = await store.lease_keepalive(999)
    assert resp.id == 999
    assert resp.ttl == 0
    assert await lease_ids(store) == set()


async def test_time_to_live(backend):
    store = backend.store
    lease = await store.lease_grant(10)
    await store.put(b"b", b"1", lease=lease.id)
    await store.put(b"a", b"1", lease=lease.id)
    await store.put(b"other", b"1")
    await backend.advance(3)
    resp = await store.lease_time_to_live(lease.id, keys=True)
    assert resp.id == lease.id
    assert resp.granted_ttl == 10
    assert 6 <= resp.ttl <= 7
    assert sorted(resp.keys) == [b"a", b"b"]
    resp = await store.lease_time_to_live(lease.id)
    assert resp.keys == ()
    await store.lease_keepalive(lease.id)
    assert 9 <= (await store.lease_time_to_live(lease.id)).ttl <= 10


async def test_time_to_live_unknown_lease_answers_ttl_minus_1(backend):
    store = backend.store
    resp = await store.lease_time_to_live(4242, keys=True)
    assert resp.id == 4242
    assert resp.ttl == -1
    assert resp.keys == ()


async def test_leases_lists_live_leases(backend):
    store = backend.store
    assert await lease_ids(store) == set()
    a = await store.lease_grant(10)
    b = await store.lease_grant(100)
    c = await store.lease_grant(30, id=77)
    assert await lease_ids(store) == {a.id, b.id, 77}
    await store.lease_revoke(c.id)
    assert await lease_ids(store) == {a.id, b.id}
    await backend.advance(11)
    assert await lease_ids(store) == {b.id}


# --- expiry --------------------------------------------------------------------------------


async def test_expiry_deletes_all_keys_in_one_revision(backend):
    store = backend.store
    lease = await store.lease_grant(5)
    await store.put(b"k2", b"v", lease=lease.id)  # 2
    await store.put(b"k1", b"v", lease=lease.id)  # 3
    await store.put(b"k3", b"v", lease=lease.id)  # 4
    await store.put(b"keep", b"v")  # 5
    async with await store.watch(b"k", b"l") as w:
        await backend.advance(4)
        assert (await store.range(b"k", b"l")).count == 4
        await backend.advance(2)
        events = await collect_events(w, 3)
    assert events == [
        Event(EventType.DELETE, KeyValue(b"k1", mod_revision=6)),
        Event(EventType.DELETE, KeyValue(b"k2", mod_revision=6)),
        Event(EventType.DELETE, KeyValue(b"k3", mod_revision=6)),
    ]
    assert await dump(store) == (6, (KeyValue(b"keep", 5, 5, 1, b"v"),))
    assert lease.id not in await lease_ids(store)
    assert (await store.lease_time_to_live(lease.id)).ttl == -1
    assert (await store.lease_keepalive(lease.id)).ttl == 0
    with pytest.raises(LeaseNotFoundError):
        await store.put(b"k1", b"again", lease=lease.id)


async def test_expiry_without_keys_spends_no_revision(backend):
    store = backend.store
    await store.put(b"k", b"v")
    lease = await store.lease_grant(2)
    await backend.advance(3)
    assert lease.id not in await lease_ids(store)
    assert await current_revision(store) == 2


async def test_keepalive_postpones_expiry(backend):
    store = backend.store
    lease = await store.lease_grant(5)
    await store.put(b"k", b"v", lease=lease.id)
    await backend.advance(4)
    assert (await store.lease_keepalive(lease.id)).ttl == 5
    await backend.advance(4)  # 8 s after the grant, 4 s after the keep-alive
    assert await get(store, b"k") is not None
    assert lease.id in await lease_ids(store)
    await backend.advance(2)
    assert await get(store, b"k") is None
    assert lease.id not in await lease_ids(store)


async def test_leases_expire_in_deadline_order(backend):
    store = backend.store
    short = await store.lease_grant(3)
    long = await store.lease_grant(6)
    await store.put(b"short", b"v", lease=short.id)  # 2
    await store.put(b"long", b"v", lease=long.id)  # 3
    await backend.advance(4)
    assert await get(store, b"short") is None
    assert await get(store, b"long") is not None
    assert await current_revision(store) == 4
    await backend.advance(3)
    assert await get(store, b"long") is None
    assert await current_revision(store) == 5


async def test_expired_key_history_remains(backend):
    store = backend.store
    lease = await store.lease_grant(2)
    await store.put(b"k", b"v", lease=lease.id)  # 2
    await backend.advance(3)  # deleted at 3
    assert await get(store, b"k") is None
    assert await get(store, b"k", revision=2) == KeyValue(b"k", 2, 2, 1, b"v", lease.id)


async def test_expiry_with_a_watch_waiting(backend):
    """A watcher blocked in iteration is woken by the expiry's deletes."""
    store = backend.store
    lease = await store.lease_grant(2)
    await store.put(b"k", b"v", lease=lease.id)  # 2
    got: list[Event] = []
    async with await store.watch(b"k") as w:

        async def consume() -> None:
            got.extend(await collect_events(w, 1))

        with anyio.fail_after(TIMEOUT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await backend.advance(3)
    assert got == [Event(EventType.DELETE, KeyValue(b"k", mod_revision=3))]
