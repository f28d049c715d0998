"""Controllers in a virtual-time Cluster: triggers, one-key-at-a-time, results, backoff, context.

Every reconcile records what it saw on the cluster's VirtualClock, so timing (requeue-after,
per-key exponential backoff, the reconcile timeout) is checked to the virtual instant and a
ten-minute failure loop runs in milliseconds. Each wait is bounded twice: ``cluster.wait_for``
in virtual seconds and ``anyio.fail_after`` in real seconds (only against a hang; never an
assertion about speed).
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

import kcore
from kcore import errors
from kcore.kinds import ConfigMap, Secret
from kcore.objects import ObjectMeta, OwnerReference, evolve
from kcore.reconcile import (
    Builder,
    Context,
    Controller,
    ItemExponential,
    Request,
    Result,
    TerminalError,
    controller,
    controller_reference,
    generation_changed,
    labels_changed,
)
from kcore.testing.cluster import Cluster

pytestmark = pytest.mark.anyio

LIMIT = 30  # real seconds before a test counts as hung
LOGGER = "kcore.reconcile.controller"


@kcore.struct
class GizmoSpec:
    size: int = 0


@kcore.struct
class GizmoStatus:
    seen: int = 0


@kcore.kind("controller.test.kcore.dev/v1", "Gizmo")
class Gizmo(kcore.Object):
    spec: GizmoSpec = GizmoSpec()
    status: GizmoStatus = GizmoStatus()


def gizmo(name: str, size: int = 0, labels: dict[str, str] | None = None) -> Gizmo:
    return Gizmo(metadata=ObjectMeta(name=name, labels=labels or {}), spec=GizmoSpec(size=size))


@dataclass
class Record:
    """What one reconcile saw: when (virtual time), which key, and the object's spec size."""

    at: float
    key: str
    size: int | None


@dataclass
class Log:
    """The reconciles of one controller, in order."""

    records: list[Record] = field(default_factory=list)

    def note(self, ctx: Context, request: Request) -> None:
        obj = ctx.object
        self.records.append(Record(ctx.clock.now(), str(request), obj.spec.size if obj else None))

    def of(self, key: str) -> list[Record]:
        return [r for r in self.records if r.key == key]

    def times(self, key: str = "default/a") -> list[float]:
        return [r.at for r in self.of(key)]

    def count(self, key: str = "default/a") -> int:
        return len(self.of(key))


async def resize(cluster: Cluster, name: str, size: int) -> Gizmo:
    current = await cluster.client.get(Gizmo, name, "default")
    return await cluster.client.update(evolve(current, spec__size=size))


async def quiet(cluster: Cluster, seconds: float = 5.0) -> None:
    """Let ``seconds`` of virtual time pass, so any reconcile that is coming has happened.

    The clock only moves when every task is idle, so when this returns, everything due before
    then has run. (Not ``cluster.settle()``: see test_cluster's xfail about it.)
    """
    await cluster.advance(seconds)


# --- what triggers a reconcile ----------------------------------------------------------------


async def test_a_burst_of_updates_is_few_reconciles_that_see_the_final_state() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)
        await ctx.clock.sleep(1)  # a reconcile takes time: the burst lands while it runs

    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("burst", Gizmo, reconcile)) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 1, timeout=10)
            for size in range(1, 11):
                await resize(cluster, "a", size)
            await cluster.wait_for(lambda: log.records[-1].size == 10, timeout=60)
            await quiet(cluster, 30)
            after_burst = log.records[1:]
            assert 1 <= len(after_burst) <= 2, log.records
            assert after_burst[-1].size == 10


async def test_one_key_is_never_reconciled_by_two_workers_at_once() -> None:
    in_flight: set[str] = set()
    overlaps: list[tuple[float, str]] = []
    peak = 0
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        nonlocal peak
        key = str(req)
        if key in in_flight:
            overlaps.append((ctx.clock.now(), key))
        in_flight.add(key)
        peak = max(peak, len(in_flight))
        try:
            await ctx.clock.sleep(0.5)
            log.note(ctx, req)
        finally:
            in_flight.discard(key)

    names = ["a", "b", "c"]
    with anyio.fail_after(LIMIT):
        ctrl = Controller("serial", Gizmo, reconcile, max_concurrent=4)
        async with Cluster(ctrl) as cluster:
            for name in names:
                await cluster.client.create(gizmo(name))
            for size in range(1, 21):  # changes keep arriving while keys are being reconciled
                for name in names:
                    await resize(cluster, name, size)
                await cluster.advance(0.2)
            await cluster.wait_for(
                lambda: all(log.of(f"default/{n}")[-1].size == 20 for n in names), timeout=60
            )
    assert overlaps == []
    assert peak >= 2, "different keys should have been reconciled concurrently"


async def test_owns_enqueues_the_controlling_owner_and_ignores_other_owner_refs() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)

    with anyio.fail_after(LIMIT):
        ctrl = Controller("owner", Gizmo, reconcile, owns=[ConfigMap])
        async with Cluster(ctrl) as cluster:
            a = await cluster.client.create(gizmo("a"))
            b = await cluster.client.create(gizmo("b"))
            await cluster.wait_for(lambda: log.count() == 1 and log.count("default/b") == 1)
            refs = [
                OwnerReference(
                    api_version=Gizmo.api_version, kind="Gizmo", name="a", uid=a.metadata.uid,
                    controller=True,
                ),
                OwnerReference(
                    api_version=Gizmo.api_version, kind="Gizmo", name="b", uid=b.metadata.uid,
                ),
            ]  # fmt: skip
            cm = await cluster.client.create(
                ConfigMap(metadata=ObjectMeta(name="page", owner_references=refs))
            )
            await cluster.wait_for(lambda: log.count() == 2, timeout=10)
            await cluster.client.update(evolve(cm, data={"k": "v"}))
            await cluster.wait_for(lambda: log.count() == 3, timeout=10)
            await cluster.client.delete(ConfigMap, "page", "default")
            await cluster.wait_for(lambda: log.count() == 4, timeout=10)
            # A ConfigMap with no controller reference enqueues nobody.
            await cluster.client.create(
                ConfigMap(metadata=ObjectMeta(name="loose", owner_references=refs[1:]))
            )
            await quiet(cluster)
            assert log.count() == 4
            assert log.count("default/b") == 1
            assert {r.key for r in log.records} == {"default/a", "default/b"}


async def test_owns_matches_the_owner_by_group_and_kind_whatever_the_version() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)

    with anyio.fail_after(LIMIT):
        ctrl = Controller("versions", Gizmo, reconcile, owns=[ConfigMap])
        async with Cluster(ctrl) as cluster:
            a = await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 1, timeout=10)
            group = Gizmo.api_version.rpartition("/")[0]
            ref = evolve(controller_reference(a), api_version=f"{group}/v2")
            await cluster.client.create(
                ConfigMap(metadata=ObjectMeta(name="page", owner_references=[ref]))
            )
            await cluster.wait_for(lambda: log.count() == 2, timeout=10)


async def test_a_namespaced_controller_sees_only_its_namespace() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)

    with anyio.fail_after(LIMIT):
        ctrl = Controller("ns", Gizmo, reconcile, namespace="kube-system")
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))  # in "default": not this controller's
            await cluster.client.create(gizmo("b"), namespace="kube-system")
            await cluster.wait_for(lambda: log.records, timeout=10)
            await quiet(cluster)
    assert [(r.key, r.size) for r in log.records] == [("kube-system/b", 0)]


async def test_watches_map_other_kinds_through_sync_and_async_functions() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)

    def by_label(cm: ConfigMap) -> list[Request]:
        target = cm.metadata.labels.get("gizmo")
        return [Request(target, cm.metadata.namespace)] if target else []

    async def by_name_prefix(secret: Secret) -> Iterable[Request]:
        await anyio.lowlevel.checkpoint()
        return [Request(secret.metadata.name.split("-")[0], secret.metadata.namespace)]

    with anyio.fail_after(LIMIT):
        ctrl = Controller(
            "mapper", Gizmo, reconcile, watches=[(ConfigMap, by_label), (Secret, by_name_prefix)]
        )
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.client.create(gizmo("b"))
            await cluster.wait_for(lambda: len(log.records) == 2, timeout=10)
            labelled = ObjectMeta(name="cm", labels={"gizmo": "b"})
            await cluster.client.create(ConfigMap(metadata=labelled))
            await cluster.wait_for(lambda: log.count("default/b") == 2, timeout=10)
            await cluster.client.create(Secret(metadata=ObjectMeta(name="a-token")))
            await cluster.wait_for(lambda: log.count("default/a") == 2, timeout=10)
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="unlabelled")))
            await quiet(cluster)
            assert (log.count("default/a"), log.count("default/b")) == (2, 2)


async def test_a_failing_map_function_is_logged_and_counted_and_nothing_else_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary = Log()
    other = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        primary.note(ctx, req)

    async def reconcile_config(ctx: Context, req: Request) -> None:
        other.records.append(Record(ctx.clock.now(), str(req), None))

    def broken(cm: ConfigMap) -> list[Request]:
        if cm.metadata.name.startswith("bad-type"):
            return ["not a request"]  # type: ignore[list-item]
        raise RuntimeError(f"cannot map {cm.metadata.name}")

    mapper = Controller("broken-mapper", Gizmo, reconcile, watches=[(ConfigMap, broken)])
    configs = Controller("configs", ConfigMap, reconcile_config)
    with anyio.fail_after(LIMIT), caplog.at_level(logging.ERROR, logger=LOGGER):
        async with Cluster(mapper, configs) as cluster:
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="one")))
            await cluster.wait_for(lambda: other.count("default/one") == 1, timeout=10)
            await cluster.wait_for(lambda: mapper.stats["errors"] == 1, timeout=10)
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="bad-type")))
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="two")))
            await cluster.wait_for(lambda: other.count("default/two") == 1, timeout=10)
            await cluster.wait_for(lambda: mapper.stats["errors"] == 3, timeout=10)
            await cluster.client.create(gizmo("a"))  # the mapper's own primary still works
            await cluster.wait_for(lambda: primary.count() == 1, timeout=10)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert sum("mapping ConfigMap default/one to requests failed" in m for m in messages) == 1
    assert any("default/bad-type" in m for m in messages)
    assert other.count("default/bad-type") == 1


async def test_generation_changed_skips_status_and_label_updates() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)

    with anyio.fail_after(LIMIT):
        ctrl = Controller("gen", Gizmo, reconcile, predicates=[generation_changed])
        async with Cluster(ctrl) as cluster:
            created = await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 1, timeout=10)
            status = await cluster.client.update_status(evolve(created, status__seen=1))
            labelled = await cluster.client.update(evolve(status, metadata__labels={"x": "y"}))
            assert labelled.metadata.generation == created.metadata.generation
            await cluster.manager.wait_for(labelled.metadata.resource_version, timeout=10)
            await quiet(cluster)
            assert log.count() == 1
            await resize(cluster, "a", 5)  # a spec change bumps generation
            await cluster.wait_for(lambda: log.count() == 2, timeout=10)
            assert log.records[-1].size == 5


async def test_labels_changed_lets_only_label_changes_through() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)

    with anyio.fail_after(LIMIT):
        ctrl = Controller("labels", Gizmo, reconcile, predicates=[labels_changed])
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 1, timeout=10)
            resized = await resize(cluster, "a", 3)
            await cluster.manager.wait_for(resized.metadata.resource_version, timeout=10)
            await quiet(cluster)
            assert log.count() == 1
            await cluster.client.update(evolve(resized, metadata__labels={"tier": "gold"}))
            await cluster.wait_for(lambda: log.count() == 2, timeout=10)


# --- what a reconcile returns -----------------------------------------------------------------


async def test_requeue_after_reconciles_again_at_exactly_that_virtual_time() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> Result | None:
        log.note(ctx, req)
        return Result(requeue_after=30) if log.count() < 4 else None

    with anyio.fail_after(LIMIT):
        ctrl = Controller("later", Gizmo, reconcile)
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 4, timeout=200)
            await quiet(cluster, 100)
            times = log.times()
            assert len(times) == 4
            assert [b - a for a, b in itertools.pairwise(times)] == [30.0] * 3
            assert ctrl.stats["requeues"] == 3 and ctrl.stats["errors"] == 0


async def test_requeue_true_waits_as_the_rate_limiter_says_and_success_resets_it() -> None:
    log = Log()
    answers = [True, True, True, False, True, False]

    async def reconcile(ctx: Context, req: Request) -> Result | None:
        log.note(ctx, req)
        return Result(requeue=True) if answers.pop(0) else None

    limiter = ItemExponential(base=1.0, cap=60.0)
    with anyio.fail_after(LIMIT):
        ctrl = Controller("soon", Gizmo, reconcile, rate_limiter=limiter)
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 4, timeout=100)
            assert ctrl.queue is not None
            assert ctrl.queue.num_requeues(Request("a", "default")) == 0  # done: forgotten
            start = cluster.clock.now()
            await resize(cluster, "a", 1)
            await cluster.wait_for(lambda: log.count() == 6, timeout=100)
            times = log.times()
            assert [b - a for a, b in itertools.pairwise(times[:4])] == [1.0, 2.0, 4.0]
            assert times[4] == start  # the update is reconciled at once
            assert times[5] - times[4] == 1.0  # the backoff started over after the success
            assert ctrl.stats["requeues"] == 4


async def test_an_exception_backs_off_exponentially_per_key_without_a_hot_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)
        if req.name == "bad":
            raise RuntimeError("the database is down")

    with anyio.fail_after(LIMIT), caplog.at_level(logging.ERROR, logger=LOGGER):
        ctrl = Controller("failing", Gizmo, reconcile)
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("bad"))
            await cluster.wait_for(lambda: cluster.clock.now() >= 600, timeout=700)
            await cluster.client.create(gizmo("good"))  # other keys are not held up
            await cluster.wait_for(lambda: log.count("default/good") == 1, timeout=1)
            times = log.times("default/bad")
    waits = [b - a for a, b in itertools.pairwise(times)]
    expected = [min(0.005 * 2**i, 1000.0) for i in range(len(waits))]
    assert waits == pytest.approx(expected, rel=1e-9)
    # 5 ms doubling: the retries that fit in 600 s are 0.005 * (2**n - 1) <= 600, so n <= 16.
    assert len(times) == 17, times
    assert ctrl.stats["errors"] == 17
    failures = [r for r in caplog.records if "reconcile of default/bad failed" in r.getMessage()]
    assert len(failures) == 17 and failures[0].exc_info is not None


async def test_many_failing_keys_are_held_to_the_shared_token_bucket() -> None:
    attempts = 0

    async def reconcile(ctx: Context, req: Request) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("always")

    keys, seconds = 150, 60.0
    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("storm", Gizmo, reconcile)) as cluster:
            for i in range(keys):
                await cluster.client.create(gizmo(f"g{i}"))
            start = cluster.clock.now()
            await cluster.advance(seconds)
            elapsed = cluster.clock.now() - start
    # Per-key backoff alone would allow ~15 attempts per key in a minute (2,250 in all); the
    # shared bucket (burst 100, 10/s) admits at most 100 + 10/s of retries after the first try.
    per_key_only = keys * (1 + math.floor(math.log2(seconds / 0.005 + 1)))
    assert attempts <= keys + 100 + 10 * elapsed + 1
    assert attempts >= keys + 100 + 10 * (elapsed - 10)
    assert attempts < per_key_only / 2


async def test_terminal_error_is_not_retried_until_the_object_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)
        if ctx.object is not None and ctx.object.spec.size == 0:
            raise TerminalError("size 0 can never work; fix the spec")

    with anyio.fail_after(LIMIT), caplog.at_level(logging.ERROR, logger=LOGGER):
        ctrl = Controller("terminal", Gizmo, reconcile)
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.advance(600)
            assert log.count() == 1
            assert (ctrl.stats["terminal"], ctrl.stats["errors"]) == (1, 0)
            await resize(cluster, "a", 2)
            await cluster.wait_for(lambda: log.count() == 2, timeout=10)
            await quiet(cluster, 600)
            assert log.count() == 2 and log.records[-1].size == 2
    assert any("terminal error, not retrying" in r.getMessage() for r in caplog.records)


async def test_a_reconcile_returning_garbage_is_an_error_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> Any:
        log.note(ctx, req)
        return 42 if log.count() <= 3 else None

    with anyio.fail_after(LIMIT), caplog.at_level(logging.ERROR, logger=LOGGER):
        ctrl = Controller("garbage", Gizmo, reconcile)
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: log.count() == 4, timeout=10)
            await quiet(cluster, 60)
            times = log.times()
    assert len(times) == 4
    waits = [b - a for a, b in itertools.pairwise(times)]
    assert waits == pytest.approx([0.005, 0.01, 0.02], rel=1e-9)
    assert ctrl.stats["errors"] == 3
    logged = [r for r in caplog.records if r.exc_info and "42" in str(r.exc_info[1])]
    assert len(logged) == 3


async def test_a_hung_reconcile_is_cancelled_reported_and_retried_while_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = Log()
    cancelled: list[float] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)
        if req.name == "stuck" and log.count("default/stuck") == 1:
            try:
                await anyio.sleep_forever()
            finally:
                cancelled.append(ctx.clock.now())

    with anyio.fail_after(LIMIT), caplog.at_level(logging.ERROR, logger=LOGGER):
        ctrl = Controller("hung", Gizmo, reconcile, max_concurrent=2, reconcile_timeout=5)
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("stuck"))
            await cluster.wait_for(lambda: log.count("default/stuck") == 1, timeout=1)
            await cluster.advance(1)
            await cluster.client.create(gizmo("other"))
            await cluster.wait_for(lambda: log.count("default/other") == 1, timeout=1)
            assert log.times("default/other")[0] < 5  # reconciled while "stuck" hangs
            await cluster.wait_for(lambda: log.count("default/stuck") == 2, timeout=60)
            started = log.times("default/stuck")
            metrics = cluster.manager.metrics.text()
            await quiet(cluster, 60)
    assert cancelled == [started[0] + 5]
    assert started[1] == pytest.approx(started[0] + 5 + 0.005, rel=1e-9)
    assert log.count("default/stuck") == 2  # the retry finished: no more attempts
    assert ctrl.stats["timeouts"] == 1 and ctrl.stats["errors"] == 0
    assert 'kcore_reconcile_total{controller="hung",result="timeout"} 1.0' in metrics
    assert any(
        "default/stuck" in r.getMessage() and "within 5" in r.getMessage() for r in caplog.records
    )


# --- building controllers ---------------------------------------------------------------------


async def test_builder_and_decorator_build_equivalent_controllers() -> None:
    seen: list[tuple[str, str]] = []

    def secret_owner(secret: Secret) -> list[Request]:
        return [Request(secret.metadata.name, secret.metadata.namespace)]

    async def reconcile_b(ctx: Context, req: Request) -> None:
        seen.append(("built", str(req)))

    @controller(
        Gizmo,
        owns=[ConfigMap],
        watches=[(Secret, secret_owner)],
        predicates=[generation_changed],
        max_concurrent=3,
        reconcile_timeout=7,
    )
    async def decorated(ctx: Context, req: Request) -> None:
        seen.append(("decorated", str(req)))

    built = (
        Builder("built")
        .for_(Gizmo)
        .owns(ConfigMap)
        .watches(Secret, secret_owner)
        .with_predicates(generation_changed)
        .max_concurrent(3)
        .with_options(reconcile_timeout=7)
        .complete(reconcile_b)
    )
    assert (decorated.name, built.name) == ("decorated", "built")
    assert Builder().for_(Gizmo).complete(reconcile_b).name == "gizmo-controller"
    for attribute in ("for_", "max_concurrent", "reconcile_timeout", "predicates", "namespace"):
        assert getattr(decorated, attribute) == getattr(built, attribute), attribute
    assert decorated._watches == built._watches

    with anyio.fail_after(LIMIT):
        async with Cluster(decorated, built) as cluster:
            a = await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: len(seen) == 2, timeout=10)
            owned = ObjectMeta(name="x", owner_references=[controller_reference(a)])
            await cluster.client.create(ConfigMap(metadata=owned))
            await cluster.wait_for(lambda: len(seen) == 4, timeout=10)
            await cluster.client.create(Secret(metadata=ObjectMeta(name="s")))
            await cluster.wait_for(lambda: len(seen) == 6, timeout=10)
            await quiet(cluster)
    by_controller = {who: sorted(k for w, k in seen if w == who) for who in ("built", "decorated")}
    assert by_controller["built"] == by_controller["decorated"]
    assert by_controller["built"] == ["default/a", "default/a", "default/s"]


async def _noop(ctx: Context, req: Request) -> None:
    return None


@pytest.mark.parametrize(
    "build",
    [
        lambda: Controller("c", Gizmo, _noop, max_concurrent=0),
        lambda: controller(Gizmo, max_concurrent=0)(_noop),
        lambda: Builder().for_(Gizmo).max_concurrent(0).complete(_noop),
        lambda: Controller("c", Gizmo, _noop, reconcile_timeout=0),
        lambda: Controller("c", Gizmo, _noop, reconcile_timeout=math.nan),
        lambda: Builder().complete(_noop),
        lambda: Controller("c", dict, _noop),
    ],
    ids=["max0", "decorator-max0", "builder-max0", "timeout0", "timeout-nan", "no-for", "no-kind"],
)
def test_bad_arguments_are_refused(build: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        build()


async def test_initial_list_items_wait_behind_fresh_events() -> None:
    log = Log()

    async def reconcile(ctx: Context, req: Request) -> None:
        log.note(ctx, req)
        await ctx.clock.sleep(1)

    with anyio.fail_after(LIMIT):
        async with Cluster() as cluster:
            for i in range(5):
                await cluster.client.create(gizmo(f"old{i}"))
            ctrl = Controller("late", Gizmo, reconcile)
            cluster.manager.add(ctrl)  # its informer lists the five: low priority
            await cluster.wait_for(lambda: log.records, timeout=10)
            await cluster.client.create(gizmo("fresh"))  # a watch event: normal priority
            await cluster.wait_for(lambda: len(log.records) == 6, timeout=60)
    order = [r.key for r in log.records]
    assert order[0] == "default/old0"
    assert order[1] == "default/fresh", order
    assert order[2:] == [f"default/old{i}" for i in range(1, 5)]


# --- the context ------------------------------------------------------------------------------


async def test_ctx_object_is_the_cached_object_and_none_once_deleted() -> None:
    seen: list[Any] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        cached = ctx.manager.informer(Gizmo).cache.get(req.name, req.namespace)
        seen.append((ctx.object, cached))

    with anyio.fail_after(LIMIT):
        async with Cluster(Controller("obj", Gizmo, reconcile)) as cluster:
            created = await cluster.client.create(gizmo("a", size=4))
            await cluster.wait_for(lambda: len(seen) == 1, timeout=10)
            await cluster.client.delete(Gizmo, "a", "default")
            await cluster.wait_for(lambda: len(seen) == 2, timeout=10)
    (first, cached), (gone, _) = seen
    assert first is cached and first == created
    assert gone is None


async def test_ctx_get_and_list_read_the_cache_when_there_is_one_else_the_api() -> None:
    results: dict[str, Any] = {}

    async def reconcile(ctx: Context, req: Request) -> None:
        informer = ctx.manager.cached(ConfigMap)
        assert informer is not None
        results["cm"] = await ctx.get(ConfigMap, "cm")
        results["cm-cached"] = informer.cache.get("cm", "default")
        results["cms"] = await ctx.list(ConfigMap, "default")
        results["secret"] = await ctx.get(Secret, "s")
        results["secrets"] = await ctx.list(Secret, "default")
        results["missing"] = (await ctx.get(ConfigMap, "nope"), await ctx.get(Secret, "nope"))
        results["secret-cached"] = ctx.manager.cached(Secret)

    with anyio.fail_after(LIMIT):
        ctrl = Controller("reads", Gizmo, reconcile, owns=[ConfigMap])
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="cm")))
            secret = await cluster.client.create(Secret(metadata=ObjectMeta(name="s")))
            cm = await cluster.client.get(ConfigMap, "cm", "default")
            await cluster.manager.wait_for(secret.metadata.resource_version, timeout=10)
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: "secret-cached" in results, timeout=10)
    assert results["cm"] is results["cm-cached"] and results["cm"] == cm
    assert [o is results["cm-cached"] for o in results["cms"]] == [True]
    assert results["secret-cached"] is None  # nothing caches Secrets: read from the API
    assert results["secret"] == secret
    assert results["secrets"] == [secret]
    assert results["missing"] == (None, None)


async def test_ctx_apply_creates_then_writes_nothing_then_updates_and_merges_labels() -> None:
    applied: list[ConfigMap] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        if ctx.object is None:
            return
        desired = ConfigMap(
            metadata=ObjectMeta(name=f"{req.name}-cm", labels={"app": "gizmo"}),
            data={"size": str(ctx.object.spec.size)},
        )
        applied.append(await ctx.apply(desired))

    with anyio.fail_after(LIMIT):
        ctrl = Controller("apply", Gizmo, reconcile, owns=[ConfigMap])
        async with Cluster(ctrl) as cluster:
            owner = await cluster.client.create(gizmo("a", size=1))
            # The create reconciles; the ConfigMap it made reconciles the owner again: no-op.
            await cluster.wait_for(lambda: len(applied) == 2, timeout=10)
            await quiet(cluster)
            assert len(applied) == 2
            first, again = applied
            assert again.metadata.resource_version == first.metadata.resource_version
            assert dict(first.data) == {"size": "1"}
            (ref,) = first.metadata.owner_references
            assert (ref.kind, ref.name, ref.uid, ref.controller) == (
                "Gizmo", "a", owner.metadata.uid, True,
            )  # fmt: skip

            # A label added by someone else is kept: applying merges, and writes nothing.
            stored = await cluster.client.get(ConfigMap, "a-cm", "default")
            extra = await cluster.client.update(
                evolve(stored, metadata__labels={**stored.metadata.labels, "extra": "1"})
            )
            await cluster.wait_for(lambda: len(applied) == 3, timeout=10)
            assert applied[-1].metadata.resource_version == extra.metadata.resource_version
            assert dict(applied[-1].metadata.labels) == {"app": "gizmo", "extra": "1"}

            await resize(cluster, "a", 2)
            await cluster.wait_for(lambda: dict(applied[-1].data) == {"size": "2"}, timeout=10)
            updated = applied[-1]
            assert int(updated.metadata.resource_version) > int(extra.metadata.resource_version)
            assert dict(updated.metadata.labels) == {"app": "gizmo", "extra": "1"}
            assert len(updated.metadata.owner_references) == 1


async def test_ctx_own_makes_the_owned_set_exactly_the_wanted_one() -> None:
    outcomes: list[list[str]] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        size = ctx.object.spec.size if ctx.object is not None else 0
        wanted = [ConfigMap(metadata=ObjectMeta(name=f"{req.name}-{i}")) for i in range(size)]
        owned = await ctx.own(ConfigMap, wanted)
        outcomes.append(sorted(o.metadata.name for o in owned))

    async def names(cluster: Cluster) -> list[str]:
        return sorted(c.metadata.name for c in await cluster.client.list(ConfigMap, "default"))

    with anyio.fail_after(LIMIT):
        ctrl = Controller("own", Gizmo, reconcile, owns=[ConfigMap])
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(ConfigMap(metadata=ObjectMeta(name="a-9")))  # not owned
            await cluster.client.create(gizmo("a", size=3))
            expected = ["a-0", "a-1", "a-2", "a-9"]
            await cluster.wait_for(lambda: names(cluster), timeout=10)
            await cluster.wait_for(lambda: _equal(names(cluster), expected), timeout=10)
            await resize(cluster, "a", 1)
            await cluster.wait_for(lambda: _equal(names(cluster), ["a-0", "a-9"]), timeout=10)
            await quiet(cluster)
            assert outcomes[-1] == ["a-0"]
            await cluster.client.delete(Gizmo, "a", "default")
            await quiet(cluster)
            assert outcomes[-1] == []  # the owner is gone: own() did nothing
            assert await names(cluster) == ["a-0", "a-9"]


async def _equal(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_ctx_wait_for_reads_its_own_write_from_the_cache() -> None:
    seen: list[Any] = []

    async def reconcile(ctx: Context, req: Request) -> None:
        made = await ctx.client.create(ConfigMap(metadata=ObjectMeta(name=f"{req.name}-made")))
        await ctx.wait_for(made.metadata.resource_version, timeout=10)
        seen.append(await ctx.get(ConfigMap, f"{req.name}-made"))
        with pytest.raises(errors.TimeoutError):
            await ctx.wait_for(int(made.metadata.resource_version) + 1000, timeout=5)
        seen.append(ctx.clock.now())

    with anyio.fail_after(LIMIT):
        ctrl = Controller("ryw", Gizmo, reconcile, watches=[(ConfigMap, lambda cm: [])])
        async with Cluster(ctrl) as cluster:
            await cluster.client.create(gizmo("a"))
            await cluster.wait_for(lambda: len(seen) == 2, timeout=60)
    made, finished = seen
    assert made is not None and made.metadata.name == "a-made"
    assert finished >= 5.0
