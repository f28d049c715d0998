"""IntOrString (Kubernetes' ``intstr``) as plain ``int | str``, and the percent arithmetic on it.

Kubernetes wraps an int-or-string in a struct so Go can tell ``3`` from ``"3"``; Python values
already carry their type, so a field such as ``maxSurge`` simply holds an ``int`` or a ``str``
and the JSON round trip needs no wrapper. What remains is the arithmetic the Deployment
controller does with such values: "25%" of a replica count, rounded up or down, and the
fencepost rule that keeps a rolling update from stalling.

Percent arithmetic is done in exact integers; Kubernetes goes through float64, which gives the
same answers for any realistic replica count and percentage.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

from kcore.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "IntOrString",
    "get_scaled_value_from_int_or_percent",
    "get_value_from_int_or_percent",
    "is_percent",
    "parse_percent",
    "resolve_fenceposts",
]

IntOrString: TypeAlias = int | str

# What Go's strconv.Atoi accepts: an optional sign and ASCII digits (no spaces, no underscores).
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def _where(field: str | None) -> str:
    return f"{field}: " if field else ""


def _atoi(text: str, original: str, field: str | None) -> int:
    """Go's strconv.Atoi: a signed decimal int64, or an error naming the original value."""
    if _INTEGER.fullmatch(text) is None or len(text.lstrip("+-").lstrip("0")) > 19:
        raise InvalidArgumentError(
            f"{_where(field)}invalid value {original!r}: expected an integer or a percentage "
            "such as '25%'"
        )
    number = int(text)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise InvalidArgumentError(
            f"{_where(field)}invalid value {original!r}: the number is out of the 64-bit range"
        )
    return number


def is_percent(value: object) -> bool:
    """True for a string of the form ``<integer>%`` ("25%", "0%", "-5%"); False otherwise."""
    return (
        isinstance(value, str)
        and value.endswith("%")
        and _INTEGER.fullmatch(value, 0, len(value) - 1) is not None
    )


def parse_percent(value: str, *, field: str | None = None) -> int:
    """The integer in ``"<integer>%"``: ``parse_percent("25%") == 25``; anything else is refused."""
    if not isinstance(value, str):
        raise InvalidTypeError(
            f"{_where(field)}expected a percentage string such as '25%', "
            f"got {type(value).__name__} ({value!r})"
        )
    if not value.endswith("%"):
        raise InvalidArgumentError(
            f"{_where(field)}invalid value {value!r}: a string value must be a percentage "
            "such as '25%'"
        )
    return _atoi(value[:-1], value, field)


def _percent_of(percent: int, total: int, round_up: bool) -> int:
    if type(total) is not int:
        raise InvalidTypeError(f"total must be an int, got {type(total).__name__} ({total!r})")
    product = percent * total
    return -(-product // 100) if round_up else product // 100


def _check_int_or_string(value: object, field: str | None) -> None:
    if value is None:
        raise InvalidArgumentError(
            f"{_where(field)}no value given: expected an int or a percentage such as '25%'"
        )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidTypeError(
            f"{_where(field)}expected an int or a percentage string such as '25%', "
            f"got {type(value).__name__} ({value!r})"
        )


def get_scaled_value_from_int_or_percent(
    value: IntOrString, total: int, round_up: bool, *, field: str | None = None
) -> int:
    """An int as itself, or ``"<n>%"`` of ``total`` rounded up or down (Kubernetes' function).

    ``get_scaled_value_from_int_or_percent("25%", 10, True) == 3``; a string that is not a
    percentage ("25", "abc") raises ``InvalidArgumentError`` naming it (and ``field`` if given).
    """
    _check_int_or_string(value, field)
    if isinstance(value, int):
        return value
    return _percent_of(parse_percent(value, field=field), total, round_up)


def get_value_from_int_or_percent(
    value: IntOrString, total: int, round_up: bool, *, field: str | None = None
) -> int:
    """The older, lenient Kubernetes variant: every string is a percentage.

    It drops every "%" in the string and reads the rest as the percentage, so ``"25"`` means
    25% here (the stricter ``get_scaled_value_from_int_or_percent`` refuses it).
    """
    _check_int_or_string(value, field)
    if isinstance(value, int):
        return value
    return _percent_of(_atoi(value.replace("%", ""), value, field), total, round_up)


def resolve_fenceposts(
    max_surge: IntOrString | None, max_unavailable: IntOrString | None, desired: int
) -> tuple[int, int]:
    """(surge, unavailable) for a rolling update of ``desired`` replicas, as Kubernetes does.

    Surge percentages round up and unavailable ones round down; a missing value counts as 0.
    If both come out 0 the update could never move, so unavailable becomes 1.
    """
    surge = get_scaled_value_from_int_or_percent(
        0 if max_surge is None else max_surge, desired, True, field="maxSurge"
    )
    unavailable = get_scaled_value_from_int_or_percent(
        0 if max_unavailable is None else max_unavailable, desired, False, field="maxUnavailable"
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable
