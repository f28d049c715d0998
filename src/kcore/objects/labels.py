"""Label selectors: requirements and immutable selectors, with Kubernetes' semantics.

This is the engine behind ``kubectl get -l``, list/watch ``labelSelector`` parameters and every
``spec.selector``; the API type ``LabelSelector`` is converted to it by
:mod:`kcore.objects.selectors`. Semantics are Kubernetes' ``labels`` package's:

* a selector is the AND of its requirements, kept sorted by key (stable, so two requirements
  on one key keep their order), which makes ``str()`` canonical and equal selectors equal;
* ``!=`` and ``notin`` match when the key is absent, ``gt``/``lt`` never match a value that is
  not an integer, and the empty selector matches everything while :meth:`Selector.nothing`
  matches nothing (its ``str()`` is empty too, as in Kubernetes, so only ``repr`` tells);
* a requirement's values are a set: stored sorted and without duplicates.

Selectors are immutable and hashable so they can be shared by caches and used as keys. The
string syntax is parsed by :mod:`kcore.objects.label_parser`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Final, final

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.names import is_qualified_name, is_valid_label_value

__all__ = [
    "Operator",
    "Requirement",
    "Selector",
    "requirement_problems",
    "selector_from_set",
]


class Operator(StrEnum):
    """How a requirement relates a label to its values (Kubernetes' ``selection.Operator``)."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# The string syntax spells gt/lt as > and <; accept those spellings wherever an operator is.
_OPERATORS: Final = {op.value: op for op in Operator} | {
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
}
SET_OPERATORS: Final = frozenset({Operator.IN, Operator.NOT_IN})
_EXACT_OPERATORS: Final = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_UNARY_OPERATORS: Final = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
INTEGER_OPERATORS: Final = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
_POSITIVE_OPERATORS: Final = frozenset({Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS})
_NEGATIVE_OPERATORS: Final = frozenset({Operator.NOT_IN, Operator.NOT_EQUALS})
_INFIX: Final = {
    Operator.EQUALS: "=",
    Operator.DOUBLE_EQUALS: "==",
    Operator.NOT_EQUALS: "!=",
    Operator.GREATER_THAN: ">",
    Operator.LESS_THAN: "<",
    Operator.IN: " in ",
    Operator.NOT_IN: " notin ",
}

_INT64_RE = re.compile("[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def parse_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``: no spaces, no underscores, 64-bit range."""
    if _INT64_RE.fullmatch(text) is None:
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def _to_operator(operator: Operator | str) -> Operator:
    found = _OPERATORS.get(operator) if isinstance(operator, str) else None
    if found is None:
        supported = ", ".join(f'"{op.value}"' for op in Operator)
        raise InvalidArgumentError(
            f"unsupported label selector operator {operator!r}: supported values: {supported}"
            " (> and < may stand for gt and lt)"
        )
    return found


def requirement_problems(key: str, operator: Operator, values: list[str]) -> list[str]:
    """Why ``(key, operator, values)`` is not a valid requirement; empty when it is."""
    problems = []
    key_errors = is_qualified_name(key)
    if key_errors:
        problems.append(f"key {key!r}: " + "; ".join(key_errors))
    if operator in SET_OPERATORS:
        if not values:
            problems.append("for 'in', 'notin' operators, values set can't be empty")
    elif operator in _EXACT_OPERATORS:
        if len(values) != 1:
            problems.append("exact-match compatibility requires one single value")
    elif operator in _UNARY_OPERATORS:
        if values:
            problems.append("values set must be empty for exists and does not exist")
    else:
        if len(values) != 1:
            problems.append("for 'Gt', 'Lt' operators, exactly one value is required")
        problems.extend(
            f"value {value!r}: for 'Gt', 'Lt' operators, the value must be an integer"
            for value in values
            if parse_int64(value) is None
        )
    for value in values:
        value_errors = is_valid_label_value(value)
        if value_errors:
            problems.append(f"value {value!r}: " + "; ".join(value_errors))
    return problems


@final
class Requirement:
    """One condition on one label: ``key``, ``operator`` and the (sorted, unique) ``values``.

    The constructor validates as Kubernetes' ``NewRequirement`` does and raises
    :class:`~kcore.errors.InvalidArgumentError` listing every problem.
    """

    __slots__ = ("_hash", "_number", "key", "operator", "values")

    key: str
    operator: Operator
    values: tuple[str, ...]
    _number: int
    _hash: int

    def __init__(self, key: str, operator: Operator | str, values: Iterable[str] = ()) -> None:
        if isinstance(values, str):
            raise InvalidTypeError(
                f"label requirement {key!r}: values must be a sequence of strings, not the "
                f"string {values!r}; wrap a single value in a list"
            )
        op = _to_operator(operator)
        given = list(values)
        problems = requirement_problems(key, op, given)
        if problems:
            raise InvalidArgumentError(
                f"invalid label selector requirement on {key!r} ({op.value}): "
                + "; ".join(problems)
            )
        self._set(key, op, tuple(sorted(set(given))))

    @classmethod
    def _trusted(cls, key: str, operator: Operator, values: tuple[str, ...]) -> Requirement:
        """A requirement from parts already validated and normalised (sorted, unique)."""
        requirement = object.__new__(cls)
        requirement._set(key, operator, values)
        return requirement

    def _set(self, key: str, operator: Operator, values: tuple[str, ...]) -> None:
        init = object.__setattr__
        init(self, "key", key)
        init(self, "operator", operator)
        init(self, "values", values)
        number = parse_int64(values[0]) if operator in INTEGER_OPERATORS else None
        init(self, "_number", number if number is not None else 0)
        init(self, "_hash", hash((key, operator, values)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Requirement is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Requirement is immutable; cannot delete {name!r}")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a set of labels satisfies this requirement."""
        operator = self.operator
        if operator in _POSITIVE_OPERATORS:
            return labels.get(self.key) in self.values
        if operator in _NEGATIVE_OPERATORS:
            value = labels.get(self.key)
            return value is None or value not in self.values
        if operator is Operator.EXISTS:
            return self.key in labels
        if operator is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        value = labels.get(self.key)
        number = parse_int64(value) if value is not None else None
        if number is None:
            return False
        if operator is Operator.GREATER_THAN:
            return number > self._number
        return number < self._number

    def __str__(self) -> str:
        operator = self.operator
        if operator is Operator.EXISTS:
            return self.key
        if operator is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(self.values)
        if operator in SET_OPERATORS:
            joined = f"({joined})"
        return self.key + _INFIX[operator] + joined

    def __repr__(self) -> str:
        return f"Requirement({self.key!r}, {self.operator.value!r}, {list(self.values)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Requirement):
            return NotImplemented
        return (
            self._hash == other._hash
            and self.key == other.key
            and self.operator is other.operator
            and self.values == other.values
        )

    def __hash__(self) -> int:
        return self._hash


def _by_key(requirement: Requirement) -> str:
    return requirement.key


@final
class Selector:
    """An immutable, hashable label selector: the AND of its ``requirements``.

    ``Selector()`` (no requirements) matches everything; :meth:`nothing` matches nothing.
    """

    __slots__ = ("_hash", "_nothing", "requirements")

    requirements: tuple[Requirement, ...]
    _nothing: bool
    _hash: int

    def __init__(self, requirements: Iterable[Requirement] = ()) -> None:
        given = tuple(requirements)
        for requirement in given:
            if not isinstance(requirement, Requirement):
                raise InvalidTypeError(
                    f"Selector takes Requirement objects, got {type(requirement).__name__}: "
                    f"{requirement!r}; build one with Requirement(key, operator, values)"
                )
        self._set(tuple(sorted(given, key=_by_key)), nothing=False)

    def _set(self, requirements: tuple[Requirement, ...], *, nothing: bool) -> None:
        object.__setattr__(self, "requirements", requirements)
        object.__setattr__(self, "_nothing", nothing)
        object.__setattr__(self, "_hash", hash((nothing, requirements)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Selector is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Selector is immutable; cannot delete {name!r}")

    @classmethod
    def everything(cls) -> Selector:
        """The selector with no requirements: it matches every set of labels."""
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> Selector:
        """A selector that matches no set of labels (what a nil ``LabelSelector`` means)."""
        return _NOTHING

    def is_empty(self) -> bool:
        """True when the selector does not restrict anything (it matches everything)."""
        return not self.requirements and not self._nothing

    def matches_nothing(self) -> bool:
        """True only for :meth:`nothing` (contradictions such as ``a=b,a!=b`` are not detected)."""
        return self._nothing

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a set of labels satisfies every requirement."""
        if self._nothing:
            return False
        for requirement in self.requirements:  # noqa: SIM110 (faster than all(genexpr))
            if not requirement.matches(labels):
                return False
        return True

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with more requirements (ANDed); :meth:`nothing` stays nothing."""
        if self._nothing:
            return self
        return Selector(self.requirements + requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value the selector demands for ``key`` (``key=v`` or ``key in (v)``).

        Only the first requirement on the key is consulted, as in Kubernetes; ``None`` when it
        does not pin a single value. Useful to answer a list from an index.
        """
        for requirement in self.requirements:
            if requirement.key == key:
                if requirement.operator in _POSITIVE_OPERATORS and len(requirement.values) == 1:
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "Selector.nothing()"
        return f"parse_label_selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selector):
            return NotImplemented
        return (
            self._hash == other._hash
            and self._nothing == other._nothing
            and self.requirements == other.requirements
        )

    def __hash__(self) -> int:
        return self._hash


_EVERYTHING: Final = Selector()
_NOTHING: Final = object.__new__(Selector)
_NOTHING._set((), nothing=True)


def selector_from_set(labels: Mapping[str, str], *, validate: bool = True) -> Selector:
    """The selector ``k1=v1,k2=v2,...`` that matches exactly these labels (and maybe more).

    An empty mapping gives the everything-selector. Keys and values are validated unless
    ``validate=False`` (for labels already validated, on hot paths), in which case an invalid
    pair yields a selector that simply never matches a valid object.
    """
    if validate:
        return Selector(Requirement(key, Operator.EQUALS, [value]) for key, value in labels.items())
    return Selector(
        Requirement._trusted(key, Operator.EQUALS, (value,)) for key, value in labels.items()
    )
