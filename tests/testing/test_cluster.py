"""kcore.testing.Cluster: virtual time that jumps when idle, determinism by seed, the fixture.

The ten-minute scenario checks the virtual clock and the reconcile count, never wall time
(speed belongs in benchmarks/). Determinism is checked by running one scenario twice with the
same seed and comparing everything observable: uids, generated names, and the (time, key)
sequence of reconciles.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import anyio
import pytest

import kcore
from kcore import errors
from kcore.kinds import Namespace
from kcore.objects import ObjectMeta
from kcore.reconcile import Context, Controller, Request, Result
from kcore.testing.cluster import Cluster

# The plugin is declared as a pytest11 entry point in pyproject.toml; an install made before
# that entry existed does not register it, so load it here only then (never twice).
if not any(
    ep.value == "kcore.testing.pytest_plugin"
    for ep in importlib.metadata.entry_points(group="pytest11")
):
    pytest_plugins = ["kcore.testing.pytest_plugin"]

pytestmark = pytest.mark.anyio

LIMIT = 30  # real seconds before a test counts as hung


@kcore.kind("cluster.test.kcore.dev/v1", "Beacon")
class Beacon(kcore.Object):
    period: int = 60


def beacon(name: str = "", period: int = 60, generate: str = "") -> Beacon:
    return Beacon(metadata=ObjectMeta(name=name, generate_name=generate), period=period)


async def test_a_ten_minute_scenario_runs_on_virtual_time() -> None:
    times: list[float] = []

    async def reconcile(ctx: Context, req: Request) -> Result | None:
        times.append(ctx.clock.now())
        return Result(requeue_after=60) if len(times) <= 10 else None

    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("beacons", Beacon, reconcile)) as cluster:
            start = cluster.clock.now()
            await cluster.client.create(beacon("b"))
            await cluster.wait_for(lambda: len(times) == 11, timeout=700)
            assert cluster.clock.now() - start >= 600
    assert len(times) == 11
    assert [t - times[0] for t in times] == [60.0 * i for i in range(11)]


async def scenario(seed: int) -> tuple[list[str], list[str], list[tuple[float, str]]]:
    """Objects with generated names, two workers, requeues and failures; all that is seen."""
    records: list[tuple[float, str]] = []
    failures: dict[str, int] = {}

    async def reconcile(ctx: Context, req: Request) -> Result | None:
        records.append((ctx.clock.now(), req.name))
        obj = ctx.object
        if obj is None:
            return None
        await ctx.clock.sleep(obj.period / 100)
        if obj.period % 2 and failures.get(req.name, 0) < 3:
            failures[req.name] = failures.get(req.name, 0) + 1
            raise RuntimeError("odd periods fail three times")
        return Result(requeue_after=obj.period) if len(records) < 60 else None

    ctrl = Controller("det", Beacon, reconcile, max_concurrent=2)
    async with Cluster(ctrl, seed=seed) as cluster:
        made = [await cluster.client.create(beacon(generate="b-", period=p)) for p in range(5, 12)]
        made.append(await cluster.client.create(beacon("fixed", period=13)))
        await cluster.wait_for(lambda: len(records) >= 60, timeout=3600)
        await cluster.client.delete(Beacon, made[0].metadata.name, "default")
        await cluster.advance(30)
    return (
        [m.metadata.uid for m in made],
        [m.metadata.name for m in made],
        records,
    )


async def test_the_same_seed_gives_the_same_run() -> None:
    logging.getLogger("kcore.reconcile.controller").setLevel(logging.CRITICAL)
    try:
        with anyio.fail_after(LIMIT):
            first = await scenario(seed=7)
            second = await scenario(seed=7)
            other = await scenario(seed=8)
    finally:
        logging.getLogger("kcore.reconcile.controller").setLevel(logging.NOTSET)
    uids, names, records = first
    assert len(set(uids)) == len(uids) == 8
    assert all(n.startswith("b-") and len(n) > 2 for n in names[:-1])
    assert len(records) >= 60
    assert first == second
    assert other[0] != uids and other[1][:-1] != names[:-1]


async def test_the_cluster_fixture_runs_a_controller(cluster: Cluster) -> None:
    seen: list[str] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        seen.append(req.name)

    with anyio.fail_after(LIMIT):
        cluster.manager.add(Controller("fixture", Beacon, reconcile))
        await cluster.client.create(beacon("x"))
        await cluster.wait_for(lambda: seen == ["x"], timeout=10)
        namespaces = {ns.metadata.name for ns in await cluster.client.list(Namespace)}
        assert {"default", "kube-system"} <= namespaces


async def test_wait_for_raises_timeout_error_after_the_virtual_timeout() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster:
            start = cluster.clock.now()
            with pytest.raises(errors.TimeoutError, match="virtual"):
                await cluster.wait_for(lambda: False, timeout=45)
            assert cluster.clock.now() == start + 45

            async def later() -> bool:
                return cluster.clock.now() >= start + 100

            await cluster.advance(60)
            assert cluster.clock.now() == start + 105
            assert await cluster.wait_for(later, timeout=1) is True


async def test_wait_for_returns_the_predicates_value_once_a_timer_makes_it_true() -> None:
    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster:
            box: list[str] = []

            async def later() -> None:
                await cluster.clock.sleep(123)
                box.append("done")

            async with anyio.create_task_group() as group:
                group.start_soon(later)
                start = cluster.clock.now()
                assert await cluster.wait_for(lambda: box, timeout=200) == ["done"]
                assert cluster.clock.now() == start + 123


async def test_settle_while_the_cluster_runs_does_not_spin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with anyio.fail_after(LIMIT), caplog.at_level(logging.WARNING, logger="kcore.testing.cluster"):
        async with Cluster() as cluster:
            await cluster.client.create(beacon("x"))
            await cluster.settle()
            await cluster.advance(1)
    assert [r.getMessage() for r in caplog.records] == []


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_a_cluster_runs_under_trio(anyio_backend: Any) -> None:
    times: list[float] = []

    async def reconcile(ctx: Context, req: Request) -> Result | None:
        times.append(ctx.clock.now())
        return Result(requeue_after=30) if len(times) < 3 else None

    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("trio", Beacon, reconcile)) as cluster:
            await cluster.client.create(beacon("t"))
            await cluster.wait_for(lambda: len(times) == 3, timeout=100)
    assert [t - times[0] for t in times] == [0.0, 30.0, 60.0]
