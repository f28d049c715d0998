"""A watch validator: were a watch's responses what the store's history says they must be?

etcd promises six things about a watch (api_guarantees.md), and kcore's store contract
promises the same for every backend:

* **ordered** — events come in revision order; a later response never goes back;
* **unique** — no event is delivered twice;
* **reliable** — no gap: every event in the watched range from the start revision up to the
  last revision delivered is there, unless the watch was canceled with ``compact_revision``
  because the history it needed was compacted;
* **atomic** — the events of one revision are never split across two responses;
* **resumable** — a new watch from the last delivered revision + 1 continues without gap or
  duplicate (also from ``compact_revision`` after a compaction cancel);
* **bookmarkable** — a progress notification at revision R means every event <= R was delivered.

Two more are checked because they are easy to get wrong: **prev_kv** (an event's ``prev_kv``
is the key's previous version when asked for, absent otherwise — it may also be absent for an
event *at* a compaction revision, whose previous version was compacted, as in etcd) and
**filter** (NOPUT / NODELETE drop exactly those events). Messages that fit none of these (an
event that never happened, a key outside the range, an event before the start revision) are
**accurate**.

Use::

    log = WriteLog()                       # a fresh store: history starts empty at revision 1
    checker = WatchChecker(log, b"/a/", prefix_end(b"/a/"), start_revision=5, prev_kv=True)
    async with await store.watch(b"/a/", prefix_end(b"/a/"), start_revision=5, prev_kv=True) as w:
        async for resp in w:
            checker.feed(resp)
            ...
    await log.compact(store, revision)     # compact through the log: it syncs first
    await log.sync(store)                  # and once at the end
    assert_watches_ok(checker, through=final_revision)  # or: checker.violations(...) == []

The ground truth
----------------
``WriteLog.sync`` derives what was committed from the store's MVCC history: it reads the whole
key space at every revision (``range(b"\\0", b"\\0", revision=r)``) and diffs it with the
revision before. That choice, rather than recording the writers' responses or replaying the
history through one more watch, is deliberate:

* it does not use the watch machinery under test — a watch replay would check the watch
  code against itself, and share its bugs;
* it sees every change, including the ones no writer asked for (lease expiry, revocation),
  and gives the exact key-value each event must carry (create revision, version, lease) and
  the ``prev_kv`` it must have; a put's response carries only a revision;
* it works unchanged against any backend, a real etcd included (range reads at old
  revisions are the most basic MVCC feature, checked on their own by the store suite).

The costs: one range per revision (fine for a test's key space; the log keeps every event);
the log must be synced before each compaction, because a compacted revision can no longer be
read (``sync`` says so); and the order of events *within* one revision (a txn's operations)
cannot be recovered from snapshots, so those revisions are compared as sets, by key. That
relies on a key changing at most once per revision, which the duplicate-key rule ensures
except in one corner etcd allows (a nested txn puts a key that a later sibling txn deletes:
a snapshot sees only the delete), so keep such txns out of watch tests. ``WriteLog.add``
records a revision whose order is known (from a writer, or a fabricated history) and the
checker then also checks that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise

import attrs

from kcore.store.protocol import Store, Watch
from kcore.store.types import Event, EventType, FilterType, KeyValue, WatchResponse

__all__ = [
    "LogIncompleteError",
    "WatchChecker",
    "WriteLog",
    "assert_watches_ok",
    "watch_until",
]

#: How many messages of one kind a checker reports before summarising the rest.
MAX_MESSAGES_PER_KIND = 20

_Identity = tuple[int, bytes, EventType]  # (revision, key, type): one event


class LogIncompleteError(RuntimeError):
    """The write log does not cover a revision the check needs (sync it, before compacting)."""


def _show(key: bytes) -> str:
    return repr(key)[1:]


def _show_event(ev: Event) -> str:
    return f"{ev.type.name} {_show(ev.kv.key)}@{ev.kv.mod_revision}"


class WriteLog:
    """What a store committed, revision by revision: the ground truth for ``WatchChecker``.

    ``base_revision``/``base_state`` say where the log starts: by default a fresh store
    (revision 1, no keys). For a store that already has history, use ``await
    WriteLog.starting_at(store)``; events at or before its base revision are then unknown and
    watches checked against it must start after it.
    """

    def __init__(
        self, *, base_revision: int = 1, base_state: Mapping[bytes, KeyValue] | None = None
    ) -> None:
        if base_revision < 1:
            raise ValueError(
                f"base_revision must be >= 1 (a store starts at 1), got {base_revision}"
            )
        self._state: dict[bytes, KeyValue] = dict(base_state or {})
        self._last = base_revision
        # A fresh store has no events at all up to revision 1; otherwise the base is a snapshot
        # and what happened at or before it is unknown.
        self._first = 1 if base_revision == 1 and not self._state else base_revision + 1
        self._events: dict[int, tuple[Event, ...]] = {}
        self._by_key: dict[tuple[int, bytes], Event] = {}
        self._ordered: set[int] = set()
        #: Things about the history itself that look wrong (a revision that changed nothing,
        #: a key-value newer than the revision it was read at). Empty for a correct store.
        self.anomalies: list[str] = []
        #: Revisions the store was compacted at (``note_compaction``/``compact``).
        self.compactions: set[int] = set()

    @classmethod
    async def starting_at(cls, store: Store, revision: int = 0) -> WriteLog:
        """A log whose base is the store's state at ``revision`` (0: now)."""
        resp = await store.range(b"\0", b"\0", revision=revision)
        base = revision if revision > 0 else resp.header.revision
        return cls(base_revision=base, base_state={kv.key: kv for kv in resp.kvs})

    @property
    def first_revision(self) -> int:
        """The first revision whose events the log knows."""
        return self._first

    @property
    def last_revision(self) -> int:
        """The last revision the log covers."""
        return self._last

    @property
    def state(self) -> Mapping[bytes, KeyValue]:
        """The live key-values at ``last_revision``."""
        return self._state

    def covers(self, revision: int) -> bool:
        return self._first <= revision <= self._last

    def events_at(self, revision: int) -> tuple[Event, ...]:
        """The revision's events, with ``prev_kv`` set to each key's previous live version."""
        if not self.covers(revision):
            raise LogIncompleteError(
                f"the write log covers revisions {self._first}..{self._last}, not {revision}"
            )
        return self._events.get(revision, ())

    def event(self, revision: int, key: bytes) -> Event | None:
        """The change of ``key`` at ``revision``, if there was one."""
        return self._by_key.get((revision, key))

    def is_ordered(self, revision: int) -> bool:
        """Whether the order of the revision's events is known (recorded with ``add``)."""
        return revision in self._ordered

    def add(self, revision: int, changes: Sequence[KeyValue], *, ordered: bool = True) -> None:
        """Record the next revision's changes: a put's new key-value, or a deletion's
        tombstone (``version == 0``, the key and ``mod_revision``). ``prev_kv`` of each event
        comes from the log's own state. Revisions must be added in order, without gaps.
        """
        if revision != self._last + 1:
            raise ValueError(
                f"the write log is at revision {self._last}; the next one to add is "
                f"{self._last + 1}, not {revision}"
            )
        events: list[Event] = []
        seen: set[bytes] = set()
        for kv in changes:
            if kv.mod_revision != revision:
                raise ValueError(f"{kv!r} does not belong to revision {revision}")
            if kv.key in seen:
                raise ValueError(f"key {_show(kv.key)} changes twice at revision {revision}")
            seen.add(kv.key)
            prev = self._state.get(kv.key)
            if kv.version:
                events.append(Event(EventType.PUT, kv, prev))
                self._state[kv.key] = kv
            else:
                if prev is None:
                    self.anomalies.append(
                        f"revision {revision} deletes {_show(kv.key)}, which did not exist"
                    )
                events.append(
                    Event(EventType.DELETE, KeyValue(kv.key, mod_revision=revision), prev)
                )
                self._state.pop(kv.key, None)
        self._store(revision, events, ordered)

    def _store(self, revision: int, events: list[Event], ordered: bool) -> None:
        if not events:
            self.anomalies.append(f"revision {revision} changed nothing")
        self._events[revision] = tuple(events)
        for ev in events:
            self._by_key[(revision, ev.kv.key)] = ev
        if ordered:
            self._ordered.add(revision)
        self._last = revision

    def note_compaction(self, revision: int) -> None:
        """Record that the store was compacted at ``revision``.

        An event *at* a compaction revision may come without its ``prev_kv``: the previous
        version is older than the compaction, and etcd reads it at ``revision - 1``, which is
        gone. The checker forgives exactly that, for the revisions noted here (and the
        ``compact_revision`` of cancel responses).
        """
        self.compactions.add(revision)

    async def compact(self, store: Store, revision: int) -> None:
        """Sync the log, then compact the store at ``revision`` and note it."""
        await self.sync(store)
        await store.compact(revision)
        self.note_compaction(revision)

    async def sync(self, store: Store, until: int = 0) -> int:
        """Read the store's history from ``last_revision + 1`` up to ``until`` (0: the
        current revision) and record it. Returns the log's new last revision.

        Call it before every compaction: a compacted revision cannot be read any more, and
        the store then raises its compacted error from here.
        """
        current = (await store.range(b"\0", b"\0", count_only=True)).header.revision
        target = current if until <= 0 else min(until, current)
        for revision in range(self._last + 1, target + 1):
            resp = await store.range(b"\0", b"\0", revision=revision)
            now = {kv.key: kv for kv in resp.kvs}
            events: list[Event] = []
            for key in sorted(now.keys() | self._state.keys()):
                kv, prev = now.get(key), self._state.get(key)
                if kv is None:
                    assert prev is not None
                    events.append(
                        Event(EventType.DELETE, KeyValue(key, mod_revision=revision), prev)
                    )
                elif kv.mod_revision > revision:
                    self.anomalies.append(
                        f"a range at revision {revision} returned {_show(key)} with "
                        f"mod_revision {kv.mod_revision}"
                    )
                elif kv.mod_revision == revision:
                    events.append(Event(EventType.PUT, kv, prev))
                elif kv != prev:
                    self.anomalies.append(
                        f"{_show(key)} changed at revision {revision} without a new mod_revision: "
                        f"{prev!r} -> {kv!r}"
                    )
            self._state = now
            self._store(revision, events, ordered=False)
        return self._last


@attrs.define
class _Session:
    """One watch of a (possibly resumed) stream: responses fed while it was the current one."""

    index: int
    start: int
    start_max: int
    responses: list[WatchResponse] = attrs.Factory(list)
    fragments: list[WatchResponse] = attrs.Factory(list)
    ended: bool = False
    compact_revision: int = 0
    next_at_cancel: int = 0
    last_event: int = 0
    last_bookmark: int = 0

    @property
    def done(self) -> int:
        return max(self.last_event, self.last_bookmark)

    def next_revision(self) -> int:
        nxt = max(self.start, self.done + 1)
        if self.compact_revision and nxt < self.compact_revision:
            return self.compact_revision
        return nxt


class _Report:
    """Violation messages, capped per kind so a broken store gives a readable failure."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: list[str] = []
        self._counts: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        n = self._counts[kind] = self._counts.get(kind, 0) + 1
        if n <= MAX_MESSAGES_PER_KIND:
            self.messages.append(f"{kind}: {self.name}: {message}")

    def finish(self) -> list[str]:
        for kind, n in self._counts.items():
            if n > MAX_MESSAGES_PER_KIND:
                self.messages.append(
                    f"{kind}: {self.name}: ... and {n - MAX_MESSAGES_PER_KIND} more like these"
                )
        return self.messages


class WatchChecker:
    """Collects what one watch (and the watches that resume it) delivered, and checks it.

    Give it the watch's own arguments: ``key``/``range_end`` (etcd's meaning: empty
    ``range_end`` is one key, ``b"\\0"`` everything from ``key`` on; an empty key is
    ``b"\\0"``), ``start_revision`` (>= 1), ``filters`` and ``prev_kv``. For a watch created
    with ``start_revision=0`` (current + 1), pass the bounds you know: the current revision + 1
    read just before creating it as ``start_revision`` and the one read just after as
    ``start_revision_max``.

    ``feed`` every response in the order received; after the watch ends (canceled, or by
    you), ``resume()`` starts the next watch of the stream from ``next_revision``. The check
    itself runs in ``violations()``, against the write log as synced by then.
    """

    def __init__(
        self,
        log: WriteLog,
        key: bytes,
        range_end: bytes = b"",
        *,
        start_revision: int,
        start_revision_max: int = 0,
        filters: Iterable[FilterType] = (),
        prev_kv: bool = False,
        name: str = "",
    ) -> None:
        if start_revision < 1:
            raise ValueError(
                "start_revision must be the revision the watch starts at (>= 1); for a watch "
                "created with 0, pass the current revision + 1 and start_revision_max"
            )
        if start_revision_max and start_revision_max < start_revision:
            raise ValueError("start_revision_max must be >= start_revision")
        self.log = log
        self.key = key or b"\0"
        self.range_end = range_end
        self.filters = frozenset(filters)
        self.prev_kv = prev_kv
        end = f"..{_show(range_end)}" if range_end else ""
        self.name = name or f"watch {_show(self.key)}{end}"
        self._sessions = [
            _Session(0, start_revision, max(start_revision, start_revision_max or start_revision))
        ]
        self._feed_report: list[tuple[str, str]] = []
        self._compactions: set[int] = set()

    # --- what the watch says ---------------------------------------------------------------

    @property
    def session(self) -> int:
        """How many times the stream was resumed."""
        return len(self._sessions) - 1

    @property
    def responses(self) -> list[WatchResponse]:
        """Every response fed, over all sessions (fragments merged)."""
        return [r for s in self._sessions for r in s.responses]

    @property
    def events(self) -> list[Event]:
        return [ev for r in self.responses for ev in r.events]

    @property
    def last_revision(self) -> int:
        """The highest revision delivered, by an event or a progress notification."""
        return max(s.done for s in self._sessions)

    @property
    def canceled(self) -> bool:
        """Whether the current watch received its cancel response."""
        return self._sessions[-1].ended

    @property
    def compact_revision(self) -> int:
        """The current watch's ``compact_revision`` if it was canceled for compaction."""
        return self._sessions[-1].compact_revision

    @property
    def next_revision(self) -> int:
        """Where a resumed watch must start: last delivered + 1, or the compact revision."""
        return self._sessions[-1].next_revision()

    def wants(self, ev: Event) -> bool:
        """Whether the watch should deliver this (real) event: in range and not filtered."""
        return self.in_range(ev.kv.key) and not self.filtered(ev)

    def in_range(self, key: bytes) -> bool:
        if not self.range_end:
            return key == self.key
        if self.range_end == b"\0":
            return key >= self.key
        return self.key <= key < self.range_end

    def filtered(self, ev: Event) -> bool:
        if ev.type is EventType.PUT:
            return FilterType.NOPUT in self.filters
        return FilterType.NODELETE in self.filters

    # --- feeding ------------------------------------------------------------------------------

    def feed(self, response: WatchResponse) -> None:
        """Record one response of the current watch, in the order received."""
        s = self._sessions[-1]
        if s.ended:
            self._feed_report.append(
                ("ordered", f"a response came after the watch was canceled: {response!r:.200}")
            )
            return
        if response.fragment:
            s.fragments.append(response)
            return
        if s.fragments:
            events = tuple(ev for f in s.fragments for ev in f.events) + response.events
            response = attrs.evolve(response, events=events)
            s.fragments.clear()
        if response.created and not response.events and not response.canceled:
            # etcd's "created" notice: its header revision fixes where a start-0 watch starts.
            if s.start < s.start_max and response.header.revision:
                start = min(max(response.header.revision + 1, s.start), s.start_max)
                s.start = s.start_max = start
            s.responses.append(response)
            return
        if response.canceled:
            s.next_at_cancel = s.next_revision()
            s.ended = True
            s.compact_revision = response.compact_revision
        for ev in response.events:
            s.last_event = max(s.last_event, ev.kv.mod_revision)
        if not response.events and not response.canceled:
            s.last_bookmark = max(s.last_bookmark, response.header.revision)
        s.responses.append(response)

    def resume(self, start_revision: int = 0) -> int:
        """Start the next watch of the stream; returns its start revision (``next_revision``).

        Create the new watch with exactly that ``start_revision`` and feed its responses
        here. Resuming elsewhere is not a resume (it would leave a gap or repeat events).
        """
        nxt = self.next_revision
        if start_revision and start_revision != nxt:
            raise ValueError(
                f"{self.name}: a resume must start at next_revision {nxt}, not {start_revision}"
            )
        self._sessions.append(_Session(len(self._sessions), nxt, nxt))
        return nxt

    # --- checking ----------------------------------------------------------------------------

    def violations(self, through: int = 0) -> list[str]:
        """Every broken guarantee, as readable lines ``"<guarantee>: <watch>: <what>"``.

        ``through``: the stream should have delivered everything up to this revision (say,
        the store's revision when the writers stopped), even without a progress notification
        at the end. Raises ``LogIncompleteError`` when the log does not cover what must be
        checked.
        """
        report = _Report(self.name)
        for kind, message in self._feed_report:
            report.add(kind, message)
        self._compactions = self.log.compactions | {
            r.compact_revision for s in self._sessions for r in s.responses if r.compact_revision
        }
        delivered: dict[_Identity, tuple[int, int]] = {}  # event -> (session, response number)
        bookmarks: list[tuple[int, int]] = []  # (revision, response number)
        max_bookmark = 0
        last_rev = 0  # the last event revision delivered, over all sessions
        pos = 0
        starts: list[int] = []
        for s in self._sessions:
            start = s.start
            if s.start < s.start_max:  # a start-0 watch: it started somewhere in the bounds
                firsts = [r.events[0].kv.mod_revision for r in s.responses if r.events]
                start = max(s.start, min([s.start_max, *firsts]))
            starts.append(start)
            prev_header = 0
            prev_last = 0  # the last event revision of this session's previous response
            prev_pos = 0
            for resp in s.responses:
                pos += 1
                where = f"response #{pos}" + (f" (after {s.index} resume(s))" if s.index else "")
                if resp.created and not resp.events and not resp.canceled:
                    continue
                header = resp.header.revision
                if header and header < prev_header and not resp.canceled:
                    report.add(
                        "ordered", f"{where}: header revision {header} went back from {prev_header}"
                    )
                prev_header = max(prev_header, header)
                if (
                    resp.canceled
                    and resp.compact_revision
                    and s.next_at_cancel >= resp.compact_revision
                ):
                    report.add(
                        "reliable",
                        f"{where}: canceled with compact_revision {resp.compact_revision} "
                        f"although it needed only revisions >= {s.next_at_cancel}, which "
                        "were not compacted",
                    )
                if not resp.events:
                    if not resp.canceled:
                        if header < last_rev:
                            report.add(
                                "ordered",
                                f"{where}: progress notification at revision {header} after an "
                                f"event at revision {last_rev}",
                            )
                        bookmarks.append((header, pos))
                        max_bookmark = max(max_bookmark, header)
                    continue
                revs = [ev.kv.mod_revision for ev in resp.events]
                if header and header < max(revs):
                    report.add(
                        "ordered",
                        f"{where}: header revision {header} is older than its own event at "
                        f"revision {max(revs)}",
                    )
                for a, b in pairwise(revs):
                    if b < a:
                        report.add(
                            "ordered", f"{where}: an event at revision {b} follows one at {a}"
                        )
                if prev_last:
                    if revs[0] == prev_last and any(
                        (ev.kv.mod_revision, ev.kv.key, ev.type) not in delivered
                        for ev in resp.events
                        if ev.kv.mod_revision == prev_last
                    ):  # (a repeat of what was delivered is a "unique" matter, below)
                        report.add(
                            "atomic",
                            f"revision {revs[0]} is split across response #{prev_pos} and {where}",
                        )
                    elif revs[0] < prev_last:
                        report.add(
                            "ordered",
                            f"{where} starts at revision {revs[0]}, but response #{prev_pos} "
                            f"already reached {prev_last}",
                        )
                elif s.index and revs[0] <= last_rev:
                    report.add(
                        "resumable",
                        f"{where}: the resumed watch (from {s.start}) starts at revision "
                        f"{revs[0]}, not after the last revision delivered before, {last_rev}",
                    )
                self._check_events(
                    report, resp, where, start, s.index, pos, delivered, max_bookmark
                )
                prev_last, prev_pos = revs[-1], pos
                last_rev = max(last_rev, revs[-1])
        self._check_missing(report, starts, delivered, bookmarks, through)
        return report.finish()

    def _check_events(
        self,
        report: _Report,
        resp: WatchResponse,
        where: str,
        start: int,
        session: int,
        pos: int,
        delivered: dict[_Identity, tuple[int, int]],
        max_bookmark: int,
    ) -> None:
        log = self.log
        compactions = self._compactions
        by_revision: dict[int, list[bytes]] = {}
        for ev in resp.events:
            rev, key = ev.kv.mod_revision, ev.kv.key
            what = f"{where}: {_show_event(ev)}"
            by_revision.setdefault(rev, []).append(key)
            if rev < start:
                report.add("accurate", f"{what} is before the watch's start revision {start}")
            if not self.in_range(key):
                report.add("accurate", f"{what} is outside the watched range")
            if self.filtered(ev):
                report.add("filter", f"{what} should have been filtered out ({ev.type.name})")
            if not log.covers(rev):
                raise LogIncompleteError(
                    f"{self.name}: {where} has an event at revision {rev}, but the write log "
                    f"covers {log.first_revision}..{log.last_revision}; sync it first"
                )
            want = log.event(rev, key)
            if want is None:
                report.add("accurate", f"{what}: no such change in the store's history")
            elif want.type is not ev.type or want.kv != ev.kv:
                report.add("accurate", f"{what}: is {ev.kv!r}, the history has {want.kv!r}")
            elif self.prev_kv:
                lost = ev.prev_kv is None and rev in compactions  # see WriteLog.note_compaction
                if ev.prev_kv != want.prev_kv and not lost:
                    report.add(
                        "prev_kv", f"{what}: prev_kv is {ev.prev_kv!r}, should be {want.prev_kv!r}"
                    )
            elif ev.prev_kv is not None:
                report.add("prev_kv", f"{what}: has a prev_kv though the watch did not ask for it")
            ident = (rev, key, ev.type)
            first = delivered.get(ident)
            if first is None:
                delivered[ident] = (session, pos)
            elif first[0] == session:
                report.add("unique", f"{what} was already delivered in response #{first[1]}")
            else:
                report.add(
                    "resumable",
                    f"{what} was already delivered in response #{first[1]}, before the resume",
                )
            if rev <= max_bookmark:
                report.add(
                    "bookmarkable",
                    f"{what} comes after a progress notification at revision {max_bookmark}",
                )
        for rev, keys in by_revision.items():
            if log.covers(rev) and log.is_ordered(rev):
                got = set(keys)
                expected = [ev.kv.key for ev in log.events_at(rev) if ev.kv.key in got]
                if keys != expected:
                    report.add(
                        "ordered",
                        f"{where}: the events of revision {rev} are in the order "
                        f"{[_show(k) for k in keys]}, committed as {[_show(k) for k in expected]}",
                    )

    def _check_missing(
        self,
        report: _Report,
        starts: list[int],
        delivered: dict[_Identity, tuple[int, int]],
        bookmarks: list[tuple[int, int]],
        through: int,
    ) -> None:
        log = self.log
        for s, start in zip(self._sessions, starts, strict=True):
            end = s.done
            last = s is self._sessions[-1]
            if last and through > end:
                if s.compact_revision and s.next_at_cancel < s.compact_revision:
                    report.add(
                        "reliable",
                        f"the watch ended canceled (compact_revision {s.compact_revision}) before "
                        f"revision {through}; resume it from the compact revision to check it",
                    )
                else:
                    end = through
            for rev in range(start, end + 1):
                if not log.covers(rev):
                    raise LogIncompleteError(
                        f"{self.name}: revisions {start}..{end} must be checked, but the write "
                        f"log covers {log.first_revision}..{log.last_revision}; sync it first "
                        "(before compacting)"
                    )
                for ev in log.events_at(rev):
                    if not self.wants(ev) or (rev, ev.kv.key, ev.type) in delivered:
                        continue
                    what = f"{_show_event(ev)} was never delivered"
                    mark = next(((r, p) for r, p in bookmarks if r >= rev), None)
                    if mark is not None:
                        report.add(
                            "bookmarkable",
                            f"{what}, though response #{mark[1]} is a progress notification "
                            f"at revision {mark[0]}",
                        )
                    elif s.index:
                        report.add(
                            "resumable", f"{what} by the watch resumed at revision {s.start}"
                        )
                    else:
                        report.add("reliable", f"{what} (watch from revision {start})")

    def assert_ok(self, through: int = 0) -> None:
        assert_watches_ok(self, through=through)


def assert_watches_ok(*checkers: WatchChecker, through: int = 0) -> None:
    """Fail with every violation of every checker, one per line."""
    lines = [line for c in checkers for line in c.violations(through=through)]
    if lines:
        raise AssertionError(
            f"{len(lines)} watch guarantee violation(s):\n" + "\n".join(f"  {x}" for x in lines)
        )


async def watch_until(
    watch: Watch,
    checker: WatchChecker,
    revision: int,
    *,
    max_responses: int = 1_000_000,
) -> bool:
    """Feed ``watch``'s responses to ``checker`` until it has delivered through ``revision``.

    Asks for a progress notification (again after each one that falls short), so it ends
    even when nothing more in the watched range changes; ``revision`` must not be above the
    store's current revision. Returns False if the watch ended (canceled) first. Bound it
    with a timeout (``anyio.fail_after``): a store that never answers makes it wait.
    """
    if checker.canceled:
        return False
    await watch.request_progress()
    for _ in range(max_responses):
        if checker.last_revision >= revision:
            return True
        try:
            resp = await watch.__anext__()
        except StopAsyncIteration:
            return False
        checker.feed(resp)
        if resp.canceled:
            return checker.last_revision >= revision
        if not resp.events and not resp.created and checker.last_revision < revision:
            await watch.request_progress()
    raise AssertionError(
        f"{checker.name}: no progress to revision {revision} in {max_responses} responses"
    )
