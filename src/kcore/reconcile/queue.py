"""The controller work queue: each key handed to one worker at a time, once per change.

Semantics are client-go's workqueue (plus controller-runtime's priorities), because the
reconcile contract depends on them:

* **Dedup ("dirty" set).** An item added many times before a worker takes it is queued once.
* **One worker per key.** ``get()`` marks the item *processing*; until ``done(item)`` no other
  ``get()`` returns it. An item added while processing is marked dirty and queued again only
  when ``done`` is called, so the change is seen by a fresh reconcile, never by two at once.
* **Delays.** ``add_after(item, delay)`` makes the item ready at ``clock.now() + delay``; a
  later ``add_after`` with a shorter delay wins, a longer one changes nothing, and an immediate
  ``add`` drops the pending delay (the item is ready now). ``add_after`` on an item that is
  already dirty only raises its priority: it will be processed anyway.
* **Rate limits.** ``add_rate_limited`` asks the :class:`~kcore.reconcile.ratelimit.RateLimiter`
  how long to wait; ``forget`` resets the item's backoff, ``num_requeues`` reports it.
* **Priority with aging.** Ready items are served highest priority first, first-come within a
  priority (use :attr:`Priority.LOW` for initial-list and resync adds, so fresh events jump
  ahead of them). Re-adding a waiting item at a higher priority moves it to the back of that
  priority's line. Anti-starvation rule: an item that has been *ready* (not delayed, not
  waiting for its previous processing to finish) for ``promote_after`` seconds of clock time
  or longer is served before any fresher item, whatever its priority, oldest first. So no
  item waits in the ready line much longer than ``promote_after`` plus the time to serve the
  items older than it. ``promote_after=math.inf`` gives strict priority; ``0`` gives FIFO.
* **Shutdown.** After ``shut_down()`` adds are ignored and pending delays dropped; ``get()``
  still hands out what is ready, then raises :class:`QueueShutDown` (workers return on it).
  ``await shut_down_with_drain()`` does the same and then waits until no item is processing
  (a later ``shut_down()`` stops that wait).

No background task: delays are evaluated lazily. Every operation first moves items whose
deadline has passed into the ready line (at their deadline's place in the order), and a
``get()`` that finds nothing ready sleeps on the clock until the earliest deadline — only one
waiting ``get()`` at a time does that ("keeps time"); the others wait to be woken one by one
as items become ready. So the queue needs no lifecycle (no ``async with``), works unchanged
under a :class:`~kcore.clock.VirtualClock` (``await clock.advance(s)`` wakes the timekeeper at
exactly each deadline) and never busy-loops. ``add``/``done`` are plain functions, callable
from informer handlers; the queue is not thread-safe (use it from its event loop).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, Protocol, TypeVar, runtime_checkable

import anyio

from kcore.clock import Clock, RealClock
from kcore.errors import InvalidArgumentError, InvalidTypeError, UnavailableError
from kcore.reconcile.ratelimit import RateLimiter, default_controller_rate_limiter

__all__ = ["CountingMetrics", "Priority", "QueueMetrics", "QueueShutDown", "WorkQueue"]

T = TypeVar("T", bound=Hashable)


class Priority(IntEnum):
    """Named priorities; any int works, higher is served first."""

    LOW = -100  # initial list, resync: work that is not news
    NORMAL = 0  # a watch event
    HIGH = 100


class QueueShutDown(UnavailableError):
    """``get()`` on a queue that is shut down and has nothing left to hand out."""


@runtime_checkable
class QueueMetrics(Protocol):
    """Callbacks a queue makes so a metrics system (prometheus, say) can count its work."""

    def add(self, item: Hashable) -> None:
        """An item became dirty (needs processing) — once per dirty generation."""
        ...

    def get(self, item: Hashable, wait_seconds: float) -> None:
        """A worker took the item, ``wait_seconds`` after it became dirty (or due)."""
        ...

    def done(self, item: Hashable, work_seconds: float) -> None:
        """A worker finished the item, ``work_seconds`` after taking it."""
        ...

    def retry(self, item: Hashable) -> None:
        """``add_after``/``add_rate_limited`` was called for the item."""
        ...

    def depth(self, n: int) -> None:
        """The number of ready items changed to ``n``."""
        ...


class _NoMetrics:
    def add(self, item: Hashable) -> None: ...
    def get(self, item: Hashable, wait_seconds: float) -> None: ...
    def done(self, item: Hashable, work_seconds: float) -> None: ...
    def retry(self, item: Hashable) -> None: ...
    def depth(self, n: int) -> None: ...


class CountingMetrics:
    """Keeps every callback in memory: counts, the latest and largest depth, and timings."""

    def __init__(self) -> None:
        self.adds = 0
        self.gets = 0
        self.dones = 0
        self.retries = 0
        self.current_depth = 0
        self.max_depth = 0
        self.waits: list[tuple[Hashable, float]] = []
        self.work: list[tuple[Hashable, float]] = []

    def add(self, item: Hashable) -> None:
        self.adds += 1

    def get(self, item: Hashable, wait_seconds: float) -> None:
        self.gets += 1
        self.waits.append((item, wait_seconds))

    def done(self, item: Hashable, work_seconds: float) -> None:
        self.dones += 1
        self.work.append((item, work_seconds))

    def retry(self, item: Hashable) -> None:
        self.retries += 1

    def depth(self, n: int) -> None:
        self.current_depth = n
        self.max_depth = max(self.max_depth, n)


@dataclass(slots=True)
class _Dirty:
    priority: int
    since: float  # clock time it became dirty (or its delay ran out): the metrics' wait start


@dataclass(slots=True)
class _Delayed:
    deadline: float
    seq: int  # matches the one live heap entry; older entries for the item are stale
    priority: int


class WorkQueue(Generic[T]):
    """A deduplicating, delaying, rate-limited priority work queue (see the module docstring).

    ``clock`` defaults to :class:`~kcore.clock.RealClock`; ``rate_limiter`` to
    :func:`~kcore.reconcile.ratelimit.default_controller_rate_limiter` on that clock.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        rate_limiter: RateLimiter | None = None,
        metrics: QueueMetrics | None = None,
        promote_after: float = 10.0,
        name: str = "",
    ) -> None:
        if (
            isinstance(promote_after, bool)
            or not isinstance(promote_after, int | float)
            or math.isnan(promote_after)
            or promote_after < 0
        ):
            raise InvalidArgumentError(
                f"WorkQueue {name!r}: promote_after must be seconds >= 0 (math.inf for strict "
                f"priority), got {promote_after!r}"
            )
        self.name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        self._limiter: RateLimiter = (
            rate_limiter
            if rate_limiter is not None
            else default_controller_rate_limiter(self._clock)
        )
        self._metrics: QueueMetrics = metrics if metrics is not None else _NoMetrics()
        self._promote_after = float(promote_after)

        self._dirty: dict[T, _Dirty] = {}  # needs processing: ready, or processing again later
        self._processing: dict[T, float] = {}  # handed out by get(), with the time it was
        self._ready: OrderedDict[T, float] = OrderedDict()  # ready line, with ready time
        self._levels: dict[int, OrderedDict[T, None]] = {}  # the ready line per priority
        self._delayed: dict[T, _Delayed] = {}
        self._heap: list[tuple[float, int, T]] = []  # (deadline, seq, item); some stale
        self._stale = 0
        self._seq = itertools.count()

        self._waiters: deque[anyio.Event] = deque()  # get()s waiting to be woken, in order
        self._timekeeper: anyio.CancelScope | None = None  # the get() asleep until a deadline
        self._timekeeper_deadline = math.inf
        self._shutting_down = False
        self._draining = False
        self._drain_waiters: list[anyio.Event] = []

    def __repr__(self) -> str:
        return (
            f"<WorkQueue {self.name!r} ready={len(self._ready)} "
            f"processing={len(self._processing)} delayed={len(self._delayed)}>"
        )

    # --- adding -------------------------------------------------------------------------

    def add(self, item: T, *, priority: int = Priority.NORMAL) -> None:
        """Mark ``item`` as needing processing (ignored once the queue is shutting down)."""
        self._check_item("add", item)
        self._check_priority("add", priority)
        if self._shutting_down:
            return
        self._promote_due()
        if self._delayed.pop(item, None) is not None:
            self._stale += 1  # ready now beats ready later
        self._mark_dirty(item, priority, self._clock.now())

    def add_after(self, item: T, delay: float, *, priority: int = Priority.NORMAL) -> None:
        """Add ``item`` once ``delay`` seconds of clock time have passed (<= 0: now)."""
        self._check_item("add_after", item)
        self._check_priority("add_after", priority)
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
        ):
            raise InvalidArgumentError(
                f"WorkQueue {self.name!r}: add_after delay must be a finite number of seconds, "
                f"got {delay!r}"
            )
        if self._shutting_down:
            return
        self._metrics.retry(item)
        if delay <= 0:
            self.add(item, priority=priority)
            return
        self._promote_due()
        if item in self._dirty:  # it will be processed anyway; only its priority can change
            self._raise_priority(item, priority)
            return
        deadline = self._clock.now() + delay
        pending = self._delayed.get(item)
        if pending is not None:
            pending.priority = max(pending.priority, priority)
            if pending.deadline <= deadline:
                return
            self._stale += 1
            priority = pending.priority
        seq = next(self._seq)
        self._delayed[item] = _Delayed(deadline, seq, priority)
        heapq.heappush(self._heap, (deadline, seq, item))
        self._compact_heap()
        self._deadline_added(deadline)

    def add_rate_limited(self, item: T, *, priority: int = Priority.NORMAL) -> None:
        """Add ``item`` after the wait its rate limiter gives (one more retry for it)."""
        self._check_item("add_rate_limited", item)
        self._check_priority("add_rate_limited", priority)
        if self._shutting_down:
            return
        self.add_after(item, self._limiter.when(item), priority=priority)

    def forget(self, item: T) -> None:
        """Stop tracking ``item``'s retries: its next rate-limited add starts from scratch."""
        self._limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many rate-limited adds ``item`` had since it was last forgotten."""
        return self._limiter.retries(item)

    # --- taking -------------------------------------------------------------------------

    async def get(self) -> T:
        """Wait for a ready item, mark it processing and return it; call ``done`` after.

        Raises :class:`QueueShutDown` once the queue is shut down and nothing is ready.
        """
        # Always yield once, so a worker whose items are always ready cannot hog the loop.
        await anyio.lowlevel.checkpoint()
        while True:
            self._promote_due()
            if self._ready:
                item = self._take()
                self._pass_on()
                return item
            if self._shutting_down:
                raise QueueShutDown(
                    f"work queue {self.name!r} is shut down and has no ready items; "
                    "the worker should stop"
                )
            deadline = self._next_deadline()
            if deadline is not None and self._timekeeper is None:
                await self._keep_time(deadline)
            else:
                await self._wait_to_be_woken()

    def done(self, item: T) -> None:
        """Finish processing ``item``; if it was added meanwhile, it is queued again now."""
        if item not in self._processing:
            raise InvalidArgumentError(
                f"WorkQueue {self.name!r}: done({item!r}) for an item that is not being "
                "processed; call done() exactly once for each item get() returned"
            )
        self._promote_due()
        now = self._clock.now()
        started = self._processing.pop(item)
        self._metrics.done(item, now - started)
        if item in self._dirty:
            self._push_ready(item, now)
        if not self._processing:
            self._release_drain_waiters()

    def __len__(self) -> int:
        """Items ready to be taken (not the delayed ones, not the ones being processed)."""
        self._promote_due()
        return len(self._ready)

    @property
    def processing(self) -> int:
        """How many items are handed out and not yet done."""
        return len(self._processing)

    # --- shutting down ------------------------------------------------------------------

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shut_down(self) -> None:
        """Ignore adds from now on; ``get()`` raises :class:`QueueShutDown` when nothing is left."""
        self._stop(drain=False)
        self._release_drain_waiters()

    async def shut_down_with_drain(self) -> None:
        """Like ``shut_down``, then wait until every item handed out is ``done``."""
        self._stop(drain=True)
        while self._processing and self._draining:
            released = anyio.Event()
            self._drain_waiters.append(released)
            try:
                await released.wait()
            finally:
                if not released.is_set():
                    self._drain_waiters.remove(released)

    def _stop(self, *, drain: bool) -> None:
        self._shutting_down = True
        self._draining = drain
        self._delayed.clear()  # delays never run out after shutdown
        self._heap.clear()
        self._stale = 0
        for waiter in self._waiters:
            waiter.set()
        self._waiters.clear()
        if self._timekeeper is not None:
            self._timekeeper.cancel()

    def _release_drain_waiters(self) -> None:
        for waiter in self._drain_waiters:
            waiter.set()
        self._drain_waiters.clear()

    # --- the ready line -----------------------------------------------------------------

    def _mark_dirty(self, item: T, priority: int, since: float) -> None:
        if item in self._dirty:
            self._raise_priority(item, priority)
            return
        self._dirty[item] = _Dirty(priority, since)
        self._metrics.add(item)
        if item not in self._processing:  # else done() queues it
            self._push_ready(item, since)

    def _raise_priority(self, item: T, priority: int) -> None:
        entry = self._dirty[item]
        if priority <= entry.priority:
            return
        if item in self._ready:  # to the back of the higher priority's line
            self._leave_level(item, entry.priority)
            self._levels.setdefault(priority, OrderedDict())[item] = None
        entry.priority = priority

    def _push_ready(self, item: T, ready_at: float) -> None:
        self._ready[item] = ready_at
        self._levels.setdefault(self._dirty[item].priority, OrderedDict())[item] = None
        self._metrics.depth(len(self._ready))
        self._wake_one()

    def _leave_level(self, item: T, priority: int) -> None:
        level = self._levels[priority]
        del level[item]
        if not level:
            del self._levels[priority]

    def _take(self) -> T:
        now = self._clock.now()
        oldest, ready_at = next(iter(self._ready.items()))
        if now - ready_at >= self._promote_after:
            item = oldest  # waited long enough: served before any priority
        else:
            item = next(iter(self._levels[max(self._levels)]))
        del self._ready[item]
        entry = self._dirty.pop(item)
        self._leave_level(item, entry.priority)
        self._processing[item] = now
        self._metrics.get(item, now - entry.since)
        self._metrics.depth(len(self._ready))
        return item

    # --- delays -------------------------------------------------------------------------

    def _promote_due(self) -> None:
        """Move every item whose deadline has passed into the ready line, in deadline order."""
        heap = self._heap
        if not heap:
            return
        now = self._clock.now()
        while heap and heap[0][0] <= now:
            deadline, seq, item = heapq.heappop(heap)
            pending = self._delayed.get(item)
            if pending is None or pending.seq != seq:
                self._stale -= 1
                continue
            del self._delayed[item]
            self._mark_dirty(item, pending.priority, deadline)

    def _next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            _, seq, item = heap[0]
            pending = self._delayed.get(item)
            if pending is not None and pending.seq == seq:
                return pending.deadline
            heapq.heappop(heap)
            self._stale -= 1
        return None

    def _compact_heap(self) -> None:
        # Superseded entries would otherwise stay until their (maybe far) deadline.
        if self._stale > 64 and self._stale > len(self._delayed):
            self._heap = [(d.deadline, d.seq, item) for item, d in self._delayed.items()]
            heapq.heapify(self._heap)
            self._stale = 0

    # --- waking waiters -----------------------------------------------------------------

    async def _keep_time(self, deadline: float) -> None:
        """Sleep on the clock until ``deadline``, or until woken (cancelled) early."""
        scope = anyio.CancelScope()
        self._timekeeper = scope
        self._timekeeper_deadline = deadline
        try:
            with scope:
                await self._clock.sleep_until(deadline)
        except BaseException:
            self._timekeeper = None
            self._pass_on()  # leaving for good: another get() must keep time / take items
            raise
        finally:
            if self._timekeeper is scope:
                self._timekeeper = None

    async def _wait_to_be_woken(self) -> None:
        woken = anyio.Event()
        self._waiters.append(woken)
        try:
            await woken.wait()
        except BaseException:
            if woken.is_set():
                self._pass_on()  # the wake-up was meant for work: hand it to someone else
            else:
                self._waiters.remove(woken)
            raise

    def _wake_one(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()
        elif self._timekeeper is not None:
            self._timekeeper.cancel()

    def _pass_on(self) -> None:
        """Wake another get() if there is an item for it, or nobody keeps time."""
        if self._ready or (self._heap and self._timekeeper is None):
            self._wake_one()

    def _deadline_added(self, deadline: float) -> None:
        if self._timekeeper is not None:
            if deadline < self._timekeeper_deadline:
                self._timekeeper.cancel()  # it sleeps too long: let it aim again
        elif self._waiters:
            self._waiters.popleft().set()  # it will find nothing ready and keep time

    # --- argument checks ----------------------------------------------------------------

    def _check_item(self, method: str, item: object) -> None:
        try:
            hash(item)
        except TypeError:
            raise InvalidTypeError(
                f"WorkQueue {self.name!r}: {method} needs a hashable item (a key such as "
                f"'namespace/name'), got {type(item).__name__} {item!r}"
            ) from None

    def _check_priority(self, method: str, priority: object) -> None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise InvalidTypeError(
                f"WorkQueue {self.name!r}: {method} priority must be an int (Priority.LOW, "
                f"NORMAL, HIGH or any other), got {priority!r}"
            )
