"""The Manager: graceful stop and drain, health, late controllers, and leader-election failover.

Most tests borrow a Cluster's VirtualClock, MemoryStore and Client and run their own Managers
in a task group beside it: the Cluster moves virtual time whenever every task on the loop is
idle, its own manager included. Failover runs twice: on virtual time (two managers sharing one
store, the leader stopped or its writes failing) and on a real etcd with real time and a short
lease. Every reconcile records (time, manager, start/end), and the records prove that the two
managers' reconciles never overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import pytest

import kcore
from kcore import errors
from kcore.api import Client
from kcore.clock import Clock, RealClock
from kcore.kinds import ConfigMap
from kcore.objects import ObjectMeta
from kcore.reconcile import Context, Controller, Manager, Request, Result
from kcore.store import Store
from kcore.testing.cluster import Cluster
from tests.conftest import require_peer

pytestmark = pytest.mark.anyio

LIMIT = 30  # real seconds before a virtual-time test counts as hung


@kcore.kind("manager.test.kcore.dev/v1", "Pump")
class Pump(kcore.Object):
    rate: int = 0


def pump(name: str) -> Pump:
    return Pump(metadata=ObjectMeta(name=name))


@dataclass
class Running:
    """A manager running in a task; notes the clock time its run() returned."""

    manager: Manager
    clock: Clock
    returned_at: float | None = None

    async def run(self) -> None:
        await self.manager.run()
        self.returned_at = self.clock.now()


@dataclass
class Reconciles:
    """(time, manager, "start"/"end") of every reconcile of several managers, in order."""

    clock: Clock
    events: list[tuple[float, str, str]] = field(default_factory=list)

    def controller(
        self, who: str, work: float = 0.5, again: float = 1.0, kind: type[Any] = Pump
    ) -> Controller[Any]:
        async def reconcile(ctx: Context, req: Request) -> Result:
            self.events.append((self.clock.now(), who, "start"))
            try:
                await ctx.clock.sleep(work)
            finally:
                self.events.append((self.clock.now(), who, "end"))
            return Result(requeue_after=again)

        return Controller(f"pumps-{who}", kind, reconcile)

    def starts(self, who: str) -> list[float]:
        return [t for t, w, e in self.events if w == who and e == "start"]

    def ends(self, who: str) -> list[float]:
        return [t for t, w, e in self.events if w == who and e == "end"]

    def assert_never_overlapping(self) -> None:
        active: dict[str, int] = {}
        for at, who, what in self.events:
            active[who] = active.get(who, 0) + (1 if what == "start" else -1)
            busy = [w for w, n in active.items() if n > 0]
            assert len(busy) <= 1, f"{busy} reconciling at once at {at}: {self.events}"


# --- stopping ---------------------------------------------------------------------------------


async def test_stop_lets_an_in_flight_reconcile_finish_and_takes_no_new_work() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster, anyio.create_task_group() as group:
            spans: list[tuple[float, float]] = []

            async def reconcile(ctx: Context, req: Request) -> None:
                started = ctx.clock.now()
                await ctx.clock.sleep(10)
                spans.append((started, ctx.clock.now()))

            manager = Manager(cluster.client, clock=cluster.clock, shutdown_timeout=30)
            manager.add(Controller("slow", Pump, reconcile))
            running = Running(manager, cluster.clock)
            group.start_soon(running.run)
            await cluster.wait_for(manager.ready, timeout=10)
            await cluster.client.create(pump("a"))
            await cluster.wait_for(lambda: manager.controllers[0].stats["reconciles"], timeout=5)
            await cluster.advance(2)
            stopped_at = cluster.clock.now()
            manager.stop()
            assert not manager.healthy() and not manager.ready()
            await cluster.client.create(pump("b"))  # arrives while draining: not taken
            await cluster.wait_for(lambda: running.returned_at is not None, timeout=60)
            await cluster.advance(30)
    ((started, ended),) = spans
    assert ended == started + 10
    assert running.returned_at == ended and ended > stopped_at
    assert manager.controllers[0].stats["reconciles"] == 1


async def test_stop_cancels_a_reconcile_that_outlives_the_shutdown_timeout() -> None:
    cancelled: list[float] = []
    finished: list[float] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        try:
            await ctx.clock.sleep(100)
            finished.append(ctx.clock.now())
        finally:
            cancelled.append(ctx.clock.now())

    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster, anyio.create_task_group() as group:
            manager = Manager(cluster.client, clock=cluster.clock, shutdown_timeout=3)
            manager.add(Controller("stubborn", Pump, reconcile, reconcile_timeout=1000))
            running = Running(manager, cluster.clock)
            group.start_soon(running.run)
            await cluster.wait_for(manager.ready, timeout=10)
            await cluster.client.create(pump("a"))
            await cluster.wait_for(lambda: manager.controllers[0].stats["reconciles"], timeout=5)
            await cluster.advance(1)
            stopped_at = cluster.clock.now()
            manager.stop()
            await cluster.wait_for(lambda: running.returned_at is not None, timeout=60)
    assert finished == []
    assert cancelled == [stopped_at + 3]
    assert running.returned_at == stopped_at + 3


async def test_health_and_readiness_follow_the_managers_life() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster, anyio.create_task_group() as group:
            await cluster.client.create(pump("a"))
            manager = Manager(cluster.client, clock=cluster.clock)
            manager.add(Reconciles(cluster.clock).controller("x"))

            async def slow_start(obj: Pump) -> None:  # holds the informer's sync for 5 s
                await cluster.clock.sleep(5)

            manager.informer(Pump).add_handler(on_add=slow_start)
            assert (manager.healthy(), manager.ready()) == (False, False)
            running = Running(manager, cluster.clock)
            group.start_soon(running.run)
            await cluster.wait_for(manager.healthy, timeout=1)
            started = cluster.clock.now()
            await cluster.advance(4)
            assert (manager.healthy(), manager.ready()) == (True, False)
            await cluster.wait_for(manager.ready, timeout=10)
            assert cluster.clock.now() == started + 5
            manager.stop()
            assert (manager.healthy(), manager.ready()) == (False, False)
            await cluster.wait_for(lambda: running.returned_at is not None, timeout=60)
            assert (manager.healthy(), manager.ready()) == (False, False)


async def test_run_twice_at_once_is_refused() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster:
            with pytest.raises(RuntimeError):
                await cluster.manager.run()


async def test_controllers_added_while_running_start() -> None:
    with anyio.fail_after(LIMIT):
        seen: list[tuple[str, str]] = []

        def recorder(who: str) -> Callable[[Context, Request], Any]:
            async def reconcile(ctx: Context, req: Request) -> None:
                seen.append((who, req.name))

            return reconcile

        async with Cluster(Controller("first", Pump, recorder("first"))) as cluster:
            await cluster.client.create(pump("a"))
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="cm")))
            await cluster.wait_for(lambda: ("first", "a") in seen, timeout=10)
            # One on a kind that already has an informer, one on a kind that needs a new one.
            cluster.manager.add(
                Controller("same-kind", Pump, recorder("same-kind")),
                Controller("new-kind", ConfigMap, recorder("new-kind")),
            )
            await cluster.wait_for(
                lambda: {("same-kind", "a"), ("new-kind", "cm")} <= set(seen), timeout=10
            )
            await cluster.client.create(pump("b"))
            await cluster.wait_for(
                lambda: {("first", "b"), ("same-kind", "b")} <= set(seen), timeout=10
            )
            assert cluster.manager.cached(ConfigMap) is not None


# --- leader election on virtual time --------------------------------------------------------


class FlakyWrites:
    """A store whose writes (txn) fail with UnavailableError while ``failing`` is set."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.failing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def txn(self, *args: Any, **kwargs: Any) -> Any:
        if self.failing:
            raise errors.UnavailableError("test: this client's writes are switched off")
        return await self.inner.txn(*args, **kwargs)


def elected(client: Client, clock: Clock, who: str, **timing: Any) -> Manager:
    return Manager(client, clock=clock, leader_election=True, identity=who, **timing)


async def test_only_the_leader_reconciles_and_a_stopped_leader_hands_over() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster, anyio.create_task_group() as group:
            clock, client = cluster.clock, cluster.client
            log = Reconciles(clock)
            one = elected(client, clock, "one").add(log.controller("one"))
            two = elected(client, clock, "two").add(log.controller("two"))
            await client.create(pump("a"))
            first = Running(one, clock)
            group.start_soon(first.run)
            await cluster.wait_for(lambda: log.starts("one"), timeout=30)
            group.start_soon(Running(two, clock).run)
            await cluster.wait_for(two.ready, timeout=30)  # warm caches, but not leading
            await cluster.advance(60)
            assert one.leading and not two.leading
            assert log.starts("two") == [] and len(log.starts("one")) >= 30

            stopped_at = clock.now()
            one.stop()
            await cluster.wait_for(lambda: log.starts("two"), timeout=60)
            takeover = log.starts("two")[0]
            # one drains (<= 0.5 s), releases the Lease; two claims it at its next retry.
            assert takeover - stopped_at <= 0.5 + 2.0 * (1 + 1.2) + 0.01
            assert first.returned_at is not None and first.returned_at <= takeover
            await cluster.advance(30)
            assert two.leading and len(log.starts("two")) >= 15
            log.assert_never_overlapping()
            group.cancel_scope.cancel()


async def test_a_leader_that_cannot_write_steps_down_before_the_other_takes_over() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster, anyio.create_task_group() as group:
            clock = cluster.clock
            flaky = FlakyWrites(cluster.store)
            log = Reconciles(clock)
            one_client = Client(flaky, clock=clock)
            one = elected(one_client, clock, "one").add(log.controller("one"))
            two = elected(cluster.client, clock, "two").add(log.controller("two"))
            await cluster.client.create(pump("a"))
            group.start_soon(Running(one, clock).run)
            await cluster.wait_for(lambda: log.starts("one"), timeout=30)
            group.start_soon(Running(two, clock).run)
            await cluster.advance(30)
            assert one.leading and log.starts("two") == []

            cut_at = clock.now()
            flaky.failing = True
            await cluster.wait_for(lambda: log.starts("two"), timeout=120)
            takeover = log.starts("two")[0]
            last_end_of_one = log.ends("one")[-1]
            # one stops within renew_deadline (10 s) of its last renew (at most a retry
            # period before the cut); two waits out lease_duration (15 s) of its own time.
            assert last_end_of_one <= cut_at + 10
            assert cut_at + 15 - 2.0 <= takeover <= cut_at + 15 + 2.0 * (1 + 1.2) + 0.01
            assert not one.leading and two.leading

            flaky.failing = False  # one's store works again: it stays a follower
            await cluster.advance(60)
            assert not one.leading and log.ends("one")[-1] == last_end_of_one
            log.assert_never_overlapping()
            group.cancel_scope.cancel()


async def test_a_manager_that_regains_leadership_reconciles_existing_objects_again() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster, anyio.create_task_group() as group:
            clock = cluster.clock
            flaky = FlakyWrites(cluster.store)
            log = Reconciles(clock)
            one_client = Client(flaky, clock=clock)
            # Long reconciles: the one in flight when leadership is lost is cancelled.
            one = elected(one_client, clock, "one").add(log.controller("one", work=20))
            two = elected(cluster.client, clock, "two").add(log.controller("two", work=20))
            await cluster.client.create(pump("a"))
            group.start_soon(Running(one, clock).run)
            await cluster.wait_for(lambda: log.starts("one"), timeout=30)
            group.start_soon(Running(two, clock).run)
            await cluster.advance(5)
            flaky.failing = True
            await cluster.wait_for(lambda: log.starts("two"), timeout=120)
            assert log.ends("one")[-1] < 20  # cancelled mid-reconcile when it stepped down
            flaky.failing = False
            await cluster.advance(30)
            two.stop()  # releases the Lease: one leads again
            await cluster.wait_for(lambda: one.leading, timeout=60)
            regained = clock.now()
            await cluster.wait_for(
                lambda: log.starts("one")[-1] >= regained, timeout=60, real_timeout=10
            )
            log.assert_never_overlapping()
            group.cancel_scope.cancel()


# --- leader election on a real etcd -----------------------------------------------------------


async def test_leader_election_failover_on_real_etcd() -> None:
    """Real time, short lease; each manager has its own EtcdStore connection."""
    require_peer("etcd")
    from kcore.testing.etcd import EtcdProcess

    clock = RealClock()
    timing = {"lease_duration": 2.0, "renew_deadline": 1.5, "retry_period": 0.3}
    log = Reconciles(clock)

    async def until(condition: Callable[[], object], seconds: float = 10.0) -> None:
        with anyio.fail_after(seconds):
            while not condition():
                await anyio.sleep(0.02)

    with anyio.fail_after(60):
        async with (
            EtcdProcess() as etcd,
            etcd.store() as store_a,
            etcd.store() as store_b,
            etcd.store() as store_c,
        ):
            admin = Client(store_a, clock=clock)
            await admin.ensure_namespaces("default")
            await admin.create(ConfigMap(metadata=ObjectMeta(name="watched")))
            flaky_b = FlakyWrites(store_b)

            def manager(store: Any, who: str) -> Manager:
                client = Client(store, clock=clock)
                ctrl = log.controller(who, work=0.05, again=0.1, kind=ConfigMap)
                return elected(client, clock, who, **timing).add(ctrl)

            a, b, c = manager(store_a, "a"), manager(flaky_b, "b"), manager(store_c, "c")
            async with anyio.create_task_group() as group:
                # 1. a leads; b waits; a stops gracefully, b takes over.
                group.start_soon(a.run)
                await until(lambda: log.starts("a"))
                group.start_soon(b.run)
                await until(lambda: b.elector is not None and b.elector.leader_identity == "a")
                await anyio.sleep(0.5)
                assert log.starts("b") == [] and a.leading
                a.stop()
                await until(lambda: log.starts("b"))
                assert log.ends("a")[-1] <= log.starts("b")[0]

                # 2. c waits; b's writes fail: b steps down, then c takes over.
                group.start_soon(c.run)
                await until(lambda: c.elector is not None and c.elector.leader_identity == "b")
                await anyio.sleep(0.5)
                assert log.starts("c") == []
                cut_at = time.monotonic()
                flaky_b.failing = True
                await until(lambda: log.starts("c"))
                assert not b.leading
                assert log.ends("b")[-1] <= log.starts("c")[0]
                assert log.starts("c")[0] >= cut_at
                group.cancel_scope.cancel()
    log.assert_never_overlapping()
    assert [who for _, who, what in log.events if what == "start"][:1] == ["a"]
