"""Immutable containers for object fields: FrozenDict, and deep-freezing of free-form JSON.

kcore objects are immutable (see ``kcore.objects.struct``), so maps inside them must be too.
``FrozenDict`` subclasses ``dict`` rather than wrapping one: reads stay at C speed, ``json``
encodes it directly, and building one from a decoded dict is a single C-level copy. Every
mutating method raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenDict(dict[K, V]):
    """A dict that cannot change after construction; hashable by content."""

    __slots__ = ("_hash",)

    def _immutable(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(
            "kcore objects are immutable; build a changed copy with kcore.objects.evolve()"
        )

    __setitem__ = _immutable
    __delitem__ = _immutable
    __ior__ = _immutable
    clear = _immutable
    pop = _immutable
    popitem = _immutable
    setdefault = _immutable
    update = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash: int = hash(frozenset(self.items()))
            return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def __copy__(self) -> FrozenDict[K, V]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict[K, V]:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


EMPTY: FrozenDict[Any, Any] = FrozenDict()


def freeze_map(value: Mapping[K, V] | Iterable[tuple[K, V]]) -> FrozenDict[K, V]:
    """Converter for map fields: any mapping becomes a FrozenDict (shared when already one)."""
    if isinstance(value, FrozenDict):  # shared subclasses too: never copy a frozen map
        return value
    return FrozenDict(value)


def freeze_seq(value: Iterable[V]) -> tuple[V, ...]:
    """Converter for list fields: any iterable becomes a tuple (a str is refused)."""
    if type(value) is tuple:
        return value
    if isinstance(value, str | bytes):
        raise TypeError(f"expected a list, got a string {value!r}")
    return tuple(value)


def freeze_json(value: Any) -> Any:
    """Deep-freeze free-form JSON: dicts become FrozenDicts, lists tuples."""
    if isinstance(value, dict):
        if isinstance(value, FrozenDict) and all(
            not isinstance(v, dict | list) for v in value.values()
        ):
            return value
        return FrozenDict({k: freeze_json(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze_json(v) for v in value)
    return value


def thaw_json(value: Any) -> Any:
    """The plain-JSON form of a frozen value (dicts and lists), for encoders."""
    if isinstance(value, dict):
        return {k: thaw_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw_json(v) for v in value]
    return value
