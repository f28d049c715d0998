"""Hypothesis strategies that build any struct or kind from its declared field types."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from functools import cache
from typing import Any

from hypothesis import strategies as st

from kcore.objects._compile import _fields, _Shape

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-._/:= ", max_size=12)
_QUANTITIES = ["0", "1", "100m", "1.5", "1Gi", "500Mi", "2e3", "128974848", "250m", "1k"]
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | _TEXT,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_TEXT, inner, max_size=2),
    max_leaves=4,
)


def _times(micro: bool) -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ).map(lambda t: t if micro else t.replace(microsecond=0))


def _for_shape(shape: _Shape, depth: int) -> st.SearchStrategy[Any]:
    from kcore.objects.quantity import Quantity

    tag = shape.tag
    if tag == "str":
        base: st.SearchStrategy[Any] = _TEXT
    elif tag == "int":
        base = st.integers(-(2**31), 2**31 - 1)
    elif tag == "float":
        base = st.floats(allow_nan=False, allow_infinity=False, width=32)
    elif tag == "bool":
        base = st.booleans()
    elif tag == "intstr":
        base = st.integers(0, 1000) | _TEXT
    elif tag == "time":
        base = _times(shape.micro)
    elif tag == "bytes":
        base = st.binary(max_size=8)
    elif tag == "quantity":
        base = st.sampled_from(_QUANTITIES).map(Quantity)
    elif tag == "json":
        return _JSON.map(_freeze)
    elif tag == "struct":
        assert shape.cls is not None
        base = st.deferred(lambda: structs(shape.cls, depth + 1))  # type: ignore[arg-type]
    elif tag == "seq":
        assert shape.item is not None
        if depth > 3:
            return st.just(())
        base = st.lists(_for_shape(shape.item, depth + 1), max_size=2).map(tuple)
    else:
        assert shape.item is not None
        if depth > 3:
            return st.just({})
        base = st.dictionaries(_TEXT, _for_shape(shape.item, depth + 1), max_size=2)
    return st.none() | base if shape.optional else base


def _freeze(value: Any) -> Any:
    from kcore.objects._frozen import freeze_json

    return freeze_json(value)


@cache
def _field_strategies(cls: type[Any], depth: int) -> dict[str, st.SearchStrategy[Any]]:
    return {a.name: _for_shape(shape, depth) for a, shape, _ in _fields(cls)}


def structs(cls: type[Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Instances of ``cls`` with every field drawn from its type (bounded nesting)."""
    if depth > 4:
        return st.just(cls())
    fields = _field_strategies(cls, depth)
    # Each field is either left at its default or drawn, so sparse objects are common too.
    optional = {name: strategy for name, strategy in fields.items()}
    return st.fixed_dictionaries({}, optional=optional).map(lambda kw: cls(**kw))
