"""Watch: key/range/prefix, start revisions, filters, prev_kv, progress, cancel, compaction."""

from __future__ import annotations

import anyio
import pytest

from kcore.store import (
    DeleteRangeRequest,
    Event,
    EventType,
    FilterType,
    KeyValue,
    PutRequest,
    Watch,
    prefix_end,
)

from ._util import (
    TIMEOUT,
    collect_events,
    collect_responses,
    current_revision,
    events_until_progress,
    next_response,
)

pytestmark = pytest.mark.anyio

PUT, DELETE = EventType.PUT, EventType.DELETE


def put_ev(key, create, mod, version, value=b"", lease=0, prev=None) -> Event:
    return Event(PUT, KeyValue(key, create, mod, version, value, lease), prev)


def del_ev(key, rev, prev=None) -> Event:
    return Event(DELETE, KeyValue(key, mod_revision=rev), prev)


async def assert_ended(w: Watch) -> None:
    """Iteration is over: the next ``__anext__`` raises StopAsyncIteration (soon)."""
    with anyio.fail_after(TIMEOUT):
        async for resp in w:
            assert not resp.events, f"events after cancel: {resp}"


# --- what is watched ---------------------------------------------------------------------


async def test_single_key(backend):
    store = backend.store
    async with await store.watch(b"k") as w:
        await store.put(b"k", b"1")  # 2
        await store.put(b"kk", b"x")  # 3
        await store.put(b"j", b"x")  # 4
        await store.put(b"k", b"2")  # 5
        await store.delete_range(b"k")  # 6
        events = await collect_events(w, 3)
        assert events == [put_ev(b"k", 2, 2, 1, b"1"), put_ev(b"k", 2, 5, 2, b"2"), del_ev(b"k", 6)]
        assert await events_until_progress(w, store) == []


async def test_range(backend):
    store = backend.store
    async with await store.watch(b"b", b"d") as w:
        for k in (b"a", b"b", b"bz", b"c", b"d", b"e"):
            await store.put(k, b"v")  # 2..7
        events = await collect_events(w, 3)
        assert [(ev.kv.key, ev.kv.mod_revision) for ev in events] == [
            (b"b", 3),
            (b"bz", 4),
            (b"c", 5),
        ]
        assert await events_until_progress(w, store) == []


async def test_prefix(backend):
    store = backend.store
    async with await store.watch(b"p/", prefix_end(b"p/")) as w:
        for k in (b"p", b"p/", b"p/a", b"p0", b"q/a", b"p/b/c"):
            await store.put(k, b"v")
        await store.delete_range(b"p", b"q")  # 8: one revision deletes p, p/, p/a, p/b/c, p0
        events = await collect_events(w, 6)
        assert [ev.kv.key for ev in events] == [b"p/", b"p/a", b"p/b/c"] * 2
        assert [ev.type for ev in events] == [PUT] * 3 + [DELETE] * 3
        assert {ev.kv.mod_revision for ev in events[3:]} == {8}
        assert await events_until_progress(w, store) == []


async def test_everything(backend):
    store = backend.store
    async with await store.watch(b"\0", b"\0") as w:
        await store.put(b"\x00", b"v")
        await store.put(b"\xff\xff", b"v")
        events = await collect_events(w, 2)
        assert [ev.kv.key for ev in events] == [b"\x00", b"\xff\xff"]


async def test_range_from_key_to_end(backend):
    store = backend.store
    async with await store.watch(b"m", b"\0") as w:
        for k in (b"a", b"m", b"z", b"\xff"):
            await store.put(k, b"v")
        events = await collect_events(w, 3)
        assert [ev.kv.key for ev in events] == [b"m", b"z", b"\xff"]


# --- start revision --------------------------------------------------------------------------


async def test_start_revision_0_means_from_the_next_revision(backend):
    store = backend.store
    await store.put(b"k", b"before")  # 2
    async with await store.watch(b"k", start_revision=0) as w:
        assert await events_until_progress(w, store) == []
        await store.put(b"k", b"after")  # 3
        assert await collect_events(w, 1) == [put_ev(b"k", 2, 3, 2, b"after")]


async def test_start_revision_in_the_past_replays_history(backend):
    store = backend.store
    await store.put(b"k", b"1")  # 2
    await store.put(b"k", b"2")  # 3
    await store.delete_range(b"k")  # 4
    await store.put(b"k", b"3")  # 5
    async with await store.watch(b"k", start_revision=3) as w:
        await store.put(b"k", b"4")  # 6, live after the replay
        events = await collect_events(w, 4)
    assert events == [
        put_ev(b"k", 2, 3, 2, b"2"),
        del_ev(b"k", 4),
        put_ev(b"k", 5, 5, 1, b"3"),
        put_ev(b"k", 5, 6, 2, b"4"),
    ]


async def test_start_revision_1_replays_everything(backend):
    store = backend.store
    await store.put(b"a", b"1")
    await store.put(b"b", b"1")
    async with await store.watch(b"\0", b"\0", start_revision=1) as w:
        events = await collect_events(w, 2)
    assert [ev.kv.key for ev in events] == [b"a", b"b"]


async def test_start_revision_in_the_future_waits_for_it(backend):
    store = backend.store
    async with await store.watch(b"k", start_revision=4) as w:
        for i in range(2, 6):
            await store.put(b"k", b"%d" % i)
        events = await collect_events(w, 2)
    assert [ev.kv.mod_revision for ev in events] == [4, 5]


async def test_resume_after_the_last_revision_received(backend):
    store = backend.store
    async with await store.watch(b"k") as w:
        await store.put(b"k", b"1")  # 2
        last = (await collect_events(w, 1))[-1].kv.mod_revision
    await store.put(b"k", b"2")  # 3: written while no watch exists
    await store.put(b"k", b"3")  # 4
    async with await store.watch(b"k", start_revision=last + 1) as w:
        events = await collect_events(w, 2)
    assert [ev.kv.mod_revision for ev in events] == [3, 4]


# --- filters and prev_kv ---------------------------------------------------------------------


async def test_noput_filter(backend):
    store = backend.store
    async with await store.watch(b"k", b"l", filters=[FilterType.NOPUT]) as w:
        await store.put(b"k1", b"v")  # 2
        await store.put(b"k2", b"v")  # 3
        await store.delete_range(b"k1")  # 4
        await store.put(b"k1", b"v")  # 5
        await store.delete_range(b"k", b"l")  # 6
        events = await events_until_progress(w, store)
    assert events == [del_ev(b"k1", 4), del_ev(b"k1", 6), del_ev(b"k2", 6)]


async def test_nodelete_filter(backend):
    store = backend.store
    async with await store.watch(b"k", b"l", filters=[FilterType.NODELETE]) as w:
        await store.put(b"k1", b"v")  # 2
        await store.delete_range(b"k1")  # 3
        await store.put(b"k1", b"w")  # 4
        events = await events_until_progress(w, store)
    assert events == [put_ev(b"k1", 2, 2, 1, b"v"), put_ev(b"k1", 4, 4, 1, b"w")]


async def test_both_filters_deliver_nothing(backend):
    store = backend.store
    filters = [FilterType.NOPUT, FilterType.NODELETE]
    async with await store.watch(b"k", filters=filters) as w:
        await store.put(b"k", b"v")
        await store.delete_range(b"k")
        assert await events_until_progress(w, store) == []


async def test_prev_kv(backend):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"k", b"0")  # 2, before the watch
    async with await store.watch(b"k", b"l", prev_kv=True) as w:
        await store.put(b"k", b"1", lease=lease.id)  # 3
        await store.delete_range(b"k")  # 4
        await store.put(b"k", b"2")  # 5
        await store.put(b"k2", b"x")  # 6
        events = await collect_events(w, 4)
    assert events == [
        put_ev(b"k", 2, 3, 2, b"1", lease.id, prev=KeyValue(b"k", 2, 2, 1, b"0")),
        del_ev(b"k", 4, prev=KeyValue(b"k", 2, 3, 2, b"1", lease.id)),
        put_ev(b"k", 5, 5, 1, b"2"),  # a new generation: nothing before it
        put_ev(b"k2", 6, 6, 1, b"x"),
    ]


async def test_prev_kv_on_replay(backend):
    store = backend.store
    await store.put(b"k", b"1")  # 2
    await store.put(b"k", b"2")  # 3
    await store.delete_range(b"k")  # 4
    async with await store.watch(b"k", start_revision=3, prev_kv=True) as w:
        events = await collect_events(w, 2)
    assert events == [
        put_ev(b"k", 2, 3, 2, b"2", prev=KeyValue(b"k", 2, 2, 1, b"1")),
        del_ev(b"k", 4, prev=KeyValue(b"k", 2, 3, 2, b"2")),
    ]


async def test_without_prev_kv_no_prev_kv_is_sent(backend):
    store = backend.store
    await store.put(b"k", b"1")
    async with await store.watch(b"k") as w:
        await store.put(b"k", b"2")
        await store.delete_range(b"k")
        events = await collect_events(w, 2)
    assert [ev.prev_kv for ev in events] == [None, None]


async def test_filters_and_prev_kv_apply_to_replay(backend):
    store = backend.store
    await store.put(b"k", b"1")  # 2
    await store.delete_range(b"k")  # 3
    await store.put(b"k", b"2")  # 4
    noput = await store.watch(b"k", start_revision=2, filters=[FilterType.NOPUT], prev_kv=True)
    nodelete = await store.watch(b"k", start_revision=2, filters=[FilterType.NODELETE])
    async with noput, nodelete:
        assert await events_until_progress(noput, store) == [
            del_ev(b"k", 3, prev=KeyValue(b"k", 2, 2, 1, b"1"))
        ]
        assert await events_until_progress(nodelete, store) == [
            put_ev(b"k", 2, 2, 1, b"1"),
            put_ev(b"k", 4, 4, 1, b"2"),
        ]


async def test_single_key_watch_sees_range_delete(backend):
    store = backend.store
    await store.put(b"a", b"1")  # 2
    await store.put(b"b", b"1")  # 3
    async with await store.watch(b"b", prev_kv=True) as w:
        await store.delete_range(b"a", b"z")  # 4
        assert await collect_events(w, 1) == [del_ev(b"b", 4, prev=KeyValue(b"b", 3, 3, 1, b"1"))]


# --- atomicity, order, several watchers --------------------------------------------------


async def test_one_revision_is_never_split_across_responses(backend):
    store = backend.store
    async with await store.watch(b"\0", b"\0") as w:
        await store.txn([], [PutRequest(b"%03d" % i, b"v") for i in range(100)], [])  # 2
        await store.txn([], [DeleteRangeRequest(b"000", b"050"), PutRequest(b"x", b"1")], [])  # 3
        responses = await collect_responses(w, 151)
    for resp in responses:
        assert resp.watch_id == w.watch_id
        assert resp.header.revision >= resp.events[-1].kv.mod_revision
    by_rev: dict[int, set[int]] = {}
    for i, resp in enumerate(responses):
        for ev in resp.events:
            by_rev.setdefault(ev.kv.mod_revision, set()).add(i)
    assert all(len(indexes) == 1 for indexes in by_rev.values()), by_rev
    events = [ev for resp in responses for ev in resp.events]
    assert [ev.kv.mod_revision for ev in events] == [2] * 100 + [3] * 51
    assert [ev.type for ev in events[100:]] == [DELETE] * 50 + [PUT]


async def test_events_ordered_unique_and_without_gaps(backend):
    store = backend.store
    async with await store.watch(b"k", b"l") as w:
        for i in range(300):
            await store.put(b"k%d" % (i % 7), b"%d" % i)
        events = await collect_events(w, 300)
    assert [ev.kv.mod_revision for ev in events] == list(range(2, 302))


async def test_slow_consumer_loses_nothing(backend):
    """Thousands of events written before the watcher reads any: all arrive, in order."""
    store = backend.store
    n = 3000
    async with await store.watch(b"k", b"l", start_revision=0) as w:
        for i in range(n):
            await store.put(b"k%d" % (i % 10), b"v")
        assert await current_revision(store) == n + 1
        events = await collect_events(w, n, timeout=30)
    assert [ev.kv.mod_revision for ev in events] == list(range(2, n + 2))


async def test_replay_hands_over_to_live_events_without_gap_or_duplicate(backend):
    """A watch starting in history while a writer keeps writing: every revision exactly once."""
    store = backend.store
    for i in range(500):
        await store.put(b"k%d" % (i % 3), b"old")  # 2..501
    w = await store.watch(b"k", b"l", start_revision=2)

    async def writer() -> None:
        for i in range(500):
            await store.put(b"k%d" % (i % 3), b"new")  # 502..1001
            if i % 50 == 0:
                await anyio.lowlevel.checkpoint()

    async with w:
        with anyio.fail_after(TIMEOUT * 2):
            async with anyio.create_task_group() as tg:
                tg.start_soon(writer)
                events = await collect_events(w, 1000, timeout=TIMEOUT * 2)
    assert [ev.kv.mod_revision for ev in events] == list(range(2, 1002))


async def test_many_watchers_each_see_every_event(backend):
    store = backend.store
    watches = [await store.watch(b"k", prefix_end(b"k")) for _ in range(5)]
    other = await store.watch(b"x")
    try:
        await store.put(b"k1", b"v")
        await store.put(b"x", b"v")
        await store.delete_range(b"k1")
        for w in watches:
            assert await collect_events(w, 2) == [put_ev(b"k1", 2, 2, 1, b"v"), del_ev(b"k1", 4)]
        assert await collect_events(other, 1) == [put_ev(b"x", 3, 3, 1, b"v")]
        assert len({w.watch_id for w in [*watches, other]}) == 6
    finally:
        for w in [*watches, other]:
            await w.cancel()


# --- progress, cancel -----------------------------------------------------------------------


async def test_requested_progress_notification(backend):
    store = backend.store
    await store.put(b"other", b"v")  # 2
    async with await store.watch(b"k") as w:
        await w.request_progress()
        resp = await next_response(w)
        assert resp.events == () and not resp.canceled
        assert resp.header.revision == 2
        await store.put(b"k", b"1")  # 3
        await store.put(b"other", b"v")  # 4
        await w.request_progress()
        events = []
        while True:
            resp = await next_response(w)
            if not resp.events:
                break
            events.extend(resp.events)
        assert [ev.kv.mod_revision for ev in events] == [3]
        assert resp.header.revision == 4
        assert not resp.canceled


async def test_cancel_ends_iteration(backend):
    store = backend.store
    w = await store.watch(b"k")
    await store.put(b"k", b"1")
    assert len(await collect_events(w, 1)) == 1
    await w.cancel()
    await assert_ended(w)
    await store.put(b"k", b"2")  # a canceled watch gets nothing, and writes still work
    assert (await store.range(b"k")).kvs[0].value == b"2"


async def test_leaving_the_context_cancels(backend):
    store = backend.store
    async with await store.watch(b"k") as w:
        await store.put(b"k", b"1")
        await collect_events(w, 1)
    await assert_ended(w)
    await store.put(b"k", b"2")


async def test_cancel_while_a_consumer_waits(backend):
    store = backend.store
    w = await store.watch(b"k")
    received: list[object] = []

    async def consume() -> None:
        async for resp in w:
            received.append(resp)

    with anyio.fail_after(TIMEOUT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(0.01)
            await w.cancel()
    assert all(not getattr(r, "events", ()) for r in received)


# --- compaction ----------------------------------------------------------------------------


async def test_start_below_compact_revision_is_canceled(backend):
    store = backend.store
    for i in range(5):
        await store.put(b"k", b"%d" % i)  # 2..6
    await store.compact(4)
    w = await store.watch(b"k", start_revision=3)
    resp = await next_response(w)
    assert resp.canceled is True
    assert resp.compact_revision == 4
    assert resp.events == ()
    await assert_ended(w)


async def test_start_at_compact_revision_delivers_everything_from_it(backend):
    store = backend.store
    for i in range(5):
        await store.put(b"k", b"%d" % i)  # 2..6
    await store.compact(4)
    async with await store.watch(b"k", start_revision=4) as w:
        events = await collect_events(w, 3)
    assert [ev.kv.mod_revision for ev in events] == [4, 5, 6]
    assert events[0] == put_ev(b"k", 2, 4, 3, b"2")


async def test_behind_watcher_is_never_silently_skipped_past_a_compaction(backend):
    """A watcher behind when history is compacted gets it all, or a cancel with the revision."""
    store = backend.store
    w = await store.watch(b"k", b"l", start_revision=2)
    for i in range(50):
        await store.put(b"k%d" % (i % 5), b"v")  # 2..51
    await store.compact(40)
    await store.put(b"k0", b"after")  # 52
    revs: list[int] = []
    canceled_at = 0
    with anyio.fail_after(TIMEOUT):
        async for resp in w:
            if resp.canceled:
                canceled_at = resp.compact_revision
                break
            revs.extend(ev.kv.mod_revision for ev in resp.events)
            if revs and revs[-1] == 52:
                break
    await w.cancel()
    assert revs == list(range(2, 2 + len(revs))), "gap or duplicate in delivered events"
    if canceled_at:
        assert canceled_at == 40
        assert not revs or revs[-1] + 1 < 40  # it was canceled only if it needed < 40
    else:
        assert revs == list(range(2, 53))
