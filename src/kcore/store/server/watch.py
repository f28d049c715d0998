"""etcd's Watch service: many watches multiplexed on one bidirectional stream.

Each ``create_request`` opens a watch on the store and a pump task that turns the store
watch's responses into wire responses; all of a stream's responses go through one bounded
send queue, drained by one send task that writes to gRPC. What a client sees follows etcd
3.4.23 (checked against the real binary):

* watch IDs belong to the stream: 0 asks for the next free one (the first is 0); a
  client-chosen ID already in use is refused with ``created`` and ``canceled`` set,
  ``watch_id`` -1 and etcd's cancel reason, as is a range with key >= range_end;
* the ``created`` response comes first, its header revision is the current revision, and
  a watch without a start revision starts right after it;
* a watch whose start is compacted is canceled with ``compact_revision`` set (no header
  revision and no reason, as etcd 3.4 sends it); its ID stays taken until canceled;
* ``cancel_request`` answers ``canceled`` (nothing for an unknown ID); unknown filter values
  and empty requests are ignored; after the client half-closes, events keep coming;
* ``progress_request`` is answered with ``watch_id`` -1 once every watch of the stream has
  delivered everything up to the answered revision (etcd 3.4.25 and later; 3.4.23 answers at
  once even when a watch is behind, etcd issue 15697); requests while one is pending share
  its answer;
* with ``fragment`` set, a response of 1.5 MiB or more with two or more events is split,
  every part but the last marked ``fragment``; without it, such a response is sent as
  several whole-revision responses (etcd sends one message of any size; see ``_split``).

Memory stays bounded per stream whatever the client does: the send queue holds at most
``send_buffer_bytes`` (plus one response). A client that stops reading fills it; the pumps
then stop reading their store watches, and the store's own watcher falls behind instead --
it catches up from history later, or is canceled with ``compact_revision`` if compaction
overtakes it. A full queue also stops the stream reading requests, as etcd's does.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.abc
import attrs

from kcore.errors import CompactedError, KcoreError, ServerStoppedError
from kcore.store import _convert as convert
from kcore.store._etcdpb import rpc_pb2
from kcore.store.protocol import Store, Watch
from kcore.store.server import _grpc
from kcore.store.server._split import split_response
from kcore.store.server._wire import Identity
from kcore.store.types import FilterType, WatchResponse

__all__ = ["SendQueue", "WatchService", "WatchStreamStats"]

log = logging.getLogger("kcore.store.server")

AUTO_WATCH_ID = 0
INVALID_WATCH_ID = -1
DUPLICATE_ID_REASON = "mvcc: duplicate watch ID provided on the WatchStream"
EMPTY_RANGE_REASON = "mvcc: watcher range is empty"
_FILTERS = {int(f): f for f in FilterType}


class SendQueue:
    """A FIFO of serialized responses bounded in bytes and in count; one reader.

    ``put`` waits while the queue is over either bound (a response bigger than the byte
    bound still goes in once the queue is empty, so nothing is ever stuck).
    """

    def __init__(self, max_bytes: int, max_items: int) -> None:
        self._items: deque[bytes] = deque()
        self.max_bytes = max_bytes
        self._max_items = max_items
        self.bytes = 0
        self.high_water_bytes = 0
        self._ready: anyio.Event | None = None  # set when an item arrives
        self._space: anyio.Event | None = None  # set when an item leaves

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, data: bytes) -> None:
        while self._items and (
            self.bytes + len(data) > self.max_bytes or len(self._items) >= self._max_items
        ):
            if self._space is None:
                self._space = anyio.Event()
            await self._space.wait()
        self._items.append(data)
        self.bytes += len(data)
        self.high_water_bytes = max(self.high_water_bytes, self.bytes)
        if self._ready is not None:
            self._ready.set()
            self._ready = None

    async def get(self) -> bytes:
        while not self._items:
            if self._ready is None:
                self._ready = anyio.Event()
            await self._ready.wait()
        data = self._items.popleft()
        self.bytes -= len(data)
        if self._space is not None:
            self._space.set()
            self._space = None
        return data


@attrs.frozen
class WatchStreamStats:
    """One watch stream's state, for tests and operators: watches and send-queue usage."""

    watches: int
    queued_responses: int
    queued_bytes: int
    high_water_bytes: int
    send_buffer_bytes: int
    sent_responses: int
    sent_bytes: int


@attrs.define(eq=False)
class _Entry:
    """One watch of a stream; ``handle`` is None for a watch that never reached the store."""

    id: int
    handle: Watch | None
    fragment: bool = False
    progress_notify: bool = False
    alive: bool = True
    scope: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)


class WatchService:
    def __init__(
        self,
        store: Store,
        identity: Identity,
        *,
        max_request_bytes: int,
        send_buffer_bytes: int,
        send_buffer_responses: int,
    ) -> None:
        self._store = store
        self._identity = identity
        self._fragment_bytes = max_request_bytes
        self._buffer_bytes = send_buffer_bytes
        self._buffer_responses = send_buffer_responses
        self._streams: set[_Stream] = set()

    def handler(self) -> Any:
        return _grpc.service(
            "Watch",
            {"Watch": _grpc.bidi(self.watch, rpc_pb2.WatchRequest.FromString, raw_responses=True)},
        )

    def stats(self) -> list[WatchStreamStats]:
        return [s.stats() for s in self._streams]

    def shutdown(self) -> None:
        """End every open stream (each ends with "etcdserver: server stopped")."""
        for stream in self._streams:
            stream.stop()

    async def watch(
        self, requests: AsyncIterator[rpc_pb2.WatchRequest], context: _grpc.Context
    ) -> None:
        stream = _Stream(self, context)
        self._streams.add(stream)
        try:
            await stream.run(requests)
        finally:
            self._streams.discard(stream)


class _Stream:
    def __init__(self, service: WatchService, context: _grpc.Context) -> None:
        self._store = service._store
        self._identity = service._identity
        self._fragment_bytes = service._fragment_bytes
        self._context: _grpc.Context | None = context
        self._queue = SendQueue(service._buffer_bytes, service._buffer_responses)
        self._watches: dict[int, _Entry] = {}
        self._next_id = 0
        self._pending: set[int] | None = None  # watches yet to answer a progress request
        self._pending_rev: int | None = None
        self._tasks: anyio.abc.TaskGroup | None = None
        self._scope = anyio.CancelScope()
        self._stopped = False
        self._sent_responses = self._sent_bytes = 0

    def stop(self) -> None:
        self._stopped = True
        self._scope.cancel()

    def stats(self) -> WatchStreamStats:
        q = self._queue
        return WatchStreamStats(
            len(self._watches),
            len(q),
            q.bytes,
            q.high_water_bytes,
            q.max_bytes,
            self._sent_responses,
            self._sent_bytes,
        )

    async def run(self, requests: AsyncIterator[rpc_pb2.WatchRequest]) -> None:
        with self._scope:
            try:
                async with anyio.create_task_group() as tasks:
                    self._tasks = tasks
                    tasks.start_soon(self._send_loop)
                    async for request in requests:
                        await self._handle(request)
                    # The client half-closed: like etcd, keep delivering until it leaves.
                    await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    for entry in self._watches.values():
                        await self._close(entry)
                # Canceled tasks keep their frames (and so this stream) in traceback
                # cycles until the GC runs; the call's objects must not wait for it too.
                self._watches.clear()
                self._tasks = None
                self._context = None
        if self._stopped:
            raise ServerStoppedError()

    async def _send_loop(self) -> None:
        while self._context is not None:  # (no local: a canceled frame must not hold it)
            data = await self._queue.get()
            try:
                await self._context.write(data)
            except Exception:  # the call is over (the client left): end the stream quietly
                log.debug("watch stream write failed; ending the stream", exc_info=True)
                self._scope.cancel()
                return
            self._sent_responses += 1
            self._sent_bytes += len(data)

    async def _handle(self, request: rpc_pb2.WatchRequest) -> None:
        kind = request.WhichOneof("request_union")
        if kind == "create_request":
            await self._create(request.create_request)
        elif kind == "cancel_request":
            await self._cancel(request.cancel_request.watch_id)
        elif kind == "progress_request":
            await self._progress()
        # anything else (an empty request) is ignored, as etcd does

    # --- create / cancel ------------------------------------------------------------------

    async def _create(self, c: rpc_pb2.WatchCreateRequest) -> None:
        key = c.key or b"\0"  # an empty key means the smallest key
        if c.range_end not in (b"", b"\0") and key >= c.range_end:
            await self._refuse(EMPTY_RANGE_REASON)
            return
        watch_id = c.watch_id
        if watch_id == AUTO_WATCH_ID:
            while self._next_id in self._watches:
                self._next_id += 1
            watch_id = self._next_id
            self._next_id += 1
        elif watch_id in self._watches:
            await self._refuse(DUPLICATE_ID_REASON)
            return
        status = await self._store.status()
        revision = status.header.revision
        if c.start_revision < -1:  # etcd 3.4: below any compaction (-1 when never compacted)
            await self._dead_on_arrival(watch_id, revision, status.compact_revision or -1)
            return
        try:
            handle = await self._store.watch(
                key,
                c.range_end,
                # 0 (and etcd's -1) mean "after the created response's revision"
                start_revision=c.start_revision if c.start_revision > 0 else revision + 1,
                filters=[_FILTERS[f] for f in c.filters if f in _FILTERS],
                prev_kv=c.prev_kv,
                progress_notify=c.progress_notify,
            )
        except CompactedError as err:
            await self._dead_on_arrival(watch_id, revision, err.compact_revision)
            return
        except KcoreError as err:
            await self._refuse(_grpc.status_of(err)[1])
            return
        entry = _Entry(watch_id, handle, c.fragment, c.progress_notify)
        self._watches[watch_id] = entry
        await self._put(self._control(revision, watch_id, created=True))
        assert self._tasks is not None
        self._tasks.start_soon(self._pump, entry)

    async def _refuse(self, reason: str) -> None:
        revision = (await self._store.status()).header.revision
        await self._put(
            self._control(
                revision, INVALID_WATCH_ID, created=True, canceled=True, cancel_reason=reason
            )
        )

    async def _dead_on_arrival(self, watch_id: int, revision: int, compact_revision: int) -> None:
        self._watches[watch_id] = _Entry(watch_id, None, alive=False)
        await self._put(self._control(revision, watch_id, created=True))
        await self._put(self._compacted(watch_id, compact_revision))

    async def _cancel(self, watch_id: int) -> None:
        entry = self._watches.pop(watch_id, None)
        if entry is None:
            return  # etcd answers nothing for an unknown ID
        await self._close(entry)
        await self._ended(entry)
        revision = (await self._store.status()).header.revision
        await self._put(self._control(revision, watch_id, canceled=True))

    async def _close(self, entry: _Entry) -> None:
        entry.scope.cancel()
        if entry.alive and entry.handle is not None:
            entry.alive = False
            try:
                await entry.handle.cancel()
            except Exception:  # the stream is going away; the store cleans up on its own
                log.debug("canceling store watch %d failed", entry.id, exc_info=True)

    # --- progress -------------------------------------------------------------------------

    async def _progress(self) -> None:
        live = [e for e in self._watches.values() if e.alive and e.handle is not None]
        if not live:
            revision = (await self._store.status()).header.revision
            await self._put(self._control(revision, INVALID_WATCH_ID))
            return
        if self._pending is not None:
            return  # the pending answer will cover this request too
        self._pending = {e.id for e in live}
        self._pending_rev = None
        for entry in live:
            assert entry.handle is not None
            await entry.handle.request_progress()

    async def _progressed(self, entry: _Entry, revision: int) -> None:
        pending = self._pending
        if entry.progress_notify:
            await self._put(self._control(revision, entry.id))
        if pending is not None and entry.id in pending:
            pending.discard(entry.id)
            low = self._pending_rev
            self._pending_rev = revision if low is None else min(low, revision)
            await self._answer_progress()

    async def _ended(self, entry: _Entry) -> None:
        """A watch ended (canceled, compacted, failed): it no longer holds up progress."""
        entry.alive = False
        if self._pending is not None and entry.id in self._pending:
            self._pending.discard(entry.id)
            await self._answer_progress()

    async def _answer_progress(self) -> None:
        if self._pending:
            return
        revision = self._pending_rev
        self._pending = self._pending_rev = None
        if revision is None:  # every watch ended before answering
            revision = (await self._store.status()).header.revision
        await self._put(self._control(revision, INVALID_WATCH_ID))

    # --- pumping events -------------------------------------------------------------------

    async def _pump(self, entry: _Entry) -> None:
        assert entry.handle is not None
        with entry.scope:
            try:
                async for response in entry.handle:
                    if response.canceled:
                        await self._store_canceled(entry, response)
                        return
                    if not response.events:
                        await self._progressed(entry, response.header.revision)
                        continue
                    for data in self._event_messages(entry, response):
                        await self._put(data)
            except Exception as err:  # the store's watch failed: end this watch, not the stream
                if not isinstance(err, KcoreError):
                    log.error("store watch %d failed", entry.id, exc_info=err)
                await self._ended(entry)
                await self._put(self._canceled_by_store(entry, 0, _grpc.status_of(err)[1]))
                return
            if entry.alive:  # the store ended the watch without saying why
                await self._ended(entry)
                await self._put(
                    self._canceled_by_store(entry, 0, "kcore: the store ended the watch")
                )

    async def _store_canceled(self, entry: _Entry, response: WatchResponse) -> None:
        await self._ended(entry)
        if response.compact_revision:
            await self._put(self._compacted(entry.id, response.compact_revision))
        else:
            reason = response.cancel_reason or "kcore: the store canceled the watch"
            await self._put(self._canceled_by_store(entry, response.header.revision, reason))

    def _event_messages(self, entry: _Entry, response: WatchResponse) -> list[bytes]:
        pb = convert.watch_response_to_pb(response)
        pb.watch_id = entry.id
        self._identity.fill(pb.header)
        return split_response(pb, self._fragment_bytes, fragment=entry.fragment)

    # --- messages -------------------------------------------------------------------------

    async def _put(self, data: bytes) -> None:
        await self._queue.put(data)

    def _control(self, revision: int, watch_id: int, **fields: Any) -> bytes:
        header = self._identity.header(revision)
        return rpc_pb2.WatchResponse(header=header, watch_id=watch_id, **fields).SerializeToString()

    def _compacted(self, watch_id: int, compact_revision: int) -> bytes:
        # etcd 3.4 sends this one with no header revision and no cancel reason.
        return self._control(0, watch_id, canceled=True, compact_revision=compact_revision)

    def _canceled_by_store(self, entry: _Entry, revision: int, reason: str) -> bytes:
        return self._control(revision, entry.id, canceled=True, cancel_reason=reason)
