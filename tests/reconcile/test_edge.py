"""EdgeHandlers in a virtual-time Cluster: every change delivered with its old and new object.

Unlike a reconcile, edge handlers see each change (no deduplication of a burst); a failing
handler is retried with the queue's per-item backoff (checked on the virtual clock), a
``TerminalError`` drops the change, and resyncs are not changes.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import anyio
import pytest

import kcore
from kcore.clock import Clock
from kcore.objects import ObjectMeta, evolve
from kcore.reconcile import EdgeHandlers, TerminalError
from kcore.testing.cluster import Cluster

pytestmark = pytest.mark.anyio

LIMIT = 30  # real seconds before a test counts as hung


@kcore.struct
class ValveSpec:
    open: int = 0


@kcore.kind("edge.test.kcore.dev/v1", "Valve")
class Valve(kcore.Object):
    spec: ValveSpec = ValveSpec()


def valve(name: str, opened: int = 0) -> Valve:
    return Valve(metadata=ObjectMeta(name=name), spec=ValveSpec(open=opened))


class Calls:
    """Every handler call: (virtual time, event, object(s))."""

    def __init__(self, clock: Clock) -> None:
        self.calls: list[tuple[float, str, Any]] = []
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()

    def on_create(self, obj: Valve) -> None:
        self.calls.append((self.now(), "create", obj))

    async def on_update(self, old: Valve, new: Valve) -> None:
        await anyio.lowlevel.checkpoint()
        self.calls.append((self.now(), "update", (old, new)))

    def on_delete(self, obj: Valve) -> None:
        self.calls.append((self.now(), "delete", obj))

    def of(self, event: str) -> list[Any]:
        return [what for _, e, what in self.calls if e == event]


async def test_each_change_reaches_its_handler_with_the_right_objects() -> None:
    cluster = Cluster()  # its clock exists before it runs: the handlers read it
    calls = Calls(cluster.clock)
    handlers = EdgeHandlers(
        Valve, on_create=calls.on_create, on_update=calls.on_update, on_delete=calls.on_delete
    )
    cluster.manager.add(handlers)
    with anyio.fail_after(LIMIT):
        async with cluster:
            versions = [await cluster.client.create(valve("v"))]
            for opened in range(1, 11):  # a burst: every change is its own call
                versions.append(
                    await cluster.client.update(evolve(versions[-1], spec__open=opened))
                )
            await cluster.client.delete(Valve, "v", "default")
            await cluster.wait_for(lambda: calls.of("delete"), timeout=10)
            await cluster.advance(1)
    assert calls.of("create") == [versions[0]]
    updates = calls.of("update")
    assert [(old, new) for old, new in updates] == list(itertools.pairwise(versions))
    (deleted,) = calls.of("delete")
    assert deleted.spec.open == 10 and deleted.metadata.name == "v"
    assert [event for _, event, _ in calls.calls] == ["create"] + ["update"] * 10 + ["delete"]


async def test_a_failing_handler_is_retried_with_backoff_until_it_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[float] = []
    cluster = Cluster()

    def on_create(obj: Valve) -> None:
        attempts.append(cluster.clock.now())
        if len(attempts) <= 3:
            raise RuntimeError("the webhook is down")

    cluster.manager.add(EdgeHandlers(Valve, on_create=on_create, name="flaky"))
    with anyio.fail_after(LIMIT), caplog.at_level(logging.ERROR, logger="kcore.reconcile.edge"):
        async with cluster:
            await cluster.client.create(valve("v"))
            await cluster.wait_for(lambda: len(attempts) == 4, timeout=10)
            await cluster.advance(60)
    assert len(attempts) == 4
    waits = [b - a for a, b in itertools.pairwise(attempts)]
    assert waits == pytest.approx([0.005, 0.01, 0.02], rel=1e-9)
    assert sum("failed; will retry with backoff" in r.getMessage() for r in caplog.records) == 3


async def test_terminal_error_drops_the_change() -> None:
    attempts: list[str] = []

    def on_update(old: Valve, new: Valve) -> None:
        attempts.append(f"{old.spec.open}->{new.spec.open}")
        if new.spec.open == 1:
            raise TerminalError("cannot open a valve by one")

    with anyio.fail_after(LIMIT):
        async with Cluster(EdgeHandlers(Valve, on_update=on_update)) as cluster:
            created = await cluster.client.create(valve("v"))
            updated = await cluster.client.update(evolve(created, spec__open=1))
            await cluster.advance(600)
            await cluster.client.update(evolve(updated, spec__open=2))
            await cluster.wait_for(lambda: len(attempts) >= 2, timeout=10)
            await cluster.advance(60)
    assert attempts == ["0->1", "1->2"]


async def test_resyncs_are_not_delivered_to_edge_handlers() -> None:
    cluster = Cluster()
    calls = Calls(cluster.clock)
    resyncs: list[str] = []
    handlers = EdgeHandlers(Valve, on_create=calls.on_create, on_update=calls.on_update)
    # The shared informer resyncs every 5 s; a plain handler on it shows that it does.
    informer = cluster.manager.factory.informer(Valve, resync_period=5)
    informer.add_handler(on_resync=lambda obj: resyncs.append(obj.metadata.name))
    cluster.manager.add(handlers)
    with anyio.fail_after(LIMIT):
        async with cluster:
            await cluster.client.create(valve("v"))
            await cluster.wait_for(lambda: calls.of("create"), timeout=10)
            await cluster.advance(60)
    assert len(resyncs) >= 10
    assert len(calls.calls) == 1 and calls.of("update") == []


async def test_a_hung_handler_is_cancelled_after_the_timeout_and_retried() -> None:
    attempts: list[float] = []
    cluster = Cluster()

    async def on_create(obj: Valve) -> None:
        attempts.append(cluster.clock.now())
        if len(attempts) == 1:
            await anyio.sleep_forever()

    cluster.manager.add(EdgeHandlers(Valve, on_create=on_create, reconcile_timeout=3))
    with anyio.fail_after(LIMIT):
        async with cluster:
            await cluster.client.create(valve("v"))
            await cluster.wait_for(lambda: len(attempts) == 2, timeout=60)
            await cluster.advance(60)
            metrics = cluster.manager.metrics.text()
    assert len(attempts) == 2
    assert attempts[1] == pytest.approx(attempts[0] + 3 + 0.005, rel=1e-9)
    assert 'kcore_reconcile_total{controller="valve-edge",result="timeout"} 1.0' in metrics


async def test_failures_are_counted_in_stats_as_a_controller_counts_them() -> None:
    attempts: list[str] = []

    async def on_create(obj: Valve) -> None:
        attempts.append(obj.metadata.name)
        if obj.metadata.name == "hangs" and attempts.count("hangs") == 1:
            await anyio.sleep_forever()
        if obj.metadata.name == "fails" and attempts.count("fails") == 1:
            raise RuntimeError("once")

    handlers = EdgeHandlers(Valve, on_create=on_create, reconcile_timeout=3, max_concurrent=2)
    with anyio.fail_after(LIMIT):
        async with Cluster(handlers) as cluster:
            await cluster.client.create(valve("hangs"))
            await cluster.client.create(valve("fails"))
            await cluster.wait_for(lambda: len(attempts) == 4, timeout=60)
            await cluster.advance(1)
    assert handlers.stats["reconciles"] == 4
    assert (handlers.stats["errors"], handlers.stats["timeouts"]) == (1, 1)
