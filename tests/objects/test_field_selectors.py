"""Field selectors: Kubernetes' syntax and escaping, canonical strings, matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.selectors import (
    FieldRequirement,
    FieldSelector,
    escape_field_value,
    field_selector_from_set,
    parse_field_selector,
    unescape_field_value,
)


@pytest.mark.parametrize(
    ("text", "canonical", "requirements"),
    [
        ("", "", []),
        ("x=a,y=b,z=c", "x=a,y=b,z=c", [("x", "=", "a"), ("y", "=", "b"), ("z", "=", "c")]),
        ("z=c,x=a", "x=a,z=c", [("x", "=", "a"), ("z", "=", "c")]),
        ("x!=a,y=b", "x!=a,y=b", [("x", "!=", "a"), ("y", "=", "b")]),
        ("x==a", "x=a", [("x", "=", "a")]),  # == prints as =
        ("spec.nodeName=", "spec.nodeName=", [("spec.nodeName", "=", "")]),
        (r"x=a||y\=b", r"x=a||y\=b", [("x", "=", "a||y=b")]),
        (r"x=a\=\=b", r"x=a\=\=b", [("x", "=", "a==b")]),
        (r"k=\,,k2=v2", r"k2=v2,k=\,", [("k2", "=", "v2"), ("k", "=", ",")]),
        (r"k=\\,k2=v2", r"k2=v2,k=\\", [("k2", "=", "v2"), ("k", "=", "\\")]),
        (r"k=\\\,,k2=v2", r"k2=v2,k=\\\,", [("k2", "=", "v2"), ("k", "=", "\\,")]),
        ("a=b!c", "a=b!c", [("a", "=", "b!c")]),  # '!' needs no escape
        ("a=!c", "a=!c", [("a", "=", "!c")]),
        ("a!b=c", "a!b=c", [("a!b", "=", "c")]),
        ("a = b", "a = b", [("a ", "=", " b")]),  # nothing is trimmed
        ("x=a,", "x=a", [("x", "=", "a")]),  # empty terms are skipped
        (",,x=a", "x=a", [("x", "=", "a")]),
        ("=", "", []),  # a bare operator selects everything, as in Kubernetes
        ("=,x=a", "x=a", [("x", "=", "a")]),
        ("=a", "=a", [("", "=", "a")]),
        ("함=수,목=록", "목=록,함=수", [("목", "=", "록"), ("함", "=", "수")]),
    ],
)
def test_parse_gives_kubernetes_canonical_string(
    text: str, canonical: str, requirements: list[tuple[str, str, str]]
) -> None:
    selector = parse_field_selector(text)
    assert str(selector) == canonical
    assert selector.requirements == tuple(FieldRequirement(*r) for r in requirements)
    assert parse_field_selector(canonical) == selector


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        ("x=a||y=b", "unescaped '=' in a value at offset 6 (in term 'x=a||y=b')"),
        ("x==a==b", "unescaped '=' in a value at offset 4"),
        ("x=a,b", "term 'b' at offset 4 has no operator"),
        ("x in (a)", "term 'x in (a)' at offset 0 has no operator"),
        ("x", "has no operator; write field=value, field==value or field!=value"),
        ("a=1,x!=", None),
        (r"x=\!", r"invalid escape sequence '\!' at offset 2"),
        (r"x=\a\b", r"invalid escape sequence '\a' at offset 2"),
        ("x=a\\", "a lone '\\' ends the value at offset 3"),
        ("y=1,x=a\\\\\\", "a lone '\\' ends the value at offset 9"),
    ],
)
def test_parse_errors_name_the_term_and_offset(text: str, message_part: str | None) -> None:
    if message_part is None:  # a control row: valid
        parse_field_selector(text)
        return
    with pytest.raises(InvalidArgumentError) as caught:
        parse_field_selector(text)
    assert message_part in str(caught.value)
    assert repr(text) in str(caught.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidTypeError):
        parse_field_selector(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("plain", "escaped"),
    [("", ""), ("a", "a"), ("=", r"\="), (",", r"\,"), ("\\", "\\\\"), (r"\=\,\ ", r"\\\=\\\,\\ ")],
)
def test_escape_table(plain: str, escaped: str) -> None:
    assert escape_field_value(plain) == escaped
    assert unescape_field_value(escaped) == plain


@pytest.mark.parametrize("bad", ["\\", "\\\\\\", r"\a", r"\!", "a,b", "a=b"])
def test_unescape_rejects_bad_sequences(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        unescape_field_value(bad)


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("", {}, True),
        ("spec.nodeName=n1", {"spec.nodeName": "n1"}, True),
        ("spec.nodeName=n1", {"spec.nodeName": "n2"}, False),
        ("spec.nodeName=n1", {}, False),
        ("spec.nodeName=", {}, True),  # a missing field reads as ""
        ("spec.nodeName!=", {}, False),
        ("spec.nodeName!=n1", {}, True),
        ("spec.nodeName!=n1", {"spec.nodeName": "n1"}, False),
        ("a=1,b!=2", {"a": "1", "b": "3"}, True),
        ("a=1,b!=2", {"a": "1", "b": "2"}, False),
        ("a=1,a=2", {"a": "1"}, False),
        (r"v=x\,y", {"v": "x,y"}, True),
    ],
)
def test_matching(text: str, fields: dict[str, str], expected: bool) -> None:
    assert parse_field_selector(text).matches(fields) is expected


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("spec.nodeName=foo", "spec.nodeName", "foo"),
        ("spec.nodeName==foo", "spec.nodeName", "foo"),
        ("spec.nodeName!=foo", "spec.nodeName", None),
        ("spec.nodeName!=bar,spec.nodeName=foo", "spec.nodeName", "foo"),
        ("metadata.name=x,spec.nodeName=foo", "spec.nodeName", "foo"),
        ("metadata.name=x", "spec.nodeName", None),
        ("", "spec.nodeName", None),
    ],
)
def test_requires_exact_match(text: str, field: str, expected: str | None) -> None:
    assert parse_field_selector(text).requires_exact_match(field) == expected


def test_constructor_normalises_and_validates() -> None:
    built = FieldSelector([("b", "==", "1"), ("a", "!=", "x,y")])
    assert str(built) == r"a!=x\,y,b=1"
    assert built == parse_field_selector(r"b=1,a!=x\,y")
    assert built.fields() == frozenset({"a", "b"})
    assert field_selector_from_set({"b": "1", "a": "2"}) == parse_field_selector("a=2,b=1")
    with pytest.raises(InvalidArgumentError, match="unsupported field selector operator"):
        FieldSelector([("a", "in", "x")])
    with pytest.raises(InvalidTypeError):
        FieldSelector(["a=b"])  # type: ignore[list-item]
    for unwritable in [("a,b", "=", "x"), ("a=b", "!=", "x"), ("a!", "=", "x")]:
        with pytest.raises(InvalidArgumentError, match="cannot be written in a selector"):
            FieldSelector([unwritable])
    assert str(FieldSelector([("a!", "!=", "x")])) == "a!!=x"
    assert FieldSelector([("", "=", ""), ("", "!=", "")]) == FieldSelector.everything()
    with pytest.raises(AttributeError):
        built.requirements = ()


def test_everything_and_nothing() -> None:
    everything, nothing = FieldSelector.everything(), FieldSelector.nothing()
    assert everything.is_empty() and everything.matches({"a": "b"})
    assert everything == FieldSelector() == parse_field_selector("")
    assert not nothing.is_empty() and nothing.matches_nothing() and not nothing.matches({})
    assert nothing != everything and str(nothing) == ""
    assert len({everything, nothing, parse_field_selector("a=b")}) == 3


# Field names have no escapes, so they cannot hold ',', '=', '\' or '!='; values hold anything.
_fields = st.text(st.sampled_from("abz.Nx/-_ 함!"), min_size=1, max_size=12).filter(
    lambda f: "!=" not in f and not f.endswith("!")
)
_field_values = st.text(st.sampled_from("ab,=\\!= 수\t"), max_size=10)
_terms = st.tuples(_fields, st.sampled_from(["=", "==", "!="]), _field_values)


@given(st.lists(_terms, max_size=6))
def test_parse_of_str_round_trips(terms: list[tuple[str, str, str]]) -> None:
    selector = FieldSelector(terms)
    assert parse_field_selector(str(selector)) == selector


@given(st.text(max_size=30))
def test_escape_round_trips_any_text(value: str) -> None:
    assert unescape_field_value(escape_field_value(value)) == value
