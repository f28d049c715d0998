"""MemoryStore: the default backend — etcd v3's MVCC semantics, in process, in memory.

Composed like etcd's ``server/mvcc``: a key index with per-key history (``_keyindex``), a log
of each revision's changes (watch replay), a watch hub (``_watchhub``), a lessor
(``_lessor``) and shared argument checks (``_validate``). Every request is checked whole
before anything changes, so an error never spends a revision or leaves a partial write.

Operations finish without suspending (like a dict), which is what makes them fast; a writer
in a tight loop therefore runs ahead of watchers, which is safe: watch buffers are bounded
and a watcher that falls behind catches up from the log by itself.

``async with MemoryStore() as store`` also runs the background timers (lease expiry and
periodic watch progress notifications) on the store's clock. Without it, expired leases are
still applied before every request, so reads never see a key whose lease has run out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from types import TracebackType
from typing import Any, Self

import anyio
import attrs

from kcore.clock import Clock, RealClock
from kcore.errors import (
    CompactedError,
    FutureRevisionError,
    InvalidArgumentError,
    KeyNotFoundError,
    LeaseNotFoundError,
    LeaseProvidedError,
    ValueProvidedError,
)
from kcore.store import _validate as v
from kcore.store._keyindex import KeyIndex
from kcore.store._lessor import Lessor
from kcore.store._watchhub import History, MemoryWatch, WatchHub
from kcore.store.types import (
    CompactionResponse,
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    KeyValue,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseLeasesResponse,
    LeaseRevokeResponse,
    LeaseStatus,
    LeaseTimeToLiveResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    ResponseHeader,
    ResponseOp,
    SortOrder,
    SortTarget,
    StatusResponse,
    TxnRequest,
    TxnResponse,
)

__all__ = ["MemoryStore"]

VERSION = "3.4.23-kcore"  # the etcd API level this store speaks, as Status reports it
_ENTRY_OVERHEAD = 128  # bytes counted per retained version in Status.db_size (an estimate)

_SORT_FIELD = {
    SortTarget.VERSION: attrgetter("version"),
    SortTarget.CREATE: attrgetter("create_revision"),
    SortTarget.MOD: attrgetter("mod_revision"),
    SortTarget.VALUE: attrgetter("value"),
}
_COMPARE_FIELD = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE: "create_revision",
    CompareTarget.MOD: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}
_ZERO = KeyValue(b"")


@attrs.define(slots=True)
class _Plan:
    """A txn with its branch decided up front (all compares see the state before the txn)."""

    succeeded: bool
    ops: Sequence[RequestOp]
    children: list[_Plan]  # one per nested TxnRequest in ``ops``, in order


class _Write:
    """The changes of one revision being built: applied to the index as they happen."""

    __slots__ = ("changes", "prevs", "revision")

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.changes: list[KeyValue] = []
        self.prevs: list[KeyValue | None] = []


class MemoryStore:
    """An in-memory MVCC key-value store with etcd v3 semantics (see ``kcore.store.Store``).

    ``clock`` drives lease expiry and progress notifications (a ``VirtualClock`` makes them
    deterministic in tests). ``min_lease_ttl`` is the TTL a shorter lease is raised to (etcd's
    default is 2 s). ``watch_buffer_events`` bounds what a watcher may have waiting before it
    is switched to catching up from history.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        min_lease_ttl: int = 2,
        max_txn_ops: int = 128,
        watch_buffer_events: int = 10_000,
        progress_interval: float = 600.0,
    ) -> None:
        self._clock: Clock = clock if clock is not None else RealClock()
        self._max_txn_ops = max_txn_ops
        self._progress_interval = progress_interval
        self._rev = 1
        self._header = ResponseHeader(1)
        self._compact_rev = -1  # etcd's "never compacted": compact(0) on a new store works
        self._index = KeyIndex()
        self._log: list[tuple[KeyValue, ...]] = [()]  # _log[i] holds revision _log_base + i
        self._log_base = 1
        self._live = 0  # live keys
        self._bytes = 0  # key + value bytes of every retained version
        self._entries = 0  # retained versions
        self._lessor = Lessor(min_lease_ttl)
        history = History(self._changes_at, self._index.before, self._revision, self._compacted)
        self._hub = WatchHub(history, watch_buffer_events)
        self._task_group: anyio.abc.TaskGroup | None = None
        self._lease_timer_wake: anyio.Event | None = None
        self._lease_timer_target: float | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._expire_leases_forever)
        self._task_group.start_soon(self._notify_progress_forever)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is not None:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)

    # --- reads ----------------------------------------------------------------------------

    async def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        limit: int = 0,
        revision: int = 0,
        sort_order: SortOrder = SortOrder.NONE,
        sort_target: SortTarget = SortTarget.KEY,
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
    ) -> RangeResponse:
        request = RangeRequest(
            key,
            range_end,
            limit,
            revision,
            sort_order,
            sort_target,
            serializable,
            keys_only,
            count_only,
            min_mod_revision,
            max_mod_revision,
            min_create_revision,
            max_create_revision,
        )
        v.check_range(request)
        await self._prepare_read()
        latest = self._revision()
        self._check_read_revision(request.revision, latest)
        kvs, more, count = self._range(request, latest)
        return RangeResponse(self._read_header(), kvs, more, count)

    async def _prepare_read(self) -> None:
        """Before a read: apply due lease expiries (a subclass may also wait for them)."""
        self._expire_due()

    def _read_header(self) -> ResponseHeader:
        """A read's header: the newest revision readers may see (``_revision()``)."""
        return self._header

    def _check_read_revision(self, revision: int, latest: int | None = None) -> None:
        if revision > (self._rev if latest is None else latest):
            raise FutureRevisionError()
        if 0 < revision < self._compact_rev:
            raise CompactedError(self._compact_rev)

    def _range(self, r: RangeRequest, latest: int) -> tuple[tuple[KeyValue, ...], bool, int]:
        rev = r.revision if r.revision > 0 else latest
        index = self._index
        if not r.range_end:
            kv = index.at(r.key, rev)
            kvs = [kv] if kv is not None else []
        else:
            end = None if r.range_end == b"\0" else r.range_end
            at = index.at
            kvs = [kv for k in index.keys_in(r.key, end) if (kv := at(k, rev)) is not None]
        count = len(kvs)
        if r.count_only:
            return (), False, count
        if r.min_mod_revision:
            kvs = [kv for kv in kvs if kv.mod_revision >= r.min_mod_revision]
        if r.max_mod_revision:
            kvs = [kv for kv in kvs if kv.mod_revision <= r.max_mod_revision]
        if r.min_create_revision:
            kvs = [kv for kv in kvs if kv.create_revision >= r.min_create_revision]
        if r.max_create_revision:
            kvs = [kv for kv in kvs if kv.create_revision <= r.max_create_revision]
        order, target = SortOrder(r.sort_order), SortTarget(r.sort_target)
        if (
            r.limit
            and order is SortOrder.NONE
            and target is not SortTarget.KEY
            and not (r.min_mod_revision or r.max_mod_revision)
            and not (r.min_create_revision or r.max_create_revision)
        ):
            # etcd quirk, kept for exactness: with no order given it reads only the first
            # limit+1 keys (in key order) and sorts those, not the whole range.
            del kvs[r.limit + 1 :]
        if target is not SortTarget.KEY:
            # etcd sorts ascending when a non-key target is named without an order.
            descending = order is SortOrder.DESCEND
            kvs.sort(key=_SORT_FIELD[target], reverse=descending)
        elif order is SortOrder.DESCEND:
            kvs.reverse()  # the index yields keys ascending already
        more = False
        if r.limit and len(kvs) > r.limit:
            del kvs[r.limit :]
            more = True
        if r.keys_only:
            kvs = [attrs.evolve(kv, value=b"") for kv in kvs]
        return tuple(kvs), more, count

    # --- writes ---------------------------------------------------------------------------

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
        if not (
            type(key) is bytes
            and key
            and type(value) is bytes
            and type(lease) is int
            and lease >= 0
            and prev_kv.__class__ is bool
            and ignore_value.__class__ is bool
            and ignore_lease.__class__ is bool
        ):  # the hot path skips building a request; anything unusual gets the full check
            v.check_put(PutRequest(key, value, lease, prev_kv, ignore_value, ignore_lease))
        elif ignore_value and value:
            raise ValueProvidedError()
        elif ignore_lease and lease:
            raise LeaseProvidedError()
        self._expire_due()
        if lease and lease not in self._lessor:
            raise LeaseNotFoundError()  # etcd checks a plain put's lease before its key
        self._check_put_state(key, lease, ignore_value or ignore_lease)
        write = _Write(self._rev + 1)
        prev = self._put(write, key, value, lease, ignore_value, ignore_lease)
        self._commit(write)
        return PutResponse(self._header, prev if prev_kv else None)

    def _check_put_state(self, key: bytes, lease: int, needs_key: bool) -> None:
        """A txn's put is checked key first, then lease (etcd's checkRequestPut order)."""
        if needs_key and self._index.latest(key) is None:
            raise KeyNotFoundError()
        if lease and lease not in self._lessor:
            raise LeaseNotFoundError()

    def _put(
        self,
        write: _Write,
        key: bytes,
        value: bytes,
        lease: int,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> KeyValue | None:
        rev = write.revision
        prev = self._index.latest(key)
        if prev is None:
            kv = KeyValue(key, rev, rev, 1, value, lease)
            self._live += 1
        else:
            if ignore_value:
                value = prev.value
            if ignore_lease:
                lease = prev.lease
            kv = KeyValue(key, prev.create_revision, rev, prev.version + 1, value, lease)
            if prev.lease and prev.lease != lease:
                self._lessor.detach(prev.lease, key)
        if lease:
            self._lessor.attach(lease, key)
        self._record(write, kv, prev)
        return prev

    def _record(self, write: _Write, kv: KeyValue, prev: KeyValue | None) -> None:
        self._index.record(kv)
        self._bytes += len(kv.key) + len(kv.value)
        self._entries += 1
        write.changes.append(kv)
        write.prevs.append(prev)

    def _delete(self, write: _Write, keys: Iterable[bytes]) -> list[KeyValue]:
        deleted = []
        latest = self._index.latest
        for key in keys:
            prev = latest(key)
            if prev is None:
                continue
            if prev.lease:
                self._lessor.detach(prev.lease, key)
            self._live -= 1
            self._record(write, KeyValue(key, 0, write.revision, 0, b"", 0), prev)
            deleted.append(prev)
        return deleted

    def _keys_in(self, key: bytes, range_end: bytes) -> list[bytes]:
        if not range_end:
            return [key]
        return list(self._index.keys_in(key, None if range_end == b"\0" else range_end))

    def _commit(self, write: _Write) -> None:
        """Make a revision of the write's changes (if any) and tell the watchers."""
        if not write.changes:
            return
        rev = write.revision
        changes = tuple(write.changes)
        self._rev = rev
        self._header = ResponseHeader(rev)
        self._log.append(changes)
        self._hub.notify(rev, changes, tuple(write.prevs))

    async def delete_range(
        self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False
    ) -> DeleteRangeResponse:
        v.check_delete(DeleteRangeRequest(key, range_end, prev_kv))
        self._expire_due()
        write = _Write(self._rev + 1)
        deleted = self._delete(write, self._keys_in(key, range_end))
        self._commit(write)
        return DeleteRangeResponse(self._header, len(deleted), tuple(deleted) if prev_kv else ())

    # --- txn ------------------------------------------------------------------------------

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[RequestOp] = (),
        failure: Sequence[RequestOp] = (),
    ) -> TxnResponse:
        v.check_txn(compare, success, failure, self._max_txn_ops)
        self._expire_due()
        plan = self._plan(compare, success, failure)
        self._check_plan(plan)
        write = _Write(self._rev + 1)
        parts = self._apply(plan, write)
        self._commit(write)
        return self._txn_response(plan.succeeded, parts, self._header)

    def _plan(
        self, compare: Sequence[Compare], success: Sequence[RequestOp], failure: Sequence[RequestOp]
    ) -> _Plan:
        ok = all(self._holds(c) for c in compare)
        ops = success if ok else failure
        children = [
            self._plan(op.compare, op.success, op.failure)
            for op in ops
            if isinstance(op, TxnRequest)
        ]
        return _Plan(ok, ops, children)

    def _holds(self, c: Compare) -> bool:
        if c.range_end:
            end = None if c.range_end == b"\0" else c.range_end
            latest = self._index.latest
            kvs = [kv for k in self._index.keys_in(c.key, end) if (kv := latest(k)) is not None]
        else:
            kv = self._index.latest(c.key)
            kvs = [kv] if kv is not None else []
        target = CompareTarget(c.target)
        if not kvs:
            if target is CompareTarget.VALUE:
                return False  # a missing value never compares (no way to say "absent")
            kvs = [_ZERO]
        field = _COMPARE_FIELD[target]
        wanted = getattr(c, field)
        result = CompareResult(c.result)
        for kv in kvs:
            have = getattr(kv, field)
            if result is CompareResult.EQUAL:
                ok = have == wanted
            elif result is CompareResult.NOT_EQUAL:
                ok = have != wanted
            elif result is CompareResult.GREATER:
                ok = have > wanted
            else:
                ok = have < wanted
            if not ok:
                return False
        return True

    def _check_plan(self, plan: _Plan) -> None:
        """Raise now whatever applying the chosen path would raise (nothing is written yet)."""
        children = iter(plan.children)
        for op in plan.ops:
            if isinstance(op, PutRequest):
                self._check_put_state(op.key, op.lease, op.ignore_value or op.ignore_lease)
            elif isinstance(op, RangeRequest):
                self._check_read_revision(op.revision)
            elif isinstance(op, TxnRequest):
                self._check_plan(next(children))

    def _apply(self, plan: _Plan, write: _Write) -> list[Any]:
        """Run the ops in order; later reads see earlier writes. Returns response parts.

        Each part carries the revision "as of the txn's changes so far", as etcd stamps inner
        responses: the revision before the txn until its first change, the new one after.
        """
        parts: list[Any] = []
        children = iter(plan.children)
        for op in plan.ops:
            if isinstance(op, RangeRequest):
                fields: tuple[Any, ...] = self._range(op, write.revision)
                kind = "range"
            elif isinstance(op, PutRequest):
                prev = self._put(
                    write, op.key, op.value, op.lease, op.ignore_value, op.ignore_lease
                )
                kind, fields = "put", (prev if op.prev_kv else None,)
            elif isinstance(op, DeleteRangeRequest):
                deleted = self._delete(write, self._keys_in(op.key, op.range_end))
                kind, fields = "delete", (len(deleted), tuple(deleted) if op.prev_kv else ())
            else:
                child = next(children)
                kind, fields = "txn", (child.succeeded, self._apply(child, write))
            parts.append((kind, write.revision if write.changes else self._rev, *fields))
        return parts

    def _txn_response(
        self, succeeded: bool, parts: list[Any], header: ResponseHeader
    ) -> TxnResponse:
        responses: list[ResponseOp] = []
        for kind, revision, *fields in parts:
            inner = header if revision == header.revision else ResponseHeader(revision)
            if kind == "range":
                responses.append(RangeResponse(inner, *fields))
            elif kind == "put":
                responses.append(PutResponse(inner, *fields))
            elif kind == "delete":
                responses.append(DeleteRangeResponse(inner, *fields))
            else:
                responses.append(self._txn_response(fields[0], fields[1], inner))
        return TxnResponse(header, succeeded, tuple(responses))

    # --- compaction -----------------------------------------------------------------------

    async def compact(self, revision: int, *, physical: bool = False) -> CompactionResponse:
        v.check_int("revision", revision)
        v.check_bool("physical", physical)
        self._expire_due()
        if revision <= self._compact_rev:
            raise CompactedError(self._compact_rev)
        if revision > self._rev:
            raise FutureRevisionError()
        self._compact(revision)
        return CompactionResponse(self._header)

    def _compact(self, revision: int) -> None:
        compacted = self._log[: max(0, revision - self._log_base)]
        touched = {kv.key for changes in compacted for kv in changes}
        for key in touched:
            freed_bytes, freed_entries = self._index.compact(key, revision)
            self._bytes -= freed_bytes
            self._entries -= freed_entries
        if compacted:
            del self._log[: len(compacted)]
            self._log_base = revision
        self._compact_rev = revision
        self._hub.forget_before(revision)

    # --- watch ----------------------------------------------------------------------------

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
        v.check_bytes("key", key)
        v.check_bytes("range_end", range_end)
        v.check_int("start_revision", start_revision)
        no_put, no_delete = v.filters_of(filters)
        v.check_bool("prev_kv", prev_kv)
        v.check_bool("progress_notify", progress_notify)
        v.check_int("watch_id", watch_id)
        v.check_bool("fragment", fragment)
        if watch_id and self._hub.has(watch_id):
            raise InvalidArgumentError(
                f"watch_id {watch_id} is already in use on this store; pass 0 to get a fresh one"
            )
        self._expire_due()
        if not key:
            key = b"\0"  # etcd: an empty key watches from the start of the keyspace
        single = not range_end
        end = key + b"\0" if single else (None if range_end == b"\0" else range_end)
        # _revision(), not _rev: a durable subclass shows watchers only what is on disk
        start = start_revision if start_revision > 0 else self._revision() + 1
        w = MemoryWatch(
            self._hub,
            watch_id or self._hub.new_id(),
            key,
            end,
            single,
            start,
            no_put,
            no_delete,
            prev_kv,
            progress_notify,
        )
        self._hub.add(w)
        return w

    def _changes_at(self, revision: int) -> tuple[KeyValue, ...]:
        return self._log[revision - self._log_base]

    def _revision(self) -> int:
        return self._rev

    @property
    def current_revision(self) -> int:
        """The revision right now, without a request: for in-process tools (the test cluster
        uses it to tell whether anything changed while tasks were idle)."""
        return self._rev

    def _compacted(self) -> int:
        return self._compact_rev

    # --- leases ---------------------------------------------------------------------------

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResponse:
        v.check_int("ttl", ttl)
        v.check_int("id", id)
        self._expire_due()
        lease = self._lessor.grant(ttl, id, self._clock.now())
        target = self._lease_timer_target
        if self._lease_timer_wake is not None and (target is None or lease.deadline < target):
            self._lease_timer_wake.set()
        return LeaseGrantResponse(self._header, lease.id, lease.ttl)

    async def lease_revoke(self, id: int) -> LeaseRevokeResponse:
        v.check_int("id", id)
        self._expire_due()
        self._end_lease(self._lessor.revoke(id).keys)
        return LeaseRevokeResponse(self._header)

    def _end_lease(self, keys: set[bytes]) -> None:
        write = _Write(self._rev + 1)
        self._delete(write, sorted(keys))
        self._commit(write)

    async def lease_keepalive(self, id: int) -> LeaseKeepAliveResponse:
        v.check_int("id", id)
        self._expire_due()
        lease = self._lessor.renew(id, self._clock.now())
        return LeaseKeepAliveResponse(self._header, id, lease.ttl if lease else 0)

    async def lease_time_to_live(self, id: int, *, keys: bool = False) -> LeaseTimeToLiveResponse:
        v.check_int("id", id)
        v.check_bool("keys", keys)
        await self._prepare_read()
        lease = self._lessor.get(id)
        if lease is None:
            return LeaseTimeToLiveResponse(self._read_header(), id, -1)
        remaining = self._lessor.remaining(lease, self._clock.now())
        attached = tuple(sorted(lease.keys)) if keys else ()
        return LeaseTimeToLiveResponse(self._read_header(), id, remaining, lease.ttl, attached)

    async def leases(self) -> LeaseLeasesResponse:
        await self._prepare_read()
        ids = self._lessor.ids()
        return LeaseLeasesResponse(self._read_header(), tuple(LeaseStatus(i) for i in ids))

    def _expire_due(self) -> None:
        """Apply every lease expiry that is due by the clock: each is one revision."""
        lessor = self._lessor
        if not lessor:
            return
        now = self._clock.now()
        while (lease := lessor.pop_expired(now)) is not None:
            self._end_lease(lease.keys)

    async def _expire_leases_forever(self) -> None:
        clock = self._clock
        while True:
            self._expire_due()
            deadline = self._lessor.next_deadline()
            self._lease_timer_target = deadline
            wake = self._lease_timer_wake = anyio.Event()
            async with anyio.create_task_group() as timer:
                if deadline is not None:
                    timer.start_soon(_ring_at, clock, deadline, wake)
                await wake.wait()
                timer.cancel_scope.cancel()

    async def _notify_progress_forever(self) -> None:
        while True:
            await self._clock.sleep(self._progress_interval)
            self._hub.request_progress_all()

    # --- status ---------------------------------------------------------------------------

    async def status(self) -> StatusResponse:
        await self._prepare_read()
        size = self._bytes + _ENTRY_OVERHEAD * self._entries
        return StatusResponse(
            self._read_header(),
            version=VERSION,
            db_size=size,
            db_size_in_use=size,
            compact_revision=max(self._compact_rev, 0),
            key_count=self._live,
        )


async def _ring_at(clock: Clock, deadline: float, bell: anyio.Event) -> None:
    await clock.sleep_until(deadline)
    bell.set()
