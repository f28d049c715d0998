"""How kinds are declared: immutable attrs classes whose field names map to Kubernetes' JSON.

**Safe sharing, chosen once: immutable objects.** Every struct is a frozen, slotted attrs class;
lists are tuples and maps are ``FrozenDict``. An informer cache can hand the same object to every
controller, and no caller's edit can corrupt it, because no edit is possible: a changed copy is
built with :func:`evolve`, which copies only the path that changes and shares the rest. The
alternative, copy-on-read, would make every cache read pay a deep copy (tens of microseconds for a
Pod, measured in ``benchmarks/objects_bench.py``) to protect the rare caller that writes.

Declaring a struct::

    @struct
    class ContainerPort:
        name: str | None = None
        container_port: int = 0                       # wire name "containerPort"
        host_ip: str | None = None                    # "hostIP": acronyms as Kubernetes spells them
        protocol: str | None = None

Wire names are the camelCase of the attribute name, with Kubernetes' acronyms (IP, IPs, UID, ID,
CIDR, URL, PID, IPC, UUID) upper-cased after the first word; ``field(wire=...)`` overrides.
Emptiness follows Go's ``omitempty``: ``None``, ``""``, ``0``, ``False``, ``()`` and empty maps are
left out; ``field(omitempty=False)`` always writes the field. A non-optional struct field is left
out when it encodes to ``{}`` and is still its (shared) default instance; one that a document
spelled out, even empty (``status: {loadBalancer: {}}``, as Kubernetes writes it), is written
back. An optional struct (``X | None``) is written whenever it is set, so ``emptyDir: {}``
survives a round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

import attrs

from kcore.objects._frozen import EMPTY, freeze_json, freeze_map, freeze_seq

__all__ = [
    "evolve",
    "field",
    "is_struct",
    "kind",
    "struct",
    "unknown_fields",
    "wire_name",
]

T = TypeVar("T")

_ACRONYMS = {
    "ip": "IP",
    "ips": "IPs",
    "uid": "UID",
    "uuid": "UUID",
    "id": "ID",
    "cidr": "CIDR",
    "cidrs": "CIDRs",
    "url": "URL",
    "pid": "PID",
    "ipc": "IPC",
}
_META_WIRE = "kcore.wire"
_META_OMITEMPTY = "kcore.omitempty"
_META_MICRO = "kcore.micro"
UNKNOWN_SLOT = "_unknown"


def wire_name(attribute: str) -> str:
    """``host_ip`` → ``hostIP``; ``pod_cidrs`` → ``podCIDRs``; ``api_version`` → ``apiVersion``."""
    first, *rest = attribute.split("_")
    return first + "".join(_ACRONYMS.get(word) or word[:1].upper() + word[1:] for word in rest)


def field(
    *,
    default: Any = attrs.NOTHING,
    factory: Callable[[], Any] | None = None,
    wire: str | None = None,
    omitempty: bool = True,
    micro: bool = False,
) -> Any:
    """A struct field with a wire-name override, Go's ``omitempty`` switched off, or MicroTime.

    ``micro=True`` marks a timestamp written with microseconds (Kubernetes' MicroTime, as in
    Lease ``renewTime``); plain timestamps are written to the second.
    """
    metadata: dict[str, Any] = {_META_OMITEMPTY: omitempty, _META_MICRO: micro}
    if wire is not None:
        metadata[_META_WIRE] = wire
    if factory is not None:
        return attrs.field(factory=factory, metadata=metadata)
    return attrs.field(default=default, metadata=metadata)


def _converter_for(annotation: object) -> Callable[[Any], Any] | None:
    # Annotations are strings here (``from __future__ import annotations``); the container
    # kind is all a converter needs, and it is readable before later classes exist.
    text = str(annotation).replace(" ", "")
    if text.startswith(("Sequence[", "tuple[")):
        return freeze_seq
    if text.startswith("Mapping["):
        return freeze_map
    if text in ("JSON", "Any", "JSON|None", "Any|None"):
        return freeze_json
    return None


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def struct(cls: type[T]) -> type[T]:
    """Make ``cls`` an immutable kcore struct (frozen, slotted, keyword-only attrs class)."""
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 (the class's own, mutated)
    for name, annotation in annotations.items():
        if name.startswith("_") or str(annotation).startswith("ClassVar"):
            continue
        converter = _converter_for(annotation)
        current = cls.__dict__.get(name, attrs.NOTHING)
        if isinstance(current, attrs.Attribute | type(attrs.field())):
            if converter is not None and current.converter is None:
                current.converter = converter
            continue
        # ``= {}`` and ``= []`` read naturally in a declaration; share one frozen empty value.
        if converter is freeze_map and (current is attrs.NOTHING or current == {}):
            current = EMPTY
        elif converter is freeze_seq and (current is attrs.NOTHING or current == []):
            current = ()
        setattr(cls, name, attrs.field(default=current, converter=converter, metadata={}))
    # Unknown fields kept by a lenient decode; not part of equality, written back on encode.
    if not any(hasattr(base, "__attrs_attrs__") for base in cls.__mro__[1:]):
        annotations[UNKNOWN_SLOT] = "object"
        setattr(cls, UNKNOWN_SLOT, attrs.field(default=None, init=False, eq=False, repr=False))
    built = attrs.define(cls, frozen=True, slots=True, kw_only=True, eq=True, weakref_slot=True)
    built.__kcore_struct__ = True  # type: ignore[attr-defined]
    return built


def is_struct(cls: object) -> bool:
    return isinstance(cls, type) and getattr(cls, "__kcore_struct__", False)


def unknown_fields(obj: object) -> dict[str, Any]:
    """Fields a lenient decode kept because no attribute knows them (empty when strict)."""
    found = getattr(obj, UNKNOWN_SLOT, None)
    return dict(found) if found else {}


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def kind(
    api_version: str,
    kind_name: str,
    *,
    plural: str | None = None,
    namespaced: bool = True,
    status: bool | None = None,
    short_names: tuple[str, ...] = (),
) -> Callable[[type[T]], type[T]]:
    """Register a top-level kind: ``@kind("example.com/v1", "Website")`` on an Object subclass.

    The class becomes a struct and is entered in the registry, so the codec, validation, and
    later the API layer and informers treat it like a built-in kind. ``plural`` defaults to the
    lower-cased kind plus "s"; ``status`` (a status subresource) defaults to whether the class
    has a ``status`` field. ``namespaced=False`` makes a cluster-scoped kind.
    """
    from kcore.objects import registry

    group, _, version = api_version.rpartition("/")
    if not version or api_version.count("/") > 1:
        raise ValueError(f"apiVersion {api_version!r}: expected 'group/version' or 'v1'")

    def register(cls: type[T]) -> type[T]:
        from kcore.objects.meta import Object

        if not issubclass(cls, Object):
            raise TypeError(
                f"@kind({api_version!r}, {kind_name!r}): {cls.__name__} must subclass "
                "kcore.objects.Object (which gives it metadata)"
            )
        built = struct(cls)
        fields = attrs.fields_dict(built)  # type: ignore[arg-type]
        info = registry.register(
            built,
            api_version=api_version,
            group=group,
            version=version,
            kind=kind_name,
            plural=plural or kind_name.lower() + "s",
            namespaced=namespaced,
            has_status=status if status is not None else "status" in fields,
            short_names=short_names,
        )
        for name in ("api_version", "kind", "group", "version", "plural", "namespaced"):
            setattr(built, name, getattr(info, name))
        built.has_status = info.has_status
        return built

    return register


def evolve(obj: T, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes``; ``a__b=v`` changes the nested field ``obj.a.b``.

    Only the structs along a changed path are copied; everything else is shared, which is safe
    because nothing can change. ``evolve(deploy, spec__replicas=3, metadata__labels={...})``.
    """
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        head, _, rest = key.partition("__")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, inner in nested.items():
        if head in direct:
            raise TypeError(f"evolve: {head!r} is replaced and changed inside at once")
        current = getattr(obj, head)
        if current is None:
            raise TypeError(
                f"evolve: {type(obj).__name__}.{head} is None; set it whole ({head}=...)"
            )
        direct[head] = evolve(current, **inner)
    try:
        return attrs.evolve(obj, **direct)  # type: ignore[misc]
    except TypeError as err:
        raise TypeError(f"evolve({type(obj).__name__}): {err}") from None
