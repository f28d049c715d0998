"""etcd's KV service (Range, Put, DeleteRange, Txn, Compact) over any kcore store.

Each RPC turns the wire request into one store call (``_wire`` applies etcd 3.4's reading
of odd values first), converts the store's response back with ``_convert`` and stamps the
response header with the server's identity. Store errors reach the client as etcd's gRPC
status codes and texts (see ``_grpc.status_of``).
"""

from __future__ import annotations

from typing import Any

from kcore.errors import CompactedError, LeaseNotFoundError, RequestTooLargeError
from kcore.store import _convert as convert
from kcore.store._etcdpb import rpc_pb2
from kcore.store.protocol import Store
from kcore.store.server import _grpc
from kcore.store.server import _wire as wire

__all__ = ["KVService"]


class KVService:
    def __init__(
        self, store: Store, identity: wire.Identity, *, max_txn_ops: int, max_request_bytes: int
    ) -> None:
        self._store = store
        self._identity = identity
        self._max_txn_ops = max_txn_ops
        self._max_request_bytes = max_request_bytes

    def handler(self) -> Any:
        return _grpc.service(
            "KV",
            {
                "Range": _grpc.unary(self.range, rpc_pb2.RangeRequest.FromString),
                "Put": _grpc.unary(self.put, rpc_pb2.PutRequest.FromString),
                "DeleteRange": _grpc.unary(
                    self.delete_range, rpc_pb2.DeleteRangeRequest.FromString
                ),
                "Txn": _grpc.unary(self.txn, rpc_pb2.TxnRequest.FromString),
                "Compact": _grpc.unary(self.compact, rpc_pb2.CompactionRequest.FromString),
            },
        )

    async def range(self, request: rpc_pb2.RangeRequest) -> rpc_pb2.RangeResponse:
        r = wire.range_request(request)
        response = await self._store.range(
            r.key,
            r.range_end,
            limit=r.limit,
            revision=r.revision,
            sort_order=r.sort_order,
            sort_target=r.sort_target,
            serializable=r.serializable,
            keys_only=r.keys_only,
            count_only=r.count_only,
            min_mod_revision=r.min_mod_revision,
            max_mod_revision=r.max_mod_revision,
            min_create_revision=r.min_create_revision,
            max_create_revision=r.max_create_revision,
        )
        pb = convert.range_response_to_pb(response)
        self._identity.fill(pb.header)
        return pb

    async def put(self, request: rpc_pb2.PutRequest) -> rpc_pb2.PutResponse:
        wire.check_put(request)
        if wire.too_large(request, self._max_request_bytes):
            raise RequestTooLargeError()
        if request.lease < 0:
            raise LeaseNotFoundError()
        response = await self._store.put(
            request.key,
            request.value,
            lease=request.lease,
            prev_kv=request.prev_kv,
            ignore_value=request.ignore_value,
            ignore_lease=request.ignore_lease,
        )
        pb = convert.put_response_to_pb(response)
        self._identity.fill(pb.header)
        return pb

    async def delete_range(
        self, request: rpc_pb2.DeleteRangeRequest
    ) -> rpc_pb2.DeleteRangeResponse:
        if request.key and wire.too_large(request, self._max_request_bytes):
            raise RequestTooLargeError()
        response = await self._store.delete_range(
            request.key, request.range_end, prev_kv=request.prev_kv
        )
        pb = convert.delete_response_to_pb(response)
        self._identity.fill(pb.header)
        return pb

    async def txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        t = wire.txn_request(request, self._max_txn_ops, self._max_request_bytes)
        response = await self._store.txn(t.compare, t.success, t.failure)
        pb = convert.txn_response_to_pb(response)
        self._identity.fill(pb.header)
        wire.blank_inner_headers(pb)
        return pb

    async def compact(self, request: rpc_pb2.CompactionRequest) -> rpc_pb2.CompactionResponse:
        if request.revision < 0:  # etcd: at or below the last compaction (-1 when none)
            raise CompactedError()
        response = await self._store.compact(request.revision, physical=request.physical)
        return rpc_pb2.CompactionResponse(header=self._identity.header(response.header.revision))
