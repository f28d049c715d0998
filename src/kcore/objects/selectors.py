"""Selectors in one place: the API type ``LabelSelector`` turned into a matcher, and validated.

The engines live in :mod:`kcore.objects.labels` (label selectors), :mod:`.label_parser` (their
string syntax) and :mod:`kcore.objects.fields` (field selectors); this module re-exports them
and adds what connects them to objects: a ``spec.selector`` (``matchLabels`` plus
``matchExpressions``) becomes a :class:`Selector` as Kubernetes' ``LabelSelectorAsSelector``
makes it, and is validated as ``ValidateLabelSelector`` validates it.

**Absent versus empty — read this before choosing a function.** Kubernetes gives the two
different meanings, and mixing them up selects every object where none was meant (or the
reverse):

* no selector at all (a nil ``*LabelSelector``, ``None`` here) selects **nothing**;
* a selector that is present but empty (``selector: {}``: no labels, no expressions) selects
  **everything** (a NetworkPolicy's ``podSelector: {}`` means all pods).

:func:`selector_from_label_selector` takes the two fields of a selector that *is* present, so
it never answers "nothing": ``(None, None)`` is the empty selector and selects everything.
:func:`selector_from_optional_label_selector` takes the selector object itself or ``None`` and
answers :meth:`Selector.nothing` for ``None``. Use the second whenever the field is optional.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.fields import (
    FieldRequirement,
    FieldSelector,
    escape_field_value,
    field_selector_from_set,
    parse_field_selector,
    unescape_field_value,
)
from kcore.objects.label_parser import parse_label_selector
from kcore.objects.labels import Operator, Requirement, Selector, selector_from_set
from kcore.objects.names import is_qualified_name, is_valid_label_value

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelectorLike",
    "LabelSelectorRequirementLike",
    "Operator",
    "Requirement",
    "Selector",
    "as_field_selector",
    "as_label_selector",
    "escape_field_value",
    "field_selector_from_set",
    "parse_field_selector",
    "parse_label_selector",
    "selector_from_label_selector",
    "selector_from_optional_label_selector",
    "selector_from_set",
    "unescape_field_value",
    "validate_label_selector",
]


class LabelSelectorRequirementLike(Protocol):
    """What a ``matchExpressions`` item must offer (``kcore.objects.LabelSelectorRequirement``).

    ``operator`` is ``"In"``, ``"NotIn"``, ``"Exists"`` or ``"DoesNotExist"`` (a str or a
    str-valued enum).
    """

    @property
    def key(self) -> str: ...

    @property
    def operator(self) -> object: ...

    @property
    def values(self) -> Sequence[str] | None: ...


class LabelSelectorLike(Protocol):
    """What a ``LabelSelector`` must offer (``kcore.objects.LabelSelector``)."""

    @property
    def match_labels(self) -> Mapping[str, str] | None: ...

    @property
    def match_expressions(self) -> Iterable[LabelSelectorRequirementLike] | None: ...


# The API's operator names (LabelSelectorOperator) and what each becomes.
_API_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def _operator_name(operator: object) -> object:
    # Accept a str-valued enum as well as a plain str.
    value = getattr(operator, "value", operator)
    return value if isinstance(value, str) else operator


def _quoted(value: object) -> str:
    # Kubernetes prints a bad string value Go-quoted; JSON quoting agrees for printable text.
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


def validate_label_selector(
    match_labels: Mapping[str, str] | None,
    match_expressions: Iterable[LabelSelectorRequirementLike] | None,
    path: str = "",
) -> list[tuple[str, str]]:
    """Every problem of a present ``LabelSelector`` as ``(field path, message)`` pairs.

    The rules are Kubernetes' ``ValidateLabelSelector``: label keys are qualified names and
    values label values; ``In``/``NotIn`` need values, ``Exists``/``DoesNotExist`` forbid them,
    and no other operator exists. ``path`` is where the selector sits (``spec.selector``); the
    messages are whole error bodies as Kubernetes prints them (``Invalid value: "x": ...``,
    ``Required value: ...``, ``Forbidden: ...``), ready for ``FieldError(path, message)``.
    Keys and values of ``matchLabels`` are reported at ``<path>.matchLabels``, as Kubernetes
    does; the message quotes the bad key or value.
    """
    problems: list[tuple[str, str]] = []
    labels_path = _join(path, "matchLabels")
    for key, value in (match_labels or {}).items():
        problems.extend(
            (labels_path, f"Invalid value: {_quoted(key)}: {message}")
            for message in is_qualified_name(key)
        )
        problems.extend(
            (labels_path, f"Invalid value: {_quoted(value)}: {message}")
            for message in is_valid_label_value(value)
        )
    for index, expression in enumerate(match_expressions or ()):
        here = f"{_join(path, 'matchExpressions')}[{index}]"
        operator = _operator_name(expression.operator)
        values = list(expression.values or ())
        if operator in ("In", "NotIn"):
            if not values:
                problems.append(
                    (
                        f"{here}.values",
                        "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                problems.append(
                    (
                        f"{here}.values",
                        "Forbidden: may not be specified when `operator` is 'Exists' or "
                        "'DoesNotExist'",
                    )
                )
        else:
            problems.append(
                (
                    f"{here}.operator",
                    f"Invalid value: {_quoted(operator)}: not a valid selector operator "
                    '(supported values: "In", "NotIn", "Exists", "DoesNotExist")',
                )
            )
        problems.extend(
            (f"{here}.key", f"Invalid value: {_quoted(expression.key)}: {message}")
            for message in is_qualified_name(expression.key)
        )
        for value_index, value in enumerate(values):
            problems.extend(
                (f"{here}.values[{value_index}]", f"Invalid value: {_quoted(value)}: {message}")
                for message in is_valid_label_value(value)
            )
    return problems


def selector_from_label_selector(
    match_labels: Mapping[str, str] | None,
    match_expressions: Iterable[LabelSelectorRequirementLike] | None,
    *,
    path: str = "",
) -> Selector:
    """The matcher for a *present* ``LabelSelector`` (see the module notes on absent ones).

    ``matchLabels`` become ``key=value`` requirements and each expression a set or existence
    requirement; with neither (``None`` or empty) the result is :meth:`Selector.everything`.
    Any problem :func:`validate_label_selector` finds raises
    :class:`~kcore.errors.InvalidArgumentError` listing each with its field path
    (``matchExpressions[1].operator``), prefixed by ``path`` when given.
    """
    expressions = list(match_expressions or ())
    problems = validate_label_selector(match_labels, expressions, path)
    if problems:
        listed = "; ".join(f"{where}: {message}" for where, message in problems)
        raise InvalidArgumentError(f"invalid label selector: {listed}")
    requirements = [
        Requirement._trusted(key, Operator.EQUALS, (value,))
        for key, value in (match_labels or {}).items()
    ]
    for expression in expressions:
        operator = _API_OPERATORS[str(_operator_name(expression.operator))]
        values = tuple(sorted(set(expression.values or ())))
        requirements.append(Requirement._trusted(expression.key, operator, values))
    if not requirements:
        return Selector.everything()
    return Selector(requirements)


def selector_from_optional_label_selector(
    label_selector: LabelSelectorLike | None, *, path: str = ""
) -> Selector:
    """The matcher for an optional ``LabelSelector`` field: ``None`` selects **nothing**.

    A present selector is converted by :func:`selector_from_label_selector` from its
    ``match_labels`` and ``match_expressions``, so an empty one selects everything.
    """
    if label_selector is None:
        return Selector.nothing()
    return selector_from_label_selector(
        label_selector.match_labels, label_selector.match_expressions, path=path
    )


def as_label_selector(value: Any) -> Selector | None:
    """A label selector given as a string, a Selector or a mapping (equality on each pair);
    None when it selects everything."""
    if value is None or value == "":
        return None
    if isinstance(value, Selector):
        selector = value
    elif isinstance(value, str):
        selector = parse_label_selector(value)
    elif isinstance(value, Mapping):
        selector = selector_from_set(value)
    else:
        raise InvalidTypeError(
            f"label_selector must be a string, a Selector or a mapping, not {type(value).__name__}"
        )
    return None if selector.is_empty() else selector


def as_field_selector(value: Any) -> FieldSelector | None:
    """A field selector given as a string or a FieldSelector; None when it selects everything."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = parse_field_selector(value)
    if not isinstance(value, FieldSelector):
        raise InvalidTypeError(
            f"field_selector must be a string or a FieldSelector, not {type(value).__name__}"
        )
    return None if value.is_empty() else value
