"""EtcdStore: the store contract on a real etcd v3 cluster, over gRPC.

Code written against ``kcore.store.Store`` runs unchanged on etcd: the same methods, arguments,
results and errors as ``MemoryStore``. Arguments are checked here first, with the same checks
(``_validate``), so bad Python input raises the same kcore error and nothing is sent. etcd's
error statuses come back as the kcore error with etcd's text.

Endpoints and failures
    Give one endpoint or several (``"127.0.0.1:2379"``, ``"http://..."``, ``"https://..."``).
    Reads (Range, a txn without writes, Status, LeaseTimeToLive, LeaseLeases, LeaseKeepAlive)
    fail over to the next endpoint. Writes (Put, DeleteRange, a txn with writes, Compact,
    LeaseGrant, LeaseRevoke) are never sent twice: they go to another endpoint only when they
    certainly reached no server (no connection, or etcd refused them before proposing). If a
    write may have reached a server and the answer was lost (connection reset, deadline),
    ``OutcomeUnknownError`` is raised: the caller reads back to learn whether it happened.
    (A write interrupted by the caller's own cancellation — a cancel scope, ``fail_after``
    around the call — may also have been applied; the cancellation propagates unchanged.)

Watches
    ``EtcdWatch`` (``etcd_watch.py``): a stream per watch, resumed on another endpoint after a
    break from the revision after the last delivered one, so no event is missed or repeated.

Leases
    ``lease_keepalive`` sends one keep-alive; ``keep_alive(id)`` gives a ``LeaseKeeper`` that
    renews the lease every TTL/3 in the background while held.

Status
    etcd's Status has no compact revision or key count (kcore extensions); ``status()`` fills
    ``key_count`` with a count at the status' revision and ``compact_revision`` by bisecting the
    oldest readable revision (about log2(revision) small reads; a compaction at exactly
    revision 1 reads as 0).

``CompactedError`` raised by a read carries ``compact_revision`` 0 (unknown): etcd's error does
not say it. asyncio only: ``grpc.aio`` does not run under trio.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self

from kcore import errors as e
from kcore.clock import Clock
from kcore.store import _convert as c
from kcore.store import _validate as v
from kcore.store._etcd_rpc import Endpoints, TLSConfig
from kcore.store._etcdpb import rpc_pb2
from kcore.store.etcd_watch import EtcdWatch, WatchSpec
from kcore.store.lease_keeper import LeaseKeeper
from kcore.store.types import (
    CompactionResponse,
    Compare,
    DeleteRangeRequest,
    DeleteRangeResponse,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseLeasesResponse,
    LeaseRevokeResponse,
    LeaseTimeToLiveResponse,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    ResponseHeader,
    SortOrder,
    SortTarget,
    StatusResponse,
    TxnRequest,
    TxnResponse,
)

__all__ = ["EtcdStore", "TLSConfig"]

_KV = "/etcdserverpb.KV/"
_LEASE = "/etcdserverpb.Lease/"
_STATUS = "/etcdserverpb.Maintenance/Status"


class EtcdStore:
    """The ``kcore.store.Store`` contract on an etcd v3 cluster (asyncio only).

    ``endpoints``: one ``"host:port"`` (or ``http://``/``https://`` URL) or a list of them.
    ``tls``: a ``TLSConfig`` (CA, and client certificate + key for mutual TLS); ``https://``
    endpoints use TLS even without one (the system's roots). ``timeout`` bounds each call,
    failover included; ``connect_timeout`` bounds waiting for one endpoint's connection before
    trying the next; ``reconnect_timeout`` is how long a broken watch keeps trying to resume
    before its consumer gets ``UnavailableError``. ``max_txn_ops`` is the server's
    ``--max-txn-ops`` (checked here before sending). ``clock`` drives lease keepers.
    """

    def __init__(
        self,
        endpoints: Sequence[str] | str,
        *,
        tls: TLSConfig | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 2.0,
        reconnect_timeout: float = 60.0,
        max_txn_ops: int = 128,
        watch_buffer: int = 256,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        self.endpoints = Endpoints(
            list(endpoints), tls, timeout=timeout, connect_timeout=connect_timeout
        )
        self.reconnect_timeout = reconnect_timeout
        self._max_txn_ops = max_txn_ops
        self._watch_buffer = watch_buffer
        self._clock = clock
        self._watches: dict[int, EtcdWatch] = {}
        self._next_watch_id = 1

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel every watch and close the connections."""
        for watch in list(self._watches.values()):
            await watch.cancel()
        await self.endpoints.aclose()

    # --- KV -------------------------------------------------------------------------------

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
        pb = await self.endpoints.call_idempotent(
            _KV + "Range", c.range_request_to_pb(request), rpc_pb2.RangeResponse
        )
        return c.range_response_from_pb(pb)

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
        request = PutRequest(key, value, lease, prev_kv, ignore_value, ignore_lease)
        v.check_put(request)
        pb = await self.endpoints.call_once(
            _KV + "Put",
            c.put_request_to_pb(request),
            rpc_pb2.PutResponse,
            describe=lambda: f"put of key {key!r}",
        )
        return c.put_response_from_pb(pb)

    async def delete_range(
        self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False
    ) -> DeleteRangeResponse:
        request = DeleteRangeRequest(key, range_end, prev_kv)
        v.check_delete(request)
        pb = await self.endpoints.call_once(
            _KV + "DeleteRange",
            c.delete_request_to_pb(request),
            rpc_pb2.DeleteRangeResponse,
            describe=lambda: f"delete of {_describe_range(key, range_end)}",
        )
        return c.delete_response_from_pb(pb)

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[RequestOp] = (),
        failure: Sequence[RequestOp] = (),
    ) -> TxnResponse:
        v.check_txn(compare, success, failure, self._max_txn_ops)
        request = c.txn_request_to_pb(TxnRequest(compare, success, failure))
        if _writes(success) or _writes(failure):
            pb = await self.endpoints.call_once(
                _KV + "Txn", request, rpc_pb2.TxnResponse, describe=lambda: _describe_txn(success)
            )
        else:  # read-only whichever branch runs: safe to repeat
            pb = await self.endpoints.call_idempotent(_KV + "Txn", request, rpc_pb2.TxnResponse)
        return c.txn_response_from_pb(pb)

    async def compact(self, revision: int, *, physical: bool = False) -> CompactionResponse:
        v.check_int("revision", revision)
        v.check_bool("physical", physical)
        pb = await self.endpoints.call_once(
            _KV + "Compact",
            rpc_pb2.CompactionRequest(revision=revision, physical=physical),
            rpc_pb2.CompactionResponse,
            describe=lambda: f"compaction to revision {revision}",
        )
        return CompactionResponse(c.header_from_pb(pb.header))

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
    ) -> EtcdWatch:
        v.check_bytes("key", key)
        v.check_bytes("range_end", range_end)
        v.check_int("start_revision", start_revision)
        no_put, no_delete = v.filters_of(filters)
        v.check_bool("prev_kv", prev_kv)
        v.check_bool("progress_notify", progress_notify)
        v.check_int("watch_id", watch_id)
        v.check_bool("fragment", fragment)
        if watch_id and watch_id in self._watches:
            raise e.InvalidArgumentError(
                f"watch_id {watch_id} is already in use on this store; pass 0 to get a fresh one"
            )
        if not watch_id:
            while self._next_watch_id in self._watches:
                self._next_watch_id += 1
            watch_id = self._next_watch_id
            self._next_watch_id += 1
        spec = WatchSpec(
            key or b"\0", range_end, no_put, no_delete, prev_kv, progress_notify, fragment
        )
        watch = EtcdWatch(self, spec, watch_id, self._watch_buffer)
        self._watches[watch_id] = watch
        try:
            await watch.start(start_revision)
        except BaseException:
            self._watches.pop(watch_id, None)
            raise
        return watch

    def forget_watch(self, watch: EtcdWatch) -> None:
        if self._watches.get(watch.watch_id) is watch:
            del self._watches[watch.watch_id]

    async def current_header(self) -> ResponseHeader:
        """The header of a linearizable read: the cluster's current revision (and ids)."""
        resp = await self.endpoints.call_idempotent(
            _KV + "Range", rpc_pb2.RangeRequest(key=b"\0", count_only=True), rpc_pb2.RangeResponse
        )
        return c.header_from_pb(resp.header)

    # --- leases ---------------------------------------------------------------------------

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResponse:
        v.check_int("ttl", ttl)
        v.check_int("id", id)
        pb = await self.endpoints.call_once(
            _LEASE + "LeaseGrant",
            rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=id),
            rpc_pb2.LeaseGrantResponse,
            describe=lambda: f"grant of a lease (id {id or 'chosen by etcd'}, TTL {ttl} s)",
        )
        return c.lease_grant_from_pb(pb)

    async def lease_revoke(self, id: int) -> LeaseRevokeResponse:
        v.check_int("id", id)
        pb = await self.endpoints.call_once(
            _LEASE + "LeaseRevoke",
            rpc_pb2.LeaseRevokeRequest(ID=id),
            rpc_pb2.LeaseRevokeResponse,
            describe=lambda: f"revocation of lease {id}",
        )
        return c.lease_revoke_from_pb(pb)

    async def lease_keepalive(self, id: int) -> LeaseKeepAliveResponse:
        """One keep-alive on a LeaseKeepAlive stream; TTL 0 in the answer: no such lease."""
        v.check_int("id", id)
        pb = await self.endpoints.call_idempotent(
            _LEASE + "LeaseKeepAlive",
            rpc_pb2.LeaseKeepAliveRequest(ID=id),
            rpc_pb2.LeaseKeepAliveResponse,
            stream=True,
        )
        return c.lease_keepalive_from_pb(pb)

    def keep_alive(self, id: int, *, revoke_on_exit: bool = False) -> LeaseKeeper:
        """``async with store.keep_alive(lease_id) as keeper:`` renews it every TTL/3."""
        v.check_int("id", id)
        return LeaseKeeper(self, id, clock=self._clock, revoke_on_exit=revoke_on_exit)

    async def lease_time_to_live(self, id: int, *, keys: bool = False) -> LeaseTimeToLiveResponse:
        v.check_int("id", id)
        v.check_bool("keys", keys)
        pb = await self.endpoints.call_idempotent(
            _LEASE + "LeaseTimeToLive",
            rpc_pb2.LeaseTimeToLiveRequest(ID=id, keys=keys),
            rpc_pb2.LeaseTimeToLiveResponse,
        )
        return c.lease_ttl_from_pb(pb)

    async def leases(self) -> LeaseLeasesResponse:
        pb = await self.endpoints.call_idempotent(
            _LEASE + "LeaseLeases", rpc_pb2.LeaseLeasesRequest(), rpc_pb2.LeaseLeasesResponse
        )
        return c.lease_leases_from_pb(pb)

    # --- status ---------------------------------------------------------------------------

    async def status(self) -> StatusResponse:
        pb = await self.endpoints.call_idempotent(
            _STATUS, rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse
        )
        status = c.status_from_pb(pb)
        revision = status.header.revision
        try:
            count = await self._count_at(revision)
        except e.CompactedError:  # compacted past it meanwhile: count now instead
            count = await self._count_at(0)
        compacted = await self._compact_revision(revision)
        return StatusResponse(
            status.header,
            version=status.version,
            db_size=status.db_size,
            leader=status.leader,
            raft_index=status.raft_index,
            raft_term=status.raft_term,
            raft_applied_index=status.raft_applied_index,
            errors=status.errors,
            db_size_in_use=status.db_size_in_use,
            is_learner=status.is_learner,
            compact_revision=compacted,
            key_count=count,
        )

    async def _count_at(self, revision: int) -> int:
        return (await self.range(b"\0", b"\0", revision=revision, count_only=True)).count

    async def _readable(self, revision: int) -> bool:
        try:
            await self.range(b"\0", revision=revision, count_only=True)
        except e.CompactedError:
            return False
        return True

    async def _compact_revision(self, current: int) -> int:
        """The oldest readable revision (0 if nothing was compacted), by bisection."""
        if current <= 1 or await self._readable(1):
            return 0
        low, high = 1, current  # low is compacted away, high is readable
        while high - low > 1:
            middle = (low + high) // 2
            if await self._readable(middle):
                high = middle
            else:
                low = middle
        return high


def _writes(ops: Sequence[RequestOp]) -> bool:
    for op in ops:
        if isinstance(op, PutRequest | DeleteRangeRequest):
            return True
        if isinstance(op, TxnRequest) and (_writes(op.success) or _writes(op.failure)):
            return True
    return False


def _describe_range(key: bytes, range_end: bytes) -> str:
    return f"key {key!r}" if not range_end else f"range [{key!r}, {range_end!r})"


def _describe_txn(success: Sequence[RequestOp]) -> str:
    keys = [op.key for op in success if isinstance(op, PutRequest | DeleteRangeRequest)]
    shown = ", ".join(repr(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
    return f"txn (writing {shown})" if keys else "txn"
