"""Kubernetes' ``resource.Quantity``: exact resource amounts ("500m", "128Mi", "1e3") in Python.

A quantity is stored as one Python ``int`` counting nano-units, because Kubernetes itself keeps
nothing finer than 1n (it rounds finer input up, away from zero) and an int is exact, hashable
and fast. Next to the value the object keeps what Kubernetes keeps: the *format*
(``DecimalSI``, ``BinarySI``, ``DecimalExponent``) chosen by the suffix, which decides how the
value is written back, and the text it was parsed from.

Writing back follows Kubernetes' ``Quantity.String()`` exactly, including its habit of handing
back the parsed text unchanged when the parser's fast path judged it already canonical ("+1",
"01", "1E3" and "1." come back as written; "1.0" becomes "1"). ``str()`` goes further and always
returns the parsed text, so manifests round-trip byte for byte.

Where kcore parts from Kubernetes, on purpose:

* input must match Kubernetes' *documented* grammar, so it has at least one digit: the Go
  scanner also takes ".", "+", "-" and a bare suffix such as "Gi" as zero; kcore refuses them;
* a number part longer than 1000 digits, a value of 10^1000 or more, and an exponent outside
  int32 are refused: Go keeps "1e1000000000" symbolically, where an exact int would take
  hundreds of megabytes, and Go truncates a wider exponent to a wrong one. Arithmetic results
  obey the same bound, so ``canonical()`` always parses back; tiny values need no bound
  ("1e-1000000000" is 1n, as in Go);
* the int accessors (``value()`` ...) return exact Python ints where Go's int64 would overflow;
* a BinarySI value above 2^63-1 (only arithmetic makes one) is written in decimal, which parses
  back to the same value; Go writes such a value with a wrong or missing suffix, or one that
  its own parser caps.
"""

from __future__ import annotations

import enum
import math
import re
from fractions import Fraction
from typing import Final, final

from kcore.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["Quantity", "QuantityFormat", "parse_quantity"]


class QuantityFormat(enum.StrEnum):
    """How a quantity is written: the three formats Kubernetes knows (equal to their names)."""

    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi = 12 * 2^20
    DECIMAL_SI = "DecimalSI"  # 12M = 12 * 10^6


_DECIMAL_SI: Final = QuantityFormat.DECIMAL_SI
_BINARY_SI: Final = QuantityFormat.BINARY_SI
_DECIMAL_EXPONENT: Final = QuantityFormat.DECIMAL_EXPONENT

_NANO: Final = 10**9
_MAX_DIGITS: Final = 1000  # digits in the number part of a quantity's text
_MAX_MAGNITUDE: Final = 1000  # every quantity is below 10**_MAX_MAGNITUDE in magnitude
_LIMIT_NANOS: Final = 10 ** (_MAX_MAGNITUDE + 9)
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
# Kubernetes caps a parsed BinarySI amount at the largest int64, silently ("9Ei" is 2^63-1).
_BINARY_CAP_NANOS: Final = (2**63 - 1) * _NANO
_BINARY_LOW_NANOS: Final = 1024 * _NANO  # |v| below 1024 is written as DecimalSI
_POW10: Final[tuple[int, ...]] = tuple(10**k for k in range(40))

# Suffix -> (format, power): a power of ten for the decimal suffixes, of two for the binary ones.
_SUFFIXES: Final[dict[str | None, tuple[QuantityFormat, int]]] = {
    None: (_DECIMAL_SI, 0),
    "n": (_DECIMAL_SI, -9),
    "u": (_DECIMAL_SI, -6),
    "m": (_DECIMAL_SI, -3),
    "k": (_DECIMAL_SI, 3),
    "M": (_DECIMAL_SI, 6),
    "G": (_DECIMAL_SI, 9),
    "T": (_DECIMAL_SI, 12),
    "P": (_DECIMAL_SI, 15),
    "E": (_DECIMAL_SI, 18),
    "Ki": (_BINARY_SI, 10),
    "Mi": (_BINARY_SI, 20),
    "Gi": (_BINARY_SI, 30),
    "Ti": (_BINARY_SI, 40),
    "Pi": (_BINARY_SI, 50),
    "Ei": (_BINARY_SI, 60),
}
_DECIMAL_SUFFIX_FOR: Final = {p: s or "" for s, (f, p) in _SUFFIXES.items() if f is _DECIMAL_SI}
_BINARY_SUFFIXES: Final = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

# sign, integer digits, fraction digits (None without a point), SI suffix, e-exponent.
# [0-9] rather than \d: Python's \d also matches non-ASCII digits, which Kubernetes refuses.
_GRAMMAR: Final = re.compile(
    r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:([KMGTPE]i|[numkMGTPE])|[eE]([+-]?[0-9]+))?"
)
_NUMBER_PREFIX: Final = re.compile(r"[+-]?[0-9]*(?:\.[0-9]*)?")
_EXAMPLES: Final = "for example '500m', '2', '1.5Gi', '128Mi' or '1e3'"


def _invalid(text: object, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"invalid quantity {text!r}: {problem}; a quantity is a number with an optional "
        f"suffix (Ki Mi Gi Ti Pi Ei, n u m k M G T P E, or e<exponent>), {_EXAMPLES}"
    )


def _diagnose(text: str) -> InvalidArgumentError:
    """Say what is wrong with text the grammar refused (only on the error path)."""
    if not text:
        return _invalid(text, "it is empty")
    if any(c.isspace() for c in text):
        return _invalid(text, "it contains whitespace")
    number = _NUMBER_PREFIX.match(text)
    matched = number.group() if number else ""
    rest = text[len(matched) :]
    if not any(c in "0123456789" for c in matched):
        return _invalid(text, "it does not start with a number (optional sign, digits, fraction)")
    if rest.startswith("."):
        return _invalid(text, "it has more than one decimal point")
    return _invalid(text, f"{rest!r} is not a known suffix")


def _parse(text: str) -> tuple[int, QuantityFormat]:
    """Text -> (nano-units, format), with Kubernetes' rounding, capping and format rules."""
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        raise _diagnose(text)
    sign, whole, fraction, suffix, exponent = match.groups()
    digits = whole + fraction if fraction else whole
    if not digits:
        raise _invalid(text, "it has no digits" if text else "it is empty")
    if len(digits) > _MAX_DIGITS:
        raise _invalid(text, f"its number has more than {_MAX_DIGITS} digits")
    places = len(fraction) if fraction else 0
    if exponent is None:
        form, power = _SUFFIXES[suffix]
    else:
        form, power = _DECIMAL_EXPONENT, _parse_exponent(text, exponent)
    if form is _BINARY_SI:
        nanos = _binary_nanos(int(digits), places, power)
        if nanos < _NANO and nanos:
            form = _DECIMAL_SI  # Kubernetes' rule for binary amounts between 0 and 1
    else:
        nanos = _decimal_nanos(text, digits, power - places + 9)
    return (-nanos if sign == "-" else nanos), form


def _parse_exponent(text: str, exponent: str) -> int:
    if len(exponent.lstrip("+-").lstrip("0")) > 10:
        raise _invalid(text, "its exponent is outside the 32-bit range Kubernetes supports")
    power = int(exponent)
    if not _INT32_MIN <= power <= _INT32_MAX:
        raise _invalid(text, "its exponent is outside the 32-bit range Kubernetes supports")
    return power


def _pow10(exponent: int) -> int:
    return _POW10[exponent] if exponent < 40 else int(10**exponent)


def _decimal_nanos(text: str, digits: str, shift: int) -> int:
    """int(digits) * 10**shift rounded up to a whole number, never materialising a huge power."""
    if shift >= 0:
        if len(digits) + shift > _MAX_MAGNITUDE + 9:
            significant = digits.lstrip("0")
            if not significant:
                return 0
            if len(significant) + shift > _MAX_MAGNITUDE + 9:
                raise _invalid(text, f"its magnitude is 1e{_MAX_MAGNITUDE} or more")
        return int(digits) * _pow10(shift)
    drop = -shift
    if drop >= len(digits):  # below one nano: rounds up to 1n unless it is zero
        return 0 if digits.count("0") == len(digits) else 1
    kept, rest = digits[:-drop], digits[-drop:]
    return int(kept) + (rest.count("0") != len(rest))


def _binary_nanos(mantissa: int, places: int, power: int) -> int:
    scaled = mantissa << power
    if places <= 9:
        return min(scaled * _POW10[9 - places], _BINARY_CAP_NANOS)
    return min(-(-scaled // _pow10(places - 9)), _BINARY_CAP_NANOS)  # rounded up to whole nanos


def _keeps_text(text: str) -> bool:
    """Whether Kubernetes' parser remembers ``text`` as the quantity's string (its fast path).

    Mirrors the conditions of ParseQuantity: the amount fits int64 without rounding, and the
    text looks canonical (decimal: exponent a multiple of 3, no trailing "000", no leading 0
    once leading zeros are dropped; binary: an integer not divisible by 8).
    """
    if text == "0":
        return True
    match = _GRAMMAR.fullmatch(text)
    if match is None:
        return False
    _, whole, fraction, suffix, exponent = match.groups()
    number = whole.lstrip("0") or "0"
    fraction = fraction or ""
    form, power = _SUFFIXES[suffix] if exponent is None else (_DECIMAL_EXPONENT, int(exponent))
    if form is _BINARY_SI:
        if fraction or 14 - len(number) - power * 3 // 10 < 0:
            return False
        return int(number) & 7 != 0
    if 18 - len(number) - len(fraction) < 0:
        return False
    scale = power - len(fraction)
    shifted = number + fraction
    return scale >= -9 and scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def _format_canonical(nanos: int, form: QuantityFormat) -> str:
    """The canonical text Kubernetes computes: no fraction digits, the largest exact suffix."""
    if nanos == 0:
        return "0"
    if form is _BINARY_SI and (
        -_BINARY_LOW_NANOS < nanos < _BINARY_LOW_NANOS
        or nanos % _NANO
        or not -_BINARY_CAP_NANOS <= nanos <= _BINARY_CAP_NANOS
    ):
        # Small or fractional binary amounts are written in decimal, as Kubernetes does; so
        # are amounts past the binary parser's cap (2^63-1), so that the text parses back.
        form = _DECIMAL_SI
    if form is _BINARY_SI:
        whole = nanos // _NANO
        times = 0
        while times < 6 and whole % 1024 == 0:
            whole //= 1024
            times += 1
        return f"{whole}{_BINARY_SUFFIXES[times]}"
    written = str(abs(nanos))
    mantissa = written.rstrip("0")
    exponent = len(written) - len(mantissa) - 9
    padding = exponent % 3  # lower the exponent to a multiple of three
    exponent -= padding
    mantissa += "0" * padding
    if form is _DECIMAL_SI:
        suffix = _DECIMAL_SUFFIX_FOR.get(exponent)
        if suffix is None:  # past "E" DecimalSI has no suffix: Kubernetes writes e<exponent>
            suffix = f"e{exponent}"
    else:
        suffix = f"e{exponent}" if exponent else ""
    return f"{'-' if nanos < 0 else ''}{mantissa}{suffix}"


def _round_away(nanos: int, unit: int) -> int:
    """nanos / unit rounded away from zero, as Kubernetes' scaled accessors do."""
    whole, rest = divmod(abs(nanos), unit)
    whole += rest != 0
    return -whole if nanos < 0 else whole


def _as_format(form: str) -> QuantityFormat:
    try:
        return QuantityFormat(form)
    except ValueError:
        raise InvalidArgumentError(
            f"unknown quantity format {form!r}: use 'DecimalSI', 'BinarySI' or 'DecimalExponent'"
        ) from None


@final
class Quantity:
    """An exact, immutable Kubernetes quantity; equal by value ("1" == "1000m").

    ``Quantity("500m")``, ``Quantity(2)`` and ``Quantity(1.5)`` parse (numbers arrive from YAML
    as ``cpu: 2``); bad input raises ``InvalidArgumentError``. Arithmetic (``+ - * abs``) keeps
    the left operand's format, or the right one's when the left is zero, as Kubernetes does.
    """

    __slots__ = ("_canonical", "_format", "_nanos", "_text")

    _nanos: int
    _format: QuantityFormat
    _text: str | None
    _canonical: str | None

    def __new__(cls, value: str | int | float | Quantity) -> Quantity:
        if value.__class__ is str:
            nanos, form = _parse(value)
            return _make(nanos, form, value)
        if isinstance(value, str):  # a str subclass: keep a plain copy of its text
            return cls(str.__str__(value))
        if isinstance(value, Quantity):
            return value
        if isinstance(value, bool):
            raise InvalidTypeError(
                f"invalid quantity {value!r}: a quantity must be a string or a number, not a "
                f"bool; {_EXAMPLES}"
            )
        if isinstance(value, int):
            return cls.from_int(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _invalid(value, "it is not a finite number")
            nanos, form = _parse(repr(value))
            return _make(nanos, form, None)
        raise InvalidTypeError(
            f"invalid quantity {value!r}: a quantity must be a string or a number, not "
            f"{type(value).__name__}; {_EXAMPLES}"
        )

    @classmethod
    def from_int(cls, value: int, format: QuantityFormat | str = _DECIMAL_SI) -> Quantity:
        """``value`` whole units (Kubernetes' NewQuantity): ``from_int(1024, "BinarySI")``: 1Ki."""
        return _make_checked(_whole(value) * _NANO, _as_format(format))

    @classmethod
    def from_milli(cls, value: int, format: QuantityFormat | str = _DECIMAL_SI) -> Quantity:
        """``value`` thousandths (Kubernetes' NewMilliQuantity): ``from_milli(1500)`` is 1500m."""
        return _make_checked(_whole(value) * 1_000_000, _as_format(format))

    @property
    def format(self) -> QuantityFormat:
        """The format the value is written in (from the suffix it was parsed with)."""
        return self._format

    def is_zero(self) -> bool:
        return self._nanos == 0

    def sign(self) -> int:
        """-1, 0 or 1."""
        return (self._nanos > 0) - (self._nanos < 0)

    def value(self) -> int:
        """Whole units, rounded away from zero ("1100m" -> 2), like Kubernetes' Value()."""
        return _round_away(self._nanos, _NANO)

    def milli_value(self) -> int:
        """Thousandths, rounded away from zero ("1n" -> 1), like Kubernetes' MilliValue()."""
        return _round_away(self._nanos, 1_000_000)

    def scaled_value(self, scale: int) -> int:
        """The value in units of 10**scale, rounded away from zero (Kubernetes' ScaledValue)."""
        if not -2 * _MAX_MAGNITUDE <= scale <= 2 * _MAX_MAGNITUDE:
            raise InvalidArgumentError(
                f"scale {scale} is out of range: use a power of ten between "
                f"{-2 * _MAX_MAGNITUDE} and {2 * _MAX_MAGNITUDE}, for example -3 for milli"
            )
        if scale >= -9:
            return _round_away(self._nanos, _pow10(scale + 9))
        return self._nanos * _pow10(-9 - scale)

    def as_fraction(self) -> Fraction:
        """The exact value."""
        return Fraction(self._nanos, _NANO)

    def canonical(self) -> str:
        """The text Kubernetes' ``Quantity.String()`` gives (what the apiserver writes back)."""
        result = self._canonical
        if result is None:
            text = self._text
            if text is not None and _keeps_text(text):
                result = text
            else:
                result = _format_canonical(self._nanos, self._format)
            object.__setattr__(self, "_canonical", result)
        return result

    def __str__(self) -> str:
        return self._text if self._text is not None else self.canonical()

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __float__(self) -> float:
        try:
            return self._nanos / _NANO
        except OverflowError:
            return math.inf if self._nanos > 0 else -math.inf

    def __hash__(self) -> int:
        return hash(self._nanos)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._nanos == other._nanos
        return NotImplemented

    def __lt__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos < other._nanos
        return NotImplemented

    def __le__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos <= other._nanos
        return NotImplemented

    def __gt__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos > other._nanos
        return NotImplemented

    def __ge__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos >= other._nanos
        return NotImplemented

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        form = self._format if self._nanos else other._format
        return _make_checked(self._nanos + other._nanos, form)

    def __radd__(self, other: int) -> Quantity:
        # Only so that sum(quantities) works: it starts from the int 0.
        if type(other) is int and other == 0:
            return _make(self._nanos, self._format, None)
        return NotImplemented

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        form = self._format if self._nanos else other._format
        return _make_checked(self._nanos - other._nanos, form)

    def __mul__(self, other: int) -> Quantity:
        if type(other) is not int:  # bool and float are refused
            return NotImplemented
        return _make_checked(self._nanos * other, self._format)

    __rmul__ = __mul__

    def __neg__(self) -> Quantity:
        return _make(-self._nanos, self._format, None)

    def __pos__(self) -> Quantity:
        return self

    def __abs__(self) -> Quantity:
        return _make(abs(self._nanos), self._format, None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Quantity is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Quantity is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[object, tuple[int, str, str | None]]:
        return (_restore, (self._nanos, self._format.value, self._text))

    def __copy__(self) -> Quantity:
        return self

    def __deepcopy__(self, memo: object) -> Quantity:
        return self


_new_object = object.__new__
_set = object.__setattr__


def _make(nanos: int, form: QuantityFormat, text: str | None) -> Quantity:
    quantity: Quantity = _new_object(Quantity)
    _set(quantity, "_nanos", nanos)
    _set(quantity, "_format", form)
    _set(quantity, "_text", text)
    _set(quantity, "_canonical", None)
    return quantity


def _make_checked(nanos: int, form: QuantityFormat) -> Quantity:
    if not -_LIMIT_NANOS < nanos < _LIMIT_NANOS:
        raise InvalidArgumentError(
            f"quantity out of range: the result's magnitude is 1e{_MAX_MAGNITUDE} or more, "
            "which kcore does not represent; keep quantities to realistic resource amounts"
        )
    return _make(nanos, form, None)


def _whole(value: object) -> int:
    if type(value) is not int:
        raise InvalidTypeError(f"expected an int, got {type(value).__name__} ({value!r})")
    return value


def _restore(nanos: int, form: str, text: str | None) -> Quantity:
    return _make(nanos, QuantityFormat(form), text)


def parse_quantity(value: str | int | float | Quantity) -> Quantity:
    """``Quantity(value)``: parse Kubernetes quantity text (or a number); a Quantity passes."""
    return Quantity(value)
