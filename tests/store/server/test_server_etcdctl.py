"""etcdctl against kcore's server, and ``python -m kcore.store.server`` as a process."""

from __future__ import annotations

import json
import os
import signal
import sys

import anyio
import anyio.abc
import pytest

from kcore.store.server import EtcdServer
from tests.conftest import require_peer

from .conftest import TIMEOUT, etcdctl

pytestmark = pytest.mark.anyio


async def test_etcdctl_smoke(server: EtcdServer) -> None:
    at = server.address
    assert await etcdctl(at, "put", "/a", "1") == "OK\n"
    await etcdctl(at, "put", "/b", "2")
    assert await etcdctl(at, "get", "--prefix", "/") == "/a\n1\n/b\n2\n"
    assert await etcdctl(at, "get", "/a", "--rev", "2") == "/a\n1\n"
    as_json = json.loads(await etcdctl(at, "get", "--prefix", "/", "--limit", "1", "-w", "json"))
    assert as_json["more"] is True and as_json["count"] == 2
    assert as_json["header"]["member_id"] == server.identity.member_id
    assert await etcdctl(at, "del", "/b") == "1\n"
    assert await etcdctl(at, "del", "/nothing") == "0\n"
    txn = b'value("/a") = "1"\n\nput /t yes\n\nget /t\n\n'
    assert "SUCCESS" in await etcdctl(at, "txn", stdin=txn)
    status = json.loads(await etcdctl(at, "endpoint", "status", "-w", "json"))[0]["Status"]
    assert status["header"]["revision"] == 5
    assert status["version"].startswith("3.4") and status["leader"] == server.identity.member_id
    assert "true" in await etcdctl(at, "endpoint", "status")  # IS LEADER
    assert "is healthy" in await etcdctl(at, "endpoint", "health", stderr=True)
    assert await etcdctl(at, "compaction", "3") == "compacted revision 3\n"


async def test_etcdctl_lease(server: EtcdServer) -> None:
    at = server.address
    granted = await etcdctl(at, "lease", "grant", "60")
    lease = granted.split()[1]
    assert granted == f"lease {lease} granted with TTL(60s)\n"
    await etcdctl(at, "put", "/leased", "v", f"--lease={lease}")
    ttl = await etcdctl(at, "lease", "timetolive", lease, "--keys")
    assert f"lease {lease} granted with TTL(60s)" in ttl and "attached keys([/leased])" in ttl
    assert lease in await etcdctl(at, "lease", "list")
    kept = await etcdctl(at, "lease", "keep-alive", "--once", lease)
    assert kept == f"lease {lease} keepalived with TTL(60)\n"
    assert await etcdctl(at, "lease", "revoke", lease) == f"lease {lease} revoked\n"
    assert await etcdctl(at, "get", "/leased") == ""
    expired = await etcdctl(at, "lease", "timetolive", "1234")
    assert expired == "lease 0000000000001234 already expired\n"


async def _read_until(stream: anyio.abc.ByteReceiveStream, marker: bytes) -> bytes:
    seen = b""
    try:
        with anyio.fail_after(TIMEOUT):
            while marker not in seen:  # bounded by fail_after
                seen += await stream.receive()
    except TimeoutError:
        raise AssertionError(f"waited for {marker!r}, got {seen!r}") from None
    return seen


async def test_etcdctl_watch(server: EtcdServer) -> None:
    await etcdctl(server.address, "put", "/w/old", "x")
    command = [
        require_peer("etcdctl"),
        f"--endpoints={server.address}",
        "watch",
        "--prefix",
        "/w/",
        "--rev",
        "1",
        "--prev-kv",
    ]
    env = {**os.environ, "ETCDCTL_API": "3"}
    process = await anyio.open_process(command, env=env)
    try:
        assert process.stdout is not None
        seen = await _read_until(process.stdout, b"old\nx\n")
        await etcdctl(server.address, "put", "/w/new", "y")
        await etcdctl(server.address, "del", "/w/old")
        # a delete shows the previous key-value first, then the deleted key (no value)
        seen += await _read_until(process.stdout, b"DELETE\n/w/old\nx\n/w/old\n\n")
        assert seen == b"PUT\n/w/old\nx\nPUT\n/w/new\ny\nDELETE\n/w/old\nx\n/w/old\n\n", seen
    finally:
        process.terminate()
        with anyio.fail_after(TIMEOUT):
            await process.wait()


async def _start_main(*args: str) -> tuple[anyio.abc.Process, str]:
    process = await anyio.open_process(
        [sys.executable, "-m", "kcore.store.server", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = (await _read_until(process.stdout, b"\n")).decode()
    return process, line


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
async def test_main_serves_and_stops_cleanly(stop: signal.Signals) -> None:
    process, line = await _start_main("--listen", "127.0.0.1:0")
    try:
        assert "listening on http://127.0.0.1:" in line and "MemoryStore" in line, line
        address = line.split("http://")[1].split(",")[0]
        assert await etcdctl(address, "put", "k", "v") == "OK\n"
        assert await etcdctl(address, "get", "k") == "k\nv\n"
    finally:
        process.send_signal(stop)
        with anyio.fail_after(TIMEOUT):
            code = await process.wait()
    assert code == 0


async def test_main_reports_a_taken_port(server: EtcdServer) -> None:
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            [sys.executable, "-m", "kcore.store.server", "--listen", server.address],
            check=False,
        )
    assert done.returncode == 1 and b"cannot listen on" in done.stderr
