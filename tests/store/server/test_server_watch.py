"""Watch over the wire: multiplexing, IDs, cancel, progress, compaction, filters, fragments."""

from __future__ import annotations

import anyio
import pytest

from kcore.clock import VirtualClock
from kcore.store import MemoryStore
from kcore.store._etcdpb import kv_pb2
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer
from kcore.store.server._split import split_response, whole_revisions

from .conftest import TIMEOUT, Client, header_ids_ok

pytestmark = pytest.mark.anyio

DUPLICATE = "mvcc: duplicate watch ID provided on the WatchStream"
EMPTY_RANGE = "mvcc: watcher range is empty"


async def test_created_first_then_events(client: Client, server: EtcdServer) -> None:
    await client.put(b"before")
    async with client.watch() as w:
        created = await w.created(b"k")
        assert created.watch_id == 0  # the first automatic ID on a stream is 0
        assert created.header.revision == 2  # the current revision
        assert header_ids_ok(created.header, server)
        await client.put(b"k", b"1")
        response = await w.next()
        assert response.watch_id == 0 and header_ids_ok(response.header, server)
        [event] = response.events
        assert event.type == 0 and event.kv.value == b"1" and event.kv.mod_revision == 3
        assert response.header.revision == 3


async def test_many_watches_on_one_stream(client: Client) -> None:
    async with client.watch() as w:
        a = await w.created(b"a")
        b = await w.created(b"p/", b"p0")
        explicit = await w.created(b"a", watch_id=42)
        after = await w.created(b"z")
        assert (a.watch_id, b.watch_id, explicit.watch_id, after.watch_id) == (0, 1, 42, 2)
        await client.put(b"a")
        await client.put(b"p/x")
        seen: dict[int, list[bytes]] = {}
        for _ in range(3):
            response = await w.next()
            seen.setdefault(response.watch_id, []).extend(e.kv.key for e in response.events)
        assert seen == {0: [b"a"], 42: [b"a"], 1: [b"p/x"]}
        await w.quiet()


async def test_duplicate_and_empty_range_refused(client: Client) -> None:
    async with client.watch() as w:
        await w.created(b"a", watch_id=7)
        dup = await w.created(b"b", watch_id=7)
        assert (dup.watch_id, dup.canceled, dup.cancel_reason) == (-1, True, DUPLICATE)
        backwards = await w.created(b"b", b"a")
        assert (backwards.watch_id, backwards.canceled) == (-1, True)
        assert backwards.cancel_reason == EMPTY_RANGE
        same = await w.created(b"b", b"b")
        assert same.cancel_reason == EMPTY_RANGE
        # the refused watches took no ID; the original still works
        await client.put(b"a")
        assert (await w.next()).watch_id == 7


async def test_cancel(client: Client, server: EtcdServer) -> None:
    async with client.watch() as w:
        await w.created(b"a")
        await w.cancel(0)
        canceled = await w.next()
        assert (canceled.watch_id, canceled.canceled, canceled.created) == (0, True, False)
        assert header_ids_ok(canceled.header, server)
        await w.cancel(12345)  # unknown: etcd answers nothing
        await client.put(b"a")
        await w.quiet()
        again = await w.created(b"a", watch_id=0)  # the freed ID... auto picks the next
        assert again.watch_id == 1
        reused = await w.created(b"a", watch_id=0 + 0)  # auto again
        assert reused.watch_id == 2
        back = await w.created(b"a", watch_id=5)
        await w.cancel(5)
        assert (await w.next()).canceled
        assert (await w.created(b"a", watch_id=5)).watch_id == back.watch_id  # free again


async def test_watch_from_history_and_prefix(client: Client) -> None:
    first = await client.put(b"h/1", b"a")
    await client.put(b"h/2", b"b")
    await client.rpc("DeleteRange", pb.DeleteRangeRequest(key=b"h/1"))
    async with client.watch() as w:
        await w.created(b"h/", b"h0", start_revision=first.header.revision, prev_kv=True)
        events = await w.events(3, watch_id=0)
        assert [(e.type, e.kv.key) for e in events] == [(0, b"h/1"), (0, b"h/2"), (1, b"h/1")]
        assert events[2].prev_kv.value == b"a"
        assert events[2].kv.mod_revision == 4


async def test_empty_key_watches_everything(client: Client) -> None:
    async with client.watch() as w:
        await w.created(b"", b"\0")
        await client.put(b"anything")
        await client.put(b"\x01")
        assert [e.kv.key for e in await w.events(2)] == [b"anything", b"\x01"]


async def test_filters(client: Client) -> None:
    async with client.watch() as w:
        await w.created(b"f", filters=[pb.WatchCreateRequest.NOPUT])
        await w.created(b"f", filters=[pb.WatchCreateRequest.NODELETE, 9])  # 9: ignored
        await client.put(b"f")
        await client.rpc("DeleteRange", pb.DeleteRangeRequest(key=b"f"))
        got = {}
        for _ in range(2):
            response = await w.next()
            got[response.watch_id] = [e.type for e in response.events]
        assert got == {0: [1], 1: [0]}


async def test_progress_request(client: Client) -> None:
    async with client.watch() as w:
        await w.progress()  # no watches: answered at once
        alone = await w.next()
        assert (alone.watch_id, alone.header.revision, len(alone.events)) == (-1, 1, 0)
        await w.created(b"a")
        await w.created(b"b")
        await client.put(b"a")
        await client.put(b"c")
        assert (await w.next()).events[0].kv.key == b"a"
        await w.progress()
        answer = await w.next()
        assert answer.watch_id == -1 and not answer.events and not answer.canceled
        assert answer.header.revision == 3
        await w.quiet()  # one answer, not one per watch


async def test_progress_waits_for_a_watch_that_is_behind(server: EtcdServer) -> None:
    # A watch catching up from history answers only after its events: the -1 response
    # never overtakes them (etcd 3.4.25+; 3.4.23 answers at once, etcd issue 15697).
    client = Client(server.address)
    try:
        for i in range(3000):
            await client.put(b"b/%d" % i)
        async with client.watch() as w:
            await w.created(b"b/", b"b0", start_revision=1)
            await w.progress()
            events = 0
            for _ in range(3000):  # bounded: at most one response per event
                response = await w.next()
                if response.watch_id == -1:
                    break
                events += len(response.events)
            assert events == 3000
            assert response.header.revision == 3001
    finally:
        await client.close()


async def test_compacted_start(client: Client) -> None:
    for i in range(5):
        await client.put(b"c", b"%d" % i)
    await client.rpc("Compact", pb.CompactionRequest(revision=4))
    async with client.watch() as w:
        created = await w.created(b"c", start_revision=2, watch_id=3)
        assert created.watch_id == 3 and created.header.revision == 6
        canceled = await w.next()
        assert canceled.watch_id == 3 and canceled.canceled and canceled.compact_revision == 4
        assert canceled.header.revision == 0 and canceled.cancel_reason == ""  # as etcd 3.4
        dup = await w.created(b"c", watch_id=3)  # etcd keeps the ID taken until canceled
        assert dup.cancel_reason == DUPLICATE
        await w.cancel(3)
        assert (await w.next()).canceled
        at = await w.created(b"c", start_revision=4)  # exactly the compact revision works
        events = await w.events(3, watch_id=at.watch_id)
        assert [e.kv.value for e in events] == [b"2", b"3", b"4"]


async def test_negative_start_revisions(client: Client) -> None:
    await client.put(b"n")
    async with client.watch() as w:
        await w.created(b"n", start_revision=-1, watch_id=1)  # etcd: as if 0 (from now)
        await w.created(b"n", start_revision=-5, watch_id=2)  # etcd: below "compacted -1"
        canceled = await w.next()
        assert (canceled.watch_id, canceled.canceled, canceled.compact_revision) == (2, True, -1)
        await client.put(b"n")
        response = await w.next()
        assert response.watch_id == 1 and response.events[0].kv.mod_revision == 3


async def test_fragment(client: Client) -> None:
    big = b"x" * (700 * 1024)
    first = await client.put(b"g/0", big)
    await client.put(b"g/1", big)
    await client.put(b"g/2", big)
    async with client.watch() as w:
        await w.created(b"g/", b"g0", start_revision=first.header.revision, fragment=True)
        parts = [await w.next(), await w.next()]
        assert [len(p.events) for p in parts] == [2, 1]
        assert [p.fragment for p in parts] == [True, False]
        assert all(p.ByteSize() < 1536 * 1024 for p in parts)
        assert parts[0].header == parts[1].header
        # Without fragment etcd would send one 2.1 MiB message; kcore sends whole revisions
        # in messages under the limit (many gRPC clients refuse messages over 4 MiB).
        await w.created(b"g/", b"g0", start_revision=first.header.revision)
        parts = [await w.next(), await w.next()]
        assert [len(p.events) for p in parts] == [2, 1]
        assert not any(p.fragment for p in parts)
        assert all(p.ByteSize() < 1536 * 1024 for p in parts)
        assert parts[0].header.revision == parts[0].events[-1].kv.mod_revision
        assert parts[1].header.revision == 4


async def test_half_closed_stream_keeps_delivering(client: Client) -> None:
    async with client.watch() as w:
        await w.created(b"h")
        await w.call.done_writing()
        await client.put(b"h")
        assert (await w.next()).events[0].kv.key == b"h"


async def test_progress_notify() -> None:
    clock = VirtualClock()
    store = MemoryStore(clock=clock, progress_interval=5)
    async with store, EtcdServer(store, "127.0.0.1:0") as server:
        client = Client(server.address)
        try:
            async with client.watch() as w:
                await w.created(b"p", progress_notify=True, watch_id=8)
                await w.created(b"q", watch_id=9)
                with anyio.fail_after(TIMEOUT):
                    while clock.sleepers == 0:  # bounded by fail_after
                        await anyio.sleep(0.01)
                await clock.advance(6)  # one tick
                notice = await w.next()
                assert (notice.watch_id, len(notice.events)) == (8, 0)
                assert notice.header.revision == 1
                await w.quiet()  # the watch without progress_notify says nothing
        finally:
            await client.close()


async def test_stream_end_releases_store_watches(store: MemoryStore, server: EtcdServer) -> None:
    client = Client(server.address)
    async with client.watch() as w:
        for i in range(5):
            await w.created(b"k%d" % i)
        assert server.watch_stats()[0].watches == 5
        assert len(store._hub._watches) == 5
    await client.close()
    with anyio.fail_after(TIMEOUT):
        while server.watch_stats() or store._hub._watches:  # bounded by fail_after
            await anyio.sleep(0.01)


def _batch(revisions: list[int], size: int) -> pb.WatchResponse:
    response = pb.WatchResponse(header=pb.ResponseHeader(revision=100), watch_id=3)
    for i, rev in enumerate(revisions):
        kv = kv_pb2.KeyValue(key=b"k%d" % i, mod_revision=rev, value=b"x" * size)
        response.events.append(kv_pb2.Event(kv=kv))
    return response


def test_split_keeps_revisions_whole() -> None:
    batch = _batch([5, 5, 6, 7, 7, 7, 8], 300)
    parts = [pb.WatchResponse.FromString(p) for p in whole_revisions(batch, 1000)]
    revisions = [[e.kv.mod_revision for e in p.events] for p in parts]
    assert [r for part in revisions for r in part] == [5, 5, 6, 7, 7, 7, 8]  # all, once
    for i, part in enumerate(parts):
        assert not part.fragment and part.watch_id == 3
        if i < len(parts) - 1:
            assert part.header.revision == part.events[-1].kv.mod_revision
            assert revisions[i][-1] != revisions[i + 1][0]  # no revision across parts
    assert parts[-1].header.revision == 100
    # one revision bigger than the limit still goes whole; small responses are untouched
    assert len(split_response(_batch([9, 9, 9, 9], 400), 1000, fragment=False)) == 1
    assert split_response(_batch([1, 2], 10), 1000, fragment=True) == [
        _batch([1, 2], 10).SerializeToString()
    ]


def test_fragments_as_etcd() -> None:
    batch = _batch([9, 9, 9, 9, 9], 400)
    parts = [pb.WatchResponse.FromString(p) for p in split_response(batch, 1000, fragment=True)]
    assert [len(p.events) for p in parts] == [2, 2, 1]
    assert [p.fragment for p in parts] == [True, True, False]
    assert all(p.header == batch.header for p in parts)
