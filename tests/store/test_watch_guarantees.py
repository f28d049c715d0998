"""etcd's six watch guarantees on MemoryStore, under load, checked by ``kcore.testing.watchcheck``.

Several writers (puts, deletes, range deletes, multi-key txns, lease expiry) race several
watchers (one key, prefixes, a range, from old revisions, with filters, with prev_kv, a
deliberately slow one); compaction runs in the middle; watches are canceled and resumed; progress
is requested while events flow. Afterwards the ground truth is read from the store's MVCC history
(``WriteLog.sync``) and every response every watcher received is checked against it.

The store is built with a small watch buffer (``watch_buffer_events=64``) so that slow watchers
really fall out of the synced set and must catch up from history, as in etcd. Every wait is
bounded (``anyio.fail_after``) and every loop has a count limit: a broken store fails, not hangs.

The last tests feed the validator fabricated bad streams — a gap, a duplicate, a split revision,
and the rest — to show that it can fail.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import anyio
import attrs
import pytest

from kcore.clock import VirtualClock
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    Event,
    EventType,
    FilterType,
    KeyValue,
    MemoryStore,
    PutRequest,
    ResponseHeader,
    Store,
    Watch,
    WatchResponse,
    prefix_end,
)
from kcore.testing import (
    LogIncompleteError,
    WatchChecker,
    WriteLog,
    assert_watches_ok,
    watch_until,
)

pytestmark = pytest.mark.anyio

TEST_TIMEOUT = 60.0  # seconds for a whole scenario
MAX_RESPONSES = 200_000  # per watch session
KEYS = [b"/a/%d" % i for i in range(8)] + [b"/b/%d" % i for i in range(8)] + [b"/c"]
A, B = b"/a/", b"/b/"
SLOW_LAG = 150  # revisions a slow follower lets the writers get ahead, now and then


async def current_revision(store: Store) -> int:
    return (await store.range(b"\0", b"\0", count_only=True)).header.revision


# --- writers --------------------------------------------------------------------------------


async def writer(store: Store, seed: int, ops: int) -> None:
    """Random single-key puts and deletes, range deletes, and multi-key txns."""
    rng = random.Random(seed)
    for i in range(ops):
        roll = rng.random()
        if roll < 0.5:
            await store.put(rng.choice(KEYS), b"w%d-%d" % (seed, i))
        elif roll < 0.65:
            await store.delete_range(rng.choice(KEYS))
        elif roll < 0.7:
            prefix = rng.choice([A, B])
            start = prefix + b"%d" % rng.randrange(8)
            await store.delete_range(start, prefix_end(prefix))
        else:
            k1, k2, k3 = rng.sample(KEYS, 3)
            await store.txn(
                [Compare(k1, CompareTarget.VERSION, rng.choice(list(CompareResult)), version=1)],
                [PutRequest(k1, b"t%d" % i), PutRequest(k2, b"t%d" % i), DeleteRangeRequest(k3)],
                [PutRequest(k3, b"f%d" % i), DeleteRangeRequest(k1)],
            )
        if i % 3 == 0:
            await anyio.sleep(0)  # let the others in; store calls never suspend by themselves
        if i % 25 == 0:
            await anyio.sleep(0.001)  # and spread the writing over some real time


async def lease_writer(store: Store, clock: VirtualClock, seed: int, rounds: int) -> None:
    """Keys under a lease that then expires or is revoked: the store deletes them, in one
    revision, without any writer asking for those deletes."""
    rng = random.Random(seed)
    for i in range(rounds):
        lease = (await store.lease_grant(2)).id
        for key in rng.sample(KEYS, 3):
            await store.put(key, b"leased", lease=lease)
            await anyio.sleep(0)
        if i % 3 == 2:
            await store.lease_revoke(lease)
        else:
            await clock.advance(3)  # expiry, on the store's (virtual) clock
        await anyio.sleep(0)


# --- followers: a watch stream, consumed and checked ------------------------------------------


@attrs.define
class Follower:
    """Reads one watch stream into a checker; resumes it after a compaction cancel.

    ``slow``: after each of the first ``slow_reads`` responses, sleep that many seconds and
    then until the store is ``SLOW_LAG`` revisions ahead (or the writers are done).
    ``cancel_every``: cancel the watch after that many responses and resume from
    ``next_revision`` (the resumable guarantee, exercised on purpose).
    """

    store: Store
    checker: WatchChecker
    key: bytes
    range_end: bytes = b""
    filters: tuple[FilterType, ...] = ()
    prev_kv: bool = False
    start_revision: int = 0
    slow: float = 0.0
    slow_reads: int = 0
    cancel_every: int = 0
    target: int = 0  # set when the writers are done: follow until this revision
    watch: Watch | None = None
    reads: int = 0
    compaction_cancels: int = 0
    voluntary_cancels: int = 0
    progress_responses: int = 0
    max_lag: int = 0  # the most revisions the watch was behind the store when read

    async def open(self, start: int) -> Watch:
        if start == 0:  # "from now": the checker gets the bounds seen around the creation
            low = await current_revision(self.store) + 1
        w = await self.store.watch(
            self.key,
            self.range_end,
            start_revision=start,
            filters=self.filters,
            prev_kv=self.prev_kv,
        )
        if start == 0:
            high = await current_revision(self.store) + 1
            c = self.checker
            self.checker = WatchChecker(
                c.log,
                c.key,
                c.range_end,
                start_revision=low,
                start_revision_max=high,
                filters=c.filters,
                prev_kv=c.prev_kv,
                name=c.name,
            )
        self.watch = w
        if self.target:
            await w.request_progress()
        return w

    def done(self) -> bool:
        return bool(self.target) and self.checker.last_revision >= self.target

    async def run(self) -> None:
        start = self.start_revision
        for _session in range(10_000):
            async with await self.open(start) as w:
                reason = await self._consume(w)
            self.watch = None
            if reason == "done":
                return
            if reason == "compacted":
                self.compaction_cancels += 1
            elif reason == "voluntary":
                self.voluntary_cancels += 1
            else:
                raise AssertionError(f"{self.checker.name}: the watch ended on its own ({reason})")
            start = self.checker.resume()
        raise AssertionError(f"{self.checker.name}: too many sessions")

    async def _consume(self, w: Watch) -> str:
        for in_session in range(1, MAX_RESPONSES + 1):
            if self.done():
                return "done"
            if self.reads >= 3:  # (at the start, every watch is as far behind as its start)
                behind = await current_revision(self.store) - self.checker.last_revision
                self.max_lag = max(self.max_lag, behind)
            try:
                resp = await w.__anext__()
            except StopAsyncIteration:
                return "ended without a cancel response"
            self.checker.feed(resp)
            self.reads += 1
            if resp.canceled:
                return "compacted" if resp.compact_revision else "canceled by the store"
            if not resp.events:
                self.progress_responses += 1
                if self.target and not self.done():
                    await w.request_progress()
            if self.slow and self.reads <= self.slow_reads:
                await anyio.sleep(self.slow)
                # Then let the writers get well ahead (>64 events, the watch buffer), however
                # fast this machine runs them: the catch-up path is what a slow one is for.
                for _ in range(5_000):
                    behind = await current_revision(self.store) - self.checker.last_revision
                    if self.target or behind >= SLOW_LAG:
                        break
                    await anyio.sleep(0.001)
            if self.cancel_every and in_session >= self.cancel_every and not self.done():
                return "voluntary"
        raise AssertionError(f"{self.checker.name}: more than {MAX_RESPONSES} responses")

    async def finish(self, target: int) -> None:
        """Tell the follower where to stop, and ask for progress so it learns it got there."""
        self.target = target
        if self.watch is not None:
            await self.watch.request_progress()


def follower(
    store: Store,
    log: WriteLog,
    name: str,
    key: bytes,
    range_end: bytes = b"",
    *,
    start: int,
    filters: Iterable[FilterType] = (),
    prev_kv: bool = False,
    **options: float,
) -> Follower:
    """A follower and its checker, with the same watch arguments. ``start=0``: the watch is
    created with start_revision 0 (current + 1) whenever the follower gets to it."""
    filters = tuple(filters)
    checker = WatchChecker(
        log,
        key,
        range_end,
        start_revision=start or 1,  # start 0: replaced once the watch exists
        filters=filters,
        prev_kv=prev_kv,
        name=name,
    )
    return Follower(
        store,
        checker,
        key,
        range_end,
        filters,
        prev_kv,
        start,
        **options,  # type: ignore[arg-type]
    )


async def run_all(
    store: Store,
    followers: Sequence[Follower],
    writers: Sequence[tuple[object, ...]],
    during: Sequence[tuple[object, ...]] = (),
) -> int:
    """Run the followers, the writers and the ``during`` tasks (a compactor, a progress
    requester: they get a ``stop`` event, set when the writers are done); then bring every
    follower to the final revision, which is returned."""
    stop = anyio.Event()
    with anyio.fail_after(TEST_TIMEOUT):
        async with anyio.create_task_group() as tg:
            for f in followers:
                tg.start_soon(f.run)
            async with anyio.create_task_group() as side:
                for fn, *args in during:
                    side.start_soon(fn, *args, stop)  # type: ignore[operator]
                async with anyio.create_task_group() as writing:
                    for fn, *args in writers:
                        writing.start_soon(fn, *args)  # type: ignore[operator]
                stop.set()
            final = await current_revision(store)
            for f in followers:
                await f.finish(final)
    return final


async def check_all(store: Store, log: WriteLog, followers: Sequence[Follower], final: int) -> None:
    await log.sync(store)
    assert log.last_revision >= final
    assert log.anomalies == []
    assert_watches_ok(*(f.checker for f in followers), through=final)


def new_store(clock: VirtualClock) -> MemoryStore:
    # A small watch buffer: a watcher more than 64 events behind leaves the synced set and has
    # to catch up from history, which is the path these tests are after.
    return MemoryStore(clock=clock, watch_buffer_events=64)


# --- scenarios ------------------------------------------------------------------------------


async def test_concurrent_writers_and_many_watchers() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        await writer(store, seed=99, ops=300)  # history before the watches start
        now = await current_revision(store)
        followers = [
            follower(store, log, "everything from revision 1", b"\0", b"\0", start=1),
            follower(store, log, "one key", b"/a/3", start=now + 1),
            follower(
                store, log, "prefix /a/ + prev_kv", A, prefix_end(A), start=now + 1, prev_kv=True
            ),
            follower(
                store,
                log,
                "prefix /b/ NOPUT",
                B,
                prefix_end(B),
                start=now + 1,
                filters=[FilterType.NOPUT],
            ),
            follower(
                store,
                log,
                "prefix /b/ NODELETE + prev_kv",
                B,
                prefix_end(B),
                start=now + 1,
                filters=[FilterType.NODELETE],
                prev_kv=True,
            ),
            follower(
                store, log, "range /a/4../b/2 from old revision", b"/a/4", b"/b/2", start=now - 150
            ),
            follower(store, log, "from key /b/5 on", b"/b/5", b"\0", start=now - 40, prev_kv=True),
            follower(store, log, "start 0 (now)", b"\0", b"\0", start=0),
            follower(store, log, "starts in the future", b"\0", b"\0", start=now + 500),
            follower(
                store, log, "twin of the slow consumer", b"\0", b"\0", start=now + 1, prev_kv=True
            ),
            follower(
                store,
                log,
                "slow consumer, everything + prev_kv",
                b"\0",
                b"\0",
                start=now + 1,
                prev_kv=True,
                slow=0.003,
                slow_reads=150,
            ),
        ]
        writers = [(writer, store, seed, 900) for seed in range(4)]
        writers.append((lease_writer, store, clock, 7, 30))
        final = await run_all(store, followers, writers)
        assert final - now > 3000, "the writers should have written thousands of revisions"
        await check_all(store, log, followers, final)
        slow = followers[-1]
        # beyond its 64-event watch buffer: it must have caught up from history
        assert slow.max_lag > 64, f"the slow consumer never fell far behind (lag {slow.max_lag})"
        assert slow.compaction_cancels == 0  # nothing was compacted: it must have caught up
        for f in followers:
            assert f.checker.events, f"{f.checker.name} saw nothing"


async def test_slow_consumer_catches_up_from_history_without_losing_events() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        now = await current_revision(store)
        followers = [
            follower(
                store,
                log,
                f"slow {name}",
                key,
                end,
                start=now + 1,
                prev_kv=prev,
                slow=0.004,
                slow_reads=200,
            )
            for name, key, end, prev in [
                ("everything", b"\0", b"\0", False),
                ("prefix /a/", A, prefix_end(A), True),
                ("one key", b"/b/1", b"", True),
            ]
        ]
        final = await run_all(store, followers, [(writer, store, seed, 1500) for seed in range(3)])
        assert final > 3000
        await check_all(store, log, followers, final)
        assert followers[0].max_lag > 64, followers[0].max_lag  # beyond its watch buffer


async def compactor(store: Store, log: WriteLog, every: int, keep: int, stop: anyio.Event) -> None:
    """Compact to ``current - keep`` each time ``every`` revisions have passed (log first)."""
    last = 0
    for _ in range(100_000):
        if stop.is_set():
            return
        rev = await current_revision(store)
        if rev - last >= every:
            await log.compact(store, rev - keep)  # syncs first: the truth must be read in time
            last = rev
        await anyio.sleep(0.001)


async def test_compaction_during_the_run_cancels_laggards_which_resume() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        now = await current_revision(store)
        followers = [
            follower(store, log, "fast, everything", b"\0", b"\0", start=now + 1, prev_kv=True),
            follower(
                store,
                log,
                "slow, everything",
                b"\0",
                b"\0",
                start=now + 1,
                slow=0.005,
                slow_reads=100,
            ),
            follower(
                store,
                log,
                "slow, prefix /a/ + prev_kv",
                A,
                prefix_end(A),
                start=now + 1,
                prev_kv=True,
                slow=0.005,
                slow_reads=100,
            ),
        ]
        final = await run_all(
            store,
            followers,
            [(writer, store, seed, 1200) for seed in range(3)],
            during=[(compactor, store, log, 300, 20)],
        )
        status = await store.status()
        assert status.compact_revision > now + 1000, "compaction should have run during the run"
        await check_all(store, log, followers, final)
        assert followers[1].compaction_cancels + followers[2].compaction_cancels >= 1, (
            "a slow watcher should have been overtaken by compaction at least once"
        )


async def test_stalled_watch_is_canceled_with_compact_revision_and_resumes_from_it() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        await writer(store, seed=1, ops=50)
        start = await current_revision(store) + 1
        checker = WatchChecker(
            log, b"\0", b"\0", start_revision=start, prev_kv=True, name="stalled"
        )
        with anyio.fail_after(TEST_TIMEOUT):
            async with await store.watch(b"\0", b"\0", start_revision=start, prev_kv=True) as w:
                await writer(store, seed=2, ops=2000)  # the watch is not read meanwhile
                compact_at = await current_revision(store) - 10
                await log.compact(store, compact_at)
                for _ in range(MAX_RESPONSES):
                    try:
                        resp = await w.__anext__()
                    except StopAsyncIteration:
                        break
                    checker.feed(resp)
                assert checker.canceled, "a watch overtaken by compaction must be canceled"
                assert checker.compact_revision == compact_at
            # resume from the compact revision: everything from there on, no gap
            assert checker.next_revision == compact_at
            resumed = checker.resume()
            async with await store.watch(b"\0", b"\0", start_revision=resumed, prev_kv=True) as w2:
                await writer(store, seed=3, ops=100)
                final = await current_revision(store)
                await log.sync(store)
                assert await watch_until(w2, checker, final)
        assert log.anomalies == []
        checker.assert_ok(through=final)
        resumed_events = [ev for r in checker.responses[-1:] for ev in r.events]
        assert all(ev.kv.mod_revision >= compact_at for ev in resumed_events)


async def test_watch_from_below_the_compact_revision_is_canceled_at_once() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        await writer(store, seed=5, ops=200)
        compact_at = await current_revision(store) - 50
        await log.compact(store, compact_at)
        with anyio.fail_after(10):
            async with await store.watch(b"\0", b"\0", start_revision=compact_at - 1) as w:
                responses = [resp async for resp in w]
            assert len(responses) == 1, responses
            assert responses[0].canceled and responses[0].compact_revision == compact_at
            assert responses[0].events == ()
            # exactly at the compact revision: served, from history
            checker = WatchChecker(log, b"\0", b"\0", start_revision=compact_at, name="at compact")
            final = await current_revision(store)
            async with await store.watch(b"\0", b"\0", start_revision=compact_at) as w:
                assert await watch_until(w, checker, final)
        checker.assert_ok(through=final)
        assert checker.events[0].kv.mod_revision == compact_at


async def test_cancel_and_resume_from_last_plus_one_under_load() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        await writer(store, seed=11, ops=100)
        now = await current_revision(store)
        followers = [
            follower(
                store, log, "resume: everything", b"\0", b"\0", start=now - 50, cancel_every=7
            ),
            follower(
                store,
                log,
                "resume: /a/ + prev_kv",
                A,
                prefix_end(A),
                start=now + 1,
                prev_kv=True,
                cancel_every=3,
            ),
            follower(
                store,
                log,
                "resume: /b/ NODELETE",
                B,
                prefix_end(B),
                start=now + 1,
                filters=[FilterType.NODELETE],
                cancel_every=2,
            ),
            follower(store, log, "resume: one key", b"/a/1", start=1, cancel_every=1),
            follower(
                store,
                log,
                "resume: slow everything",
                b"\0",
                b"\0",
                start=now + 1,
                slow=0.003,
                slow_reads=100,
                cancel_every=2,
            ),
        ]
        writers = [(writer, store, seed, 800) for seed in range(3)]
        writers.append((lease_writer, store, clock, 8, 20))
        final = await run_all(store, followers, writers)
        await check_all(store, log, followers, final)
        for f in followers:
            assert f.voluntary_cancels >= 3, f"{f.checker.name}: {f.voluntary_cancels} resumes"


async def progress_requester(followers: Sequence[Follower], stop: anyio.Event) -> None:
    """Ask every follower's current watch for progress, over and over, while events flow."""
    for _ in range(100_000):
        if stop.is_set():
            return
        for f in followers:
            if f.watch is not None:
                await f.watch.request_progress()
        await anyio.sleep(0.002)


async def test_progress_requests_while_events_flow_are_bookmarks() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        await writer(store, seed=21, ops=300)
        now = await current_revision(store)
        followers = [
            follower(store, log, "progress: everything", b"\0", b"\0", start=now + 1, prev_kv=True),
            follower(store, log, "progress: from old revision", b"\0", b"\0", start=2),
            follower(store, log, "progress: quiet key", b"/nothing/here", start=now + 1),
            follower(
                store,
                log,
                "progress: /b/ NOPUT",
                B,
                prefix_end(B),
                start=now + 1,
                filters=[FilterType.NOPUT],
            ),
            follower(
                store,
                log,
                "progress: slow /a/",
                A,
                prefix_end(A),
                start=now + 1,
                slow=0.003,
                slow_reads=150,
            ),
        ]
        final = await run_all(
            store,
            followers,
            [(writer, store, seed, 700) for seed in range(3)],
            during=[(progress_requester, followers)],
        )
        await check_all(store, log, followers, final)
        # A watch that is behind gets its notification only once caught up (etcd's rule), so
        # the slow one may see none; the others are asked often enough to see several.
        for f in followers[:-1]:
            assert f.progress_responses >= 2, f"{f.checker.name}: {f.progress_responses} bookmarks"


async def test_progress_on_an_idle_store_and_for_a_watch_behind() -> None:
    clock = VirtualClock()
    async with new_store(clock) as store:
        log = WriteLog()
        await writer(store, seed=31, ops=500)
        rev = await current_revision(store)
        await log.sync(store)
        with anyio.fail_after(10):
            # caught up and idle: the notification carries the current revision, no events
            async with await store.watch(b"/a/1") as w:
                await w.request_progress()
                resp = await w.__anext__()
                assert resp.events == () and not resp.canceled
                assert resp.header.revision == rev
            # far behind: the notification may only come after everything up to it
            checker = WatchChecker(log, b"\0", b"\0", start_revision=2, name="behind")
            async with await store.watch(b"\0", b"\0", start_revision=2) as w:
                await w.request_progress()
                for _ in range(MAX_RESPONSES):
                    resp = await w.__anext__()
                    checker.feed(resp)
                    if not resp.events:
                        break
                assert resp.header.revision == rev
                assert len(checker.events) >= 500
            checker.assert_ok(through=rev)
            # periodic progress_notify on the store's clock (etcd's default: every 10 minutes)
            checker = WatchChecker(log, b"/a/2", start_revision=rev + 1, name="progress_notify")
            async with await store.watch(b"/a/2", progress_notify=True) as w:
                await clock.advance(601)
                await clock.advance(601)
                resp = await w.__anext__()
                checker.feed(resp)
                assert resp.events == () and resp.header.revision == rev
                assert await watch_until(w, checker, rev)
            checker.assert_ok(through=rev)


# --- the validator itself must be able to fail -----------------------------------------------


def kv(key: bytes, rev: int, create: int, version: int, value: bytes = b"v") -> KeyValue:
    return KeyValue(key, create, rev, version, value)


def tomb(key: bytes, rev: int) -> KeyValue:
    return KeyValue(key, mod_revision=rev)


def fabricated_log() -> WriteLog:
    """rev 2: put a | 3: put b | 4: txn put a, delete b | 5: put c | 6: delete a | 7: put b."""
    log = WriteLog()
    log.add(2, [kv(b"a", 2, 2, 1)])
    log.add(3, [kv(b"b", 3, 3, 1)])
    log.add(4, [kv(b"a", 4, 2, 2, b"w"), tomb(b"b", 4)])
    log.add(5, [kv(b"c", 5, 5, 1)])
    log.add(6, [tomb(b"a", 6)])
    log.add(7, [kv(b"b", 7, 7, 1)])
    return log


def events(
    log: WriteLog, *revs: int, prev_kv: bool = True, keys: bytes | None = None
) -> list[Event]:
    out = [ev for r in revs for ev in log.events_at(r)]
    if keys is not None:
        out = [ev for ev in out if ev.kv.key in keys.split(b",")]
    return out if prev_kv else [attrs.evolve(ev, prev_kv=None) for ev in out]


def resp(evs: Sequence[Event], header: int = 0, **fields: object) -> WatchResponse:
    header = header or max(ev.kv.mod_revision for ev in evs)
    return WatchResponse(ResponseHeader(header), 1, events=tuple(evs), **fields)  # type: ignore[arg-type]


def progress(revision: int) -> WatchResponse:
    return WatchResponse(ResponseHeader(revision), 1)


def check(
    stream: Sequence[WatchResponse | str],
    *,
    start: int = 2,
    prev_kv: bool = True,
    filters: Iterable[FilterType] = (),
    key: bytes = b"\0",
    end: bytes = b"\0",
    through: int = 0,
) -> list[str]:
    """Feed a fabricated stream ("resume" entries start the next session) and check it."""
    c = WatchChecker(
        fabricated_log(), key, end, start_revision=start, prev_kv=prev_kv, filters=filters, name="w"
    )
    for item in stream:
        if item == "resume":
            c.resume()
        else:
            assert isinstance(item, WatchResponse)
            c.feed(item)
    return c.violations(through=through)


def kinds(violations: list[str]) -> set[str]:
    return {v.split(":", 1)[0] for v in violations}


async def test_validator_accepts_a_correct_stream() -> None:
    log = fabricated_log()
    assert log.anomalies == []
    good = [resp(events(log, 2)), resp(events(log, 3, 4)), resp(events(log, 5, 6, 7)), progress(7)]
    assert check(good, through=7) == []
    # batches may differ, a bookmark may come early, and the stream may be resumed
    good = [
        resp(events(log, 2, 3)),
        progress(3),
        "resume",
        resp(events(log, 4)),
        resp(events(log, 5, 6, 7)),
    ]
    assert check(good, through=7) == []
    # a prefix watch with a filter: only b's deletes
    only = [resp(events(log, 4, keys=b"b")), progress(7)]
    assert check(only, key=b"b", end=b"", filters=[FilterType.NOPUT]) == []


@pytest.mark.parametrize(
    ("name", "stream", "options", "expected"),
    [
        ("gap", lambda log: [resp(events(log, 2)), resp(events(log, 4, 5))], {}, "reliable"),
        ("gap at the end", lambda log: [resp(events(log, 2, 3, 4, 5))], {"through": 7}, "reliable"),
        (
            "duplicate",
            lambda log: [resp(events(log, 2, 3)), resp(events(log, 3, 4))],
            {},
            "unique",
        ),
        (
            "split revision",
            lambda log: [resp(events(log, 2, 3) + events(log, 4)[:1]), resp(events(log, 4)[1:])],
            {},
            "atomic",
        ),
        (
            "out of order",
            lambda log: [resp(events(log, 3)), resp(events(log, 2)), resp(events(log, 4))],
            {},
            "ordered",
        ),
        (
            "out of order within a response",
            lambda log: [resp(events(log, 3) + events(log, 2))],
            {},
            "ordered",
        ),
        (
            "bookmark before the events",
            lambda log: [resp(events(log, 2)), progress(4), resp(events(log, 3, 4))],
            {},
            "bookmarkable",
        ),
        (
            "bookmark over a gap",
            lambda log: [resp(events(log, 2)), progress(5)],
            {},
            "bookmarkable",
        ),
        (
            "resume with a gap",
            lambda log: [resp(events(log, 2, 3)), "resume", resp(events(log, 5))],
            {},
            "resumable",
        ),
        (
            "resume with a repeat",
            lambda log: [resp(events(log, 2, 3)), "resume", resp(events(log, 3, 4))],
            {},
            "resumable",
        ),
        (
            "wrong prev_kv",
            lambda log: [
                resp([attrs.evolve(events(log, 2)[0], prev_kv=kv(b"a", 1, 1, 1))]),
                resp(events(log, 3)),
            ],
            {},
            "prev_kv",
        ),
        (
            "prev_kv not asked for",
            lambda log: [resp(events(log, 2, 3, 4))],
            {"prev_kv": False},
            "prev_kv",
        ),
        (
            "NOPUT not applied",
            lambda log: [resp(events(log, 2))],
            {"filters": [FilterType.NOPUT]},
            "filter",
        ),
        (
            "NODELETE not applied",
            lambda log: [resp(events(log, 2, 3, 4))],
            {"filters": [FilterType.NODELETE]},
            "filter",
        ),
        (
            "a change that never happened",
            lambda log: [resp([Event(EventType.PUT, kv(b"zz", 3, 3, 1))])],
            {},
            "accurate",
        ),
        (
            "wrong value",
            lambda log: [resp([attrs.evolve(events(log, 2)[0], kv=kv(b"a", 2, 2, 1, b"other"))])],
            {},
            "accurate",
        ),
        (
            "outside the watched range",
            lambda log: [resp(events(log, 2, 3))],
            {"key": b"a", "end": b""},
            "accurate",
        ),
        (
            "canceled for a compaction that did not need it",
            lambda log: [
                resp(events(log, 2, 3)),
                WatchResponse(ResponseHeader(7), 1, canceled=True, compact_revision=3),
            ],
            {},
            "reliable",
        ),
        (
            "a response after the cancel",
            lambda log: [
                WatchResponse(ResponseHeader(7), 1, canceled=True, compact_revision=5),
                resp(events(log, 5)),
            ],
            {},
            "ordered",
        ),
    ],
)
async def test_validator_catches(
    name: str, stream: object, options: dict[str, object], expected: str
) -> None:
    violations = check(stream(fabricated_log()), **options)  # type: ignore[operator, arg-type]
    assert expected in kinds(violations), f"{name}: {violations}"


async def test_validator_excuses_only_what_compaction_took() -> None:
    log = fabricated_log()
    canceled = WatchResponse(ResponseHeader(7), 1, canceled=True, compact_revision=5)
    # 2 and 3 delivered, then compacted at 5: 4 is excused, resuming from 5 must deliver 5..7
    ok = [resp(events(log, 2, 3)), canceled, "resume", resp(events(log, 5, 6, 7))]
    assert check(ok, through=7) == []
    # but the resumed watch must not skip what is still there
    assert "resumable" in kinds(
        check([resp(events(log, 2, 3)), canceled, "resume", resp(events(log, 6))])
    )


async def test_validator_refuses_to_judge_without_the_history() -> None:
    log = WriteLog()
    log.add(2, [kv(b"a", 2, 2, 1)])
    c = WatchChecker(log, b"a", start_revision=2)
    c.feed(resp([Event(EventType.PUT, kv(b"a", 3, 2, 2))], header=3))
    with pytest.raises(LogIncompleteError):
        c.violations()
    with pytest.raises(ValueError):
        log.add(4, [kv(b"a", 4, 2, 3)])  # revisions must come in order, without gaps
    with pytest.raises(ValueError):
        c.resume(start_revision=10)  # a resume must continue where the watch left off


async def test_validator_order_within_a_revision_when_known() -> None:
    log = fabricated_log()
    swapped = list(reversed(events(log, 4)))
    violations = check([resp(events(log, 2, 3)), resp(swapped)])
    assert "ordered" in kinds(violations), violations


async def test_write_log_sync_reads_the_same_history_as_add() -> None:
    """The range-diff ground truth equals a hand-recorded one on a real store."""
    async with MemoryStore(clock=VirtualClock()) as store:
        await store.put(b"a", b"v")
        await store.put(b"b", b"v")
        await store.txn([], [PutRequest(b"a", b"w"), DeleteRangeRequest(b"b")])
        await store.put(b"c", b"v")
        await store.delete_range(b"a")
        await store.put(b"b", b"v")
        synced = WriteLog()
        assert await synced.sync(store) == 7
        hand = fabricated_log()
        for rev in range(2, 8):
            assert sorted(synced.events_at(rev), key=lambda e: e.kv.key) == sorted(
                hand.events_at(rev), key=lambda e: e.kv.key
            ), rev
        assert synced.anomalies == []
