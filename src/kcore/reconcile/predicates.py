"""Predicates: which changes are worth a reconcile (controller-runtime's event filters).

A predicate answers for a create, an update (old, new) and a delete; a change reaches the
work queue only if every predicate of the controller lets it through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = [
    "Predicate",
    "annotations_changed",
    "generation_changed",
    "labels_changed",
    "predicate",
    "resource_version_changed",
]


@attrs.frozen
class Predicate:
    create: Callable[[Any], bool] = lambda obj: True
    update: Callable[[Any, Any], bool] = lambda old, new: True
    delete: Callable[[Any], bool] = lambda obj: True


def predicate(fn: Callable[[Any], bool]) -> Predicate:
    """A predicate from a test on the object (the new one for updates)."""
    return Predicate(create=fn, update=lambda old, new: fn(new), delete=fn)


# Updates whose spec did not change (status writes, label edits) leave generation alone.
generation_changed = Predicate(
    update=lambda old, new: old.metadata.generation != new.metadata.generation
)
labels_changed = Predicate(update=lambda old, new: old.metadata.labels != new.metadata.labels)
annotations_changed = Predicate(
    update=lambda old, new: old.metadata.annotations != new.metadata.annotations
)
# Drops resyncs (the same object handed again), which keep their resourceVersion.
resource_version_changed = Predicate(
    update=lambda old, new: old.metadata.resource_version != new.metadata.resource_version
)
