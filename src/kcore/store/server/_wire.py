"""Requests from etcd's wire turned into store calls the way etcd 3.4 reads them.

The store API is stricter than etcd's wire: it rejects a negative ``limit``, unknown enum
values and negative lease IDs with ``InvalidArgumentError``, where etcd 3.4.23 quietly gives
them a meaning. Each rule below was checked against the real etcd 3.4.23 binary:

* Range: ``limit`` < 0 is no limit; ``min_*_revision`` < 0 filters nothing; a negative
  ``max_*_revision`` filters every key out (kvs empty, ``count`` still the total, which is
  what ``count_only`` answers); an unknown ``sort_order`` means "no sorting" (key order,
  whatever the target). An unknown ``sort_target`` with a known order crashes etcd 3.4.23
  (a nil sorter panics); kcore answers newer etcd's "etcdserver: invalid sort option".
* Txn: etcd's gRPC-level checks run first and in etcd's order (too many ops, empty keys in
  compares and ops, value/lease provided, and an empty ``RequestOp`` -> "etcdserver: key not
  found"); a compare with an unknown target compares as "equal", one with an unknown result
  always holds (a VALUE compare still needs the key to exist).
* Put: a negative lease is a lease that does not exist ("requested lease not found").
* Writes (put, delete, a txn that writes) larger than etcd's ``--max-request-bytes``
  (1.5 MiB) get "etcdserver: request is too large", as etcd's raft layer answers.

Response headers carry a fixed cluster ID, member ID and raft term (``Identity``), because
etcdctl prints them; inner txn responses keep only a revision, as etcd's do.
"""

from __future__ import annotations

import attrs

from kcore.errors import (
    KeyNotFoundError,
    KeyNotProvidedError,
    LeaseNotFoundError,
    LeaseProvidedError,
    RequestTooLargeError,
    TooManyOpsError,
    ValueProvidedError,
)
from kcore.store import _convert as convert
from kcore.store import _validate
from kcore.store._etcdpb import rpc_pb2
from kcore.store.types import (
    Compare,
    CompareResult,
    CompareTarget,
    RangeRequest,
    RequestOp,
    SortOrder,
    SortTarget,
    TxnRequest,
)

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "Identity",
    "WireTxn",
    "blank_inner_headers",
    "check_put",
    "range_request",
    "too_large",
    "txn_request",
    "txn_writes",
]

DEFAULT_MAX_REQUEST_BYTES = 1536 * 1024  # etcd's --max-request-bytes default
# etcd measures the internal raft request, a few bytes bigger than the gRPC request
# (request header with an ID, the oneof tag and length); this approximates that envelope.
_RAFT_ENVELOPE_BYTES = 24

_SORT_ORDERS = frozenset(int(v) for v in SortOrder)
_COMPARE_TARGETS = frozenset(int(v) for v in CompareTarget)
_COMPARE_RESULTS = frozenset(int(v) for v in CompareResult)


@attrs.frozen(slots=True)
class Identity:
    """The fixed IDs this server reports in every response header (etcdctl prints them)."""

    cluster_id: int = 0x6B636F7265  # "kcore"
    member_id: int = 0x6B636F72656D31  # "kcorem1"
    raft_term: int = 2  # what a fresh single-member etcd reports

    def fill(self, header: rpc_pb2.ResponseHeader) -> None:
        header.cluster_id = self.cluster_id
        header.member_id = self.member_id
        header.raft_term = self.raft_term

    def header(self, revision: int) -> rpc_pb2.ResponseHeader:
        return rpc_pb2.ResponseHeader(
            cluster_id=self.cluster_id,
            member_id=self.member_id,
            revision=revision,
            raft_term=self.raft_term,
        )


# --- size -------------------------------------------------------------------------------


def too_large(
    request: rpc_pb2.PutRequest | rpc_pb2.DeleteRangeRequest | rpc_pb2.TxnRequest, limit: int
) -> bool:
    return request.ByteSize() + _RAFT_ENVELOPE_BYTES > limit


def txn_writes(t: rpc_pb2.TxnRequest) -> bool:
    """Whether a txn could write (etcd serves a read-only txn without raft)."""
    for op in (*t.success, *t.failure):
        kind = op.WhichOneof("request")
        if kind in ("request_put", "request_delete_range"):
            return True
        if kind == "request_txn" and txn_writes(op.request_txn):
            return True
    return False


# --- range --------------------------------------------------------------------------------


def range_request(r: rpc_pb2.RangeRequest) -> RangeRequest:
    """A wire RangeRequest as the store takes it, with etcd 3.4's reading of odd values."""
    order: int = r.sort_order
    target: int = r.sort_target
    if order not in _SORT_ORDERS:  # etcd 3.4: an unknown order sorts nothing
        order, target = SortOrder.NONE, SortTarget.KEY
    count_only = r.count_only
    max_mod, max_create = r.max_mod_revision, r.max_create_revision
    if max_mod < 0 or max_create < 0:  # every key fails the filter; count is unaffected
        count_only, max_mod, max_create = True, 0, 0
    return RangeRequest(
        r.key,
        r.range_end,
        max(r.limit, 0),
        r.revision,
        convert._enum(SortOrder, order),
        convert._enum(SortTarget, target),
        r.serializable,
        r.keys_only,
        count_only,
        max(r.min_mod_revision, 0),
        max_mod,
        max(r.min_create_revision, 0),
        max_create,
    )


# --- put ----------------------------------------------------------------------------------


def check_put(r: rpc_pb2.PutRequest) -> None:
    """etcd's gRPC-level put checks, in etcd's order."""
    if not r.key:
        raise KeyNotProvidedError()
    if r.ignore_value and r.value:
        raise ValueProvidedError()
    if r.ignore_lease and r.lease:
        raise LeaseProvidedError()


# --- txn ----------------------------------------------------------------------------------


def _check_shape(t: rpc_pb2.TxnRequest, max_ops: int) -> None:
    """etcd's gRPC-level txn checks (before compares or duplicate keys), in etcd's order."""
    size = max(len(t.compare), len(t.success), len(t.failure))
    if size > max_ops:
        raise TooManyOpsError()
    for c in t.compare:
        if not c.key:
            raise KeyNotProvidedError()
    for op in (*t.success, *t.failure):
        kind = op.WhichOneof("request")
        if kind == "request_range":
            if not op.request_range.key:
                raise KeyNotProvidedError()
        elif kind == "request_put":
            check_put(op.request_put)
        elif kind == "request_delete_range":
            if not op.request_delete_range.key:
                raise KeyNotProvidedError()
        elif kind == "request_txn":
            _check_shape(op.request_txn, max_ops - size)
        else:  # an empty RequestOp
            raise KeyNotFoundError()


def _compare(c: rpc_pb2.Compare) -> Compare:
    target: int = c.target
    result_value: int = c.result
    if target in _COMPARE_TARGETS and result_value in _COMPARE_RESULTS:
        return convert.compare_from_pb(c)
    create, result = -1, CompareResult.GREATER  # every key has create_revision > -1: true
    if result_value not in _COMPARE_RESULTS:
        if target == CompareTarget.VALUE:  # true exactly when some key exists
            create = 0
    elif result_value != CompareResult.EQUAL:  # unknown target: compares as equal
        result = CompareResult.LESS  # never true
    return Compare(
        c.key, CompareTarget.CREATE, result, create_revision=create, range_end=c.range_end
    )


@attrs.define
class WireTxn:
    """A txn converted for the store; ``unknown_lease`` if a put names a negative lease."""

    request: TxnRequest
    unknown_lease: bool = False

    def op(self, op: rpc_pb2.RequestOp) -> RequestOp:
        kind = op.WhichOneof("request")
        if kind == "request_range":
            return range_request(op.request_range)
        if kind == "request_put":
            put = convert.put_request_from_pb(op.request_put)
            if put.lease < 0:
                self.unknown_lease = True
                put = attrs.evolve(put, lease=0)
            return put
        if kind == "request_delete_range":
            return convert.delete_request_from_pb(op.request_delete_range)
        return self.txn(op.request_txn)

    def txn(self, t: rpc_pb2.TxnRequest) -> TxnRequest:
        return TxnRequest(
            tuple(_compare(c) for c in t.compare),
            tuple(self.op(op) for op in t.success),
            tuple(self.op(op) for op in t.failure),
        )


def txn_request(t: rpc_pb2.TxnRequest, max_ops: int, max_bytes: int) -> TxnRequest:
    """Check a wire txn as etcd does, then convert it for the store.

    etcd's order: gRPC-level checks, duplicate keys, the size limit (writes only), then
    apply-time errors. A put naming a negative lease fails with "requested lease not found"
    once the request is otherwise valid (etcd 3.4 only fails when that put is on the branch
    taken; kcore fails either way, since no store can hold a negative lease).
    """
    _check_shape(t, max_ops)
    wire = WireTxn(TxnRequest())
    request = wire.txn(t)
    oversized = txn_writes(t) and too_large(t, max_bytes)
    if oversized or wire.unknown_lease:
        # The store would check duplicate keys itself; here they must come first.
        _validate.check_txn(request.compare, request.success, request.failure, max_ops)
        if oversized:
            raise RequestTooLargeError()
        raise LeaseNotFoundError()
    return request


def blank_inner_headers(r: rpc_pb2.TxnResponse) -> None:
    """Inner responses carry only a revision; a nested txn's header is empty (as etcd's)."""
    for op in r.responses:
        kind = op.WhichOneof("response")
        if kind == "response_txn":
            inner = op.response_txn
            inner.ClearField("header")
            inner.header.SetInParent()
            blank_inner_headers(inner)
        elif kind is not None:
            header = getattr(op, kind).header
            header.cluster_id = header.member_id = header.raft_term = 0
