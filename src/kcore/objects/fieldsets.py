"""Which fields of a kind a field selector can name, and their values for one object.

Kubernetes lets each kind expose a few fields to field selectors (``spec.nodeName`` and
``status.phase`` for pods, ``involvedObject.name`` for events...); ``metadata.name`` and
``metadata.namespace`` work for every kind. Kind modules register getters here; the API layer
and informers call :func:`fields_of` and match with ``kcore.objects.selectors``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kcore import errors

__all__ = ["fields_of", "selectable", "selectable_fields"]

Getter = Callable[[Any], str | None]
_getters: dict[type[Any], dict[str, Getter]] = {}

_META: dict[str, Getter] = {
    "metadata.name": lambda o: o.metadata.name,
    "metadata.namespace": lambda o: o.metadata.namespace,
}


def selectable(cls: type[Any], getters: Mapping[str, Getter]) -> None:
    """Declare the fields of ``cls`` (beyond metadata.name/namespace) field selectors may use."""
    _getters.setdefault(cls, dict(_META)).update(getters)


def selectable_fields(cls: type[Any]) -> list[str]:
    return sorted(_getters.get(cls, _META))


def fields_of(obj: Any, only: list[str] | None = None) -> dict[str, str]:
    """The selectable field values of ``obj`` (None reads as ""), optionally just ``only``.

    Naming a field the kind does not expose is an error, as it is for kube-apiserver.
    """
    getters = _getters.get(type(obj), _META)
    if only is None:
        return {name: get(obj) or "" for name, get in getters.items()}
    out: dict[str, str] = {}
    for name in only:
        get = getters.get(name)
        if get is None:
            raise errors.InvalidArgumentError(
                f'field label not supported: "{name}" for {type(obj).__name__}; '
                f"supported: {', '.join(sorted(getters))}"
            )
        out[name] = get(obj) or ""
    return out
