"""Sharing decoder: equal parts of decoded objects become the same object, so caches stay small.

An informer cache holds thousands of objects that are mostly alike (the Pods of one ReplicaSet
differ in name, uid, IPs, timestamps and container IDs). Objects are immutable, so equal parts
can be one object. ``from_dict(..., share=True)`` uses a second decoder per struct class,
compiled only when sharing is first asked for, that builds objects bottom-up and looks each part
up among the live parts decoded before:

* **strings** are interned with ``sys.intern``, which in CPython 3.11 keeps interned strings
  *mortal* (the intern table does not keep them alive; checked at import, and where it would,
  a bounded table is used instead). Interning is done only when a new part is built, never for
  a part found shared (its strings are dropped with it).
* **structs** live in one table per class, ``hash -> weakref``: the hash is taken over the
  field values, plain values (str, int, bool, bytes, lists of them) and timestamps by value,
  every other value (nested structs, maps, quantities) by ``id``, which is enough because those
  were shared first. A struct is only reused after checking, field by field, that each plain
  value is equal, each timestamp is equal *and* in the same zone object (equal instants in
  other offsets are other values to a reader), and each other value *is* the same object, so a
  hash collision or a stale entry can never hand out a different object. Identity (not
  equality) for nested parts is what keeps encoding unchanged: the encoder tells a struct a
  document spelled out (``{}``) from the shared default instance by identity, and attrs
  equality would call those equal.
* **maps** are shared through weak tables of their own, one per item type (an int map must
  never stand in for an equal bool map): built as ``SharedFrozenDict``, a FrozenDict that can
  be weakly referenced, and reused only when keys, order and values match.
* **lists** (tuples) cannot be weakly referenced; they are shared through the struct that owns
  them (the owner's hash covers each item's id, and the owner's check compares items by
  identity), so a container list is shared whenever its PodSpec is.
* **timestamps, ints** go through small tables keyed by their text or value, cleared when full
  (``LIMIT`` entries each: under 1 MB held in all, of values that are cheap to rebuild);
  quantities already share through the codec's own bounded table.

An entry costs about 170 bytes (key, weak reference, slot), which a part that no other object
shares (a Pod's container status, with its container ID) never pays back. So each struct class
counts its recent lookups: while under 1 in ``PROBE`` finds a shared part, only 1 in ``PROBE``
new objects is entered (enough to notice when sharing starts to pay again). Which parts end up
shared therefore depends on what was decoded before; what an object equals and encodes to
never does.

Why the tables cannot grow without bound or keep objects alive: struct and map tables hold
weak references only; when an object dies its entry is removed by the weakref's callback (which
first checks the entry still is that reference, since a newer object may have taken the same
hash). Keys are plain ints, so an entry keeps nothing alive. An ``id`` inside a hash can be
reused by a new object after the old one died, but that only makes a lookup miss or find a
candidate that then fails the identity check, because the check compares the candidate's live
fields with the new live values; a candidate that is alive keeps its own fields alive, so
``candidate.field is value`` is true only for the very same object. The bounded tables hold
strong references, but to at most ``LIMIT`` small values each.

The top-level object of a kind and its ObjectMeta are never looked up or entered (uid, name and
resourceVersion make them unique, so an entry would only cost memory), and those three strings
are not interned either; their other parts are shared.
Objects with unknown fields (lenient decoding) are never shared: those fields take no part in
equality but are written back, so they would make equal objects encode differently.

Single-threaded by design (one event loop): the tables are plain dicts, updated without locks.
"""

from __future__ import annotations

import operator
import sys
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from kcore.objects._compile import (
    SHARED_MAP_ITEMS,
    Decoder,
    Problems,
    _bad,
    _default_of,
    _fields,
    _Gen,
    _key,
    _Shape,
    _slot_setter,
    _time,
    _type_fields,
    _unknown,
)
from kcore.objects._frozen import EMPTY, FrozenDict
from kcore.objects.struct import UNKNOWN_SLOT

__all__ = [
    "LIMIT",
    "SharedFrozenDict",
    "forget_hit_rates",
    "shared_decoder_for",
    "table_sizes",
    "trim_tables",
]

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 4096  # entries in each strong (bounded) table: timestamps by text, ints by value
WINDOW = 1024  # lookups over which a struct class's hit rate is judged
PROBE = 16  # a class found shared in under 1 of PROBE lookups enters 1 in PROBE new objects

_Table = dict[int, "weakref.KeyedRef[int, Any]"]
_tables: dict[str, _Table] = {}
_hit_rates: list[list[int]] = []  # per struct class: [recent misses, recent hits]
_shared_decoders: dict[type[Any], Decoder] = {}


class SharedFrozenDict(FrozenDict[K, V]):
    """A FrozenDict that can be weakly referenced, so a sharing table need not keep it alive."""

    __slots__ = ("__weakref__",)


def _weak_table(name: str) -> tuple[_Table, Callable[[weakref.KeyedRef[int, Any]], None]]:
    table: _Table = {}

    def drop(ref: weakref.KeyedRef[int, Any]) -> None:
        # A newer object may have taken the same hash since; its entry stays.
        if table.get(ref.key) is ref:
            del table[ref.key]

    while name in _tables:  # a class defined twice under one name (in a test, say)
        name += "'"
    _tables[name] = table
    return table, drop


def forget_hit_rates() -> None:
    """Start every struct class afresh as worth sharing (for tests and benchmarks)."""
    for counts in _hit_rates:
        counts[:] = [0, 0]


def table_sizes() -> dict[str, int]:
    """Entries per sharing table (struct tables are named by class), for tests and figures."""
    sizes = {name: len(table) for name, table in _tables.items()}
    sizes["times"], sizes["ints"] = len(_times), len(_ints)
    return sizes


# --- strings, ints, timestamps ---------------------------------------------------------------


def _interning_is_mortal() -> bool:
    # An immortal object reports a huge reference count (CPython 3.12's interned strings).
    probe = sys.intern("".join(["kcore-share-probe-", str(id(_tables))]))
    return sys.getrefcount(probe) < 1 << 20


_bounded_strings: dict[str, str] = {}


def _bounded_intern(text: str) -> str:
    if len(_bounded_strings) >= LIMIT:
        _bounded_strings.clear()
    return _bounded_strings.setdefault(text, text)


intern: Callable[[str], str] = sys.intern if _interning_is_mortal() else _bounded_intern

_ints: dict[Any, Any] = {}
_times: dict[str, datetime] = {}


def trim_tables() -> None:
    """Clear the value-keyed tables once over ``LIMIT`` (called after each shared decode)."""
    if len(_ints) > LIMIT:
        _ints.clear()


def _share_scalar(value: Any) -> Any:
    if value.__class__ is str:
        return intern(value)
    if value.__class__ is int:
        return _ints.setdefault(value, value)
    return value


def share_time(value: Any, path: Any, problems: Problems) -> Any:
    if value.__class__ is not str:
        return _time(value, path, problems)
    found = _times.get(value)
    if found is not None:
        return found
    parsed = _time(value, path, problems)
    if parsed is not None:
        if len(_times) >= LIMIT:
            _times.clear()
        _times[value] = parsed
    return parsed


# --- maps ------------------------------------------------------------------------------------

_str_maps, _drop_str_map = _weak_table("map[str]")
_eq, _is = operator.eq, operator.is_


def _checked_str_map(value: dict[Any, Any], path: Any, problems: Problems) -> dict[str, Any]:
    # The same problems, in the same order, as the non-sharing decoder reports.
    checked: dict[str, Any] = {}
    for key, item in value.items():
        name = _key(key, path, problems)
        if item.__class__ is not str:
            _bad(problems, (path, (key,)), "string", item)
            item = None
        checked[name] = item
    return checked


def share_str_map(value: Any, path: Any, problems: Problems) -> Any:
    if value.__class__ is not dict:
        _bad(problems, path, "an object", value)
        return None
    if not value:
        return EMPTY
    for key, item in value.items():
        if key.__class__ is not str or item.__class__ is not str:
            value = _checked_str_map(value, path, problems)
            break
    code = hash((*value, *value.values()))
    ref = _str_maps.get(code)
    if ref is not None:
        found = ref()
        if found is not None and found == value and all(map(_eq, found, value)):
            return found
    if problems:  # the decode fails anyway; values may not all be strings
        return FrozenDict(value)
    made = SharedFrozenDict(zip(map(intern, value), map(intern, value.values()), strict=True))
    _str_maps[code] = weakref.KeyedRef(made, _drop_str_map, code)
    return made


def _map_sharer(tag: str) -> Callable[[dict[str, Any]], Any]:
    """Shares maps of one item type: plain values compared by value, others by identity."""
    table, drop = _weak_table(f"map[{tag}]")
    by_identity = tag in ("struct", "time", "quantity")

    def share(value: dict[str, Any]) -> Any:
        if not value:
            return EMPTY
        if by_identity:
            code = hash((*value, *map(id, value.values())))
        else:
            code = hash((*value, *value.values()))
        ref = table.get(code)
        if ref is not None:
            found = ref()
            if (
                found is not None
                and len(found) == len(value)
                and all(map(_eq, found, value))
                and (
                    all(map(_is, found.values(), value.values())) if by_identity else found == value
                )
            ):
                return found
        made: SharedFrozenDict[str, Any] = SharedFrozenDict(
            zip(map(intern, value), value.values(), strict=True)
        )
        table[code] = weakref.KeyedRef(made, drop, code)
        return made

    return share


_RUNTIME: dict[str, Any] = {
    "_share_time": share_time,
    "_share_str_map": share_str_map,
    "_in": intern,
    "_isd": _ints.setdefault,
    "_scalar": _share_scalar,
    "_id": id,
    "_is": _is,
    "_Ref": weakref.KeyedRef,
    **{f"_share_map_{tag}": _map_sharer(tag) for tag in sorted(SHARED_MAP_ITEMS)},
}


# --- code generation -------------------------------------------------------------------------

_VALUE_TAGS = frozenset({"str", "int", "bool", "intstr", "bytes"})
_SHARED_ITEM_TAGS = frozenset({"struct", "time", "quantity", "map"})


def _compare_kind(shape: _Shape) -> str:
    """How a field takes part in a struct's hash and check: value, time, identity, item ids."""
    if shape.tag in _VALUE_TAGS:
        return "value"
    if shape.tag == "time":
        return "time"
    if shape.tag == "seq" and shape.item is not None:
        if shape.item.tag in _VALUE_TAGS:
            return "value"
        if shape.item.tag in _SHARED_ITEM_TAGS:
            return "items"
    return "identity"  # floats too: 1 == 1.0, but they are written differently


def _store(shape: _Shape, var: str) -> str:
    """The value a newly built struct keeps: its strings interned, its ints shared."""
    if shape.tag == "str":
        return f"_in({var}) if {var} else {var}"
    if shape.tag == "int":
        return f"_isd({var}, {var})"
    if shape.tag == "intstr":
        return f"_scalar({var})"
    if shape.tag == "seq" and shape.item is not None and shape.item.tag == "str":
        return f"tuple(map(_in, {var})) if {var} and not p else {var}"
    return var


def _never_shared(cls: type[Any]) -> bool:
    from kcore.objects.meta import ObjectMeta

    return _type_fields(cls) is not None or cls is ObjectMeta


def _never_interned(cls: type[Any]) -> frozenset[str]:
    """Fields that identify one object: interning them would mostly grow the intern table."""
    from kcore.objects.meta import ObjectMeta

    return frozenset({"name", "uid", "resource_version"}) if cls is ObjectMeta else frozenset()


def shared_decoder_for(cls: type[Any]) -> Decoder:
    """The sharing variant of ``cls``'s decoder (same signature as ``decoder_for``'s)."""
    found = _shared_decoders.get(cls)
    if found is not None:
        return found
    gen = _Gen(share=True)
    gen.names.update(_RUNTIME)
    fields = _fields(cls)
    new = gen.name(cls, "cls")
    lines = [
        "def decode(d, path, p, strict):",
        "    if d.__class__ is not dict:",
        "        _bad(p, path, 'an object', d)",
        "        return None",
        "    get = d.get",
    ]
    # Every field first, into locals: the struct is built only if no equal one is alive.
    for number, (attribute, shape, wire) in enumerate(fields):
        default = gen.name(_default_of(attribute), "d")
        converted = gen.convert(shape, "v", f"(path, {wire!r})")
        lines += [
            f"    v = get({wire!r})",
            f"    a{number} = {default} if v is None else {converted}",
        ]
    build = [f"o = {new}.__new__({new})"]
    unique = _never_interned(cls)
    for number, (attribute, shape, _) in enumerate(fields):
        setter = gen.name(_slot_setter(cls, attribute.name), "set")
        stored = f"a{number}" if attribute.name in unique else _store(shape, f"a{number}")
        build.append(f"{setter}(o, {stored})")
    build.append(f"{gen.name(_slot_setter(cls, UNKNOWN_SLOT), 'set')}(o, None)")
    known = {wire for _, _, wire in fields}
    if _type_fields(cls) is not None:
        known |= {"apiVersion", "kind"}
    known_name = gen.name(frozenset(known), "known")
    gen.names["_unknown"] = _unknown
    unknown = [
        f"    if not {known_name}.issuperset(d):",
        f"        _unknown(o, d, {known_name}, path, p, strict)",
    ]
    if _never_shared(cls):
        lines += ["    " + line for line in build] + unknown + ["    return o"]
    else:
        table, drop = _weak_table(f"{cls.__module__}.{cls.__qualname__}")
        counts = [0, 0]
        _hit_rates.append(counts)
        gen.names.update({"_tget": table.get, "_tab": table, "_drop": drop, "_st": counts})
        hashed, checks = [], []
        for number, (attribute, shape, _) in enumerate(fields):
            kind, mine, theirs = _compare_kind(shape), f"a{number}", f"c.{attribute.name}"
            if kind == "value":
                hashed.append(mine)
                checks.append(f"{theirs} == {mine}")
            elif kind == "time":
                # Equal instants in the same zone object are written alike (None is None).
                hashed.append(mine)
                checks.append(
                    f"({theirs} is {mine} or "
                    f"({theirs} == {mine} and {theirs}.tzinfo is {mine}.tzinfo))"
                )
            elif kind == "items":
                # Most lists are empty: () is one object, hashed and compared as it is.
                hashed.append(f"(tuple(map(_id, {mine})) if {mine} else {mine})")
                checks.append(
                    f"({theirs} is {mine} or ({mine} and {theirs} and len({theirs}) == len({mine})"
                    f" and all(map(_is, {theirs}, {mine}))))"
                )
            else:
                hashed.append(f"({mine} if {mine} is None else _id({mine}))")
                checks.append(f"{theirs} is {mine}")
        hash_expr = f"hash(({', '.join(hashed)},))" if hashed else "0"
        lines += [
            # Unknown fields are written back but not compared: such an object stays private.
            f"    if not {known_name}.issuperset(d):",
            *["        " + line for line in build],
            f"        _unknown(o, d, {known_name}, path, p, strict)",
            "        return o",
            # An empty table (a class seldom shared, whose few entries died) has nothing to
            # find: the hash is then only computed if the new object is entered.
            "    if _tab:",
            f"        h = {hash_expr}",
            "        r = _tget(h)",
            "        if r is not None:",
            "            c = r()",
            f"            if c is not None and {' and '.join(checks) or 'True'}:",
            "                _st[1] += 1",
            "                return c",
            "    else:",
            "        h = None",
            *["    " + line for line in build],
            # Misses and hits (recent ones: halved every WINDOW lookups) decide whether a new
            # object is entered: always while sharing pays, one in PROBE while it does not.
            "    m = _st[0] = _st[0] + 1",
            f"    if m + _st[1] >= {WINDOW}:",
            "        m = _st[0] = m >> 1",
            "        _st[1] >>= 1",
            f"    if m < {PROBE * 4} or _st[1] * {PROBE} >= m or not m % {PROBE}:",
            "        if h is None:",
            f"            h = {hash_expr}",
            "        _tab[h] = _Ref(o, _drop, h)",
            "    return o",
        ]
    source = "\n".join(lines)
    code = compile(source, f"<kcore shared decode {cls.__module__}.{cls.__qualname__}>", "exec")
    exec(code, gen.names)  # generated from the class's own field list; no outside input
    fn: Decoder = gen.names["decode"]
    _shared_decoders[cls] = fn
    return fn
