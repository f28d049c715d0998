"""Time, injectable: every lease, backoff, requeue and deadline in kcore reads a ``Clock``.

``RealClock`` is the monotonic clock of the running event loop's library. ``VirtualClock``
only moves when a test calls ``advance()``, so minutes of cluster time pass in milliseconds
and the order of timed events is deterministic. Both work under asyncio and trio (anyio).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from typing import Protocol, runtime_checkable

import anyio

from kcore.errors import InvalidArgumentError

__all__ = ["Clock", "RealClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """A monotonic clock in seconds, and a way to wait on it."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch, for timestamps written into objects."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time (0 or less: just yield to other tasks)."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Wait until ``now() >= deadline``."""
        ...


class RealClock:
    """Wall-independent monotonic time, waiting with the event loop's own timers."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        await anyio.sleep(max(0.0, deadline - time.monotonic()))


class VirtualClock:
    """A clock that moves only when told to: ``await clock.advance(30)``.

    Sleepers wake in deadline order; each wake happens with ``now()`` equal to its deadline,
    and the woken task gets a chance to run before time moves on, so a test that advances an
    hour sees every timer fire at its own instant.
    """

    def __init__(self, start: float = 0.0, *, epoch: float = 1_704_067_200.0) -> None:
        # ``epoch`` is the wall time at ``start`` (default 2024-01-01T00:00:00Z), so the
        # timestamps a test writes are the same on every run.
        self._now = float(start)
        self._start = float(start)
        self._epoch = float(epoch)
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._epoch + (self._now - self._start)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + seconds)

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        wake = anyio.Event()
        entry = (deadline, next(self._seq), wake)
        heapq.heappush(self._sleepers, entry)
        try:
            await wake.wait()
        finally:
            if not wake.is_set():  # canceled while asleep: forget the sleeper
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    def next_deadline(self) -> float | None:
        """When the earliest sleeper wakes, or None if nobody sleeps on this clock."""
        return self._sleepers[0][0] if self._sleepers else None

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return len(self._sleepers)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking each sleeper at its own deadline."""
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidArgumentError(
                f"VirtualClock.advance: seconds must be a finite number >= 0, got {seconds!r}"
            )
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, wake = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            wake.set()
            await _let_others_run()
        self._now = target
        await _let_others_run()


async def _let_others_run() -> None:
    # A woken task needs a few scheduler passes to finish what it does at this instant
    # (wake, take a lock, write, notify): a bounded number of checkpoints gives it that.
    for _ in range(8):
        await anyio.lowlevel.checkpoint()
