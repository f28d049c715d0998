"""Big watch responses as several wire messages: etcd's fragments, or whole revisions.

A store watch may hand over a batch of up to ~1000 events at once (catching up from
history), which can be many megabytes. With ``fragment`` set on the watch, such a response
is cut the way etcd cuts it: parts filled until the next event would reach the limit, all
with the same header, every part but the last marked ``fragment`` (the client joins them).

Without ``fragment`` etcd sends the whole response as one message, however big; many gRPC
clients refuse messages over 4 MiB by default. kcore instead sends it as several ordinary
responses, each holding whole revisions (a revision's events are never split, so the watch
stays atomic) and each under the limit where a revision allows; a part's header revision
is its last event's revision, the final part keeps the batch's. A single revision bigger
than the limit still goes as one message, as in etcd.
"""

from __future__ import annotations

from kcore.store._etcdpb import rpc_pb2

__all__ = ["fragments", "split_response", "whole_revisions"]


def split_response(pb: rpc_pb2.WatchResponse, limit: int, *, fragment: bool) -> list[bytes]:
    """``pb`` serialized as one message, or cut as described above when it reaches ``limit``."""
    data = pb.SerializeToString()
    if len(data) < limit or len(pb.events) < 2:
        return [data]
    return fragments(pb, limit) if fragment else whole_revisions(pb, limit)


def _event_bytes(size: int) -> int:
    """Bytes an event of ``size`` bytes takes in a WatchResponse: tag, length, body."""
    body, varint = size, 1
    while size >= 0x80:
        size >>= 7
        varint += 1
    return 1 + varint + body


def _shell(pb: rpc_pb2.WatchResponse) -> rpc_pb2.WatchResponse:
    shell = rpc_pb2.WatchResponse()
    shell.CopyFrom(pb)
    shell.ClearField("events")
    return shell


def fragments(pb: rpc_pb2.WatchResponse, limit: int) -> list[bytes]:
    """etcd's fragments: fill each part until the next event would reach ``limit``."""
    events = list(pb.events)
    sizes = [_event_bytes(e.ByteSize()) for e in events]
    shell = _shell(pb)
    shell.fragment = True
    base = shell.ByteSize()
    bounds: list[tuple[int, int]] = []
    start, size = 0, base
    for i, n in enumerate(sizes):
        if i > start and size + n >= limit:
            bounds.append((start, i))
            start, size = i, base
        size += n
    bounds.append((start, len(events)))
    out = []
    for number, (a, b) in enumerate(bounds):
        part = rpc_pb2.WatchResponse()
        part.CopyFrom(shell)
        part.events.extend(events[a:b])
        part.fragment = number < len(bounds) - 1
        out.append(part.SerializeToString())
    return out


def whole_revisions(pb: rpc_pb2.WatchResponse, limit: int) -> list[bytes]:
    """Ordinary responses of whole revisions, each kept under ``limit`` where possible."""
    events = list(pb.events)
    sizes = [_event_bytes(e.ByteSize()) for e in events]
    shell = _shell(pb)
    base = shell.ByteSize() + 8  # room for a header revision that takes more bytes
    bounds: list[tuple[int, int]] = []
    start, size, i = 0, base, 0
    while i < len(events):
        revision, j, group = events[i].kv.mod_revision, i, 0
        while j < len(events) and events[j].kv.mod_revision == revision:
            group += sizes[j]
            j += 1
        if i > start and size + group >= limit:
            bounds.append((start, i))
            start, size = i, base
        size += group
        i = j
    bounds.append((start, len(events)))
    out = []
    for number, (a, b) in enumerate(bounds):
        part = rpc_pb2.WatchResponse()
        part.CopyFrom(shell)
        part.events.extend(events[a:b])
        if number < len(bounds) - 1:
            part.header.revision = events[b - 1].kv.mod_revision
        out.append(part.SerializeToString())
    return out
