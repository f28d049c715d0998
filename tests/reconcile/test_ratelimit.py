"""Rate limiters: per-item exponential backoff, the shared token bucket, and their max."""

from __future__ import annotations

import math
from collections.abc import Hashable

import pytest

from kcore.clock import VirtualClock
from kcore.errors import InvalidArgumentError
from kcore.reconcile.ratelimit import (
    ItemExponential,
    ItemFastSlow,
    MaxOf,
    RateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)

pytestmark = pytest.mark.anyio


def test_item_exponential_doubles_from_base_up_to_cap() -> None:
    limiter = ItemExponential(base=0.005, cap=1000.0)
    waits = [limiter.when("a") for _ in range(22)]
    assert waits[:5] == [0.005, 0.01, 0.02, 0.04, 0.08]
    for n, wait in enumerate(waits):
        assert wait == pytest.approx(min(1000.0, 0.005 * 2**n))
    assert waits[17] == pytest.approx(655.36)  # the last one under the cap
    assert waits[18:] == [1000.0] * 4
    assert limiter.retries("a") == 22


def test_item_exponential_is_per_item_and_forget_starts_over() -> None:
    limiter = ItemExponential(0.1, 10.0)
    assert [limiter.when("a") for _ in range(3)] == [0.1, 0.2, 0.4]
    assert limiter.when("b") == 0.1  # b's failures are its own
    assert (limiter.retries("a"), limiter.retries("b"), limiter.retries("c")) == (3, 1, 0)
    limiter.forget("a")
    limiter.forget("never-seen")  # forgetting an unknown item is harmless
    assert limiter.retries("a") == 0
    assert limiter.when("a") == 0.1
    assert limiter.when("b") == 0.2


def test_item_exponential_does_not_overflow_after_many_failures() -> None:
    limiter = ItemExponential(0.005, 1000.0)
    waits = [limiter.when("k") for _ in range(1100)]
    assert waits[-1] == 1000.0
    assert limiter.retries("k") == 1100


@pytest.mark.parametrize(
    ("base", "cap", "wrong"),
    [
        (-1.0, 10.0, "base"),
        (math.nan, 10.0, "base"),
        (0.1, math.inf, "cap"),
        (1.0, 0.5, "cap"),
        ("5ms", 1.0, "base"),
    ],
)
def test_item_exponential_rejects_bad_settings(base: object, cap: object, wrong: str) -> None:
    with pytest.raises(InvalidArgumentError, match=wrong):
        ItemExponential(base, cap)  # type: ignore[arg-type]


def test_item_fast_slow_switches_after_the_fast_attempts() -> None:
    limiter = ItemFastSlow(fast=0.5, slow=30.0, max_fast_attempts=3)
    assert [limiter.when("a") for _ in range(5)] == [0.5, 0.5, 0.5, 30.0, 30.0]
    assert limiter.retries("a") == 5
    assert limiter.when("b") == 0.5
    limiter.forget("a")
    assert limiter.when("a") == 0.5
    with pytest.raises(InvalidArgumentError, match="max_fast_attempts"):
        ItemFastSlow(0.1, 1.0, -1)


def test_token_bucket_spends_the_burst_then_allows_rate_per_second() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(rate=10.0, burst=100, clock=clock)
    assert [bucket.when(i) for i in range(100)] == [0.0] * 100  # a full bucket to start
    # From here every reservation borrows one more token: 10 per second.
    later = [bucket.when(i) for i in range(100, 105)]
    assert later == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert bucket.retries("x") == 0
    bucket.forget("x")  # nothing per item: the debt stays
    assert bucket.tokens() == pytest.approx(-5.0)


async def test_token_bucket_refills_with_clock_time_up_to_burst() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(rate=10.0, burst=100, clock=clock)
    for i in range(105):
        bucket.when(i)
    await clock.advance(0.5)  # pays back the 5 borrowed tokens
    assert bucket.tokens() == 0.0
    assert bucket.when("next") == pytest.approx(0.1)
    await clock.advance(2.5)  # 25 tokens: the debt of 1 plus 24
    assert bucket.tokens() == 24.0
    assert [bucket.when(i) for i in range(24)] == [0.0] * 24
    assert bucket.when("25th") == pytest.approx(0.1)
    await clock.advance(3600)  # a long idle refills to the burst, no further
    assert bucket.tokens() == 100.0


def test_token_bucket_small_burst_and_infinite_rate() -> None:
    clock = VirtualClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock)
    assert [bucket.when(i) for i in range(4)] == [0.0, 0.5, 1.0, 1.5]
    unlimited = TokenBucket(rate=math.inf, burst=1, clock=clock)
    assert [unlimited.when(i) for i in range(1000)] == [0.0] * 1000


@pytest.mark.parametrize(
    ("rate", "burst", "wrong"),
    [(0.0, 10, "rate"), (-1.0, 10, "rate"), (math.nan, 10, "rate"), (1.0, 0, "burst")],
)
def test_token_bucket_rejects_bad_settings(rate: float, burst: int, wrong: str) -> None:
    with pytest.raises(InvalidArgumentError, match=wrong):
        TokenBucket(rate, burst, clock=VirtualClock())


def test_max_of_answers_the_longest_wait_and_every_limiter_counts() -> None:
    clock = VirtualClock()
    exponential = ItemExponential(0.01, 100.0)
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    limiter = MaxOf(exponential, bucket)
    assert limiter.when("a") == 0.01  # bucket: 0, exponential: 0.01
    assert limiter.when("a") == 0.02
    # The bucket was charged twice even though the exponential answer won.
    assert limiter.when("b") == 1.0
    assert exponential.retries("b") == 1
    assert limiter.retries("a") == 2
    limiter.forget("a")
    assert limiter.retries("a") == 0
    assert exponential.retries("a") == 0


def test_max_of_retries_is_the_largest_count() -> None:
    fast_slow = ItemFastSlow(0.1, 1.0, 1)
    exponential = ItemExponential()
    limiter = MaxOf(fast_slow, exponential)
    for _ in range(3):
        limiter.when("a")
    exponential.when("a")  # one extra failure on one limiter only
    assert (fast_slow.retries("a"), exponential.retries("a")) == (3, 4)
    assert limiter.retries("a") == 4
    with pytest.raises(InvalidArgumentError, match="at least one"):
        MaxOf()


def test_default_controller_rate_limiter_is_exponential_and_bucket() -> None:
    clock = VirtualClock()
    limiter = default_controller_rate_limiter(clock)
    assert isinstance(limiter, RateLimiter)
    # 100 different keys failing at once: the bucket lets all through; per-item 5 ms each.
    assert [limiter.when(f"k{i}") for i in range(100)] == [0.005] * 100
    # The next failures of new keys are paced by the bucket at 10 per second.
    assert limiter.when("k100") == pytest.approx(0.1)
    assert limiter.when("k101") == pytest.approx(0.2)
    # A key's own backoff still doubles and caps at 1000 s.
    waits = [limiter.when("hot") for _ in range(25)]
    assert waits[-1] == 1000.0
    assert limiter.retries("hot") == 25


def test_every_limiter_satisfies_the_protocol() -> None:
    clock = VirtualClock()
    limiters: list[RateLimiter] = [
        ItemExponential(),
        ItemFastSlow(0.1, 1.0, 2),
        TokenBucket(clock=clock),
        MaxOf(ItemExponential()),
    ]
    key: Hashable = ("namespace", "name")
    for limiter in limiters:
        assert isinstance(limiter, RateLimiter)
        assert limiter.when(key) >= 0.0
        limiter.forget(key)
        assert limiter.retries(key) == 0
