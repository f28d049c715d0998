"""The API layer's own values: list results, watch events, users and admission requests."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar

import attrs

__all__ = [
    "AdmissionRequest",
    "ObjectList",
    "Operation",
    "UserInfo",
    "WatchEvent",
    "WatchEventType",
]

T = TypeVar("T")


@attrs.frozen
class ObjectList(Generic[T]):
    """One page of a list, read at one revision (``resource_version``)."""

    items: tuple[T, ...]
    resource_version: str
    continue_: str = ""
    remaining_item_count: int | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class WatchEventType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"


@attrs.frozen
class WatchEvent(Generic[T]):
    """A typed change. A BOOKMARK's object carries only ``metadata.resourceVersion``."""

    type: WatchEventType
    object: T


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class UserInfo:
    """Who makes a request: a user name and the groups it belongs to."""

    name: str
    groups: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    @classmethod
    def service_account(cls, namespace: str, name: str) -> UserInfo:
        return cls(
            f"system:serviceaccount:{namespace}:{name}",
            (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ),
        )


class Operation(enum.StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@attrs.frozen
class AdmissionRequest:
    """What an admission plugin sees: the operation, the new and old objects, who asks."""

    operation: Operation
    kind: str
    namespace: str
    name: str
    object: Any  # the object to write (None for DELETE)
    old_object: Any = None  # the stored object (UPDATE and DELETE)
    subresource: str = ""
    user: UserInfo | None = None
