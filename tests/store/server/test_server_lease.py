"""Lease and Maintenance over the wire: grant, revoke, keep-alive stream, time-to-live, status."""

from __future__ import annotations

import anyio
import grpc
import pytest

from kcore.clock import VirtualClock
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer

from .conftest import TIMEOUT, Client, header_ids_ok

pytestmark = pytest.mark.anyio

NOT_FOUND = (grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found")


async def test_grant_raises_ttl_to_minimum(client: Client, server: EtcdServer) -> None:
    short = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=1))
    assert short.TTL == 2 and short.ID > 0 and short.error == ""
    assert header_ids_ok(short.header, server)
    negative = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=-5))
    assert negative.TTL == 2  # etcd 3.4 raises a negative TTL like any short one
    chosen = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=30, ID=77))
    assert (chosen.ID, chosen.TTL) == (77, 30)


async def test_grant_errors(client: Client) -> None:
    await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=5, ID=10))
    assert await client.error("LeaseGrant", pb.LeaseGrantRequest(TTL=5, ID=10)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "etcdserver: lease already exists",
    )
    assert await client.error("LeaseGrant", pb.LeaseGrantRequest(TTL=9_000_000_001)) == (
        grpc.StatusCode.OUT_OF_RANGE,
        "etcdserver: too large lease TTL",
    )
    # etcd 3.4 grants negative IDs; kcore's stores only hold positive ones and say so.
    code, text = await client.error("LeaseGrant", pb.LeaseGrantRequest(TTL=5, ID=-7))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "-7" in text


async def test_revoke_deletes_keys_in_one_revision(client: Client) -> None:
    lease = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=60))
    await client.put(b"l/a", lease=lease.ID)
    await client.put(b"l/b", lease=lease.ID)
    async with client.watch() as w:
        await w.created(b"l/", b"l0")
        revoked = await client.rpc("LeaseRevoke", pb.LeaseRevokeRequest(ID=lease.ID))
        assert revoked.header.revision == 4
        response = await w.next()
        assert [(e.type, e.kv.key, e.kv.mod_revision) for e in response.events] == [
            (1, b"l/a", 4),
            (1, b"l/b", 4),
        ]
    assert (await client.get(b"l/", b"l0")).count == 0
    assert await client.error("LeaseRevoke", pb.LeaseRevokeRequest(ID=lease.ID)) == NOT_FOUND
    assert await client.error("LeaseRevoke", pb.LeaseRevokeRequest(ID=-1)) == NOT_FOUND


async def test_time_to_live(client: Client, clock: VirtualClock) -> None:
    lease = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=10))
    await client.put(b"t", lease=lease.ID)
    await clock.advance(3)
    ttl = await client.rpc("LeaseTimeToLive", pb.LeaseTimeToLiveRequest(ID=lease.ID, keys=True))
    assert (ttl.ID, ttl.TTL, ttl.grantedTTL, list(ttl.keys)) == (lease.ID, 7, 10, [b"t"])
    for missing in (12345, -3, 0):
        unknown = await client.rpc("LeaseTimeToLive", pb.LeaseTimeToLiveRequest(ID=missing))
        got = (unknown.ID, unknown.TTL)
        assert got == (missing, -1)


async def test_leases(client: Client) -> None:
    ids = set()
    for _ in range(3):
        ids.add((await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=60))).ID)
    listed = await client.rpc("LeaseLeases", pb.LeaseLeasesRequest())
    assert {s.ID for s in listed.leases} == ids


async def test_keep_alive_stream(client: Client, clock: VirtualClock) -> None:
    lease = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=10))
    await client.put(b"kept", lease=lease.ID)
    call = client.keep_alive()
    try:
        with anyio.fail_after(TIMEOUT):
            for _ in range(3):  # renew across what would otherwise be an expiry
                await clock.advance(6)
                await call.write(pb.LeaseKeepAliveRequest(ID=lease.ID))
                renewed = await call.read()
                assert (renewed.ID, renewed.TTL) == (lease.ID, 10)
            for missing in (4242, 0, -1):
                await call.write(pb.LeaseKeepAliveRequest(ID=missing))
                answer = await call.read()
                got = (answer.ID, answer.TTL)
                assert got == (missing, 0)
            assert answer.header.revision == 2
    finally:
        call.cancel()
    assert (await client.get(b"kept")).count == 1


async def test_expiry_deletes_keys(client: Client, clock: VirtualClock) -> None:
    lease = await client.rpc("LeaseGrant", pb.LeaseGrantRequest(TTL=5))
    await client.put(b"e", lease=lease.ID)
    await clock.advance(6)
    assert (await client.get(b"e")).count == 0
    ttl = await client.rpc("LeaseTimeToLive", pb.LeaseTimeToLiveRequest(ID=lease.ID))
    assert ttl.TTL == -1


async def test_status(client: Client, server: EtcdServer) -> None:
    await client.put(b"s", b"x" * 100)
    status = await client.rpc("Status", pb.StatusRequest())
    assert header_ids_ok(status.header, server)
    assert status.header.revision == 2
    assert status.version.startswith("3.4")
    assert status.dbSize > 100 and status.dbSizeInUse > 0
    assert status.leader == server.identity.member_id  # a member of one leads itself
    assert (status.raftTerm, status.raftIndex, status.raftAppliedIndex) == (2, 2, 2)
    assert not status.errors and not status.isLearner
