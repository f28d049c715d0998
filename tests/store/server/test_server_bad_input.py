"""Hostile and malformed clients: the right status, other clients keep working, memory bounded."""

from __future__ import annotations

from typing import Any

import anyio
import grpc
import pytest

from kcore.store import MemoryStore
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer

from .conftest import TIMEOUT, Client

pytestmark = pytest.mark.anyio


def raw_call(client: Client, path: str) -> Any:
    return client.channel.unary_unary(
        path, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )


async def test_garbage_bytes(client: Client) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await raw_call(client, "/etcdserverpb.KV/Range")(b"\xff\xff\xff\xff", timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.INTERNAL  # as etcd: cannot unmarshal
    assert (await client.put(b"still")).header.revision == 2


async def test_unknown_method(client: Client) -> None:
    for path in ("/etcdserverpb.KV/Nope", "/etcdserverpb.Auth/Authenticate", "/x.Y/Z"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await raw_call(client, path)(b"", timeout=TIMEOUT)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_garbage_on_a_watch_stream(client: Client) -> None:
    call = client.channel.stream_stream(
        "/etcdserverpb.Watch/Watch",
        request_serializer=lambda b: b,
        response_deserializer=pb.WatchResponse.FromString,
    )()
    await call.write(b"\x0a\xff\xff\xff\xff\x0f")
    with anyio.fail_after(TIMEOUT):
        code = await call.code()
    assert code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN)
    assert (await client.get(b"x")).count == 0


def _length_delimited(field: int, body: bytes) -> bytes:
    size, prefix = len(body), bytearray([field << 3 | 2])
    while size >= 0x80:
        prefix.append(size & 0x7F | 0x80)
        size >>= 7
    prefix.append(size)
    return bytes(prefix) + body


@pytest.mark.parametrize("depth", [20, 150])
async def test_deeply_nested_txn(client: Client, depth: int) -> None:
    # Built by hand: the Python protobuf runtime refuses to build this deep a message.
    txn = pb.TxnRequest(success=[pb.RequestOp(request_put=pb.PutRequest(key=b"deep"))])
    data = txn.SerializeToString()
    for _ in range(depth):  # TxnRequest.success (2) holding a RequestOp.request_txn (4)
        data = _length_delimited(2, _length_delimited(4, data))
    call = raw_call(client, "/etcdserverpb.KV/Txn")
    if depth == 20:  # fine, as in etcd
        await call(data, timeout=TIMEOUT)
        assert (await client.get(b"deep")).count == 1
        return
    # Too deep for the protobuf parser: refused as unparsable, like garbage. (etcd parses
    # it and refuses it with "too many operations in txn request": a level spends its size.)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(data, timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "unmarshalling" in (caught.value.details() or "")
    assert (await client.get(b"deep")).count == 0


async def test_abandoned_streams_are_released(store: MemoryStore, server: EtcdServer) -> None:
    clients = [Client(server.address) for _ in range(10)]
    try:
        for c in clients:
            w = c.watch()
            await w.create(b"a", prev_kv=True)
            await w.create(b"b", b"c")
        with anyio.fail_after(TIMEOUT):
            while sum(s.watches for s in server.watch_stats()) < 20:  # bounded by fail_after
                await anyio.sleep(0.01)
    finally:
        for c in clients:
            await c.close()  # the streams are dropped without a cancel
    with anyio.fail_after(TIMEOUT):
        while server.watch_stats() or store._hub._watches:  # bounded by fail_after
            await anyio.sleep(0.01)


async def test_non_reading_watch_stream_is_bounded() -> None:
    """A client that never reads its watch stream costs the server a bounded send queue;
    its watch falls behind in the store and catches up from history once it reads."""
    buffer_bytes = 64 * 1024
    store = MemoryStore(watch_buffer_events=200)
    # 12 MiB: more than gRPC's own flow-control windows absorb (a few MiB on loopback).
    writes, value = 1500, b"v" * 8192
    async with EtcdServer(store, "127.0.0.1:0", watch_send_buffer_bytes=buffer_bytes) as server:
        lazy, busy = Client(server.address), Client(server.address)
        try:
            async with lazy.watch() as w:
                # The reader task would drain the stream; create the watch on a bare call.
                call = lazy.channel.stream_stream(
                    "/etcdserverpb.Watch/Watch",
                    request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=pb.WatchResponse.FromString,
                )()
                create = pb.WatchCreateRequest(key=b"k", range_end=b"l", watch_id=1)
                await call.write(pb.WatchRequest(create_request=create))
                await w.created(b"zz")  # the other stream works meanwhile
                for i in range(writes):
                    await busy.put(b"k%05d" % i, value)
                    if i % 100 == 0:
                        assert (await busy.get(b"k00000")).count == 1
                stats = max(server.watch_stats(), key=lambda s: s.queued_bytes)
                assert stats.queued_bytes > buffer_bytes // 2  # it did fill up...
                assert stats.high_water_bytes <= buffer_bytes + len(value) + 512  # ...no more
                assert stats.sent_bytes < len(value) * writes // 2  # gRPC did not take it all
                [lagging] = [x for x in store._hub._watches.values() if x.start == b"k"]
                assert not lagging.synced  # fell behind in the store, not in the server

                # Now read: everything arrives, in order, nothing lost or repeated.
                expected = 2
                with anyio.fail_after(TIMEOUT * 3):
                    async for response in call:  # bounded by fail_after and the break
                        for event in response.events:
                            assert event.kv.mod_revision == expected
                            expected += 1
                        if expected == writes + 2:
                            break
                call.cancel()
        finally:
            await lazy.close()
            await busy.close()


async def test_non_reading_watch_overtaken_by_compaction() -> None:
    store = MemoryStore(watch_buffer_events=50)
    async with EtcdServer(store, "127.0.0.1:0", watch_send_buffer_bytes=16 * 1024) as server:
        lazy, busy = Client(server.address), Client(server.address)
        try:
            call = lazy.channel.stream_stream(
                "/etcdserverpb.Watch/Watch",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=pb.WatchResponse.FromString,
            )()
            create = pb.WatchCreateRequest(key=b"k", range_end=b"l")
            await call.write(pb.WatchRequest(create_request=create))
            for i in range(1500):  # 12 MiB: more than gRPC's windows and the queue absorb
                put = await busy.put(b"k%04d" % i, b"v" * 8192)
            await busy.rpc("Compact", pb.CompactionRequest(revision=put.header.revision))
            last_revision = 0
            with anyio.fail_after(TIMEOUT * 3):
                async for response in call:  # bounded: ends with the cancel response
                    for event in response.events:
                        assert event.kv.mod_revision > last_revision
                        last_revision = event.kv.mod_revision
                    if response.canceled:
                        break
            assert response.compact_revision == put.header.revision
            assert last_revision < put.header.revision  # it really was behind
            call.cancel()
        finally:
            await lazy.close()
            await busy.close()


async def test_flood_of_watch_requests_without_reading(server: EtcdServer) -> None:
    flooder, other = Client(server.address), Client(server.address)
    try:
        call = flooder.channel.stream_stream(
            "/etcdserverpb.Watch/Watch",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=lambda b: b,
        )()

        async def flood() -> None:
            for i in range(5000):  # far more control responses than the send queue holds
                await call.write(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))
                if i % 100 == 0:
                    await anyio.sleep(0)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(flood)
            for _ in range(20):
                assert (await other.get(b"x")).count == 0
            await anyio.sleep(0.5)
            [stats] = server.watch_stats()
            assert stats.queued_responses <= 1024
            tasks.cancel_scope.cancel()
        call.cancel()
    finally:
        await flooder.close()
        await other.close()
