"""The kind registry: group/version/kind ↔ class, resource name, scope and status subresource.

One table serves the codec (which class decodes ``apiVersion``+``kind``), the API layer (which
resource and key prefix a kind has, whether it is namespaced) and informers. Built-in kinds and
user kinds enter it through the same ``@kind`` decorator.
"""

from __future__ import annotations

from typing import Any

import attrs

from kcore import errors

__all__ = ["KindInfo", "info_for", "kinds", "lookup", "lookup_resource", "register"]


@attrs.frozen
class KindInfo:
    """What the control plane needs to know about a kind besides its fields."""

    cls: type[Any]
    api_version: str  # "apps/v1", or "v1" for the core group
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str  # resource name: "deployments"
    namespaced: bool
    has_status: bool  # whether status is a subresource (update_status)
    short_names: tuple[str, ...] = ()


_by_gvk: dict[tuple[str, str], KindInfo] = {}
_by_class: dict[type[Any], KindInfo] = {}
_by_resource: dict[tuple[str, str], KindInfo] = {}


def register(cls: type[Any], **info: Any) -> KindInfo:
    entry = KindInfo(cls=cls, **info)
    key = (entry.api_version, entry.kind)
    existing = _by_gvk.get(key)
    if existing is not None and _identity(existing.cls) != _identity(cls):
        raise ValueError(
            f"kind {entry.kind} in {entry.api_version} is already registered by "
            f"{_identity(existing.cls)}; pick another kind name or group"
        )
    if existing is not None:
        _by_class.pop(existing.cls, None)
    _by_gvk[key] = entry
    _by_class[cls] = entry
    _by_resource[(entry.group, entry.plural)] = entry
    return entry


def _identity(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def lookup(api_version: str, kind: str) -> KindInfo:
    """The kind for ``apiVersion`` and ``kind``; InvalidArgumentError naming both if unknown."""
    found = _by_gvk.get((api_version, kind))
    if found is not None:
        return found
    versions = sorted(av for (av, k) in _by_gvk if k == kind)
    hint = (
        f"; kind {kind} is known in {', '.join(versions)}"
        if versions
        else "; register custom kinds with @kcore.objects.kind"
    )
    raise errors.InvalidArgumentError(f'no kind "{kind}" is registered in "{api_version}"{hint}')


def lookup_resource(group: str, plural: str) -> KindInfo:
    found = _by_resource.get((group, plural))
    if found is None:
        where = group or "the core group"
        raise errors.NotFoundError(f'the server does not know resource "{plural}" in {where}')
    return found


def info_for(cls_or_obj: Any) -> KindInfo:
    """The registry entry of a kind class or of an object of that kind."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    found = _by_class.get(cls)
    if found is None:
        raise errors.InvalidTypeError(
            f"{cls.__name__} is not a registered kind; decorate it with @kcore.objects.kind"
        )
    return found


def kinds() -> list[KindInfo]:
    """Every registered kind, sorted by group, version and kind."""
    return sorted(_by_gvk.values(), key=lambda i: (i.group, i.version, i.kind))
