"""EtcdStore against a real etcd (started per test on loopback by kcore.testing.etcd).

Every method once through the wire; etcd's error statuses mapped to kcore's classes (checked
on etcd's own answers, bypassing the client-side checks where those would catch the request
first); bad Python input refused before anything is sent; watch details that only a real
server shows (fragments, compaction while a watch is away); the lease keeper across several
TTLs; mutual TLS with a CA made at test time. Failover, ambiguous writes and watch resume
after a member dies are in test_etcd_failures.py. Skips without etcd unless
KCORE_REQUIRE_PEERS=1.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from kcore import errors
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    EventType,
    KeyValue,
    PutRequest,
    RangeRequest,
    Store,
    TxnRequest,
    Watch,
    WatchResponse,
    prefix_end,
)
from kcore.store._etcd_rpc import Endpoint, RpcFailure, error_from_failure
from kcore.store._etcdpb import rpc_pb2
from kcore.store.etcd import EtcdStore, TLSConfig
from kcore.testing.etcd import EtcdProcess, EtcdStartError, EtcdTLS
from tests.conftest import require_peer

from ._tcp_proxy import TcpProxy

pytestmark = [pytest.mark.anyio, pytest.mark.peers]

TIMEOUT = 10.0


@pytest.fixture
async def etcd() -> AsyncIterator[EtcdProcess]:
    require_peer("etcd")
    async with EtcdProcess() as member:
        yield member


@pytest.fixture
async def store(etcd: EtcdProcess) -> AsyncIterator[EtcdStore]:
    async with etcd.store(timeout=TIMEOUT) as s:
        yield s


async def next_response(w: Watch) -> WatchResponse:
    with anyio.fail_after(TIMEOUT):
        return await w.__anext__()


async def events_of(w: Watch, n: int) -> list[tuple[EventType, bytes, int]]:
    out: list[tuple[EventType, bytes, int]] = []
    with anyio.fail_after(TIMEOUT):
        while len(out) < n:
            resp = await w.__anext__()
            assert not resp.canceled, resp
            out += [(ev.type, ev.kv.key, ev.kv.mod_revision) for ev in resp.events]
    return out


# --- every method, through the wire --------------------------------------------------------------


async def test_is_a_store(store: EtcdStore) -> None:
    assert isinstance(store, Store)


async def test_kv_methods(store: EtcdStore) -> None:
    put = await store.put(b"a", b"1")
    assert put.header.revision == 2 and put.header.cluster_id and put.header.member_id
    again = await store.put(b"a", b"2", prev_kv=True)
    assert again.prev_kv == KeyValue(b"a", 2, 2, 1, b"1")
    await store.put(b"b", b"3")
    got = await store.range(b"a", b"c", limit=1)
    assert got.kvs == (KeyValue(b"a", 2, 3, 2, b"2"),) and got.more and got.count == 2
    assert (await store.range(b"a", revision=2)).kvs[0].value == b"1"
    deleted = await store.delete_range(b"a", b"c", prev_kv=True)
    assert deleted.deleted == 2 and [kv.key for kv in deleted.prev_kvs] == [b"a", b"b"]
    assert deleted.header.revision == 5


async def test_txn(store: EtcdStore) -> None:
    await store.put(b"k", b"v")  # 2
    ok = await store.txn(
        [Compare(b"k", CompareTarget.VALUE, CompareResult.EQUAL, value=b"v")],
        [
            PutRequest(b"k", b"w"),
            RangeRequest(b"k"),
            TxnRequest([], [DeleteRangeRequest(b"gone")], []),
        ],
        [PutRequest(b"else", b"x")],
    )
    assert ok.succeeded and ok.header.revision == 3
    assert ok.responses[1].kvs[0].value == b"w"  # later reads see earlier writes
    read_only = await store.txn([Compare(b"k", CompareTarget.VERSION, CompareResult.GREATER)])
    assert read_only.succeeded and read_only.header.revision == 3


async def test_compact_and_status(store: EtcdStore) -> None:
    for i in range(5):
        await store.put(b"k%d" % (i % 2), b"v")  # 2..6
    status = await store.status()
    assert (status.header.revision, status.compact_revision, status.key_count) == (6, 0, 2)
    assert status.version.startswith("3.") and status.leader == status.header.member_id
    await store.compact(4, physical=True)
    assert (await store.status()).compact_revision == 4
    await store.compact(6)
    assert (await store.status()).compact_revision == 6


async def test_leases(store: EtcdStore) -> None:
    lease = await store.lease_grant(30)
    await store.put(b"held", b"v", lease=lease.id)
    assert (await store.lease_keepalive(lease.id)).ttl == 30
    ttl = await store.lease_time_to_live(lease.id, keys=True)
    assert ttl.granted_ttl == 30 and ttl.keys == (b"held",) and 0 < ttl.ttl <= 30
    assert [s.id for s in (await store.leases()).leases] == [lease.id]
    await store.lease_revoke(lease.id)
    assert (await store.range(b"held")).kvs == ()
    assert (await store.lease_keepalive(lease.id)).ttl == 0
    assert (await store.lease_time_to_live(lease.id)).ttl == -1


async def test_watch_basics(store: EtcdStore) -> None:
    async with await store.watch(b"p/", prefix_end(b"p/"), prev_kv=True) as w:
        assert w.endpoint == store.endpoints.all[0].target
        await store.put(b"p/a", b"1")  # 2
        await store.put(b"q", b"1")  # 3
        await store.delete_range(b"p/a")  # 4
        resp = await next_response(w)
        assert not resp.created and resp.watch_id == w.watch_id
        assert [(ev.type, ev.kv.mod_revision) for ev in resp.events] == [(EventType.PUT, 2)]
        resp = await next_response(w)
        assert resp.events[0].type is EventType.DELETE
        assert resp.events[0].prev_kv == KeyValue(b"p/a", 2, 2, 1, b"1")


async def test_watch_ids_are_unique_and_a_chosen_one_is_checked(store: EtcdStore) -> None:
    a = await store.watch(b"a")
    b = await store.watch(b"a", watch_id=77)
    try:
        assert a.watch_id != b.watch_id and b.watch_id == 77
        with pytest.raises(errors.InvalidArgumentError, match="watch_id 77"):
            await store.watch(b"b", watch_id=77)
    finally:
        await a.cancel()
        await b.cancel()
    c = await store.watch(b"c", watch_id=77)  # free again once canceled
    await c.cancel()


async def test_progress_request_waits_for_queued_events(store: EtcdStore) -> None:
    """etcd 3.4.23 can answer a progress request before queued events (etcd #15697);
    EtcdStore's notice comes only after them."""
    async with await store.watch(b"k", b"l") as w:
        for i in range(30):
            await store.put(b"k%d" % i, b"v")  # 2..31
        await store.put(b"other", b"v")  # 32: not watched
        await w.request_progress()
        seen: list[int] = []
        with anyio.fail_after(TIMEOUT):
            while True:
                resp = await w.__anext__()
                if not resp.events:
                    break
                seen += [ev.kv.mod_revision for ev in resp.events]
        assert seen == list(range(2, 32))
        assert resp.header.revision == 32
    # A watch replaying history: etcd 3.4.23 answers its progress request before the replay
    # (every time), so a forwarded notice would claim events were delivered that were not.
    async with await store.watch(b"k", b"l", start_revision=2) as w:
        await w.request_progress()
        seen = []
        with anyio.fail_after(TIMEOUT):
            while True:
                resp = await w.__anext__()
                if not resp.events:
                    break
                seen += [ev.kv.mod_revision for ev in resp.events]
        assert seen == list(range(2, 32))
        assert resp.header.revision == 32


def test_asyncio_only() -> None:
    pytest.importorskip("trio")

    async def use() -> None:
        async with EtcdStore("127.0.0.1:1") as store:  # refused before any connection
            await store.range(b"k")

    with pytest.raises(errors.KcoreError, match="asyncio only"):
        anyio.run(use, backend="trio")


# --- errors: etcd's statuses come back as kcore's classes ----------------------------------------


async def test_server_errors_are_mapped(store: EtcdStore) -> None:
    await store.put(b"k", b"v")
    await store.put(b"k", b"w")
    await store.compact(3)
    with pytest.raises(errors.CompactedError, match=r"^mvcc: required revision has been"):
        await store.range(b"k", revision=2)
    with pytest.raises(errors.FutureRevisionError):
        await store.range(b"k", revision=99)
    with pytest.raises(errors.FutureRevisionError):
        await store.compact(99)
    with pytest.raises(errors.CompactedError):
        await store.compact(2)
    with pytest.raises(errors.LeaseNotFoundError, match="requested lease not found"):
        await store.put(b"k", b"v", lease=12345)
    with pytest.raises(errors.LeaseNotFoundError):
        await store.lease_revoke(12345)
    await store.lease_grant(10, id=5)
    with pytest.raises(errors.LeaseExistsError):
        await store.lease_grant(10, id=5)
    with pytest.raises(errors.LeaseTTLTooLargeError):
        await store.lease_grant(9_000_000_001)
    with pytest.raises(errors.KeyNotFoundError):
        await store.put(b"missing", ignore_value=True)
    assert (await store.range(b"k")).header.revision == 3  # nothing above changed anything


async def test_too_many_ops_from_the_server(etcd: EtcdProcess) -> None:
    # A client that believes the limit is higher sends the txn: etcd's refusal is mapped.
    async with etcd.store(max_txn_ops=1000) as store:
        ops = [PutRequest(b"k%d" % i, b"v") for i in range(129)]
        with pytest.raises(errors.TooManyOpsError) as exc:
            await store.txn([], ops, [])
        assert str(exc.value) == errors.TooManyOpsError.ETCD_TEXT
        assert (await store.range(b"\0", b"\0", count_only=True)).count == 0


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (
            rpc_pb2.TxnRequest(
                success=[
                    rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"d")),
                    rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"d")),
                ]
            ),
            errors.DuplicateKeyError,
        ),
        (
            rpc_pb2.TxnRequest(
                success=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b""))]
            ),
            errors.KeyNotProvidedError,
        ),
        (
            rpc_pb2.TxnRequest(
                success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"a", value=b"x"))],
                compare=[rpc_pb2.Compare(key=b"a", target=rpc_pb2.Compare.LEASE, lease=0)],
            ),
            None,  # fine: the mapping does not invent errors
        ),
    ],
    ids=["duplicate key", "empty key", "ok"],
)
async def test_etcd_texts_match_kcore_classes(
    etcd: EtcdProcess, request_: rpc_pb2.TxnRequest, error: type[Exception] | None
) -> None:
    """Requests the client would refuse itself, sent raw: etcd's own text finds the class."""
    endpoint = Endpoint(etcd.endpoint, None, [])
    try:
        if error is None:
            await endpoint.unary("/etcdserverpb.KV/Txn", request_, rpc_pb2.TxnResponse, 5)
            return
        with pytest.raises(RpcFailure) as failure:
            await endpoint.unary("/etcdserverpb.KV/Txn", request_, rpc_pb2.TxnResponse, 5)
        assert failure.value.definite
        mapped = error_from_failure(failure.value)
        assert type(mapped) is error
    finally:
        await endpoint.aclose()


async def test_unknown_status_falls_back_on_the_code() -> None:
    mapped = error_from_failure(RpcFailure("h:1", "NOT_FOUND", "etcdserver: member not found"))
    assert type(mapped) is errors.NotFoundError and "member not found" in str(mapped)
    mapped = error_from_failure(RpcFailure("h:1", "DATA_LOSS", "boom"))
    assert type(mapped) is errors.KcoreError


# --- bad input is refused before anything is sent ------------------------------------------------


async def test_bad_input_is_refused_before_sending(etcd: EtcdProcess) -> None:
    async with TcpProxy(etcd.endpoint) as proxy, EtcdStore(proxy.endpoint) as store:
        calls = [
            store.range("k"),  # type: ignore[arg-type]
            store.put(b"k", "v"),  # type: ignore[arg-type]
            store.put(b""),
            store.put(b"k", b"v", ignore_value=True),
            store.delete_range(b"k", None),  # type: ignore[arg-type]
            store.txn([], [PutRequest(b"d"), PutRequest(b"d")], []),
            store.txn([], [PutRequest(b"k%d" % i) for i in range(129)], []),
            store.range(b"k", sort_order=9),  # type: ignore[arg-type]
            store.compact(-1),
            store.lease_grant("10"),  # type: ignore[arg-type]
            store.lease_keepalive(None),  # type: ignore[arg-type]
            store.watch(b"k", filters=[7]),
            store.watch(b"k", start_revision=-3),
        ]
        for call in calls:
            with pytest.raises(errors.InvalidArgumentError):
                await call
        assert proxy.bytes_to_server == 0 and proxy.connections == 0


# --- watches: fragments, compaction while away ---------------------------------------------------


async def test_fragments_are_joined_into_one_response() -> None:
    require_peer("etcd")
    args = ["--max-request-bytes=8388608"]  # a 3 MiB txn; etcd fragments above 1.5 MiB
    async with EtcdProcess(extra_args=args) as etcd, etcd.store() as store:
        async with await store.watch(b"big/", prefix_end(b"big/"), fragment=True) as w:
            values = [bytes([65 + i]) * (1024 * 1024) for i in range(3)]
            await store.txn([], [PutRequest(b"big/%d" % i, v) for i, v in enumerate(values)], [])
            resp = await next_response(w)
        assert not resp.fragment
        assert [ev.kv.value for ev in resp.events] == values


async def test_resume_into_compacted_history_reports_it(
    etcd: EtcdProcess, store: EtcdStore
) -> None:
    async with (
        TcpProxy(etcd.endpoint) as proxy,
        EtcdStore(proxy.endpoint, reconnect_timeout=TIMEOUT) as via_proxy,
    ):
        w = await via_proxy.watch(b"k")
        await store.put(b"k", b"1")  # 2
        assert await events_of(w, 1) == [(EventType.PUT, b"k", 2)]
        proxy.refuse = True
        proxy.cut()  # the watch's stream breaks; it cannot come back yet
        for i in range(3):
            await store.put(b"k", b"%d" % i)  # 3..5
        await store.compact(5)
        proxy.refuse = False
        resp = await next_response(w)  # resuming from 3 finds history compacted to 5
        assert resp.canceled and resp.compact_revision == 5 and not resp.events
        assert resp.watch_id == w.watch_id
        with anyio.fail_after(TIMEOUT):
            assert [r async for r in w] == []


async def test_cancel_while_reconnecting(etcd: EtcdProcess) -> None:
    async with (
        TcpProxy(etcd.endpoint) as proxy,
        EtcdStore(proxy.endpoint, reconnect_timeout=60) as via_proxy,
    ):
        w = await via_proxy.watch(b"k")
        proxy.refuse = True
        proxy.cut()
        await anyio.sleep(0.2)  # it is retrying now
        with anyio.fail_after(TIMEOUT):
            await w.cancel()
            assert [r async for r in w] == []


async def test_watch_gives_up_after_reconnect_timeout(etcd: EtcdProcess) -> None:
    async with (
        TcpProxy(etcd.endpoint) as proxy,
        EtcdStore(proxy.endpoint, reconnect_timeout=0.5) as via_proxy,
    ):
        w = await via_proxy.watch(b"k")
        proxy.refuse = True
        proxy.cut()
        with anyio.fail_after(TIMEOUT), pytest.raises(errors.UnavailableError, match="watch"):
            await w.__anext__()


# --- lease keeper --------------------------------------------------------------------------------


async def test_keeper_keeps_a_lease_alive_across_several_ttls() -> None:
    require_peer("etcd")
    # A 500 ms election timeout makes etcd's minimum lease TTL 1 s (1.5 x election timeout).
    fast = ["--heartbeat-interval=50", "--election-timeout=500"]
    async with EtcdProcess(extra_args=fast) as etcd, etcd.store() as store:
        kept = await store.lease_grant(1)
        dropped = await store.lease_grant(1)
        assert kept.ttl == 1
        await store.put(b"kept", b"v", lease=kept.id)
        await store.put(b"dropped", b"v", lease=dropped.id)
        async with store.keep_alive(kept.id) as keeper:
            await anyio.sleep(3.5)  # 3.5 TTLs
            assert not keeper.lost.is_set() and keeper.renewals >= 4
            assert (await store.range(b"kept")).count == 1
            assert (await store.range(b"dropped")).count == 0
        with anyio.fail_after(TIMEOUT):  # released: it expires like any other lease
            while (await store.range(b"kept")).count:
                await anyio.sleep(0.1)


async def test_keeper_reports_a_lost_lease(store: EtcdStore) -> None:
    lease = await store.lease_grant(3)
    async with store.keep_alive(lease.id) as keeper:
        await store.lease_revoke(lease.id)
        with anyio.fail_after(TIMEOUT):
            await keeper.lost.wait()
    with pytest.raises(errors.LeaseNotFoundError):
        async with store.keep_alive(lease.id):
            pass


async def test_keeper_revokes_on_exit_when_asked(store: EtcdStore) -> None:
    lease = await store.lease_grant(30)
    await store.put(b"k", b"v", lease=lease.id)
    async with store.keep_alive(lease.id, revoke_on_exit=True):
        pass
    assert (await store.range(b"k")).count == 0


# --- TLS -----------------------------------------------------------------------------------------


def make_pki(directory: Path) -> dict[str, str]:
    """A throwaway CA, a server certificate for 127.0.0.1, and a client certificate (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    files: dict[str, str] = {}

    def write(name: str, data: bytes) -> None:
        path = directory / name
        path.write_bytes(data)
        files[name] = str(path)

    def cert(
        common: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name | None,
        signer: ec.EllipticCurvePrivateKey,
        usage: x509.ObjectIdentifier | None,
    ) -> x509.Certificate:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer or subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=usage is None, path_length=None), True)
        )
        if usage is not None:
            localhost = [
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName("localhost"),
            ]
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            builder = builder.add_extension(x509.SubjectAlternativeName(localhost), False)
        return builder.sign(signer, hashes.SHA256())

    def pem(c: x509.Certificate) -> bytes:
        return c.public_bytes(serialization.Encoding.PEM)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("kcore test CA", ca_key, None, ca_key, None)
    write("ca.pem", pem(ca))
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        write(f"{role}.pem", pem(cert(f"kcore test {role}", key, ca.subject, ca_key, usage)))
        write(
            f"{role}-key.pem",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    return files


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, str]:
    pytest.importorskip("cryptography")
    return make_pki(tmp_path)


async def test_mutual_tls(pki: dict[str, str]) -> None:
    require_peer("etcd")
    tls = EtcdTLS(
        pki["server.pem"],
        pki["server-key.pem"],
        pki["ca.pem"],
        client_cert_auth=True,
        client_cert_file=pki["client.pem"],
        client_key_file=pki["client-key.pem"],
    )
    async with EtcdProcess(tls=tls) as etcd:
        assert etcd.client_url.startswith("https://")
        client = TLSConfig(pki["ca.pem"], pki["client.pem"], pki["client-key.pem"])
        async with EtcdStore(etcd.endpoint, tls=client) as store:
            await store.put(b"secret", b"v")
            async with await store.watch(b"secret") as w:
                await store.put(b"secret", b"w")
                assert await events_of(w, 1) == [(EventType.PUT, b"secret", 3)]
        # Without a client certificate, or trusting another CA, nothing gets through.
        for refused in (TLSConfig(pki["ca.pem"]), TLSConfig(pki["client.pem"])):
            async with EtcdStore(etcd.endpoint, tls=refused, timeout=1.5) as store:
                with pytest.raises(errors.UnavailableError):
                    await store.range(b"secret")
        async with EtcdStore(etcd.endpoint, timeout=1.5) as plain:  # no TLS at all
            with pytest.raises(errors.UnavailableError):
                await plain.range(b"secret")


async def test_tls_server_without_client_auth(pki: dict[str, str]) -> None:
    require_peer("etcd")
    tls = EtcdTLS(pki["server.pem"], pki["server-key.pem"], pki["ca.pem"])
    client = TLSConfig(pki["ca.pem"])
    async with (
        EtcdProcess(tls=tls) as etcd,
        EtcdStore(f"https://{etcd.endpoint}", tls=client) as store,
    ):
        assert (await store.put(b"k", b"v")).header.revision == 2


def test_tls_config_needs_cert_and_key_together() -> None:
    with pytest.raises(errors.InvalidArgumentError, match="cert_file and key_file"):
        TLSConfig("ca.pem", cert_file="client.pem")
    with pytest.raises(ValueError, match="client_cert_file"):
        EtcdTLS("s.pem", "s-key.pem", "ca.pem", client_cert_auth=True)


# --- the helper itself ---------------------------------------------------------------------------


async def test_process_restart_keeps_data_and_ports(etcd: EtcdProcess) -> None:
    async with etcd.store() as store:
        await store.put(b"k", b"v")
    pid, port = etcd.pid, etcd.client_port
    await etcd.kill()
    assert not etcd.running
    await etcd.restart()
    assert etcd.pid != pid and etcd.client_port == port
    async with etcd.store() as store:
        assert (await store.range(b"k")).kvs[0].value == b"v"


async def test_process_that_cannot_start_says_why(tmp_path: Path) -> None:
    require_peer("etcd")
    bad = EtcdProcess(extra_args=["--no-such-flag"], start_timeout=5)
    try:
        with pytest.raises(EtcdStartError, match="no-such-flag"):
            await bad.start()
    finally:
        await bad.aclose()
