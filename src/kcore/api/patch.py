"""PATCH bodies applied to JSON documents: RFC 7386 merge patch and RFC 6902 JSON patch.

The API layer turns an object into its JSON-shaped dict, applies the client's patch here, and
decodes and validates the result like any update. Keeping this module to pure functions over
plain JSON values (dict, list, str, int, float, bool, None) means it knows nothing of kinds or
stores, and every rule of the two RFCs can be tested on small literals.

Two promises shape the code:

* **Inputs never change, and results never alias them.** Every function builds a fresh result
  (mappings become ``dict``, tuples and lists become ``list``), so a caller may mutate the
  result while the document came from a shared cache, and the patch may be reused.
* **A JSON patch is atomic.** Operations run on a private copy; the first failure raises
  :class:`~kcore.errors.InvalidArgumentError` naming the operation (0-based index, op and
  JSON Pointer) and nothing is returned, so a failed patch leaves no partial change behind.

Strategic merge patch and server-side apply are Kubernetes-specific formats that need each
kind's merge keys; they are refused with a message pointing to merge or JSON patch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import TypeAlias, cast

from kcore import errors

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "JSONInput",
    "JSONValue",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "create_merge_patch",
    "json_equal",
]

JSONValue: TypeAlias = dict[str, "JSONValue"] | list["JSONValue"] | str | int | float | bool | None
"""A JSON value as this module returns it: plain dicts and lists, freshly built."""

JSONInput: TypeAlias = (
    Mapping[str, "JSONInput"] | Sequence["JSONInput"] | str | int | float | bool | None
)
"""A JSON value as this module accepts it: any mapping (a FrozenDict, say) and list or tuple."""

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_MERGE_NAMES = frozenset({"merge", MERGE_PATCH})
_JSON_NAMES = frozenset({"json", JSON_PATCH})
_UNSUPPORTED = {
    "strategic": "strategic merge patch",
    "application/strategic-merge-patch+json": "strategic merge patch",
    "apply": "server-side apply",
    "application/apply-patch+yaml": "server-side apply",
}

_OPS_WITH_VALUE = frozenset({"add", "replace", "test"})
_OPS_WITH_FROM = frozenset({"move", "copy"})
_OPS = _OPS_WITH_VALUE | _OPS_WITH_FROM | {"remove"}

# RFC 6901: an array index is ASCII decimal without leading zeros (int() would take "+1", "01").
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_BAD_ESCAPE = re.compile(r"~(?![01])")
_SHOWN_VALUE_LIMIT = 120
_EMPTY_POINTER = '""'


# --- JSON values: copying, checking, comparing ------------------------------------------------


class _NotJSON(Exception):
    """A value that is not JSON; ``tokens`` collects its location, innermost first."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.tokens: list[str] = []


def _fresh(value: object) -> JSONValue:
    """A deep copy of ``value`` made of plain dicts and lists; raises _NotJSON on non-JSON."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJSON(f"{value!r} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        copied: dict[str, JSONValue] = {}
        for key, member in value.items():
            if not isinstance(key, str):
                raise _NotJSON(f"object key {key!r} is a {type(key).__name__}, not a string")
            try:
                copied[key] = _fresh(member)
            except _NotJSON as err:
                err.tokens.append(key)
                raise
        return copied
    if isinstance(value, list | tuple):
        items: list[JSONValue] = []
        for index, item in enumerate(value):
            try:
                items.append(_fresh(item))
            except _NotJSON as err:
                err.tokens.append(str(index))
                raise
        return items
    raise _NotJSON(f"{type(value).__name__} is not a JSON type")


def _fresh_or_raise(value: object, what: str) -> JSONValue:
    try:
        return _fresh(value)
    except _NotJSON as err:
        raise errors.InvalidArgumentError(f"{what} is not JSON{_located(err)}") from None


def _located(err: _NotJSON) -> str:
    where = _pointer(list(reversed(err.tokens)))
    place = f" at {where}" if where else ""
    return f"{place}: {err.problem}; use dict, list, str, int, float, bool or None"


def json_equal(left: object, right: object) -> bool:
    """Equality as JSON defines it: 1 equals 1.0, but true is not 1; object order is ignored."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return len(left) == len(right) and all(
            key in right and json_equal(member, right[key]) for key, member in left.items()
        )
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return False


def _show_value(value: JSONValue) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text) > _SHOWN_VALUE_LIMIT:
        return text[: _SHOWN_VALUE_LIMIT - 3] + "..."
    return text


# --- RFC 7386 merge patch ---------------------------------------------------------------------


def apply_merge_patch(document: JSONInput, patch: JSONInput) -> JSONValue:
    """``document`` with the RFC 7386 merge ``patch`` applied, as a new value.

    An object patch merges member by member (null removes a member, objects merge
    recursively); any other patch (an array, a string, null...) replaces the document whole.
    Neither input is changed and the result shares nothing with them.
    """
    try:
        return _merge(document, patch)
    except _NotJSON as err:
        raise errors.InvalidArgumentError(
            f"merge patch: the document or patch is not JSON{_located(err)}"
        ) from None
    except RecursionError:
        raise errors.InvalidArgumentError(
            "merge patch: the document or patch is nested too deeply to apply"
        ) from None


def _merge(target: object, patch: object) -> JSONValue:
    if not isinstance(patch, Mapping):
        return _fresh(patch)
    base: Mapping[object, object] = target if isinstance(target, Mapping) else {}
    merged: dict[str, JSONValue] = {}
    # The target's members first, so that they keep their order; then the patch's new ones.
    for key in (*base, *(key for key in patch if key not in base)):
        if not isinstance(key, str):
            raise _NotJSON(f"object key {key!r} is a {type(key).__name__}, not a string")
        try:
            if key not in patch:
                merged[key] = _fresh(base[key])
            elif patch[key] is not None:
                merged[key] = _merge(base.get(key), patch[key])
        except _NotJSON as err:
            err.tokens.append(key)
            raise
    return merged


def create_merge_patch(original: JSONInput, modified: JSONInput) -> JSONValue:
    """The smallest RFC 7386 merge patch that turns ``original`` into ``modified``.

    Members are compared with JSON equality (an unchanged member is left out; an object
    member is diffed recursively; arrays are sent whole when they differ).

    Limitation of merge patch itself: null in a patch means "remove", so a member whose value
    is None in ``modified`` cannot be expressed. Applying the returned patch leaves such a
    member out (unless ``original`` already held null there). None inside arrays and a
    top-level None are expressed faithfully.
    """
    try:
        return _diff(original, modified)
    except _NotJSON as err:
        raise errors.InvalidArgumentError(
            f"create_merge_patch: the original or modified value is not JSON{_located(err)}"
        ) from None


def _diff(original: object, modified: object) -> JSONValue:
    if not (isinstance(original, Mapping) and isinstance(modified, Mapping)):
        return _fresh(modified)
    patch: dict[str, JSONValue] = {}
    for key in (*original, *(key for key in modified if key not in original)):
        if not isinstance(key, str):
            raise _NotJSON(f"object key {key!r} is a {type(key).__name__}, not a string")
        try:
            if key not in modified:
                patch[key] = None
            elif key not in original:
                patch[key] = _fresh(modified[key])
            elif isinstance(original[key], Mapping) and isinstance(modified[key], Mapping):
                nested = _diff(original[key], modified[key])
                if nested != {}:
                    patch[key] = nested
            elif not json_equal(original[key], modified[key]):
                patch[key] = _fresh(modified[key])
        except _NotJSON as err:
            err.tokens.append(key)
            raise
    return patch


# --- RFC 6901 JSON Pointer --------------------------------------------------------------------


class _OpFailed(Exception):
    """One JSON patch operation cannot apply; the message says why and what to do."""


def _parse_pointer(pointer: object, member: str) -> list[str]:
    if not isinstance(pointer, str):
        raise _OpFailed(f'"{member}" must be a JSON Pointer string, got {_kind_of(pointer)}')
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _OpFailed(
            f'invalid JSON Pointer "{pointer}" in "{member}": it must be empty (the whole '
            'document) or start with "/", like "/metadata/labels"'
        )
    tokens = pointer.split("/")[1:]
    for token in tokens:
        # "~" may only be followed by 0 or 1 (RFC 6901 section 3).
        if _BAD_ESCAPE.search(token):
            raise _OpFailed(
                f'invalid JSON Pointer "{pointer}" in "{member}": "~" must be followed by 0 '
                '(for "~") or 1 (for "/")'
            )
    # Unescape "~1" before "~0", so that "~01" means the key "~1", not "/".
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _pointer(tokens: Sequence[str]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def _show_pointer(pointer: str) -> str:
    return pointer if pointer else '"" (the whole document)'


def _kind_of(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _array_index(array: list[JSONValue], token: str, tokens: list[str], for_add: bool) -> int:
    """The index ``token`` names in ``array``; "-" and len(array) only when adding."""
    where = _show_pointer(_pointer(tokens[:-1]))
    limit = len(array) if for_add else len(array) - 1
    if token == "-":
        if for_add:
            return len(array)
        raise _OpFailed(
            f'path not found: "-" names the position after the last element of the array at '
            f"{where}; only add accepts it, use an index from 0 to {limit}"
        )
    if not _ARRAY_INDEX.fullmatch(token):
        raise _OpFailed(
            f'"{token}" is not an index into the array at {where}; indices are 0, 1, 2... '
            'without leading zeros (add also takes "-" to append)'
        )
    index = int(token)
    if index > limit:
        allowed = f"0 to {limit}" if limit >= 0 else "none: the array is empty"
        hint = ', or "-" to append' if for_add else ""
        raise _OpFailed(
            f"path not found: index {index} is out of range for the array at {where} "
            f"(length {len(array)}); valid indices: {allowed}{hint}"
        )
    return index


def _child(node: JSONValue, token: str, tokens: list[str]) -> JSONValue:
    """The member or element ``token`` of ``node``; ``tokens`` is the whole path, for errors."""
    if isinstance(node, dict):
        if token not in node:
            raise _OpFailed(f"path not found: {_member_missing(tokens)}")
        return node[token]
    if isinstance(node, list):
        return node[_array_index(node, token, tokens, for_add=False)]
    raise _OpFailed(_cannot_descend(node, tokens))


def _member_missing(tokens: list[str]) -> str:
    parent = _pointer(tokens[:-1])
    owner = parent if parent else "the document"
    return f'{owner} has no member "{tokens[-1]}"'


def _cannot_descend(node: JSONValue, tokens: list[str]) -> str:
    parent = _pointer(tokens[:-1])
    return (
        f"path not found: {_show_pointer(parent)} is {_kind_of(node)}, which has no member "
        f'"{tokens[-1]}" (only objects and arrays have members)'
    )


def _resolve(document: JSONValue, tokens: list[str]) -> JSONValue:
    node = document
    for depth, token in enumerate(tokens):
        node = _child(node, token, tokens[: depth + 1])
    return node


# --- RFC 6902 JSON patch ----------------------------------------------------------------------


def apply_json_patch(document: JSONInput, operations: Sequence[Mapping[str, object]]) -> JSONValue:
    """``document`` with the RFC 6902 ``operations`` applied in order, as a new value.

    All or nothing: on the first operation that cannot apply, InvalidArgumentError names it
    (0-based index, op, path) and says why; the document is never changed either way.
    """
    if not isinstance(operations, list | tuple):
        raise errors.InvalidArgumentError(
            f"json patch must be an array of operations, got {_kind_of(operations)}; send "
            'e.g. [{"op": "replace", "path": "/spec/replicas", "value": 3}]'
        )
    try:
        working = _fresh_or_raise(document, "the document to patch")
        for index, operation in enumerate(operations):
            working = _apply_operation(working, index, operation)
    except RecursionError:
        raise errors.InvalidArgumentError(
            "json patch: the document or patch is nested too deeply to apply"
        ) from None
    return working


def _describe(operation: Mapping[str, object]) -> str:
    op, path = operation.get("op"), operation.get("path")
    if not (isinstance(op, str) and isinstance(path, str)):
        return ""
    source = operation.get("from")
    if op in _OPS_WITH_FROM and isinstance(source, str):
        return f" ({op} {source or _EMPTY_POINTER} -> {path or _EMPTY_POINTER})"
    return f" ({op} {path or _EMPTY_POINTER})"


def _apply_operation(document: JSONValue, index: int, operation: object) -> JSONValue:
    if not isinstance(operation, Mapping):
        raise errors.InvalidArgumentError(
            f'json patch operation {index}: must be an object with "op" and "path" members, '
            f'got {_kind_of(operation)}; e.g. {{"op": "remove", "path": "/metadata/labels/app"}}'
        )
    prefix = f"json patch operation {index}{_describe(operation)}"
    try:
        return _run(document, operation, prefix)
    except _OpFailed as failure:
        raise errors.InvalidArgumentError(f"{prefix}: {failure}") from None


def _run(document: JSONValue, operation: Mapping[str, object], prefix: str) -> JSONValue:
    op = operation.get("op")
    if "op" not in operation:
        raise _OpFailed(f'missing "op"; use one of {_op_names()}')
    if not isinstance(op, str):
        raise _OpFailed(f'"op" must be a string, got {_kind_of(op)}; use one of {_op_names()}')
    if op not in _OPS:
        raise _OpFailed(f"unknown op {json.dumps(op)}; use one of {_op_names()}")
    if "path" not in operation:
        raise _OpFailed(f'missing "path" (a JSON Pointer such as "/spec/replicas") for {op}')
    path = _parse_pointer(operation["path"], "path")
    if op in _OPS_WITH_VALUE:
        if "value" not in operation:
            raise _OpFailed(f'missing "value" for {op} (null is a value; give it explicitly)')
        value = _fresh_or_raise(operation["value"], f'{prefix}: "value"')
        if op != "test":
            return _put(document, path, value, create=op == "add")
        _test(document, path, value)
        return document
    if op == "remove":
        _remove(document, path)
        return document
    if "from" not in operation:
        raise _OpFailed(f'missing "from" (the JSON Pointer to {op} from)')
    source = _parse_pointer(operation["from"], "from")
    if op == "copy":
        # A fresh copy, so that later operations on one place do not show in the other.
        return _put(document, path, _fresh(_resolve(document, source)), create=True)
    if source == path:
        _resolve(document, source)  # must exist, even though nothing moves
        return document
    if path[: len(source)] == source:
        raise _OpFailed(
            "cannot move a value into one of its own children; move it elsewhere first, or "
            "copy it instead"
        )
    return _put(document, path, _remove(document, source), create=True)


def _op_names() -> str:
    return ", ".join(f'"{name}"' for name in ("add", "remove", "replace", "move", "copy", "test"))


def _put(document: JSONValue, path: list[str], value: JSONValue, *, create: bool) -> JSONValue:
    """Set the value at ``path``: add (``create``) may make a member or insert; replace may not."""
    if not path:
        return value
    parent = _resolve(document, path[:-1])
    token = path[-1]
    if isinstance(parent, dict):
        if not create and token not in parent:
            raise _OpFailed(
                f'path not found: {_member_missing(path)}; use "add" to create a member'
            )
        parent[token] = value
    elif isinstance(parent, list):
        index = _array_index(parent, token, path, for_add=create)
        if create:
            parent.insert(index, value)
        else:
            parent[index] = value
    else:
        raise _OpFailed(_cannot_descend(parent, path))
    return document


def _remove(document: JSONValue, path: list[str]) -> JSONValue:
    """Take the value at ``path`` out of ``document`` (in place) and return it."""
    if not path:
        raise _OpFailed(
            'cannot remove the whole document; use replace with path "" to change all of it'
        )
    parent = _resolve(document, path[:-1])
    token = path[-1]
    if isinstance(parent, dict):
        if token not in parent:
            raise _OpFailed(f"path not found: {_member_missing(path)}; there is nothing to remove")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_array_index(parent, token, path, for_add=False))
    raise _OpFailed(_cannot_descend(parent, path))


def _test(document: JSONValue, path: list[str], expected: JSONValue) -> None:
    actual = _resolve(document, path)
    if not json_equal(actual, expected):
        raise _OpFailed(
            f"test failed: {_show_pointer(_pointer(path))} is {_show_value(actual)}, "
            f"not {_show_value(expected)}; re-read the object and retry"
        )


# --- PATCH bodies by media type ---------------------------------------------------------------


def apply_patch(
    document: JSONInput, patch: JSONInput | str | bytes | bytearray, patch_type: str
) -> JSONValue:
    """``document`` with ``patch`` applied, as a PATCH request with ``patch_type`` asks.

    ``patch_type`` is "merge" or "application/merge-patch+json" (RFC 7386), or "json" or
    "application/json-patch+json" (RFC 6902); media type parameters such as "; charset=utf-8"
    are ignored. A ``str`` or ``bytes`` patch is JSON text and is parsed first (so a merge
    patch that replaces the document with a string is given as '"text"').
    """
    kind = _patch_kind(patch_type)
    if isinstance(patch, str | bytes | bytearray):
        patch = _parse_patch(patch, kind)
    if kind == "merge":
        return apply_merge_patch(document, patch)
    # apply_json_patch checks the shape (an array of objects) itself.
    return apply_json_patch(document, cast(Sequence[Mapping[str, object]], patch))


def _patch_kind(patch_type: object) -> str:
    if not isinstance(patch_type, str):
        raise errors.InvalidTypeError(
            f"patch_type must be a string such as {MERGE_PATCH!r}, got {type(patch_type).__name__}"
        )
    name = patch_type.split(";", 1)[0].strip().lower()
    if name in _MERGE_NAMES:
        return "merge"
    if name in _JSON_NAMES:
        return "json"
    if name in _UNSUPPORTED:
        raise errors.InvalidArgumentError(
            f"patch type {patch_type!r}: {_UNSUPPORTED[name]} is not supported; use "
            f"{MERGE_PATCH!r} (merge) or {JSON_PATCH!r} (json) instead"
        )
    raise errors.InvalidArgumentError(
        f'unknown patch type {patch_type!r}; use {MERGE_PATCH!r} (or "merge") or '
        f'{JSON_PATCH!r} (or "json")'
    )


class _DuplicateMember(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    members: dict[str, object] = {}
    for key, value in pairs:
        if key in members:
            raise _DuplicateMember(key)
        members[key] = value
    return members


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _parse_patch(text: str | bytes | bytearray, kind: str) -> JSONValue:
    what = "merge patch" if kind == "merge" else "json patch"
    if not text.strip():
        raise errors.InvalidArgumentError(f"{what} body is empty; send a JSON document")
    try:
        parsed: JSONValue = json.loads(
            text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant
        )
    except _DuplicateMember as err:
        # RFC 6902 A.13: an object with a repeated member is ambiguous, so it is an error.
        raise errors.InvalidArgumentError(
            f"{what} body is invalid: an object has the member {str(err)!r} twice; give each "
            "member once"
        ) from None
    except json.JSONDecodeError as err:
        raise errors.InvalidArgumentError(
            f"{what} body is malformed JSON: {err.msg} at line {err.lineno} column {err.colno}; "
            "send a JSON document"
        ) from None
    except (ValueError, RecursionError) as err:
        # UnicodeDecodeError, NaN/Infinity, over-long integers, nesting deeper than Python's stack.
        detail = str(err) if not isinstance(err, RecursionError) else "nested too deeply"
        raise errors.InvalidArgumentError(
            f"{what} body is not valid JSON: {detail}; send UTF-8 JSON text"
        ) from None
    return parsed
