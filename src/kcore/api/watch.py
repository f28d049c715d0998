"""Typed watches: store events become ADDED / MODIFIED / DELETED / BOOKMARK events of objects.

A watch started without a resourceVersion first lists (one ADDED per existing object) and then
follows changes from the list's revision, as kube-apiserver's does. With selectors, an object
that stops matching arrives as DELETED and one that starts matching as ADDED, so a consumer's
view stays exactly the matching set. History that was compacted raises GoneError (HTTP 410's
meaning): the consumer relists, as informers do.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

import attrs

from kcore import errors
from kcore.api._read import list_objects, matcher
from kcore.api._stored import decode
from kcore.api.keys import list_prefix
from kcore.api.types import WatchEvent, WatchEventType
from kcore.objects import KindInfo, ObjectMeta
from kcore.store import EventType, Watch, prefix_end

if TYPE_CHECKING:
    from kcore.api.client import Client

__all__ = ["Watcher"]

T = TypeVar("T")


class Watcher(Generic[T]):
    """An open watch; iterate it for :class:`WatchEvent` values, close it when done."""

    def __init__(
        self,
        client: Client,
        info: KindInfo,
        namespace: str | None,
        *,
        label_selector: Any,
        field_selector: Any,
        resource_version: str | None,
        allow_bookmarks: bool,
    ) -> None:
        self._client = client
        self._info = info
        self._namespace = namespace
        self._labels = label_selector
        self._fields = field_selector
        self._matches = matcher(info, label_selector, field_selector)
        self._resource_version = resource_version
        self._bookmarks = allow_bookmarks
        self._pending: deque[WatchEvent[T]] = deque()
        self._watch: Watch | None = None
        self._closed = False
        self.resource_version = resource_version or ""
        """The revision of the last event delivered (where a new watch would resume)."""

    async def start(self) -> Self:
        if self._watch is not None:
            return self
        await self._client._authorize("watch", self._info, self._namespace or "")
        rv = self._resource_version
        if rv in (None, "", "0"):
            listed = await list_objects(
                self._client.store,
                self._info,
                self._namespace,
                label_selector=self._labels,
                field_selector=self._fields,
                limit=0,
                continue_=None,
                resource_version=None,
            )
            self._pending.extend(WatchEvent(WatchEventType.ADDED, o) for o in listed.items)
            start = int(listed.resource_version) + 1
            self.resource_version = listed.resource_version
        else:
            try:
                start = int(str(rv)) + 1
            except ValueError:
                raise errors.InvalidArgumentError(
                    f"resourceVersion {rv!r} is not a valid revision"
                ) from None
        prefix = list_prefix(self._info, self._namespace)
        self._watch = await self._client.store.watch(
            prefix,
            prefix_end(prefix),
            start_revision=start,
            prev_kv=True,
            progress_notify=self._bookmarks,
        )
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._watch is not None:
            await self._watch.cancel()

    async def request_bookmark(self) -> None:
        """Ask for a BOOKMARK once everything written so far has been delivered."""
        if self._watch is None:
            await self.start()
        assert self._watch is not None
        await self._watch.request_progress()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent[T]:
        if self._watch is None:
            await self.start()
        assert self._watch is not None
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            try:
                response = await self._watch.__anext__()
            except StopAsyncIteration:
                self._closed = True
                raise
            if response.canceled:
                self._closed = True
                if response.compact_revision:
                    raise errors.GoneError(
                        f"too old resource version: {self.resource_version} "
                        f"({response.compact_revision}); list again and watch from there"
                    )
                raise errors.UnavailableError(
                    f"watch of {self._info.plural} ended: {response.cancel_reason or 'canceled'}"
                )
            if not response.events:
                if self._bookmarks and not response.created:
                    self.resource_version = str(response.header.revision)
                    meta = ObjectMeta(resource_version=self.resource_version)
                    marker = self._info.cls(metadata=meta)
                    self._pending.append(WatchEvent(WatchEventType.BOOKMARK, marker))
                continue
            for event in response.events:
                translated = self._translate(event)
                if translated is not None:
                    self._pending.append(translated)
            self.resource_version = str(response.header.revision)
        return self._pending.popleft()

    def _translate(self, event: Any) -> WatchEvent[T] | None:
        info, matches, kv = self._info, self._matches, event.kv
        if event.type == EventType.DELETE:
            if event.prev_kv is None:
                return None
            # The deleted object's last state, versioned at the deletion (as kube-apiserver).
            obj = decode(info, attrs.evolve(event.prev_kv, mod_revision=kv.mod_revision))
            if matches is None or matches(obj):
                return WatchEvent(WatchEventType.DELETED, obj)
            return None
        obj = decode(info, kv)
        created = kv.create_revision == kv.mod_revision
        if matches is None:
            kind = WatchEventType.ADDED if created else WatchEventType.MODIFIED
            return WatchEvent(kind, obj)
        now = matches(obj)
        previous = None
        if not created and event.prev_kv is not None:
            # The last state it had, versioned at this change (as kube-apiserver sends it).
            previous = decode(info, attrs.evolve(event.prev_kv, mod_revision=kv.mod_revision))
        before = previous is not None and matches(previous)
        if now and before:
            return WatchEvent(WatchEventType.MODIFIED, obj)
        if now:
            return WatchEvent(WatchEventType.ADDED, obj)
        if before and previous is not None:
            return WatchEvent(WatchEventType.DELETED, previous)
        return None
