"""The informer's local store: objects by "namespace/name" key, with secondary indexes.

A ``Cache`` holds the latest known version of every object an informer watches and answers
controllers' reads without a round trip to the API. It hands out the stored objects themselves,
never copies: kcore objects are immutable (see ``kcore.objects.struct``), so sharing one object
between every controller is safe and a read costs a dict lookup.

Indexes work as client-go's: an *index function* maps an object to zero or more string values,
and the index maps each value to the keys of the objects that produced it. Indexes are kept up
to date incrementally on every add, update and delete; the old object's values are recomputed
from the old object (it is immutable, so they are the same as when it was indexed) instead of
being remembered per key, which keeps the cache's per-object overhead to a few dict entries.
A namespace index is always kept, because ``list(namespace=...)`` is the commonest read.

The cache is not safe for use from several threads; everything in kcore runs on one event loop
and only the informer that owns a cache writes to it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from kcore import errors
from kcore.objects.label_parser import parse_label_selector
from kcore.objects.labels import Selector, selector_from_set

__all__ = [
    "NAMESPACE_INDEX",
    "Cache",
    "IndexFunc",
    "by_field",
    "by_label",
    "by_namespace",
    "by_owner_uid",
    "key_of",
    "split_key",
]

T = TypeVar("T")

IndexFunc = Callable[[Any], Iterable[str]]
"""Maps an object to the index values it is found under (an empty iterable: not indexed)."""

NAMESPACE_INDEX = "namespace"
"""The name under which every cache indexes objects by namespace (``by_namespace``)."""


# --- keys ------------------------------------------------------------------------------------


def key_of(obj: Any) -> str:
    """The cache key of ``obj``: "namespace/name", or "name" when it has no namespace."""
    meta = obj.metadata
    key: str = f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name
    return key


def split_key(key: str) -> tuple[str, str]:
    """("namespace", "name") of a cache key; the namespace is "" for cluster-scoped keys."""
    namespace, slash, name = key.partition("/")
    if not slash:
        return "", key
    if not name or "/" in name:
        raise errors.InvalidArgumentError(
            f'cache key {key!r} is not "namespace/name" or "name"; build keys with key_of(obj)'
        )
    return namespace, name


# --- built-in index functions ----------------------------------------------------------------


def by_namespace(obj: Any) -> list[str]:
    """Index by ``metadata.namespace`` (cluster-scoped objects are not indexed)."""
    namespace: str = obj.metadata.namespace
    return [namespace] if namespace else []


def by_label(key: str) -> IndexFunc:
    """An index function by the value of label ``key`` (objects without it are not indexed)."""

    def index(obj: Any) -> list[str]:
        value = obj.metadata.labels.get(key)
        return [] if value is None else [value]

    index.__name__ = f"by_label({key!r})"
    return index


def by_owner_uid(obj: Any) -> list[str]:
    """Index by the uid of every owner reference (find the Pods a ReplicaSet owns)."""
    return [ref.uid for ref in obj.metadata.owner_references if ref.uid]


def by_field(getter: Callable[[Any], Any]) -> IndexFunc:
    """An index function from ``getter(obj)``: a string, None/"" (not indexed) or strings.

    ``by_field(lambda pod: pod.spec.node_name)`` indexes Pods by node.
    """

    def index(obj: Any) -> list[str]:
        value = getter(obj)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, Iterable):
            return [str(v) for v in value if v is not None and v != ""]
        return [str(value)]

    index.__name__ = f"by_field({getattr(getter, '__name__', 'getter')})"
    return index


def _selector(value: Selector | str | Mapping[str, str] | None) -> Selector | None:
    if value is None or value == "":
        return None
    if isinstance(value, Selector):
        return None if value.is_empty() else value
    if isinstance(value, str):
        return parse_label_selector(value)
    if isinstance(value, Mapping):
        return selector_from_set(value)
    raise errors.InvalidTypeError(
        f"label_selector must be a string, a Selector or a mapping, not {type(value).__name__}"
    )


_IndexChange = tuple[dict[str, dict[str, None]], tuple[str, ...], tuple[str, ...]]


# --- the cache -------------------------------------------------------------------------------


class Cache(Generic[T]):
    """Objects by key, plus named indexes (``add_indexers``); reads return the stored objects.

    Writes (``upsert``, ``remove``) are for the informer that owns the cache; controllers read.
    Results of ``list``, ``by_index`` and ``keys`` are fresh lists in insertion order, so a
    caller may keep them while the cache changes.
    """

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, T] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: by_namespace}
        # index name -> index value -> keys (a dict used as an insertion-ordered set, so
        # results come out in a deterministic order, which simulations rely on)
        self._indices: dict[str, dict[str, dict[str, None]]] = {NAMESPACE_INDEX: {}}
        if indexers:
            self.add_indexers(indexers)

    # --- reads -------------------------------------------------------------------------------

    def get(self, name: str, namespace: str | None = None) -> T | None:
        """The object ``name`` (in ``namespace``; None or "" for cluster-scoped), or None."""
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> T | None:
        """The object with cache key ``key`` ("namespace/name" or "name"), or None."""
        return self._items.get(key)

    def list(
        self,
        namespace: str | None = None,
        label_selector: Selector | str | Mapping[str, str] | None = None,
    ) -> builtins.list[T]:
        """Objects in ``namespace`` (every namespace when None) matching ``label_selector``."""
        selector = _selector(label_selector)
        if namespace:
            keys = self._indices[NAMESPACE_INDEX].get(namespace, {})
            candidates: Iterable[T] = [self._items[key] for key in keys]
        else:
            candidates = self._items.values()
        if selector is None:
            return list(candidates)
        return [obj for obj in candidates if selector.matches(obj.metadata.labels)]  # type: ignore[attr-defined]

    def keys(self) -> builtins.list[str]:
        """Every key in the cache."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # --- indexes -----------------------------------------------------------------------------

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add named index functions; objects already cached are indexed at once.

        A name already in use raises InvalidArgumentError and adds none of ``indexers``.
        """
        taken = sorted(set(indexers) & set(self._indexers))
        if taken:
            raise errors.InvalidArgumentError(
                f"cache index {', '.join(repr(n) for n in taken)} already exists; pick another "
                f"name (existing: {', '.join(sorted(self._indexers))})"
            )
        built: dict[str, dict[str, dict[str, None]]] = {}
        for name, func in indexers.items():
            if not callable(func):
                raise errors.InvalidTypeError(
                    f"cache index {name!r}: the index function must be callable, not "
                    f"{type(func).__name__}"
                )
            index: dict[str, dict[str, None]] = {}
            for key, obj in self._items.items():
                for value in _values(name, func, key, obj):
                    index.setdefault(value, {})[key] = None
            built[name] = index
        self._indexers.update(indexers)
        self._indices.update(built)

    def indexers(self) -> dict[str, IndexFunc]:
        """The index functions by name (a copy)."""
        return dict(self._indexers)

    def index_keys(self, index_name: str, value: str) -> builtins.list[str]:
        """Keys of the objects that index function ``index_name`` maps to ``value``."""
        return list(self._index(index_name).get(value, ()))

    def by_index(self, index_name: str, value: str) -> builtins.list[T]:
        """The objects that index function ``index_name`` maps to ``value``."""
        items = self._items
        return [items[key] for key in self._index(index_name).get(value, ())]

    def index_values(self, index_name: str) -> builtins.list[str]:
        """Every value index ``index_name`` currently holds objects under."""
        return list(self._index(index_name))

    def _index(self, index_name: str) -> dict[str, dict[str, None]]:
        index = self._indices.get(index_name)
        if index is None:
            raise errors.NotFoundError(
                f"cache index {index_name!r} does not exist; add it with add_indexers() "
                f"(existing: {', '.join(sorted(self._indices))})"
            )
        return index

    # --- writes (the owning informer's) ------------------------------------------------------

    def upsert(self, obj: T) -> T | None:
        """Store ``obj`` under its key; returns the object it replaced, or None.

        Index values are computed before anything changes, so an index function that raises
        leaves the cache as it was.
        """
        key = key_of(obj)
        old = self._items.get(key)
        changes: builtins.list[_IndexChange] = []
        for name, func in self._indexers.items():
            now = _values(name, func, key, obj)
            before = () if old is None else _values(name, func, key, old)
            if now != before:
                changes.append((self._indices[name], before, now))
        self._items[key] = obj
        for index, removed, added in changes:
            _unindex(index, key, removed)
            for value in added:
                index.setdefault(value, {})[key] = None
        return old

    def remove(self, key: str) -> T | None:
        """Drop the object under ``key``; returns it, or None if there was none."""
        old = self._items.get(key)
        if old is None:
            return None
        changes = [
            (self._indices[name], _values(name, func, key, old))
            for name, func in self._indexers.items()
        ]
        del self._items[key]
        for index, values in changes:
            _unindex(index, key, values)
        return old

    def clear(self) -> None:
        """Drop every object (the indexes stay defined, empty)."""
        self._items.clear()
        for index in self._indices.values():
            index.clear()


def _values(name: str, func: IndexFunc, key: str, obj: Any) -> tuple[str, ...]:
    try:
        produced = func(obj)
        values = tuple(dict.fromkeys(produced))  # one entry per value, order kept
    except Exception as exc:
        raise errors.InvalidArgumentError(
            f"cache index {name!r} failed on {key!r}: {type(exc).__name__}: {exc}; fix the "
            "index function (it must return a list of strings for any object of the kind)"
        ) from exc
    for value in values:
        if not isinstance(value, str):
            raise errors.InvalidTypeError(
                f"cache index {name!r} returned {value!r} ({type(value).__name__}) for {key!r}; "
                "index functions return strings"
            )
    return values


def _unindex(index: dict[str, dict[str, None]], key: str, values: Sequence[str]) -> None:
    for value in values:
        keys = index.get(value)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del index[value]  # no empty buckets left behind by churn
