"""``python -m kcore.store.server --data-dir DIR`` serves the durable store: data survives
a clean stop and a SIGKILL (an acknowledged put is on disk)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio
import anyio.abc
import pytest

from kcore.store.etcd import EtcdStore

pytestmark = pytest.mark.anyio
TIMEOUT = 30


async def _start(data: Path) -> tuple[anyio.abc.Process, str]:
    process = await anyio.open_process(
        [
            sys.executable,
            "-m",
            "kcore.store.server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(data),
        ]
    )
    assert process.stdout is not None
    line = b""
    with anyio.fail_after(TIMEOUT):
        while not line.endswith(b"\n"):
            chunk = await process.stdout.receive(1)
            line += chunk
    text = line.decode()
    assert "backend: DurableStore" in text and str(data) in text, text
    address = text.split("http://", 1)[1].split(",", 1)[0]
    return process, address


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
async def test_server_data_dir_keeps_data(tmp_path: Path, stop: signal.Signals) -> None:
    data = tmp_path / "data"
    process, address = await _start(data)
    try:
        async with EtcdStore(address) as store:
            for i in range(20):
                await store.put(b"k%d" % i, b"v%d" % i)
    finally:
        process.send_signal(stop)
        with anyio.fail_after(TIMEOUT):
            code = await process.wait()
    assert code == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
    process, address = await _start(data)
    try:
        async with EtcdStore(address) as store:
            resp = await store.range(b"k", b"l")
            assert [kv.value for kv in resp.kvs] == sorted(b"v%d" % i for i in range(20))
            assert resp.header.revision == 21
    finally:
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(TIMEOUT):
            assert await process.wait() == 0


async def test_server_refuses_a_damaged_data_dir(tmp_path: Path) -> None:
    (tmp_path / "FORMAT").write_text("kcore durable store format 99\n")
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            [
                sys.executable,
                "-m",
                "kcore.store.server",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                str(tmp_path),
            ],
            check=False,
        )
    assert done.returncode == 1
    assert b"newer kcore" in done.stderr
