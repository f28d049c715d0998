"""The manager's Prometheus metrics after real reconciles, read back through prometheus' parser.

Reconciles that succeed, fail and requeue run in a virtual-time Cluster; the exposition text
is parsed (``prometheus_client.parser``) so the test checks sample values, not substrings.
"""

from __future__ import annotations

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

import kcore
from kcore.objects import ObjectMeta
from kcore.reconcile import Context, Controller, Manager, Request, Result
from kcore.testing.cluster import Cluster

pytestmark = pytest.mark.anyio

LIMIT = 30  # real seconds before a test counts as hung


@kcore.kind("metrics.test.kcore.dev/v1", "Meter")
class Meter(kcore.Object):
    reading: int = 0


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample in an exposition, by (sample name, sorted labels)."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_reconciles_and_queue_work_show_up_in_the_exposition() -> None:
    attempts: dict[str, int] = {}
    finished: list[str] = []

    async def reconcile(ctx: Context, req: Request) -> Result | None:
        attempts[req.name] = attempts.get(req.name, 0) + 1
        if req.name == "broken" and attempts[req.name] <= 2:
            raise RuntimeError("fails twice")
        if req.name == "later" and attempts[req.name] == 1:
            return Result(requeue_after=30)
        await ctx.clock.sleep(0.02)  # some virtual work time for the histograms
        finished.append(req.name)
        return None

    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("meters", Meter, reconcile)) as cluster:
            for name in ("ok", "broken", "later"):
                await cluster.client.create(Meter(metadata=ObjectMeta(name=name)))
            await cluster.wait_for(lambda: len(finished) == 3, timeout=120)
            await cluster.advance(1)
            text = cluster.manager.metrics.text()
    values = samples(text)
    by_result = {
        result: values.get(
            ("kcore_reconcile_total", (("controller", "meters"), ("result", result)))
        )
        for result in ("success", "error", "requeue_after")
    }
    assert by_result == {"success": 3.0, "error": 2.0, "requeue_after": 1.0}
    assert values[("kcore_reconcile_errors_total", (("controller", "meters"),))] == 2.0
    queue = (("name", "meters"),)
    # Three creates, two backoff retries and one requeue-after each made the key dirty once.
    assert values[("kcore_workqueue_adds_total", queue)] == 6.0
    assert values[("kcore_workqueue_retries_total", queue)] == 3.0
    assert values[("kcore_workqueue_depth", queue)] == 0.0
    assert values[("kcore_reconcile_time_seconds_count", (("controller", "meters"),))] == 6.0
    # Three successes slept 0.02 s of clock time each; nothing else waited.
    total = values[("kcore_reconcile_time_seconds_sum", (("controller", "meters"),))]
    assert total == pytest.approx(0.06, abs=1e-9)
    assert values[("kcore_workqueue_work_duration_seconds_count", queue)] == 6.0
    assert "# TYPE kcore_reconcile_time_seconds histogram" in text


async def test_without_metrics_text_is_empty_and_controllers_still_run() -> None:
    done: list[str] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        done.append(req.name)

    options = {"metrics": False}
    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("quiet", Meter, reconcile), manager_options=options) as c:
            await c.client.create(Meter(metadata=ObjectMeta(name="m")))
            await c.wait_for(lambda: done == ["m"], timeout=10)
            assert c.manager.metrics.enabled is False
            assert c.manager.metrics.text() == ""


async def test_each_manager_has_its_own_registry() -> None:
    async with Cluster() as cluster:
        first = Manager(cluster.client)
        second = Manager(cluster.client)
        first.metrics.reconcile("shared-name", "success", 0.1)
        assert first.metrics.registry is not second.metrics.registry
        key = ("kcore_reconcile_total", (("controller", "shared-name"), ("result", "success")))
        assert samples(first.metrics.text())[key] == 1.0
        assert key not in samples(second.metrics.text())
