"""Argument checks shared by every store backend, run before anything changes.

A request is checked whole (a txn with every nested op) before the first write, so bad input
never leaves a partial write behind and never spends a revision. Messages name the argument
and say what it takes; etcd's own conditions raise etcd's own errors and texts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import TypeVar

from kcore.errors import (
    DuplicateKeyError,
    InvalidArgumentError,
    InvalidSortOptionError,
    InvalidTypeError,
    KeyNotProvidedError,
    LeaseProvidedError,
    TooManyOpsError,
    ValueProvidedError,
)
from kcore.store.types import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    FilterType,
    PutRequest,
    RangeRequest,
    RequestOp,
    SortOrder,
    SortTarget,
    TxnRequest,
)

__all__ = [
    "check_bool",
    "check_bytes",
    "check_delete",
    "check_int",
    "check_key",
    "check_put",
    "check_range",
    "check_txn",
    "filters_of",
]

E = TypeVar("E", bound=enum.IntEnum)


def check_bytes(name: str, value: object) -> bytes:
    if type(value) is not bytes:
        raise InvalidTypeError(
            f"{name} must be bytes, got {type(value).__name__} {value!r:.60}"
            + (f"; encode it, e.g. {value!r:.40}.encode()" if isinstance(value, str) else "")
        )
    return value


def check_key(name: str, value: object) -> bytes:
    key = check_bytes(name, value)
    if not key:
        raise KeyNotProvidedError()
    return key


def check_int(name: str, value: object, *, minimum: int | None = 0) -> int:
    if type(value) is not int:
        raise InvalidTypeError(f"{name} must be an int, got {type(value).__name__} {value!r:.60}")
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_bool(name: str, value: object) -> bool:
    if type(value) is not bool:
        raise InvalidTypeError(f"{name} must be a bool, got {type(value).__name__} {value!r:.60}")
    return value


def check_enum(name: str, value: object, kind: type[E], error: type[Exception] | None = None) -> E:
    if type(value) is kind:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return kind(value)
        except ValueError:
            pass
    if error is not None:
        raise error()
    names = ", ".join(m.name for m in kind)
    raise InvalidArgumentError(f"{name} must be a {kind.__name__} ({names}), got {value!r:.60}")


def filters_of(filters: Iterable[object]) -> tuple[bool, bool]:
    """(no_put, no_delete) from a watch's ``filters`` argument."""
    if isinstance(filters, (str, bytes)):
        raise InvalidTypeError("filters must be a list of FilterType, got a string")
    no_put = no_delete = False
    for i, f in enumerate(filters):
        kind = check_enum(f"filters[{i}]", f, FilterType)
        no_put |= kind is FilterType.NOPUT
        no_delete |= kind is FilterType.NODELETE
    return no_put, no_delete


def check_range(r: RangeRequest, where: str = "") -> None:
    check_key(where + "key", r.key)
    check_bytes(where + "range_end", r.range_end)
    check_int(where + "limit", r.limit)
    check_int(where + "revision", r.revision, minimum=None)
    check_enum(where + "sort_order", r.sort_order, SortOrder, InvalidSortOptionError)
    check_enum(where + "sort_target", r.sort_target, SortTarget, InvalidSortOptionError)
    for flag in ("serializable", "keys_only", "count_only"):
        check_bool(where + flag, getattr(r, flag))
    for bound in ("min_mod_revision", "max_mod_revision", "min_create_revision"):
        check_int(where + bound, getattr(r, bound))
    check_int(where + "max_create_revision", r.max_create_revision)


def check_put(r: PutRequest, where: str = "") -> None:
    check_key(where + "key", r.key)
    check_bytes(where + "value", r.value)
    check_int(where + "lease", r.lease)
    for flag in ("prev_kv", "ignore_value", "ignore_lease"):
        check_bool(where + flag, getattr(r, flag))
    if r.ignore_value and r.value:
        raise ValueProvidedError()
    if r.ignore_lease and r.lease:
        raise LeaseProvidedError()


def check_delete(r: DeleteRangeRequest, where: str = "") -> None:
    check_key(where + "key", r.key)
    check_bytes(where + "range_end", r.range_end)
    check_bool(where + "prev_kv", r.prev_kv)


def _check_compare(c: object, where: str) -> None:
    if not isinstance(c, Compare):
        raise InvalidTypeError(f"{where} must be a Compare, got {type(c).__name__}")
    check_key(where + ".key", c.key)
    check_bytes(where + ".range_end", c.range_end)
    target = check_enum(where + ".target", c.target, CompareTarget)
    check_enum(where + ".result", c.result, CompareResult)
    if target is CompareTarget.VALUE:
        check_bytes(where + ".value", c.value)
    else:
        field = {
            CompareTarget.VERSION: "version",
            CompareTarget.CREATE: "create_revision",
            CompareTarget.MOD: "mod_revision",
            CompareTarget.LEASE: "lease",
        }[target]
        check_int(f"{where}.{field}", getattr(c, field), minimum=None)


def check_txn(
    compare: Sequence[object],
    success: Sequence[object],
    failure: Sequence[object],
    max_ops: int,
    where: str = "",
) -> None:
    """Check a txn and every nested op; then the duplicate-key rule over the whole tree.

    Like etcd, a level's size is its longest list (compare, success or failure), and a nested
    txn only gets the budget its parent left: ``max_ops`` minus the parent's size.
    """
    for name, seq in (("compare", compare), ("success", success), ("failure", failure)):
        if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
            raise InvalidTypeError(f"{where}{name} must be a list, got {type(seq).__name__}")
    size = max(len(compare), len(success), len(failure))
    if size > max_ops:
        raise TooManyOpsError()
    for i, c in enumerate(compare):
        _check_compare(c, f"{where}compare[{i}]")
    for name, ops in (("success", success), ("failure", failure)):
        for i, op in enumerate(ops):
            at = f"{where}{name}[{i}]."
            if isinstance(op, RangeRequest):
                check_range(op, at)
            elif isinstance(op, PutRequest):
                check_put(op, at)
            elif isinstance(op, DeleteRangeRequest):
                check_delete(op, at)
            elif isinstance(op, TxnRequest):
                check_txn(op.compare, op.success, op.failure, max_ops - size, at)
            else:
                raise InvalidTypeError(
                    f"{at[:-1]} must be a RangeRequest, PutRequest, DeleteRangeRequest or "
                    f"TxnRequest, got {type(op).__name__}"
                )
    if not where:  # the duplicate rule spans the whole tree; check it once, from the top
        _puts_and_deletes(success)  # type: ignore[arg-type]
        _puts_and_deletes(failure)  # type: ignore[arg-type]


# --- the duplicate-key rule -----------------------------------------------------------------
# A txn may not change a key twice: no key put twice, and no put inside a range deleted by the
# same txn, at any nesting level. Deletes may overlap. The two branches of a nested txn never
# both run, so they may put the same key. (etcd's checkIntervals, restated.)

Interval = tuple[bytes, bytes | None]  # [start, end); end None = no upper bound


def _delete_interval(r: DeleteRangeRequest) -> Interval:
    if not r.range_end:
        return (r.key, r.key + b"\0")
    if r.range_end == b"\0":
        return (r.key, None)
    return (r.key, r.range_end)


def _deleted(key: bytes, deletes: list[Interval]) -> bool:
    return any(start <= key and (end is None or key < end) for start, end in deletes)


def _puts_and_deletes(ops: Sequence[RequestOp]) -> tuple[set[bytes], list[Interval]]:
    deletes = [_delete_interval(op) for op in ops if isinstance(op, DeleteRangeRequest)]
    puts: set[bytes] = set()
    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        then_puts, then_deletes = _puts_and_deletes(op.success)
        else_puts, else_deletes = _puts_and_deletes(op.failure)
        for key in then_puts:
            if key in puts or _deleted(key, deletes):
                raise DuplicateKeyError()
        for key in else_puts:
            if (key in puts and key not in then_puts) or _deleted(key, deletes):
                raise DuplicateKeyError()
        puts |= then_puts | else_puts
        deletes += then_deletes + else_deletes
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts or _deleted(op.key, deletes):
                raise DuplicateKeyError()
            puts.add(op.key)
    return puts, deletes
