"""The virtual clock: time moves only when advanced, sleepers wake in order at their deadline."""

from __future__ import annotations

import anyio
import pytest

from kcore.clock import Clock, RealClock, VirtualClock
from kcore.errors import InvalidArgumentError

pytestmark = pytest.mark.anyio


async def test_virtual_clock_wakes_sleepers_in_deadline_order_at_their_instant() -> None:
    clock = VirtualClock(start=100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "late", 30.0)
        tg.start_soon(sleeper, "early", 10.0)
        tg.start_soon(sleeper, "never", 500.0)
        await anyio.wait_all_tasks_blocked()
        assert clock.sleepers == 3
        await clock.advance(60)
        assert woke == [("early", 110.0), ("late", 130.0)]
        assert clock.now() == 160.0
        tg.cancel_scope.cancel()
    assert clock.sleepers == 0  # a canceled sleeper is forgotten


async def test_virtual_clock_does_not_move_by_itself() -> None:
    clock = VirtualClock()
    with anyio.move_on_after(0.05):
        await clock.sleep(1)
        pytest.fail("a virtual sleep returned without advance()")
    assert clock.now() == 0.0


async def test_advance_rejects_negative_and_nan() -> None:
    clock = VirtualClock()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidArgumentError, match="seconds"):
            await clock.advance(bad)
    assert clock.now() == 0.0


async def test_real_clock_is_monotonic_and_sleeps() -> None:
    clock = RealClock()
    assert isinstance(clock, Clock)
    before = clock.now()
    await clock.sleep(0.01)
    await clock.sleep_until(clock.now() - 5)  # a past deadline returns at once
    assert clock.now() - before >= 0.01
