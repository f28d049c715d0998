"""EtcdWatch: one watch on a real etcd, resumed across broken streams without gap or duplicate.

Each watch has its own gRPC stream (streams are cheap on a shared HTTP/2 connection, and it
keeps a stream's failure to that watch) and its own reader task, which turns etcd's messages
into ``WatchResponse`` values in a bounded buffer; the buffer filling up stops the reads, so a
slow consumer is paced by gRPC flow control and etcd's own slow-watcher handling.

What the reader does on top of etcd:

* etcd's ``created`` message is not delivered; fragments (``fragment=True``) are joined, so a
  response always holds whole revisions.
* When the stream breaks (member killed, connection reset, "no leader" — watches ask etcd to
  require a leader, so a member cut off from the cluster ends them), the watch is created
  again on the next endpoint from the revision after the last one delivered, with the same
  options. Events below that revision are dropped should a server send them again, so the
  consumer sees each event once. If that history was compacted meanwhile, the consumer gets
  the canceled response with ``compact_revision`` (as from MemoryStore) and iteration ends.
* ``request_progress()`` does not forward etcd's progress request: before etcd 3.4.25 (#15697)
  the answer can overtake events still queued for the watch (on 3.4.23 a watch replaying
  history gets it before the replay every time), so the notice would claim events were
  delivered that were not. Instead it reads the current revision T (linearizable), replays
  the revisions between what this watch has delivered and T on a short-lived probe watch over
  the whole key space (the last revision T always holds a change, which tells the probe when
  it is done), and finds the last revision L <= T holding an event this watch wants. The
  notice is queued behind the event at L, so it is true: everything up to T was delivered. The
  cost is one read plus a replay of everything that changed since this watch's last delivery
  or notice (about 100 ms of etcd's catch-up interval when there is anything to replay).
* Periodic notices (``progress_notify``) come in order through etcd's own queue and are
  delivered as they are.

asyncio only (grpc.aio); the reader is an asyncio task owned by the watch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Protocol, Self

import anyio
import attrs

from kcore import errors as e
from kcore.store._convert import header_from_pb, watch_response_from_pb
from kcore.store._etcd_rpc import BidiStream, Endpoint, Endpoints, RpcFailure, error_from_failure
from kcore.store._etcdpb import kv_pb2, rpc_pb2
from kcore.store.types import ResponseHeader, WatchResponse

__all__ = ["EtcdWatch", "WatchSpec"]

WATCH = "/etcdserverpb.Watch/Watch"
_REQUIRE_LEADER = (("hasleader", "true"),)  # etcd ends the stream if its member loses the leader
_BATCH_REVISIONS = 1000  # etcd cuts a catch-up response after this many revisions
_COMPACTED_REASON = e.CompactedError.ETCD_TEXT


@attrs.frozen
class WatchSpec:
    """What is watched and how; the same on every (re)created stream."""

    key: bytes
    range_end: bytes = b""
    no_put: bool = False
    no_delete: bool = False
    prev_kv: bool = False
    progress_notify: bool = False
    fragment: bool = False

    def create(self, start_revision: int) -> rpc_pb2.WatchRequest:
        filters = []
        if self.no_put:
            filters.append(rpc_pb2.WatchCreateRequest.NOPUT)
        if self.no_delete:
            filters.append(rpc_pb2.WatchCreateRequest.NODELETE)
        return rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(
                key=self.key,
                range_end=self.range_end,
                start_revision=start_revision,
                progress_notify=self.progress_notify,
                filters=filters,
                prev_kv=self.prev_kv,
                fragment=self.fragment,
            )
        )

    def wants(self, event: kv_pb2.Event) -> bool:
        key = event.kv.key
        if not self.range_end:
            inside = key == self.key
        elif self.range_end == b"\0":
            inside = key >= self.key
        else:
            inside = self.key <= key < self.range_end
        if not inside:
            return False
        return not (self.no_delete if event.type == kv_pb2.Event.DELETE else self.no_put)


_EVERYTHING = WatchSpec(b"\0", b"\0", fragment=True)


class WatchHost(Protocol):
    """What a watch needs from its store."""

    endpoints: Endpoints
    reconnect_timeout: float

    async def current_header(self) -> ResponseHeader: ...

    def forget_watch(self, watch: EtcdWatch) -> None: ...


async def open_watch(
    host: WatchHost, spec: WatchSpec, start_revision: int, *, deadline: float
) -> tuple[BidiStream[rpc_pb2.WatchResponse], rpc_pb2.WatchResponse]:
    """Create the watch on the first endpoint that accepts it: (stream, etcd's created message).

    Endpoints are tried round robin, so a reconnect lands on another member than the one that
    failed; gives up with UnavailableError at ``deadline`` (time.monotonic()).
    """
    endpoints = host.endpoints
    failures: list[str] = []
    attempt = 0
    while True:
        endpoint = endpoints.next_for_stream()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            tried = "; ".join(dict.fromkeys(failures)) or "no time left"
            raise e.UnavailableError(
                f"no etcd endpoint accepted the watch on {spec.key!r} from revision "
                f"{start_revision} ({tried}); create it again from that revision when the "
                "cluster is back"
            )
        if await endpoint.wait_ready(min(remaining, endpoints.connect_timeout)):
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0.001)):
                    return await _create_on(endpoint, spec, start_revision)
            except RpcFailure as failure:
                if failure.definite:
                    raise error_from_failure(failure) from None
                failures.append(str(failure))
            except TimeoutError:
                failures.append(f"{endpoint.target}: no answer to the watch request")
        else:
            failures.append(f"{endpoint.target}: could not connect")
        attempt += 1
        if attempt % len(endpoints.all) == 0:  # a whole round failed: back off before the next
            await anyio.sleep(min(0.05 * 2 ** (attempt // len(endpoints.all)), 1.0))


async def _create_on(
    endpoint: Endpoint, spec: WatchSpec, start_revision: int
) -> tuple[BidiStream[rpc_pb2.WatchResponse], rpc_pb2.WatchResponse]:
    stream = endpoint.stream(WATCH, rpc_pb2.WatchResponse, _REQUIRE_LEADER)
    try:
        await stream.write(spec.create(start_revision))
        created = await stream.read()
        if created is None:
            raise RpcFailure(endpoint.target, "UNAVAILABLE", "the watch stream ended at once")
        if not created.created:
            raise RpcFailure(endpoint.target, "UNKNOWN", "etcd did not confirm the watch")
        if created.canceled:  # refused (permission, a bad range): etcd's reason is final
            raise RpcFailure(endpoint.target, "INVALID_ARGUMENT", created.cancel_reason)
    except BaseException:
        stream.cancel()
        raise
    return stream, created


class EtcdWatch:
    """A watch on etcd (the ``kcore.store.Watch`` protocol). Made by ``EtcdStore.watch``."""

    def __init__(self, host: WatchHost, spec: WatchSpec, watch_id: int, buffer: int) -> None:
        self._host = host
        self._spec = spec
        self._id = watch_id
        self._next_rev = 0  # the first revision not yet delivered: where a resume starts
        self._last_rev = 0  # the highest revision delivered (event or progress notice)
        self._wire_id = 0  # etcd's id for this watch on the current stream
        self._endpoint = ""
        self._send, self._receive = anyio.create_memory_object_stream[
            WatchResponse | BaseException
        ](buffer)
        self._lock = anyio.Lock()  # queue order: responses and progress notices
        self._progress: list[tuple[int, int, ResponseHeader]] = []  # (T, L, header) waiting
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def watch_id(self) -> int:
        return self._id

    @property
    def endpoint(self) -> str:
        """The endpoint whose stream serves the watch now ("" before it started)."""
        return self._endpoint

    async def start(self, start_revision: int) -> None:
        """Register the watch on etcd; its start revision is fixed when this returns."""
        deadline = time.monotonic() + self._host.endpoints.timeout
        stream, created = await open_watch(
            self._host, self._spec, start_revision, deadline=deadline
        )
        self._wire_id = created.watch_id
        self._endpoint = stream.endpoint
        # start_revision 0 means "after the current revision", which etcd's created names.
        self._next_rev = start_revision if start_revision > 0 else created.header.revision + 1
        self._task = asyncio.get_running_loop().create_task(self._run(stream))

    # --- the reader task ------------------------------------------------------------------

    async def _run(self, stream: BidiStream[rpc_pb2.WatchResponse]) -> None:
        idle_breaks = 0  # streams in a row that broke before delivering anything
        try:
            while True:
                delivered = self._next_rev
                if await self._pump(stream):
                    return
                stream.cancel()
                idle_breaks = idle_breaks + 1 if self._next_rev == delivered else 0
                if idle_breaks > 1:  # a server that keeps dropping it at once: slow down
                    await anyio.sleep(min(0.05 * 2 ** (idle_breaks - 2), 1.0))
                deadline = time.monotonic() + self._host.reconnect_timeout
                stream, created = await open_watch(
                    self._host, self._spec, self._next_rev, deadline=deadline
                )
                self._wire_id = created.watch_id
                self._endpoint = stream.endpoint
        except Exception as exc:  # the consumer gets it from __anext__
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._send.send(exc)
        finally:
            stream.cancel()
            self._send.close()
            self._host.forget_watch(self)

    async def _pump(self, stream: BidiStream[rpc_pb2.WatchResponse]) -> bool:
        """Deliver from one stream; True when the watch ended, False when the stream broke."""
        fragments: list[rpc_pb2.WatchResponse] = []
        while True:
            try:
                pb = await stream.read()
            except RpcFailure as failure:
                if failure.definite:
                    raise error_from_failure(failure) from None
                return False
            if pb is None:
                return False
            if pb.created:
                continue
            if pb.canceled:
                if pb.compact_revision:
                    await self._deliver(
                        WatchResponse(
                            header_from_pb(pb.header),  # (etcd 3.4 leaves its revision 0)
                            self._id,
                            canceled=True,
                            compact_revision=pb.compact_revision,
                            cancel_reason=pb.cancel_reason or _COMPACTED_REASON,
                        )
                    )
                    return True
                return False  # canceled by the server for another reason: create it again
            if pb.fragment:
                fragments.append(pb)
                continue
            if fragments:
                whole = rpc_pb2.WatchResponse()
                whole.CopyFrom(pb)
                del whole.events[:]
                for part in [*fragments, pb]:
                    whole.events.extend(part.events)
                fragments.clear()
                pb = whole
            await self._receive_pb(pb)

    async def _receive_pb(self, pb: rpc_pb2.WatchResponse) -> None:
        resp = watch_response_from_pb(pb)
        if resp.events:
            events = resp.events
            if events[0].kv.mod_revision < self._next_rev:  # delivered before a reconnect
                events = tuple(ev for ev in events if ev.kv.mod_revision >= self._next_rev)
                if not events:
                    return
            last = events[-1].kv.mod_revision
            revision = max(resp.header.revision, last)
            if len({ev.kv.mod_revision for ev in events}) >= _BATCH_REVISIONS:
                revision = last  # a cut catch-up batch: etcd's header runs ahead of it
            header = attrs.evolve(resp.header, revision=revision)
            await self._deliver(WatchResponse(header, self._id, events=events), through=last)
        elif pb.watch_id == self._wire_id and resp.header.revision >= self._last_rev:
            # A periodic notice: etcd queues it behind this watch's events, so it is true.
            rev = resp.header.revision
            await self._deliver(WatchResponse(resp.header, self._id), through=rev)
        # else: an answer to a progress request on the stream; this client sends none

    async def _deliver(self, resp: WatchResponse, through: int = 0) -> None:
        async with self._lock:
            await self._send.send(resp)
            if through:
                self._next_rev = max(self._next_rev, through + 1)
                self._last_rev = max(self._last_rev, resp.header.revision)
            await self._flush_progress()

    async def _flush_progress(self) -> None:
        """Queue the progress notices whose last wanted event is now delivered (lock held)."""
        while self._progress and self._progress[0][1] < self._next_rev:
            target, _, header = self._progress.pop(0)
            revision = max(target, self._last_rev)
            await self._send.send(WatchResponse(attrs.evolve(header, revision=revision), self._id))
            self._last_rev = revision
            self._next_rev = max(self._next_rev, revision + 1)  # nothing wanted up to it is left

    # --- progress -------------------------------------------------------------------------

    async def request_progress(self) -> None:
        """Queue a progress notice; it comes once everything up to now was delivered."""
        if self._closed or self._task is None or self._task.done():
            return
        header = await self._host.current_header()
        target = header.revision
        delivered_through = self._next_rev - 1
        last_wanted = 0
        if delivered_through < target and target > 1:
            last_wanted = await self._last_wanted(delivered_through + 1, target)
        async with self._lock:
            self._progress.append((target, last_wanted, header))
            self._progress.sort(key=lambda p: p[1])
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._flush_progress()  # (closed: the watch ended meanwhile)

    async def _last_wanted(self, start: int, target: int) -> int:
        """The last revision in [start, target] with an event this watch wants (0: none)."""
        deadline = time.monotonic() + self._host.endpoints.timeout
        for _ in range(3):  # a compaction during the probe moves its start; bounded
            stream, _ = await open_watch(self._host, _EVERYTHING, start, deadline=deadline)
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0.001)):
                    found = await self._scan(stream, target)
            except TimeoutError:
                raise e.TimeoutError(
                    f"progress request on watch {self._id}: etcd did not replay revisions "
                    f"{start}..{target} in time; try again"
                ) from None
            finally:
                stream.cancel()
            if isinstance(found, int):
                return found
            # History before found.compact_revision is gone: what this watch wanted there
            # it has either been delivered or will end the watch with a compaction notice.
            start = found.compact_revision
        raise e.UnavailableError(f"progress request on watch {self._id}: history kept moving")

    async def _scan(
        self, stream: BidiStream[rpc_pb2.WatchResponse], target: int
    ) -> int | rpc_pb2.WatchResponse:
        last = 0
        revisions: set[int] = set()  # of the response being read (it may come in fragments)
        while True:
            try:
                pb = await stream.read()
            except RpcFailure as failure:
                raise error_from_failure(failure) from None
            if pb is None:
                raise e.UnavailableError("the progress probe's stream ended early; try again")
            if pb.canceled and pb.compact_revision:
                return pb
            for event in pb.events:
                rev = event.kv.mod_revision
                revisions.add(rev)
                if rev <= target and self._spec.wants(event):
                    last = max(last, rev)
            if pb.fragment:
                continue  # the rest of this response (of these revisions) is still coming
            if revisions and max(revisions) >= target:
                return last  # whole revisions up to the target (which always holds a change)
            if revisions and len(revisions) < _BATCH_REVISIONS and pb.header.revision >= target:
                return last  # a catch-up batch, not cut short, that covered the target
            revisions = set()

    # --- the consumer side --------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchResponse:
        if self._closed:
            raise StopAsyncIteration
        try:
            item = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None
        if isinstance(item, BaseException):
            self._closed = True
            raise item
        return item

    async def cancel(self) -> None:
        """Stop the watch; iteration ends (what was queued and not read is dropped)."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        self._send.close()
        self._receive.close()
        self._host.forget_watch(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.cancel()
