"""Objects to and from dicts, JSON and YAML, with Kubernetes' wire names and strict checking.

``from_dict``/``from_json``/``from_yaml`` pick the class from ``apiVersion`` and ``kind`` (or take
it as ``cls=``). Strict decoding, the default, refuses fields no attribute knows, naming their
path; ``strict=False`` keeps them and writes them back. Every problem in a document — wrong types,
unknown fields, bad timestamps or quantities — is reported at once in one
:class:`kcore.errors.DecodeError` whose ``causes`` carry field paths; nothing from deep inside the
codec escapes as a Python traceback. ``share=True`` (what the API layer, and so every informer
cache, decodes with) makes equal parts of decoded objects one object: see ``_share``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar, overload

import yaml

from kcore import errors
from kcore.objects import registry
from kcore.objects._compile import decoder_for, encoder_for, render_path
from kcore.objects._share import shared_decoder_for, trim_tables

__all__ = [
    "from_dict",
    "from_json",
    "from_yaml",
    "to_dict",
    "to_json",
    "to_yaml",
]

T = TypeVar("T")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _problems_error(what: str, problems: list[tuple[Any, str, Any, str]]) -> errors.DecodeError:
    causes = [
        errors.FieldError(render_path(path) or "<document>", detail, value, reason)
        for path, detail, value, reason in problems
    ]
    listed = "; ".join(str(c) for c in causes[:20])
    more = f" (and {len(causes) - 20} more)" if len(causes) > 20 else ""
    noun = "problem" if len(causes) == 1 else "problems"
    return errors.DecodeError(f"{what}: {len(causes)} {noun}: {listed}{more}", causes)


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        kind = data.get("kind")
        meta = data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if isinstance(kind, str) and isinstance(name, str):
            return f'{kind} "{name}"'
        if isinstance(kind, str):
            return kind
    return "object"


def _class_for(data: Any) -> type[Any]:
    if not isinstance(data, dict):
        raise errors.DecodeError(
            f"expected an object (a mapping with apiVersion and kind), got {type(data).__name__}",
            [errors.FieldError("<document>", "expected an object", None, "FieldValueTypeInvalid")],
        )
    api_version, kind = data.get("apiVersion"), data.get("kind")
    missing = [
        errors.FieldError(name, "Required value", None, "FieldValueRequired")
        for name, value in (("apiVersion", api_version), ("kind", kind))
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise errors.DecodeError(
            f"{_describe(data)}: apiVersion and kind must be set to name the object's type",
            missing,
        )
    try:
        return registry.lookup(api_version, kind).cls  # type: ignore[arg-type]
    except errors.InvalidArgumentError as err:
        raise errors.DecodeError(
            str(err), [errors.FieldError("kind", str(err), kind, "FieldValueNotSupported")]
        ) from None


@overload
def from_dict(data: Any, cls: type[T], *, strict: bool = ..., share: bool = ...) -> T: ...
@overload
def from_dict(data: Any, cls: None = ..., *, strict: bool = ..., share: bool = ...) -> Any: ...


def from_dict(
    data: Any, cls: type[T] | None = None, *, strict: bool = True, share: bool = False
) -> Any:
    """The object a JSON-shaped dict describes.

    With ``cls`` given, ``apiVersion``/``kind`` may be absent but must match when present.
    ``share=True`` makes its parts the very objects that equal parts of objects decoded before
    (and still alive) are made of: the same value, a fraction of the memory when many alike
    objects are held, as in an informer cache (see ``kcore.objects._share``).
    """
    if cls is None:
        cls = _class_for(data)
    elif isinstance(data, dict):
        _check_type_fields(data, cls)
    problems: list[tuple[Any, str, Any, str]] = []
    try:
        if share:
            obj = shared_decoder_for(cls)(data, None, problems, strict)
            trim_tables()
        else:
            obj = decoder_for(cls)(data, None, problems, strict)
    except RecursionError:
        raise errors.DecodeError(
            f"cannot decode {_describe(data)}: the document is nested too deeply",
            [errors.FieldError("<document>", "nested too deeply", None, "FieldValueInvalid")],
        ) from None
    if problems:
        raise _problems_error(f"cannot decode {_describe(data)}", problems)
    return obj


def _check_type_fields(data: dict[str, Any], cls: type[Any]) -> None:
    expected = (cls.__dict__.get("api_version"), cls.__dict__.get("kind"))
    if expected[0] is None:
        return
    bad = [
        errors.FieldError(name, f"expected {want!r} for {cls.__name__}", got, "FieldValueInvalid")
        for name, want, got in (
            ("apiVersion", expected[0], data.get("apiVersion")),
            ("kind", expected[1], data.get("kind")),
        )
        if got is not None and got != want
    ]
    if bad:
        raise errors.DecodeError(f"{_describe(data)} is not a {cls.__name__}", bad)


def to_dict(obj: Any) -> dict[str, Any]:
    """The JSON-shaped dict of ``obj``: camelCase names, empty fields left out."""
    return encoder_for(type(obj))(obj)


@overload
def from_json(data: str | bytes, cls: type[T], *, strict: bool = ..., share: bool = ...) -> T: ...
@overload
def from_json(
    data: str | bytes, cls: None = ..., *, strict: bool = ..., share: bool = ...
) -> Any: ...


def from_json(
    data: str | bytes, cls: type[T] | None = None, *, strict: bool = True, share: bool = False
) -> Any:
    """Decode one object from JSON text or bytes (``share`` as for :func:`from_dict`)."""
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise errors.DecodeError(
            f"malformed JSON: {err}",
            [errors.FieldError("<document>", f"malformed JSON: {err}", None, "FieldValueInvalid")],
        ) from None
    return from_dict(parsed, cls, strict=strict, share=share)


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """Compact JSON (or indented with ``indent``), as kube-apiserver stores and serves it."""
    if indent is None:
        return json.dumps(to_dict(obj), separators=(",", ":"), ensure_ascii=False)
    return json.dumps(to_dict(obj), indent=indent, ensure_ascii=False)


def from_yaml(text: str | bytes, *, strict: bool = True, share: bool = False) -> list[Any]:
    """Every object in a (multi-document) YAML text; ``kind: List`` documents are flattened.

    ``share`` as for :func:`from_dict` (the documents of one text share with each other too).

    Empty documents are skipped. Problems in several documents are reported together, each
    cause saying which document it is in.
    """
    try:
        documents = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except RecursionError:
        message = "malformed YAML: nested too deeply"
        raise errors.DecodeError(
            message, [errors.FieldError("<document>", message, None, "FieldValueInvalid")]
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        message = f"malformed YAML at {where}: {problem}" if where else f"malformed YAML: {problem}"
        raise errors.DecodeError(
            message, [errors.FieldError("<document>", message, None, "FieldValueInvalid")]
        ) from None
    objects: list[Any] = []
    causes: list[errors.FieldError] = []
    for number, document in enumerate(_flatten(documents), start=1):
        try:
            objects.append(from_dict(document, strict=strict, share=share))
        except errors.DecodeError as err:
            label = f"document {number} ({_describe(document)})"
            causes += [
                errors.FieldError(c.path, f"{label}: {c.detail}", c.value, c.reason)
                for c in err.causes
            ]
    if causes:
        listed = "; ".join(str(c) for c in causes[:20])
        raise errors.DecodeError(f"cannot decode YAML: {listed}", causes)
    return objects


def _flatten(documents: Iterable[Any]) -> Iterable[Any]:
    for document in documents:
        if (
            isinstance(document, dict)
            and document.get("kind") == "List"
            and document.get("apiVersion") == "v1"
            and isinstance(document.get("items"), list)
        ):
            yield from document["items"]
        else:
            yield document


def to_yaml(objs: Any) -> str:
    """YAML for one object, or a multi-document YAML (``---`` separated) for a list of them."""
    items = list(objs) if isinstance(objs, list | tuple) else [objs]
    return yaml.dump_all(
        [to_dict(o) for o in items],
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
