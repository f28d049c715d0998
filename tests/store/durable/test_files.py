"""The durable store's files: torn tails, corruption, format versions, locking, group commit,
disk failures, and that nobody sees a revision before it is on disk."""

from __future__ import annotations

import errno
import logging
import threading
from pathlib import Path

import anyio
import pytest

from kcore.clock import VirtualClock
from kcore.store import _wal
from kcore.store.durable import DataDirError, DurableStore, StorageFailedError

pytestmark = pytest.mark.anyio


def _segment(path: Path) -> Path:
    (seg,) = sorted(path.glob("wal-*.log"))
    return seg


async def _put_many(path: Path, n: int) -> None:
    async with DurableStore(path, clock=VirtualClock()) as store:
        for i in range(n):
            await store.put(b"k%d" % i, b"v%d" % i)


async def _keys(path: Path) -> list[bytes]:
    async with DurableStore(path, clock=VirtualClock()) as store:
        return [kv.key for kv in (await store.range(b"\0", b"\0")).kvs]


@pytest.mark.parametrize("cut", [1, 5, 13, 20])
async def test_torn_tail_is_cut_with_a_warning(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    await _put_many(tmp_path, 5)
    seg = _segment(tmp_path)
    size = seg.stat().st_size
    with open(seg, "rb+") as f:
        f.truncate(size - cut)  # the last record loses its end (or its header)
    with caplog.at_level(logging.WARNING, logger="kcore.store.durable"):
        keys = await _keys(tmp_path)
    assert keys == [b"k0", b"k1", b"k2", b"k3"]
    assert "torn or corrupt last record" in caplog.text
    assert str(seg) in caplog.text
    # the cut is permanent and the store appends after it
    async with DurableStore(tmp_path, clock=VirtualClock()) as store:
        resp = await store.put(b"k9", b"x")
        assert resp.header.revision == 6
    assert await _keys(tmp_path) == [b"k0", b"k1", b"k2", b"k3", b"k9"]


async def test_garbage_checksum_on_the_last_record_is_cut(tmp_path: Path) -> None:
    await _put_many(tmp_path, 3)
    seg = _segment(tmp_path)
    data = bytearray(seg.read_bytes())
    data[-1] ^= 0xFF
    seg.write_bytes(bytes(data))
    assert await _keys(tmp_path) == [b"k0", b"k1"]


async def test_zeroed_tail_is_cut(tmp_path: Path) -> None:
    await _put_many(tmp_path, 3)
    seg = _segment(tmp_path)
    with open(seg, "ab") as f:
        f.write(b"\0" * 4096)  # a page the filesystem extended but never wrote
    assert await _keys(tmp_path) == [b"k0", b"k1", b"k2"]


@pytest.mark.parametrize("where", ["payload", "length"])
async def test_corruption_before_the_tail_is_refused(tmp_path: Path, where: str) -> None:
    await _put_many(tmp_path, 5)
    seg = _segment(tmp_path)
    data = bytearray(seg.read_bytes())
    first = len(_wal.WAL_MAGIC)
    data[first + (20 if where == "payload" else 1)] ^= 0x40
    seg.write_bytes(bytes(data))
    with pytest.raises(DataDirError) as info:
        await _keys(tmp_path)
    assert str(seg) in str(info.value)
    assert f"offset {first}" in str(info.value)
    assert seg.read_bytes() == bytes(data)  # nothing was cut or repaired


async def test_corrupt_snapshot_is_refused(tmp_path: Path) -> None:
    async with DurableStore(tmp_path, clock=VirtualClock(), snapshot_every=2) as store:
        for i in range(5):
            await store.put(b"k%d" % i, b"v")
    (snap,) = tmp_path.glob("snap-*.snap")
    data = bytearray(snap.read_bytes())
    data[-3] ^= 1
    snap.write_bytes(bytes(data))
    with pytest.raises(DataDirError, match="snapshot payload fails its checksum"):
        await _keys(tmp_path)


async def test_newer_format_is_refused(tmp_path: Path) -> None:
    await _put_many(tmp_path, 1)
    (tmp_path / "FORMAT").write_text("kcore durable store format 99\n")
    with pytest.raises(DataDirError, match=r"newer kcore .*format 99"):
        await _keys(tmp_path)


async def test_store_files_without_format_are_refused(tmp_path: Path) -> None:
    await _put_many(tmp_path, 1)
    (tmp_path / "FORMAT").unlink()
    with pytest.raises(DataDirError, match="no FORMAT file"):
        await _keys(tmp_path)


async def test_unreadable_dir_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a directory")
    with pytest.raises(DataDirError, match="cannot be opened"):
        await _keys(target)


async def test_a_data_dir_is_used_by_one_store_at_a_time(tmp_path: Path) -> None:
    async with DurableStore(tmp_path, clock=VirtualClock()):
        with pytest.raises(DataDirError, match="in use by another durable store"):
            await _keys(tmp_path)
    assert await _keys(tmp_path) == []


async def test_snapshots_truncate_the_log(tmp_path: Path) -> None:
    async with DurableStore(tmp_path, clock=VirtualClock(), snapshot_every=10) as store:
        for i in range(95):
            await store.put(b"k%d" % (i % 7), b"v%d" % i)
        await store.compact(50)
        snaps = list(tmp_path.glob("snap-*.snap"))
        segs = list(tmp_path.glob("wal-*.log"))
        assert len(snaps) == 1 and len(segs) == 1
        assert _segment(tmp_path).stat().st_size == len(_wal.WAL_MAGIC)  # just compacted
    async with DurableStore(tmp_path, clock=VirtualClock()) as store:
        status = await store.status()
        assert (status.header.revision, status.compact_revision) == (96, 50)


async def test_concurrent_writers_share_fsyncs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = 0
    real = _wal._fdatasync

    def counting(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        real(fd)

    monkeypatch.setattr(_wal, "_fdatasync", counting)
    writers, each = 100, 10
    async with DurableStore(tmp_path, clock=VirtualClock()) as store:

        async def writer(w: int) -> None:
            for i in range(each):
                await store.put(b"w%d/%d" % (w, i), b"v")

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for w in range(writers):
                    tg.start_soon(writer, w)
        assert (await store.status()).header.revision == 1 + writers * each
        assert store.records_written == writers * each
    # 1000 acknowledged writes; with everyone waiting on the same flush, ~one fsync per round
    assert syncs <= writers * each // 20, syncs
    assert len(await _keys(tmp_path)) == writers * each


async def test_sequential_writes_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = 0
    real = _wal._fdatasync

    def counting(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        real(fd)

    monkeypatch.setattr(_wal, "_fdatasync", counting)
    await _put_many(tmp_path, 20)
    assert syncs == 20  # an acknowledgement means that write was fsynced


@pytest.mark.parametrize("failing", ["fsync", "write"])
async def test_disk_failure_refuses_writes_and_loses_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    calls = 0
    real_sync, real_write = _wal._fdatasync, _wal._write

    def bad_sync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 30:
            raise OSError(errno.EIO, "injected fsync failure")
        real_sync(fd)

    def bad_write(fd: int, data: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls > 30:
            real_write(fd, data[: len(data) // 2])  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "injected: no space left on device")
        return real_write(fd, data)

    if failing == "fsync":
        monkeypatch.setattr(_wal, "_fdatasync", bad_sync)
    else:
        monkeypatch.setattr(_wal, "_write", bad_write)
    acked: list[bytes] = []
    refused = 0
    async with DurableStore(tmp_path, clock=VirtualClock()) as store:

        async def writer(w: int) -> None:
            nonlocal refused
            for i in range(1000):  # far more than 30 flushes can hold
                key = b"w%d/%d" % (w, i)
                try:
                    await store.put(key, b"v")
                except StorageFailedError:
                    refused += 1
                    return
                acked.append(key)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for w in range(8):
                    tg.start_soon(writer, w)
        assert refused == 8
        with pytest.raises(StorageFailedError, match=r"disk failed.*restart"):
            await store.put(b"later", b"x")
        with pytest.raises(StorageFailedError):
            await store.lease_grant(10)
        # reads still answer, from what is durable
        durable = {kv.key for kv in (await store.range(b"\0", b"\0")).kvs}
        assert durable == set(acked)
    monkeypatch.undo()
    recovered = set(await _keys(tmp_path))
    assert set(acked) <= recovered  # every acknowledged write survived
    assert len(acked) >= 1


async def test_nothing_is_visible_before_it_is_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    entered = threading.Event()
    real = _wal._fdatasync

    def slow(fd: int) -> None:
        entered.set()
        if not gate.wait(10):
            raise OSError(errno.EIO, "test gate never opened")
        real(fd)

    async with DurableStore(tmp_path, clock=VirtualClock()) as store:
        await store.put(b"a", b"1")  # revision 2, durable
        async with await store.watch(b"a", start_revision=3) as watch:
            monkeypatch.setattr(_wal, "_fdatasync", slow)
            done = anyio.Event()

            async def write() -> None:
                await store.put(b"a", b"2")
                done.set()

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(write)
                    await anyio.to_thread.run_sync(entered.wait, 10)
                    # the put is applied in memory, its fsync is in progress
                    resp = await store.range(b"a")
                    assert resp.header.revision == 2 and resp.kvs[0].value == b"1"
                    assert (await store.status()).header.revision == 2
                    with anyio.move_on_after(0.1):
                        await watch.__anext__()
                        pytest.fail("a watcher saw a revision before it was durable")
                    assert not done.is_set()
                    gate.set()
                    await done.wait()
                    resp = await store.range(b"a")
                    assert resp.header.revision == 3 and resp.kvs[0].value == b"2"
                    event = await watch.__anext__()
                    assert [e.kv.mod_revision for e in event.events] == [3]
