"""The store contract: what every backend (memory, durable, etcd) promises, with etcd v3 semantics.

One ``typing.Protocol`` rather than a base class, so a backend is anything with these methods
(the conformance suite in ``tests/conformance`` is the definition of "correct"). Method and
argument names are etcd's RPCs and proto fields in snake_case. Keys and values are ``bytes``;
the store knows nothing of objects.

Watches are handles: ``await store.watch(...)`` registers the watch (its start revision is
fixed then) and returns a ``Watch``, an async iterator of ``WatchResponse`` and an async
context manager that cancels on exit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from kcore.store.types import (
    CompactionResponse,
    Compare,
    DeleteRangeResponse,
    FilterType,
    LeaseGrantResponse,
    LeaseKeepAliveResponse,
    LeaseLeasesResponse,
    LeaseRevokeResponse,
    LeaseTimeToLiveResponse,
    PutResponse,
    RangeResponse,
    RequestOp,
    SortOrder,
    SortTarget,
    StatusResponse,
    TxnResponse,
    WatchResponse,
)

__all__ = ["Store", "Watch"]


@runtime_checkable
class Watch(Protocol):
    """A live watch. Iterate it for responses; iteration ends once it is canceled."""

    @property
    def watch_id(self) -> int: ...

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> WatchResponse: ...

    async def request_progress(self) -> None:
        """Ask for a progress notification; it comes once everything up to now is delivered."""
        ...

    async def cancel(self) -> None:
        """Stop the watch; iteration ends (responses not yet taken are dropped)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Store(Protocol):
    """An MVCC key-value store with etcd v3 semantics."""

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
    ) -> RangeResponse: ...

    async def put(
        self,
        key: bytes,
        value: bytes = b"",
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> PutResponse: ...

    async def delete_range(
        self, key: bytes, range_end: bytes = b"", *, prev_kv: bool = False
    ) -> DeleteRangeResponse: ...

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[RequestOp] = (),
        failure: Sequence[RequestOp] = (),
    ) -> TxnResponse: ...

    async def compact(self, revision: int, *, physical: bool = False) -> CompactionResponse: ...

    async def watch(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        start_revision: int = 0,
        filters: Iterable[FilterType] = (),
        prev_kv: bool = False,
        progress_notify: bool = False,
        watch_id: int = 0,
        fragment: bool = False,
    ) -> Watch: ...

    async def lease_grant(self, ttl: int, id: int = 0) -> LeaseGrantResponse: ...

    async def lease_revoke(self, id: int) -> LeaseRevokeResponse: ...

    async def lease_keepalive(self, id: int) -> LeaseKeepAliveResponse: ...

    async def lease_time_to_live(
        self, id: int, *, keys: bool = False
    ) -> LeaseTimeToLiveResponse: ...

    async def leases(self) -> LeaseLeasesResponse: ...

    async def status(self) -> StatusResponse: ...

    async def aclose(self) -> None:
        """Release what the backend holds (connections, files, background tasks)."""
        ...
