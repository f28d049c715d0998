"""Kubernetes' label selector string syntax, parsed into :class:`~kcore.objects.labels.Selector`.

The language is the one ``kubectl -l`` and the ``labelSelector`` list parameter speak::

    selector    := requirement ("," requirement)*  |  ""
    requirement := ["!"] KEY  |  KEY ("=" | "==" | "!=" | ">" | "<") [VALUE]
                 | KEY ("in" | "notin") "(" [VALUE] ("," [VALUE])* ")"

Spaces, tabs, CR and LF separate tokens; "in" and "notin" are operators only right after a key
and plain words anywhere else; an omitted VALUE is the empty string. Kept apart from the
selector engine because it is the only part that deals in text positions: every error names
the offending token and its offset. Results are memoised, since a program parses the same few
selector strings over and over and selectors are immutable.
"""

from __future__ import annotations

import functools
import re
from typing import Final, NamedTuple, NoReturn

from kcore.errors import InvalidArgumentError, InvalidTypeError
from kcore.objects.labels import (
    INTEGER_OPERATORS,
    SET_OPERATORS,
    Operator,
    Requirement,
    Selector,
    parse_int64,
)
from kcore.objects.names import is_qualified_name, is_valid_label_value

__all__ = ["parse_label_selector"]

_END, _WORD, _SYMBOL = "end", "word", "symbol"
_TOKEN_RE = re.compile(r"[ \t\r\n]*(?:(!=|==|[=!(),<>])|([^=!(),<> \t\r\n]+))?")
_INFIX_OPERATORS: Final = {
    "=": Operator.EQUALS,
    "==": Operator.DOUBLE_EQUALS,
    "!=": Operator.NOT_EQUALS,
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
    "in": Operator.IN,
    "notin": Operator.NOT_IN,
}


def _shown(text: str) -> str:
    """The selector as quoted in an error, cut short if it is long."""
    return repr(text) if len(text) <= 200 else repr(text[:200]) + "..."


class _Token(NamedTuple):
    kind: str
    text: str
    offset: int

    def describe(self) -> str:
        return "end of string" if self.kind == _END else f"'{self.text}'"


def _tokens(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while True:
        match = _TOKEN_RE.match(text, position)
        assert match is not None  # the pattern can match the empty string
        symbol, word = match.group(1), match.group(2)
        if symbol is not None:
            tokens.append(_Token(_SYMBOL, symbol, match.start(1)))
        elif word is not None:
            tokens.append(_Token(_WORD, word, match.start(2)))
        else:
            tokens.append(_Token(_END, "", len(text)))
            return tokens
        position = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def fail(self, token: _Token, expected: str) -> NoReturn:
        raise InvalidArgumentError(
            f"invalid label selector {_shown(self.text)}: found {token.describe()} at offset "
            f"{token.offset}, expected {expected}"
        )

    def invalid(self, token: _Token, problem: str) -> NoReturn:
        raise InvalidArgumentError(
            f"invalid label selector {_shown(self.text)}: at offset {token.offset}: {problem}"
        )

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != _END:
            self.index += 1
        return token

    def at_separator(self) -> bool:
        token = self.peek()
        return token.kind == _END or token.text == ","

    def selector(self) -> Selector:
        requirements = []
        if self.peek().kind == _END:
            return Selector.everything()
        while True:
            requirements.append(self.requirement())
            token = self.take()
            if token.kind == _END:
                return Selector(requirements)
            if token.text != ",":
                self.fail(token, "',' or end of string")

    def requirement(self) -> Requirement:
        token = self.take()
        absent = token.text == "!" and token.kind == _SYMBOL
        if absent:
            token = self.take()
        if token.kind != _WORD:
            self.fail(token, "a label key" if absent else "a label key or '!'")
        key = token.text
        key_errors = is_qualified_name(key)
        if key_errors:
            self.invalid(token, f"invalid label key {key!r}: " + "; ".join(key_errors))
        if absent:
            if not self.at_separator():
                self.fail(self.peek(), "',' or end of string ('!key' takes no operator or value)")
            return Requirement._trusted(key, Operator.DOES_NOT_EXIST, ())
        if self.at_separator():
            return Requirement._trusted(key, Operator.EXISTS, ())
        operator_token = self.take()
        operator = _INFIX_OPERATORS.get(operator_token.text)
        if operator is None:
            self.fail(operator_token, "an operator: =, ==, !=, in, notin, >, <")
        values = self.value_set() if operator in SET_OPERATORS else [self.exact_value()]
        for value_token in values:
            value = value_token.text
            if operator in INTEGER_OPERATORS and parse_int64(value) is None:
                self.invalid(
                    value_token, f"the value {value!r} of '{operator_token.text}' is not an integer"
                )
            value_errors = is_valid_label_value(value)
            if value_errors:
                self.invalid(
                    value_token, f"invalid value {value!r} for {key!r}: " + "; ".join(value_errors)
                )
        unique = tuple(sorted({value_token.text for value_token in values}))
        return Requirement._trusted(key, operator, unique)

    def exact_value(self) -> _Token:
        if self.at_separator():
            return _Token(_WORD, "", self.peek().offset)
        token = self.take()
        if token.kind != _WORD:
            self.fail(token, "a value")
        return token

    def value_set(self) -> list[_Token]:
        opening = self.take()
        if opening.text != "(":
            self.fail(opening, "'(' to open the value list")
        values: list[_Token] = []
        current: _Token | None = None
        while True:
            token = self.take()
            if token.kind == _WORD:
                if current is not None:
                    self.fail(token, "',' or ')'")
                current = token
            elif token.text in (",", ")"):
                # An empty slot between separators is the empty-string value.
                values.append(current if current is not None else _Token(_WORD, "", token.offset))
                current = None
                if token.text == ")":
                    return values
            else:
                self.fail(token, "',' or ')'" if current is not None else "a value, ',' or ')'")


_CACHED_LENGTH_LIMIT: Final = 1024  # longer selectors are rare; keep the cache small


@functools.lru_cache(maxsize=512)
def _parse_cached(text: str) -> Selector:
    return _Parser(text).selector()


def parse_label_selector(text: str) -> Selector:
    """Parse Kubernetes' label selector syntax (``a=b,c!=d,e in (f,g),!h,i notin (j),k``).

    The empty string is the everything-selector. Keys must be qualified names and values
    label values; bad syntax or a bad key or value raises
    :class:`~kcore.errors.InvalidArgumentError` naming the token and its offset.
    """
    if not isinstance(text, str):
        raise InvalidTypeError(
            f"a label selector is parsed from a str, got {type(text).__name__}: {text!r}"
        )
    if len(text) > _CACHED_LENGTH_LIMIT:
        return _Parser(text).selector()
    return _parse_cached(text)
