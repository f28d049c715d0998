"""The same wire session against real etcd 3.4 and kcore's server gives the same answers.

Each session is a fixed list of raw requests (odd and hostile ones included) and a scripted
watch stream; the two transcripts must be equal once the cluster and member IDs and the raft
term are blanked. Points where kcore knowingly differs are left out and named in the
server's docs: an unknown sort target (etcd 3.4.23 crashes), a negative lease ID in a grant,
compacting revision 0, nesting deeper than the protobuf parser allows, and watch progress
answered before a lagging watch caught up (etcd issue 15697).
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from kcore.store import MemoryStore
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer

from .conftest import Client, WatchStream

pytestmark = pytest.mark.anyio


def put(key: bytes, value: bytes = b"v", **kw: Any) -> pb.RequestOp:
    return pb.RequestOp(request_put=pb.PutRequest(key=key, value=value, **kw))


def get(key: bytes, range_end: bytes = b"") -> pb.RequestOp:
    return pb.RequestOp(request_range=pb.RangeRequest(key=key, range_end=range_end))


R = pb.RangeRequest
CASES: list[tuple[str, Any]] = [
    ("Put", pb.PutRequest(key=b"k1", value=b"a")),
    ("Put", pb.PutRequest(key=b"k2", value=b"b", prev_kv=True)),
    ("Put", pb.PutRequest(key=b"k1", value=b"c", prev_kv=True)),
    ("Range", R(key=b"k", range_end=b"l", limit=-1)),
    ("Range", R(key=b"k", range_end=b"l", limit=1)),
    ("Range", R(key=b"k", range_end=b"l", max_mod_revision=-1)),
    ("Range", R(key=b"k", range_end=b"l", min_mod_revision=-1, min_create_revision=-9)),
    ("Range", R(key=b"k", range_end=b"l", sort_order=7, sort_target=R.VALUE)),
    ("Range", R(key=b"k", range_end=b"l", sort_target=R.VALUE)),
    ("Range", R(key=b"k", range_end=b"l", sort_order=R.DESCEND, sort_target=R.MOD)),
    ("Range", R(key=b"k", range_end=b"l", count_only=True)),
    ("Range", R(key=b"k", range_end=b"l", keys_only=True, revision=2)),
    ("Range", R(key=b"")),
    ("Range", R(key=b"k1", revision=99)),
    ("Range", R(key=b"\0", range_end=b"\0")),
    ("Put", pb.PutRequest(key=b"", value=b"v")),
    ("Put", pb.PutRequest(key=b"k3", lease=-1)),
    ("Put", pb.PutRequest(key=b"k3", lease=4242)),
    ("Put", pb.PutRequest(key=b"k3", ignore_value=True)),
    ("Put", pb.PutRequest(key=b"k3", value=b"x", ignore_value=True)),
    ("Put", pb.PutRequest(key=b"k3", lease=1, ignore_lease=True)),
    ("Put", pb.PutRequest(key=b"k3", value=b"x" * (1536 * 1024))),
    ("Put", pb.PutRequest(key=b"k1", ignore_value=True, prev_kv=True)),
    ("DeleteRange", pb.DeleteRangeRequest(key=b"")),
    ("DeleteRange", pb.DeleteRangeRequest(key=b"nope")),
    ("Txn", pb.TxnRequest(success=[pb.RequestOp()])),
    ("Txn", pb.TxnRequest(success=[put(b""), pb.RequestOp()])),
    ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"")])),
    ("Txn", pb.TxnRequest(success=[put(b"d"), put(b"d")])),
    ("Txn", pb.TxnRequest(success=[put(b"t%d" % i) for i in range(129)])),
    ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"k1", target=9, result=0)])),  # type: ignore[arg-type]
    ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"k1", target=9, result=1)])),  # type: ignore[arg-type]
    ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"k1", target=0, result=9)])),  # type: ignore[arg-type]
    ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"zz", target=3, result=9)])),  # type: ignore[arg-type]
    ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"k1", target=0, value=b"c")])),
    (
        "Txn",
        pb.TxnRequest(
            compare=[pb.Compare(key=b"k1", target=pb.Compare.VALUE, value=b"c")],
            success=[
                put(b"t1", prev_kv=True),
                get(b"t1"),
                pb.RequestOp(request_txn=pb.TxnRequest(success=[get(b"k1")])),
            ],
            failure=[get(b"k2")],
        ),
    ),
    ("Txn", pb.TxnRequest(success=[put(b"tl", lease=-2)])),
    ("Compact", pb.CompactionRequest(revision=-1)),
    ("Compact", pb.CompactionRequest(revision=999)),
    ("Compact", pb.CompactionRequest(revision=3)),
    ("Compact", pb.CompactionRequest(revision=3)),
    ("Range", R(key=b"k1", revision=2)),
    ("LeaseGrant", pb.LeaseGrantRequest(TTL=1, ID=100)),
    ("LeaseGrant", pb.LeaseGrantRequest(TTL=-5, ID=101)),
    ("LeaseGrant", pb.LeaseGrantRequest(TTL=30, ID=100)),
    ("LeaseGrant", pb.LeaseGrantRequest(TTL=9_000_000_001, ID=102)),
    ("Put", pb.PutRequest(key=b"leased", lease=101)),
    ("LeaseTimeToLive", pb.LeaseTimeToLiveRequest(ID=-1)),
    ("LeaseTimeToLive", pb.LeaseTimeToLiveRequest(ID=777)),
    ("LeaseRevoke", pb.LeaseRevokeRequest(ID=-1)),
    ("LeaseRevoke", pb.LeaseRevokeRequest(ID=777)),
    ("LeaseRevoke", pb.LeaseRevokeRequest(ID=101)),
    ("LeaseLeases", pb.LeaseLeasesRequest()),
]


def blank(message: Any) -> str:
    """A message as text with what legitimately differs between servers blanked."""
    copy = type(message)()
    copy.CopyFrom(message)
    if copy.DESCRIPTOR.fields_by_name.get("header") is not None and copy.HasField("header"):
        copy.header.cluster_id = copy.header.member_id = copy.header.raft_term = 0
    return str(copy).replace("\n", " ")


async def unary_transcript(address: str) -> list[str]:
    client = Client(address)
    out = []
    try:
        for number, (method, request) in enumerate(CASES):
            try:
                response = await client.rpc(method, request)
            except grpc.aio.AioRpcError as err:
                out.append(f"{number} {method}: {err.code().name} {err.details()}")
            else:
                out.append(f"{number} {method}: {blank(response)}")
        keep_alive = client.keep_alive()
        for lease in (100, 777, 0, -1):
            await keep_alive.write(pb.LeaseKeepAliveRequest(ID=lease))
            out.append(f"keepalive {lease}: {blank(await keep_alive.read())}")
        keep_alive.cancel()
    finally:
        await client.close()
    return out


async def watch_transcript(address: str) -> list[str]:
    client = Client(address)
    out: list[str] = []

    async def step(w: WatchStream, label: str, responses: int) -> None:
        got = sorted([blank(await w.next()) for _ in range(responses)])
        out.extend(f"{label}: {text}" for text in got)
        await w.quiet(0.2)

    try:
        for i in range(5):
            await client.put(b"w%d" % i, b"x")
        async with client.watch() as w:
            await w.create(b"w0")
            await step(w, "auto id", 1)
            await w.create(b"w1", watch_id=5)
            await step(w, "chosen id", 1)
            await w.create(b"w1", watch_id=5)
            await step(w, "duplicate", 1)
            await w.create(b"w1")
            await step(w, "next auto id", 1)
            await w.create(b"b", b"a")
            await step(w, "empty range", 1)
            await w.create(b"w2", filters=[7])
            await step(w, "unknown filter", 1)
            await w.progress()
            await step(w, "progress", 1)
            await w.call.write(pb.WatchRequest())
            await w.cancel(5)
            await step(w, "cancel", 1)
            await w.cancel(77)
            await w.create(b"w", b"x", start_revision=2, watch_id=100)
            await step(w, "history", 2)
            await w.create(b"w", b"x", start_revision=-1, watch_id=101)
            await step(w, "start -1", 1)
            await w.create(b"w", b"x", start_revision=-5, watch_id=102)
            await step(w, "start -5", 2)
            await client.rpc("Compact", pb.CompactionRequest(revision=4, physical=True))
            await w.create(b"w", b"x", start_revision=2, watch_id=103)
            await step(w, "compacted", 2)
            await w.create(b"w", b"x", start_revision=4, watch_id=104, prev_kv=True)
            await step(w, "at compact revision", 2)
            await w.create(b"w", b"x", watch_id=103)
            await step(w, "compacted id still taken", 1)
            await client.put(b"w1", b"live")
            await step(w, "live", 4)
            await w.progress()
            await step(w, "progress again", 1)
    finally:
        await client.close()
    return out


async def test_same_answers_as_etcd(real_etcd: str) -> None:
    async with EtcdServer(MemoryStore(), "127.0.0.1:0") as server:
        kcore = await unary_transcript(server.address)
    etcd = await unary_transcript(real_etcd)
    assert kcore == etcd


async def test_same_watch_stream_as_etcd(real_etcd: str) -> None:
    async with EtcdServer(MemoryStore(), "127.0.0.1:0") as server:
        kcore = await watch_transcript(server.address)
    etcd = await watch_transcript(real_etcd)
    assert kcore == etcd
