"""Where CRI servers may put their socket, and what bad peers and bad bytes do.

Servers create the socket mode 0600, refuse a socket someone else owns, a socket a live server
answers on, a non-socket in the way and a directory owned by someone else, and replace a stale
socket of their own. Clients name the endpoint when the peer is down and the method when it is
not implemented; a request that does not parse is INVALID_ARGUMENT and the server keeps serving.
The tests run as root in CI, so "someone else" is simulated with chown to uid 65534.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import grpc
import pytest

from kcore import errors
from kcore.interfaces.cri import CRIClient, CRIServer, FakeRuntime, api

NOBODY = 65534


def bound_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    return sock


@pytest.mark.anyio
async def test_socket_is_created_mode_0600(sock_dir: Path) -> None:
    async with FakeRuntime().serve(f"unix://{sock_dir}/cri.sock") as server:
        info = server.path.lstat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.geteuid()
    assert not server.path.exists()  # removed on stop


@pytest.mark.anyio
async def test_refuses_a_socket_owned_by_someone_else(sock_dir: Path) -> None:
    path = sock_dir / "cri.sock"
    bound_socket(path).close()
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(errors.ForbiddenError, match=f"owned by uid {NOBODY}"):
        async with FakeRuntime().serve(f"unix://{path}"):
            pass
    assert path.lstat().st_uid == NOBODY  # left alone


@pytest.mark.anyio
async def test_refuses_a_directory_owned_by_someone_else(sock_dir: Path) -> None:
    theirs = sock_dir / "theirs"
    theirs.mkdir()
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(errors.ForbiddenError, match="use a directory you own"):
        async with FakeRuntime().serve(f"unix://{theirs}/cri.sock"):
            pass
    assert list(theirs.iterdir()) == []


@pytest.mark.anyio
async def test_refuses_a_live_servers_socket(sock_dir: Path) -> None:
    first = FakeRuntime()
    async with first.serve(f"unix://{sock_dir}/cri.sock") as server:
        with pytest.raises(errors.AlreadyExistsError, match="already listening"):
            async with FakeRuntime().serve(server.endpoint):
                pass
        async with CRIClient(server.endpoint) as client:  # the first server is unharmed
            await client.version()
    assert [c.method for c in first.calls] == ["Version"]


@pytest.mark.anyio
async def test_refuses_a_file_in_the_way(sock_dir: Path) -> None:
    path = sock_dir / "cri.sock"
    path.write_text("not a socket")
    with pytest.raises(errors.AlreadyExistsError, match="not a socket"):
        async with FakeRuntime().serve(f"unix://{path}"):
            pass
    assert path.read_text() == "not a socket"


@pytest.mark.anyio
async def test_replaces_a_stale_socket_of_its_own(sock_dir: Path) -> None:
    path = sock_dir / "cri.sock"
    bound_socket(path).close()  # bound, never listening: what a crashed server leaves
    async with (
        FakeRuntime().serve(f"unix://{path}") as server,
        CRIClient(server.endpoint) as client,
    ):
        assert (await client.version()).runtime_name == "kcore-fake"


def test_endpoint_must_be_an_absolute_unix_path() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="only unix sockets"):
        FakeRuntime().serve("tcp://127.0.0.1:1")
    with pytest.raises(errors.InvalidArgumentError, match="absolute"):
        CRIClient("unix://relative.sock")


# --- bad peers and bad bytes ----------------------------------------------------------------


@pytest.mark.anyio
async def test_peer_down_is_unavailable_naming_the_endpoint(sock_dir: Path) -> None:
    endpoint = f"unix://{sock_dir}/nobody-home.sock"
    async with CRIClient(endpoint, timeout=5.0) as client:
        with pytest.raises(errors.UnavailableError) as caught:
            await client.version()
    assert endpoint in str(caught.value)
    assert "Version" in str(caught.value)


class _OnlyVersion(CRIServer):
    async def version(self, request: api.VersionRequest) -> api.VersionResponse:
        return api.VersionResponse(
            version="1", runtime_name="min", runtime_version="1", runtime_api_version="v1"
        )


@pytest.mark.anyio
async def test_method_not_overridden_is_unimplemented_naming_it(sock_dir: Path) -> None:
    async with (
        _OnlyVersion().serve(f"unix://{sock_dir}/cri.sock") as server,
        CRIClient(server.endpoint) as client,
    ):
        assert (await client.version()).runtime_name == "min"
        with pytest.raises(errors.UnimplementedError) as caught:
            await client.exec_sync("c1", ["true"])
        message = str(caught.value)
        assert "/runtime.v1.RuntimeService/ExecSync" in message
        assert "_OnlyVersion" in message and "exec_sync()" in message
        with pytest.raises(errors.UnimplementedError, match="ImageService/ImageFsInfo"):
            await client.image_fs_info()


@pytest.mark.anyio
async def test_rpc_the_server_does_not_know_is_unimplemented(sock_dir: Path) -> None:
    """A peer without an RPC at all (an older runtime) answers UNIMPLEMENTED from gRPC."""
    async with (
        FakeRuntime().serve(f"unix://{sock_dir}/cri.sock") as server,
        grpc.aio.insecure_channel(server.endpoint) as channel,
    ):
        stub = channel.unary_unary("/runtime.v1.RuntimeService/CheckpointContainer")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub(b"", timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


@pytest.mark.anyio
async def test_garbage_request_bytes_do_not_crash_the_server(sock_dir: Path) -> None:
    fake = FakeRuntime()
    async with (
        fake.serve(f"unix://{sock_dir}/cri.sock") as server,
        grpc.aio.insecure_channel(server.endpoint) as channel,
    ):
        for path in (
            "/runtime.v1.RuntimeService/RunPodSandbox",
            "/runtime.v1.ImageService/PullImage",
            "/runtime.v1.RuntimeService/Version",
        ):
            stub = channel.unary_unary(path)  # raw bytes in and out
            for garbage in (b"\xff\xff\xff\xff", b"\x0a\x05abc", b"\x12" * 64):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub(garbage, timeout=5)
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "does not parse" in (caught.value.details() or "")
        async with CRIClient(server.endpoint) as client:
            assert (await client.version()).runtime_name == "kcore-fake"
            assert await client.list_pod_sandbox() == []
    assert [c.method for c in fake.calls] == ["Version", "ListPodSandbox"]
