"""DurableStore: MemoryStore's etcd semantics, kept on disk (write-ahead log + snapshots).

Design
------
* **State lives in memory** exactly as in ``MemoryStore`` (this class subclasses it), and
  every change to it is also encoded as one WAL record: a committed revision's changes
  (with any lease revocation that caused them), a lease grant or keep-alive (its deadline as
  wall-clock time, see ``_wal``), or a compaction. Formats are in ``kcore.store._wal``.
* **A write is acknowledged only after its record is fsynced.** Operations still run to
  completion without suspending (so request validation sees the newest state and requests
  stay atomic); the record goes to a pending batch and the writer then waits for it to be
  flushed. **Group commit**: whoever finds no flush in progress becomes the flusher, takes
  the whole pending batch, writes and fdatasyncs it in a worker thread
  (``anyio.to_thread``), and wakes everyone whose record it covered; writers arriving during
  a flush queue up for the next one, so N concurrent writers share about one fsync per
  flush instead of N. Records are written in order, so a crash loses only a suffix of
  unacknowledged writes.
* **Nobody sees a revision that is not durable.** Reads at "latest" read at the last durable
  revision (MVCC keeps it readable) and their header says that revision; watch notifications
  are held back and released only once their revision is on disk; watch catch-up and
  progress notifications use the durable revision too. So nothing a client saw (through the
  etcd-API server, say) can un-happen in a crash. A write request (put, delete, txn —
  including one that ends up changing nothing, or a read-only txn — lease calls, compact)
  returns only when everything it could have observed is durable.
* **Disk errors stop writes.** If a write or fsync fails, the store refuses every later
  write with ``StorageFailedError`` (the writers waiting on that flush get it too: not
  acknowledged). Reads keep answering from the durable state. Restart to recover.
* **Snapshots** (every ``snapshot_every`` records and right after each compaction): the
  flusher encodes the whole state (on the event loop, so it is consistent), writes it to a
  temp file, fsyncs, renames it to ``snap-<seq>.snap``, fsyncs the directory, starts a new
  log segment ``wal-<seq+1>.log`` and deletes the older snapshot and segments.
* **Restart** loads the newest snapshot and replays the segments after it, reproducing the
  revision, compact revision, every retained version of every key (so a watch from any
  retained revision replays the same events), leases with the TTL they had left (deadlines
  are stored as wall-clock time), and the lease-ID counter. A torn or corrupt *last* record
  is cut off with a logged warning; damage before it raises ``DataDirError`` naming the file
  and byte offset, and the store does not start. A data dir written by a newer format
  version, or one locked by another process, is refused the same way.

Use ``async with DurableStore(path) as store:`` — opening (load + replay) happens there,
off the event loop; using the store without opening it raises.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from struct import error as _StructError
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.to_thread

from kcore.clock import Clock
from kcore.errors import DataDirError, StorageFailedError
from kcore.store import _validate as v
from kcore.store import _wal
from kcore.store._watchhub import MemoryWatch
from kcore.store.memory import MemoryStore, _Write
from kcore.store.types import (
    CompactionResponse,
    Compare,
    DeleteRangeResponse,
    KeyValue,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseRevokeResponse,
    PutResponse,
    RequestOp,
    ResponseHeader,
    TxnResponse,
)

__all__ = ["DataDirError", "DurableStore", "StorageFailedError"]

log = logging.getLogger("kcore.store.durable")

_FORMAT_FILE = "FORMAT"
_FORMAT_TEXT = "kcore durable store format {}\n"
_LOCK_FILE = "LOCK"


def _seq_of(name: str) -> int:
    return int(name.split("-", 1)[1].split(".", 1)[0], 16)


class DurableStore(MemoryStore):
    """An etcd-semantics MVCC store whose acknowledged writes survive crashes.

    ``path`` is the data directory (created if missing). ``clock`` drives leases as in
    ``MemoryStore``; ``wall`` is the wall clock lease deadlines are stored against.
    ``snapshot_every`` is how many WAL records may pile up before a snapshot.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        wall: Callable[[], float] = time.time,
        snapshot_every: int = 20_000,
        min_lease_ttl: int = 2,
        max_txn_ops: int = 128,
        watch_buffer_events: int = 10_000,
        progress_interval: float = 600.0,
    ) -> None:
        super().__init__(
            clock=clock,
            min_lease_ttl=min_lease_ttl,
            max_txn_ops=max_txn_ops,
            watch_buffer_events=watch_buffer_events,
            progress_interval=progress_interval,
        )
        self.path = Path(path)
        self._wall = wall
        self._snapshot_every = max(1, snapshot_every)
        self._durable_rev = 1
        self._durable_header = ResponseHeader(1)
        self._held: deque[tuple[int, tuple[KeyValue, ...], tuple[KeyValue | None, ...]]] = deque()
        self._lease_ops: list[bytes] = []
        self._pending: list[bytes] = []
        self._appended = 0  # sequence number of the newest record
        self._durable = 0  # sequence number of the newest record on disk
        self._since_snapshot = 0
        self._snapshot_wanted = False
        self._expired_through = 0  # sequence number of the newest lease-expiry record
        self._flushing: anyio.Event | None = None
        self._failed: BaseException | None = None
        self._opened = False
        self._closed = False
        self._fd = -1
        self._lock_fd = -1
        self._waker: anyio.Event | None = None
        #: Counters for tests and benchmarks: records written, flushes (each one fsync).
        self.records_written = 0
        self.flushes = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        await super().__aenter__()
        assert self._task_group is not None
        self._task_group.start_soon(self._flush_forever)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Load the data directory (snapshot + log replay) off the event loop."""
        if self._opened:
            return
        if self._closed:
            raise DataDirError(f"durable store at {self.path} was closed; make a new one")
        await anyio.to_thread.run_sync(self._load)
        self._opened = True

    async def aclose(self) -> None:
        await super().aclose()
        if not self._opened or self._closed:
            return
        with anyio.CancelScope(shield=True):
            if self._failed is None and self._durable < self._appended:
                with contextlib.suppress(StorageFailedError):
                    await self._sync(self._appended)
            self._closed = True
            fd, self._fd = self._fd, -1
            lock_fd, self._lock_fd = self._lock_fd, -1
            await anyio.to_thread.run_sync(_close_fds, fd, lock_fd)

    # --- loading --------------------------------------------------------------------------

    def _load(self) -> None:
        path = self.path
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(path / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataDirError(
                    f"{path} is in use by another durable store (could not lock "
                    f"{path / _LOCK_FILE}); stop that one first"
                ) from None
            self._check_format()
            self._recover()
        except _wal.CorruptError as err:
            self._release_fds()
            raise DataDirError(
                f"durable store at {path} is damaged and will not start: {err}. The data "
                "after that point cannot be trusted; restore the directory from a backup"
            ) from err
        except OSError as err:
            self._release_fds()
            raise DataDirError(
                f"durable store at {path} cannot be opened: {err}; check that the directory "
                "exists, is readable and writable"
            ) from err
        except BaseException:
            self._release_fds()
            raise

    def _release_fds(self) -> None:
        _close_fds(self._fd, self._lock_fd)
        self._fd = self._lock_fd = -1

    def _check_format(self) -> None:
        fmt = self.path / _FORMAT_FILE
        if not fmt.exists():
            data_files = [
                p.name for p in self.path.iterdir() if p.name.startswith(("wal-", "snap-"))
            ]
            if data_files:
                raise DataDirError(
                    f"{self.path} holds store files ({data_files[0]}, ...) but no {_FORMAT_FILE} "
                    "file; it was not written by this store or is damaged"
                )
            tmp = fmt.with_suffix(".tmp")
            tmp.write_text(_FORMAT_TEXT.format(_wal.FORMAT_VERSION))
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            tmp.replace(fmt)
            _wal.fsync_dir(self.path)
            return
        text = fmt.read_text(errors="replace").strip()
        try:
            version = int(text.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            raise DataDirError(
                f"{fmt} does not name a format version ({text[:60]!r}); not a kcore data dir?"
            ) from None
        if version > _wal.FORMAT_VERSION:
            raise DataDirError(
                f"{self.path} was written by a newer kcore (store format {version}; this kcore "
                f"reads up to {_wal.FORMAT_VERSION}); upgrade kcore to open it"
            )

    def _recover(self) -> None:
        path = self.path
        for stale in path.glob("*.tmp"):
            stale.unlink()
        snaps = sorted((_seq_of(p.name), p) for p in path.glob("snap-*.snap"))
        base = 0
        if snaps:
            base, snap = snaps[-1]
            self._install(_wal.decode_snapshot(snap))
        segments = sorted((_seq_of(p.name), p) for p in path.glob("wal-*.log"))
        for start, seg in segments:
            if start <= base:
                seg.unlink()  # covered by the snapshot (a deletion a crash interrupted)
        segments = [(s, p) for s, p in segments if s > base]
        seq = base
        for i, (start, seg) in enumerate(segments):
            if start != seq + 1:
                raise _wal.CorruptError(
                    seg, 0, f"segment starts at record {start}, expected {seq + 1}"
                )
            scan = _wal.scan_segment(seg)
            last = i == len(segments) - 1
            if scan.torn_at is not None:
                if not last:
                    raise _wal.CorruptError(
                        seg, scan.torn_at, "damaged record before later segments"
                    )
                log.warning(
                    "durable store %s: cutting off a torn or corrupt last record in %s at byte "
                    "offset %d (%d bytes); it was never acknowledged",
                    path,
                    seg,
                    scan.torn_at,
                    seg.stat().st_size - scan.torn_at,
                )
                with open(seg, "rb+") as f:
                    f.truncate(scan.good_end)
                    if scan.good_end == 0:
                        f.write(_wal.WAL_MAGIC)
                    os.fsync(f.fileno())
            for offset_index, payload in enumerate(scan.payloads):
                try:
                    record = _wal.decode_record(payload)
                except (ValueError, IndexError, _StructError) as err:
                    raise _wal.CorruptError(
                        seg, 0, f"record {offset_index} is malformed ({err})"
                    ) from err
                self._replay(record)
            seq += len(scan.payloads)
        self._appended = self._durable = seq
        self._since_snapshot = seq - base
        self._durable_rev = self._rev
        self._durable_header = self._header
        if segments:
            self._fd = os.open(segments[-1][1], os.O_WRONLY | os.O_APPEND)
        else:
            self._fd = _wal.new_segment(path / f"wal-{seq + 1:016x}.log")
            _wal.fsync_dir(path)

    def _deadline_from_wall(self, wall_deadline: float) -> float:
        return self._clock.now() + (wall_deadline - self._wall())

    def _install(self, image: _wal.Image) -> None:
        for hist in image.histories:
            for kv in hist:
                self._index.record(kv)
        self._log = image.log
        self._log_base = image.log_base
        self._rev = image.revision
        self._header = ResponseHeader(image.revision)
        self._compact_rev = image.compact_rev
        self._live = image.live
        self._bytes = image.bytes
        self._entries = image.entries
        lessor = self._lessor
        for lease_id, ttl, wall_deadline in image.leases:
            lessor.grant(ttl, lease_id, self._deadline_from_wall(wall_deadline) - ttl)
        lessor._next_id = image.next_lease_id
        for hist in image.histories:
            kv = hist[-1]
            if kv.version and kv.lease:
                lessor.attach(kv.lease, kv.key)

    def _replay(self, record: _wal.Record) -> None:
        lessor = self._lessor
        for kind, lease_id, ttl, wall_deadline in record.lease_ops:
            if kind == _wal.LEASE_GRANT:
                lessor.grant(ttl, lease_id, self._deadline_from_wall(wall_deadline) - ttl)
                if lease_id == lessor._next_id:
                    lessor._next_id += 1
            elif kind == _wal.LEASE_RENEW:
                lease = lessor.get(lease_id)
                if lease is not None:
                    lessor.renew(lease_id, self._deadline_from_wall(wall_deadline) - lease.ttl)
            elif lease_id in lessor:
                lessor.revoke(lease_id)
        if record.revision:
            write = _Write(record.revision)
            latest = self._index.latest
            for kv in record.changes:
                prev = latest(kv.key)
                if kv.version:
                    if prev is None:
                        self._live += 1
                    elif prev.lease and prev.lease != kv.lease:
                        lessor.detach(prev.lease, kv.key)
                    if kv.lease:
                        lessor.attach(kv.lease, kv.key)
                elif prev is not None:
                    if prev.lease:
                        lessor.detach(prev.lease, kv.key)
                    self._live -= 1
                self._record(write, kv, prev)
            self._rev = record.revision
            self._header = ResponseHeader(record.revision)
            self._log.append(tuple(write.changes))
        if record.compact:
            self._compact(record.compact)

    # --- logging and group commit ---------------------------------------------------------

    def _commit(self, write: _Write) -> None:
        ops = self._lease_ops
        if write.changes:
            rev = write.revision
            changes = tuple(write.changes)
            self._rev = rev
            self._header = ResponseHeader(rev)
            self._log.append(changes)
            self._held.append((rev, changes, tuple(write.prevs)))
            payload = _wal.encode_record(rev, 0, changes, ops)
        elif ops:
            payload = _wal.encode_record(0, 0, (), ops)
        else:
            return
        if ops:
            self._lease_ops = []
        self._append(payload)

    def _append(self, payload: bytes) -> None:
        self._pending.append(_wal.frame(payload))
        self._appended += 1
        waker = self._waker
        if waker is not None:
            waker.set()

    async def _settle(self) -> None:
        """Return once everything in memory so far is durable (or raise if it cannot be)."""
        if self._durable < self._appended:
            await self._sync(self._appended)

    async def _sync(self, target: int) -> None:
        while self._durable < target:
            if self._failed is not None:
                raise self._failure()
            flushing = self._flushing
            if flushing is not None:
                await flushing.wait()
                continue
            done = self._flushing = anyio.Event()
            try:
                with anyio.CancelScope(shield=True):
                    await self._flush_once()
            finally:
                self._flushing = None
                done.set()

    async def _flush_once(self) -> None:
        batch, self._pending = self._pending, []
        upto, rev = self._appended, self._rev
        snapshot = (
            self._snapshot_wanted or self._since_snapshot + len(batch) >= self._snapshot_every
        )
        try:
            if snapshot:
                image = self._encode_snapshot()
                self._snapshot_wanted = False
                old_fd = self._fd
                self._fd = -1
                self._fd = await anyio.to_thread.run_sync(
                    self._install_snapshot, upto, image, old_fd
                )
                self._since_snapshot = 0
            else:
                await anyio.to_thread.run_sync(self._write_batch, b"".join(batch))
                self._since_snapshot += len(batch)
        except OSError as err:
            self._failed = err
            log.error(
                "durable store %s: disk write failed, refusing further writes: %s", self.path, err
            )
            raise self._failure() from err
        self.records_written += len(batch)
        self.flushes += 1
        self._durable = upto
        self._release(rev)

    def _write_batch(self, data: bytes) -> None:
        _wal.write_all(self._fd, data)
        _wal._fdatasync(self._fd)

    def _install_snapshot(self, upto: int, image: bytes, old_fd: int) -> int:
        path = self.path
        final = path / f"snap-{upto:016x}.snap"
        tmp = final.with_name(final.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _wal.write_all(fd, image)
            _wal._fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(final)
        _wal.fsync_dir(path)
        if old_fd >= 0:
            os.close(old_fd)
        new_fd = _wal.new_segment(path / f"wal-{upto + 1:016x}.log")
        _wal.fsync_dir(path)
        for p in path.glob("snap-*.snap"):
            if _seq_of(p.name) < upto:
                p.unlink()
        for p in path.glob("wal-*.log"):
            if _seq_of(p.name) <= upto:
                p.unlink()
        return new_fd

    def _encode_snapshot(self) -> bytes:
        image = _wal.Image()
        image.revision = self._rev
        image.compact_rev = self._compact_rev
        image.log_base = self._log_base
        image.live = self._live
        image.bytes = self._bytes
        image.entries = self._entries
        lessor = self._lessor
        image.next_lease_id = lessor._next_id
        history = self._index._history
        image.histories = [
            [h] if isinstance(h, KeyValue) else h for h in (history[k] for k in self._index._keys)
        ]
        image.log = self._log
        to_wall = self._wall() - self._clock.now()
        for lease_id in lessor.ids():
            lease = lessor.get(lease_id)
            assert lease is not None
            image.leases.append((lease_id, lease.ttl, lease.deadline + to_wall))
        return _wal.encode_snapshot(image)

    def _release(self, revision: int) -> None:
        """Let readers and watchers see everything up to ``revision`` (now durable)."""
        held = self._held
        notify = self._hub.notify
        while held and held[0][0] <= revision:
            rev, changes, prevs = held.popleft()
            self._durable_rev = rev
            notify(rev, changes, prevs)
        if self._durable_rev != self._durable_header.revision:
            self._durable_header = ResponseHeader(self._durable_rev)

    def _failure(self) -> StorageFailedError:
        return StorageFailedError(
            f"durable store at {self.path}: the disk failed ({self._failed}); writes are "
            "refused from now on and nothing more is acknowledged. Every acknowledged write "
            "is on disk: fix the disk and restart the store"
        )

    def _check_writable(self) -> None:
        if self._failed is not None:
            raise self._failure()
        if not self._opened or self._closed:
            raise self._not_open()

    def _not_open(self) -> DataDirError:
        state = "closed" if self._closed else "not open"
        return DataDirError(
            f"durable store at {self.path} is {state}; use `async with DurableStore(path)`"
        )

    async def _flush_forever(self) -> None:
        """Flush what nobody waits for (lease expiries applied by timers or reads)."""
        while self._failed is None:
            self._waker = anyio.Event()
            if self._durable < self._appended:
                try:
                    await self._sync(self._appended)
                except StorageFailedError:
                    return
            else:
                await self._waker.wait()

    # --- the Store API: writes wait for durability ------------------------------------------

    async def put(
        self,
        key: bytes,
        value: bytes = b"",
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> PutResponse:
        self._check_writable()
        resp = await super().put(
            key,
            value,
            lease=lease,
            prev_kv=prev_kv,
            ignore_value=ignore_value,
            ignore_lease=ignore_lease,
        )
        await self._settle()
        return resp

    async def delete_range(
        self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False
    ) -> DeleteRangeResponse:
        self._check_writable()
        resp = await super().delete_range(key, range_end, prev_kv=prev_kv)
        await self._settle()
        return resp

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[RequestOp] = (),
        failure: Sequence[RequestOp] = (),
    ) -> TxnResponse:
        self._check_writable()
        resp = await super().txn(compare, success, failure)
        await self._settle()
        return resp

    async def compact(self, revision: int, *, physical: bool = False) -> CompactionResponse:
        self._check_writable()
        await self._settle()
        resp = await super().compact(revision, physical=physical)
        self._snapshot_wanted = True
        self._append(_wal.encode_record(0, revision, (), ()))
        await self._settle()
        return resp

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResponse:
        self._check_writable()
        resp = await super().lease_grant(ttl, id)
        lease = self._lessor.get(resp.id)
        assert lease is not None
        op = _wal.lease_op(_wal.LEASE_GRANT, lease.id, lease.ttl, self._wall_of(lease.deadline))
        self._append(_wal.encode_record(0, 0, (), (op,)))
        await self._settle()
        return resp

    async def lease_revoke(self, id: int) -> LeaseRevokeResponse:
        self._check_writable()
        v.check_int("id", id)
        self._expire_due()
        lease = self._lessor.revoke(id)
        self._lease_ops.append(_wal.lease_op(_wal.LEASE_REVOKE, id, 0, 0.0))
        self._end_lease(lease.keys)
        resp = LeaseRevokeResponse(self._header)  # before waiting: later writes are not durable
        await self._settle()
        return resp

    async def lease_keepalive(self, id: int) -> LeaseKeepAliveResponse:
        self._check_writable()
        resp = await super().lease_keepalive(id)
        lease = self._lessor.get(id)
        if lease is not None:
            op = _wal.lease_op(_wal.LEASE_RENEW, id, lease.ttl, self._wall_of(lease.deadline))
            self._append(_wal.encode_record(0, 0, (), (op,)))
        await self._settle()
        return resp

    def _wall_of(self, deadline: float) -> float:
        return deadline - self._clock.now() + self._wall()

    def _expire_due(self) -> None:
        lessor = self._lessor
        if not lessor:
            return
        now = self._clock.now()
        while (lease := lessor.pop_expired(now)) is not None:
            self._lease_ops.append(_wal.lease_op(_wal.LEASE_REVOKE, lease.id, 0, 0.0))
            self._end_lease(lease.keys)
            self._expired_through = self._appended

    # --- reads: at the durable revision -----------------------------------------------------

    async def _prepare_read(self) -> None:
        if not self._opened:
            raise self._not_open()
        self._expire_due()
        if self._durable < self._expired_through:
            await self._sync(self._expired_through)  # never show a key whose lease ran out

    def _read_header(self) -> ResponseHeader:
        return self._durable_header

    def _revision(self) -> int:
        return self._durable_rev

    async def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        start_revision: int = 0,
        filters: Iterable[Any] = (),
        prev_kv: bool = False,
        progress_notify: bool = False,
        watch_id: int = 0,
        fragment: bool = False,
    ) -> MemoryWatch:
        if not self._opened:
            raise self._not_open()
        return await super().watch(
            key,
            range_end,
            start_revision=start_revision,
            filters=filters,
            prev_kv=prev_kv,
            progress_notify=progress_notify,
            watch_id=watch_id,
            fragment=fragment,
        )


def _close_fds(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
