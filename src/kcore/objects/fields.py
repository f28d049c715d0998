"""Field selectors: ``spec.nodeName=node-1,status.phase!=Running``.

A field selector is the AND of terms ``field=value`` (or ``==``, the same) and
``field!=value`` over a few per-kind fields (``kcore.objects.fieldsets`` says which). The
syntax and semantics are Kubernetes' ``fields`` package's:

* terms are split on unescaped commas; in a value, ``\\``, ``,`` and ``=`` must be escaped with
  a backslash (``\\\\``, ``\\,``, ``\\=``) and no other escape exists, so ``\\!`` is an error;
  the field name is everything before the first operator and has no escapes;
* nothing is trimmed (``a = b`` names the field ``"a "``), empty terms are skipped, and a
  term with both field and value empty (``=``) selects everything;
* a field missing from the mapping being matched reads as the empty string.

Terms are kept sorted by their canonical text (Kubernetes sorts the raw terms), so ``str()``
is canonical and ``parse_field_selector(str(s)) == s``; ``==`` prints as ``=``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple, final

from kcore.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "escape_field_value",
    "field_selector_from_set",
    "parse_field_selector",
    "unescape_field_value",
]

EQUALS: Final = "="
NOT_EQUALS: Final = "!="
_OPERATORS: Final = {"=": EQUALS, "==": EQUALS, "!=": NOT_EQUALS}
_ESCAPES: Final = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})


def escape_field_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` so that ``value`` can stand in a field selector."""
    return value.translate(_ESCAPES)


class FieldRequirement(NamedTuple):
    """One term: ``field``, ``operator`` (``"="`` or ``"!="``) and the literal ``value``."""

    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        return self.field + self.operator + escape_field_value(self.value)


def _term_order(requirement: FieldRequirement) -> str:
    return str(requirement)


@final
class FieldSelector:
    """An immutable, hashable field selector: the AND of its ``requirements``.

    ``FieldSelector()`` matches everything; :meth:`nothing` matches nothing.
    """

    __slots__ = ("_hash", "_nothing", "requirements")

    requirements: tuple[FieldRequirement, ...]
    _nothing: bool
    _hash: int

    def __init__(self, requirements: Iterable[tuple[str, str, str]] = ()) -> None:
        terms = []
        for term in requirements:
            if not (isinstance(term, tuple) and len(term) == 3 and all(map(_is_str, term))):
                raise InvalidTypeError(
                    f"a field selector term is a (field, operator, value) tuple of str, got "
                    f"{term!r}"
                )
            field, operator, value = term
            canonical = _OPERATORS.get(operator)
            if canonical is None:
                raise InvalidArgumentError(
                    f"unsupported field selector operator {operator!r} in term {term!r}: "
                    "use '=', '==' or '!='"
                )
            if "," in field or "=" in field or (canonical == EQUALS and field.endswith("!")):
                # The syntax has no escapes for field names: such a term could not be written.
                raise InvalidArgumentError(
                    f"field selector field {field!r} cannot be written in a selector: a field "
                    "name may not contain ',' or '=', nor end in '!' before '='"
                )
            if field or value:  # as in parsing, a term with neither selects everything
                terms.append(FieldRequirement(field, canonical, value))
        self._set(tuple(sorted(terms, key=_term_order)), nothing=False)

    def _set(self, requirements: tuple[FieldRequirement, ...], *, nothing: bool) -> None:
        object.__setattr__(self, "requirements", requirements)
        object.__setattr__(self, "_nothing", nothing)
        object.__setattr__(self, "_hash", hash((nothing, requirements)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"FieldSelector is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"FieldSelector is immutable; cannot delete {name!r}")

    @classmethod
    def everything(cls) -> FieldSelector:
        """The selector with no terms: it matches everything."""
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> FieldSelector:
        """A selector that matches nothing (its ``str()`` is empty, as in Kubernetes)."""
        return _NOTHING

    def is_empty(self) -> bool:
        """True when the selector does not restrict anything."""
        return not self.requirements and not self._nothing

    def matches_nothing(self) -> bool:
        return self._nothing

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether the object whose selectable fields are ``fields`` is selected."""
        if self._nothing:
            return False
        for field, operator, value in self.requirements:
            if (fields.get(field, "") == value) != (operator == EQUALS):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``field=value`` term demands, if there is one (for index lookups)."""
        for term_field, operator, value in self.requirements:
            if term_field == field and operator == EQUALS:
                return value
        return None

    def fields(self) -> frozenset[str]:
        """The field names the selector mentions (to check them against the kind's)."""
        return frozenset(term.field for term in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(term) for term in self.requirements)

    def __repr__(self) -> str:
        if self._nothing:
            return "FieldSelector.nothing()"
        return f"parse_field_selector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSelector):
            return NotImplemented
        return (
            self._hash == other._hash
            and self._nothing == other._nothing
            and self.requirements == other.requirements
        )

    def __hash__(self) -> int:
        return self._hash


def _is_str(value: object) -> bool:
    return isinstance(value, str)


_EVERYTHING: Final = FieldSelector()
_NOTHING: Final = object.__new__(FieldSelector)
_NOTHING._set((), nothing=True)


def field_selector_from_set(fields: Mapping[str, str]) -> FieldSelector:
    """``f1=v1,f2=v2,...``: select objects whose fields have exactly these values."""
    return FieldSelector((field, EQUALS, value) for field, value in fields.items())


def _shown(text: str) -> str:
    """A selector or term as quoted in an error, cut short if it is long."""
    return repr(text) if len(text) <= 200 else repr(text[:200]) + "..."


def _bad_value(selector: str, term: str, offset: int, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"invalid field selector {_shown(selector)}: {problem} at offset {offset} (in term "
        f"{_shown(term)}); in a value write '\\\\' for '\\', '\\,' for ',' and '\\=' for '='"
    )


def _unescape(value: str, selector: str, term: str, offset: int) -> str:
    """Undo :func:`escape_field_value`; ``offset`` is where ``value`` starts in ``selector``."""
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    out = []
    escaped = False
    for index, char in enumerate(value):
        if escaped:
            if char not in "\\,=":
                problem = f"invalid escape sequence '\\{char}'"
                raise _bad_value(selector, term, offset + index - 1, problem)
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise _bad_value(selector, term, offset + index, f"unescaped '{char}' in a value")
        else:
            out.append(char)
    if escaped:
        problem = "a lone '\\' ends the value"
        raise _bad_value(selector, term, offset + len(value) - 1, problem)
    return "".join(out)


def unescape_field_value(value: str) -> str:
    """The literal value an escaped field-selector value stands for; bad escapes raise."""
    return _unescape(value, value, value, 0)


def _split_terms(text: str) -> list[tuple[str, int]]:
    """The comma-separated terms with their offsets; ``\\,`` does not separate."""
    terms = []
    start = 0
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append((text[start:index], start))
            start = index + 1
    terms.append((text[start:], start))
    return terms


def _split_term(term: str) -> tuple[str, str, str, int] | None:
    """(field, operator, raw value, value offset) at the term's first operator, if any."""
    for index, char in enumerate(term):
        if char == "!" and term.startswith("!=", index):
            return term[:index], NOT_EQUALS, term[index + 2 :], index + 2
        if char == "=":
            if term.startswith("==", index):
                return term[:index], EQUALS, term[index + 2 :], index + 2
            return term[:index], EQUALS, term[index + 1 :], index + 1
    return None


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> FieldSelector:
    return _parse(text)


def _parse(text: str) -> FieldSelector:
    if not text:
        return _EVERYTHING
    terms = []
    for term, start in _split_terms(text):
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise InvalidArgumentError(
                f"invalid field selector {_shown(text)}: term {_shown(term)} at offset {start} "
                "has no operator; write field=value, field==value or field!=value"
            )
        field, operator, raw, value_offset = parts
        value = _unescape(raw, text, term, start + value_offset)
        if field or value:  # Kubernetes drops a term that is just an operator
            terms.append(FieldRequirement(field, operator, value))
    if not terms:
        return _EVERYTHING
    selector = object.__new__(FieldSelector)
    selector._set(tuple(sorted(terms, key=_term_order)), nothing=False)
    return selector


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector; the empty string selects everything.

    Bad syntax raises :class:`~kcore.errors.InvalidArgumentError` naming the term, the offset
    and the escaping rule.
    """
    if not isinstance(text, str):
        raise InvalidTypeError(
            f"a field selector is parsed from a str, got {type(text).__name__}: {text!r}"
        )
    # Only short selectors are memoised, so a few huge ones cannot pin much memory.
    return _parse(text) if len(text) > 1024 else _parse_cached(text)
