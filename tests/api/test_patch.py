"""PATCH bodies: RFC 7386 merge patch, RFC 6902 JSON patch, media types, errors, properties.

The RFC appendix examples are re-expressed as tables; results are compared with a JSON-aware
canonical form written here (not the module's own json_equal), so ``true`` never passes for
``1``. Every case also checks that its inputs were left exactly as they were.
"""

from __future__ import annotations

import copy
import json
import re
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore import errors
from kcore.api.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_patch,
    create_merge_patch,
    json_equal,
)

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def canonical(value: Any) -> Any:
    """A hashable form in which equal JSON values (and only those) are equal.

    Numbers compare by exact value (1 == 1.0), booleans are their own type, objects ignore
    member order. Anything but plain dict/list/scalars is refused, so results must be plain.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", Fraction(value))
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    if type(value) is dict:
        return ("object", frozenset((key, canonical(member)) for key, member in value.items()))
    if type(value) is list:
        return ("array", tuple(canonical(item) for item in value))
    raise AssertionError(f"not a plain JSON value: {value!r}")


def assert_json(actual: Any, expected: Any) -> None:
    assert canonical(actual) == canonical(expected), f"{actual!r} != {expected!r}"


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# --- RFC 7386 merge patch ---------------------------------------------------------------------

# The RFC 7386 appendix A table: (original, patch, result).
MERGE_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]

# More cases the algorithm implies.
MERGE_MORE = [
    # Nulls inside an array in the patch are values, not deletions.
    ({"a": 1}, {"b": [None, {"c": None}]}, {"a": 1, "b": [None, {"c": None}]}),
    # Deleting a member that is not there is not an error.
    ({"a": 1}, {"zzz": None}, {"a": 1}),
    # An object patch onto a scalar member starts from an empty object.
    ({"a": 5}, {"a": {"b": 1, "c": None}}, {"a": {"b": 1}}),
    # An empty object patch changes nothing.
    ({"a": {"b": [1, 2]}}, {}, {"a": {"b": [1, 2]}}),
    # Deep merge leaves siblings at every level alone.
    (
        {"metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}}, "spec": {"r": 1}},
        {"metadata": {"labels": {"tier": None, "env": "prod"}}},
        {"metadata": {"name": "web", "labels": {"app": "web", "env": "prod"}}, "spec": {"r": 1}},
    ),
    # A scalar document patched by an object becomes that object.
    ("text", {"a": 1}, {"a": 1}),
    (None, {"a": None, "b": False}, {"b": False}),
]


@pytest.mark.parametrize(("original", "patch", "expected"), MERGE_EXAMPLES + MERGE_MORE)
def test_merge_patch(original: Any, patch: Any, expected: Any) -> None:
    original_before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    result = apply_merge_patch(original, patch)
    assert_json(result, expected)
    assert original == original_before
    assert patch == patch_before


def test_merge_patch_keeps_member_order() -> None:
    result = apply_merge_patch({"a": 1, "b": 2, "c": 3}, {"b": 20, "d": 4, "a": None})
    assert isinstance(result, dict)
    assert list(result) == ["b", "c", "d"]


def test_merge_patch_result_shares_nothing_with_its_inputs() -> None:
    document = {"keep": {"deep": [1, 2]}, "merge": {"x": 1}}
    patch = {"merge": {"y": [3]}, "new": {"z": [4]}}
    before = copy.deepcopy((document, patch))
    result = apply_merge_patch(document, patch)
    assert isinstance(result, dict)
    result["keep"]["deep"].append(99)
    result["merge"]["y"].append(99)
    result["new"]["z"].append(99)
    result["merge"]["x"] = 2
    assert (document, patch) == before


def test_merge_patch_accepts_read_only_mappings_and_tuples() -> None:
    document = MappingProxyType({"a": (1, 2), "b": MappingProxyType({"c": 1})})
    result = apply_merge_patch(document, MappingProxyType({"b": {"d": (3,)}}))
    assert_json(result, {"a": [1, 2], "b": {"c": 1, "d": [3]}})


@pytest.mark.parametrize(
    ("document", "patch", "fragment"),
    [
        ({"a": {"b": {1, 2}}}, {"x": 1}, "not JSON at /a/b: set is not a JSON type"),
        ({}, {"a": [0, b"raw"]}, "not JSON at /a/1: bytes is not a JSON type"),
        ({}, {"a": float("nan")}, "not JSON at /a: nan is not a JSON number"),
        ({}, {"a": {7: "x"}}, "not JSON at /a: object key 7 is a int, not a string"),
    ],
)
def test_merge_patch_refuses_values_that_are_not_json(
    document: Any, patch: Any, fragment: str
) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(fragment)):
        apply_merge_patch(document, patch)


# --- create_merge_patch -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "modified", "expected_patch"),
    [
        ({"a": 1, "b": 2}, {"a": 1, "b": 2}, {}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": 1}, {"a": 1, "b": [1]}, {"b": [1]}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
        # Unchanged nested objects are left out entirely, not sent as empty objects.
        ({"a": {"b": {"c": 1}}, "d": 1}, {"a": {"b": {"c": 1}}, "d": 2}, {"d": 2}),
        ({"a": [1, 2, 3]}, {"a": [1, 2]}, {"a": [1, 2]}),
        ({"a": 1}, {"a": 1.0}, {}),  # equal as JSON numbers
        ({"a": 1}, {"a": True}, {"a": True}),  # but a boolean is not a number
        ({"a": {"b": 1}}, {"a": 5}, {"a": 5}),
        ({"a": 5}, {"a": {}}, {"a": {}}),
        ({"a": 1}, ["x"], ["x"]),
        ({"a": 1}, None, None),
    ],
)
def test_create_merge_patch(original: Any, modified: Any, expected_patch: Any) -> None:
    before = copy.deepcopy((original, modified))
    patch = create_merge_patch(original, modified)
    assert_json(patch, expected_patch)
    assert_json(apply_merge_patch(original, patch), modified)
    assert (original, modified) == before


def test_create_merge_patch_cannot_express_a_null_member() -> None:
    # The documented limitation: null in a merge patch means "remove".
    original = {"a": 1, "b": 2}
    modified = {"a": None, "b": 2}
    patch = create_merge_patch(original, modified)
    assert patch == {"a": None}
    assert apply_merge_patch(original, patch) == {"b": 2}


# --- RFC 6902 JSON patch: successes -----------------------------------------------------------

POINTER_DOCUMENT = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}


def op(name: str, path: str, **members: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"op": name, "path": path}
    if "source" in members:
        operation["from"] = members.pop("source")
    operation.update(members)
    return operation


# (id, document, operations, expected result)
JSON_PATCH_SUCCESSES = [
    ("A.1 add object member", {"foo": "bar"}, [op("add", "/baz", value="qux")],
     {"baz": "qux", "foo": "bar"}),
    ("A.2 add array element", {"foo": ["bar", "baz"]}, [op("add", "/foo/1", value="qux")],
     {"foo": ["bar", "qux", "baz"]}),
    ("A.3 remove object member", {"baz": "qux", "foo": "bar"}, [op("remove", "/baz")],
     {"foo": "bar"}),
    ("A.4 remove array element", {"foo": ["bar", "qux", "baz"]}, [op("remove", "/foo/1")],
     {"foo": ["bar", "baz"]}),
    ("A.5 replace value", {"baz": "qux", "foo": "bar"}, [op("replace", "/baz", value="boo")],
     {"baz": "boo", "foo": "bar"}),
    ("A.6 move value",
     {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [op("move", "/qux/thud", source="/foo/waldo")],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7 move array element", {"foo": ["all", "grass", "cows", "eat"]},
     [op("move", "/foo/3", source="/foo/1")], {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8 test success", {"baz": "qux", "foo": ["a", 2, "c"]},
     [op("test", "/baz", value="qux"), op("test", "/foo/1", value=2)],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.10 add nested member object", {"foo": "bar"},
     [op("add", "/child", value={"grandchild": {}})],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11 unrecognized members ignored", {"foo": "bar"},
     [op("add", "/baz", value="qux", xyz=123)], {"foo": "bar", "baz": "qux"}),
    ("A.14 escape ordering ~01", {"/": 9, "~1": 10}, [op("test", "/~01", value=10)],
     {"/": 9, "~1": 10}),
    ("A.16 add array value", {"foo": ["bar"]}, [op("add", "/foo/-", value=["abc", "def"])],
     {"foo": ["bar", ["abc", "def"]]}),
    ("add replaces an existing member", {"a": 1}, [op("add", "/a", value=[2])], {"a": [2]}),
    ("add at index == length appends", {"a": [1]}, [op("add", "/a/1", value=2)],
     {"a": [1, 2]}),
    ("add at index 0 of empty array", {"a": []}, [op("add", "/a/0", value=2)], {"a": [2]}),
    ("add to root replaces document", {"a": 1}, [op("add", "", value=[1])], [1]),
    ("replace root", {"a": 1}, [op("replace", "", value="x")], "x"),
    ("replace array element", {"a": [1, 2]}, [op("replace", "/a/1", value=None)],
     {"a": [1, None]}),
    ("empty key via /", {"": 1}, [op("replace", "/", value=2)], {"": 2}),
    ("key with slash", {}, [op("add", "/a~1b", value=1)], {"a/b": 1}),
    ("key with tilde", {}, [op("add", "/m~0n", value=1)], {"m~n": 1}),
    ("copy object member", {"a": {"b": 1}}, [op("copy", "/c", source="/a")],
     {"a": {"b": 1}, "c": {"b": 1}}),
    ("copy array element to end", {"a": [1, 2]}, [op("copy", "/a/-", source="/a/0")],
     {"a": [1, 2, 1]}),
    ("copy root into a member", {"a": 1}, [op("copy", "/b", source="")],
     {"a": 1, "b": {"a": 1}}),
    ("copied value is independent", {"a": {"b": 1}},
     [op("copy", "/c", source="/a"), op("replace", "/c/b", value=2)],
     {"a": {"b": 1}, "c": {"b": 2}}),
    ("move to its own location is a no-op", {"a": {"b": 1}},
     [op("move", "/a", source="/a")], {"a": {"b": 1}}),
    ("move to a sibling with a longer name", {"a": 1}, [op("move", "/ab", source="/a")],
     {"ab": 1}),
    ("move a child up over its parent", {"a": {"b": {"c": 1}}},
     [op("move", "/a", source="/a/b")], {"a": {"c": 1}}),
    ("move between arrays", {"x": [1, 2], "y": [3]}, [op("move", "/y/0", source="/x/1")],
     {"x": [1], "y": [2, 3]}),
    ("remove last array element", {"a": [1, 2]}, [op("remove", "/a/1")], {"a": [1]}),
    ("test numbers 1 and 1.0 are equal", {"a": 1}, [op("test", "/a", value=1.0)], {"a": 1}),
    ("test objects ignore member order", {"a": {"x": 1, "y": [1, {"z": None}]}},
     [op("test", "/a", value={"y": [1, {"z": None}], "x": 1.0})],
     {"a": {"x": 1, "y": [1, {"z": None}]}}),
    ("test null", {"a": None}, [op("test", "/a", value=None)], {"a": None}),
    ("test whole document", {"a": [True]}, [op("test", "", value={"a": [True]})],
     {"a": [True]}),
    ("operations run in order", {"n": 0},
     [op("replace", "/n", value=1), op("test", "/n", value=1), op("add", "/m", value=2),
      op("move", "/o", source="/m"), op("remove", "/n")],
     {"o": 2}),
]  # fmt: skip

JSON_PATCH_SUCCESSES += [
    (f"RFC 6901 pointer {pointer!r}", POINTER_DOCUMENT, [op("test", pointer, value=value)],
     POINTER_DOCUMENT)
    for pointer, value in [
        ("", POINTER_DOCUMENT), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0),
        ("/a~1b", 1), ("/c%d", 2), ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ('/k"l', 6),
        ("/ ", 7), ("/m~0n", 8),
    ]
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "operations", "expected"),
    [case[1:] for case in JSON_PATCH_SUCCESSES],
    ids=[case[0] for case in JSON_PATCH_SUCCESSES],
)
def test_json_patch(document: Any, operations: list[dict[str, Any]], expected: Any) -> None:
    before = copy.deepcopy((document, operations))
    result = apply_json_patch(document, operations)
    assert_json(result, expected)
    assert (document, operations) == before


# --- RFC 6902 JSON patch: errors --------------------------------------------------------------

# (id, document, operations, fragment the message must contain)
JSON_PATCH_ERRORS = [
    ("A.9 test failure", {"baz": "qux", "foo": ["a", 2, "c"]}, [op("test", "/baz", value="bar")],
     'json patch operation 0 (test /baz): test failed: /baz is "qux", not "bar"'),
    ("A.12 add to nonexistent target", {"foo": "bar"}, [op("add", "/baz/bat", value="qux")],
     'json patch operation 0 (add /baz/bat): path not found: the document has no member "baz"'),
    ("A.15 string is not number", {"/": 9, "~1": 10}, [op("test", "/~01", value="10")],
     'test failed: /~01 is 10, not "10"'),
    ("boolean is not number", {"a": 1}, [op("test", "/a", value=True)],
     "test failed: /a is 1, not true"),
    ("test array order matters", {"a": [1, 2]}, [op("test", "/a", value=[2, 1])],
     "test failed: /a is [1,2], not [2,1]"),
    ("test missing member", {}, [op("test", "/a", value=None)],
     'path not found: the document has no member "a"'),
    ("replace missing member", {"spec": {}}, [op("replace", "/spec/replicas", value=3)],
     'json patch operation 0 (replace /spec/replicas): path not found: /spec has no member '
     '"replicas"; use "add"'),
    ("remove missing member", {"a": {}}, [op("remove", "/a/b")],
     'path not found: /a has no member "b"'),
    ("remove the whole document", {"a": 1}, [op("remove", "")],
     "cannot remove the whole document"),
    ("add past the end", {"a": [1]}, [op("add", "/a/2", value=0)],
     "index 2 is out of range for the array at /a (length 1)"),
    ("replace at index == length", {"a": [1]}, [op("replace", "/a/1", value=0)],
     "index 1 is out of range for the array at /a (length 1)"),
    ("remove from empty array", {"a": []}, [op("remove", "/a/0")],
     "valid indices: none: the array is empty"),
    ("remove with -", {"a": [1]}, [op("remove", "/a/-")], '"-" names the position after'),
    ("replace with -", {"a": [1]}, [op("replace", "/a/-", value=0)], "only add accepts it"),
    ("test with -", {"a": [1]}, [op("test", "/a/-", value=1)], "only add accepts it"),
    ("leading zero", {"a": [1, 2]}, [op("replace", "/a/01", value=0)],
     '"01" is not an index into the array at /a'),
    ("negative index", {"a": [1, 2]}, [op("remove", "/a/-1")], '"-1" is not an index'),
    ("plus sign", {"a": [1, 2]}, [op("remove", "/a/+1")], '"+1" is not an index'),
    ("non-ASCII digit", {"a": [1, 2]}, [op("remove", "/a/\u0661")], "is not an index"),
    ("word as index", {"a": [1]}, [op("add", "/a/x", value=0)], '"x" is not an index'),
    ("descend into a scalar", {"a": "s"}, [op("add", "/a/b", value=0)],
     '/a is a string, which has no member "b"'),
    ("descend deeper into a scalar", {"a": 1}, [op("test", "/a/b/c", value=0)],
     '/a is a number, which has no member "b"'),
    ("pointer without leading slash", {"a": 1}, [op("remove", "a")],
     'invalid JSON Pointer "a" in "path"'),
    ("bad escape ~2", {"a": 1}, [op("remove", "/a~2")], '"~" must be followed by 0'),
    ("trailing ~", {"a": 1}, [op("remove", "/a~")], '"~" must be followed by 0'),
    ("invalid from pointer", {"a": 1}, [op("move", "/b", source="a")],
     'invalid JSON Pointer "a" in "from"'),
    ("move into own child", {"a": {"b": 1}}, [op("move", "/a/b/c", source="/a")],
     "json patch operation 0 (move /a -> /a/b/c): cannot move a value into one of its own "
     "children"),
    ("move root into a child", {"a": 1}, [op("move", "/b", source="")],
     "cannot move a value into one of its own children"),
    ("move from missing", {"a": 1}, [op("move", "/b", source="/c")],
     'path not found: the document has no member "c"'),
    ("move to itself from missing", {"a": 1}, [op("move", "/c", source="/c")],
     'path not found: the document has no member "c"'),
    ("copy from missing", {"a": [1]}, [op("copy", "/b", source="/a/3")],
     "index 3 is out of range"),
    ("copy to nonexistent parent", {"a": 1}, [op("copy", "/x/y", source="/a")],
     'the document has no member "x"'),
    ("unknown op", {}, [op("frobnicate", "/a")], 'unknown op "frobnicate"; use one of "add"'),
    ("op not a string", {}, [{"op": 1, "path": "/a"}], '"op" must be a string, got a number'),
    ("missing op", {}, [{"path": "/a", "value": 1}], 'json patch operation 0: missing "op"'),
    ("missing path", {}, [{"op": "add", "value": 1}], 'missing "path"'),
    ("path not a string", {}, [{"op": "remove", "path": 3}],
     '"path" must be a JSON Pointer string, got a number'),
    ("missing value for add", {}, [op("add", "/a")], 'missing "value" for add'),
    ("missing value for replace", {"a": 1}, [op("replace", "/a")], 'missing "value" for replace'),
    ("missing value for test", {"a": 1}, [op("test", "/a")], 'missing "value" for test'),
    ("missing from for move", {"a": 1}, [op("move", "/b")], 'missing "from"'),
    ("missing from for copy", {"a": 1}, [op("copy", "/b")], 'missing "from"'),
    ("operation not an object", {}, ["add"],
     'json patch operation 0: must be an object with "op" and "path" members, got a string'),
    ("value not JSON", {}, [op("add", "/a", value={"b": {1, 2}})],
     'json patch operation 0 (add /a): "value" is not JSON at /b: set is not a JSON type'),
    ("index in message counts from 0", {"a": 1},
     [op("test", "/a", value=1), op("add", "/b", value=2), op("remove", "/zz")],
     'json patch operation 2 (remove /zz): path not found'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "operations", "fragment"),
    [case[1:] for case in JSON_PATCH_ERRORS],
    ids=[case[0] for case in JSON_PATCH_ERRORS],
)
def test_json_patch_errors(document: Any, operations: list[Any], fragment: str) -> None:
    before = copy.deepcopy((document, operations))
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(fragment)) as caught:
        apply_json_patch(document, operations)
    assert caught.value.code == 400
    assert (document, operations) == before


def test_messages_name_operation_and_pointer() -> None:
    document = {"spec": {}, "metadata": {"labels": {"app": "web"}}}
    operations = [
        op("test", "/metadata/labels/app", value="web"),
        op("add", "/spec/paused", value=False),
        op("replace", "/spec/replicas", value=3),
    ]
    with pytest.raises(errors.InvalidArgumentError) as caught:
        apply_json_patch(document, operations)
    assert str(caught.value).startswith(
        "json patch operation 2 (replace /spec/replicas): path not found"
    )
    with pytest.raises(errors.InvalidArgumentError) as caught:
        apply_json_patch(document, [op("test", "/metadata/labels/app", value="api")])
    assert 'test failed: /metadata/labels/app is "web", not "api"' in str(caught.value)


@pytest.mark.parametrize("operations", [{"op": "add"}, "[]", None, 5])
def test_json_patch_must_be_an_array(operations: Any) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="must be an array of operations"):
        apply_json_patch({}, operations)


def test_json_patch_is_atomic() -> None:
    document = {"metadata": {"labels": {"app": "web"}}, "items": [1, 2, 3]}
    before = copy.deepcopy(document)
    operations = [
        op("add", "/metadata/labels/env", value="prod"),
        op("remove", "/items/0"),
        op("move", "/moved", source="/metadata"),
        op("test", "/items/0", value=99),  # fails: /items/0 is 2 by now
    ]
    with pytest.raises(errors.InvalidArgumentError, match=r"operation 3 \(test /items/0\)"):
        apply_json_patch(document, operations)
    assert document == before
    # Without the failing test the same operations do apply.
    assert_json(
        apply_json_patch(document, operations[:3]),
        {"items": [2, 3], "moved": {"labels": {"app": "web", "env": "prod"}}},
    )
    assert document == before


def test_json_patch_result_shares_nothing_with_its_inputs() -> None:
    document = {"a": {"b": [1]}, "c": [{"d": 1}]}
    operations = [op("add", "/e", value={"f": [1]}), op("replace", "/c/0", value={"g": [2]})]
    before = copy.deepcopy((document, operations))
    result = apply_json_patch(document, operations)
    assert isinstance(result, dict)
    result["a"]["b"].append(9)
    result["e"]["f"].append(9)
    result["c"][0]["g"].append(9)
    assert (document, operations) == before


def test_json_patch_accepts_tuples_and_read_only_mappings() -> None:
    document = MappingProxyType({"a": (1, 2)})
    operations = (MappingProxyType({"op": "add", "path": "/a/-", "value": (3,)}),)
    assert_json(apply_json_patch(document, operations), {"a": [1, 2, [3]]})


def test_json_patch_refuses_a_document_that_is_not_json() -> None:
    with pytest.raises(errors.InvalidArgumentError, match=re.escape("not JSON at /a/0")):
        apply_json_patch({"a": [object()]}, [])


# --- apply_patch: media types and JSON text ---------------------------------------------------

DOCUMENT = {"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 1}}
MERGE_BODY = {"spec": {"replicas": 3}, "metadata": {"labels": None}}
MERGED = {"metadata": {"name": "web"}, "spec": {"replicas": 3}}
JSON_BODY = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
JSON_PATCHED = {"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 3}}


ENCODINGS = {
    "value": lambda body: body,
    "str": json.dumps,
    "bytes": lambda body: json.dumps(body).encode(),
    "bytearray": lambda body: bytearray(json.dumps(body).encode()),
}


@pytest.mark.parametrize(
    "patch_type", ["merge", MERGE_PATCH, "Application/Merge-Patch+JSON; charset=utf-8"]
)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_apply_patch_merge(patch_type: str, encoding: str) -> None:
    before = copy.deepcopy(DOCUMENT)
    assert_json(apply_patch(DOCUMENT, ENCODINGS[encoding](MERGE_BODY), patch_type), MERGED)
    assert before == DOCUMENT


@pytest.mark.parametrize("patch_type", ["json", JSON_PATCH, " application/json-patch+json "])
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_apply_patch_json(patch_type: str, encoding: str) -> None:
    before = copy.deepcopy(DOCUMENT)
    assert_json(apply_patch(DOCUMENT, ENCODINGS[encoding](JSON_BODY), patch_type), JSON_PATCHED)
    assert before == DOCUMENT


def test_apply_patch_text_is_always_json_text() -> None:
    # A merge patch replacing the document with a string is the JSON text of that string.
    assert apply_patch({"a": 1}, '"replaced"', "merge") == "replaced"
    assert apply_patch({"a": 1}, "null", "merge") is None
    with pytest.raises(errors.InvalidArgumentError, match="malformed JSON"):
        apply_patch({"a": 1}, "replaced", "merge")


@pytest.mark.parametrize("patch_type", ["strategic", "application/strategic-merge-patch+json"])
def test_strategic_merge_patch_is_refused(patch_type: str) -> None:
    with pytest.raises(errors.InvalidArgumentError) as caught:
        apply_patch(DOCUMENT, MERGE_BODY, patch_type)
    message = str(caught.value)
    assert "strategic merge patch is not supported" in message
    assert MERGE_PATCH in message
    assert JSON_PATCH in message


@pytest.mark.parametrize(
    ("patch_type", "fragment"),
    [
        ("application/apply-patch+yaml", "server-side apply is not supported"),
        ("application/json", "unknown patch type 'application/json'"),
        ("", "unknown patch type ''"),
    ],
)
def test_other_patch_types_are_refused(patch_type: str, fragment: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(fragment)):
        apply_patch(DOCUMENT, {}, patch_type)


def test_patch_type_must_be_a_string() -> None:
    with pytest.raises(errors.InvalidTypeError, match="patch_type must be a string"):
        apply_patch(DOCUMENT, {}, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "patch_type", "fragment"),
    [
        ('{"spec": ', "merge", "merge patch body is malformed JSON: Expecting value at line 1"),
        ("[{]", "json", "json patch body is malformed JSON"),
        ("", "merge", "merge patch body is empty"),
        (b"  \n", "json", "json patch body is empty"),
        (b"\xff\xfe{", "merge", "merge patch body is not valid JSON"),
        ('{"a": NaN}', "merge", "NaN is not a JSON number"),
        ('{"a": -Infinity}', "merge", "-Infinity is not a JSON number"),
        ("[" * 100_000, "json", "json patch body is"),
        # RFC 6902 A.13: a repeated member makes the operation ambiguous.
        (
            '[{"op": "add", "path": "/baz", "value": "qux", "op": "remove"}]',
            "json",
            "an object has the member 'op' twice",
        ),
        ('{"a": 1, "a": 2}', "merge", "an object has the member 'a' twice"),
        ('{"op": "add", "path": "/a", "value": 1}', "json", "must be an array of operations"),
        ('[["add", "/a"]]', "json", "json patch operation 0: must be an object"),
    ],
)
def test_bad_patch_bodies(body: str | bytes, patch_type: str, fragment: str) -> None:
    before = copy.deepcopy(DOCUMENT)
    with pytest.raises(errors.InvalidArgumentError, match=re.escape(fragment)):
        apply_patch(DOCUMENT, body, patch_type)
    assert before == DOCUMENT


# --- json_equal -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        (False, None, False),
        (0, None, False),
        ("1", 1, False),
        ({"a": 1, "b": 2}, {"b": 2.0, "a": 1}, True),
        ({"a": None}, {}, False),
        ({"a": 1}, {"b": 1}, False),
        ([1, 2], [2, 1], False),
        ([1, [True]], (1.0, (True,)), True),
        ([], {}, False),
        (2**53 + 1, float(2**53), False),
    ],
)
def test_json_equal(left: Any, right: Any, equal: bool) -> None:
    assert json_equal(left, right) is equal
    assert json_equal(right, left) is equal


# --- properties -------------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "", "~", "/", "a/b", "~1", "0", "-"]) | st.text(max_size=3)
NUMBERS = st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.booleans() | NUMBERS | st.text(max_size=4)

JSON_VALUES = st.recursive(
    st.none() | SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=25,
)

# Values a merge patch can express: no member of any object is null (arrays may hold nulls).
NULL_FREE_MEMBERS = st.none() | st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children | st.none(), max_size=4) | st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=25,
)


@PROPERTY_SETTINGS
@given(original=JSON_VALUES, modified=NULL_FREE_MEMBERS)
def test_merge_patch_from_create_merge_patch_gives_the_modified_value(
    original: Any, modified: Any
) -> None:
    before = copy.deepcopy((original, modified))
    patch = create_merge_patch(original, modified)
    assert_json(apply_merge_patch(original, patch), modified)
    assert (original, modified) == before


@PROPERTY_SETTINGS
@given(document=JSON_VALUES, patch=JSON_VALUES)
def test_merge_patch_is_idempotent_and_leaves_inputs_alone(document: Any, patch: Any) -> None:
    before = copy.deepcopy((document, patch))
    once = apply_merge_patch(document, patch)
    assert_json(apply_merge_patch(once, patch), once)
    assert (document, patch) == before


@PROPERTY_SETTINGS
@given(document=JSON_VALUES)
def test_empty_json_patch_returns_an_equal_fresh_document(document: Any) -> None:
    before = copy.deepcopy(document)
    result = apply_json_patch(document, [])
    assert_json(result, document)
    assert document == before
    if isinstance(document, dict | list):
        assert result is not document


def locations(value: Any, tokens: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every (path tokens, value) inside ``value``, the root included."""
    found = [(tokens, value)]
    if isinstance(value, dict):
        for key, member in value.items():
            found += locations(member, (*tokens, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += locations(item, (*tokens, str(index)))
    return found


@PROPERTY_SETTINGS
@given(document=JSON_VALUES, data=st.data())
def test_test_remove_then_add_back_restores_the_document(
    document: Any, data: st.DataObject
) -> None:
    inner = [place for place in locations(document) if place[0]]
    if not inner:
        return
    tokens, value = data.draw(st.sampled_from(inner))
    pointer = "".join("/" + escape(token) for token in tokens)
    before = copy.deepcopy(document)
    result = apply_json_patch(
        document,
        [op("test", pointer, value=value), op("remove", pointer), op("add", pointer, value=value)],
    )
    assert_json(result, document)
    assert document == before
