"""How long a failed key waits before its next attempt: the work queue's rate limiters.

A rate limiter answers one question, ``when(item)``: how many seconds from now the item may be
tried again, counting this request as one more failure (or one more token spent). The queue's
``add_rate_limited`` feeds that answer to ``add_after``. The shapes follow client-go's workqueue
limiters, because controllers written for Kubernetes expect their timing:

* :class:`ItemExponential` — per key, ``base * 2**failures`` capped at ``cap``;
* :class:`TokenBucket` — one bucket for all keys (``rate`` per second, ``burst`` deep), so a
  storm of failures cannot retry faster than ``rate`` overall;
* :class:`MaxOf` — the slowest answer of several limiters;
* :class:`ItemFastSlow` — a few quick retries, then slow ones;
* :func:`default_controller_rate_limiter` — client-go's DefaultControllerRateLimiter:
  ``MaxOf(ItemExponential(5 ms, 1000 s), TokenBucket(10/s, burst 100))``.

Limiters are keyed by any hashable item and are not generic, so one limiter instance fits a
queue of any key type. Time is read only through a :class:`~kcore.clock.Clock`. Limiters are not
thread-safe: they live on the event loop with their queue.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Protocol, runtime_checkable

from kcore.clock import Clock, RealClock
from kcore.errors import InvalidArgumentError

__all__ = [
    "ItemExponential",
    "ItemFastSlow",
    "MaxOf",
    "RateLimiter",
    "TokenBucket",
    "default_controller_rate_limiter",
]


@runtime_checkable
class RateLimiter(Protocol):
    """Decides how long an item waits before it is retried."""

    def when(self, item: Hashable) -> float:
        """Seconds the item should wait now; counts this call as one more retry."""
        ...

    def forget(self, item: Hashable) -> None:
        """The item succeeded (or was given up on): drop what is remembered about it."""
        ...

    def retries(self, item: Hashable) -> int:
        """How many times ``when`` was asked about the item since it was last forgotten."""
        ...


def _check_seconds(where: str, name: str, value: float, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{where}: {name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidArgumentError(
            f"{where}: {name} must be a finite number of seconds {bound}, got {value!r}"
        )
    return seconds


class ItemExponential:
    """Per-item exponential backoff: the n-th retry of an item waits ``base * 2**(n-1)``.

    With the defaults the waits are 5 ms, 10 ms, 20 ms, ... until they reach ``cap`` (1000 s),
    after which every retry waits ``cap``. ``forget`` starts the item over at ``base``.
    """

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = _check_seconds("ItemExponential", "base", base)
        self.cap = _check_seconds("ItemExponential", "cap", cap)
        if self.cap < self.base:
            raise InvalidArgumentError(
                f"ItemExponential: cap ({cap!r} s) must be at least base ({base!r} s)"
            )
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        # 2**1100 overflows a float; long before that the cap has been reached anyway.
        if failures > 1000:
            return self.cap
        return min(self.cap, self.base * 2.0**failures)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def retries(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class ItemFastSlow:
    """Per-item: the first ``max_fast_attempts`` retries wait ``fast``, later ones ``slow``."""

    def __init__(self, fast: float, slow: float, max_fast_attempts: int) -> None:
        self.fast = _check_seconds("ItemFastSlow", "fast", fast)
        self.slow = _check_seconds("ItemFastSlow", "slow", slow)
        if (
            isinstance(max_fast_attempts, bool)
            or not isinstance(max_fast_attempts, int)
            or max_fast_attempts < 0
        ):
            raise InvalidArgumentError(
                f"ItemFastSlow: max_fast_attempts must be an int >= 0, got {max_fast_attempts!r}"
            )
        self.max_fast_attempts = max_fast_attempts
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0) + 1
        self._failures[item] = failures
        return self.fast if failures <= self.max_fast_attempts else self.slow

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def retries(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class TokenBucket:
    """One bucket shared by all items: ``burst`` tokens, refilled at ``rate`` per second.

    ``when`` always takes a token, borrowing from the future when the bucket is empty, and
    returns how long until that borrowed token will have been refilled — the same accounting as
    a reservation on Go's ``x/time/rate`` limiter. So with the defaults, 100 retries in the
    same instant wait 0 s, and the following ones 0.1 s, 0.2 s, 0.3 s, ...: 10 per second.
    ``rate=math.inf`` never delays. It counts no per-item retries.
    """

    def __init__(self, rate: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise InvalidArgumentError(
                f"TokenBucket: rate must be a number of tokens per second > 0, got {rate!r}"
            )
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise InvalidArgumentError(
                f"TokenBucket: burst must be an int >= 1 (the bucket's size), got {burst!r}"
            )
        self.rate = float(rate)
        self.burst = burst
        self._clock: Clock = clock if clock is not None else RealClock()
        self._tokens = float(burst)  # a new bucket starts full
        self._last = self._clock.now()

    def tokens(self) -> float:
        """Tokens in the bucket now (negative while reservations are outstanding)."""
        return self._refilled(self._clock.now())

    def when(self, item: Hashable) -> float:
        if math.isinf(self.rate):
            return 0.0
        now = self._clock.now()
        self._tokens = self._refilled(now) - 1.0
        self._last = now
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def forget(self, item: Hashable) -> None:
        """Tokens are shared, so there is nothing per item to forget."""

    def retries(self, item: Hashable) -> int:
        return 0

    def _refilled(self, now: float) -> float:
        elapsed = max(0.0, now - self._last)
        return min(float(self.burst), self._tokens + elapsed * self.rate)


class MaxOf:
    """Asks every limiter (each one counts the retry) and answers with the longest wait.

    ``retries`` is the largest count any of them keeps; ``forget`` is passed to all of them.
    """

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise InvalidArgumentError("MaxOf: give at least one rate limiter to combine")
        self.limiters: tuple[RateLimiter, ...] = limiters

    def when(self, item: Hashable) -> float:
        # Every limiter must see the request (a bucket spends its token even when another
        # limiter's wait is longer), so no short-circuit here.
        return max([limiter.when(item) for limiter in self.limiters])

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def retries(self, item: Hashable) -> int:
        return max(limiter.retries(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOf:
    """client-go's default for controllers: per-item 5 ms doubling to 1000 s, overall 10/s."""
    return MaxOf(ItemExponential(0.005, 1000.0), TokenBucket(10.0, 100, clock=clock))
