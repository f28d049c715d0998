"""Informers over a real API client and MemoryStore: list, watch, relist, retry, resync, waits.

Failures are injected with ``FlakyStore``, a MemoryStore wrapper whose watches the test can
refuse (UnavailableError on ``watch()``), break (an error out of a live watch), or hold back
(responses are kept until released), so each recovery path runs deterministically. Retry
backoff and resync run on a VirtualClock; every wait is bounded with ``anyio.fail_after``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from kcore import errors
from kcore.api import Client
from kcore.clock import VirtualClock
from kcore.objects import ObjectMeta, evolve
from kcore.objects.kinds.core_config import ConfigMap, Namespace, Secret
from kcore.objects.kinds.core_pod import Pod
from kcore.reconcile.cache import by_label
from kcore.reconcile.factory import InformerFactory
from kcore.reconcile.informer import Informer
from kcore.store import MemoryStore

WAIT = 10  # seconds: generous bound on every wait (never an assertion about speed)
LOGGER = "kcore.reconcile.informer"


# --- helpers ---------------------------------------------------------------------------------


class ControlledWatch:
    """A store watch the test can break with an error or hold back."""

    def __init__(self, inner: Any, owner: FlakyStore) -> None:
        self.inner = inner
        self.owner = owner
        self.error: BaseException | None = None

    @property
    def watch_id(self) -> int:
        return int(self.inner.watch_id)

    def __aiter__(self) -> ControlledWatch:
        return self

    async def __anext__(self) -> Any:
        try:
            response = await self.inner.__anext__()
        except StopAsyncIteration:
            if self.error is not None:
                raise self.error from None
            raise
        while self.owner.held is not None:
            await self.owner.held.wait()
        return response

    async def break_with(self, error: BaseException) -> None:
        self.error = error
        await self.inner.cancel()

    async def request_progress(self) -> None:
        await self.inner.request_progress()

    async def cancel(self) -> None:
        await self.inner.cancel()

    async def __aenter__(self) -> ControlledWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cancel()


class FlakyStore:
    """A MemoryStore whose watches can be refused, broken or held back by the test."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.refuse = 0  # the next `refuse` watch() calls raise UnavailableError
        self.watch_calls = 0
        self.watches: list[ControlledWatch] = []
        self.held: anyio.Event | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def watch(self, *args: Any, **kwargs: Any) -> ControlledWatch:
        self.watch_calls += 1
        if self.refuse:
            self.refuse -= 1
            raise errors.UnavailableError("injected: the store refused the watch")
        watch = ControlledWatch(await self.inner.watch(*args, **kwargs), self)
        self.watches.append(watch)
        return watch

    def hold(self) -> None:
        self.held = anyio.Event()

    def release(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.set()

    async def revision(self) -> int:
        return int((await self.inner.range(b"\0")).header.revision)


class Recorder:
    """Handler callbacks that record ("add"|"update"|"delete", old-or-obj, new)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, Any]] = []
        self._changed = anyio.Event()

    def _record(self, event: tuple[str, Any, Any]) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    def on_add(self, obj: Any) -> None:
        self._record(("add", obj, None))

    def on_update(self, old: Any, new: Any) -> None:
        self._record(("update", old, new))

    def on_delete(self, obj: Any) -> None:
        self._record(("delete", obj, None))

    def on_resync(self, obj: Any) -> None:
        self._record(("resync", obj, None))

    async def wait_count(self, count: int) -> None:
        with anyio.fail_after(WAIT):
            while len(self.events) < count:
                await self._changed.wait()

    def summary(self, start: int = 0) -> list[tuple[str, str, str]]:
        """(what, name, resourceVersion of the new-or-only object) from event ``start`` on."""
        out = []
        for what, first, second in self.events[start:]:
            obj = second if what == "update" else first
            out.append((what, obj.metadata.name, obj.metadata.resource_version))
        return out


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition()`` holds (bounded)."""
    with anyio.fail_after(WAIT):
        while not condition():
            await anyio.sleep(0.001)


@asynccontextmanager
async def running(*informers: Informer[Any]) -> AsyncIterator[anyio.abc.TaskGroup]:
    async with anyio.create_task_group() as task_group:
        for informer in informers:
            task_group.start_soon(informer.run)
        try:
            yield task_group
        finally:
            task_group.cancel_scope.cancel()


@asynccontextmanager
async def cluster(*namespaces: str) -> AsyncIterator[tuple[Client, FlakyStore]]:
    async with MemoryStore() as memory:
        store = FlakyStore(memory)
        client = Client(store)  # type: ignore[arg-type]
        for name in ("default", *namespaces):
            await client.create(Namespace(metadata=ObjectMeta(name=name)))
        yield client, store


def cm(name: str, namespace: str = "default", **labels: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels))


async def put_data(client: Client, name: str, value: str) -> ConfigMap:
    current = await client.get(ConfigMap, name, "default")
    return await client.update(evolve(current, data={"k": value}))


# --- list, watch and handlers ----------------------------------------------------------------


@pytest.mark.anyio
async def test_initial_list_fills_the_cache_and_handlers_before_sync() -> None:
    async with cluster() as (client, _):
        created = [await client.create(cm(n)) for n in ("a", "b", "c")]
        informer = Informer(client, ConfigMap, namespace="default")
        recorder = Recorder()
        informer.add_handler(recorder.on_add, recorder.on_update, recorder.on_delete)
        assert not informer.has_synced and informer.last_sync_resource_version == ""
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            # synced means the handlers already had the first list
            assert recorder.summary() == [
                ("add", o.metadata.name, o.metadata.resource_version) for o in created
            ]
            assert sorted(informer.cache.keys()) == ["default/a", "default/b", "default/c"]
            assert informer.cache.get("b", "default") == created[1]
            listed = await client.list(ConfigMap, "default")
            assert informer.last_sync_resource_version == listed.resource_version


@pytest.mark.anyio
async def test_creates_updates_deletes_arrive_in_order_with_old_and_new() -> None:
    async with cluster() as (client, _):
        informer = Informer(client, ConfigMap, namespace="default")
        recorder = Recorder()
        informer.add_handler(recorder.on_add, recorder.on_update, recorder.on_delete)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            v1 = await client.create(cm("a"))
            v2 = await put_data(client, "a", "2")
            v3 = await put_data(client, "a", "3")
            await client.delete(ConfigMap, "a", "default")
            await recorder.wait_count(4)
            kinds = [what for what, _, _ in recorder.events]
            assert kinds == ["add", "update", "update", "delete"]
            (_, added, _), (_, old1, new1), (_, old2, new2), (_, deleted, _) = recorder.events
            assert added == v1 and new1 == v2 and new2 == v3
            assert old1 is added and old2 is new1  # "old" is exactly what the cache held
            assert deleted.data == v3.data  # the final state
            assert int(deleted.metadata.resource_version) > int(v3.metadata.resource_version)
            assert len(informer.cache) == 0
            assert informer.last_sync_resource_version == deleted.metadata.resource_version


@pytest.mark.anyio
async def test_handler_added_after_sync_first_gets_every_cached_object() -> None:
    async with cluster() as (client, _):
        await client.create(cm("a"))
        await client.create(cm("b"))
        informer = Informer(client, ConfigMap)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            late = Recorder()
            registration = informer.add_handler(late.on_add, late.on_update, late.on_delete)
            with anyio.fail_after(WAIT):
                await registration.wait_synced()
            assert sorted(name for _, name, _ in late.summary()) == ["a", "b"]
            assert all(what == "add" for what, _, _ in late.summary())
            await client.create(cm("c"))
            await late.wait_count(3)
            assert late.summary(2)[0][:2] == ("add", "c")
            informer.remove_handler(registration)
            await client.create(cm("d"))
            await informer.wait_for((await client.get(ConfigMap, "d")).metadata.resource_version)
            for _ in range(20):
                await anyio.sleep(0)
            assert len(late.events) == 3  # removed: no more deliveries


@pytest.mark.anyio
async def test_sync_waits_for_slow_async_handlers() -> None:
    async with cluster() as (client, _):
        await client.create(cm("a"))
        gate = anyio.Event()
        seen: list[str] = []

        async def slow_add(obj: ConfigMap) -> None:
            await gate.wait()
            seen.append(obj.metadata.name)

        informer = Informer(client, ConfigMap)
        informer.add_handler(on_add=slow_add)
        async with running(informer):
            await until(lambda: len(informer.cache) == 1)
            for _ in range(50):
                await anyio.sleep(0)
            assert not informer.has_synced  # cached, but the handler has not finished it
            gate.set()
            await informer.wait_synced(timeout=WAIT)
            assert seen == ["a"]


@pytest.mark.anyio
async def test_a_failing_or_stuck_handler_stops_neither_informer_nor_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with cluster() as (client, _):
        informer = Informer(client, ConfigMap)
        good = Recorder()

        def broken(obj: ConfigMap) -> None:
            raise RuntimeError(f"boom on {obj.metadata.name}")

        informer.add_handler(on_add=broken)
        informer.add_handler(good.on_add, good.on_update, good.on_delete)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            stuck = anyio.Event()
            informer.add_handler(on_add=lambda obj: stuck.wait())  # never finishes
            with caplog.at_level(logging.ERROR, logger=LOGGER):
                await client.create(cm("a"))
                await client.create(cm("b"))
                await good.wait_count(2)
                await until(lambda: len(caplog.records) >= 2)
            assert good.summary()[0][:2] == ("add", "a") and good.summary()[1][:2] == ("add", "b")
            messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
            assert any("on_add handler" in m and "default/a" in m for m in messages)
            assert any(r.exc_info and "boom on b" in str(r.exc_info[1]) for r in caplog.records)
            assert len(informer.cache) == 2


# --- relist, retry, resync -------------------------------------------------------------------


@pytest.mark.anyio
async def test_relist_after_compaction_converges_and_reports_what_was_missed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with cluster() as (client, store):
        for name in ("a", "b", "c"):
            await client.create(cm(name))
        clock = VirtualClock()
        informer = Informer(client, ConfigMap, namespace="default", clock=clock)
        recorder = Recorder()
        informer.add_handler(recorder.on_add, recorder.on_update, recorder.on_delete)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            c_known = informer.cache.get("c", "default")
            b_known = informer.cache.get("b", "default")
            # Disconnect: the live watch dies and every new one is refused for now.
            store.refuse = 1_000
            await store.watches[-1].break_with(errors.UnavailableError("injected: link lost"))
            await until(lambda: clock.sleepers == 1)  # backing off
            await client.delete(ConfigMap, "c", "default")
            b_now = await put_data(client, "b", "changed")
            d_now = await client.create(cm("d"))
            await client.create(cm("e"))
            await client.delete(ConfigMap, "e", "default")  # born and gone unseen
            await store.compact(await store.revision())
            store.refuse = 0
            with caplog.at_level(logging.INFO, logger=LOGGER):
                await clock.advance(60)  # past any backoff: it re-watches, gets Gone, relists
                await recorder.wait_count(6)
            assert recorder.summary(3) == [
                ("update", "b", b_now.metadata.resource_version),
                ("add", "d", d_now.metadata.resource_version),
                ("delete", "c", c_known.metadata.resource_version),
            ]
            assert recorder.events[3][1] is b_known
            assert recorder.events[5][1] is c_known  # the last object the cache knew
            assert any("too old resource version" in r.getMessage() for r in caplog.records)
            listed = await client.list(ConfigMap, "default")
            assert sorted(informer.cache.keys()) == ["default/a", "default/b", "default/d"]
            assert informer.cache.list() == list(listed.items)
            assert informer.last_sync_resource_version == listed.resource_version
            # and it watches again from the new list
            f = await client.create(cm("f"))
            await recorder.wait_count(7)
            assert recorder.summary(6) == [("add", "f", f.metadata.resource_version)]


@pytest.mark.anyio
async def test_a_dead_watch_is_retried_with_exponential_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with cluster() as (client, store):
        clock = VirtualClock()
        informer = Informer(client, ConfigMap, clock=clock)
        recorder = Recorder()
        informer.add_handler(recorder.on_add)
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            async with running(informer):
                await informer.wait_synced(timeout=WAIT)
                assert store.watch_calls == 1
                store.refuse = 2
                await store.watches[-1].break_with(errors.UnavailableError("injected: reset"))
                await until(lambda: clock.sleepers == 1)
                await clock.advance(0.1)  # first retry, refused
                await until(lambda: store.watch_calls == 2 and clock.sleepers == 1)
                await clock.advance(0.19)
                assert store.watch_calls == 2  # the second delay is 0.2 s
                await clock.advance(0.01)
                await until(lambda: store.watch_calls == 3 and clock.sleepers == 1)
                await clock.advance(0.4)  # third try gets through
                await until(lambda: store.watch_calls == 4 and clock.sleepers == 0)
                created = await client.create(cm("after"))
                await recorder.wait_count(1)
                assert recorder.summary() == [("add", "after", created.metadata.resource_version)]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert [w.rsplit("retrying in ", 1)[1] for w in warnings] == ["0.1 s", "0.2 s", "0.4 s"]
        assert "UnavailableError: injected: reset" in warnings[0]


@pytest.mark.anyio
async def test_a_watch_that_ends_after_events_resumes_at_once_without_loss() -> None:
    async with cluster() as (client, store):
        clock = VirtualClock()
        informer = Informer(client, ConfigMap, clock=clock)
        recorder = Recorder()
        informer.add_handler(recorder.on_add, recorder.on_update)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            await client.create(cm("a"))
            await recorder.wait_count(1)
            store.hold()  # responses wait, so the next writes are not yet seen
            await put_data(client, "a", "1")
            await client.create(cm("b"))
            await store.watches[-1].inner.cancel()  # the stream just ends
            store.release()
            await recorder.wait_count(3)  # resumed from the last revision it saw, no backoff
            assert clock.now() == 0 and store.watch_calls == 2
            assert [what for what, _, _ in recorder.events] == ["add", "update", "add"]


@pytest.mark.anyio
async def test_resync_on_a_virtual_clock() -> None:
    async with cluster() as (client, _):
        await client.create(cm("a"))
        await client.create(cm("b"))
        clock = VirtualClock()
        informer = Informer(client, ConfigMap, resync_period=30, clock=clock)
        updates, resyncs = Recorder(), Recorder()
        informer.add_handler(on_update=updates.on_update)
        informer.add_handler(on_update=resyncs.on_update, on_resync=resyncs.on_resync)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            await clock.advance(29.9)
            assert updates.events == [] and resyncs.events == []
            await clock.advance(0.1)
            await updates.wait_count(2)
            await resyncs.wait_count(2)
            assert all(old is new for _, old, new in updates.events)  # how a resync looks
            assert {o.metadata.name for _, o, _ in updates.events} == {"a", "b"}
            assert [what for what, _, _ in resyncs.events] == ["resync", "resync"]
            changed = await put_data(client, "a", "x")
            await updates.wait_count(3)
            _, old, new = updates.events[2]
            assert old is not new and new == changed  # a real update is never old is new
            await clock.advance(30)
            await updates.wait_count(5)
    with pytest.raises(errors.InvalidArgumentError, match="resync_period"):
        Informer(client, ConfigMap, resync_period=0)


# --- read your own writes --------------------------------------------------------------------


@pytest.mark.anyio
async def test_wait_for_returns_only_once_the_cache_has_the_write() -> None:
    async with cluster() as (client, store):
        informer = Informer(client, ConfigMap)
        async with running(informer) as task_group:
            await informer.wait_synced(timeout=WAIT)
            store.hold()
            written = await client.create(cm("mine"))
            returned = anyio.Event()

            async def wait() -> None:
                await informer.wait_for(written.metadata.resource_version, timeout=WAIT)
                returned.set()

            task_group.start_soon(wait)
            for _ in range(50):
                await anyio.sleep(0)
            assert not returned.is_set() and informer.cache.get("mine", "default") is None
            store.release()
            with anyio.fail_after(WAIT):
                await returned.wait()
            assert informer.cache.get("mine", "default") == written
            assert int(informer.last_sync_resource_version) >= int(
                written.metadata.resource_version
            )
            await informer.wait_for(int(written.metadata.resource_version))  # already there


@pytest.mark.anyio
async def test_wait_for_a_write_to_another_kind_advances_by_bookmark() -> None:
    async with cluster() as (client, _):
        informer = Informer(client, Pod)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            before = int(informer.last_sync_resource_version)
            written = await client.create(cm("elsewhere"))
            revision = int(written.metadata.resource_version)
            assert revision > before
            with anyio.fail_after(WAIT):
                await informer.wait_for(written.metadata.resource_version)
            assert int(informer.last_sync_resource_version) >= revision
            assert len(informer.cache) == 0


@pytest.mark.anyio
async def test_wait_for_times_out_on_the_clock_and_checks_its_argument() -> None:
    async with cluster() as (client, _):
        clock = VirtualClock()
        informer = Informer(client, ConfigMap, clock=clock)
        async with running(informer) as task_group:
            await informer.wait_synced(timeout=WAIT)
            outcome: list[BaseException] = []

            async def wait_for_the_future() -> None:
                try:
                    await informer.wait_for(10**9, timeout=5)
                except errors.TimeoutError as exc:
                    outcome.append(exc)

            task_group.start_soon(wait_for_the_future)
            await until(lambda: clock.sleepers == 1)
            await clock.advance(4.9)
            assert outcome == []
            await clock.advance(0.1)
            await until(lambda: len(outcome) == 1)
            assert "revision 1000000000" in str(outcome[0])
            for bad in ("abc", -1, "", True):
                with pytest.raises(errors.InvalidArgumentError, match="not a store revision"):
                    await informer.wait_for(bad)  # type: ignore[arg-type]


# --- selection, sharing, errors --------------------------------------------------------------


@pytest.mark.anyio
async def test_selectors_limit_the_cache_and_turn_transitions_into_add_and_delete() -> None:
    async with cluster("other") as (client, _):
        await client.create(cm("web", app="web"))
        await client.create(cm("db", app="db"))
        await client.create(cm("web", "other", app="web"))
        by_labels = Informer(client, ConfigMap, namespace="default", label_selector="app=web")
        by_field = Informer(client, ConfigMap, field_selector="metadata.name=db")
        recorder = Recorder()
        by_labels.add_handler(recorder.on_add, recorder.on_update, recorder.on_delete)
        async with running(by_labels, by_field):
            await by_labels.wait_synced(timeout=WAIT)
            await by_field.wait_synced(timeout=WAIT)
            assert by_labels.cache.keys() == ["default/web"]
            assert by_field.cache.keys() == ["default/db"]
            db = await client.get(ConfigMap, "db")
            db = await client.update(evolve(db, metadata__labels={"app": "web"}))
            web = await client.get(ConfigMap, "web")
            web = await client.update(evolve(web, metadata__labels={"app": "db"}))
            await by_labels.wait_for(web.metadata.resource_version, timeout=WAIT)
            await recorder.wait_count(3)
            assert recorder.summary(1) == [
                ("add", "db", db.metadata.resource_version),
                ("delete", "web", web.metadata.resource_version),
            ]
            assert by_labels.cache.keys() == ["default/db"]


@pytest.mark.anyio
async def test_indexers_given_to_the_informer_follow_the_watch() -> None:
    async with cluster() as (client, _):
        informer = Informer(client, ConfigMap, indexers={"app": by_label("app")})
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            a = await client.create(cm("a", app="web"))
            await informer.wait_for(a.metadata.resource_version, timeout=WAIT)
            assert informer.cache.by_index("app", "web") == [a]
            a2 = await client.update(evolve(a, metadata__labels={"app": "db"}))
            await informer.wait_for(a2.metadata.resource_version, timeout=WAIT)
            assert informer.cache.by_index("app", "web") == []
            assert informer.cache.by_index("app", "db") == [a2]


@pytest.mark.anyio
async def test_the_factory_shares_one_informer_per_selection() -> None:
    async with cluster("other") as (client, _):
        await client.create(cm("a", app="web", tier="front"))
        await client.create(Secret(metadata=ObjectMeta(name="s", namespace="default")))
        factory = InformerFactory(client)
        first = factory.informer(
            ConfigMap, namespace="default", label_selector="app=web,tier=front"
        )
        same = factory.informer(
            ConfigMap, namespace="default", label_selector={"tier": "front", "app": "web"}
        )
        assert same is first
        assert factory.informer(ConfigMap, namespace="other") is not first
        assert factory.informer(ConfigMap, namespace="default") is not first
        namespaces = factory.informer(Namespace)
        assert factory.informer(Namespace, namespace="ignored") is namespaces  # cluster-scoped
        fields = factory.informer(Secret, field_selector="metadata.name=s")
        assert factory.informer(Secret, field_selector="metadata.name=s") is fields
        assert factory.informer(ConfigMap, namespace="other", resync_period=60).resync_period == 60
        factory.informer(ConfigMap, namespace="other", resync_period=30)
        assert factory.informer(ConfigMap, namespace="other").resync_period == 30
        assert len(factory.informers()) == 5
        async with anyio.create_task_group() as task_group:
            await factory.start(task_group)
            await factory.start(task_group)  # idempotent: nothing runs twice
            await factory.wait_synced(timeout=WAIT)
            assert all(i.has_synced for i in factory.informers())
            assert first.cache.keys() == ["default/a"]
            assert fields.cache.keys() == ["default/s"]
            assert sorted(namespaces.cache.keys()) == ["default", "other"]
            later = factory.informer(Secret)
            assert not later.has_synced
            await factory.start(task_group)
            await factory.wait_synced(timeout=WAIT)
            assert later.cache.keys() == ["default/s"]
            task_group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_the_factory_run_runs_every_informer() -> None:
    async with cluster() as (client, _):
        factory = InformerFactory(client)
        informer = factory.informer(ConfigMap)
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(factory.run)
            await factory.wait_synced(timeout=WAIT)
            a = await client.create(cm("a"))
            await informer.wait_for(a.metadata.resource_version, timeout=WAIT)
            assert informer.cache.get("a", "default") == a
            task_group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_run_refuses_a_second_run_and_stops_on_a_bad_selector() -> None:
    async with cluster() as (client, _):
        informer = Informer(client, ConfigMap)
        async with running(informer):
            await informer.wait_synced(timeout=WAIT)
            with pytest.raises(errors.ConflictError, match="already running"):
                await informer.run()
        bad = Informer(client, ConfigMap, field_selector="spec.nodeName=n1")
        with anyio.fail_after(WAIT), pytest.raises(errors.InvalidArgumentError, match="field"):
            await bad.run()
        with pytest.raises(errors.InvalidTypeError):
            Informer(client, dict)
