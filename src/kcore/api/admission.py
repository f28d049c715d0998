"""Admission: built-in defaulting and validation, then user plugins, before anything is written.

The chain runs as kube-apiserver's does: defaults, then mutating plugins in registration order
(each sees the previous one's result), then the kind's validation, then validating plugins.
Plugins are plain Python callables (sync or async) registered per kind and operation:

* a mutating plugin returns a changed object, or None for "no change";
* a validating plugin returns None to allow, or raises (``Denied("why")`` or any error) to refuse.

A refusal names the plugin and its reason, and nothing is written.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs

from kcore import errors
from kcore.api.types import AdmissionRequest, Operation
from kcore.objects import apply_defaults, validate

__all__ = ["Admission", "Denied"]

Plugin = Callable[[AdmissionRequest], Any | Awaitable[Any]]


class Denied(errors.ForbiddenError):
    """Raised by a validating plugin to refuse a request, with the reason users will see."""


@attrs.frozen
class _Registered:
    name: str
    fn: Plugin
    kinds: frozenset[type[Any]] | None
    operations: frozenset[Operation]

    def applies(self, request: AdmissionRequest, cls: type[Any]) -> bool:
        return request.operation in self.operations and (self.kinds is None or cls in self.kinds)


_ALL_OPS = frozenset(Operation)


class Admission:
    """The admission chain of one API layer (``client.admission``)."""

    def __init__(self) -> None:
        self._mutating: list[_Registered] = []
        self._validating: list[_Registered] = []

    def mutating(
        self,
        fn: Plugin,
        *,
        kinds: Iterable[type[Any]] | None = None,
        operations: Iterable[Operation | str] | None = None,
        name: str | None = None,
    ) -> Plugin:
        """Register a mutating plugin; returns ``fn`` so it works as a decorator too."""
        self._mutating.append(_entry(fn, kinds, operations, name))
        return fn

    def validating(
        self,
        fn: Plugin,
        *,
        kinds: Iterable[type[Any]] | None = None,
        operations: Iterable[Operation | str] | None = None,
        name: str | None = None,
    ) -> Plugin:
        self._validating.append(_entry(fn, kinds, operations, name))
        return fn

    async def admit(self, request: AdmissionRequest) -> Any:
        """The object to write: defaulted, mutated, validated; raises if anything refuses."""
        obj = request.object
        cls = type(obj) if obj is not None else type(request.old_object)
        if obj is not None and request.subresource != "status":
            obj = apply_defaults(obj)
        for plugin in self._mutating:
            if obj is None or not plugin.applies(request, cls):
                continue
            changed = await _call(plugin, attrs.evolve(request, object=obj))
            if changed is not None:
                if type(changed) is not cls:
                    raise errors.KcoreError(
                        f'admission plugin "{plugin.name}" returned a {type(changed).__name__}, '
                        f"not a {cls.__name__}; return the changed object or None"
                    )
                obj = changed
        if obj is not None:
            validate(obj)
        for plugin in self._validating:
            if plugin.applies(request, cls):
                await _call(plugin, attrs.evolve(request, object=obj))
        return obj


def _entry(
    fn: Plugin,
    kinds: Iterable[type[Any]] | None,
    operations: Iterable[Operation | str] | None,
    name: str | None,
) -> _Registered:
    ops = frozenset(Operation(o) for o in operations) if operations is not None else _ALL_OPS
    return _Registered(
        name=name or str(getattr(fn, "__name__", repr(fn))),
        fn=fn,
        kinds=frozenset(kinds) if kinds is not None else None,
        operations=ops,
    )


async def _call(plugin: _Registered, request: AdmissionRequest) -> Any:
    try:
        result = plugin.fn(request)
        if inspect.isawaitable(result):
            result = await result
        return result
    except Denied as err:
        raise errors.ForbiddenError(
            f'admission plugin "{plugin.name}" denied the request: {err.message}'
        ) from None
    except errors.InvalidError:
        raise
    except errors.KcoreError as err:
        raise errors.ForbiddenError(
            f'admission plugin "{plugin.name}" denied the request: {err.message}'
        ) from err
    except Exception as err:  # a plugin bug refuses the request instead of writing
        raise errors.KcoreError(
            f'admission plugin "{plugin.name}" failed: {type(err).__name__}: {err}'
        ) from err
