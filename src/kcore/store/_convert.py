"""Conversion between kcore's store messages and etcd's protobuf messages, both directions.

The etcd-API server turns requests from the wire into ``kcore.store.types`` and responses
back; ``EtcdStore`` does the reverse. Keeping both directions in one module keeps the field
mapping in one place: the names match one for one (``ID``/``TTL``/``grantedTTL`` on the wire
are ``id``/``ttl``/``granted_ttl`` here), so each function is a plain field copy.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeVar

from kcore.store._etcdpb import kv_pb2, rpc_pb2
from kcore.store.types import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    Event,
    EventType,
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
    WatchResponse,
)

__all__ = [
    "compare_from_pb",
    "compare_to_pb",
    "delete_request_from_pb",
    "delete_request_to_pb",
    "delete_response_from_pb",
    "delete_response_to_pb",
    "header_from_pb",
    "header_to_pb",
    "kv_from_pb",
    "kv_to_pb",
    "lease_grant_from_pb",
    "lease_grant_to_pb",
    "lease_keepalive_from_pb",
    "lease_keepalive_to_pb",
    "lease_leases_from_pb",
    "lease_leases_to_pb",
    "lease_revoke_from_pb",
    "lease_revoke_to_pb",
    "lease_ttl_from_pb",
    "lease_ttl_to_pb",
    "put_request_from_pb",
    "put_request_to_pb",
    "put_response_from_pb",
    "put_response_to_pb",
    "range_request_from_pb",
    "range_request_to_pb",
    "range_response_from_pb",
    "range_response_to_pb",
    "status_from_pb",
    "status_to_pb",
    "txn_request_from_pb",
    "txn_request_to_pb",
    "txn_response_from_pb",
    "txn_response_to_pb",
    "watch_response_from_pb",
    "watch_response_to_pb",
]

_E = TypeVar("_E", bound=enum.IntEnum)

# --- shared pieces -------------------------------------------------------------------------


def header_to_pb(h: ResponseHeader) -> rpc_pb2.ResponseHeader:
    return rpc_pb2.ResponseHeader(
        cluster_id=h.cluster_id, member_id=h.member_id, revision=h.revision, raft_term=h.raft_term
    )


def header_from_pb(h: rpc_pb2.ResponseHeader) -> ResponseHeader:
    return ResponseHeader(h.revision, h.cluster_id, h.member_id, h.raft_term)


def kv_to_pb(kv: KeyValue) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=kv.key,
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
        version=kv.version,
        value=kv.value,
        lease=kv.lease,
    )


def kv_from_pb(kv: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)


def _kvs_from_pb(kvs: Iterable[kv_pb2.KeyValue]) -> tuple[KeyValue, ...]:
    return tuple(
        KeyValue(k.key, k.create_revision, k.mod_revision, k.version, k.value, k.lease) for k in kvs
    )


# --- requests --------------------------------------------------------------------------------


def range_request_to_pb(r: RangeRequest) -> rpc_pb2.RangeRequest:
    return rpc_pb2.RangeRequest(
        key=r.key,
        range_end=r.range_end,
        limit=r.limit,
        revision=r.revision,
        sort_order=int(r.sort_order),  # type: ignore[arg-type]
        sort_target=int(r.sort_target),  # type: ignore[arg-type]
        serializable=r.serializable,
        keys_only=r.keys_only,
        count_only=r.count_only,
        min_mod_revision=r.min_mod_revision,
        max_mod_revision=r.max_mod_revision,
        min_create_revision=r.min_create_revision,
        max_create_revision=r.max_create_revision,
    )


def range_request_from_pb(r: rpc_pb2.RangeRequest) -> RangeRequest:
    # Enums stay raw ints: an unknown value must reach validation and get etcd's error there.
    return RangeRequest(
        r.key,
        r.range_end,
        r.limit,
        r.revision,
        _enum(SortOrder, r.sort_order),
        _enum(SortTarget, r.sort_target),
        r.serializable,
        r.keys_only,
        r.count_only,
        r.min_mod_revision,
        r.max_mod_revision,
        r.min_create_revision,
        r.max_create_revision,
    )


def put_request_to_pb(r: PutRequest) -> rpc_pb2.PutRequest:
    return rpc_pb2.PutRequest(
        key=r.key,
        value=r.value,
        lease=r.lease,
        prev_kv=r.prev_kv,
        ignore_value=r.ignore_value,
        ignore_lease=r.ignore_lease,
    )


def put_request_from_pb(r: rpc_pb2.PutRequest) -> PutRequest:
    return PutRequest(r.key, r.value, r.lease, r.prev_kv, r.ignore_value, r.ignore_lease)


def delete_request_to_pb(r: DeleteRangeRequest) -> rpc_pb2.DeleteRangeRequest:
    return rpc_pb2.DeleteRangeRequest(key=r.key, range_end=r.range_end, prev_kv=r.prev_kv)


def delete_request_from_pb(r: rpc_pb2.DeleteRangeRequest) -> DeleteRangeRequest:
    return DeleteRangeRequest(r.key, r.range_end, r.prev_kv)


_COMPARE_UNION = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE: "create_revision",
    CompareTarget.MOD: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}


def compare_to_pb(c: Compare) -> rpc_pb2.Compare:
    pb = rpc_pb2.Compare(
        result=int(c.result),  # type: ignore[arg-type]
        target=int(c.target),  # type: ignore[arg-type]
        key=c.key,
        range_end=c.range_end,
    )
    field = _COMPARE_UNION.get(CompareTarget(c.target))
    if field is not None:
        setattr(pb, field, getattr(c, field))
    return pb


def compare_from_pb(c: rpc_pb2.Compare) -> Compare:
    # etcd reads the union member that is set, whatever the target says; an unset member is 0.
    union = c.WhichOneof("target_union")
    fields = {union: getattr(c, union)} if union else {}
    return Compare(
        c.key,
        _enum(CompareTarget, c.target),
        _enum(CompareResult, c.result),
        range_end=c.range_end,
        **fields,
    )


def _op_to_pb(op: RequestOp) -> rpc_pb2.RequestOp:
    if isinstance(op, RangeRequest):
        return rpc_pb2.RequestOp(request_range=range_request_to_pb(op))
    if isinstance(op, PutRequest):
        return rpc_pb2.RequestOp(request_put=put_request_to_pb(op))
    if isinstance(op, DeleteRangeRequest):
        return rpc_pb2.RequestOp(request_delete_range=delete_request_to_pb(op))
    return rpc_pb2.RequestOp(request_txn=txn_request_to_pb(op))


def _op_from_pb(op: rpc_pb2.RequestOp) -> RequestOp | None:
    kind = op.WhichOneof("request")
    if kind == "request_range":
        return range_request_from_pb(op.request_range)
    if kind == "request_put":
        return put_request_from_pb(op.request_put)
    if kind == "request_delete_range":
        return delete_request_from_pb(op.request_delete_range)
    if kind == "request_txn":
        return txn_request_from_pb(op.request_txn)
    return None  # an empty RequestOp: etcd skips it


def txn_request_to_pb(r: TxnRequest) -> rpc_pb2.TxnRequest:
    return rpc_pb2.TxnRequest(
        compare=[compare_to_pb(c) for c in r.compare],
        success=[_op_to_pb(op) for op in r.success],
        failure=[_op_to_pb(op) for op in r.failure],
    )


def txn_request_from_pb(r: rpc_pb2.TxnRequest) -> TxnRequest:
    return TxnRequest(
        tuple(compare_from_pb(c) for c in r.compare),
        tuple(op for pb in r.success if (op := _op_from_pb(pb)) is not None),
        tuple(op for pb in r.failure if (op := _op_from_pb(pb)) is not None),
    )


def _enum(kind: type[_E], value: int) -> _E:
    try:
        return kind(value)
    except ValueError:
        return value  # type: ignore[return-value]  # left raw for validation to reject


# --- responses -------------------------------------------------------------------------------


def range_response_to_pb(r: RangeResponse) -> rpc_pb2.RangeResponse:
    return rpc_pb2.RangeResponse(
        header=header_to_pb(r.header),
        kvs=[kv_to_pb(kv) for kv in r.kvs],
        more=r.more,
        count=r.count,
    )


def range_response_from_pb(r: rpc_pb2.RangeResponse) -> RangeResponse:
    return RangeResponse(header_from_pb(r.header), _kvs_from_pb(r.kvs), r.more, r.count)


def put_response_to_pb(r: PutResponse) -> rpc_pb2.PutResponse:
    pb = rpc_pb2.PutResponse(header=header_to_pb(r.header))
    if r.prev_kv is not None:
        pb.prev_kv.CopyFrom(kv_to_pb(r.prev_kv))
    return pb


def put_response_from_pb(r: rpc_pb2.PutResponse) -> PutResponse:
    prev = kv_from_pb(r.prev_kv) if r.HasField("prev_kv") else None
    return PutResponse(header_from_pb(r.header), prev)


def delete_response_to_pb(r: DeleteRangeResponse) -> rpc_pb2.DeleteRangeResponse:
    return rpc_pb2.DeleteRangeResponse(
        header=header_to_pb(r.header),
        deleted=r.deleted,
        prev_kvs=[kv_to_pb(kv) for kv in r.prev_kvs],
    )


def delete_response_from_pb(r: rpc_pb2.DeleteRangeResponse) -> DeleteRangeResponse:
    return DeleteRangeResponse(header_from_pb(r.header), r.deleted, _kvs_from_pb(r.prev_kvs))


def _response_op_to_pb(r: ResponseOp) -> rpc_pb2.ResponseOp:
    if isinstance(r, RangeResponse):
        return rpc_pb2.ResponseOp(response_range=range_response_to_pb(r))
    if isinstance(r, PutResponse):
        return rpc_pb2.ResponseOp(response_put=put_response_to_pb(r))
    if isinstance(r, DeleteRangeResponse):
        return rpc_pb2.ResponseOp(response_delete_range=delete_response_to_pb(r))
    return rpc_pb2.ResponseOp(response_txn=txn_response_to_pb(r))


def _response_op_from_pb(r: rpc_pb2.ResponseOp) -> ResponseOp:
    kind = r.WhichOneof("response")
    if kind == "response_range":
        return range_response_from_pb(r.response_range)
    if kind == "response_put":
        return put_response_from_pb(r.response_put)
    if kind == "response_delete_range":
        return delete_response_from_pb(r.response_delete_range)
    return txn_response_from_pb(r.response_txn)


def txn_response_to_pb(r: TxnResponse) -> rpc_pb2.TxnResponse:
    return rpc_pb2.TxnResponse(
        header=header_to_pb(r.header),
        succeeded=r.succeeded,
        responses=[_response_op_to_pb(op) for op in r.responses],
    )


def txn_response_from_pb(r: rpc_pb2.TxnResponse) -> TxnResponse:
    return TxnResponse(
        header_from_pb(r.header),
        r.succeeded,
        tuple(_response_op_from_pb(op) for op in r.responses),
    )


def _event_to_pb(e: Event) -> kv_pb2.Event:
    pb = kv_pb2.Event(type=int(e.type), kv=kv_to_pb(e.kv))  # type: ignore[arg-type]
    if e.prev_kv is not None:
        pb.prev_kv.CopyFrom(kv_to_pb(e.prev_kv))
    return pb


def _event_from_pb(e: kv_pb2.Event) -> Event:
    prev = kv_from_pb(e.prev_kv) if e.HasField("prev_kv") else None
    return Event(EventType(e.type), kv_from_pb(e.kv), prev)


def watch_response_to_pb(r: WatchResponse) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(
        header=header_to_pb(r.header),
        watch_id=r.watch_id,
        created=r.created,
        canceled=r.canceled,
        compact_revision=r.compact_revision,
        cancel_reason=r.cancel_reason,
        fragment=r.fragment,
        events=[_event_to_pb(e) for e in r.events],
    )


def watch_response_from_pb(r: rpc_pb2.WatchResponse) -> WatchResponse:
    return WatchResponse(
        header_from_pb(r.header),
        r.watch_id,
        r.created,
        r.canceled,
        r.compact_revision,
        r.cancel_reason,
        r.fragment,
        tuple(_event_from_pb(e) for e in r.events),
    )


def lease_grant_to_pb(r: LeaseGrantResponse) -> rpc_pb2.LeaseGrantResponse:
    return rpc_pb2.LeaseGrantResponse(
        header=header_to_pb(r.header), ID=r.id, TTL=r.ttl, error=r.error
    )


def lease_grant_from_pb(r: rpc_pb2.LeaseGrantResponse) -> LeaseGrantResponse:
    return LeaseGrantResponse(header_from_pb(r.header), r.ID, r.TTL, r.error)


def lease_revoke_to_pb(r: LeaseRevokeResponse) -> rpc_pb2.LeaseRevokeResponse:
    return rpc_pb2.LeaseRevokeResponse(header=header_to_pb(r.header))


def lease_revoke_from_pb(r: rpc_pb2.LeaseRevokeResponse) -> LeaseRevokeResponse:
    return LeaseRevokeResponse(header_from_pb(r.header))


def lease_keepalive_to_pb(r: LeaseKeepAliveResponse) -> rpc_pb2.LeaseKeepAliveResponse:
    return rpc_pb2.LeaseKeepAliveResponse(header=header_to_pb(r.header), ID=r.id, TTL=r.ttl)


def lease_keepalive_from_pb(r: rpc_pb2.LeaseKeepAliveResponse) -> LeaseKeepAliveResponse:
    return LeaseKeepAliveResponse(header_from_pb(r.header), r.ID, r.TTL)


def lease_ttl_to_pb(r: LeaseTimeToLiveResponse) -> rpc_pb2.LeaseTimeToLiveResponse:
    return rpc_pb2.LeaseTimeToLiveResponse(
        header=header_to_pb(r.header),
        ID=r.id,
        TTL=r.ttl,
        grantedTTL=r.granted_ttl,
        keys=list(r.keys),
    )


def lease_ttl_from_pb(r: rpc_pb2.LeaseTimeToLiveResponse) -> LeaseTimeToLiveResponse:
    return LeaseTimeToLiveResponse(
        header_from_pb(r.header), r.ID, r.TTL, r.grantedTTL, tuple(r.keys)
    )


def lease_leases_to_pb(r: LeaseLeasesResponse) -> rpc_pb2.LeaseLeasesResponse:
    return rpc_pb2.LeaseLeasesResponse(
        header=header_to_pb(r.header), leases=[rpc_pb2.LeaseStatus(ID=s.id) for s in r.leases]
    )


def lease_leases_from_pb(r: rpc_pb2.LeaseLeasesResponse) -> LeaseLeasesResponse:
    return LeaseLeasesResponse(header_from_pb(r.header), tuple(LeaseStatus(s.ID) for s in r.leases))


def status_to_pb(r: StatusResponse) -> rpc_pb2.StatusResponse:
    return rpc_pb2.StatusResponse(
        header=header_to_pb(r.header),
        version=r.version,
        dbSize=r.db_size,
        leader=r.leader,
        raftIndex=r.raft_index,
        raftTerm=r.raft_term,
        raftAppliedIndex=r.raft_applied_index,
        errors=list(r.errors),
        dbSizeInUse=r.db_size_in_use,
        isLearner=r.is_learner,
    )


def status_from_pb(r: rpc_pb2.StatusResponse) -> StatusResponse:
    return StatusResponse(
        header_from_pb(r.header),
        version=r.version,
        db_size=r.dbSize,
        leader=r.leader,
        raft_index=r.raftIndex,
        raft_term=r.raftTerm,
        raft_applied_index=r.raftAppliedIndex,
        errors=tuple(r.errors),
        db_size_in_use=r.dbSizeInUse,
        is_learner=r.isLearner,
    )
