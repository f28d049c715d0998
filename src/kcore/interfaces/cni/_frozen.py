"""Read-only JSON values, so configs and capability arguments can live in frozen attrs classes.

A CNI plugin config keeps every key the administrator wrote (the runtime must pass unknown keys
through unchanged), so its body stays generic JSON. Frozen attrs classes only stop attribute
assignment; a dict inside one could still be edited by any holder and corrupt what others see.
``freeze`` turns dicts into read-only mapping proxies and lists into tuples, all the way down;
``thaw`` gives back fresh, plain, editable dicts and lists for serialising or modifying a copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeAlias

__all__ = [
    "EMPTY",
    "JSON",
    "FrozenJSON",
    "JSONObject",
    "dumps",
    "freeze",
    "freeze_object",
    "thaw",
    "thaw_object",
]

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
JSONObject: TypeAlias = "dict[str, JSON]"
FrozenJSON: TypeAlias = (
    "bool | int | float | str | tuple[FrozenJSON, ...] | Mapping[str, FrozenJSON] | None"
)

EMPTY: Mapping[str, FrozenJSON] = MappingProxyType({})


def freeze(value: object) -> FrozenJSON:
    """A deep read-only copy of a JSON value (anything else is refused: it has no wire form)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return freeze_object(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def freeze_object(value: Mapping[str, object]) -> Mapping[str, FrozenJSON]:
    """``freeze`` for a JSON object (the common case, typed as a mapping)."""
    return MappingProxyType({str(key): freeze(item) for key, item in value.items()})


def thaw(value: FrozenJSON | JSON) -> JSON:
    """A fresh, editable copy: mappings become dicts, tuples become lists."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(item) for item in value]
    return value


def thaw_object(value: Mapping[str, FrozenJSON]) -> JSONObject:
    """``thaw`` for a JSON object."""
    return {key: thaw(item) for key, item in value.items()}


def dumps(value: FrozenJSON | JSON) -> bytes:
    """Compact UTF-8 JSON, the form plugins read on stdin."""
    return json.dumps(thaw(value), separators=(",", ":")).encode()
