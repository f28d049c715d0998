"""The informer: one kind's objects mirrored into a local cache, with change handlers.

An informer is client-go's reflector, indexer and shared-informer processor in one object:

* **list, then watch.** ``run()`` lists the kind (paged, every page at one revision), makes
  the cache exactly that list, then watches from the list's revision with bookmarks on.
  A watch whose history was compacted (GoneError) means changes were missed: list again, and
  the cache is reconciled against the new list — new objects are added, changed ones updated,
  and objects that vanished meanwhile are deleted (their handlers get the last object the cache
  knew, as no final state was seen). Any other failure (UnavailableError, a store error, a
  watch that simply ends) is retried from the last revision seen, with exponential backoff on
  the informer's clock (0.1 s doubling to 30 s, reset once a watch delivers something). Errors
  retrying cannot fix end ``run()`` with an InvalidArgumentError: a malformed selector, or an
  index function that fails on an object (a cache missing objects would be worse).
* **handlers run in their own tasks.** Each ``add_handler`` registration has its own queue and
  delivery task, so one slow or failing handler neither stalls the watch nor the others; each
  registration sees every change in order. A handler may be a plain function or a coroutine
  function; one that raises is logged and skipped. A handler added once the cache is filled
  first gets ``on_add`` for every cached object, as client-go does.
* **resync.** With ``resync_period``, every period of clock time each cached object is handed
  again to every registration: to ``on_resync(obj)`` when the registration has one, otherwise to
  ``on_update(obj, obj)`` — the *same* object as old and new (``old is new``), which a real
  update never is, so a handler can tell the two apart.
* **read your own writes.** ``wait_for(resource_version)`` returns once the cache has applied
  every change up to that store revision. The informer asks its watch for a bookmark, so the
  revision is reached even when the write was to another kind and no event of this kind came.

Revisions are the store's: an object's ``resourceVersion`` is its mod revision, and a list or
bookmark carries the store revision it reflects. Everything is anyio; the informer itself uses
no asyncio-only API (a store it reads may, e.g. ``EtcdStore`` through grpc.aio).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import anyio
import anyio.abc

from kcore import errors
from kcore.api import Client, Watcher, WatchEvent, WatchEventType
from kcore.clock import Clock
from kcore.objects import info_for
from kcore.reconcile.cache import Cache, IndexFunc, key_of
from kcore.reconcile.handlers import HandlerRegistration, Latch, Note, Pulse, within

__all__ = ["HandlerRegistration", "Informer"]

T = TypeVar("T")

logger = logging.getLogger("kcore.reconcile.informer")

INITIAL_BACKOFF = 0.1  # seconds of clock time before the first retry
MAX_BACKOFF = 30.0
LIST_PAGE_SIZE = 500  # client-go's page size: bounds what one store read returns
_MAX_PAGES = 10_000_000  # loop bound only; a list ends when the store says no more
_MAX_BOOKMARK_ASKS = 8  # per wait_for on one watch: enough to outlast a dropped request


class _Backoff:
    """Exponential retry delays: INITIAL_BACKOFF doubling up to MAX_BACKOFF until reset."""

    def __init__(self) -> None:
        self._next = INITIAL_BACKOFF

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(delay * 2, MAX_BACKOFF)
        return delay

    def reset(self) -> None:
        self._next = INITIAL_BACKOFF


def _revision_of(resource_version: str | int) -> int:
    try:
        revision = int(resource_version)
    except (TypeError, ValueError):
        revision = -1
    if revision < 0 or isinstance(resource_version, bool):
        raise errors.InvalidArgumentError(
            f"resource_version {resource_version!r} is not a store revision; pass "
            "metadata.resource_version of an object the API returned"
        )
    return revision


def _version(obj: Any) -> str:
    return obj.metadata.resource_version  # type: ignore[no-any-return]


class Informer(Generic[T]):
    """Lists and watches one kind into ``cache`` and calls the registered handlers.

    ``namespace`` (None: every namespace), ``label_selector`` and ``field_selector`` limit what
    is cached, exactly as for ``Client.list``. ``clock`` (default: the client's) times retries,
    resyncs and ``timeout`` arguments. Run it with ``await informer.run()`` in a task; it runs
    until cancelled.
    """

    def __init__(
        self,
        client: Client,
        kind: type[T],
        *,
        namespace: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
        resync_period: float | None = None,
        clock: Clock | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
    ) -> None:
        info = info_for(kind)
        self.client = client
        self.kind = kind
        self.namespace = (namespace or None) if info.namespaced else None
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.clock: Clock = clock if clock is not None else client.clock
        self.cache: Cache[T] = Cache(indexers)
        where = f" in {self.namespace}" if self.namespace else ""
        self._name = f"informer for {info.plural}{where}"
        self._registrations: list[HandlerRegistration[T]] = []
        self._resource_version = ""
        self._seen = 0  # the store revision the cache reflects
        self._bookmarks = 0  # bookmarks applied, so wait_for can tell a new one arrived
        self._advanced = Pulse()  # fires on every change of what the informer has seen
        self._listed = False
        self._synced = Latch()
        self._watcher: Watcher[T] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._running = False
        self._events_this_watch = 0

    def __repr__(self) -> str:
        return f"<Informer {self._name} at revision {self._resource_version or '-'}>"

    @property
    def resync_period(self) -> float | None:
        return self._resync_period

    @resync_period.setter
    def resync_period(self, value: float | None) -> None:
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise errors.InvalidArgumentError(
                f"resync_period must be None (no resync) or a number of seconds > 0, got {value!r}"
            )
        self._resync_period = value

    # --- state -------------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        """True once the first list is cached and handlers registered before it handled it."""
        return self._synced.is_set

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until ``has_synced`` (TimeoutError after ``timeout`` seconds of clock time)."""
        await within(self.clock, timeout, self._synced.wait, f"{self._name}: sync")

    @property
    def last_sync_resource_version(self) -> str:
        """The store revision the cache reflects ("" before the first list)."""
        return self._resource_version

    async def wait_for(self, resource_version: str | int, timeout: float | None = None) -> None:
        """Return once the cache has applied every change up to ``resource_version``.

        Pass the ``metadata.resource_version`` a write returned to read your own write from the
        cache; the write may be to any kind. TimeoutError after ``timeout`` of clock time.
        """
        target = _revision_of(resource_version)
        if self._seen >= target:
            return
        await within(
            self.clock,
            timeout,
            lambda: self._reach(target),
            f"{self._name}: revision {target} in the cache",
        )

    async def _reach(self, target: int) -> None:
        asked: Watcher[T] | None = None
        asks = 0
        bookmarks_then = 0
        while self._seen < target:
            advanced = self._advanced.event()  # taken first: a change while asking wakes us
            watcher = self._watcher
            # Ask each new watch once; ask again only after a bookmark came and fell short
            # (a request can be dropped, e.g. by etcd while the watch catches up), boundedly.
            again = self._bookmarks > bookmarks_then and asks < _MAX_BOOKMARK_ASKS
            if watcher is not None and (watcher is not asked or again):
                asks = asks + 1 if watcher is asked else 1
                asked, bookmarks_then = watcher, self._bookmarks
                try:
                    await watcher.request_bookmark()
                except (errors.KcoreError, OSError) as exc:  # the reflector handles the watch
                    logger.debug("%s: bookmark request failed: %s", self._name, exc)
            await advanced.wait()

    # --- handlers ----------------------------------------------------------------------------

    def add_handler(
        self,
        on_add: Callable[[T], object] | None = None,
        on_update: Callable[[T, T], object] | None = None,
        on_delete: Callable[[T], object] | None = None,
        *,
        on_resync: Callable[[T], object] | None = None,
    ) -> HandlerRegistration[T]:
        """Register callbacks (plain or async); see the module docstring for their contract.

        ``on_update(old, new)``; ``on_delete(obj)`` gets the object's final state, or the last
        one cached if the deletion was only noticed by a relist.
        """
        registration = HandlerRegistration(self._name, on_add, on_update, on_delete, on_resync)
        self._registrations.append(registration)
        if self._listed:
            for obj in self.cache.list():
                registration._push(Note.ADD, obj)
            registration._mark_sync_point()
        if self._task_group is not None:
            self._task_group.start_soon(registration._deliver_forever)
        return registration

    def remove_handler(self, registration: HandlerRegistration[T]) -> None:
        """Stop delivering to ``registration`` (changes queued for it are dropped)."""
        if registration in self._registrations:
            self._registrations.remove(registration)
        registration._remove()

    def _notify(self, note: Note, obj: T, new: T | None = None) -> None:
        for registration in self._registrations:
            registration._push(note, obj, new)

    # --- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """List, watch and deliver until cancelled (see the module docstring)."""
        if self._running:
            raise errors.ConflictError(
                f"{self._name} is already running; run each informer once (share it through "
                "InformerFactory instead of running it twice)"
            )
        self._running = True
        fatal: errors.KcoreError | None = None
        try:
            async with anyio.create_task_group() as task_group:
                self._task_group = task_group
                for registration in self._registrations:
                    task_group.start_soon(registration._deliver_forever)
                task_group.start_soon(self._resync_forever)
                try:
                    await self._reflect()
                except errors.InvalidArgumentError as exc:
                    fatal = exc
                    task_group.cancel_scope.cancel()
        finally:
            self._task_group = None
            self._watcher = None
            self._running = False
        if fatal is not None:
            logger.error("%s stopped: %s", self._name, fatal)
            raise fatal

    async def _reflect(self) -> None:
        backoff = _Backoff()
        must_list = True
        gone_in_a_row = 0
        while True:
            self._events_this_watch = 0
            try:
                if must_list:
                    await self._list_and_replace()
                    must_list = False
                await self._watch()
            except errors.GoneError as exc:
                # Compacted history: events were missed, only a fresh list can tell what.
                must_list = True
                gone_in_a_row = 0 if self._events_this_watch else gone_in_a_row + 1
                logger.info("%s: %s; listing again", self._name, exc)
                if gone_in_a_row > 1:
                    await self.clock.sleep(backoff.next_delay())
                continue
            except errors.InvalidArgumentError:
                raise
            except (errors.KcoreError, OSError) as exc:
                if self._events_this_watch:
                    backoff.reset()
                delay = backoff.next_delay()
                what = "list" if must_list else "watch"
                logger.warning(
                    "%s: %s failed (%s: %s); retrying in %.1f s",
                    self._name,
                    what,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await self.clock.sleep(delay)
                continue
            gone_in_a_row = 0
            if self._events_this_watch:
                backoff.reset()  # a watch that worked and ended: resume at once
            else:
                delay = backoff.next_delay()
                logger.info("%s: watch ended with no events; again in %.1f s", self._name, delay)
                await self.clock.sleep(delay)

    async def _list_and_replace(self) -> None:
        items: list[T] = []
        revision = ""
        token: str | None = None
        for _ in range(_MAX_PAGES):
            page = await self.client.list(
                self.kind,
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=LIST_PAGE_SIZE,
                continue_=token,
            )
            items.extend(page.items)
            revision = revision or page.resource_version
            if not page.continue_:
                break
            token = page.continue_
        self._replace(items, revision)

    def _replace(self, items: list[T], revision: str) -> None:
        cache = self.cache
        listed: set[str] = set()
        for obj in items:
            key = key_of(obj)
            listed.add(key)
            old = cache.get_by_key(key)
            if old is not None and _version(old) == _version(obj):
                continue  # unchanged: keep the instance callers may already hold
            cache.upsert(obj)
            if old is None:
                self._notify(Note.ADD, obj)
            else:
                self._notify(Note.UPDATE, old, obj)
        for key in [key for key in cache.keys() if key not in listed]:  # noqa: SIM118 (not a dict)
            gone = cache.remove(key)
            if gone is not None:
                logger.debug("%s: %s vanished while not watching", self._name, key)
                self._notify(Note.DELETE, gone)
        self._advance(revision)
        if not self._listed:
            self._listed = True
            starting = list(self._registrations)
            for registration in starting:
                registration._mark_sync_point()
            assert self._task_group is not None
            self._task_group.start_soon(self._declare_synced, starting)

    async def _declare_synced(self, registrations: list[HandlerRegistration[T]]) -> None:
        for registration in registrations:
            await registration.wait_synced()
        self._synced.set()
        logger.debug("%s: synced at revision %s", self._name, self._resource_version)

    async def _watch(self) -> None:
        watcher = self.client.watch(
            self.kind,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=self._resource_version,
            allow_bookmarks=True,
        )
        async with watcher:
            self._watcher = watcher
            self._advanced.fire()  # waiters ask the new watch for a bookmark
            try:
                async for event in watcher:
                    self._events_this_watch += 1
                    self._apply(event)
            finally:
                self._watcher = None

    def _apply(self, event: WatchEvent[T]) -> None:
        obj = event.object
        if event.type is WatchEventType.BOOKMARK:
            self._bookmarks += 1
        elif event.type is WatchEventType.DELETED:
            if self.cache.remove(key_of(obj)) is not None:
                self._notify(Note.DELETE, obj)
        else:
            old = self.cache.upsert(obj)
            if old is None:
                self._notify(Note.ADD, obj)
            else:
                self._notify(Note.UPDATE, old, obj)
        self._advance(_version(obj))

    def _advance(self, resource_version: str) -> None:
        # No await between the events of one watch response, so a waiter woken here runs only
        # after every change of that revision (a multi-object transaction) is in the cache.
        revision = int(resource_version)
        if revision > self._seen:
            self._seen = revision
            self._resource_version = resource_version
        self._advanced.fire()

    async def _resync_forever(self) -> None:
        while self._resync_period is not None:
            await self.clock.sleep(self._resync_period)
            if not self._listed:
                continue
            for obj in self.cache.list():
                self._notify(Note.RESYNC, obj)
