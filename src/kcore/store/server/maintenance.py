"""etcd's Maintenance service, Status only: what ``etcdctl endpoint status`` shows.

The version string and database size come from the store. A kcore server is a cluster of
one member that is always its own leader, so ``leader`` is this server's member ID, the raft
term is the server's fixed term, and the raft index is the store's own figure when it has
one (a store backed by a real etcd) and the store's revision otherwise.
"""

from __future__ import annotations

from typing import Any

from kcore.store import _convert as convert
from kcore.store._etcdpb import rpc_pb2
from kcore.store.protocol import Store
from kcore.store.server import _grpc
from kcore.store.server._wire import Identity

__all__ = ["MaintenanceService"]


class MaintenanceService:
    def __init__(self, store: Store, identity: Identity) -> None:
        self._store = store
        self._identity = identity

    def handler(self) -> Any:
        return _grpc.service(
            "Maintenance",
            {"Status": _grpc.unary(self.status, rpc_pb2.StatusRequest.FromString)},
        )

    async def status(self, request: rpc_pb2.StatusRequest) -> rpc_pb2.StatusResponse:
        pb = convert.status_to_pb(await self._store.status())
        identity = self._identity
        identity.fill(pb.header)
        pb.leader = identity.member_id
        pb.raftTerm = identity.raft_term
        revision = pb.header.revision
        pb.raftIndex = pb.raftIndex or revision
        pb.raftAppliedIndex = pb.raftAppliedIndex or revision
        pb.dbSizeInUse = pb.dbSizeInUse or pb.dbSize
        return pb
