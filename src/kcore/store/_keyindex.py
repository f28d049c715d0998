"""Per-key history for the memory store: every retained version of every key, in key order.

Like etcd's ``keyIndex``, it answers "what was key K at revision R" and "which keys lie in
[a, b)". Most keys have one retained version, so a key maps straight to its ``KeyValue`` and
only keys with history pay for a list: at a million keys that is the difference between
~60 and ~150 bytes of index per key. A deletion is a tombstone (``version == 0``) kept until
compaction passes it, so reads at older revisions still see the key.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from operator import attrgetter

from sortedcontainers import SortedList

from kcore.store.types import KeyValue

__all__ = ["KeyIndex"]

_mod_revision = attrgetter("mod_revision")

History = KeyValue | list[KeyValue]


class KeyIndex:
    """Keys in sorted order, each with its retained versions (oldest first)."""

    __slots__ = ("_history", "_keys")

    def __init__(self) -> None:
        self._history: dict[bytes, History] = {}
        self._keys = SortedList()

    def __len__(self) -> int:
        """Keys with any retained version (live or tombstoned)."""
        return len(self._history)

    def latest(self, key: bytes) -> KeyValue | None:
        """The key's newest version if it is live, else None."""
        entry = self._history.get(key)
        if entry is None:
            return None
        kv = entry if isinstance(entry, KeyValue) else entry[-1]
        return kv if kv.version else None

    def at(self, key: bytes, revision: int) -> KeyValue | None:
        """The key's version live at ``revision``, else None (absent, deleted, or too new)."""
        entry = self._history.get(key)
        if entry is None:
            return None
        if isinstance(entry, KeyValue):
            kv = entry
            if kv.mod_revision > revision:
                return None
        else:
            hist = entry
            if hist[-1].mod_revision <= revision:
                kv = hist[-1]
            else:
                i = bisect_right(hist, revision, key=_mod_revision)
                if i == 0:
                    return None
                kv = hist[i - 1]
        return kv if kv.version else None

    def before(self, kv: KeyValue) -> KeyValue | None:
        """The live version that ``kv`` replaced, if still retained (for an event's prev_kv)."""
        entry = self._history.get(kv.key)
        if entry is None or isinstance(entry, KeyValue):
            return None
        hist = entry
        i = bisect_right(hist, kv.mod_revision, key=_mod_revision) - 1
        while i >= 0 and hist[i] is not kv:
            i -= 1
        if i <= 0:
            return None
        prev = hist[i - 1]
        return prev if prev.version else None

    def record(self, kv: KeyValue) -> None:
        """Append a new version (or tombstone) of ``kv.key``, newer than any before."""
        key = kv.key
        entry = self._history.get(key)
        if entry is None:
            self._history[key] = kv
            self._keys.add(key)
        elif isinstance(entry, KeyValue):
            self._history[key] = [entry, kv]
        else:
            entry.append(kv)

    def keys_in(self, start: bytes, end: bytes | None) -> Iterator[bytes]:
        """Keys with retained history in ``[start, end)``; ``end=None`` means no upper bound."""
        if end is None:
            return self._keys.irange(start, None, (True, False))  # type: ignore[no-any-return]
        if end <= start:
            return iter(())
        return self._keys.irange(start, end, (True, False))  # type: ignore[no-any-return]

    def compact(self, key: bytes, revision: int) -> tuple[int, int]:
        """Drop the key's versions superseded at ``revision``; return (bytes, versions) freed.

        Keeps the newest version at or below ``revision`` (reads at ``revision`` need it)
        unless it is a tombstone, and everything newer. A key left with nothing is removed.
        """
        entry = self._history.get(key)
        if entry is None:
            return 0, 0
        hist = [entry] if isinstance(entry, KeyValue) else entry
        cut = bisect_right(hist, revision, key=_mod_revision) - 1
        if cut >= 0 and hist[cut].version == 0:
            cut += 1  # a tombstone at or below the compaction point is no longer needed
        if cut <= 0:
            return 0, 0
        freed = sum(len(kv.key) + len(kv.value) for kv in hist[:cut])
        kept = hist[cut:]
        if not kept:
            del self._history[key]
            self._keys.remove(key)
        elif len(kept) == 1:
            self._history[key] = kept[0]
        else:
            self._history[key] = kept
        return freed, cut
