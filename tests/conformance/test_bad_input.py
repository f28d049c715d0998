"""Bad input: a clear error naming the argument, and nothing changed, no revision spent."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kcore.errors import (
    InvalidArgumentError,
    InvalidSortOptionError,
    InvalidTypeError,
    KeyNotProvidedError,
    TooManyOpsError,
)
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    TxnRequest,
)

from ._util import dump, unchanged

pytestmark = pytest.mark.anyio

Call = Callable[[Any], Awaitable[object]]

GOOD_PUT = PutRequest(b"new", b"v")
EQ = CompareResult.EQUAL


def txn(*success: object, compare: tuple[object, ...] = ()) -> Call:
    return lambda s: s.txn(list(compare), list(success), [])


# (id, error class, the argument's name the message must contain (a regex), the call)
CASES: list[tuple[str, type[Exception], str, Call]] = [
    # range
    ("range key str", InvalidTypeError, "key", lambda s: s.range("a")),
    ("range key None", InvalidTypeError, "key", lambda s: s.range(None)),
    ("range range_end str", InvalidTypeError, "range_end", lambda s: s.range(b"a", "z")),
    ("range negative limit", InvalidArgumentError, "limit", lambda s: s.range(b"a", limit=-1)),
    ("range limit str", InvalidTypeError, "limit", lambda s: s.range(b"a", limit="1")),
    ("range revision str", InvalidTypeError, "revision", lambda s: s.range(b"a", revision="2")),
    # put
    ("put key str", InvalidTypeError, "key", lambda s: s.put("new", b"v")),
    ("put value str", InvalidTypeError, "value", lambda s: s.put(b"new", "v")),
    ("put value None", InvalidTypeError, "value", lambda s: s.put(b"new", None)),
    ("put lease str", InvalidTypeError, "lease", lambda s: s.put(b"new", b"v", lease="1")),
    ("put over existing str", InvalidTypeError, "value", lambda s: s.put(b"a", "v")),
    # delete_range
    ("delete key str", InvalidTypeError, "key", lambda s: s.delete_range("a")),
    ("delete range_end str", InvalidTypeError, "range_end", lambda s: s.delete_range(b"a", "z")),
    # txn: compares
    ("txn compare not a Compare", InvalidTypeError, "compare", txn(GOOD_PUT, compare=("x",))),
    (
        "txn compare key str",
        InvalidTypeError,
        "key",
        txn(GOOD_PUT, compare=(Compare("a", CompareTarget.VERSION, EQ),)),
    ),
    (
        "txn compare unknown target",
        InvalidArgumentError,
        "target",
        txn(GOOD_PUT, compare=(Compare(b"a", 9, EQ),)),
    ),
    (
        "txn compare unknown result",
        InvalidArgumentError,
        "result",
        txn(GOOD_PUT, compare=(Compare(b"a", CompareTarget.VERSION, 9),)),
    ),
    (
        "txn compare value str",
        InvalidTypeError,
        "value",
        txn(GOOD_PUT, compare=(Compare(b"a", CompareTarget.VALUE, EQ, value="v"),)),
    ),
    # txn: operations (a good put first: it must not be applied)
    ("txn op not a request", InvalidTypeError, "success", txn(GOOD_PUT, "put")),
    ("txn op None", InvalidTypeError, "success", txn(GOOD_PUT, None)),
    ("txn put key str", InvalidTypeError, "key", txn(GOOD_PUT, PutRequest("b", b"v"))),
    ("txn put value str", InvalidTypeError, "value", txn(GOOD_PUT, PutRequest(b"b", "v"))),
    ("txn delete key str", InvalidTypeError, "key", txn(GOOD_PUT, DeleteRangeRequest("a"))),
    ("txn range key str", InvalidTypeError, "key", txn(GOOD_PUT, RangeRequest("a"))),
    (
        "txn range negative limit",
        InvalidArgumentError,
        "limit",
        txn(GOOD_PUT, RangeRequest(b"a", limit=-5)),
    ),
    (
        "nested txn put key str",
        InvalidTypeError,
        "key",
        txn(GOOD_PUT, TxnRequest([], [PutRequest(b"x"), PutRequest("y")], [])),
    ),
    (
        "nested txn failure put value str",
        InvalidTypeError,
        "value",
        txn(GOOD_PUT, TxnRequest([], [], [PutRequest(b"y", "v")])),
    ),
    # watch
    ("watch key str", InvalidTypeError, "key", lambda s: s.watch("a")),
    ("watch range_end str", InvalidTypeError, "range_end", lambda s: s.watch(b"a", "z")),
    (
        "watch unknown filter",
        InvalidArgumentError,
        "filters?",
        lambda s: s.watch(b"a", filters=[5]),
    ),
    (
        "watch start_revision str",
        InvalidTypeError,
        "start_revision",
        lambda s: s.watch(b"a", start_revision="1"),
    ),
    # leases and compaction
    ("lease_grant ttl str", InvalidTypeError, "ttl", lambda s: s.lease_grant("10")),
    ("lease_grant id str", InvalidTypeError, "id", lambda s: s.lease_grant(10, id="1")),
    ("lease_revoke id str", InvalidTypeError, "id", lambda s: s.lease_revoke("1")),
    ("compact revision str", InvalidTypeError, "revision", lambda s: s.compact("2")),
]


async def seed(store) -> int:
    await store.put(b"a", b"1")
    await store.put(b"b", b"2")
    return (await store.lease_grant(30)).id


@pytest.mark.parametrize(
    ("error", "names", "call"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_bad_argument_is_refused_and_changes_nothing(backend, error, names, call):
    store = backend.store
    await seed(store)
    leases_before = await store.leases()
    async with unchanged(store):
        with pytest.raises(error) as exc:
            await call(store)
    assert isinstance(exc.value, InvalidArgumentError)
    message = str(exc.value)
    assert re.search(rf"\b{names}\b", message), f"the message does not name {names!r}: {message}"
    assert (await store.leases()).leases == leases_before.leases


@pytest.mark.parametrize("where", ["sort_order", "sort_target"])
@pytest.mark.parametrize("value", [7, -1])
async def test_unknown_sort_enum(backend, where, value):
    store = backend.store
    await seed(store)
    async with unchanged(store):
        with pytest.raises(InvalidSortOptionError) as exc:
            await store.range(b"a", b"z", **{where: value})
        assert str(exc.value) == "etcdserver: invalid sort option"
        with pytest.raises(InvalidSortOptionError):
            await store.txn([], [GOOD_PUT, RangeRequest(b"a", **{where: value})], [])


@pytest.mark.parametrize(
    "ops",
    [
        [GOOD_PUT, PutRequest(b"")],
        [GOOD_PUT, DeleteRangeRequest(b"")],
        [GOOD_PUT, RangeRequest(b"")],
        [GOOD_PUT, TxnRequest([], [], [PutRequest(b"")])],
        [GOOD_PUT, TxnRequest([Compare(b"", CompareTarget.VERSION, EQ)], [], [])],
    ],
    ids=["put", "delete", "range", "nested put", "nested compare"],
)
async def test_empty_key_in_txn(backend, ops):
    store = backend.store
    await seed(store)
    async with unchanged(store):
        with pytest.raises(KeyNotProvidedError) as exc:
            await store.txn([], ops, [])
    assert str(exc.value) == "etcdserver: key is not provided"


async def test_empty_compare_key(backend):
    store = backend.store
    await seed(store)
    async with unchanged(store):
        with pytest.raises(KeyNotProvidedError):
            await store.txn([Compare(b"", CompareTarget.VERSION, EQ)], [GOOD_PUT], [])


async def test_oversized_txn(backend):
    store = backend.store
    await seed(store)
    ops = [PutRequest(b"k%d" % i, b"v") for i in range(200)]
    async with unchanged(store):
        with pytest.raises(TooManyOpsError):
            await store.txn([], ops, [])
        with pytest.raises(TooManyOpsError):
            await store.txn([], [GOOD_PUT], [TxnRequest([], ops, [])])


async def test_store_still_works_after_bad_input(backend):
    store = backend.store
    await seed(store)
    for _, error, _, call in CASES:
        with pytest.raises(error):
            await call(store)
    resp = await store.put(b"c", b"3")
    assert resp.header.revision == 4
    assert [kv.key for kv in (await dump(store))[1]] == [b"a", b"b", b"c"]
