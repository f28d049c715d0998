"""Handler delivery for informers: each registration gets its own queue and its own task.

An informer must not wait on its handlers: a slow handler would stall the watch, and every
other handler with it. So, as client-go's shared informer does, each ``add_handler`` call gets
a ``HandlerRegistration`` with an unbounded queue of changes and a task that hands them to the
callbacks one at a time, in order. Callbacks may be plain functions or coroutine functions; one
that raises is logged (``kcore.reconcile.informer``) and the next change is delivered.

A registration knows its *starting set* (the first list, or the cache's contents when it was
added later) and reports ``has_synced`` once that set has been handled. The small waiting
helpers the informer shares (``Latch``, ``Pulse``, ``within``) live here too; all of it is
anyio, usable on asyncio and trio, and constructible before an event loop runs.
"""

from __future__ import annotations

import enum
import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio

from kcore import errors
from kcore.clock import Clock
from kcore.reconcile.cache import key_of

__all__ = ["HandlerRegistration", "Latch", "Note", "Pulse", "within"]

T = TypeVar("T")

logger = logging.getLogger("kcore.reconcile.informer")


class Note(enum.Enum):
    """What a queued change is; RESYNC goes to ``on_resync``, else ``on_update(obj, obj)``."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    RESYNC = "resync"


class Latch:
    """Set once, waited on by many; usable before an event loop runs (the Event is lazy)."""

    def __init__(self) -> None:
        self.is_set = False
        self._event: anyio.Event | None = None

    def set(self) -> None:
        self.is_set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self.is_set:
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


class Pulse:
    """Wakes whoever waits at the moment it fires; take ``event()`` before awaiting anything."""

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    def event(self) -> anyio.Event:
        if self._event is None:
            self._event = anyio.Event()
        return self._event

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None


async def within(
    clock: Clock, timeout: float | None, wait: Callable[[], Awaitable[None]], what: str
) -> None:
    """Run ``wait()``; TimeoutError if it has not finished after ``timeout`` of clock time."""
    if timeout is None:
        await wait()
        return
    if not math.isfinite(timeout) or timeout < 0:
        raise errors.InvalidArgumentError(
            f"{what}: timeout must be None or a finite number of seconds >= 0, got {timeout!r}"
        )
    finished = False
    async with anyio.create_task_group() as task_group:

        async def run() -> None:
            nonlocal finished
            await wait()
            finished = True
            task_group.cancel_scope.cancel()

        async def alarm() -> None:
            await clock.sleep(timeout)
            task_group.cancel_scope.cancel()

        task_group.start_soon(run)
        task_group.start_soon(alarm)
    if not finished:
        raise errors.TimeoutError(
            f"{what} did not happen within {timeout} s (clock time); is the informer running "
            "and can it reach the store? Pass a longer timeout if it is just slow"
        )


class HandlerRegistration(Generic[T]):
    """One ``add_handler`` call: its callbacks, its queue of changes, its delivery task.

    ``has_synced`` / ``wait_synced()`` tell when this registration has handled the objects it
    started with (the first list, or the cache's contents if it was added later).
    """

    def __init__(
        self,
        owner: str,
        on_add: Callable[[T], object] | None,
        on_update: Callable[[T, T], object] | None,
        on_delete: Callable[[T], object] | None,
        on_resync: Callable[[T], object] | None,
    ) -> None:
        self._owner = owner
        self.on_add = on_add
        self.on_update = on_update
        self.on_delete = on_delete
        self.on_resync = on_resync
        self._queue: deque[tuple[Note, T, T | None]] = deque()
        self._wake: anyio.Event | None = None
        self._enqueued = 0
        self._delivered = 0
        self._sync_target: int | None = None
        self._synced = Latch()
        self._scope: anyio.CancelScope | None = None
        self._removed = False

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set

    async def wait_synced(self) -> None:
        """Return once the starting objects were handed to this registration's callbacks."""
        await self._synced.wait()

    @property
    def pending(self) -> int:
        """Changes queued for this registration and not yet handled."""
        return len(self._queue)

    def _wants(self, note: Note) -> bool:
        if note is Note.ADD:
            return self.on_add is not None
        if note is Note.DELETE:
            return self.on_delete is not None
        if note is Note.RESYNC and self.on_resync is not None:
            return True
        return self.on_update is not None

    def _push(self, note: Note, obj: T, new: T | None = None) -> None:
        if self._removed or not self._wants(note):
            return
        self._queue.append((note, obj, new))
        self._enqueued += 1
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    def _mark_sync_point(self) -> None:
        """What is queued now is this registration's starting set."""
        if self._sync_target is None:
            self._sync_target = self._enqueued
            self._check_synced()

    def _check_synced(self) -> None:
        target = self._sync_target
        if target is not None and self._delivered >= target:
            self._synced.set()

    def _remove(self) -> None:
        self._removed = True
        self._queue.clear()
        self._synced.set()  # nobody should wait forever on a registration that is gone
        if self._scope is not None:
            self._scope.cancel()

    async def _deliver_forever(self) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            while not self._removed:
                while not self._queue:
                    self._wake = anyio.Event()
                    await self._wake.wait()
                note, obj, new = self._queue.popleft()
                await self._call(note, obj, new)
                self._delivered += 1
                self._check_synced()

    async def _call(self, note: Note, obj: T, new: T | None) -> None:
        function: Callable[..., object] | None
        args: tuple[Any, ...]
        if note is Note.ADD:
            function, args = self.on_add, (obj,)
        elif note is Note.UPDATE:
            function, args = self.on_update, (obj, new)
        elif note is Note.DELETE:
            function, args = self.on_delete, (obj,)
        elif self.on_resync is not None:
            function, args = self.on_resync, (obj,)
        else:
            function, args = self.on_update, (obj, obj)
        if function is None:
            return
        try:
            result = function(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception(
                "%s: on_%s handler %r failed for %s; the informer and other handlers carry on",
                self._owner,
                note.value,
                function,
                key_of(obj),
            )
