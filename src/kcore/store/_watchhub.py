"""Watch fan-out for the memory store: synced watchers get pushes, the rest catch up from history.

This is etcd's watchable store restated. A watcher is either *synced* — it has everything up
to the current revision, and each commit pushes the new revision's events into its buffer —
or *unsynced*: it reads the history log itself, in its own task, from the next revision it
needs, and rejoins the synced set the moment it reaches the current revision (no await
between the last read and the rejoin, so nothing can slip past). A watcher whose buffer
fills up is demoted to unsynced instead of blocking the writer or dropping events, so a slow
consumer costs the store O(1) per commit and bounded memory; if compaction overtakes it, it
is canceled with ``compact_revision`` set.

Watchers with the same range, filters and prev_kv choice form a group. A commit computes the
group's events once and appends them to the group's own short log; each member reads that log
from its own cursor and only waiting members are woken, so a commit costs O(groups), not
O(watchers), and a thousand watchers share one frozen tuple of events. When the group's log
grows past the buffer bound, members that lag that far are demoted and the log is trimmed.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

import anyio
import anyio.lowlevel

from kcore.store.types import Event, EventType, KeyValue, ResponseHeader, WatchResponse

__all__ = ["History", "MemoryWatch", "WatchHub"]

MAX_EVENTS_PER_RESPONSE = 1000  # a response is cut after the revision that crosses this
CATCH_UP_REVISIONS = 1000  # revisions read from history per catch-up step (etcd's batch)
EVENT_CACHE_REVISIONS = 4096


class History:
    """What the hub needs from the store: the log of changes and per-key lookups."""

    def __init__(
        self,
        changes_at: Callable[[int], tuple[KeyValue, ...]],
        prev_of: Callable[[KeyValue], KeyValue | None],
        revision: Callable[[], int],
        compact_revision: Callable[[], int],
    ) -> None:
        self.changes_at = changes_at
        self.prev_of = prev_of
        self.revision = revision
        self.compact_revision = compact_revision


def _event(kv: KeyValue, prev: KeyValue | None) -> Event:
    return Event(EventType.PUT if kv.version else EventType.DELETE, kv, prev)


class _Group:
    """Watchers sharing (range, filters, prev_kv), and the events pushed to them not yet read.

    ``log[i]`` is (revision, events, events appended through this entry); a member's
    ``cursor`` is an absolute position in it (``base`` is the position of ``log[0]``).
    """

    __slots__ = (
        "base",
        "base_total",
        "end",
        "log",
        "no_delete",
        "no_put",
        "prev_kv",
        "start",
        "total",
        "waiters",
        "watchers",
    )

    def __init__(
        self, start: bytes, end: bytes | None, no_put: bool, no_delete: bool, prev_kv: bool
    ) -> None:
        self.start = start
        self.end = end  # None: no upper bound; for a single key, end is key + b"\0"
        self.no_put = no_put
        self.no_delete = no_delete
        self.prev_kv = prev_kv
        self.watchers: set[MemoryWatch] = set()
        self.waiters: list[MemoryWatch] = []
        self.log: list[tuple[int, tuple[Event, ...], int]] = []
        self.base = 0
        self.base_total = 0  # events appended before log[0]
        self.total = 0  # events appended ever

    def wants(self, kv: KeyValue) -> bool:
        key = kv.key
        if key < self.start or (self.end is not None and key >= self.end):
            return False
        return not (self.no_delete if kv.version == 0 else self.no_put)

    def events_before(self, cursor: int) -> int:
        """Events appended before absolute position ``cursor``."""
        i = cursor - self.base
        return self.log[i - 1][2] if i > 0 else self.base_total


class WatchHub:
    def __init__(self, history: History, buffer_events: int) -> None:
        self._history = history
        self._buffer_events = buffer_events
        self._groups: dict[tuple[bytes, bytes | None, bool, bool, bool], _Group] = {}
        self._single: dict[bytes, list[_Group]] = {}  # single-key groups by key
        self._ranges: list[_Group] = []  # groups over a range
        self._watches: dict[int, MemoryWatch] = {}
        self._next_id = 1
        self._event_cache: dict[int, tuple[Event, ...]] = {}

    # --- registration ------------------------------------------------------------------

    def new_id(self) -> int:
        while self._next_id in self._watches:
            self._next_id += 1
        return self._next_id

    def has(self, watch_id: int) -> bool:
        return watch_id in self._watches

    def add(self, w: MemoryWatch) -> None:
        self._watches[w.watch_id] = w
        if w.next_rev <= self._history.revision():
            w.synced = False  # it starts in the past: catch up from history first
        else:
            self._join(w)

    def remove(self, w: MemoryWatch) -> None:
        self._watches.pop(w.watch_id, None)
        if w.synced:
            self._leave(w)
            w.synced = False

    def _join(self, w: MemoryWatch) -> None:
        gkey = (w.start, w.end, w.no_put, w.no_delete, w.prev_kv)
        group = self._groups.get(gkey)
        if group is None:
            group = self._groups[gkey] = _Group(*gkey)
            if w.single:
                self._single.setdefault(w.start, []).append(group)
            else:
                self._ranges.append(group)
        group.watchers.add(w)
        w.group = group
        w.cursor = group.base + len(group.log)
        w.synced = True

    def _leave(self, w: MemoryWatch) -> None:
        group = w.group
        if group is None:
            return
        group.watchers.discard(w)
        w.group = None
        if not group.watchers:
            del self._groups[(group.start, group.end, group.no_put, group.no_delete, group.prev_kv)]
            if w.single:
                groups = self._single[group.start]
                groups.remove(group)
                if not groups:
                    del self._single[group.start]
            else:
                self._ranges.remove(group)

    # --- commit path: push to synced watchers ------------------------------------------

    def events_at(self, revision: int) -> tuple[Event, ...]:
        """The events of one revision without prev_kv, built once and shared."""
        events = self._event_cache.get(revision)
        if events is None:
            events = tuple(_event(kv, None) for kv in self._history.changes_at(revision))
            if len(self._event_cache) >= EVENT_CACHE_REVISIONS:
                del self._event_cache[next(iter(self._event_cache))]
            self._event_cache[revision] = events
        return events

    def forget_before(self, revision: int) -> None:
        """Drop cached events of compacted revisions."""
        for rev in [r for r in self._event_cache if r < revision]:
            del self._event_cache[rev]

    def notify(
        self, revision: int, changes: tuple[KeyValue, ...], prevs: tuple[KeyValue | None, ...]
    ) -> None:
        """Called by the store once per committed revision."""
        if not self._groups:
            return
        plain: tuple[Event, ...] | None = None
        with_prev: tuple[Event, ...] | None = None
        groups: list[_Group] = list(self._ranges)
        if self._single:
            for kv in changes:
                groups.extend(self._single.get(kv.key, ()))
            if len(changes) > 1:
                groups = list(dict.fromkeys(groups))  # a key changed twice: one visit per group
        for group in groups:
            if group.prev_kv:
                if with_prev is None:
                    with_prev = tuple(map(_event, changes, prevs))
                pool = with_prev
            else:
                if plain is None:
                    plain = self.events_at(revision)
                pool = plain
            events: tuple[Event, ...]
            if len(pool) == 1:
                events = pool if group.wants(changes[0]) else ()
            else:
                events = tuple(ev for ev, kv in zip(pool, changes, strict=True) if group.wants(kv))
                if len(events) == len(pool):
                    events = pool
            if not events:
                continue
            group.total += len(events)
            group.log.append((revision, events, group.total))
            if group.waiters:
                for w in group.waiters:
                    if w.waker is not None:
                        w.waker.set()
                        w.waker = None
                group.waiters.clear()
            if group.total - group.base_total > self._buffer_events:
                self._trim(group)

    def _trim(self, group: _Group) -> None:
        """Demote members lagging more than the buffer bound, then drop what all have read."""
        limit = self._buffer_events
        lowest = group.base + len(group.log)
        for w in list(group.watchers):
            if group.total - group.events_before(w.cursor) > limit:
                # Too far behind: it reads the rest from history when it gets there.
                w.next_rev = max(w.next_rev, group.log[w.cursor - group.base][0])
                self._leave(w)
                w.synced = False
            else:
                lowest = min(lowest, w.cursor)
        drop = lowest - group.base
        if drop > 0:
            group.base_total = group.log[drop - 1][2]
            del group.log[:drop]
            group.base = lowest

    # --- consumer side: catch up from history --------------------------------------------

    def catch_up(self, w: MemoryWatch) -> WatchResponse | None:
        """One step of an unsynced watcher through history; rejoins the synced set at the end."""
        history = self._history
        compact = history.compact_revision()
        if w.next_rev < compact:
            w.finish(
                WatchResponse(
                    ResponseHeader(history.revision()),
                    w.watch_id,
                    canceled=True,
                    compact_revision=compact,
                    cancel_reason="mvcc: required revision has been compacted",
                )
            )
            self.remove(w)
            return None
        current = history.revision()
        last = min(current, w.next_rev + CATCH_UP_REVISIONS - 1)
        group = _Group(w.start, w.end, w.no_put, w.no_delete, w.prev_kv)
        collected: list[Event] = []
        rev = w.next_rev
        while rev <= last:
            changes = history.changes_at(rev)
            if changes:
                if w.prev_kv:
                    collected.extend(
                        _event(kv, history.prev_of(kv)) for kv in changes if group.wants(kv)
                    )
                else:
                    events = self.events_at(rev)
                    collected.extend(
                        ev for ev, kv in zip(events, changes, strict=True) if group.wants(kv)
                    )
            rev += 1
            if len(collected) >= MAX_EVENTS_PER_RESPONSE:
                break
        w.next_rev = rev
        if rev > current:
            self._join(w)
        if not collected:
            return None
        return WatchResponse(ResponseHeader(rev - 1), w.watch_id, events=tuple(collected))

    def request_progress_all(self) -> None:
        """The periodic progress tick: wake every progress_notify watcher that was quiet."""
        for w in list(self._watches.values()):
            if w.progress_notify:
                if w.quiet:
                    w.progress_wanted = True
                    w.wake()
                w.quiet = True


class MemoryWatch:
    """One watch on a MemoryStore: the ``Watch`` protocol over the hub's buffers."""

    def __init__(
        self,
        hub: WatchHub,
        watch_id: int,
        start: bytes,
        end: bytes | None,
        single: bool,
        next_rev: int,
        no_put: bool,
        no_delete: bool,
        prev_kv: bool,
        progress_notify: bool,
    ) -> None:
        self._hub = hub
        self._id = watch_id
        self.start = start
        self.end = end
        self.single = single
        self.next_rev = next_rev  # unsynced: next revision to read; synced: first wanted
        self.no_put = no_put
        self.no_delete = no_delete
        self.prev_kv = prev_kv
        self.progress_notify = progress_notify
        self.synced = False
        self.group: _Group | None = None
        self.cursor = 0  # synced: absolute position in the group's log of the next unread
        self.waker: anyio.Event | None = None
        self.progress_wanted = False
        self.quiet = True  # no events sent since the last progress tick
        self._final: WatchResponse | None = None
        self._done = False

    @property
    def watch_id(self) -> int:
        return self._id

    def wake(self) -> None:
        if self.waker is not None:
            self.waker.set()
            self.waker = None

    def finish(self, final: WatchResponse | None) -> None:
        """End the watch; ``final`` (a cancel notice) is delivered before iteration stops."""
        self._final = final
        self._done = True
        self.wake()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchResponse:
        hub = self._hub
        while True:
            if self._done:
                final, self._final = self._final, None
                if final is None:
                    raise StopAsyncIteration
                return final
            group = self.group
            if group is not None and self.cursor - group.base < len(group.log):
                response = self._read(group)
                if response is not None:
                    return response
                continue
            if not self.synced:
                response = hub.catch_up(self)
                if response is not None:
                    self.quiet = False
                    return response
                await anyio.lowlevel.checkpoint()  # a long quiet catch-up must not hog
                continue
            if self.progress_wanted:
                self.progress_wanted = False
                return WatchResponse(ResponseHeader(hub._history.revision()), self._id)
            self.waker = anyio.Event()
            if group is not None:
                group.waiters.append(self)
            await self.waker.wait()

    def _read(self, group: _Group) -> WatchResponse | None:
        """Take whole revisions from the group's log, up to about MAX_EVENTS_PER_RESPONSE."""
        log = group.log
        i = self.cursor - group.base
        end = len(log)
        collected: list[Event] = []
        rev = 0
        while i < end and len(collected) < MAX_EVENTS_PER_RESPONSE:
            rev, events, _ = log[i]
            i += 1
            if rev >= self.next_rev:  # a watch starting in the future skips what came before
                collected.extend(events)
        self.cursor = group.base + i
        if not collected:
            return None
        self.quiet = False
        if i == end and self.synced:
            rev = self._hub._history.revision()  # everything up to now is delivered
        return WatchResponse(ResponseHeader(rev), self._id, events=tuple(collected))

    async def request_progress(self) -> None:
        self.progress_wanted = True
        self.wake()

    async def cancel(self) -> None:
        if not self._done:
            self._hub.remove(self)
            self.finish(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel()
