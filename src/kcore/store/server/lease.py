"""etcd's Lease service (LeaseGrant, LeaseRevoke, LeaseKeepAlive, LeaseTimeToLive, LeaseLeases).

Leases live in the store; this module only translates. ``LeaseKeepAlive`` is a stream: each
request renews one lease and is answered in order (TTL 0 for a lease that does not exist,
as etcd answers). Wire values the store API refuses are read as etcd 3.4 reads them: a
negative TTL is raised to the minimum like any short TTL, and a negative lease ID names a
lease that does not exist (revoke: NotFound; keep-alive: TTL 0; time-to-live: TTL -1).
Granting a negative ID, which etcd 3.4 allows, is refused (InvalidArgument): kcore's stores
hold positive lease IDs only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from kcore.errors import InvalidArgumentError
from kcore.store import _convert as convert
from kcore.store._etcdpb import rpc_pb2
from kcore.store.protocol import Store
from kcore.store.server import _grpc
from kcore.store.server._wire import Identity

__all__ = ["LeaseService"]

_NO_LEASE = 0  # never a granted lease (asking to grant ID 0 means "pick one")


class LeaseService:
    def __init__(self, store: Store, identity: Identity) -> None:
        self._store = store
        self._identity = identity

    def handler(self) -> Any:
        return _grpc.service(
            "Lease",
            {
                "LeaseGrant": _grpc.unary(self.grant, rpc_pb2.LeaseGrantRequest.FromString),
                "LeaseRevoke": _grpc.unary(self.revoke, rpc_pb2.LeaseRevokeRequest.FromString),
                "LeaseKeepAlive": _grpc.bidi(
                    self.keep_alive, rpc_pb2.LeaseKeepAliveRequest.FromString
                ),
                "LeaseTimeToLive": _grpc.unary(
                    self.time_to_live, rpc_pb2.LeaseTimeToLiveRequest.FromString
                ),
                "LeaseLeases": _grpc.unary(self.leases, rpc_pb2.LeaseLeasesRequest.FromString),
            },
        )

    async def grant(self, request: rpc_pb2.LeaseGrantRequest) -> rpc_pb2.LeaseGrantResponse:
        if request.ID < 0:  # etcd 3.4 grants these; kcore's stores hold positive IDs only
            raise InvalidArgumentError(
                f"lease ID {request.ID} is negative: kcore stores hold positive lease IDs "
                "only; pass a positive ID, or 0 to have one chosen"
            )
        response = await self._store.lease_grant(max(request.TTL, 0), request.ID)
        pb = convert.lease_grant_to_pb(response)
        self._identity.fill(pb.header)
        return pb

    async def revoke(self, request: rpc_pb2.LeaseRevokeRequest) -> rpc_pb2.LeaseRevokeResponse:
        response = await self._store.lease_revoke(_known(request.ID))
        return rpc_pb2.LeaseRevokeResponse(header=self._identity.header(response.header.revision))

    async def keep_alive(
        self, requests: AsyncIterator[rpc_pb2.LeaseKeepAliveRequest], context: _grpc.Context
    ) -> None:
        async for request in requests:
            await context.write(await self._renew(request.ID))

    async def _renew(self, lease_id: int) -> rpc_pb2.LeaseKeepAliveResponse:
        response = await self._store.lease_keepalive(_known(lease_id))
        return rpc_pb2.LeaseKeepAliveResponse(
            header=self._identity.header(response.header.revision), ID=lease_id, TTL=response.ttl
        )

    async def time_to_live(
        self, request: rpc_pb2.LeaseTimeToLiveRequest
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        response = await self._store.lease_time_to_live(_known(request.ID), keys=request.keys)
        pb = convert.lease_ttl_to_pb(response)
        pb.ID = request.ID
        self._identity.fill(pb.header)
        return pb

    async def leases(self, request: rpc_pb2.LeaseLeasesRequest) -> rpc_pb2.LeaseLeasesResponse:
        pb = convert.lease_leases_to_pb(await self._store.leases())
        self._identity.fill(pb.header)
        return pb


def _known(lease_id: int) -> int:
    """A lease ID the store accepts: a negative one (never granted) becomes "no lease"."""
    return lease_id if lease_id >= 0 else _NO_LEASE
