"""Helpers shared by the store conformance tests (bounded waits, snapshots, watch collection)."""

from __future__ import annotations

from typing import Any

import anyio

from kcore.store import Event, KeyValue, Store, Watch, WatchResponse

__all__ = [
    "TIMEOUT",
    "collect_events",
    "collect_responses",
    "current_revision",
    "dump",
    "events_until_progress",
    "get",
    "next_response",
    "unchanged",
]

# Every wait in the suite is bounded: a broken backend must fail a test, not hang the run.
TIMEOUT = 5.0


async def current_revision(store: Store) -> int:
    """The store's current revision, read without changing anything."""
    return (await store.range(b"\0", b"\0", count_only=True)).header.revision


async def dump(store: Store) -> tuple[int, tuple[KeyValue, ...]]:
    """The current revision and every live key-value: two equal dumps mean nothing changed."""
    resp = await store.range(b"\0", b"\0")
    return resp.header.revision, resp.kvs


async def get(store: Store, key: bytes, **kwargs: Any) -> KeyValue | None:
    """The key's current key-value, or None when it does not exist."""
    resp = await store.range(key, **kwargs)
    assert len(resp.kvs) <= 1
    return resp.kvs[0] if resp.kvs else None


class unchanged:  # used like a function: ``async with unchanged(store):``
    """Assert that nothing changed in the store (revision, keys, values) inside the block."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.before: tuple[int, tuple[KeyValue, ...]] | None = None

    async def __aenter__(self) -> unchanged:
        self.before = await dump(self.store)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        after = await dump(self.store)
        assert after == self.before, "the store changed (or spent a revision) on a failed request"


async def next_response(w: Watch, timeout: float = TIMEOUT) -> WatchResponse:
    """The watch's next response; fails the test if none comes within ``timeout``."""
    with anyio.fail_after(timeout):
        return await w.__anext__()


async def collect_responses(
    w: Watch, n_events: int, timeout: float = TIMEOUT
) -> list[WatchResponse]:
    """Responses until at least ``n_events`` events arrived (progress notices are skipped)."""
    responses: list[WatchResponse] = []
    seen = 0
    with anyio.fail_after(timeout):
        while seen < n_events:
            resp = await w.__anext__()
            assert not resp.canceled, f"watch canceled while events were expected: {resp}"
            if resp.events:
                responses.append(resp)
                seen += len(resp.events)
    assert seen == n_events, f"expected {n_events} events, got {seen}"
    return responses


async def collect_events(w: Watch, n_events: int, timeout: float = TIMEOUT) -> list[Event]:
    """Exactly ``n_events`` events from the watch, in delivery order."""
    responses = await collect_responses(w, n_events, timeout)
    return [ev for resp in responses for ev in resp.events]


async def events_until_progress(w: Watch, store: Store, timeout: float = TIMEOUT) -> list[Event]:
    """Every event delivered before a requested progress notice at the current revision.

    A progress notice means everything up to its revision was delivered, so the events
    returned are all the watch will ever send for revisions up to now: this is how a test
    proves that something was *not* delivered without sleeping.
    """
    rev = await current_revision(store)
    await w.request_progress()
    events: list[Event] = []
    with anyio.fail_after(timeout):
        while True:
            resp = await w.__anext__()
            assert not resp.canceled, f"watch canceled unexpectedly: {resp}"
            if not resp.events:
                if resp.header.revision >= rev:
                    return events
                continue  # an older notice: keep waiting for the one asked for
            events.extend(resp.events)
