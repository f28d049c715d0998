"""KV over the wire: Range, Put, DeleteRange, Txn, Compact; headers; etcd's codes and texts."""

from __future__ import annotations

import grpc
import pytest

from kcore.store import MemoryStore
from kcore.store._etcdpb import rpc_pb2 as pb
from kcore.store.server import EtcdServer

from .conftest import Client, header_ids_ok

pytestmark = pytest.mark.anyio

OUT_OF_RANGE = grpc.StatusCode.OUT_OF_RANGE
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
COMPACTED = "etcdserver: mvcc: required revision has been compacted"
FUTURE = "etcdserver: mvcc: required revision is a future revision"
NO_KEY = "etcdserver: key is not provided"


def op_put(key: bytes, value: bytes = b"v", **kw: object) -> pb.RequestOp:
    return pb.RequestOp(request_put=pb.PutRequest(key=key, value=value, **kw))  # type: ignore[arg-type]


def op_get(key: bytes, range_end: bytes = b"") -> pb.RequestOp:
    return pb.RequestOp(request_range=pb.RangeRequest(key=key, range_end=range_end))


async def test_put_then_range(client: Client, server: EtcdServer) -> None:
    put = await client.put(b"a", b"1")
    assert put.header.revision == 2
    assert header_ids_ok(put.header, server)
    again = await client.put(b"a", b"2", prev_kv=True)
    assert again.prev_kv.value == b"1" and again.prev_kv.version == 1
    got = await client.get(b"a")
    assert header_ids_ok(got.header, server)
    assert got.header.revision == 3
    [kv] = got.kvs
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version) == (
        b"a",
        b"2",
        2,
        3,
        2,
    )
    old = await client.get(b"a", revision=2)
    assert old.kvs[0].value == b"1" and old.header.revision == 3


async def test_range_prefix_limit_count_sort(client: Client) -> None:
    for key, value in [(b"/p/a", b"3"), (b"/p/b", b"1"), (b"/p/c", b"2"), (b"/q", b"0")]:
        await client.put(key, value)
    got = await client.get(b"/p/", b"/p0", limit=2)
    assert [kv.key for kv in got.kvs] == [b"/p/a", b"/p/b"]
    assert got.more and got.count == 3
    by_value = await client.get(b"/p/", b"/p0", sort_target=pb.RangeRequest.VALUE)
    assert [kv.value for kv in by_value.kvs] == [b"1", b"2", b"3"]  # NONE + target = ascend
    desc = await client.get(b"/p/", b"/p0", sort_order=pb.RangeRequest.DESCEND, keys_only=True)
    assert [kv.key for kv in desc.kvs] == [b"/p/c", b"/p/b", b"/p/a"]
    assert all(kv.value == b"" for kv in desc.kvs)
    counted = await client.get(b"\0", b"\0", count_only=True)
    assert counted.count == 4 and not counted.kvs


async def test_delete_range(client: Client, server: EtcdServer) -> None:
    for key in (b"d1", b"d2", b"d3"):
        await client.put(key)
    one = await client.rpc("DeleteRange", pb.DeleteRangeRequest(key=b"d1"))
    assert one.deleted == 1 and header_ids_ok(one.header, server)
    rest = await client.rpc(
        "DeleteRange", pb.DeleteRangeRequest(key=b"d", range_end=b"e", prev_kv=True)
    )
    assert rest.deleted == 2 and [kv.key for kv in rest.prev_kvs] == [b"d2", b"d3"]
    assert rest.header.revision == one.header.revision + 1  # one revision for the range
    none = await client.rpc("DeleteRange", pb.DeleteRangeRequest(key=b"nope"))
    assert none.deleted == 0 and none.header.revision == rest.header.revision


async def test_txn_branches_and_inner_headers(client: Client, server: EtcdServer) -> None:
    await client.put(b"t", b"1")
    txn = pb.TxnRequest(
        compare=[
            pb.Compare(key=b"t", target=pb.Compare.VALUE, result=pb.Compare.EQUAL, value=b"1")
        ],
        success=[
            op_put(b"t2", prev_kv=True),
            op_get(b"t2"),
            pb.RequestOp(request_txn=pb.TxnRequest(success=[op_get(b"t")])),
        ],
        failure=[op_get(b"t")],
    )
    response = await client.rpc("Txn", txn)
    assert response.succeeded and header_ids_ok(response.header, server)
    put, get, nested = response.responses
    assert put.response_put.header.revision == response.header.revision == 3
    assert put.response_put.header.member_id == 0  # inner headers carry only a revision
    assert get.response_range.kvs[0].key == b"t2"
    assert nested.response_txn.HasField("header")
    assert nested.response_txn.header.revision == 0  # etcd leaves a nested txn's header empty
    failed = await client.rpc(
        "Txn",
        pb.TxnRequest(
            compare=[
                pb.Compare(
                    key=b"t", target=pb.Compare.VERSION, result=pb.Compare.GREATER, version=5
                )
            ],
            failure=[op_get(b"t")],
        ),
    )
    assert not failed.succeeded and failed.header.revision == 3  # read-only: no revision


async def test_compact(client: Client) -> None:
    for i in range(4):
        await client.put(b"c", b"%d" % i)
    response = await client.rpc("Compact", pb.CompactionRequest(revision=3, physical=True))
    assert response.header.revision == 5
    assert await client.error("Range", pb.RangeRequest(key=b"c", revision=2)) == (
        OUT_OF_RANGE,
        COMPACTED,
    )
    at = await client.get(b"c", revision=3)  # the compact revision itself still reads
    assert at.kvs[0].value == b"1"
    assert await client.error("Compact", pb.CompactionRequest(revision=3)) == (
        OUT_OF_RANGE,
        COMPACTED,
    )
    assert await client.error("Compact", pb.CompactionRequest(revision=99)) == (
        OUT_OF_RANGE,
        FUTURE,
    )
    # etcd: a negative revision is always at or below the last compaction
    assert await client.error("Compact", pb.CompactionRequest(revision=-1)) == (
        OUT_OF_RANGE,
        COMPACTED,
    )


# --- errors: etcd's codes and texts --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("Range", pb.RangeRequest(key=b"")),
        ("Put", pb.PutRequest(key=b"", value=b"v")),
        ("DeleteRange", pb.DeleteRangeRequest(key=b"")),
        ("Txn", pb.TxnRequest(compare=[pb.Compare(key=b"")])),
        ("Txn", pb.TxnRequest(success=[op_get(b"")])),
        ("Txn", pb.TxnRequest(failure=[op_put(b"")])),
    ],
)
async def test_empty_key(client: Client, method: str, request_: object) -> None:
    assert await client.error(method, request_) == (INVALID, NO_KEY)


async def test_future_revision(client: Client) -> None:
    assert await client.error("Range", pb.RangeRequest(key=b"a", revision=10**12)) == (
        OUT_OF_RANGE,
        FUTURE,
    )


async def test_put_errors(client: Client) -> None:
    assert await client.error("Put", pb.PutRequest(key=b"k", value=b"v", ignore_value=True)) == (
        INVALID,
        "etcdserver: value is provided",
    )
    assert await client.error("Put", pb.PutRequest(key=b"k", lease=5, ignore_lease=True)) == (
        INVALID,
        "etcdserver: lease is provided",
    )
    assert await client.error("Put", pb.PutRequest(key=b"k", ignore_value=True)) == (
        INVALID,
        "etcdserver: key not found",
    )
    lease_missing = (NOT_FOUND, "etcdserver: requested lease not found")
    assert await client.error("Put", pb.PutRequest(key=b"k", lease=12345)) == lease_missing
    assert await client.error("Put", pb.PutRequest(key=b"k", lease=-1)) == lease_missing


async def test_txn_errors(client: Client) -> None:
    many = pb.TxnRequest(success=[op_put(b"k%d" % i) for i in range(129)])
    assert await client.error("Txn", many) == (
        INVALID,
        "etcdserver: too many operations in txn request",
    )
    duplicate = pb.TxnRequest(success=[op_put(b"k"), op_put(b"k")])
    assert await client.error("Txn", duplicate) == (
        INVALID,
        "etcdserver: duplicate key given in txn request",
    )
    # An empty RequestOp is refused as etcd 3.4 refuses it, in order with the other checks.
    assert await client.error("Txn", pb.TxnRequest(success=[pb.RequestOp()])) == (
        INVALID,
        "etcdserver: key not found",
    )
    empty_first = pb.TxnRequest(success=[op_put(b""), pb.RequestOp()])
    assert await client.error("Txn", empty_first) == (INVALID, NO_KEY)
    negative_lease = pb.TxnRequest(success=[op_put(b"k", lease=-3)])
    assert await client.error("Txn", negative_lease) == (
        NOT_FOUND,
        "etcdserver: requested lease not found",
    )
    dup_and_lease = pb.TxnRequest(success=[op_put(b"k", lease=-3), op_put(b"k")])
    assert (await client.error("Txn", dup_and_lease))[1].endswith(
        "duplicate key given in txn request"
    )
    status = await client.rpc("Status", pb.StatusRequest())
    assert status.header.revision == 1  # no error spent a revision


async def test_request_too_large(client: Client) -> None:
    too_large = (INVALID, "etcdserver: request is too large")
    big = b"x" * (1536 * 1024)
    assert await client.error("Put", pb.PutRequest(key=b"k", value=big)) == too_large
    assert await client.error("Txn", pb.TxnRequest(success=[op_put(b"k", big)])) == too_large
    fits = await client.put(b"k", b"x" * (1536 * 1024 - 100))
    assert fits.header.revision == 2
    # A read is not a raft request: a huge key in a range is fine, as in etcd.
    assert (await client.get(b"x" * (1600 * 1024))).count == 0
    # Beyond the gRPC limit (1.5 MiB + 512 KiB) gRPC itself refuses the message.
    code, _ = await client.error("Put", pb.PutRequest(key=b"k", value=b"x" * (2100 * 1024)))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


# --- etcd 3.4's reading of values the store API would refuse -------------------------------


async def test_lenient_range_values(client: Client) -> None:
    for key in (b"r1", b"r2", b"r3"):
        await client.put(key)
    unlimited = await client.get(b"r", b"s", limit=-1)
    assert len(unlimited.kvs) == 3 and not unlimited.more
    min_negative = await client.get(b"r", b"s", min_mod_revision=-5, min_create_revision=-1)
    assert len(min_negative.kvs) == 3
    max_negative = await client.get(b"r", b"s", max_mod_revision=-1)
    assert not max_negative.kvs and max_negative.count == 3 and not max_negative.more
    unknown_order = await client.get(b"r", b"s", sort_order=7, sort_target=pb.RangeRequest.VALUE)
    assert [kv.key for kv in unknown_order.kvs] == [b"r1", b"r2", b"r3"]  # no sorting
    huge = await client.get(b"r", b"s", limit=2**63 - 1)
    assert len(huge.kvs) == 3


async def test_unknown_sort_target(client: Client) -> None:
    # etcd 3.4.23 crashes on this (a nil sorter); kcore answers as newer etcd does.
    request = pb.RangeRequest(key=b"a", sort_order=pb.RangeRequest.ASCEND, sort_target=9)
    assert await client.error("Range", request) == (INVALID, "etcdserver: invalid sort option")


@pytest.mark.parametrize(
    ("target", "result", "exists", "holds"),
    [
        (9, pb.Compare.EQUAL, True, True),  # unknown target compares as equal
        (9, pb.Compare.NOT_EQUAL, True, False),
        (9, pb.Compare.GREATER, False, False),
        (pb.Compare.VERSION, 9, False, True),  # unknown result always holds
        (pb.Compare.VALUE, 9, True, True),
        (pb.Compare.VALUE, 9, False, False),  # ...but a value compare needs the key
    ],
)
async def test_unknown_compare_enums(
    client: Client, target: int, result: int, exists: bool, holds: bool
) -> None:
    if exists:
        await client.put(b"cmp")
    compare = pb.Compare(key=b"cmp", target=target, result=result)  # type: ignore[arg-type]
    response = await client.rpc("Txn", pb.TxnRequest(compare=[compare]))
    assert response.succeeded is holds


async def test_compare_union_other_than_target_reads_zero(client: Client) -> None:
    await client.put(b"u")
    compare = pb.Compare(key=b"u", target=pb.Compare.VERSION, result=pb.Compare.EQUAL, value=b"v")
    assert not (await client.rpc("Txn", pb.TxnRequest(compare=[compare]))).succeeded


async def test_other_clients_unaffected_by_errors(server: EtcdServer) -> None:
    a, b = Client(server.address), Client(server.address)
    try:
        for _ in range(20):  # a burst of bad requests
            await a.error("Range", pb.RangeRequest(key=b""))
        assert (await b.put(b"ok")).header.revision == 2
    finally:
        await a.close()
        await b.close()


async def test_custom_limits() -> None:
    async with EtcdServer(MemoryStore(), "127.0.0.1:0", max_txn_ops=4) as server:
        client = Client(server.address)
        try:
            five = pb.TxnRequest(success=[op_get(b"k%d" % i) for i in range(5)])
            code, text = await client.error("Txn", five)
            assert (code, text) == (INVALID, "etcdserver: too many operations in txn request")
        finally:
            await client.close()
