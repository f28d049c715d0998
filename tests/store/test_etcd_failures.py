"""EtcdStore when things break: failover, ambiguous writes, watches resumed after a member dies.

The failures are made on purpose and deterministically: a member killed by PID (and restarted
on its data dir), an endpoint nobody listens on, or a TCP proxy between client and etcd that
swallows answers and cuts connections when the test says so (``_tcp_proxy.TcpProxy``). Skips
without etcd unless KCORE_REQUIRE_PEERS=1.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest

from kcore import errors
from kcore.store import (
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    Watch,
    prefix_end,
)
from kcore.store.etcd import EtcdStore
from kcore.testing.etcd import EtcdCluster, EtcdProcess, free_port
from tests.conftest import require_peer

from ._tcp_proxy import TcpProxy

pytestmark = [pytest.mark.anyio, pytest.mark.peers]

TIMEOUT = 20.0


@pytest.fixture
async def etcd() -> AsyncIterator[EtcdProcess]:
    require_peer("etcd")
    async with EtcdProcess() as member:
        yield member


@pytest.fixture
async def direct(etcd: EtcdProcess) -> AsyncIterator[EtcdStore]:
    """A store straight to the member: the test's own view, never through the proxy."""
    async with etcd.store() as s:
        yield s


async def revision(store: EtcdStore) -> int:
    return (await store.range(b"\0", count_only=True)).header.revision


async def watched_revisions(w: Watch, n: int, timeout: float = TIMEOUT) -> list[int]:
    """The mod revisions of the next ``n`` events, in delivery order (canceled: fail)."""
    revs: list[int] = []
    with anyio.fail_after(timeout):
        while len(revs) < n:
            resp = await w.__anext__()
            assert not resp.canceled, resp
            revs += [ev.kv.mod_revision for ev in resp.events]
    return revs


async def nothing_more(w: Watch) -> None:
    """Everything up to now was delivered, and it was nothing (a progress notice first)."""
    await w.request_progress()
    with anyio.fail_after(TIMEOUT):
        resp = await w.__anext__()
    assert resp.events == () and not resp.canceled, resp


# --- reads fail over ---------------------------------------------------------------------------


async def test_reads_fail_over_past_a_dead_endpoint(etcd: EtcdProcess, direct: EtcdStore) -> None:
    lease = await direct.lease_grant(30)
    await direct.put(b"k", b"v", lease=lease.id)
    dead = f"127.0.0.1:{free_port()}"
    async with EtcdStore([dead, etcd.endpoint], timeout=5) as store:
        assert (await store.range(b"k")).kvs[0].value == b"v"
        assert (await store.status()).key_count == 1
        assert (await store.lease_time_to_live(lease.id, keys=True)).keys == (b"k",)
        assert [s.id for s in (await store.leases()).leases] == [lease.id]
        assert (await store.lease_keepalive(lease.id)).ttl == 30
        txn = await store.txn([], [RangeRequest(b"k")], [])  # read-only: may fail over
        assert txn.responses[0].kvs[0].value == b"v"


async def test_reads_fail_over_past_a_hung_endpoint(etcd: EtcdProcess, direct: EtcdStore) -> None:
    await direct.put(b"k", b"v")
    async with TcpProxy(etcd.endpoint) as proxy, EtcdStore([proxy.endpoint, etcd.endpoint]) as s:
        await s.range(b"k")  # connected through the proxy, which is now preferred
        proxy.hold_answers = True
        s.endpoints.timeout = 4.0
        started = time.monotonic()
        assert (await s.range(b"k")).kvs[0].value == b"v"
        assert time.monotonic() - started < 4.0  # the hung endpoint got part of the time only


async def test_no_endpoint_answers(etcd: EtcdProcess) -> None:
    dead = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    async with EtcdStore(dead, timeout=1.0) as store:
        with pytest.raises(errors.UnavailableError, match="no etcd endpoint answered"):
            await store.range(b"k")
        with pytest.raises(errors.UnavailableError, match="sent to none of them"):
            await store.put(b"k", b"v")


async def test_paused_member_then_resumed(etcd: EtcdProcess, direct: EtcdStore) -> None:
    await direct.put(b"k", b"v")
    async with etcd.store(timeout=1.0) as store:
        etcd.pause()  # SIGSTOP: connections stay open, nothing answers
        try:
            with pytest.raises(errors.UnavailableError):
                await store.range(b"k")
        finally:
            etcd.resume()
        assert (await store.range(b"k")).kvs[0].value == b"v"


# --- writes: never applied twice ----------------------------------------------------------------


async def test_write_not_sent_goes_to_the_next_endpoint(
    etcd: EtcdProcess, direct: EtcdStore
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with EtcdStore([dead, etcd.endpoint], timeout=5) as store:
        resp = await store.put(b"k", b"v")
    assert resp.header.revision == 2
    assert (await direct.range(b"k")).kvs[0].version == 1


async def test_write_whose_answer_is_lost_is_not_retried(
    etcd: EtcdProcess, direct: EtcdStore
) -> None:
    """The put reaches etcd and is applied; the connection is cut before the answer gets back.
    The client must say "outcome unknown" and must not send it again (here: to the second
    endpoint, which works), so the key is written exactly once."""
    async with (
        TcpProxy(etcd.endpoint) as proxy,
        EtcdStore([proxy.endpoint, etcd.endpoint], timeout=TIMEOUT) as store,
    ):
        await store.put(b"warm", b"up")  # the connection through the proxy is up and preferred
        before = await revision(direct)
        proxy.hold_answers = True
        raised: list[BaseException] = []

        async def put() -> None:
            try:
                await store.put(b"k", b"v")
            except errors.OutcomeUnknownError as exc:
                raised.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(put)
            with anyio.fail_after(TIMEOUT):  # applied by etcd (seen directly) ...
                while not (await direct.range(b"k")).kvs:
                    await anyio.sleep(0.01)
            proxy.cut()  # ... and then the connection breaks before the answer arrives
        assert len(raised) == 1, "the lost answer must raise OutcomeUnknownError"
        assert "may or may not have been applied" in str(raised[0])
        assert "read the state back" in str(raised[0])
        kv = (await direct.range(b"k")).kvs[0]
        assert (kv.version, kv.mod_revision) == (1, before + 1)
        assert await revision(direct) == before + 1  # applied once, never retried


@pytest.mark.parametrize(
    "write",
    ["put", "delete", "txn", "compact", "lease_grant", "lease_revoke"],
)
async def test_write_past_its_deadline_has_an_unknown_outcome(
    etcd: EtcdProcess, direct: EtcdStore, write: str
) -> None:
    await direct.put(b"k", b"v")  # 2
    lease = await direct.lease_grant(30)
    async with TcpProxy(etcd.endpoint) as proxy, EtcdStore(proxy.endpoint) as store:
        await store.range(b"k")
        proxy.hold_answers = True  # every answer is lost; the requests still reach etcd
        store.endpoints.timeout = 1.0
        calls = {
            "put": lambda: store.put(b"k", b"w"),
            "delete": lambda: store.delete_range(b"k"),
            "txn": lambda: store.txn([], [PutRequest(b"t", b"1"), DeleteRangeRequest(b"k")], []),
            "compact": lambda: store.compact(2),
            "lease_grant": lambda: store.lease_grant(30, id=777),
            "lease_revoke": lambda: store.lease_revoke(lease.id),
        }
        with pytest.raises(errors.OutcomeUnknownError):
            await calls[write]()
    # It was applied exactly once (each of these would fail or change more if sent twice).
    with anyio.fail_after(TIMEOUT):
        if write in ("put", "delete", "txn"):
            while await revision(direct) == 2:
                await anyio.sleep(0.01)
            assert await revision(direct) == 3
        elif write == "compact":
            while (await direct.status()).compact_revision != 2:
                await anyio.sleep(0.01)
        elif write == "lease_grant":
            while (await direct.lease_time_to_live(777)).ttl < 0:
                await anyio.sleep(0.01)
        else:
            while (await direct.lease_time_to_live(lease.id)).ttl >= 0:
                await anyio.sleep(0.01)


async def test_read_only_txn_is_a_read(etcd: EtcdProcess, direct: EtcdStore) -> None:
    await direct.put(b"k", b"v")
    async with TcpProxy(etcd.endpoint) as proxy, EtcdStore([proxy.endpoint, etcd.endpoint]) as s:
        await s.range(b"k")
        proxy.hold_answers = True
        s.endpoints.timeout = 4.0
        from kcore.store import Compare

        resp = await s.txn(
            [Compare(b"k", CompareTarget.VERSION, CompareResult.EQUAL, version=1)],
            [RangeRequest(b"k")],
            [RangeRequest(b"other")],
        )
        assert resp.succeeded and resp.responses[0].kvs[0].value == b"v"


# --- watches resume without gap or duplicate ----------------------------------------------------


async def test_watch_resumes_after_a_cut_with_answers_in_flight(
    etcd: EtcdProcess, direct: EtcdStore
) -> None:
    async with (
        TcpProxy(etcd.endpoint) as proxy,
        EtcdStore(proxy.endpoint, reconnect_timeout=TIMEOUT) as store,
    ):
        w = await store.watch(b"w/", prefix_end(b"w/"))
        written = [(await direct.put(b"w/%d" % i, b"v")).header.revision for i in range(5)]
        assert await watched_revisions(w, 5) == written
        proxy.hold_answers = True  # etcd sends these events; the watcher never gets them
        written += [(await direct.put(b"w/%d" % i, b"v")).header.revision for i in range(5, 10)]
        with anyio.fail_after(TIMEOUT):
            while proxy.held_bytes == 0:
                await anyio.sleep(0.01)
        proxy.hold_answers = False
        proxy.cut()  # the stream breaks; the watch comes back from the last delivered + 1
        written += [(await direct.put(b"w/%d" % i, b"v")).header.revision for i in range(10, 15)]
        assert await watched_revisions(w, 10) == written[5:]
        await nothing_more(w)
        await w.cancel()


async def test_watch_resumes_on_another_member_after_its_member_is_killed() -> None:
    """3 members; the member serving the watch is killed (by PID), writes go on elsewhere, it
    is restarted, and then the next serving member is killed too. Every write's event arrives
    once, in order. Writes pause until a leader is back after each kill, so each one is
    acknowledged (test_watch_across_a_kill_while_writes_go_on writes through the election)."""
    require_peer("etcd")
    async with EtcdCluster(3) as cluster, cluster.store(timeout=TIMEOUT) as store:
        store.reconnect_timeout = TIMEOUT
        by_endpoint = {m.endpoint: m for m in cluster.members}
        w = await store.watch(b"c/", prefix_end(b"c/"))
        written: list[int] = []

        async def write(n: int) -> None:
            for _ in range(n):
                written.append((await store.put(b"c/%d" % len(written), b"v")).header.revision)

        await write(10)
        assert await watched_revisions(w, 10) == written
        first = by_endpoint[w.endpoint]
        await first.kill()
        await cluster.leader()  # writes sent during an election could time out ambiguously
        await write(10)  # the store's reads and writes fail over; the watch resumes elsewhere
        assert await watched_revisions(w, 10) == written[10:]
        assert w.endpoint != first.endpoint
        await first.restart()
        await write(10)
        second = by_endpoint[w.endpoint]
        await second.kill()
        await cluster.leader()
        await write(10)
        await second.restart()
        await write(10)
        assert await watched_revisions(w, 30) == written[20:]
        assert len(set(written)) == 50
        await nothing_more(w)
        await w.cancel()


async def test_watch_across_a_kill_while_writes_go_on() -> None:
    """The leader is killed while a writer runs. A write whose answer was lost is read back
    (OutcomeUnknownError); the watch delivers exactly the writes that happened, in order."""
    require_peer("etcd")
    async with EtcdCluster(3) as cluster, cluster.store(timeout=TIMEOUT) as store:
        store.reconnect_timeout = TIMEOUT
        leader = await cluster.leader()
        w = await store.watch(b"c/", prefix_end(b"c/"))
        acknowledged: list[int] = []
        unknown: list[bytes] = []
        stop = anyio.Event()

        async def writer() -> None:
            for i in range(10_000):
                if stop.is_set():
                    return
                key = b"c/%05d" % i
                try:
                    acknowledged.append((await store.put(key, b"v")).header.revision)
                except errors.OutcomeUnknownError:
                    unknown.append(key)

        async with anyio.create_task_group() as tg:
            tg.start_soon(writer)
            with anyio.fail_after(TIMEOUT):
                while len(acknowledged) < 20:
                    await anyio.sleep(0.01)
            await leader.kill()
            with anyio.fail_after(TIMEOUT):
                target = len(acknowledged) + 20
                while len(acknowledged) < target:
                    await anyio.sleep(0.01)
            await leader.restart()
            stop.set()
        happened = list(acknowledged)
        for key in unknown:  # the caller's job after OutcomeUnknownError: read back
            kvs = (await store.range(key)).kvs
            if kvs:
                happened.append(kvs[0].mod_revision)
        happened.sort()
        assert await watched_revisions(w, len(happened)) == happened
        await nothing_more(w)
        await w.cancel()
