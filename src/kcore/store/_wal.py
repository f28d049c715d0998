"""On-disk formats of the durable store: WAL records, segments and snapshots (no I/O policy).

Record framing (every WAL record)::

    u32 payload length | u32 CRC32 of those 4 length bytes | u32 CRC32 of payload | payload

The length has its own checksum so that a damaged length is recognised as damage instead of
being trusted (a trusted bad length would silently swallow the records after it). A segment
file is an 8-byte magic followed by records; a snapshot file is a magic, a u64 length, a CRC32
and one payload. All integers are big-endian.

Record payload (one committed revision, and/or lease bookkeeping, and/or a compaction)::

    i64 revision (0: no key changes) | i64 compact revision (0: none)
    u32 number of changes | u32 number of lease ops | changes | lease ops
    change   = u32 key length | u32 value length | i64 create | i64 mod | i64 version
               | i64 lease | key | value
    lease op = u8 kind (1 grant, 2 renew, 3 revoke) | i64 id | i64 ttl | f64 wall deadline

Lease deadlines are stored as **wall-clock time** (``time.time()`` seconds): the store's own
clock is monotonic and restarts with the process, so on load a deadline becomes
``clock.now() + (wall_deadline - wall_now)`` and a lease keeps the TTL it had left.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path

from kcore.store.types import KeyValue

__all__ = [
    "FORMAT_VERSION",
    "LEASE_GRANT",
    "LEASE_RENEW",
    "LEASE_REVOKE",
    "CorruptError",
    "Record",
    "SegmentScan",
    "decode_record",
    "decode_snapshot",
    "encode_record",
    "encode_snapshot",
    "frame",
    "lease_op",
    "scan_segment",
]

FORMAT_VERSION = 1
WAL_MAGIC = b"KCWAL\x00\x00\x01"
SNAP_MAGIC = b"KCSNP\x00\x00\x01"
_FRAME = struct.Struct(">III")
_SNAP_HEAD = struct.Struct(">QI")
_REC_HEAD = struct.Struct(">qqII")
_KV = struct.Struct(">IIqqqq")
_LEASE_OP = struct.Struct(">Bqqd")
_SNAP_FIELDS = struct.Struct(">qqqqqqqIIII")

LEASE_GRANT = 1
LEASE_RENEW = 2
LEASE_REVOKE = 3

# Indirections so that tests can inject disk failures (and count fsyncs) in one place.
_write = os.write
_fsync = os.fsync
_fdatasync = getattr(os, "fdatasync", os.fsync)


class CorruptError(Exception):
    """A file is damaged somewhere other than its last record; ``path`` and ``offset`` say where."""

    def __init__(self, path: Path, offset: int, what: str) -> None:
        super().__init__(f"{path}: {what} at byte offset {offset}")
        self.path = path
        self.offset = offset


# --- records -------------------------------------------------------------------------------

LeaseOp = tuple[int, int, int, float]  # kind, id, ttl, wall deadline


class Record:
    __slots__ = ("changes", "compact", "lease_ops", "revision")

    def __init__(
        self, revision: int, compact: int, changes: list[KeyValue], lease_ops: list[LeaseOp]
    ) -> None:
        self.revision = revision
        self.compact = compact
        self.changes = changes
        self.lease_ops = lease_ops


def frame(payload: bytes) -> bytes:
    n = len(payload)
    return _FRAME.pack(n, zlib.crc32(n.to_bytes(4, "big")), zlib.crc32(payload)) + payload


def lease_op(kind: int, lease_id: int, ttl: int, wall_deadline: float) -> bytes:
    return _LEASE_OP.pack(kind, lease_id, ttl, wall_deadline)


def _encode_kvs(parts: list[bytes], kvs: Sequence[KeyValue]) -> None:
    pack = _KV.pack
    for kv in kvs:
        parts.append(
            pack(
                len(kv.key),
                len(kv.value),
                kv.create_revision,
                kv.mod_revision,
                kv.version,
                kv.lease,
            )
        )
        parts.append(kv.key)
        parts.append(kv.value)


def _decode_kvs(data: bytes, off: int, n: int) -> tuple[list[KeyValue], int]:
    unpack = _KV.unpack_from
    size = _KV.size
    kvs = []
    for _ in range(n):
        klen, vlen, create, mod, version, lease = unpack(data, off)
        off += size
        key = data[off : off + klen]
        off += klen
        value = data[off : off + vlen]
        off += vlen
        kvs.append(KeyValue(key, create, mod, version, value, lease))
    return kvs, off


def encode_record(
    revision: int, compact: int, changes: Sequence[KeyValue], lease_ops: Sequence[bytes]
) -> bytes:
    parts = [_REC_HEAD.pack(revision, compact, len(changes), len(lease_ops))]
    _encode_kvs(parts, changes)
    parts.extend(lease_ops)
    return b"".join(parts)


def decode_record(payload: bytes) -> Record:
    revision, compact, n_changes, n_ops = _REC_HEAD.unpack_from(payload, 0)
    changes, off = _decode_kvs(payload, _REC_HEAD.size, n_changes)
    ops: list[LeaseOp] = []
    for _ in range(n_ops):
        ops.append(_LEASE_OP.unpack_from(payload, off))
        off += _LEASE_OP.size
    if off != len(payload):
        raise ValueError(f"record has {len(payload) - off} unexplained trailing bytes")
    return Record(revision, compact, changes, ops)


# --- segments ------------------------------------------------------------------------------


class SegmentScan:
    """The intact records of a segment file, and where (if anywhere) a torn tail begins."""

    __slots__ = ("good_end", "payloads", "torn_at")

    def __init__(self, payloads: list[bytes], good_end: int, torn_at: int | None) -> None:
        self.payloads = payloads
        self.good_end = good_end
        self.torn_at = torn_at


def scan_segment(path: Path) -> SegmentScan:
    """Read a segment. A damaged *last* record (cut short, or failing its checksum with
    nothing valid after it) is reported as a torn tail; damage anywhere else raises
    ``CorruptError``."""
    data = path.read_bytes()
    magic = len(WAL_MAGIC)
    if not data.startswith(WAL_MAGIC):
        if len(data) < magic and WAL_MAGIC.startswith(data):
            return SegmentScan([], 0, 0)  # the header itself was torn: an empty segment
        raise CorruptError(path, 0, "not a kcore WAL segment (bad magic)")
    payloads: list[bytes] = []
    off = magic
    size = len(data)
    head = _FRAME.size
    while off < size:
        if size - off < head:
            return SegmentScan(payloads, off, off)
        n, len_crc, crc = _FRAME.unpack_from(data, off)
        if zlib.crc32(data[off : off + 4]) != len_crc:
            if not data[off:].strip(b"\0"):
                return SegmentScan(payloads, off, off)  # zero-filled tail: never written
            raise CorruptError(path, off, "record length fails its checksum")
        end = off + head + n
        if end > size:
            return SegmentScan(payloads, off, off)
        payload = data[off + head : end]
        if zlib.crc32(payload) != crc:
            if end == size:
                return SegmentScan(payloads, off, off)
            raise CorruptError(path, off, "record fails its checksum")
        payloads.append(payload)
        off = end
    return SegmentScan(payloads, off, None)


def new_segment(path: Path) -> int:
    """Create a segment holding just its magic, durably; return its open (append) fd."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        write_all(fd, WAL_MAGIC)
        _fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = _write(fd, view)
        view = view[n:]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


# --- snapshots -----------------------------------------------------------------------------


class Image:
    """The whole store state a snapshot holds (decoded, not yet installed)."""

    __slots__ = (
        "bytes",
        "compact_rev",
        "entries",
        "histories",
        "leases",
        "live",
        "log",
        "log_base",
        "next_lease_id",
        "revision",
    )

    def __init__(self) -> None:
        self.revision = 1
        self.compact_rev = -1
        self.log_base = 1
        self.live = 0
        self.bytes = 0
        self.entries = 0
        self.next_lease_id = 0
        self.histories: list[list[KeyValue]] = []
        self.log: list[tuple[KeyValue, ...]] = []
        self.leases: list[tuple[int, int, float]] = []  # id, ttl, wall deadline


def encode_snapshot(image: Image) -> bytes:
    """``image.histories`` and ``image.log`` share KeyValue objects; each is stored once and
    referred to by number, so the loaded store shares them the same way."""
    numbers: dict[int, int] = {}
    table: list[KeyValue] = []

    def number(kv: KeyValue) -> int:
        n = numbers.get(id(kv))
        if n is None:
            n = numbers[id(kv)] = len(table)
            table.append(kv)
        return n

    refs = array("I")
    for hist in image.histories:
        refs.append(len(hist))
        refs.extend(number(kv) for kv in hist)
    for changes in image.log:
        refs.append(len(changes))
        refs.extend(number(kv) for kv in changes)
    if refs.itemsize != 4:  # pragma: no cover - every supported platform has 32-bit "I"
        raise RuntimeError("array('I') is not 32 bits here")
    parts = [
        _SNAP_FIELDS.pack(
            image.revision,
            image.compact_rev,
            image.log_base,
            image.live,
            image.bytes,
            image.entries,
            image.next_lease_id,
            len(table),
            len(image.histories),
            len(image.log),
            len(image.leases),
        )
    ]
    _encode_kvs(parts, table)
    if _little():
        refs.byteswap()
    parts.append(refs.tobytes())
    lease = struct.Struct(">qqd")
    parts.extend(lease.pack(*entry) for entry in image.leases)
    payload = b"".join(parts)
    return SNAP_MAGIC + _SNAP_HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def _little() -> bool:
    return sys.byteorder == "little"


def decode_snapshot(path: Path) -> Image:
    data = path.read_bytes()
    if not data.startswith(SNAP_MAGIC):
        raise CorruptError(path, 0, "not a kcore snapshot (bad magic)")
    start = len(SNAP_MAGIC) + _SNAP_HEAD.size
    if len(data) < start:
        raise CorruptError(path, len(SNAP_MAGIC), "snapshot header cut short")
    n, crc = _SNAP_HEAD.unpack_from(data, len(SNAP_MAGIC))
    payload = data[start : start + n]
    if len(payload) != n or zlib.crc32(payload) != crc:
        raise CorruptError(path, start, "snapshot payload fails its checksum")
    image = Image()
    (
        image.revision,
        image.compact_rev,
        image.log_base,
        image.live,
        image.bytes,
        image.entries,
        image.next_lease_id,
        n_table,
        n_hist,
        n_log,
        n_leases,
    ) = _SNAP_FIELDS.unpack_from(payload, 0)
    table, off = _decode_kvs(payload, _SNAP_FIELDS.size, n_table)
    lease = struct.Struct(">qqd")
    n_refs = (len(payload) - off - n_leases * lease.size) // 4
    refs = array("I")
    refs.frombytes(payload[off : off + 4 * n_refs])
    if _little():
        refs.byteswap()
    off += 4 * n_refs
    it: Iterator[int] = iter(refs)
    for _ in range(n_hist):
        count = next(it)
        image.histories.append([table[next(it)] for _ in range(count)])
    for _ in range(n_log):
        count = next(it)
        image.log.append(tuple(table[next(it)] for _ in range(count)))
    for _ in range(n_leases):
        image.leases.append(lease.unpack_from(payload, off))
        off += lease.size
    return image
