"""LeaseKeeper: keep a lease alive in the background for as long as it is held.

::

    lease = await store.lease_grant(10)
    async with LeaseKeeper(store, lease.id) as keeper:   # or: async with store.keep_alive(id)
        await store.put(b"/leader", b"me", lease=lease.id)
        ...                                  # renewed every TTL/3 meanwhile
        if keeper.lost.is_set(): ...          # it expired or was revoked: stop acting on it

The keeper sends a keep-alive every third of the lease's TTL, on the store's clock (a
``VirtualClock`` makes it deterministic in tests). A keep-alive that fails (no endpoint
answered) is retried sooner; once a whole TTL has passed since the last renewal, or the store
answers TTL 0 (the lease is gone), ``lost`` is set and the keeper stops: a lease that expired
is not brought back. Works with any store backend; anyio-native.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Protocol, Self

import anyio
import anyio.abc

from kcore.clock import Clock, RealClock
from kcore.errors import KcoreError, LeaseNotFoundError
from kcore.store.types import LeaseKeepAliveResponse, LeaseRevokeResponse

__all__ = ["LeaseKeeper"]


class _Leases(Protocol):
    async def lease_keepalive(self, id: int) -> LeaseKeepAliveResponse: ...

    async def lease_revoke(self, id: int) -> LeaseRevokeResponse: ...


class LeaseKeeper:
    """Renews lease ``lease_id`` every TTL/3 while the ``async with`` block runs.

    Entering sends the first keep-alive and raises ``LeaseNotFoundError`` if the lease does not
    exist. ``revoke_on_exit`` revokes the lease when the block ends (its keys go at once
    instead of when the TTL runs out).
    """

    def __init__(
        self,
        store: _Leases,
        lease_id: int,
        *,
        clock: Clock | None = None,
        revoke_on_exit: bool = False,
    ) -> None:
        self.lease_id = lease_id
        self.lost = anyio.Event()
        """Set once the lease is known (or must be assumed) expired; the keeper has stopped."""
        self.ttl = 0
        """The TTL the last renewal granted, in seconds."""
        self.renewals = 0
        self.last_renewed = 0.0
        """The clock's time of the last successful renewal."""
        self._store = store
        self._clock: Clock = clock if clock is not None else RealClock()
        self._revoke = revoke_on_exit
        self._group: anyio.abc.TaskGroup | None = None

    async def renew(self) -> bool:
        """Send one keep-alive now; False (and ``lost`` set) if the lease is gone."""
        resp = await self._store.lease_keepalive(self.lease_id)
        if resp.ttl <= 0:
            self.lost.set()
            return False
        self.ttl = resp.ttl
        self.renewals += 1
        self.last_renewed = self._clock.now()
        return True

    async def _keep(self) -> None:
        clock = self._clock
        while True:
            await clock.sleep(max(self.ttl / 3, 0.05))
            while True:
                try:
                    with anyio.fail_after(max(self.ttl / 3, 1.0)):  # leave time to retry
                        alive = await self.renew()
                except (KcoreError, TimeoutError):  # no endpoint answered: retry sooner
                    if clock.now() - self.last_renewed >= self.ttl:
                        self.lost.set()  # a whole TTL without renewal: it has expired
                        return
                    await clock.sleep(min(1.0, max(self.ttl / 10, 0.05)))
                    continue
                if not alive:
                    return
                break

    async def __aenter__(self) -> Self:
        if not await self.renew():
            raise LeaseNotFoundError(
                f"lease {self.lease_id} does not exist (expired or revoked); grant a new one"
            )
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._keep)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, self._group = self._group, None
        if group is not None:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
        if self._revoke and not self.lost.is_set():
            with contextlib.suppress(LeaseNotFoundError):
                await self._store.lease_revoke(self.lease_id)
