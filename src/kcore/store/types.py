"""The store's messages: etcd v3's requests and responses as frozen Python values.

Names follow etcd's protobuf (``etcdserverpb``/``mvccpb``) in snake_case — ``create_revision``,
``range_end``, ``prev_kv``, ``header.revision`` — so anyone who knows etcd's API knows these,
and the etcd-API server and client convert field by field. Everything is frozen: a
``KeyValue`` handed out by a store is the store's own copy, shared by every reader, and must
not change under them.

A few fields are kcore extensions and say so (``StatusResponse.compact_revision`` and
``key_count``): etcd's wire messages do not carry them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeAlias

import attrs

__all__ = [
    "CompactionResponse",
    "Compare",
    "CompareResult",
    "CompareTarget",
    "DeleteRangeRequest",
    "DeleteRangeResponse",
    "Event",
    "EventType",
    "FilterType",
    "KeyValue",
    "LeaseGrantResponse",
    "LeaseKeepAliveResponse",
    "LeaseLeasesResponse",
    "LeaseRevokeResponse",
    "LeaseStatus",
    "LeaseTimeToLiveResponse",
    "PutRequest",
    "PutResponse",
    "RangeRequest",
    "RangeResponse",
    "RequestOp",
    "ResponseHeader",
    "ResponseOp",
    "SortOrder",
    "SortTarget",
    "StatusResponse",
    "TxnRequest",
    "TxnResponse",
    "WatchResponse",
    "prefix_end",
]


class SortOrder(enum.IntEnum):
    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(enum.IntEnum):
    KEY = 0
    VERSION = 1
    CREATE = 2
    MOD = 3
    VALUE = 4


class CompareTarget(enum.IntEnum):
    VERSION = 0
    CREATE = 1
    MOD = 2
    VALUE = 3
    LEASE = 4


class CompareResult(enum.IntEnum):
    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


class FilterType(enum.IntEnum):
    """Watch filters: NOPUT drops put events, NODELETE drops delete events."""

    NOPUT = 0
    NODELETE = 1


class EventType(enum.IntEnum):
    PUT = 0
    DELETE = 1


def prefix_end(prefix: bytes) -> bytes:
    """The ``range_end`` that makes ``[prefix, range_end)`` every key starting with ``prefix``.

    Trailing 0xff bytes cannot be incremented and are dropped; an all-0xff (or empty) prefix
    gives ``b"\\0"``, etcd's "to the end of the keyspace".
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"
    return stripped[:-1] + bytes([stripped[-1] + 1])


@attrs.frozen(slots=True)
class KeyValue:
    """One version of one key. A deletion is recorded as a tombstone with ``version == 0``."""

    key: bytes
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    value: bytes = b""
    lease: int = 0


@attrs.frozen(slots=True)
class Event:
    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None


@attrs.frozen(slots=True)
class ResponseHeader:
    """``revision`` is the store's current revision when the request was served."""

    revision: int
    cluster_id: int = 0
    member_id: int = 0
    raft_term: int = 0


# --- requests (used as txn operations; the store methods take the same fields as arguments)


@attrs.frozen(slots=True)
class RangeRequest:
    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: SortOrder = SortOrder.NONE
    sort_target: SortTarget = SortTarget.KEY
    serializable: bool = False
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


@attrs.frozen(slots=True)
class PutRequest:
    key: bytes
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@attrs.frozen(slots=True)
class DeleteRangeRequest:
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


@attrs.frozen(slots=True)
class Compare:
    """One txn condition: ``<target of key> <result> <the target's field>``.

    Only the field named by ``target`` is read (``version`` for VERSION, ``create_revision``
    for CREATE, ``mod_revision`` for MOD, ``value`` for VALUE, ``lease`` for LEASE). With
    ``range_end`` the condition must hold for every key in ``[key, range_end)``.
    """

    key: bytes
    target: CompareTarget
    result: CompareResult
    version: int = 0
    create_revision: int = 0
    mod_revision: int = 0
    value: bytes = b""
    lease: int = 0
    range_end: bytes = b""


def _compares(items: Iterable[Compare]) -> tuple[Compare, ...]:
    return tuple(items)


def _ops(items: Iterable[RequestOp]) -> tuple[RequestOp, ...]:
    return tuple(items)


@attrs.frozen(slots=True)
class TxnRequest:
    """A nested txn (as an operation of another txn); lists are stored as tuples."""

    compare: tuple[Compare, ...] = attrs.field(default=(), converter=_compares)
    success: tuple[RequestOp, ...] = attrs.field(default=(), converter=_ops)
    failure: tuple[RequestOp, ...] = attrs.field(default=(), converter=_ops)


RequestOp: TypeAlias = "RangeRequest | PutRequest | DeleteRangeRequest | TxnRequest"

# --- responses ---------------------------------------------------------------------------


@attrs.frozen(slots=True)
class RangeResponse:
    header: ResponseHeader
    kvs: tuple[KeyValue, ...] = ()
    more: bool = False
    count: int = 0


@attrs.frozen(slots=True)
class PutResponse:
    header: ResponseHeader
    prev_kv: KeyValue | None = None


@attrs.frozen(slots=True)
class DeleteRangeResponse:
    header: ResponseHeader
    deleted: int = 0
    prev_kvs: tuple[KeyValue, ...] = ()


@attrs.frozen(slots=True)
class TxnResponse:
    header: ResponseHeader
    succeeded: bool = False
    responses: tuple[ResponseOp, ...] = ()


ResponseOp: TypeAlias = "RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse"


@attrs.frozen(slots=True)
class CompactionResponse:
    header: ResponseHeader


@attrs.frozen(slots=True)
class LeaseGrantResponse:
    header: ResponseHeader
    id: int
    ttl: int
    error: str = ""


@attrs.frozen(slots=True)
class LeaseRevokeResponse:
    header: ResponseHeader


@attrs.frozen(slots=True)
class LeaseKeepAliveResponse:
    """``ttl`` is the renewed TTL in seconds; 0 means the lease does not exist (any more)."""

    header: ResponseHeader
    id: int
    ttl: int


@attrs.frozen(slots=True)
class LeaseTimeToLiveResponse:
    """``ttl`` is the remaining seconds, -1 when the lease does not exist."""

    header: ResponseHeader
    id: int
    ttl: int
    granted_ttl: int = 0
    keys: tuple[bytes, ...] = ()


@attrs.frozen(slots=True)
class LeaseStatus:
    id: int


@attrs.frozen(slots=True)
class LeaseLeasesResponse:
    header: ResponseHeader
    leases: tuple[LeaseStatus, ...] = ()


@attrs.frozen(slots=True)
class StatusResponse:
    """etcd's Maintenance.Status; ``compact_revision`` and ``key_count`` are kcore extensions."""

    header: ResponseHeader
    version: str = ""
    db_size: int = 0
    leader: int = 0
    raft_index: int = 0
    raft_term: int = 0
    raft_applied_index: int = 0
    errors: tuple[str, ...] = ()
    db_size_in_use: int = 0
    is_learner: bool = False
    compact_revision: int = 0
    key_count: int = 0


@attrs.frozen(slots=True)
class WatchResponse:
    """One batch of a watch: whole revisions only, in revision order.

    ``events`` empty and not canceled: a progress notification (everything up to
    ``header.revision`` was delivered). ``canceled`` with ``compact_revision`` set: the
    watch needed history that was compacted away; restart from ``compact_revision``
    or re-list.
    """

    header: ResponseHeader
    watch_id: int = 0
    created: bool = False
    canceled: bool = False
    compact_revision: int = 0
    cancel_reason: str = ""
    fragment: bool = False
    events: tuple[Event, ...] = ()
