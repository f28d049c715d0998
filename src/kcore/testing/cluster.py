"""An in-process cluster on a virtual clock: store, API and manager, with time that jumps ahead.

``Cluster`` runs a MemoryStore, an API client and a Manager on one ``VirtualClock``. A
background task watches the event loop: whenever every task is blocked (nothing is ready to
run), it moves the clock straight to the next sleeper's deadline. A test of a ten-minute
scenario — backoffs, requeue-after, lease renewals — runs in milliseconds, and the same seed
gives the same uids, names and ordering on every run.

    async with Cluster(my_controller) as cluster:
        await cluster.client.create(...)
        await cluster.wait_for(lambda: ..., timeout=600)   # seconds of virtual time

"Idle" is read from the event loop itself (asyncio: no ready callbacks after yielding; trio:
``wait_all_tasks_blocked``). Work that waits on real I/O or real timers is invisible to it, so
the cluster uses only in-memory parts.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
import anyio.abc
import sniffio

from kcore import errors
from kcore.api import Client
from kcore.clock import VirtualClock
from kcore.reconcile import Controller, Manager
from kcore.store import MemoryStore

__all__ = ["Cluster", "wait_all_idle"]

T = TypeVar("T")
logger = logging.getLogger("kcore.testing.cluster")
_MAX_IDLE_ROUNDS = 10_000  # yields before declaring the loop busy (a hot loop somewhere)


async def wait_all_idle() -> bool:
    """Return once every other task is blocked; False if the loop stayed busy too long."""
    if sniffio.current_async_library() == "trio":
        import trio.testing

        await trio.testing.wait_all_tasks_blocked()
        return True
    loop = asyncio.get_running_loop()
    for _ in range(_MAX_IDLE_ROUNDS):
        await asyncio.sleep(0)
        # asyncio runs callbacks in FIFO rounds: after our own step, anything still in
        # the ready queue is another task with work to do.
        if not loop._ready:  # type: ignore[attr-defined]
            return True
    return False


class Cluster:
    """Store + API + manager on a virtual clock; ``async with Cluster(*controllers)``."""

    def __init__(
        self,
        *controllers: Controller[Any],
        seed: int = 0,
        namespaces: tuple[str, ...] = ("default", "kube-system"),
        manager_options: dict[str, Any] | None = None,
    ) -> None:
        self.clock = VirtualClock()
        self.store = MemoryStore(clock=self.clock)
        self.client = Client(self.store, clock=self.clock, rng=random.Random(seed))
        self.manager = Manager(self.client, clock=self.clock, **(manager_options or {}))
        self.manager.add(*controllers)
        self._namespaces = namespaces
        self._group: anyio.abc.TaskGroup | None = None
        self._tick = anyio.Event()
        self._settling = 0

    async def __aenter__(self) -> Self:
        await self.store.__aenter__()
        await self.client.ensure_namespaces(*self._namespaces)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._autojump)
        self._group.start_soon(self.manager.run)
        await self.wait_for(self.manager.ready, timeout=60)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        self.manager.stop()
        self._group.cancel_scope.cancel()
        try:
            await self._group.__aexit__(exc_type, exc, tb)
        finally:
            await self.store.__aexit__(exc_type, exc, tb)

    async def _autojump(self) -> None:
        # Time moves only when every task is blocked AND the waiters have looked at the world
        # as it now is: the store's revision stands for "the world" (controllers keep their
        # state there), and after each jump they look again.
        clock = self.clock
        looked_at: int | None = None
        for _ in iter(int, 1):  # until the cluster's task group is cancelled
            idle = await wait_all_idle()
            revision = self.store.current_revision
            if not idle:
                logger.warning("cluster: tasks never went idle; time does not move")
                self._pulse()
                await anyio.sleep(0.001)
                continue
            if revision != looked_at or self._settling:
                looked_at = revision
                self._settling = 0
                self._pulse()
                continue
            deadline = clock.next_deadline()
            if deadline is None:
                await anyio.sleep(0.001)  # nothing timed: wait for the test to act
                continue
            await clock.advance(max(0.0, deadline - clock.now()))
            looked_at = None  # time moved: let the waiters look again before the next jump

    def _pulse(self) -> None:
        tick, self._tick = self._tick, anyio.Event()
        tick.set()

    async def _until_tick_or(self, tick: anyio.Event, deadline: float) -> None:
        async with anyio.create_task_group() as group:

            async def woken() -> None:
                await tick.wait()
                group.cancel_scope.cancel()

            async def alarm() -> None:
                await self.clock.sleep_until(deadline)
                group.cancel_scope.cancel()

            group.start_soon(woken)
            group.start_soon(alarm)

    async def settle(self) -> None:
        """Wait until every task is blocked; time does not move for this."""
        tick = self._tick
        self._settling += 1  # the next idle moment is announced rather than jumped over
        await tick.wait()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (timers in between fire at their instants)."""
        await self.clock.sleep(seconds)

    async def wait_for(
        self,
        predicate: Callable[[], T | Awaitable[T]],
        *,
        timeout: float = 300.0,
        real_timeout: float = 60.0,
    ) -> T:
        """Return ``predicate()``'s first truthy value; checked whenever the cluster goes idle.

        ``timeout`` is virtual seconds; ``real_timeout`` (wall seconds) guards a cluster that
        never goes idle. Either raises :class:`kcore.errors.TimeoutError`.
        """
        deadline = self.clock.now() + timeout
        with anyio.move_on_after(real_timeout) as scope:
            for _ in iter(int, 1):
                # Taken before looking, so a pulse during the look is not missed.
                tick = self._tick
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
                if self.clock.now() >= deadline:
                    break
                await self._until_tick_or(tick, deadline)

        where = "real" if scope.cancelled_caught else "virtual"
        raise errors.TimeoutError(
            f"condition not met within {real_timeout if where == 'real' else timeout} s of "
            f"{where} time (virtual clock at {self.clock.now():.3f} s)"
        )
