"""Leader election on a coordination.k8s.io Lease, with client-go's rules, on an injectable Clock.

Several replicas of a controller run a :class:`LeaderElector` on the same Lease; one of them
runs its ``leading()`` coroutine at a time, and when it dies or loses its store another takes
over. The rules are client-go's ``tools/leaderelection``, because the guarantees depend on them:

* **Expiry is observed locally.** A contender never trusts ``renewTime`` (another host's wall
  clock wrote it). It remembers when *it* last saw the Lease's spec change, on its own clock,
  and takes the Lease over only after ``lease_duration`` of its own time without a change (or
  at once when the holder is empty: released). So skew between hosts' wall clocks does not
  matter; only their rates do.
* **A leader steps down before it can be replaced.** A renew counts from the moment its
  attempt *started* (the write may have landed any time after that). When no renew has
  succeeded for ``renew_deadline`` (< ``lease_duration``) since the last success, ``leading()``
  is cancelled at once; each renew attempt is itself raced against that deadline on the Clock,
  so a store call that hangs cannot keep a stale leader acting. Another contender saw the last
  successful renew no earlier than it started, so it waits at least ``lease_duration`` from
  then: the two leaders' terms cannot overlap (given clocks that run at similar rates).
* **Every write is conditional** on the resourceVersion read (optimistic concurrency): when
  two contenders race, the store picks one and the other gets Conflict, i.e. "lost this round".
* **Graceful release.** When ``run()`` is cancelled or ``leading()`` returns, the holder is
  cleared (``holderIdentity: ""``, ``leaseDurationSeconds: 1``) so another contender takes
  over at its next retry instead of waiting out the lease.

Contenders retry every ``retry_period`` stretched by a random factor up to client-go's
:data:`JITTER_FACTOR` (an injectable ``random.Random`` makes it reproducible); leaders renew
every ``retry_period``. All waiting is on the Clock, so under a ``VirtualClock`` a test can
run a failover in milliseconds and check it to the instant.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Final, TypeVar

import anyio

from kcore import errors
from kcore.api import Client
from kcore.clock import Clock
from kcore.objects import ObjectMeta, evolve
from kcore.objects.kinds.coordination import Lease, LeaseSpec

__all__ = ["JITTER_FACTOR", "LeaderElector"]

logger = logging.getLogger("kcore.reconcile.leader")

# client-go's JitterFactor: a contender waits retry_period * (1 + up to 1.2) between tries.
JITTER_FACTOR: Final = 1.2

T = TypeVar("T")


class _Outcome(Enum):
    HELD = "held"  # this elector holds the Lease (created, taken over or renewed)
    TAKEN = "taken"  # someone else holds it and, as far as we can tell, keeps it
    FAILED = "failed"  # the store said no (conflict, error): try again later


class LeaderElector:
    """Contend for the Lease ``namespace/name`` and run a coroutine while holding it.

    ``identity`` is what this elector writes as ``holderIdentity`` (default: the host name,
    "_", a random suffix, so two processes on one host differ). Times are seconds on
    ``clock`` (default: the client's). ``on_new_leader(identity)`` is called each time the
    observed holder changes to a non-empty identity (this elector's own included); an
    exception from it is logged, not raised.
    ``rng`` draws the contenders' jitter. ``lease_duration > renew_deadline >
    retry_period * 1.2 > 0`` is required (client-go's rule); the Lease's namespace must exist.
    """

    def __init__(
        self,
        client: Client,
        name: str,
        *,
        namespace: str = "default",
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        clock: Clock | None = None,
        release_on_cancel: bool = True,
        on_new_leader: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_timing(lease_duration, renew_deadline, retry_period)
        if not name:
            raise errors.InvalidArgumentError("LeaderElector: name (the Lease's name) is empty")
        if not namespace:
            raise errors.InvalidArgumentError(
                f"LeaderElector: namespace of Lease {name!r} is empty; leases are namespaced"
            )
        if identity == "":
            raise errors.InvalidArgumentError(
                f"LeaderElector for Lease {namespace}/{name}: identity is empty (an empty "
                'holderIdentity means "released"); pass a unique identity or None'
            )
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.lease_duration = float(lease_duration)
        self.renew_deadline = float(renew_deadline)
        self.retry_period = float(retry_period)
        self.clock: Clock = clock if clock is not None else client.clock
        self.release_on_cancel = release_on_cancel
        self.on_new_leader = on_new_leader
        self._rng = rng if rng is not None else random.Random()
        self._lease_seconds = math.ceil(self.lease_duration)
        # client-go's observedRecord/observedTime: the spec last read or written, and when
        # (on our clock) it was first seen in that state.
        self._observed: Lease | None = None
        self._observed_at = -math.inf
        self._reported_leader = ""
        self._leading = False
        self._running = False

    # --- what callers look at -------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True while this elector holds the Lease and its ``leading()`` may act."""
        return self._leading

    @property
    def leader_identity(self) -> str | None:
        """The holder last observed in the Lease (None: none seen yet, or released)."""
        if self._observed is None:
            return None
        return self._observed.spec.holder_identity or None

    def __repr__(self) -> str:
        return (
            f"LeaderElector({self.namespace}/{self.name}, identity={self.identity!r}, "
            f"leader={self.leader_identity!r}, is_leader={self._leading})"
        )

    # --- the loop -------------------------------------------------------------------------

    async def run(self, leading: Callable[[], Awaitable[None]]) -> None:
        """Contend until leader, run ``leading()`` while renewing, and return when it ends.

        Returns when leadership is lost (``leading()`` has then been cancelled and has
        finished) or when ``leading()`` returns (the Lease is then released). An exception
        from ``leading()`` releases the Lease and propagates. Cancelling ``run()`` cancels
        ``leading()`` first, then releases. Release (with ``release_on_cancel``) only clears a
        Lease this elector still holds, and is bounded by ``renew_deadline``.
        """
        if self._running:
            raise errors.InvalidArgumentError(
                f"LeaderElector {self.identity!r} for Lease {self.namespace}/{self.name} is "
                "already running; call run() once at a time (or make another elector)"
            )
        self._running = True
        try:
            acquired_at = await self._acquire()
            await self._lead(leading, acquired_at)
        finally:
            self._leading = False
            self._running = False

    async def _acquire(self) -> float:
        """Try until this elector holds the Lease; the clock time its winning try started."""
        logger.info("%s: trying to acquire lease %s/%s", self.identity, self.namespace, self.name)
        while True:
            started = self.clock.now()
            outcome = await _within_deadline(
                self.clock, started + self.renew_deadline, self._try_acquire_or_renew
            )
            if outcome is _Outcome.HELD:
                logger.info("%s: acquired lease %s/%s", self.identity, self.namespace, self.name)
                return started
            if outcome is None:
                logger.warning(
                    "%s: acquiring lease %s/%s got no answer within %ss; retrying",
                    self.identity,
                    self.namespace,
                    self.name,
                    self.renew_deadline,
                )
            jitter = self._rng.random() * JITTER_FACTOR * self.retry_period
            await self.clock.sleep(self.retry_period + jitter)

    async def _lead(self, leading: Callable[[], Awaitable[None]], acquired_at: float) -> None:
        self._leading = True
        failure: list[Exception] = []
        lost = False
        try:
            async with anyio.create_task_group() as group:

                async def lead() -> None:
                    try:
                        await leading()
                    except Exception as exc:  # re-raised below, unwrapped from the group
                        failure.append(exc)
                    group.cancel_scope.cancel()

                group.start_soon(lead)
                await self._keep_renewing(acquired_at)
                # Only returns when leadership is lost: stop leading() before anything else.
                lost = True
                group.cancel_scope.cancel()
        finally:
            self._leading = False
            if not lost and self.release_on_cancel:
                with anyio.CancelScope(shield=True):
                    await self._release()
        if lost:
            logger.warning(
                "%s: lost lease %s/%s; stopped leading",
                self.identity,
                self.namespace,
                self.name,
            )
        if failure:
            raise failure[0]

    async def _keep_renewing(self, last_success: float) -> None:
        """Renew every retry_period; return once no renew succeeded for renew_deadline."""
        while True:
            deadline = last_success + self.renew_deadline
            await self.clock.sleep_until(min(self.clock.now() + self.retry_period, deadline))
            if self.clock.now() >= deadline:
                logger.warning(
                    "%s: no successful renew of lease %s/%s for %ss",
                    self.identity,
                    self.namespace,
                    self.name,
                    self.renew_deadline,
                )
                self._leading = False
                return
            started = self.clock.now()
            outcome = await _within_deadline(self.clock, deadline, self._try_acquire_or_renew)
            if outcome is _Outcome.HELD:
                last_success = started
            elif outcome is _Outcome.TAKEN:
                # Someone else wrote themselves in (they saw our lease expire): stop now.
                self._leading = False
                return

    # --- one attempt ----------------------------------------------------------------------

    async def _try_acquire_or_renew(self) -> _Outcome:
        """client-go's tryAcquireOrRenew: read, decide, and write conditionally."""
        stamp = self._wall_time()
        if self._leading and self._observed is not None:
            # Renewing: write on top of what we last wrote; a conflict means someone else
            # wrote since, so look at what they wrote (below) before deciding.
            try:
                renewed = await self.client.update(self._claimed(self._observed, stamp))
            except (errors.ConflictError, errors.NotFoundError):
                pass
            except errors.KcoreError as exc:
                self._log_failure("renewing", exc)
                return _Outcome.FAILED
            else:
                self._observe(renewed)
                return _Outcome.HELD
        try:
            current = await self.client.get(Lease, self.name, self.namespace)
        except errors.NotFoundError:
            return await self._create(stamp)
        except errors.KcoreError as exc:
            self._log_failure("reading", exc)
            return _Outcome.FAILED
        self._observe(current)
        holder = current.spec.holder_identity or ""
        if holder and holder != self.identity:
            expired = self.clock.now() >= self._observed_at + self.lease_duration
            if self._leading or not expired:
                logger.debug(
                    "%s: lease %s/%s is held by %s",
                    self.identity,
                    self.namespace,
                    self.name,
                    holder,
                )
                return _Outcome.TAKEN
        try:
            claimed = await self.client.update(self._claimed(current, stamp))
        except errors.ConflictError:
            logger.debug(
                "%s: lost a race for lease %s/%s", self.identity, self.namespace, self.name
            )
            return _Outcome.FAILED
        except errors.KcoreError as exc:
            self._log_failure("claiming", exc)
            return _Outcome.FAILED
        if holder != self.identity:
            logger.info(
                "%s: took over lease %s/%s from %s",
                self.identity,
                self.namespace,
                self.name,
                holder or "(released)",
            )
        self._observe(claimed)
        return _Outcome.HELD

    async def _create(self, stamp: datetime) -> _Outcome:
        lease = Lease(
            metadata=ObjectMeta(name=self.name, namespace=self.namespace),
            spec=LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=self._lease_seconds,
                acquire_time=stamp,
                renew_time=stamp,
                lease_transitions=0,
            ),
        )
        try:
            created = await self.client.create(lease)
        except errors.AlreadyExistsError:
            return _Outcome.FAILED  # another contender created it first
        except errors.KcoreError as exc:
            self._log_failure("creating", exc)
            return _Outcome.FAILED
        self._observe(created)
        return _Outcome.HELD

    def _claimed(self, lease: Lease, stamp: datetime) -> Lease:
        """``lease`` written as held by us since ``stamp`` (or renewed, if already ours)."""
        spec = lease.spec
        transitions = spec.lease_transitions or 0
        ours = spec.holder_identity == self.identity
        return evolve(
            lease,
            spec=evolve(
                spec,
                holder_identity=self.identity,
                lease_duration_seconds=self._lease_seconds,
                acquire_time=spec.acquire_time if ours and spec.acquire_time else stamp,
                renew_time=stamp,
                lease_transitions=transitions if ours else transitions + 1,
            ),
        )

    async def _release(self) -> None:
        """Clear the holder if it is still us, keeping the times; bounded by renew_deadline."""
        outcome = await _within_deadline(
            self.clock, self.clock.now() + self.renew_deadline, self._release_once
        )
        if outcome is None:
            logger.warning(
                "%s: releasing lease %s/%s got no answer within %ss; it will expire instead",
                self.identity,
                self.namespace,
                self.name,
                self.renew_deadline,
            )

    async def _release_once(self) -> bool:
        try:
            current = await self.client.get(Lease, self.name, self.namespace)
            self._observe(current)
            if current.spec.holder_identity != self.identity:
                return False
            released = evolve(
                current,
                spec=evolve(current.spec, holder_identity="", lease_duration_seconds=1),
            )
            self._observe(await self.client.update(released))
        except errors.KcoreError as exc:
            self._log_failure("releasing", exc)
            return False
        logger.info("%s: released lease %s/%s", self.identity, self.namespace, self.name)
        return True

    # --- bookkeeping ----------------------------------------------------------------------

    def _observe(self, lease: Lease) -> None:
        """Remember ``lease``; restart the expiry count when its spec changed."""
        if self._observed is None or self._observed.spec != lease.spec:
            self._observed_at = self.clock.now()
        self._observed = lease
        holder = lease.spec.holder_identity or ""
        if holder != self._reported_leader:
            self._reported_leader = holder
            if holder:
                logger.info(
                    "%s: new leader of lease %s/%s: %s",
                    self.identity,
                    self.namespace,
                    self.name,
                    holder,
                )
                if self.on_new_leader is not None:
                    try:
                        self.on_new_leader(holder)
                    except Exception:  # an observer's bug must not stop the election
                        logger.exception("%s: on_new_leader(%r) failed", self.identity, holder)

    def _wall_time(self) -> datetime:
        return datetime.fromtimestamp(self.clock.wall(), UTC)

    def _log_failure(self, doing: str, exc: errors.KcoreError) -> None:
        logger.warning(
            "%s: %s lease %s/%s failed: %s", self.identity, doing, self.namespace, self.name, exc
        )


def _check_timing(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    values = (
        f"lease_duration={lease_duration!r}, renew_deadline={renew_deadline!r}, "
        f"retry_period={retry_period!r}"
    )
    for value in (lease_duration, renew_deadline, retry_period):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.InvalidTypeError(f"LeaderElector: durations must be numbers ({values})")
    if not all(math.isfinite(v) for v in (lease_duration, renew_deadline, retry_period)):
        raise errors.InvalidArgumentError(f"LeaderElector: durations must be finite ({values})")
    if not lease_duration > renew_deadline > retry_period * JITTER_FACTOR > 0:
        raise errors.InvalidArgumentError(
            "LeaderElector: need lease_duration > renew_deadline > retry_period * "
            f"{JITTER_FACTOR} > 0 (a leader must give up before its lease can be taken, and "
            f"retry at least once before giving up); got {values}"
        )


async def _within_deadline(
    clock: Clock, deadline: float, attempt: Callable[[], Awaitable[T]]
) -> T | None:
    """``attempt()``'s result, or None if ``deadline`` (clock time) came first.

    The attempt is cancelled at the deadline wherever it waits (a hung store call included).
    """
    results: list[T] = []
    async with anyio.create_task_group() as group:

        async def watchdog() -> None:
            await clock.sleep_until(deadline)
            group.cancel_scope.cancel()

        group.start_soon(watchdog)
        results.append(await attempt())
        group.cancel_scope.cancel()
    return results[0] if results else None
