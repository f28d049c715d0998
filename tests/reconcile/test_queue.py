"""The work queue: dedup, one worker per key, delays on the clock, backoff, priority, shutdown.

Behaviour tests first, then hypothesis tests against a plain reference model (sequential, exact
order) and against a log of concurrent workers, then a run under trio. Time is a VirtualClock
throughout; ``anyio.fail_after`` only bounds a test that would otherwise hang.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore.clock import VirtualClock
from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.reconcile.queue import CountingMetrics, Priority, QueueShutDown, WorkQueue
from kcore.reconcile.ratelimit import ItemExponential, RateLimiter, TokenBucket

pytestmark = pytest.mark.anyio

LIMIT = 10  # seconds of real time any test may block before it counts as hung


async def settle() -> None:
    """Let every runnable task run until all wait. anyio's check alone polls every 0.1 s of
    real time under asyncio while a task is runnable, so yield plenty of times first."""
    for _ in range(20):
        await anyio.lowlevel.checkpoint()
    await anyio.wait_all_tasks_blocked()


def make(**options: object) -> tuple[WorkQueue[str], VirtualClock]:
    clock = VirtualClock()
    return WorkQueue[str](clock, **options), clock  # type: ignore[arg-type]


async def take(q: WorkQueue[str]) -> str:
    """get() an item the queue must already have ready."""
    with anyio.fail_after(LIMIT):
        return await q.get()


async def drain_ready(q: WorkQueue[str]) -> list[str]:
    """Take and finish every ready item, in the order the queue hands them out."""
    order = []
    while len(q):
        item = await take(q)
        q.done(item)
        order.append(item)
    return order


@dataclass
class Recorder:
    """A background worker: takes items, records (item, clock time), finishes them at once."""

    q: WorkQueue[str]
    clock: VirtualClock
    taken: list[tuple[str, float]] = field(default_factory=list)
    stopped: bool = False

    async def run(self) -> None:
        try:
            while True:
                item = await self.q.get()
                self.taken.append((item, self.clock.now()))
                self.q.done(item)
        except QueueShutDown:
            self.stopped = True


# --- dedup and one worker per key -----------------------------------------------------------


async def test_an_item_added_many_times_is_queued_once() -> None:
    metrics = CountingMetrics()
    q, _ = make(metrics=metrics)
    for item in ["a", "b", "a", "a", "c", "b"]:
        q.add(item)
    assert len(q) == 3
    assert await drain_ready(q) == ["a", "b", "c"]  # first-come order
    assert len(q) == 0
    assert (metrics.adds, metrics.gets, metrics.dones) == (3, 3, 3)
    assert metrics.max_depth == 3 and metrics.current_depth == 0


async def test_an_item_being_processed_is_not_handed_out_again_until_done() -> None:
    q, _ = make()
    q.add("a")
    first = await take(q)
    q.add("a")
    q.add("a")
    assert len(q) == 0  # dirty, but waiting for done()
    assert q.processing == 1
    second: list[str] = []

    async def other_worker() -> None:
        second.append(await q.get())

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(other_worker)
            await settle()
            assert second == []  # blocked: the only dirty item is being processed
            q.done(first)  # now it is queued again, once
            await settle()
    assert second == ["a"]
    q.done("a")
    assert len(q) == 0 and q.processing == 0


async def test_get_yields_to_other_tasks_even_when_items_are_ready() -> None:
    q, _ = make()
    for n in range(10):
        q.add(f"k{n}")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            for _ in range(10):
                q.done(await q.get())  # a worker that never awaits anything else
            assert ticks >= 5
            tg.cancel_scope.cancel()


async def test_done_of_an_item_not_processing_is_refused_and_changes_nothing() -> None:
    q, _ = make()
    q.add("a")
    with pytest.raises(InvalidArgumentError, match=r"done\('a'\).*not being processed"):
        q.done("a")
    assert len(q) == 1
    assert await take(q) == "a"
    q.done("a")
    with pytest.raises(InvalidArgumentError, match="exactly once"):
        q.done("a")


async def test_many_workers_never_hold_one_key_at_once_and_see_every_last_add() -> None:
    q, clock = make()
    holding: set[str] = set()
    processed_after: dict[str, int] = {}
    last_add: dict[str, int] = {}
    step = 0

    async def worker() -> None:
        try:
            while True:
                item = await q.get()
                assert item not in holding
                holding.add(item)
                processed_after[item] = step
                await clock.sleep(0.25)
                holding.discard(item)
                q.done(item)
        except QueueShutDown:
            pass

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(worker)
            for step in range(1, 61):
                key = f"k{step % 7}"
                q.add(key)
                last_add[key] = step
                await settle()
                if step % 3 == 0:
                    await clock.advance(0.25)
            while len(q) or q.processing:
                await clock.advance(0.25)
                await settle()
            q.shut_down()
    for key, step_added in last_add.items():
        assert processed_after[key] >= step_added  # no add was lost


# --- delays on the clock --------------------------------------------------------------------


async def test_add_after_is_ready_exactly_at_its_deadline() -> None:
    q, clock = make()
    q.add_after("a", 5)
    q.add_after("b", 2)
    q.add_after("c", 3.5)
    assert len(q) == 0
    await clock.advance(1.5)
    assert len(q) == 0
    await clock.advance(0.5)
    assert len(q) == 1  # b at t=2.0 exactly
    recorder = Recorder(q, clock)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await settle()
            await clock.advance(10)
            await settle()
            q.shut_down()
    assert recorder.taken == [("b", 2.0), ("c", 3.5), ("a", 5.0)]
    assert recorder.stopped


async def test_a_shorter_delay_wins_and_a_longer_one_changes_nothing() -> None:
    q, clock = make()
    q.add_after("a", 10)
    q.add_after("a", 3)  # sooner: wins
    q.add_after("b", 3)
    q.add_after("b", 10)  # later: ignored
    recorder = Recorder(q, clock)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await settle()
            await clock.advance(30)  # past both 10 s deadlines: nothing fires twice
            await settle()
            q.shut_down()
    assert recorder.taken == [("a", 3.0), ("b", 3.0)]


async def test_a_sooner_deadline_wakes_a_get_sleeping_until_a_later_one() -> None:
    q, clock = make()
    recorder = Recorder(q, clock)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await settle()
            q.add_after("late", 100)
            await settle()  # the worker now sleeps until t=100
            q.add_after("soon", 2)
            await settle()
            await clock.advance(2)
            await settle()
            assert recorder.taken == [("soon", 2.0)]
            await clock.advance(98)
            await settle()
            q.shut_down()
    assert recorder.taken == [("soon", 2.0), ("late", 100.0)]


async def test_an_immediate_add_beats_a_pending_delay() -> None:
    q, clock = make()
    q.add_after("a", 10)
    q.add("a")
    assert len(q) == 1
    assert await drain_ready(q) == ["a"]
    await clock.advance(20)
    assert len(q) == 0  # the dropped delay does not add it again


async def test_add_after_on_a_dirty_item_adds_nothing_later() -> None:
    q, clock = make()
    q.add("a")
    q.add_after("a", 5)  # already going to be processed
    assert await drain_ready(q) == ["a"]
    await clock.advance(10)
    assert len(q) == 0


async def test_a_delay_running_out_while_processing_queues_the_item_after_done() -> None:
    q, clock = make()
    q.add("a")
    item = await take(q)
    q.add_after("a", 5)
    await clock.advance(5)
    assert len(q) == 0  # due, but still being processed
    q.done(item)
    assert len(q) == 1


async def test_delays_of_zero_or_less_are_immediate_and_bad_delays_are_refused() -> None:
    q, _ = make()
    q.add_after("a", 0)
    q.add_after("b", -3)
    assert len(q) == 2
    for bad in (math.nan, math.inf, "1s", True):
        with pytest.raises(InvalidArgumentError, match="delay"):
            q.add_after("c", bad)  # type: ignore[arg-type]
    assert len(q) == 2


async def test_one_get_keeps_time_and_a_cancelled_one_hands_the_clock_on() -> None:
    q, clock = make()
    q.add_after("a", 5)
    recorder = Recorder(q, clock)
    doomed = anyio.CancelScope()

    async def doomed_get() -> None:
        with doomed:
            await q.get()
            pytest.fail("get() returned before the deadline")

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(doomed_get)
            await settle()
            tg.start_soon(recorder.run)
            await settle()
            assert clock.sleepers == 1  # two idle gets, one of them sleeps on the clock
            doomed.cancel()
            await settle()
            assert clock.sleepers == 1  # the recorder took over the deadline
            await clock.advance(5)
            await settle()
            q.shut_down()
    assert recorder.taken == [("a", 5.0)]


async def test_a_cancelled_waiter_passes_its_wake_up_on() -> None:
    q, _ = make()
    got: dict[str, str] = {}

    async def getter(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            got[name] = await q.get()

    first, second = anyio.CancelScope(), anyio.CancelScope()
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(getter, "first", first)
            await settle()
            tg.start_soon(getter, "second", second)
            await settle()
            q.add("x")  # wakes the first waiter ...
            first.cancel()  # ... which is cancelled before it runs
            await settle()
            second.cancel()
    assert list(got.values()) == ["x"]  # taken by exactly one of them, never lost


# --- rate-limited retries -------------------------------------------------------------------


async def test_rate_limited_adds_back_off_5ms_doubling_to_1000s() -> None:
    clock = VirtualClock()
    q = WorkQueue[str](clock)  # the default controller rate limiter
    recorder = Recorder(q, clock)
    expected = [min(1000.0, 0.005 * 2**n) for n in range(20)]
    waited: list[float] = []
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await settle()
            for n, wait in enumerate(expected):
                start = clock.now()
                q.add_rate_limited("k")
                assert q.num_requeues("k") == n + 1
                await clock.advance(wait * 0.99)
                await settle()
                assert len(recorder.taken) == n  # not a moment early
                await clock.advance(wait * 0.02)
                await settle()
                assert len(recorder.taken) == n + 1
                waited.append(recorder.taken[-1][1] - start)
            q.forget("k")
            assert q.num_requeues("k") == 0
            q.add_rate_limited("k")
            await clock.advance(0.005)
            await settle()
            q.shut_down()
    assert waited == pytest.approx(expected)
    assert waited[17] == pytest.approx(655.36)
    assert waited[18:] == [1000.0, 1000.0]  # capped
    assert recorder.taken[-1][0] == "k" and len(recorder.taken) == 21  # forget restarted at 5ms


async def test_rate_limited_adds_use_the_given_limiter() -> None:
    clock = VirtualClock()
    limiter: RateLimiter = TokenBucket(rate=1.0, burst=2, clock=clock)
    q = WorkQueue[str](clock, rate_limiter=limiter)
    for key in ["a", "b", "c", "d"]:
        q.add_rate_limited(key)
    assert len(q) == 2  # the burst
    await clock.advance(1)
    assert len(q) == 3
    await clock.advance(1)
    assert len(q) == 4
    assert q.num_requeues("a") == 0  # a bucket counts no per-item retries


# --- priority -------------------------------------------------------------------------------


async def test_higher_priority_first_first_come_within_a_priority() -> None:
    q, _ = make()
    q.add("list-1", priority=Priority.LOW)
    q.add("list-2", priority=Priority.LOW)
    q.add("event-1")
    q.add("urgent", priority=Priority.HIGH)
    q.add("event-2", priority=Priority.NORMAL)
    q.add("custom", priority=7)
    assert await drain_ready(q) == ["urgent", "custom", "event-1", "event-2", "list-1", "list-2"]


async def test_readding_at_a_higher_priority_moves_up_and_never_down() -> None:
    q, _ = make()
    q.add("a", priority=Priority.LOW)
    q.add("b", priority=Priority.LOW)
    q.add("c")
    q.add("d")
    q.add("b", priority=Priority.NORMAL)  # moves up, to the back of NORMAL's line
    q.add("c", priority=Priority.LOW)  # no demotion
    assert len(q) == 4
    assert await drain_ready(q) == ["c", "d", "b", "a"]


async def test_priority_raised_while_processing_applies_when_requeued() -> None:
    q, _ = make()
    q.add("a")
    item = await take(q)
    q.add("a", priority=Priority.LOW)
    q.add("a", priority=Priority.HIGH)
    q.add("b")
    q.done(item)
    assert await drain_ready(q) == ["a", "b"]


async def test_delayed_items_keep_the_highest_priority_they_were_given() -> None:
    q, clock = make()
    q.add_after("a", 5, priority=Priority.LOW)
    q.add_after("a", 8, priority=Priority.HIGH)  # later deadline ignored, priority kept
    q.add_after("b", 5)
    await clock.advance(5)
    assert await drain_ready(q) == ["a", "b"]


async def test_aging_serves_an_item_ready_for_promote_after_seconds_before_fresh_ones() -> None:
    q, clock = make(promote_after=5.0)
    q.add("resync", priority=Priority.LOW)
    served: list[tuple[float, str]] = []
    for second in range(8):
        q.add(f"event-{second}a", priority=Priority.HIGH)
        q.add(f"event-{second}b", priority=Priority.HIGH)
        item = await take(q)  # one get per second: HIGH items pile up
        q.done(item)
        served.append((clock.now(), item))
        await clock.advance(1)
    # Strict priority for 5 s, then the LOW item, aged 5 s, goes ahead of the HIGH backlog.
    assert [item for _, item in served[:5]] == [
        "event-0a",
        "event-0b",
        "event-1a",
        "event-1b",
        "event-2a",
    ]
    assert served[5] == (5.0, "resync")
    assert served[6] == (6.0, "event-2b")


async def test_strict_priority_and_fifo_are_the_two_ends_of_aging() -> None:
    strict, clock = make(promote_after=math.inf)
    strict.add("low", priority=Priority.LOW)
    await clock.advance(1e9)
    strict.add("high", priority=Priority.HIGH)
    assert await drain_ready(strict) == ["high", "low"]
    fifo, _ = make(promote_after=0)
    fifo.add("low", priority=Priority.LOW)
    fifo.add("high", priority=Priority.HIGH)
    assert await drain_ready(fifo) == ["low", "high"]


@pytest.mark.parametrize("bad", [-1.0, math.nan, "10s", True])
async def test_bad_promote_after_is_refused(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="promote_after"):
        WorkQueue[str](VirtualClock(), promote_after=bad)  # type: ignore[arg-type]


async def test_bad_items_and_priorities_are_refused_and_change_nothing() -> None:
    q = WorkQueue[Hashable](VirtualClock())
    with pytest.raises(InvalidTypeError, match="hashable"):
        q.add(["not", "hashable"])  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="priority"):
        q.add("a", priority=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="priority"):
        q.add_rate_limited("a", priority=True)
    assert len(q) == 0
    assert q.num_requeues("a") == 0


# --- shutdown -------------------------------------------------------------------------------


async def test_shut_down_ends_waiting_gets_after_handing_out_what_is_ready() -> None:
    q, clock = make()
    outcomes: list[str] = []

    async def worker() -> None:
        try:
            while True:
                outcomes.append(await q.get())
        except QueueShutDown as error:
            assert "shut down" in str(error)
            outcomes.append("stopped")

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker)
            tg.start_soon(worker)
            await settle()
            q.shut_down()
    assert outcomes == ["stopped", "stopped"]
    assert q.shutting_down

    q2, clock = make()
    q2.add("ready")
    q2.add_after("delayed", 1)
    q2.shut_down()
    await clock.advance(2)
    assert await take(q2) == "ready"  # what was ready is still handed out
    with pytest.raises(QueueShutDown):
        await take(q2)  # the delayed item was dropped


async def test_adds_after_shutdown_are_ignored() -> None:
    q, clock = make()
    q.shut_down()
    q.add("a")
    q.add_after("b", 1)
    q.add_rate_limited("c")
    await clock.advance(5)
    assert len(q) == 0
    assert q.num_requeues("c") == 0  # no retry was counted for it
    with pytest.raises(QueueShutDown):
        await take(q)


async def test_drain_waits_until_every_processing_item_is_done() -> None:
    q, _ = make()
    for item in ["a", "b"]:
        q.add(item)
    a, b = await take(q), await take(q)
    drained = anyio.Event()

    async def drain() -> None:
        await q.shut_down_with_drain()
        drained.set()

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain)
            await settle()
            q.add("c")  # ignored: shutting down
            q.done(a)
            await settle()
            assert not drained.is_set()  # b still processing
            q.done(b)
            await settle()
            assert drained.is_set()
    assert len(q) == 0
    with anyio.fail_after(LIMIT):
        await q.shut_down_with_drain()  # nothing processing: returns at once


async def test_shut_down_stops_a_drain_that_waits() -> None:
    q, _ = make()
    q.add("stuck")
    await take(q)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(q.shut_down_with_drain)
            await settle()
            q.shut_down()  # gives up waiting for "stuck"
    assert q.processing == 1


async def test_an_item_dirty_at_shutdown_is_still_queued_by_done() -> None:
    q, _ = make()
    q.add("a")
    item = await take(q)
    q.add("a")  # dirty while processing
    q.shut_down()
    q.done(item)
    assert await take(q) == "a"


# --- metrics --------------------------------------------------------------------------------


async def test_metrics_see_adds_waits_work_retries_and_depth() -> None:
    metrics = CountingMetrics()
    q, clock = make(metrics=metrics, rate_limiter=ItemExponential(1.0, 8.0))
    q.add("a")
    q.add("a")
    q.add("b")
    await clock.advance(3)
    item = await take(q)
    await clock.advance(2)
    q.done(item)
    q.add_rate_limited("a")  # due in 1 s
    q.add_after("c", 4)
    await clock.advance(4)
    assert await drain_ready(q) == ["b", "a", "c"]
    assert metrics.adds == 4  # a, b, a (after its delay), c
    assert metrics.retries == 2
    assert metrics.gets == metrics.dones == 4
    assert metrics.waits[0] == ("a", 3.0)
    assert metrics.work[0] == ("a", 2.0)
    assert ("b", 9.0) in metrics.waits
    assert ("a", 3.0) in metrics.waits[1:]  # due at t=6, taken at t=9
    assert metrics.max_depth == 3
    assert metrics.current_depth == 0


async def test_the_default_clock_is_real_time() -> None:
    q = WorkQueue[str]()
    q.add_after("soon", 0.01)
    with anyio.fail_after(LIMIT):
        assert await q.get() == "soon"
    assert "WorkQueue" in repr(q) and "processing=1" in repr(q)


# --- properties: against a reference model, and from a log of concurrent workers -----------

ITEMS = st.sampled_from(["a", "b", "c", "d"])
PRIORITIES = st.sampled_from([Priority.LOW, Priority.NORMAL, Priority.HIGH])
OPERATIONS = st.one_of(
    st.tuples(st.just("add"), ITEMS, PRIORITIES),
    st.tuples(st.just("add_after"), ITEMS, st.integers(-1, 6), PRIORITIES),
    st.tuples(st.just("advance"), st.integers(0, 4)),
    st.tuples(st.just("get")),
    st.tuples(st.just("done"), st.integers(0, 3)),
)


class Model:
    """The queue's rules written the slow, obvious way: dicts scanned with min/max."""

    def __init__(self, promote_after: float) -> None:
        self.now = 0.0
        self.promote_after = promote_after
        self.counter = 0
        self.dirty: dict[str, int] = {}  # item -> priority
        self.processing: list[str] = []
        self.ready: dict[str, tuple[float, int]] = {}  # item -> (ready since, line position)
        self.arrival: dict[str, int] = {}  # item -> position in the all-priorities line
        self.delayed: dict[str, tuple[float, int, int]] = {}  # item -> (deadline, order, prio)

    def tick(self) -> int:
        self.counter += 1
        return self.counter

    def promote(self) -> None:
        due = sorted((d, order, item) for item, (d, order, _) in self.delayed.items())
        for deadline, _, item in due:
            if deadline <= self.now:
                self.mark_dirty(item, self.delayed.pop(item)[2], deadline)

    def mark_dirty(self, item: str, priority: int, since: float) -> None:
        if item in self.dirty:
            if priority > self.dirty[item]:
                self.dirty[item] = priority
                if item in self.ready:
                    self.ready[item] = (self.ready[item][0], self.tick())
            return
        self.dirty[item] = priority
        if item not in self.processing:
            self.push(item, since)

    def push(self, item: str, since: float) -> None:
        self.ready[item] = (since, self.tick())
        self.arrival[item] = self.counter

    def add(self, item: str, priority: int) -> None:
        self.promote()
        self.delayed.pop(item, None)
        self.mark_dirty(item, priority, self.now)

    def add_after(self, item: str, delay: int, priority: int) -> None:
        if delay <= 0:
            self.add(item, priority)
            return
        self.promote()
        if item in self.dirty:
            self.mark_dirty(item, priority, self.now)
            return
        deadline = self.now + delay
        if item in self.delayed:
            old_deadline, order, old_priority = self.delayed[item]
            priority = max(priority, old_priority)
            if old_deadline <= deadline:
                self.delayed[item] = (old_deadline, order, priority)
                return
        self.delayed[item] = (deadline, self.tick(), priority)

    def ready_count(self) -> int:
        self.promote()
        return len(self.ready)

    def get(self) -> str:
        self.promote()
        oldest = min(self.ready, key=lambda item: self.arrival[item])
        if self.now - self.ready[oldest][0] >= self.promote_after:
            item = oldest
        else:
            item = min(self.ready, key=lambda i: (-self.dirty[i], self.ready[i][1]))
        del self.ready[item]
        del self.dirty[item]
        self.processing.append(item)
        return item

    def done(self, item: str) -> None:
        self.promote()
        self.processing.remove(item)
        if item in self.dirty:
            self.push(item, self.now)


async def replay_against_model(operations: list[tuple[object, ...]]) -> None:
    clock = VirtualClock()
    q = WorkQueue[str](clock, promote_after=3.0)
    model = Model(promote_after=3.0)
    for operation in operations:
        match operation:
            case ("add", str(item), int(priority)):
                q.add(item, priority=priority)
                model.add(item, priority)
            case ("add_after", str(item), int(delay), int(priority)):
                q.add_after(item, delay, priority=priority)
                model.add_after(item, delay, priority)
            case ("advance", int(seconds)):
                await clock.advance(seconds)
                model.now += seconds
            case ("get",) if model.ready_count():
                expected = model.get()
                assert await take(q) == expected
            case ("done", int(index)) if model.processing:
                item = model.processing[index % len(model.processing)]
                q.done(item)
                model.done(item)
        assert len(q) == model.ready_count()
        assert q.processing == len(model.processing)
        assert len(set(model.processing)) == len(model.processing)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPERATIONS, max_size=60))
def test_the_queue_behaves_like_the_reference_model(operations: list[tuple[object, ...]]) -> None:
    anyio.run(replay_against_model, operations)


def check_dirty_set_rules(log: list[tuple[str, str]]) -> None:
    """Replays a log of adds, gets and dones: each dirty generation is processed exactly once."""
    dirty: set[str] = set()
    processing: set[str] = set()
    generations = gets = 0
    for event, item in log:
        if event == "add":
            if item not in dirty:
                dirty.add(item)
                generations += 1
        elif event == "get":
            assert item in dirty, f"{item} handed out without being added since its last get"
            assert item not in processing, f"{item} handed to two workers at once"
            dirty.remove(item)
            processing.add(item)
            gets += 1
        else:
            processing.remove(item)
    assert not dirty, f"never processed after their last add: {sorted(dirty)}"
    assert gets == generations


async def run_workers(
    script: list[tuple[str, int, int]], workers: int, work_seconds: float
) -> list[tuple[str, str]]:
    clock = VirtualClock()
    q = WorkQueue[str](clock, promote_after=2.0)
    log: list[tuple[str, str]] = []

    async def worker() -> None:
        try:
            while True:
                item = await q.get()
                log.append(("get", item))
                await clock.sleep(work_seconds)
                log.append(("done", item))
                q.done(item)
        except QueueShutDown:
            pass

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker)
            await settle()
            for item, priority, then_advance in script:
                log.append(("add", item))
                q.add(item, priority=priority)
                await settle()
                if then_advance:
                    await clock.advance(then_advance)
            for _ in range(len(script) * 4 + 4):  # at most one item per worker-second left
                if not len(q) and not q.processing:
                    break
                await clock.advance(1)
                await settle()
            assert (len(q), q.processing) == (0, 0)
            await q.shut_down_with_drain()
    return log


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=st.lists(st.tuples(ITEMS, PRIORITIES, st.integers(0, 2)), min_size=1, max_size=40),
    workers=st.integers(1, 4),
    work_seconds=st.sampled_from([0.0, 0.5, 1.0]),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_concurrent_workers_process_each_dirty_generation_once(
    script: list[tuple[str, int, int]], workers: int, work_seconds: float, backend: str
) -> None:
    log = anyio.run(run_workers, script, workers, work_seconds, backend=backend)
    check_dirty_set_rules(log)


def test_the_log_check_catches_broken_logs() -> None:
    with pytest.raises(AssertionError, match="two workers"):
        check_dirty_set_rules([("add", "a"), ("get", "a"), ("add", "a"), ("get", "a")])
    with pytest.raises(AssertionError, match="never processed"):
        check_dirty_set_rules([("add", "a"), ("get", "a"), ("add", "a"), ("done", "a")])
    with pytest.raises(AssertionError, match="without being added"):
        check_dirty_set_rules([("add", "a"), ("get", "a"), ("done", "a"), ("get", "a")])


# --- trio ------------------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_a_basic_scenario_runs_under_trio(anyio_backend: str) -> None:
    q, clock = make()
    recorder = Recorder(q, clock)
    q.add("resync", priority=Priority.LOW)
    q.add("event")
    q.add("event")
    q.add_after("later", 2)
    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await settle()
            await clock.advance(2)
            await settle()
            await q.shut_down_with_drain()
    assert recorder.taken == [("event", 0.0), ("resync", 0.0), ("later", 2.0)]
    assert recorder.stopped
