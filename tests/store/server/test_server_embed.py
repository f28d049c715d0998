"""Embedding the server: lifecycle, serve(), asyncio-only, any Store implementation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import anyio
import grpc
import pytest

from kcore.errors import InvalidArgumentError, UnavailableError
from kcore.store import MemoryStore, WatchResponse
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer, Identity, serve

from .conftest import TIMEOUT, Client

pytestmark = pytest.mark.anyio


async def test_async_with() -> None:
    async with EtcdServer(MemoryStore(), "127.0.0.1:0") as s:
        assert s.port > 0 and s.address == f"127.0.0.1:{s.port}"
        client = Client(s.address)
        try:
            assert (await client.put(b"k")).header.revision == 2
        finally:
            await client.close()
    after = Client(s.address)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await after.calls["Range"](pb.RangeRequest(key=b"k"), timeout=1)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    await after.close()


async def test_start_stop_explicitly() -> None:
    server = EtcdServer(MemoryStore(), "127.0.0.1:0", identity=Identity(7, 8, 9))
    with pytest.raises(UnavailableError):
        _ = server.port  # not started yet
    await server.start()
    try:
        with pytest.raises(InvalidArgumentError):
            await server.start()
        client = Client(server.address)
        header = (await client.put(b"k")).header
        assert (header.cluster_id, header.member_id, header.raft_term) == (7, 8, 9)
        await client.close()
    finally:
        await server.stop()
    await server.stop()  # a second stop is harmless


async def test_serve_until_cancelled() -> None:
    started: list[EtcdServer] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(lambda: serve(MemoryStore(), "127.0.0.1:0", ready=started.append))
        with anyio.fail_after(TIMEOUT):
            while not started:  # bounded by fail_after
                await anyio.sleep(0.01)
        client = Client(started[0].address)
        assert (await client.put(b"k")).header.revision == 2
        await client.close()
        tasks.cancel_scope.cancel()


async def test_stop_ends_open_watch_streams() -> None:
    server = EtcdServer(MemoryStore(), "127.0.0.1:0")
    await server.start()
    client = Client(server.address)
    try:
        async with client.watch() as w:
            await w.created(b"k")
            with anyio.fail_after(TIMEOUT):
                await server.stop(grace=30)  # watch streams do not hold up the stop
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await w.next()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert caught.value.details() == "etcdserver: server stopped"
    finally:
        await client.close()


def test_asyncio_only() -> None:
    async def under_trio() -> None:
        await EtcdServer(MemoryStore(), "127.0.0.1:0").start()

    with pytest.raises(InvalidArgumentError, match="asyncio"):
        anyio.run(under_trio, backend="trio")


@pytest.mark.parametrize("listen", ["2379", "127.0.0.1", ":2379", "host:port"])
def test_listen_checked(listen: str) -> None:
    with pytest.raises(InvalidArgumentError, match="host:port"):
        EtcdServer(MemoryStore(), listen)


# --- any Store: the server uses the protocol only -------------------------------------------


class Proxy:
    """A Store that forwards to a MemoryStore and records which methods were called."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


class BrokenWatch:
    """A store watch whose stream fails: the server cancels that watch with the reason."""

    watch_id = 1

    def __aiter__(self) -> BrokenWatch:
        return self

    async def __anext__(self) -> WatchResponse:
        raise UnavailableError("the backend lost its connection")

    async def request_progress(self) -> None:
        pass

    async def cancel(self) -> None:
        pass


class BrokenWatches(Proxy):
    async def watch(self, key: bytes, range_end: bytes = b"", **kw: Iterable[Any]) -> BrokenWatch:
        return BrokenWatch()


async def test_serves_any_store() -> None:
    store = Proxy(MemoryStore())
    async with EtcdServer(store, "127.0.0.1:0") as server:  # type: ignore[arg-type]
        client = Client(server.address)
        try:
            await client.put(b"k")
            await client.get(b"k")
            async with client.watch() as w:
                await w.created(b"k")
            await client.rpc("Status", pb.StatusRequest())
        finally:
            await client.close()
    assert {"put", "range", "watch", "status"} <= set(store.calls)


async def test_failing_store_watch_is_canceled_with_reason() -> None:
    async with EtcdServer(BrokenWatches(MemoryStore()), "127.0.0.1:0") as server:  # type: ignore[arg-type]
        client = Client(server.address)
        try:
            async with client.watch() as w:
                created = await w.created(b"k")
                canceled = await w.next()
                assert canceled.watch_id == created.watch_id and canceled.canceled
                assert canceled.cancel_reason == "the backend lost its connection"
                await w.progress()  # the stream itself goes on
                assert (await w.next()).watch_id == -1
        finally:
            await client.close()
