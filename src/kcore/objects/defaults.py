"""Defaults as kube-apiserver applies them, returning a new object (objects are immutable).

Each kind registers a defaulter with ``@defaulter(Kind)``: a function from the object to the
defaulted object, which returns its input unchanged (the same instance) when nothing was missing,
so defaulting an already-defaulted object allocates nothing. ``apply_defaults(obj)`` runs them.
Nested defaulters (a Pod spec inside a Deployment's template) are plain functions the kinds
share, as Kubernetes' SetDefaults_PodSpec is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

__all__ = ["apply_defaults", "changed", "defaulter", "map_items"]

T = TypeVar("T")
_defaulters: dict[type[Any], list[Callable[[Any], Any]]] = {}


def defaulter(cls: type[T]) -> Callable[[Callable[[T], T]], Callable[[T], T]]:
    """Register ``fn(obj) -> obj`` as a defaulter of ``cls``."""

    def register(fn: Callable[[T], T]) -> Callable[[T], T]:
        _defaulters.setdefault(cls, []).append(fn)
        return fn

    return register


def apply_defaults(obj: T) -> T:
    """``obj`` with every registered default applied (the same object if none was missing)."""
    for fn in _defaulters.get(type(obj), ()):
        obj = fn(obj)
    return obj


def changed(obj: T, **values: Any) -> T:
    """``obj`` with those ``values`` that are currently None/empty filled in; ``obj`` itself
    when nothing needed filling. The building block of every defaulter."""
    missing = {
        name: value for name, value in values.items() if getattr(obj, name) in (None, "", (), {})
    }
    if not missing:
        return obj
    return attrs.evolve(obj, **missing)  # type: ignore[misc]


def map_items(items: Sequence[T], fn: Callable[[T], T]) -> tuple[T, ...] | None:
    """``fn`` applied to each item, or None when no item changed (so callers can skip evolve)."""
    out = tuple(fn(item) for item in items)
    if all(a is b for a, b in zip(out, items, strict=True)):
        return None
    return out
