"""Leader election: acquire, renew, release, failover without overlap; virtual time and etcd.

Every elector's ``leading()`` records (clock time, identity, start/stop), so a test can check
the property that matters most: two leaders never act at once. Failures are made with a store
wrapper whose calls hang or raise on demand. Virtual time is driven in small steps by the
test; ``anyio.fail_after`` only bounds a test that would otherwise hang. The etcd test runs
the same scenarios on a real etcd with the real clock and short leases; failover also runs
under trio.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from kcore.api import Client
from kcore.clock import Clock, RealClock, VirtualClock
from kcore.errors import InvalidArgumentError, InvalidTypeError, UnavailableError
from kcore.objects import ObjectMeta, evolve, to_dict
from kcore.objects.kinds.coordination import Lease, LeaseSpec
from kcore.objects.kinds.core_config import Namespace
from kcore.reconcile.leader import JITTER_FACTOR, LeaderElector
from kcore.store import MemoryStore, Store
from tests.conftest import require_peer

pytestmark = pytest.mark.anyio

LIMIT = 20  # seconds of real time any test may block before it counts as hung
EPOCH = 1_704_067_200.123456  # wall time at clock 0: timestamps carry microseconds
STEP = 0.125  # virtual seconds per step (a binary fraction: sums stay exact)
LEASE, RENEW, RETRY = 15.0, 10.0, 2.0  # the defaults, client-go's too
MAX_RETRY_WAIT = RETRY * (1 + JITTER_FACTOR)


async def settle() -> None:
    """Let every runnable task run until all wait on something."""
    for _ in range(20):
        await anyio.lowlevel.checkpoint()
    await anyio.wait_all_tasks_blocked()


async def run_for(clock: VirtualClock, seconds: float) -> None:
    """Advance ``seconds`` of virtual time in small steps, letting tasks finish each one."""
    for _ in range(round(seconds / STEP)):
        await clock.advance(STEP)
        await settle()


def at(stamp: datetime | None) -> float:
    """The VirtualClock time a wall-time stamp written by an elector stands for."""
    assert stamp is not None
    return (stamp - datetime.fromtimestamp(EPOCH, UTC)).total_seconds()


class SwitchableStore:
    """A store that works, or (``mode``) hangs its writes, or fails every call."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.mode = "ok"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _gate(self, write: bool) -> None:
        if self.mode == "fail":
            raise UnavailableError("test: the store is switched off")
        if self.mode == "hang" and write:
            await anyio.sleep_forever()

    async def range(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate(write=False)
        return await self.inner.range(*args, **kwargs)

    async def txn(self, *args: Any, **kwargs: Any) -> Any:
        await self._gate(write=True)
        return await self.inner.txn(*args, **kwargs)


@dataclass
class Terms:
    """Records each leader's term from its own leading() and checks terms never overlap."""

    clock: Clock
    events: list[tuple[float, str, str]] = field(default_factory=list)

    def leading(self, who: str) -> Callable[[], Awaitable[None]]:
        async def lead() -> None:
            self.events.append((self.clock.now(), who, "start"))
            try:
                await anyio.sleep_forever()
            finally:
                self.events.append((self.clock.now(), who, "stop"))

        return lead

    def time_of(self, who: str, what: str) -> float:
        times = [t for t, w, e in self.events if w == who and e == what]
        assert len(times) == 1, (who, what, self.events)
        return times[0]

    def starts(self) -> list[str]:
        return [w for _, w, e in self.events if e == "start"]

    def assert_no_overlap(self) -> None:
        acting: str | None = None
        for _, who, what in self.events:
            if what == "start":
                assert acting is None, f"{who} started while {acting} was leading: {self.events}"
                acting = who
            else:
                assert acting == who, self.events
                acting = None


@dataclass
class Candidate:
    """One elector running in a task, cancellable on its own; notes when run() returned."""

    elector: LeaderElector
    terms: Terms
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    returned: float | None = None

    async def main(self) -> None:
        with self.scope:
            await self.elector.run(self.terms.leading(self.elector.identity))
            self.returned = self.terms.clock.now()


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[VirtualClock, MemoryStore, Client]]:
    clock = VirtualClock(epoch=EPOCH)
    store = MemoryStore(clock=clock)
    client = Client(store, clock=clock)
    await client.create(Namespace(metadata=ObjectMeta(name="default")))
    yield clock, store, client


def elector(client: Client, identity: str, **options: Any) -> LeaderElector:
    return LeaderElector(client, "ctrl", identity=identity, rng=random.Random(identity), **options)


async def read_lease(client: Client) -> Lease:
    return await client.get(Lease, "ctrl", "default")


# --- one elector --------------------------------------------------------------------------


async def test_one_elector_creates_the_lease_renews_it_and_releases_it(cluster: Any) -> None:
    clock, _, client = cluster
    terms = Terms(clock)
    a = Candidate(elector(client, "a"), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.main)
            await settle()
            assert a.elector.is_leader and a.elector.leader_identity == "a"
            assert terms.starts() == ["a"]
            lease = await read_lease(client)
            assert to_dict(lease)["spec"] == {
                "holderIdentity": "a",
                "leaseDurationSeconds": 15,
                "acquireTime": "2024-01-01T00:00:00.123456Z",
                "renewTime": "2024-01-01T00:00:00.123456Z",
                "leaseTransitions": 0,
            }
            renewals = []
            for _ in range(4):
                await run_for(clock, RETRY)
                lease = await read_lease(client)
                renewals.append(at(lease.spec.renew_time))
                assert at(lease.spec.acquire_time) == 0.0
                assert lease.spec.lease_transitions == 0
            assert renewals == pytest.approx([2.0, 4.0, 6.0, 8.0], abs=1e-6)
            assert to_dict(lease)["spec"]["renewTime"] == "2024-01-01T00:00:08.123456Z"
            a.scope.cancel()
    assert terms.events == [(0.0, "a", "start"), (pytest.approx(8.0), "a", "stop")]
    assert not a.elector.is_leader and a.elector.leader_identity is None
    released = to_dict(await read_lease(client))["spec"]
    assert released == {
        "holderIdentity": "",
        "leaseDurationSeconds": 1,
        "acquireTime": "2024-01-01T00:00:00.123456Z",
        "renewTime": "2024-01-01T00:00:08.123456Z",
        "leaseTransitions": 0,
    }


async def test_when_leading_returns_run_returns_and_releases(cluster: Any) -> None:
    clock, _, client = cluster
    done = []

    async def short_term() -> None:
        await clock.sleep(5)
        done.append(clock.now())

    a = elector(client, "a")
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.run, short_term)
            await settle()
            await run_for(clock, 6)
    assert done == [5.0]
    assert not a.is_leader
    assert (await read_lease(client)).spec.holder_identity == ""


async def test_an_error_in_leading_releases_and_propagates(cluster: Any) -> None:
    _, _, client = cluster

    async def broken() -> None:
        raise RuntimeError("controller bug")

    with anyio.fail_after(LIMIT), pytest.raises(RuntimeError, match="controller bug"):
        await elector(client, "a").run(broken)
    assert (await read_lease(client)).spec.holder_identity == ""


async def test_without_release_on_cancel_the_lease_stays_held(cluster: Any) -> None:
    clock, _, client = cluster
    terms = Terms(clock)
    a = Candidate(elector(client, "a", release_on_cancel=False), terms)
    b = Candidate(elector(client, "b"), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.main)
            await settle()
            group.start_soon(b.main)
            await run_for(clock, 3)
            a.scope.cancel()
            await settle()
            assert (await read_lease(client)).spec.holder_identity == "a"
            await run_for(clock, LEASE + MAX_RETRY_WAIT + 1)
            b.scope.cancel()
    terms.assert_no_overlap()
    last_renew = 2.0  # a renewed at 2 and was stopped at 3
    assert terms.time_of("b", "start") >= last_renew + LEASE


async def test_run_twice_at_once_is_refused(cluster: Any) -> None:
    clock, _, client = cluster
    a = elector(client, "a")
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.run, Terms(clock).leading("a"))
            await settle()
            with pytest.raises(InvalidArgumentError, match="already running"):
                await a.run(Terms(clock).leading("a"))
            group.cancel_scope.cancel()


# --- several electors ---------------------------------------------------------------------


async def test_a_renewing_holder_is_never_displaced(cluster: Any) -> None:
    clock, _, client = cluster
    terms = Terms(clock)
    seen: dict[str, list[str]] = {"a": [], "b": [], "c": []}
    candidates = [
        Candidate(elector(client, who, on_new_leader=seen[who].append), terms)
        for who in ("a", "b", "c")
    ]
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            for candidate in candidates:
                group.start_soon(candidate.main)
            await run_for(clock, 120)
            leaders = [c.elector.identity for c in candidates if c.elector.is_leader]
            assert len(leaders) == 1
            assert terms.starts() == leaders
            assert all(c.elector.leader_identity == leaders[0] for c in candidates)
            assert all(s == leaders for s in seen.values())
            group.cancel_scope.cancel()
    lease = await read_lease(client)
    assert lease.spec.lease_transitions == 0


class SkewedClock:
    """Another host's clock: same time flow, but its wall clock is an hour behind."""

    def __init__(self, inner: VirtualClock, skew: float) -> None:
        self.inner = inner
        self.skew = skew

    def now(self) -> float:
        return self.inner.now()

    def wall(self) -> float:
        return self.inner.wall() + self.skew

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

    async def sleep_until(self, deadline: float) -> None:
        await self.inner.sleep_until(deadline)


async def test_expiry_is_judged_on_the_observers_clock_not_the_renew_time(cluster: Any) -> None:
    clock, _, client = cluster
    terms = Terms(clock)
    behind = Candidate(elector(client, "behind", clock=SkewedClock(clock, -3600)), terms)
    b = Candidate(elector(client, "b"), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(behind.main)
            await settle()
            group.start_soon(b.main)
            await run_for(clock, 60)
            # renewTime says an hour ago, far past leaseDurationSeconds: b still waits.
            lease = await read_lease(client)
            assert at(lease.spec.renew_time) < -3500
            assert terms.starts() == ["behind"]
            assert b.elector.leader_identity == "behind"
            group.cancel_scope.cancel()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("failure", ["hang", "fail"])
async def test_failover_when_the_leader_cannot_renew(
    cluster: Any, failure: str, anyio_backend: str
) -> None:
    clock, store, client = cluster
    terms = Terms(clock)
    broken_store = SwitchableStore(store)
    b_saw: list[str] = []
    a = Candidate(elector(Client(broken_store, clock=clock), "a"), terms)  # type: ignore[arg-type]
    b = Candidate(elector(client, "b", on_new_leader=b_saw.append), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.main)
            await settle()
            group.start_soon(b.main)
            await run_for(clock, 21)
            broken_store.mode = failure
            last_renew = at((await read_lease(client)).spec.renew_time)
            await run_for(clock, LEASE + 2 * MAX_RETRY_WAIT + 1)
            assert a.returned is not None  # run() returned: leadership lost
            assert b.elector.is_leader and not a.elector.is_leader
            lease = await read_lease(client)
            group.cancel_scope.cancel()
    terms.assert_no_overlap()
    assert terms.starts() == ["a", "b"]
    assert last_renew == pytest.approx(20.0)
    a_stop, b_start = terms.time_of("a", "stop"), terms.time_of("b", "start")
    # a stops no later than renew_deadline after its last good renew...
    assert a_stop <= last_renew + RENEW + 1e-9
    # ...and b takes over only after a full lease_duration without seeing a renew,
    # at its first retry after that.
    assert last_renew + LEASE <= b_start <= last_renew + LEASE + 2 * MAX_RETRY_WAIT + STEP
    assert b_saw == ["a", "b"]
    assert lease.spec.holder_identity == "b"
    assert lease.spec.lease_transitions == 1
    assert at(lease.spec.acquire_time) >= b_start - STEP


async def test_graceful_release_hands_over_at_the_next_retry(cluster: Any) -> None:
    clock, _, client = cluster
    terms = Terms(clock)
    a = Candidate(elector(client, "a"), terms)
    b = Candidate(elector(client, "b"), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.main)
            await settle()
            group.start_soon(b.main)
            await run_for(clock, 30)
            a.scope.cancel()
            await settle()
            await run_for(clock, MAX_RETRY_WAIT + STEP)
            assert b.elector.is_leader
            spec = (await read_lease(client)).spec
            group.cancel_scope.cancel()
    terms.assert_no_overlap()
    a_stop, b_start = terms.time_of("a", "stop"), terms.time_of("b", "start")
    assert a_stop == pytest.approx(30.0)
    assert b_start - a_stop <= MAX_RETRY_WAIT + STEP < LEASE
    assert spec.holder_identity == "b" and spec.lease_transitions == 1


async def test_takeover_of_a_dead_holders_lease(cluster: Any) -> None:
    """A lease left by a holder that is gone: wait lease_duration from first sight, then
    take it over with acquireTime = renewTime = now and one more transition."""
    clock, _, client = cluster
    ancient = datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    await client.create(
        Lease(
            metadata=ObjectMeta(name="ctrl"),
            spec=LeaseSpec(
                holder_identity="ghost",
                lease_duration_seconds=15,
                acquire_time=ancient,
                renew_time=ancient,
                lease_transitions=4,
            ),
        )
    )
    terms = Terms(clock)
    a = Candidate(elector(client, "a", lease_duration=20, renew_deadline=12), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.main)
            await run_for(clock, 19.9)
            assert a.elector.leader_identity == "ghost" and not a.elector.is_leader
            await run_for(clock, MAX_RETRY_WAIT + STEP)
            assert a.elector.is_leader
            spec = to_dict(await read_lease(client))["spec"]
            group.cancel_scope.cancel()
    start = terms.time_of("a", "start")
    assert 20 <= start <= 20 + MAX_RETRY_WAIT + STEP
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 20
    assert spec["leaseTransitions"] == 5
    assert spec["renewTime"].endswith("Z") and len(spec["renewTime"]) == len(
        "2024-01-01T00:00:20.123456Z"
    )
    # acquireTime is the takeover instant; renewTime is that or a renew since.
    assert at(datetime.fromisoformat(spec["acquireTime"])) == pytest.approx(start, abs=1e-6)
    renewed = at(datetime.fromisoformat(spec["renewTime"]))
    assert renewed - start in (pytest.approx(0.0, abs=1e-6), pytest.approx(RETRY, abs=1e-6))


async def test_a_leader_overwritten_by_another_holder_stops_at_its_next_renew(
    cluster: Any,
) -> None:
    clock, _, client = cluster
    terms = Terms(clock)
    a = Candidate(elector(client, "a"), terms)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(a.main)
            await settle()
            await run_for(clock, 3)
            lease = await read_lease(client)
            await client.update(evolve(lease, spec=evolve(lease.spec, holder_identity="intruder")))
            await run_for(clock, 1.5)
            assert a.returned is not None and not a.elector.is_leader
    assert terms.time_of("a", "stop") == pytest.approx(4.0)
    assert a.elector.leader_identity == "intruder"


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lease", "renew", "retry"),
    [
        (10, 10, 2),  # a leader could be replaced before it gives up
        (10, 15, 2),
        (15, 10, 10),  # no retry fits before the renew deadline
        (15, 2.4, 2),  # renew_deadline must exceed retry_period * 1.2, not equal it
        (15, 10, 0),
        (15, 10, -1),
        (15, 10, math.nan),
        (math.inf, 10, 2),
    ],
)
async def test_bad_timings_are_refused(
    cluster: Any, lease: float, renew: float, retry: float
) -> None:
    _, _, client = cluster
    with pytest.raises(InvalidArgumentError) as caught:
        LeaderElector(
            client, "ctrl", lease_duration=lease, renew_deadline=renew, retry_period=retry
        )
    assert f"renew_deadline={renew!r}" in str(caught.value)
    assert f"lease_duration={lease!r}" in str(caught.value)


async def test_bad_names_are_refused(cluster: Any) -> None:
    _, _, client = cluster
    with pytest.raises(InvalidTypeError, match="retry_period='2'"):
        LeaderElector(client, "ctrl", retry_period="2")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="name"):
        LeaderElector(client, "")
    with pytest.raises(InvalidArgumentError, match="namespace"):
        LeaderElector(client, "ctrl", namespace="")
    with pytest.raises(InvalidArgumentError, match="identity is empty"):
        LeaderElector(client, "ctrl", identity="")
    one, two = LeaderElector(client, "ctrl"), LeaderElector(client, "ctrl")
    assert one.identity != two.identity and one.clock is client.clock


# --- a real etcd --------------------------------------------------------------------------


async def test_leader_election_on_real_etcd() -> None:
    """Two electors, each with its own Client and connection: release, then a hung store."""
    require_peer("etcd")
    from kcore.testing.etcd import EtcdProcess

    clock = RealClock()
    with anyio.fail_after(60):
        async with (
            EtcdProcess() as etcd,
            etcd.store() as store_a,
            etcd.store() as store_b,
            etcd.store() as store_c,
        ):
            admin = Client(store_a, clock=clock)
            await admin.create(Namespace(metadata=ObjectMeta(name="default")))

            # 1. First leads; cancelled, it releases; the second leads at its next retry,
            # well before the (long) lease would have expired.
            terms = Terms(clock)
            long = {"lease_duration": 30.0, "renew_deadline": 20.0, "retry_period": 0.3}
            a = Candidate(elector(Client(store_a, clock=clock), "a", **long), terms)
            b = Candidate(elector(Client(store_b, clock=clock), "b", **long), terms)
            async with anyio.create_task_group() as group:
                group.start_soon(a.main)
                await wait_until(lambda: a.elector.is_leader)
                group.start_soon(b.main)
                await wait_until(lambda: b.elector.leader_identity == "a")
                await anyio.sleep(0.5)
                assert terms.starts() == ["a"]
                a.scope.cancel()
                await wait_until(lambda: b.elector.is_leader)
                group.cancel_scope.cancel()
            terms.assert_no_overlap()
            assert terms.time_of("b", "start") - terms.time_of("a", "stop") < 30.0
            lease = await admin.get(Lease, "ctrl")
            assert lease.spec.holder_identity == "" and lease.spec.lease_transitions == 1

            # 2. The leader's store stops answering writes: it stops within renew_deadline,
            # the other takes over after lease_duration, and their terms do not overlap.
            terms = Terms(clock)
            short = {"lease_duration": 2.0, "renew_deadline": 1.5, "retry_period": 0.3}
            hung = SwitchableStore(store_c)
            c = Candidate(elector(Client(hung, clock=clock), "c", **short), terms)  # type: ignore[arg-type]
            d = Candidate(elector(Client(store_b, clock=clock), "d", **short), terms)
            async with anyio.create_task_group() as group:
                group.start_soon(c.main)
                await wait_until(lambda: c.elector.is_leader)
                group.start_soon(d.main)
                await wait_until(lambda: d.elector.leader_identity == "c")
                await anyio.sleep(0.5)
                hung.mode = "hang"
                await wait_until(lambda: d.elector.is_leader)
                assert c.returned is not None
                group.cancel_scope.cancel()
            terms.assert_no_overlap()
            assert terms.starts() == ["c", "d"]
            lease = await admin.get(Lease, "ctrl")
            assert lease.spec.lease_transitions == 3  # a→(released)→b→(released)→c→d


async def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` on real time (etcd test only), bounded."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.02)
