"""Quantity against Kubernetes' known behaviour: parsing, canonical text, arithmetic, limits.

The expected values in the tables are facts of Kubernetes' resource.Quantity (value and format
after parsing, the text String() writes); the property tests check the algebra against an
independent reference built on ``fractions.Fraction``.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.quantity import Quantity, QuantityFormat, parse_quantity

DSI = QuantityFormat.DECIMAL_SI
BSI = QuantityFormat.BINARY_SI
DEX = QuantityFormat.DECIMAL_EXPONENT
INT64_MAX = 2**63 - 1

# --- parsing: exact value and format --------------------------------------------------------

PARSE_TABLE = [
    ("0", 0, DSI),
    ("0n", 0, DSI),
    ("0m", 0, DSI),
    ("0Ki", 0, BSI),
    ("0Mi", 0, BSI),
    ("0G", 0, DSI),
    ("0Ti", 0, BSI),
    ("1", 1, DSI),
    ("1Ki", 1024, BSI),
    ("7Mi", 7 * 2**20, BSI),
    ("6Gi", 6 * 2**30, BSI),
    ("5Ti", 5 * 2**40, BSI),
    ("4Pi", 4 * 2**50, BSI),
    ("3Ei", 3 * 2**60, BSI),
    ("5n", Fraction(5, 10**9), DSI),
    ("4u", Fraction(4, 10**6), DSI),
    ("3m", Fraction(3, 1000), DSI),
    ("50k", 50_000, DSI),
    ("7M", 7 * 10**6, DSI),
    ("6G", 6 * 10**9, DSI),
    ("40T", 40 * 10**12, DSI),
    ("2P", 2 * 10**15, DSI),
    ("1E", 10**18, DSI),
    ("12E", 12 * 10**18, DSI),
    ("1E-3", Fraction(1, 1000), DEX),
    ("1e3", 1000, DEX),
    ("1E6", 10**6, DEX),
    ("1e14", 10**14, DEX),
    ("1.3E+6", 1_300_000, DEX),
    ("1.53E12", 153 * 10**10, DEX),
    ("0.5e-2", Fraction(5, 1000), DEX),
    ("100.035k", 100_035, DSI),
    ("0.0005k", Fraction(1, 2), DSI),
    ("0.00500", Fraction(5, 1000), DSI),
    ("10.035M", 10_035_000, DSI),
    ("6.987654321G", 6_987_654_321, DSI),
    ("1.01E", 101 * 10**16, DSI),
    # finer than a nano rounds up, away from zero
    ("3.001n", Fraction(4, 10**9), DSI),
    ("1.1E-9", Fraction(2, 10**9), DEX),
    ("0.0000000001", Fraction(1, 10**9), DSI),
    ("0.00000000050", Fraction(1, 10**9), DSI),
    ("0.9n", Fraction(1, 10**9), DSI),
    ("0.00000012345", Fraction(124, 10**9), DSI),
    ("1e-1000000000", Fraction(1, 10**9), DEX),
    # binary amounts are capped at the largest int64
    ("8Ei", INT64_MAX, BSI),
    ("9Ei", INT64_MAX, BSI),
    ("9223372036854775807Ki", INT64_MAX, BSI),
    # fractional binary amounts are exact; between 0 and 1 they turn DecimalSI
    ("100.035Ki", Fraction(10243584, 100), BSI),
    ("0.5Mi", 2**19, BSI),
    ("0.05Gi", Fraction(536870912, 10), BSI),
    ("0.000000000001Ki", Fraction(2, 10**9), DSI),
    ("0.0009765625Ki", 1, BSI),
    # Kubernetes' grammar allows a bare point on either side
    (".001", Fraction(1, 1000), DSI),
    ("1.", 1, DSI),
    ("1.G", 10**9, DSI),
    ("+1", 1, DSI),
    ("-0", 0, DSI),
    ("9999999999999999999", 9999999999999999999, DSI),
]


@pytest.mark.parametrize(("text", "expected", "form"), PARSE_TABLE)
def test_parse_value_and_format(text: str, expected: int | Fraction, form: QuantityFormat) -> None:
    quantity = Quantity(text)
    assert quantity.as_fraction() == expected
    assert quantity.format is form


@pytest.mark.parametrize(("text", "expected", "form"), PARSE_TABLE)
def test_parse_negated_and_explicit_plus(
    text: str, expected: int | Fraction, form: QuantityFormat
) -> None:
    body = text.lstrip("+-")
    assert Quantity("-" + body).as_fraction() == -Quantity(body).as_fraction()
    assert Quantity("-" + body).format is Quantity(body).format
    assert Quantity("+" + body).as_fraction() == Quantity(body).as_fraction()


# --- canonical text: what Kubernetes' String() writes -----------------------------------------

CANONICAL_TABLE = [
    ("100m", "100m"),
    ("1500m", "1500m"),
    ("1.5", "1500m"),
    ("1Gi", "1Gi"),
    ("1024Mi", "1Gi"),
    ("307200Ki", "300Mi"),
    ("1025024Mi", "1001Gi"),
    ("1024Gi", "1Ti"),
    ("1.5Gi", "1536Mi"),
    ("2e3", "2e3"),
    ("1000", "1k"),
    ("0.1", "100m"),
    ("128974848", "128974848"),
    ("129e6", "129e6"),
    ("123Mi", "123Mi"),
    ("0.0000000001", "1n"),
    ("0", "0"),
    ("00", "0"),
    ("0Gi", "0"),
    ("1000M", "1G"),
    ("0.001T", "1G"),
    ("1000u", "1m"),
    ("1.08", "1080m"),
    ("1080000000n", "1080m"),
    (".001e12", "1e9"),
    ("0.001e0", "1e-3"),
    ("1000e-12", "1e-9"),
    ("12e5", "1200e3"),
    ("0.5", "500m"),
    ("0.5Ki", "512"),
    ("1023Ki", "1023Ki"),
    (".001Ki", "1024m"),
    (".000001Ki", "1024u"),
    (".000000001Ki", "1024n"),
    (".000000000001Ki", "2n"),
    ("100.035Ki", "102435840m"),
    ("9Ei", "9223372036854775807"),
    ("1000000000000000000", "1E"),
    ("1.0E", "1E"),
    ("10000000000000000000", "10E"),
    ("9999999999999999999000m", "9999999999999999999"),
    ("999999999999999999.1", "999999999999999999100m"),
    ("1.0000000000000000001E", "1000000000000000000100m"),
    ("1000E", "1e21"),
    ("1e-1000000000", "1e-9"),
]


@pytest.mark.parametrize(("text", "expected"), CANONICAL_TABLE)
def test_canonical(text: str, expected: str) -> None:
    assert Quantity(text).canonical() == expected
    assert Quantity(text).canonical() == expected  # the cached answer is the same
    assert str(Quantity(text)) == text


@pytest.mark.parametrize(("text", "expected"), CANONICAL_TABLE)
def test_canonical_of_negated(text: str, expected: str) -> None:
    negated = -Quantity(text)
    assert negated.canonical() == ("0" if expected == "0" else "-" + expected)
    assert Quantity("-" + text).canonical() == negated.canonical()


@pytest.mark.parametrize(
    "text", ["+1", "01", "1E3", "1e+3", "1E+6", "1e03", "1e0", "1.", "1.Gi", "007Mi", "-1", "+5m"]
)
def test_canonical_keeps_text_kubernetes_judged_canonical(text: str) -> None:
    # Kubernetes' parser remembers these strings and String() hands them back unchanged.
    assert Quantity(text).canonical() == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1.0", "1"),
        ("+1000", "1k"),
        ("01.5", "1500m"),
        ("1E+7", "10e6"),
        ("+8Gi", "8Gi"),
        ("-0", "0"),
        ("1.5Gi", "1536Mi"),
    ],
)
def test_canonical_recomputes_text_kubernetes_does_not_keep(text: str, expected: str) -> None:
    assert Quantity(text).canonical() == expected


def test_arithmetic_results_forget_the_text() -> None:
    one = Quantity("+1")
    assert str(one + Quantity("0")) == "1"
    assert str(-Quantity("01")) == "-1"
    assert str(abs(Quantity("-1.0"))) == "1"


# --- constructors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "form", "expected"),
    [
        (1, DSI, "1"),
        (1000, DSI, "1k"),
        (1234000, DSI, "1234k"),
        (1024, BSI, "1Ki"),
        (1024 * 1024, "BinarySI", "1Mi"),
        (1000000, DEX, "1e6"),
        (-5, DSI, "-5"),
        (0, BSI, "0"),
    ],
)
def test_from_int(value: int, form: str, expected: str) -> None:
    quantity = Quantity.from_int(value, form)
    assert quantity.canonical() == expected
    assert str(quantity) == expected
    assert Quantity(expected).value() == value


@pytest.mark.parametrize(
    ("value", "form", "expected"),
    [
        (1, DSI, "1m"),
        (1000, DSI, "1"),
        (1234000, DSI, "1234"),
        (1024, BSI, "1024m"),  # not a whole number: written as DecimalSI
        (1024 * 1024, BSI, "1048576m"),
        (1000000, DEX, "1e3"),
    ],
)
def test_from_milli(value: int, form: str, expected: str) -> None:
    quantity = Quantity.from_milli(value, form)
    assert quantity.canonical() == expected
    assert Quantity(expected).milli_value() == value


def test_numbers_from_yaml() -> None:
    assert Quantity(1) == Quantity("1") and Quantity(1).format is DSI
    assert Quantity(2).canonical() == "2"
    assert Quantity(1000).canonical() == "1k"
    assert Quantity(1.5).canonical() == "1500m" and str(Quantity(1.5)) == "1500m"
    assert Quantity(0.1) == Quantity("100m")
    assert Quantity(1e16) == Quantity("1e16")
    assert Quantity(-0.0).is_zero()
    assert Quantity(10**30) == Quantity("1e30")


def test_str_subclass_text_is_kept_as_plain_str() -> None:
    class Tagged(str):
        def __str__(self) -> str:
            return "tagged"

    quantity = Quantity(Tagged("250m"))
    assert str(quantity) == "250m" and type(str(quantity)) is str
    assert quantity == Quantity("250m")


def test_quantity_passes_through_and_parse_quantity() -> None:
    quantity = Quantity("128Mi")
    assert Quantity(quantity) is quantity
    assert parse_quantity(quantity) is quantity
    assert parse_quantity("128Mi") == quantity
    assert parse_quantity(3) == Quantity("3")


# --- bad input ------------------------------------------------------------------------------

BAD_TEXT = [
    ("", "empty"),
    ("1.2.3", "more than one decimal point"),
    ("1.1.M", "more than one decimal point"),
    ("1Qi", "'Qi' is not a known suffix"),
    ("1ki", "'ki' is not a known suffix"),
    ("0.1mi", "'mi' is not a known suffix"),
    ("0.1am", "'am' is not a known suffix"),
    ("1+1.0M", "'+1.0M' is not a known suffix"),
    ("1i", "'i' is not a known suffix"),
    ("-3.01i", "'i' is not a known suffix"),
    ("-3.01e-", "'e-' is not a known suffix"),
    ("1e", "'e' is not a known suffix"),
    ("1Mi3", "'Mi3' is not a known suffix"),
    (" 1", "whitespace"),
    ("1 ", "whitespace"),
    ("1 Gi", "whitespace"),
    ("1\n", "whitespace"),
    ("--1", "does not start with a number"),
    ("aoeu", "does not start with a number"),
    (".5i", "'i' is not a known suffix"),
    ("\u0661", "does not start with a number"),  # an Arabic-Indic digit one
    (".", "no digits"),
    ("+", "no digits"),
    ("-", "no digits"),
    ("Gi", "no digits"),
    ("e3", "no digits"),
    ("1e99999999999", "exponent is outside"),
    ("1e2147483648", "exponent is outside"),
    ("1e-2147483649", "exponent is outside"),
    ("1e1000000000", "magnitude is 1e1000 or more"),
    ("1e1000", "magnitude is 1e1000 or more"),
    ("0.01e1002", "magnitude is 1e1000 or more"),
    ("1" + "0" * 999 + "e1", "magnitude is 1e1000 or more"),
    ("1" * 1001, "more than 1000 digits"),
    ("0." + "0" * 999 + "1", "more than 1000 digits"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_TEXT)
def test_bad_text_is_refused_with_a_clear_message(text: str, problem: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        Quantity(text)
    message = str(caught.value)
    assert repr(text) in message
    assert problem in message
    assert "for example '500m'" in message


def test_limits_are_inclusive_where_they_should_be() -> None:
    assert Quantity("9" * 1000).as_fraction() == int("9" * 1000)
    assert Quantity("1e999").as_fraction() == 10**999
    assert Quantity("1e-2147483648").as_fraction() == Fraction(1, 10**9)
    assert Quantity("0." + "0" * 998 + "1").canonical() == "1n"
    assert Quantity("0" * 1000).is_zero()


@pytest.mark.parametrize("value", [True, False, None, [1], Decimal("1"), Fraction(1, 2), b"1"])
def test_wrong_types_are_refused(value: object) -> None:
    with pytest.raises(InvalidTypeError, match="must be a string or a number"):
        Quantity(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(InvalidArgumentError, match="not a finite number"):
        Quantity(value)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown quantity format 'Binary'"):
        Quantity.from_int(1, "Binary")
    with pytest.raises(InvalidTypeError, match="expected an int"):
        Quantity.from_int(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="expected an int"):
        Quantity.from_milli(True)


# --- accessors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "milli"),
    [
        ("1", 1, 1000),
        ("1100m", 2, 1100),
        ("-1100m", -2, -1100),
        ("1n", 1, 1),
        ("-1n", -1, -1),
        ("0", 0, 0),
        ("1Mi", 1048576, 1048576000),
        ("9.01", 10, 9010),
        ("1e20", 10**20, 10**23),  # Go's int64 would overflow; Python ints do not
    ],
)
def test_value_and_milli_value_round_away_from_zero(text: str, value: int, milli: int) -> None:
    assert Quantity(text).value() == value
    assert Quantity(text).milli_value() == milli


@pytest.mark.parametrize(
    ("source_scale", "target_scale", "expected"),
    [
        (-9, -9, 1),
        (-9, -6, 1),
        (-9, 0, 1),
        (-6, -9, 1000),
        (-3, -9, 10**6),
        (0, -3, 1000),
        (0, 0, 1),
        (2, -2, 10**4),
        (0, -12, 10**12),
    ],
)
def test_scaled_value(source_scale: int, target_scale: int, expected: int) -> None:
    assert Quantity(f"1e{source_scale}").scaled_value(target_scale) == expected


def test_scaled_value_rounds_and_refuses_absurd_scales() -> None:
    assert Quantity("9.01").scaled_value(-1) == 91
    assert Quantity("-9.01").scaled_value(-1) == -91
    assert Quantity("9.01").scaled_value(2) == 1
    assert Quantity("9.01").scaled_value(1500) == 1
    with pytest.raises(InvalidArgumentError, match="scale 1000000 is out of range"):
        Quantity("1").scaled_value(1_000_000)


def test_sign_zero_fraction_float() -> None:
    assert [Quantity(t).sign() for t in ("-5m", "0", "0Ki", "5m")] == [-1, 0, 0, 1]
    assert Quantity("0Ki").is_zero() and not Quantity("1n").is_zero()
    assert Quantity("1.1Ki").as_fraction() == Fraction(11264, 10)
    assert float(Quantity("1.1Ki")) == 1126.4
    assert float(Quantity("2Gi")) == 2147483648.0
    assert float(Quantity("100m")) == 0.1
    assert float(Quantity("1e500")) == math.inf
    assert float(Quantity("-1e500")) == -math.inf


# --- arithmetic and formats -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "total", "difference", "form"),
    [
        ("10", "1e1", "20", "0", DSI),
        ("10", "1Ki", "1034", "-1014", DSI),
        ("1Ki", "10", "1034", "1014", BSI),
        ("0", "50", "50", "-50", DSI),
        ("0", "1Gi", "1Gi", "-1Gi", BSI),
        ("0Ki", "100m", "100m", "-100m", DSI),
        ("100m", "0", "100m", "100m", DSI),
        ("1Gi", "0", "1Gi", "1Gi", BSI),
        ("1e3", "1k", "2e3", "0", DEX),
        ("500m", "1.5", "2", "-1", DSI),
    ],
)
def test_add_and_sub_keep_the_left_format_unless_it_is_zero(
    left: str, right: str, total: str, difference: str, form: QuantityFormat
) -> None:
    assert (Quantity(left) + Quantity(right)).canonical() == total
    assert (Quantity(left) - Quantity(right)).canonical() == difference
    assert (Quantity(left) + Quantity(right)).format is form


def test_multiplication_negation_abs() -> None:
    assert (Quantity("10") * 10).canonical() == "100"
    assert (3 * Quantity("1Gi")).canonical() == "3Gi"
    assert (Quantity("-50") * -50).canonical() == "2500"
    assert (Quantity("1Gi") * 0).format is BSI
    assert (Quantity("1Ki") * -1).canonical() == "-1Ki"
    assert (-Quantity("9.01")).canonical() == "-9010m"
    assert abs(Quantity("-1.5Gi")).canonical() == "1536Mi"
    assert +Quantity("5") == Quantity("5")
    assert sum([Quantity("100m"), Quantity("1"), Quantity("900m")]) == Quantity("2")
    with pytest.raises(TypeError):
        Quantity("1") * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        Quantity("1") * True  # type: ignore[operator]
    with pytest.raises(TypeError):
        Quantity("1") + 1  # type: ignore[operator]


def test_binary_amounts_past_the_parse_cap_are_written_in_decimal() -> None:
    huge = Quantity("4Ei") + Quantity("4Ei")  # 2**63: one past what BinarySI text can hold
    assert huge.format is BSI
    assert huge.canonical() == str(2**63)
    assert Quantity(huge.canonical()) == huge
    assert (Quantity("1Ei") * 1024).canonical() == str(2**70)


def test_arithmetic_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="out of range"):
        Quantity("1e999") * 10
    with pytest.raises(InvalidArgumentError, match="out of range"):
        Quantity("9e999") + Quantity("9e999")
    with pytest.raises(InvalidArgumentError, match="out of range"):
        Quantity.from_int(10**1000)


# --- comparison, hashing, immutability ------------------------------------------------------


def test_comparison_across_formats() -> None:
    assert Quantity("1") == Quantity("1000m") == Quantity("1e0") == Quantity("0.001k")
    assert Quantity("1Ki") == Quantity("1024") == Quantity("1.024k")
    assert Quantity("10000T") > Quantity("100Gi")
    assert Quantity("100m") > Quantity("50m") >= Quantity("50m")
    assert Quantity("1Mi") < Quantity("1.1M") <= Quantity("1100k")
    assert Quantity("-1") < Quantity("0") < Quantity("1n")
    assert Quantity("1") != Quantity("1001m")
    assert Quantity("1") != 1
    texts = ["1Gi", "1G", "999M", "1e9", "100Mi", "-2", "0", "1n"]
    ordered = sorted(texts, key=Quantity)
    assert ordered == ["-2", "0", "1n", "100Mi", "999M", "1G", "1e9", "1Gi"]
    with pytest.raises(TypeError):
        _ = Quantity("1") < 2  # type: ignore[operator]


def test_hash_is_consistent_with_equality() -> None:
    same = {Quantity(t) for t in ("1", "1000m", "1.0", "0.001k", "1e0", "1000000000n")}
    assert len(same) == 1
    limits = {Quantity("1Gi"): "memory"}
    assert limits[Quantity("1073741824")] == "memory"
    assert hash(Quantity("1024")) == hash(Quantity("1Ki"))


def test_immutable_copyable_picklable() -> None:
    quantity = Quantity("+1.50Gi")
    with pytest.raises(AttributeError, match="immutable"):
        quantity._nanos = 5  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del quantity._text
    with pytest.raises(AttributeError):
        quantity.extra = 1  # type: ignore[attr-defined]
    assert copy.copy(quantity) is quantity and copy.deepcopy(quantity) is quantity
    restored = pickle.loads(pickle.dumps(quantity))
    assert restored == quantity
    assert str(restored) == "+1.50Gi"
    assert restored.format is BSI
    assert restored.canonical() == quantity.canonical() == "1536Mi"
    assert repr(quantity) == "Quantity('+1.50Gi')"


def test_format_is_a_string_enum() -> None:
    assert Quantity("1Ki").format == "BinarySI"
    assert Quantity("1k").format == "DecimalSI"
    assert Quantity("1e3").format == "DecimalExponent"


# --- properties -----------------------------------------------------------------------------

_DECIMAL_POWERS = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}
_DECIMAL_POWERS.update({"P": 15, "E": 18})
_BINARY_POWERS = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}


@st.composite
def quantity_texts(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    whole = draw(st.text("0123456789", max_size=22))
    fraction = draw(st.none() | st.text("0123456789", max_size=14))
    if not whole and not fraction:
        whole = draw(st.text("0123456789", min_size=1, max_size=5))
    suffix = draw(
        st.sampled_from([*_DECIMAL_POWERS, *_BINARY_POWERS])
        | st.builds(
            lambda e, sign, exp: f"{e}{sign}{exp}",
            st.sampled_from("eE"),
            st.sampled_from(["", "+", "-"]),
            st.integers(0, 40),
        )
    )
    return sign + whole + ("" if fraction is None else "." + fraction) + suffix


def reference_value(text: str) -> Fraction:
    """Kubernetes' parse rules written plainly with Fraction: the expected exact value."""
    match = re.fullmatch(r"([+-]?)([0-9.]+)(.*)", text)
    assert match is not None
    sign, number, suffix = match.groups()
    amount = Fraction(number if number[0] != "." else "0" + number)
    binary = suffix in _BINARY_POWERS
    if binary:
        amount *= 2 ** _BINARY_POWERS[suffix]
    elif suffix in _DECIMAL_POWERS:
        amount *= Fraction(10) ** _DECIMAL_POWERS[suffix]
    else:
        amount *= Fraction(10) ** int(suffix[1:])
    nanos = math.ceil(amount * 10**9)
    if binary:
        nanos = min(nanos, INT64_MAX * 10**9)
    return Fraction(-nanos if sign == "-" else nanos, 10**9)


quantities = quantity_texts().map(Quantity)


@given(quantity_texts())
def test_parse_matches_the_reference_and_keeps_the_text(text: str) -> None:
    quantity = Quantity(text)
    assert quantity.as_fraction() == reference_value(text)
    assert str(quantity) == text


@given(quantities)
def test_canonical_parses_back_equal_and_is_stable(quantity: Quantity) -> None:
    canonical = quantity.canonical()
    again = Quantity(canonical)
    assert again == quantity
    assert again.canonical() == canonical
    computed = (quantity + Quantity("0")).canonical()  # arithmetic drops the parsed text
    assert "." not in computed and not computed.startswith("+")
    assert Quantity(computed) == quantity


@given(quantities, quantities)
def test_add_then_subtract_restores_the_value(a: Quantity, b: Quantity) -> None:
    assert a + b - b == a
    assert (a + b).as_fraction() == a.as_fraction() + b.as_fraction()
    assert (a - b) == -(b - a)


@given(quantities, quantities)
def test_ordering_is_total_and_matches_fractions(a: Quantity, b: Quantity) -> None:
    fa, fb = a.as_fraction(), b.as_fraction()
    assert (a < b, a <= b, a == b, a >= b, a > b) == (
        fa < fb,
        fa <= fb,
        fa == fb,
        fa >= fb,
        fa > fb,
    )
    assert sum([a < b, a == b, a > b]) == 1
    if a == b:
        assert hash(a) == hash(b)


@given(quantities, st.integers(-1000, 1000))
def test_multiplication_and_rounding_accessors(quantity: Quantity, factor: int) -> None:
    assert (quantity * factor).as_fraction() == quantity.as_fraction() * factor
    exact = quantity.as_fraction()
    away = math.ceil(abs(exact))
    assert quantity.value() == (away if exact >= 0 else -away)
    milli_away = math.ceil(abs(exact) * 1000)
    assert quantity.milli_value() == (milli_away if exact >= 0 else -milli_away)


@given(
    st.integers(-(10**30), 10**30), st.sampled_from(["DecimalSI", "BinarySI", "DecimalExponent"])
)
def test_from_int_round_trips(value: int, form: str) -> None:
    quantity = Quantity.from_int(value, form)
    assert quantity.value() == value
    assert Quantity(quantity.canonical()) == quantity
