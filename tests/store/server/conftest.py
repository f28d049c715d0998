"""Fixtures for the etcd-API server tests: a served MemoryStore, a raw gRPC client, real etcd.

The client is deliberately raw (grpc.aio with etcd's protobuf messages on etcd's method
paths), so the tests see exactly what is on the wire, as etcdctl would.
"""

from __future__ import annotations

import gc
import inspect
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import grpc
import pytest

from kcore.clock import VirtualClock
from kcore.store import MemoryStore
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer
from tests.conftest import require_peer

TIMEOUT = 10.0  # every wait in these tests is bounded by this


def _uu(channel: Any, service: str, method: str, response: Any) -> Any:
    return channel.unary_unary(
        f"/etcdserverpb.{service}/{method}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response.FromString,
    )


class Client:
    """etcd's gRPC API, called raw. ``rpc(name, request)`` returns the response message."""

    def __init__(self, target: str, credentials: Any = None) -> None:
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(target)
        else:
            self.channel = grpc.aio.secure_channel(target, credentials)
        c = self.channel
        self.calls = {
            "Range": _uu(c, "KV", "Range", pb.RangeResponse),
            "Put": _uu(c, "KV", "Put", pb.PutResponse),
            "DeleteRange": _uu(c, "KV", "DeleteRange", pb.DeleteRangeResponse),
            "Txn": _uu(c, "KV", "Txn", pb.TxnResponse),
            "Compact": _uu(c, "KV", "Compact", pb.CompactionResponse),
            "LeaseGrant": _uu(c, "Lease", "LeaseGrant", pb.LeaseGrantResponse),
            "LeaseRevoke": _uu(c, "Lease", "LeaseRevoke", pb.LeaseRevokeResponse),
            "LeaseTimeToLive": _uu(c, "Lease", "LeaseTimeToLive", pb.LeaseTimeToLiveResponse),
            "LeaseLeases": _uu(c, "Lease", "LeaseLeases", pb.LeaseLeasesResponse),
            "Status": _uu(c, "Maintenance", "Status", pb.StatusResponse),
        }

    async def rpc(self, name: str, request: Any) -> Any:
        return await self.calls[name](request, timeout=TIMEOUT)

    async def error(self, name: str, request: Any) -> tuple[Any, str]:
        """The (code, details) the call fails with; fails the test if it succeeds."""
        try:
            response = await self.calls[name](request, timeout=TIMEOUT)
        except grpc.aio.AioRpcError as err:
            return err.code(), err.details()
        raise AssertionError(f"{name} succeeded: {response}")

    async def put(self, key: bytes, value: bytes = b"v", **kw: Any) -> Any:
        return await self.rpc("Put", pb.PutRequest(key=key, value=value, **kw))

    async def get(self, key: bytes, range_end: bytes = b"", **kw: Any) -> Any:
        return await self.rpc("Range", pb.RangeRequest(key=key, range_end=range_end, **kw))

    def watch(self) -> WatchStream:
        return WatchStream(self.channel)

    def keep_alive(self) -> Any:
        return self.channel.stream_stream(
            "/etcdserverpb.Lease/LeaseKeepAlive",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.LeaseKeepAliveResponse.FromString,
        )()

    async def close(self) -> None:
        await self.channel.close()


class WatchStream:
    """One Watch stream; a background reader puts every response into a bounded queue."""

    def __init__(self, channel: Any) -> None:
        self.call = channel.stream_stream(
            "/etcdserverpb.Watch/Watch",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=pb.WatchResponse.FromString,
        )()
        self._send, self._receive = anyio.create_memory_object_stream[Any](10_000)

    async def _read_all(self) -> None:
        try:
            async for response in self.call:
                await self._send.send(response)
        except grpc.aio.AioRpcError as err:
            await self._send.send(err)
        finally:
            self._send.close()

    async def __aenter__(self) -> WatchStream:
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._read_all)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.call.cancel()
        self._tasks.cancel_scope.cancel()
        await self._tasks.__aexit__(None, None, None)
        self.call = None  # the canceled reader's frame must not keep the call alive

    async def create(self, key: bytes, range_end: bytes = b"", **kw: Any) -> None:
        create = pb.WatchCreateRequest(key=key, range_end=range_end, **kw)
        await self.call.write(pb.WatchRequest(create_request=create))

    async def cancel(self, watch_id: int) -> None:
        await self.call.write(
            pb.WatchRequest(cancel_request=pb.WatchCancelRequest(watch_id=watch_id))
        )

    async def progress(self) -> None:
        await self.call.write(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))

    async def next(self, timeout: float = TIMEOUT) -> Any:
        with anyio.fail_after(timeout):
            item = await self._receive.receive()
        if isinstance(item, Exception):
            raise item
        return item

    async def created(self, key: bytes, range_end: bytes = b"", **kw: Any) -> Any:
        await self.create(key, range_end, **kw)
        response = await self.next()
        assert response.created, response
        return response

    async def events(self, count: int, watch_id: int | None = None) -> list[Any]:
        """The next ``count`` events (of ``watch_id`` if given), across responses."""
        got: list[Any] = []
        for _ in range(count):  # at most one response per wanted event
            if len(got) >= count:
                break
            response = await self.next()
            assert watch_id is None or response.watch_id == watch_id, response
            got.extend(response.events)
        assert len(got) == count, got
        return got

    async def quiet(self, seconds: float = 0.3) -> None:
        """Assert nothing arrives for ``seconds``."""
        with anyio.move_on_after(seconds):
            item = await self._receive.receive()
            raise AssertionError(f"unexpected response: {item}")


def header_ids_ok(header: Any, server: EtcdServer) -> bool:
    i = server.identity
    return (header.cluster_id, header.member_id, header.raft_term) == (
        i.cluster_id,
        i.member_id,
        i.raft_term,
    )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def store(clock: VirtualClock) -> AsyncIterator[MemoryStore]:
    async with MemoryStore(clock=clock) as s:
        yield s


@pytest.fixture
async def server(store: MemoryStore) -> AsyncIterator[EtcdServer]:
    async with EtcdServer(store, "127.0.0.1:0") as s:
        yield s


@pytest.fixture
async def client(server: EtcdServer) -> AsyncIterator[Client]:
    c = Client(server.address)
    try:
        yield c
    finally:
        await c.close()


# --- real peers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def real_etcd() -> Iterator[str]:
    """A real etcd on 127.0.0.1 with random ports and a temp data dir; yields its address."""
    binary = require_peer("etcd")
    with tempfile.TemporaryDirectory(prefix="kcore-etcd-") as tmp:
        client_port, peer_port = free_port(), free_port()
        peer = f"http://127.0.0.1:{peer_port}"
        log = open(os.path.join(tmp, "etcd.log"), "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                binary,
                "--name=kcore-test",
                f"--data-dir={tmp}/data",
                f"--listen-client-urls=http://127.0.0.1:{client_port}",
                f"--advertise-client-urls=http://127.0.0.1:{client_port}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=kcore-test={peer}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:  # bounded by the deadline
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", client_port)) == 0:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"etcd did not start; see {tmp}/etcd.log")
                time.sleep(0.05)
            yield f"127.0.0.1:{client_port}"
        finally:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(TIMEOUT)
            log.close()


async def etcdctl(
    address: str,
    *args: str,
    stdin: bytes | None = None,
    tls: list[str] | None = None,
    stderr: bool = False,
) -> str:
    """Run etcdctl (API v3) against ``address``; returns stdout (and stderr if asked),
    fails the test on error."""
    binary = require_peer("etcdctl")
    env = {**os.environ, "ETCDCTL_API": "3"}
    command = [binary, f"--endpoints={address}", "--command-timeout=5s", *(tls or []), *args]
    with anyio.fail_after(TIMEOUT + 5):
        done = await anyio.run_process(command, input=stdin, env=env, check=False)
    if done.returncode != 0:
        raise AssertionError(f"etcdctl {args} failed ({done.returncode}): {done.stderr.decode()}")
    out: str = done.stdout.decode()
    return out + done.stderr.decode() if stderr else out


@pytest.fixture
async def grpc_settles() -> AsyncIterator[None]:
    """Let gRPC finish with this test's objects while its event loop still runs.

    grpc.aio objects that are garbage-collected after their event loop closed get their
    completion events delivered to the closed loop ("Event loop is closed" in the next test).
    """
    yield
    gc.collect()
    await anyio.sleep(0.01)


@pytest.fixture(autouse=True)
def _settle_grpc_after_async_tests(request: pytest.FixtureRequest) -> None:
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("grpc_settles")
