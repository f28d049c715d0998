"""Compiles one decoder and one encoder per struct class, as Python source, on first use.

Decoding and encoding are on the store's hot path (every object is JSON bytes there), so each
struct gets straight-line code specialised to its fields instead of a generic loop that inspects
types per value: one ``dict.get`` per declared field, a ``__class__`` identity check per value,
and slot stores that bypass attrs' ``__init__`` (the decoder already produces frozen values).

Errors never raise from inside: a bad value is recorded as ``(path, detail, value, reason)`` in
a list and decoding goes on, so one pass reports every problem. Paths are built lazily as
nested tuples and rendered (``spec.containers[0].image``) only when something is wrong.
"""

from __future__ import annotations

import base64
import binascii
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from kcore.objects._frozen import EMPTY, FrozenDict, freeze_json, thaw_json
from kcore.objects.struct import _META_MICRO, _META_OMITEMPTY, _META_WIRE, UNKNOWN_SLOT, wire_name

Problems = list[tuple[Any, str, Any, str]]
Decoder = Callable[[Any, Any, Problems, bool], Any]
Encoder = Callable[[Any], dict[str, Any]]

_MISSING = object()
# Map item types whose maps the sharing decoder shares (``_share_map_<tag>`` in its namespace):
# plain values compared by value, or already-shared objects compared by identity.
SHARED_MAP_ITEMS = frozenset({"int", "bool", "intstr", "bytes", "struct", "time", "quantity"})
_decoders: dict[type[Any], Decoder] = {}
_encoders: dict[type[Any], Encoder] = {}


# --- paths -----------------------------------------------------------------------------------


def render_path(path: Any) -> str:
    """``((None, "spec"), "containers", 0)`` → ``spec.containers[0]``."""
    parts: list[str] = []
    while path is not None:
        parent, *steps = path
        for step in reversed(steps):
            if isinstance(step, int):
                parts.append(f"[{step}]")
            elif isinstance(step, tuple):  # a map key
                parts.append(f"[{step[0]}]")
            else:
                parts.append("." + step)
        path = parent
    return "".join(reversed(parts)).lstrip(".")


# --- value checks used by generated code ------------------------------------------------------

_TYPE_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    type(None): "null",
}


def _describe(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value), type(value).__name__)
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{name} {shown}" if not isinstance(value, dict | list) else name


def _bad(problems: Problems, path: Any, expected: str, value: Any) -> None:
    problems.append(
        (path, f"expected {expected}, got {_describe(value)}", value, "FieldValueTypeInvalid")
    )


_quantity_cache: dict[Any, Any] = {}
_QUANTITY_CACHE_LIMIT = 4096


def _quantity(value: Any, path: Any, problems: Problems) -> Any:
    # Quantities are immutable and a cluster uses few distinct texts ("250m", "1Gi"...), so
    # parsed ones are shared: faster decoding and less memory per cached object.
    found = _quantity_cache.get(value) if value.__class__ is str else None
    if found is not None:
        return found
    quantity_cls = _quantity_class()
    if value.__class__ is quantity_cls:
        return value
    if value.__class__ in (str, int, float):
        try:
            parsed = quantity_cls(value)
        except ValueError as err:
            problems.append((path, str(err), value, "FieldValueInvalid"))
            return None
        if value.__class__ is str:
            if len(_quantity_cache) >= _QUANTITY_CACHE_LIMIT:
                _quantity_cache.clear()
            _quantity_cache[value] = parsed
        return parsed
    _bad(problems, path, "a quantity (string such as '500m' or '1Gi', or a number)", value)
    return None


def _quantity_class() -> type[Any]:
    from kcore.objects.quantity import Quantity

    return Quantity


def _time(value: Any, path: Any, problems: Problems) -> Any:
    if value.__class__ is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            problems.append(
                (
                    path,
                    f"invalid timestamp {value!r}: use RFC 3339, e.g. 2024-05-01T12:00:00Z",
                    value,
                    "FieldValueInvalid",
                )
            )
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime):  # YAML reads unquoted timestamps as datetimes
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    _bad(problems, path, "an RFC 3339 timestamp string", value)
    return None


def format_time(value: datetime) -> str:
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(value: datetime) -> str:
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bytes(value: Any, path: Any, problems: Problems) -> Any:
    if value.__class__ is bytes:
        return value
    if value.__class__ is str:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            problems.append(
                (
                    path,
                    "invalid base64 data; encode the value with base64",
                    None,
                    "FieldValueInvalid",
                )
            )
            return None
    _bad(problems, path, "a base64 string", value)
    return None


def _key(key: Any, path: Any, problems: Problems) -> Any:
    if key.__class__ is not str:  # YAML reads `1:` or `yes:` as a number or a boolean
        problems.append(
            (
                (path, (str(key),)),
                f"map keys must be strings, got {_describe(key)}; quote the key",
                key,
                "FieldValueTypeInvalid",
            )
        )
        return str(key)
    return key


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unknown(
    obj: Any,
    data: dict[str, Any],
    known: frozenset[str],
    path: Any,
    problems: Problems,
    strict: bool,
) -> None:
    extra = {k: v for k, v in data.items() if k not in known}
    if strict:
        for key in extra:
            problems.append(((path, key), f'unknown field "{key}"', None, "FieldValueUnknown"))
    else:
        _SETTERS_UNKNOWN(obj, FrozenDict({k: freeze_json(v) for k, v in extra.items()}))


_SETTERS_UNKNOWN: Callable[[Any, Any], None] = lambda obj, value: object.__setattr__(  # noqa: E731
    obj, UNKNOWN_SLOT, value
)


# --- type analysis ---------------------------------------------------------------------------


@attrs.frozen
class _Shape:
    """What a field's annotation means for the codec."""

    tag: str  # str int float bool intstr time bytes quantity json struct seq map
    optional: bool = False
    item: _Shape | None = None
    cls: type[Any] | None = None
    micro: bool = False


def _shape(tp: Any, micro: bool = False) -> _Shape:
    optional = False
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if set(args) == {int, str}:
            return _Shape("intstr", optional)
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        tp = args[0]
        origin = typing.get_origin(tp)
    if tp is Any:
        return _Shape("json", True)
    if origin in (tuple, Sequence, list) or tp in (tuple, Sequence):
        return _Shape("seq", optional, item=_shape(typing.get_args(tp)[0], micro))
    if origin in (Mapping, dict, FrozenDict):
        key_type, value_type = typing.get_args(tp)
        if key_type is not str:
            raise TypeError(f"map keys must be str: {tp!r}")
        return _Shape("map", optional, item=_shape(value_type, micro))
    simple = {str: "str", int: "int", float: "float", bool: "bool", bytes: "bytes"}
    if tp in simple:
        return _Shape(simple[tp], optional)
    if tp is datetime:
        return _Shape("time", optional, micro=micro)
    if getattr(tp, "__name__", "") == "Quantity":
        return _Shape("quantity", optional)
    if isinstance(tp, type) and hasattr(tp, "__attrs_attrs__"):
        return _Shape("struct", optional, cls=tp)
    raise TypeError(f"unsupported field type {tp!r}")


def _fields(cls: type[Any]) -> list[tuple[attrs.Attribute[Any], _Shape, str]]:
    hints = typing.get_type_hints(cls)
    out = []
    for attribute in attrs.fields(cls):
        if attribute.name == UNKNOWN_SLOT:
            continue
        micro = bool(attribute.metadata.get(_META_MICRO, False))
        shape = _shape(hints[attribute.name], micro)
        wire = attribute.metadata.get(_META_WIRE) or wire_name(attribute.name)
        out.append((attribute, shape, wire))
    return out


# --- code generation: decoding ---------------------------------------------------------------


class _Gen:
    """Names and expressions for one generated function.

    ``share=True`` emits the sharing variant's conversions (see ``kcore.objects._share``):
    nested structs through their sharing decoders, timestamps and maps through sharing tables.
    """

    def __init__(self, share: bool = False) -> None:
        self.share = share
        self.names: dict[str, Any] = {
            "_bad": _bad,
            "_quantity": _quantity,
            "_time": _time,
            "_bytes": _bytes,
            "_freeze_json": freeze_json,
            "FrozenDict": FrozenDict,
            "_EMPTY": EMPTY,
            "_M": _MISSING,
            "_unknown": _unknown,
            "_thaw_json": thaw_json,
            "_format_time": format_time,
            "_format_micro_time": format_micro_time,
            "_b64": _b64,
            "_key": _key,
        }
        self.counter = 0

    def name(self, value: Any, hint: str = "c") -> str:
        self.counter += 1
        key = f"_{hint}{self.counter}"
        self.names[key] = value
        return key

    def lazy(self, stub: _LazyDecoder | _LazyEncoder, hint: str) -> str:
        """A name bound to ``stub`` until its first call, then to the compiled function itself
        (the generated code looks the name up in its globals on every call)."""
        key = self.name(stub, hint)
        stub.namespace, stub.key = self.names, key
        return key

    def convert(self, shape: _Shape, var: str, path: str) -> str:
        """An expression converting the JSON value ``var`` (known not None) to the field type."""
        t = shape.tag
        if t == "str":
            return f"({var} if {var}.__class__ is str else _bad(p, {path}, 'string', {var}))"
        if t == "int":
            return f"({var} if {var}.__class__ is int else _bad(p, {path}, 'integer', {var}))"
        if t == "bool":
            return f"({var} if {var}.__class__ is bool else _bad(p, {path}, 'boolean', {var}))"
        if t == "float":
            return (
                f"({var} if {var}.__class__ is float or {var}.__class__ is int"
                f" else _bad(p, {path}, 'number', {var}))"
            )
        if t == "intstr":
            return (
                f"({var} if {var}.__class__ is int or {var}.__class__ is str"
                f" else _bad(p, {path}, 'an integer or a string', {var}))"
            )
        if t == "quantity":
            return f"_quantity({var}, {path}, p)"
        if t == "time":
            return f"{'_share_time' if self.share else '_time'}({var}, {path}, p)"
        if t == "bytes":
            return f"_bytes({var}, {path}, p)"
        if t == "json":
            return f"_freeze_json({var})"
        if t == "struct":
            assert shape.cls is not None
            dec = self.lazy(_LazyDecoder(shape.cls, self.share), "dec")
            return f"{dec}({var}, {path}, p, strict)"
        assert shape.item is not None
        item = shape.item
        if t == "seq":
            if item.tag in ("str", "int", "intstr", "bool"):
                check = self.convert(item, "e", f"({path}, i)")
                fast = {
                    "str": "e.__class__ is str",
                    "int": "e.__class__ is int",
                    "bool": "e.__class__ is bool",
                    "intstr": "(e.__class__ is str or e.__class__ is int)",
                }[item.tag]
                return (
                    f"((tuple({var}) if all({fast} for e in {var}) else "
                    f"tuple([{check} for i, e in enumerate({var})])) if {var}.__class__ is list "
                    f"else _bad(p, {path}, 'an array', {var}))"
                )
            inner = self.convert(item, "e", f"({path}, i)")
            return (
                f"(tuple([{inner} for i, e in enumerate({var})]) if {var}.__class__ is list "
                f"else _bad(p, {path}, 'an array', {var}))"
            )
        if t == "map":
            if self.share and item.tag == "str":
                return f"_share_str_map({var}, {path}, p)"
            if self.share and item.tag in SHARED_MAP_ITEMS:
                inner = self.convert(item, "x", f"({path}, (k,))")
                return (
                    f"(_share_map_{item.tag}"
                    f"({{_key(k, {path}, p): {inner} for k, x in {var}.items()}}) "
                    f"if {var}.__class__ is dict else _bad(p, {path}, 'an object', {var}))"
                )
            if item.tag == "str":
                fast = f"all(k.__class__ is str and x.__class__ is str for k, x in {var}.items())"
                check = self.convert(item, "x", f"({path}, (k,))")
                return (
                    f"((FrozenDict({var}) if {fast} else "
                    f"FrozenDict({{_key(k, {path}, p): {check} for k, x in {var}.items()}})) "
                    f"if {var}.__class__ is dict else _bad(p, {path}, 'an object', {var}))"
                )
            inner = self.convert(item, "x", f"({path}, (k,))")
            return (
                f"(FrozenDict({{_key(k, {path}, p): {inner} for k, x in {var}.items()}}) "
                f"if {var}.__class__ is dict else _bad(p, {path}, 'an object', {var}))"
            )
        raise AssertionError(t)


class _LazyDecoder:
    """Compiles the class's decoder on first call (classes may refer to each other), then
    replaces itself in the caller's globals so later calls go straight to it."""

    __slots__ = ("cls", "key", "namespace", "share")

    def __init__(self, cls: type[Any], share: bool = False) -> None:
        self.cls = cls
        self.share = share
        self.namespace: dict[str, Any] = {}
        self.key = ""

    def __call__(self, data: Any, path: Any, problems: Problems, strict: bool) -> Any:
        if self.share:
            from kcore.objects._share import shared_decoder_for  # it builds on this module

            fn = shared_decoder_for(self.cls)
        else:
            fn = decoder_for(self.cls)
        self.namespace[self.key] = fn
        return fn(data, path, problems, strict)


class _LazyEncoder:
    __slots__ = ("cls", "key", "namespace")

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        self.namespace: dict[str, Any] = {}
        self.key = ""

    def __call__(self, obj: Any) -> dict[str, Any]:
        fn = encoder_for(self.cls)
        self.namespace[self.key] = fn
        return fn(obj)


def _type_fields(cls: type[Any]) -> tuple[str, str] | None:
    api_version = cls.__dict__.get("api_version")
    kind = cls.__dict__.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        return api_version, kind
    return None


def decoder_for(cls: type[Any]) -> Decoder:
    found = _decoders.get(cls)
    if found is not None:
        return found
    gen = _Gen()
    fields = _fields(cls)
    # Values go straight into the slots through their descriptors: a frozen class refuses
    # attribute stores, and attrs' __init__ would run converters the decoder does not need.
    # (Measured: faster than filling a mutable twin class and switching __class__.)
    lines = [
        "def decode(d, path, p, strict):",
        "    if d.__class__ is not dict:",
        "        _bad(p, path, 'an object', d)",
        "        return None",
        f"    o = {gen.name(cls, 'cls')}.__new__({gen.name(cls, 'cls')})",
        "    get = d.get",
    ]
    known = {wire for _, _, wire in fields}
    if _type_fields(cls) is not None:
        known |= {"apiVersion", "kind"}
    for attribute, shape, wire in fields:
        default = gen.name(_default_of(attribute), "d")
        setter = gen.name(_slot_setter(cls, attribute.name), "set")
        path = f"(path, {wire!r})"
        # A missing key and JSON null both mean "unset", so one lookup decides.
        lines += [
            f"    v = get({wire!r})",
            f"    {setter}(o, {default} if v is None else {gen.convert(shape, 'v', path)})",
        ]
    known_name = gen.name(frozenset(known), "known")
    lines += [
        f"    {gen.name(_slot_setter(cls, UNKNOWN_SLOT), 'set')}(o, None)",
        f"    if not {known_name}.issuperset(d):",
        f"        _unknown(o, d, {known_name}, path, p, strict)",
        "    return o",
    ]
    fn: Decoder = _exec(lines, gen.names, "decode", cls)
    _decoders[cls] = fn
    return fn


def _slot_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    """The slot descriptor's ``__set__``: stores past attrs' frozen ``__setattr__``."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            setter: Callable[[Any, Any], None] = klass.__dict__[name].__set__
            return setter
    raise AttributeError(f"{cls.__name__} has no slot {name!r}")


def _default_of(attribute: attrs.Attribute[Any]) -> Any:
    default = attribute.default
    factory = getattr(default, "factory", None)
    if isinstance(default, attrs.Factory) and factory is not None:  # type: ignore[arg-type]
        value = factory()
    elif default is attrs.NOTHING:
        value = None
    else:
        value = default
    if attribute.converter is not None and value is not None:
        value = attribute.converter(value)  # type: ignore[operator]
    return value


# --- code generation: encoding ---------------------------------------------------------------


def _encode_expr(gen: _Gen, shape: _Shape, var: str) -> str:
    t = shape.tag
    if t in ("str", "int", "bool", "float", "intstr"):
        return var
    if t == "quantity":
        return f"str({var})"
    if t == "time":
        return f"_format_micro_time({var})" if shape.micro else f"_format_time({var})"
    if t == "bytes":
        return f"_b64({var})"
    if t == "json":
        return f"_thaw_json({var})"
    if t == "struct":
        assert shape.cls is not None
        return f"{gen.lazy(_LazyEncoder(shape.cls), 'enc')}({var})"
    assert shape.item is not None
    if t == "seq":
        if shape.item.tag in ("str", "int", "bool", "float", "intstr"):
            return f"list({var})"
        return f"[{_encode_expr(gen, shape.item, 'e')} for e in {var}]"
    if shape.item.tag in ("str", "int", "bool", "float", "intstr"):
        return f"dict({var})"
    return f"{{k: {_encode_expr(gen, shape.item, 'x')} for k, x in {var}.items()}}"


def encoder_for(cls: type[Any]) -> Encoder:
    found = _encoders.get(cls)
    if found is not None:
        return found
    gen = _Gen()
    typed = _type_fields(cls)
    lines = ["def encode(o):"]
    if typed is not None:
        lines.append(f"    d = {{'apiVersion': {typed[0]!r}, 'kind': {typed[1]!r}}}")
    else:
        lines.append("    d = {}")
    for attribute, shape, wire in _fields(cls):
        omitempty = attribute.metadata.get(_META_OMITEMPTY, True)
        value = _encode_expr(gen, shape, "v")
        lines.append(f"    v = o.{attribute.name}")
        if shape.tag == "struct" and not shape.optional:
            default = attribute.default
            if omitempty and isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                lines += ["    x = " + value, "    if x:", f"        d[{wire!r}] = x"]
            elif omitempty:
                # Left out when empty AND still the shared default instance: a struct that was
                # present in the decoded document (``status: {loadBalancer: {}}``, as Go writes
                # struct values) is a fresh instance, so it is written back as it came.
                shared = gen.name(default, "default")
                lines += [
                    "    x = " + value,
                    f"    if x or v is not {shared}:",
                    f"        d[{wire!r}] = x",
                ]
            else:
                lines.append(f"    d[{wire!r}] = {value}")
        elif shape.optional or shape.tag in ("json", "time", "quantity", "struct"):
            lines += ["    if v is not None:", f"        d[{wire!r}] = {value}"]
        elif omitempty:
            lines += ["    if v:", f"        d[{wire!r}] = {value}"]
        else:
            lines.append(f"    d[{wire!r}] = {value}")
    lines += [
        f"    u = o.{UNKNOWN_SLOT}",
        "    if u:",
        "        for k, x in u.items():",
        "            d.setdefault(k, _thaw_json(x))",
        "    return d",
    ]
    fn: Encoder = _exec(lines, gen.names, "encode", cls)
    _encoders[cls] = fn
    return fn


def _exec(lines: list[str], names: dict[str, Any], fn_name: str, cls: type[Any]) -> Any:
    source = "\n".join(lines)
    code = compile(source, f"<kcore {fn_name} {cls.__module__}.{cls.__qualname__}>", "exec")
    exec(code, names)  # generated from the class's own field list; no outside input
    return names[fn_name]
