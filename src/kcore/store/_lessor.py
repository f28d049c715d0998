"""Leases for the memory store: TTLs on the injected clock, and the keys attached to each.

Expiry is a heap of deadlines with lazy invalidation (a renewed lease leaves a stale heap
entry behind, skipped when popped), so granting and renewing are O(log n) and finding what
expired is O(expired). The lessor only keeps the books; deleting a lease's keys is the
store's job, so that it happens in one revision with the rest of the store's bookkeeping.
"""

from __future__ import annotations

import heapq
import math

from kcore.errors import LeaseExistsError, LeaseNotFoundError, LeaseTTLTooLargeError

__all__ = ["MAX_LEASE_TTL", "Lease", "Lessor"]

MAX_LEASE_TTL = 9_000_000_000  # seconds, etcd's limit


class Lease:
    """``ttl`` is the granted TTL (already raised to the minimum); ``deadline`` on the clock."""

    __slots__ = ("deadline", "id", "keys", "ttl")

    def __init__(self, lease_id: int, ttl: int, deadline: float) -> None:
        self.id = lease_id
        self.ttl = ttl
        self.deadline = deadline
        self.keys: set[bytes] = set()


class Lessor:
    __slots__ = ("_heap", "_leases", "_min_ttl", "_next_id")

    def __init__(self, min_ttl: int) -> None:
        self._leases: dict[int, Lease] = {}
        self._heap: list[tuple[float, int]] = []
        self._min_ttl = min_ttl
        self._next_id = 0x1D0C_0000_0000  # recognisable, far from small caller-chosen IDs

    def __len__(self) -> int:
        return len(self._leases)

    def __contains__(self, lease_id: int) -> bool:
        return lease_id in self._leases

    def get(self, lease_id: int) -> Lease | None:
        return self._leases.get(lease_id)

    def ids(self) -> list[int]:
        return list(self._leases)

    def check_grant(self, ttl: int, lease_id: int) -> None:
        """Raise what granting would raise, changing nothing."""
        if ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLargeError()
        if lease_id and lease_id in self._leases:
            raise LeaseExistsError()

    def grant(self, ttl: int, lease_id: int, now: float) -> Lease:
        self.check_grant(ttl, lease_id)
        if not lease_id:
            while self._next_id in self._leases:
                self._next_id += 1
            lease_id = self._next_id
            self._next_id += 1
        # Like etcd, a TTL below the minimum is raised, and the raised TTL is what is granted.
        effective = max(ttl, self._min_ttl)
        lease = Lease(lease_id, effective, now + effective)
        self._leases[lease_id] = lease
        heapq.heappush(self._heap, (lease.deadline, lease_id))
        return lease

    def revoke(self, lease_id: int) -> Lease:
        lease = self._leases.pop(lease_id, None)
        if lease is None:
            raise LeaseNotFoundError()
        return lease

    def renew(self, lease_id: int, now: float) -> Lease | None:
        lease = self._leases.get(lease_id)
        if lease is None:
            return None
        lease.deadline = now + lease.ttl
        heapq.heappush(self._heap, (lease.deadline, lease_id))
        return lease

    @staticmethod
    def remaining(lease: Lease, now: float) -> int:
        """Whole seconds left, truncated as etcd reports them (never below 0)."""
        return max(0, math.floor(lease.deadline - now))

    def attach(self, lease_id: int, key: bytes) -> None:
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.keys.add(key)

    def detach(self, lease_id: int, key: bytes) -> None:
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.keys.discard(key)

    def next_deadline(self) -> float | None:
        """The earliest deadline of a live lease, dropping stale heap entries on the way."""
        heap = self._heap
        while heap:
            deadline, lease_id = heap[0]
            lease = self._leases.get(lease_id)
            if lease is not None and lease.deadline == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def pop_expired(self, now: float) -> Lease | None:
        """Remove and return one lease whose deadline has passed, or None."""
        deadline = self.next_deadline()
        if deadline is None or deadline > now:
            return None
        _, lease_id = heapq.heappop(self._heap)
        return self._leases.pop(lease_id)
