"""IntOrString helpers against Kubernetes' intstr and Deployment fencepost behaviour."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.intstr import (
    IntOrString,
    get_scaled_value_from_int_or_percent,
    get_value_from_int_or_percent,
    is_percent,
    parse_percent,
    resolve_fenceposts,
)


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (5, 10, True, 5),
        (5, 10, False, 5),
        (0, 10, True, 0),
        (15, 10, True, 15),  # an int is taken as it is, even past the total
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("0%", 10, True, 0),
        ("0%", 10, False, 0),
        ("100%", 7, True, 7),
        ("100%", 7, False, 7),
        ("50%", 3, True, 2),
        ("50%", 3, False, 1),
        ("1%", 1, True, 1),
        ("1%", 1, False, 0),
        ("1%", 0, True, 0),
        ("30%", 10, True, 3),
        ("200%", 3, False, 6),
        ("+10%", 10, True, 1),
        ("007%", 100, False, 7),
        ("-10%", 15, True, -1),  # ceil(-1.5)
        ("-10%", 15, False, -2),  # floor(-1.5)
    ],
)
def test_scaled_value_rounds_both_ways(
    value: IntOrString, total: int, round_up: bool, expected: int
) -> None:
    assert get_scaled_value_from_int_or_percent(value, total, round_up) == expected


@pytest.mark.parametrize(
    "value", ["25", "abc", "", "%", "25 %", " 25%", "25% ", "2.5%", "25%%", "1_0%", "\u0661%"]
)
def test_scaled_value_refuses_strings_that_are_not_percentages(value: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        get_scaled_value_from_int_or_percent(value, 10, True)
    assert repr(value) in str(caught.value)


def test_errors_name_the_field_and_refuse_wrong_types() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^spec.x: invalid value 'ten%'"):
        get_scaled_value_from_int_or_percent("ten%", 10, True, field="spec.x")
    with pytest.raises(InvalidArgumentError, match="no value given"):
        get_scaled_value_from_int_or_percent(None, 10, True)  # type: ignore[arg-type]
    for wrong in (1.5, True, [1]):
        with pytest.raises(InvalidTypeError, match="expected an int or a percentage"):
            get_scaled_value_from_int_or_percent(wrong, 10, True)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="total must be an int"):
        get_scaled_value_from_int_or_percent("5%", 10.0, True)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="out of the 64-bit range"):
        get_scaled_value_from_int_or_percent("9223372036854775808%", 10, True)
    with pytest.raises(InvalidArgumentError, match="expected an integer"):
        get_scaled_value_from_int_or_percent("1" * 5000 + "%", 10, True)


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (3, 10, True, 3),
        ("25%", 10, True, 3),
        ("25", 10, True, 3),  # the lenient variant reads any string as a percentage
        ("25", 10, False, 2),
        ("2%5", 100, False, 25),  # every "%" is dropped
        ("%50%", 4, True, 2),
    ],
)
def test_lenient_value_variant(
    value: IntOrString, total: int, round_up: bool, expected: int
) -> None:
    assert get_value_from_int_or_percent(value, total, round_up) == expected


@pytest.mark.parametrize("value", ["abc", "", "%", "2.5"])
def test_lenient_variant_still_refuses_non_numbers(value: str) -> None:
    with pytest.raises(InvalidArgumentError, match=repr(value).replace(".", r"\.")):
        get_value_from_int_or_percent(value, 10, True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("25%", True),
        ("0%", True),
        ("100%", True),
        ("-5%", True),
        ("25", False),
        ("%", False),
        ("2.5%", False),
        ("25 %", False),
        (25, False),
        (None, False),
    ],
)
def test_is_percent(value: object, expected: bool) -> None:
    assert is_percent(value) is expected


def test_parse_percent() -> None:
    assert parse_percent("25%") == 25
    assert parse_percent("0%") == 0
    assert parse_percent("-3%") == -3
    with pytest.raises(InvalidArgumentError, match="must be a percentage"):
        parse_percent("25")
    with pytest.raises(InvalidTypeError, match="expected a percentage string"):
        parse_percent(25)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("max_surge", "max_unavailable", "desired", "expected"),
    [
        # the cases Kubernetes' deployment util documents
        ("0%", "1%", 2, (0, 1)),
        ("0%", "1%", 1, (0, 1)),
        ("1%", "25%", 2, (1, 0)),
        ("1%", "25%", 1, (1, 0)),
        ("1%", "0%", 2, (1, 0)),
        ("1%", "0%", 1, (1, 0)),
        # the default rolling update: 25% / 25%
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 1, (1, 0)),
        ("25%", "25%", 0, (0, 1)),
        (None, None, 5, (0, 1)),
        (0, 0, 3, (0, 1)),
        (2, 0, 5, (2, 0)),
        (0, 3, 5, (0, 3)),
        (1, "50%", 5, (1, 2)),
    ],
)
def test_resolve_fenceposts(
    max_surge: IntOrString | None,
    max_unavailable: IntOrString | None,
    desired: int,
    expected: tuple[int, int],
) -> None:
    assert resolve_fenceposts(max_surge, max_unavailable, desired) == expected


def test_resolve_fenceposts_names_the_bad_field() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^maxSurge: invalid value 'x'"):
        resolve_fenceposts("x", 1, 3)
    with pytest.raises(InvalidArgumentError, match=r"^maxUnavailable: invalid value '25'"):
        resolve_fenceposts(1, "25", 3)


@given(st.integers(0, 1000), st.integers(0, 10**6), st.booleans())
def test_exact_rounding_agrees_with_kubernetes_float_formula(
    percent: int, total: int, round_up: bool
) -> None:
    # Kubernetes computes ceil/floor(float64(percent) * float64(total) / 100).
    floating = float(percent) * float(total) / 100
    expected = math.ceil(floating) if round_up else math.floor(floating)
    assert get_scaled_value_from_int_or_percent(f"{percent}%", total, round_up) == expected


@given(st.integers(0, 100), st.integers(0, 100), st.integers(0, 10**4))
def test_fenceposts_never_both_zero(surge: int, unavailable: int, desired: int) -> None:
    resolved_surge, resolved_unavailable = resolve_fenceposts(
        f"{surge}%", f"{unavailable}%", desired
    )
    assert (resolved_surge, resolved_unavailable) != (0, 0)
    assert resolved_surge == math.ceil(surge * desired / 100)
    if resolved_surge:
        assert resolved_unavailable == unavailable * desired // 100
    else:
        assert resolved_unavailable == max(1, unavailable * desired // 100)
