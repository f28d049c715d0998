"""Label selectors: parsing, canonical strings, matching, and the API LabelSelector bridge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.selectors import (
    Operator,
    Requirement,
    Selector,
    parse_label_selector,
    selector_from_label_selector,
    selector_from_optional_label_selector,
    selector_from_set,
    validate_label_selector,
)

# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("x=a,y=b,z=c", "x=a,y=b,z=c"),
        ("z=c,x=a,y=b", "x=a,y=b,z=c"),  # sorted by key
        ("x!=a,y=b", "x!=a,y=b"),
        ("x==a", "x==a"),  # == is kept as written
        ("x=", "x="),
        ("x= ", "x="),
        ("x=,z= ", "x=,z="),
        ("!x", "!x"),
        ("x", "x"),
        ("a ", "a"),
        ("\rx", "x"),
        ("x>1", "x>1"),
        ("x>1,z<5", "x>1,z<5"),
        ("x = a", "x=a"),
        ("x in (abc,def)", "x in (abc,def)"),
        ("x in (def,abc,abc)", "x in (abc,def)"),  # values are a sorted set
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x in (abc,)", "x in (,abc)"),
        ("x in ()", "x in ()"),
        ("x notin ( )", "x notin ()"),
        ("x in (a,,a,,)", "x in (,a)"),
        ("x notin (, a)", "x notin (,a)"),
        ("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"),
        ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),  # keywords are values here
        ("in=notin", "in=notin"),  # and keys and values here
        ("x in(a)", "x in (a)"),
        ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
        ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
         "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
        ("b=1,a!=2,b!=3,a", "a!=2,a,b=1,b!=3"),  # stable: same-key order kept
    ],
)  # fmt: skip
def test_parse_gives_kubernetes_canonical_string(text: str, canonical: str) -> None:
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    assert parse_label_selector(canonical) == selector


@pytest.mark.parametrize(
    ("text", "message_part"),
    [
        ("x=a||y=b", "at offset 2: invalid value 'a||y' for 'x'"),
        ("x==a==b", "found '==' at offset 4, expected ',' or end of string"),
        ("!x=a", "found '=' at offset 2, expected ',' or end of string ('!key'"),
        ("!x in (a)", "found 'in' at offset 3"),
        ("x<a", "at offset 2: the value 'a' of '<' is not an integer"),
        ("x>", "the value '' of '>' is not an integer"),
        ("x>99999999999999999999", "is not an integer"),
        ("x>-1", "invalid value '-1'"),  # an integer, but not a label value
        ("x,,y", "found ',' at offset 2, expected a label key or '!'"),
        (",x,y", "found ',' at offset 0, expected a label key or '!'"),
        ("x,", "found end of string at offset 2, expected a label key"),
        ("!", "found end of string at offset 1, expected a label key"),
        ("x nott in (y)", "found 'nott' at offset 2, expected an operator"),
        ("a in (xyz),", "found end of string at offset 11"),
        ("a in (xyz)b notin ()", "found 'b' at offset 10, expected ',' or end of string"),
        ("a in (xyz abc)", "found 'abc' at offset 10, expected ',' or ')'"),
        ("a notin(", "found end of string at offset 8, expected a value, ',' or ')'"),
        ("a in b", "found 'b' at offset 5, expected '(' to open the value list"),
        ("a in (=)", "found '=' at offset 6, expected a value"),
        ("a (", "found '(' at offset 2, expected an operator"),
        ("(", "found '(' at offset 0, expected a label key or '!'"),
        ("x=(a)", "found '(' at offset 2, expected a value"),
        ("Bad_ key=a", "invalid label key 'Bad_'"),
        ("a/b/c=d", "invalid label key 'a/b/c': a qualified name must consist"),
        ("-x", "invalid label key '-x'"),
        ("x=" + "v" * 64, "must be no more than 63 characters"),
        ("x=a b", "found 'b' at offset 4, expected ',' or end of string"),
    ],
)
def test_parse_errors_name_the_token_and_offset(text: str, message_part: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_label_selector(text)
    assert message_part in str(caught.value)
    assert repr(text) in str(caught.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidTypeError):
        parse_label_selector(b"x=a")  # type: ignore[arg-type]


# --- matching ------------------------------------------------------------------------------

SET = {"x": "foo", "n": "5", "empty": "", "word": "v2"}


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {}, True),
        ("", SET, True),
        ("x=foo", SET, True),
        ("x==foo", SET, True),
        ("x=bar", SET, False),
        ("y=foo", SET, False),  # missing key never equals
        ("empty=", SET, True),
        ("y=", SET, False),  # "" is a value, not absence
        ("x!=bar", SET, True),
        ("x!=foo", SET, False),
        ("y!=foo", SET, True),  # != matches when the key is absent
        ("x in (foo,bar)", SET, True),
        ("x in (bar)", SET, False),
        ("y in (foo)", SET, False),
        ("y in ()", SET, False),
        ("empty in ()", SET, True),
        ("x notin (foo)", SET, False),
        ("x notin (bar)", SET, True),
        ("y notin (foo)", SET, True),  # notin matches when the key is absent
        ("x", SET, True),
        ("empty", SET, True),
        ("y", SET, False),
        ("!x", SET, False),
        ("!y", SET, True),
        ("n>4", SET, True),
        ("n>5", SET, False),
        ("n<6", SET, True),
        ("n<5", SET, False),
        ("y>1", SET, False),  # gt/lt never match a missing key
        ("y<1", SET, False),
        ("word>1", SET, False),  # ... nor a value that is not an integer
        ("word<1", SET, False),
        ("empty<1", SET, False),
        ("n>4,x=foo", SET, True),
        ("n>4,x=bar", SET, False),
        ("x=foo,!x", SET, False),
    ],
)
def test_matching_truth_table(text: str, labels: Mapping[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("value", "gt_zero"),
    [
        ("7", True),
        ("+7", True),  # Go's ParseInt takes a sign
        ("-7", False),
        ("007", True),
        (" 7", False),
        ("7 ", False),
        ("1_0", False),  # Python's int() would take these; Kubernetes does not
        ("٣", False),
        ("9223372036854775807", True),
        ("9223372036854775808", False),  # out of int64: not an integer at all
        ("1e3", False),
    ],
)
def test_integer_comparison_parses_like_go(value: str, gt_zero: bool) -> None:
    assert Requirement("n", "gt", ["0"]).matches({"n": value}) is gt_zero


def test_lt_with_negative_bound_built_programmatically_is_rejected() -> None:
    # "-1" is an integer but not a valid label value, so Kubernetes refuses it too.
    with pytest.raises(InvalidArgumentError, match="value '-1'"):
        Requirement("n", Operator.LESS_THAN, ["-1"])


# --- requirements and selectors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "operator", "values", "message_part"),
    [
        ("x", "in", [], "values set can't be empty"),
        ("x", "notin", [], "values set can't be empty"),
        ("x", "=", ["a", "b"], "exact-match compatibility requires one single value"),
        ("x", "==", [], "exact-match compatibility requires one single value"),
        ("x", "exists", ["a"], "values set must be empty for exists and does not exist"),
        ("x", "!", ["a"], "values set must be empty"),
        ("x", "gt", [], "exactly one value is required"),
        ("x", "lt", ["a"], "value 'a': for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a" * 254, "exists", [], "must be no more than 63 characters"),
        ("x", "=", ["a b"], "value 'a b': a valid label must be"),
        ("x", "=", ["a" * 64], "value '" + "a" * 64 + "': must be no more than 63 characters"),
        ("x", "In", ["a"], "unsupported label selector operator 'In'"),
        ("x", "unsupportedOp", [], 'supported values: "=", "==", "!=", "in", "notin"'),
    ],
)
def test_requirement_constructor_validates(
    key: str, operator: str, values: list[str], message_part: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Requirement(key, operator, values)
    assert message_part in str(caught.value)


def test_requirement_values_are_a_sorted_set_and_symbols_alias_gt_lt() -> None:
    requirement = Requirement("x", "in", ["b", "a", "b"])
    assert requirement.values == ("a", "b")
    assert str(requirement) == "x in (a,b)"
    assert Requirement("x", ">", ["3"]) == Requirement("x", Operator.GREATER_THAN, ["3"])
    assert str(Requirement("x", "<", ["3"])) == "x<3"
    assert Requirement("x", "=", ["a"]) != Requirement("x", "==", ["a"])
    with pytest.raises(InvalidTypeError):
        Requirement("x", "in", "ab")


def test_requirement_and_selector_are_immutable_and_hashable() -> None:
    requirement = Requirement("x", "=", ["a"])
    selector = Selector([requirement])
    with pytest.raises(AttributeError):
        requirement.key = "y"
    with pytest.raises(AttributeError):
        selector.requirements = ()
    assert {selector: 1}[parse_label_selector("x=a")] == 1
    assert hash(Requirement("x", "in", ["b", "a"])) == hash(Requirement("x", "in", ["a", "b"]))


def test_selector_sorts_requirements_by_key_and_adds_immutably() -> None:
    base = Selector([Requirement("b", "exists"), Requirement("a", "!")])
    assert str(base) == "!a,b"
    grown = base.add(Requirement("a", "=", ["1"]))
    assert str(grown) == "!a,a=1,b"
    assert str(base) == "!a,b"
    with pytest.raises(InvalidTypeError):
        Selector(["x=a"])  # type: ignore[list-item]


def test_everything_and_nothing() -> None:
    everything, nothing = Selector.everything(), Selector.nothing()
    assert everything.is_empty() and everything.matches({}) and everything.matches({"a": "b"})
    assert not nothing.is_empty() and nothing.matches_nothing()
    assert not nothing.matches({}) and not nothing.matches({"a": "b"})
    assert everything == Selector() == parse_label_selector("") != nothing
    assert str(nothing) == ""  # as in Kubernetes: only repr tells the two apart
    assert repr(nothing) == "Selector.nothing()"
    assert nothing.add(Requirement("a", "exists")) is nothing
    assert nothing.requirements == ()


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("key=value", "key", "value"),
        ("key==value", "key", "value"),
        ("key in (value)", "key", "value"),
        ("key in (value,value2)", "key", None),
        ("key!=value", "key", None),
        ("key", "key", None),
        ("key in (v1,v2),key2 in (value2)", "key2", "value2"),
        ("key=value", "other", None),
        ("key!=x,key=value", "key", None),  # only the first requirement on a key counts
    ],
)
def test_requires_exact_match(text: str, key: str, expected: str | None) -> None:
    assert parse_label_selector(text).requires_exact_match(key) == expected


def test_selector_from_set() -> None:
    assert str(selector_from_set({"app": "foo", "a": "b"})) == "a=b,app=foo"
    assert selector_from_set({}) == Selector.everything()
    assert selector_from_set({"app": "web"}).matches({"app": "web", "tier": "x"})
    assert not selector_from_set({"app": "web"}).matches({"tier": "x"})
    with pytest.raises(InvalidArgumentError, match="must be no more than 63 characters"):
        selector_from_set({"Key": "a" * 64})
    unchecked = selector_from_set({"bad key": "v"}, validate=False)
    assert unchecked.matches({"bad key": "v"})


# --- the API LabelSelector -----------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    key: str
    operator: str
    values: Sequence[str] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: Sequence[Expression] = ()


def test_absent_selector_selects_nothing_present_empty_selects_everything() -> None:
    assert selector_from_optional_label_selector(None) == Selector.nothing()
    assert selector_from_optional_label_selector(LabelSelector()) == Selector.everything()
    assert selector_from_label_selector(None, None) == Selector.everything()
    assert selector_from_label_selector({}, []) == Selector.everything()


def test_label_selector_conversion() -> None:
    selector = selector_from_label_selector(
        {"app": "web", "tier": "front"},
        [
            Expression("env", "In", ["prod", "dev", "prod"]),
            Expression("track", "NotIn", ["canary"]),
            Expression("gpu", "Exists"),
            Expression("legacy", "DoesNotExist"),
        ],
    )
    assert str(selector) == "app=web,env in (dev,prod),gpu,!legacy,tier=front,track notin (canary)"
    assert selector.matches({"app": "web", "tier": "front", "env": "dev", "gpu": ""})
    assert not selector.matches({"app": "web", "tier": "front", "env": "dev"})
    assert not selector.matches(
        {"app": "web", "tier": "front", "env": "dev", "gpu": "", "legacy": "1"}
    )
    assert selector_from_optional_label_selector(
        LabelSelector({"app": "web"}, [Expression("gpu", "Exists")])
    ) == parse_label_selector("app=web,gpu")


def test_label_selector_from_the_kcore_kind_types() -> None:
    from kcore.objects.meta import LabelSelector as KindSelector
    from kcore.objects.meta import LabelSelectorRequirement

    kind_selector = KindSelector(
        match_labels={"app": "web"},
        match_expressions=[LabelSelectorRequirement(key="env", operator="In", values=["a"])],
    )
    converted = selector_from_optional_label_selector(kind_selector)
    assert str(converted) == "app=web,env in (a)"
    assert selector_from_optional_label_selector(KindSelector()) == Selector.everything()


@pytest.mark.parametrize(
    ("labels", "expressions", "expected"),
    [
        (
            None,
            [Expression("a", "In", ["x"]), Expression("b", "Equals", ["x"])],
            [
                (
                    "spec.selector.matchExpressions[1].operator",
                    'Invalid value: "Equals": not a valid selector operator (supported values: '
                    '"In", "NotIn", "Exists", "DoesNotExist")',
                )
            ],
        ),
        (
            None,
            [Expression("a", "NotIn")],
            [
                (
                    "spec.selector.matchExpressions[0].values",
                    "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                )
            ],
        ),
        (
            None,
            [Expression("a", "DoesNotExist", ["x"])],
            [
                (
                    "spec.selector.matchExpressions[0].values",
                    "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            ],
        ),
        (
            None,
            [Expression("a", "In", ["ok", "-bad"])],
            [
                (
                    "spec.selector.matchExpressions[0].values[1]",
                    'Invalid value: "-bad": a valid label must be an empty string or consist of '
                    "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
                    "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                )
            ],
        ),
        (
            {"a" * 64: "v", "ok": "b c"},
            [Expression("/k", "Exists")],
            [
                (
                    "spec.selector.matchLabels",
                    f'Invalid value: "{"a" * 64}": name part must be no more than 63 characters',
                ),
                ("spec.selector.matchLabels", 'Invalid value: "b c": a valid label must be'),
                (
                    "spec.selector.matchExpressions[0].key",
                    'Invalid value: "/k": prefix part must be non-empty',
                ),
            ],
        ),
        ({"app": "web"}, [Expression("a", "Exists")], []),
    ],
)
def test_validate_label_selector(
    labels: Mapping[str, str] | None,
    expressions: list[Expression],
    expected: list[tuple[str, str]],
) -> None:
    problems = validate_label_selector(labels, expressions, "spec.selector")
    assert len(problems) == len(expected)
    for (path, message), (want_path, want_message) in zip(problems, expected, strict=True):
        assert path == want_path
        assert message.startswith(want_message)


def test_conversion_errors_name_the_field_path() -> None:
    bad = [Expression("a", "In", ["x"]), Expression("b", "Gt", ["1"])]
    with pytest.raises(InvalidArgumentError, match=r"matchExpressions\[1\]\.operator: Invalid"):
        selector_from_label_selector(None, bad)
    with pytest.raises(InvalidArgumentError, match=r"^invalid label selector: spec\.sel\."):
        selector_from_optional_label_selector(
            LabelSelector({}, [Expression("a", "In")]), path="spec.sel"
        )
    with pytest.raises(InvalidArgumentError, match=r"matchExpressions\[0\]\.values: Forbidden"):
        selector_from_label_selector({}, [Expression("a", "Exists", ["v"])])
    assert validate_label_selector(None, [Expression("b", "In")])[0][0] == (
        "matchExpressions[0].values"
    )


# --- properties ----------------------------------------------------------------------------

_ALNUM = "abcxyzABZ019"
_name = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(_ALNUM),
    st.text(_ALNUM + "-_.", max_size=8),
    st.sampled_from(_ALNUM),
) | st.sampled_from([*_ALNUM, "in", "notin"])
_dns_label = st.builds(
    lambda end, middle: end + middle + end,
    st.sampled_from("abz09"),
    st.text("abz09-", max_size=6),
)
_prefix = st.lists(_dns_label, min_size=1, max_size=3).map(".".join)
_keys = st.one_of(_name, st.builds(lambda p, n: f"{p}/{n}", _prefix, _name))
_values = st.one_of(st.just(""), _name)
_integers = st.integers(0, 2**63 - 1).map(str)


@st.composite
def _requirements(draw: st.DrawFn) -> Requirement:
    key = draw(_keys)
    operator = draw(st.sampled_from(list(Operator)))
    if operator in (Operator.IN, Operator.NOT_IN):
        values = draw(st.lists(_values, min_size=1, max_size=4))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        values = []
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        values = [draw(_integers)]
    else:
        values = [draw(_values)]
    return Requirement(key, operator, values)


@given(st.lists(_requirements(), max_size=6))
def test_parse_of_str_round_trips(requirements: list[Requirement]) -> None:
    selector = Selector(requirements)
    assert parse_label_selector(str(selector)) == selector


@given(st.lists(_requirements(), max_size=6), st.dictionaries(_keys, _values, max_size=6))
def test_selector_is_the_and_of_its_requirements(
    requirements: list[Requirement], labels: dict[str, str]
) -> None:
    selector = Selector(requirements)
    assert selector.matches(labels) == all(r.matches(labels) for r in requirements)
