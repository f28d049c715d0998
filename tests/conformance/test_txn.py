"""Txn: compares, branches, in-order ops, one revision, op limits, duplicate-key rules."""

from __future__ import annotations

import pytest

from kcore.errors import (
    CompactedError,
    DuplicateKeyError,
    FutureRevisionError,
    KeyNotFoundError,
    LeaseNotFoundError,
    TooManyOpsError,
)
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    KeyValue,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    TxnRequest,
    TxnResponse,
    prefix_end,
)

from ._util import current_revision, get, unchanged

pytestmark = pytest.mark.anyio

EQ, GT, LT, NE = (
    CompareResult.EQUAL,
    CompareResult.GREATER,
    CompareResult.LESS,
    CompareResult.NOT_EQUAL,
)
FIELD = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE: "create_revision",
    CompareTarget.MOD: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}


def cmp(key: bytes, target: CompareTarget, result: CompareResult, operand, **kw) -> Compare:
    return Compare(key, target, result, **{FIELD[target]: operand}, **kw)


def version_is(key: bytes, version: int, **kw) -> Compare:
    return Compare(key, CompareTarget.VERSION, EQ, version=version, **kw)


async def succeeds(store, *compares: Compare) -> bool:
    return (await store.txn(compares, [], [])).succeeded


# --- compares --------------------------------------------------------------------------


@pytest.mark.parametrize("target", list(CompareTarget))
@pytest.mark.parametrize("result", list(CompareResult))
async def test_every_target_and_result(backend, target, result):
    store = backend.store
    lease = await store.lease_grant(30)
    await store.put(b"x", b"")  # 2
    await store.put(b"k", b"v1")  # 3
    await store.put(b"k", b"v2", lease=lease.id)  # 4
    kv = await get(store, b"k")
    assert kv == KeyValue(b"k", 3, 4, 2, b"v2", lease.id)
    actual = getattr(kv, FIELD[target])
    if target is CompareTarget.VALUE:
        lower, higher = b"v1", b"v3"
    else:
        lower, higher = actual - 1, actual + 1
    truth = {
        EQ: {lower: False, actual: True, higher: False},
        GT: {lower: True, actual: False, higher: False},  # the key's field > operand
        LT: {lower: False, actual: False, higher: True},
        NE: {lower: True, actual: False, higher: True},
    }[result]
    for operand, expected in truth.items():
        got = await succeeds(store, cmp(b"k", target, result, operand))
        assert got is expected, f"{target.name} {result.name} {operand!r} on {kv}"
    assert await current_revision(store) == 4  # compare-only txns change nothing


async def test_compares_are_anded(backend):
    store = backend.store
    await store.put(b"a", b"1")
    await store.put(b"b", b"2")
    a_ok, b_ok = cmp(b"a", CompareTarget.VALUE, EQ, b"1"), cmp(b"b", CompareTarget.VALUE, EQ, b"2")
    b_bad = cmp(b"b", CompareTarget.VALUE, EQ, b"1")
    assert await succeeds(store) is True  # no compares: success
    assert await succeeds(store, a_ok, b_ok) is True
    assert await succeeds(store, a_ok, b_bad) is False
    assert await succeeds(store, b_bad, a_ok) is False


@pytest.mark.parametrize("result", list(CompareResult))
@pytest.mark.parametrize("operand", [b"", b"x"])
async def test_value_compare_on_missing_key_is_false(backend, result, operand):
    store = backend.store
    await store.put(b"gone", b"x")
    await store.delete_range(b"gone")
    assert await succeeds(store, cmp(b"missing", CompareTarget.VALUE, result, operand)) is False
    assert await succeeds(store, cmp(b"gone", CompareTarget.VALUE, result, operand)) is False
    empty_range = cmp(b"m", CompareTarget.VALUE, result, operand, range_end=b"n")
    assert await succeeds(store, empty_range) is False


@pytest.mark.parametrize("target", [t for t in CompareTarget if t is not CompareTarget.VALUE])
async def test_other_targets_on_missing_key_compare_against_zero(backend, target):
    store = backend.store
    await store.put(b"gone", b"x")
    await store.delete_range(b"gone")
    for key in (b"missing", b"gone"):
        assert await succeeds(store, cmp(key, target, EQ, 0)) is True
        assert await succeeds(store, cmp(key, target, NE, 0)) is False
        assert await succeeds(store, cmp(key, target, LT, 1)) is True
        assert await succeeds(store, cmp(key, target, GT, 0)) is False
    assert await succeeds(store, cmp(b"m", target, EQ, 0, range_end=b"n")) is True


async def test_range_compare_must_hold_for_every_key(backend):
    store = backend.store
    await store.put(b"p/a", b"1")
    await store.put(b"p/b", b"1")
    await store.put(b"p/b", b"1")  # version 2
    await store.put(b"q", b"2")
    end = prefix_end(b"p/")
    assert await succeeds(store, version_is(b"p/", 1, range_end=end)) is False
    assert await succeeds(store, cmp(b"p/", CompareTarget.VERSION, GT, 0, range_end=end)) is True
    assert await succeeds(store, cmp(b"p/", CompareTarget.VALUE, EQ, b"1", range_end=end)) is True
    assert (
        await succeeds(store, cmp(b"p/", CompareTarget.VALUE, EQ, b"1", range_end=b"\0")) is False
    )
    # p/a mod 2, p/b mod 4, q mod 5
    assert await succeeds(store, cmp(b"p/", CompareTarget.MOD, LT, 6, range_end=b"\0")) is True
    assert await succeeds(store, cmp(b"p/", CompareTarget.MOD, LT, 5, range_end=b"\0")) is False
    assert await succeeds(store, cmp(b"p/", CompareTarget.MOD, LT, 5, range_end=b"q")) is True
    assert await succeeds(store, cmp(b"p/", CompareTarget.MOD, LT, 4, range_end=b"q")) is False


async def test_compare_can_implement_create_if_absent(backend):
    store = backend.store
    absent = cmp(b"k", CompareTarget.CREATE, EQ, 0)
    first = await store.txn([absent], [PutRequest(b"k", b"first")], [RangeRequest(b"k")])
    second = await store.txn([absent], [PutRequest(b"k", b"second")], [RangeRequest(b"k")])
    assert first.succeeded is True and second.succeeded is False
    assert isinstance(second.responses[0], RangeResponse)
    assert second.responses[0].kvs == (KeyValue(b"k", 2, 2, 1, b"first"),)
    assert second.header.revision == 2


# --- branches, order, revisions ------------------------------------------------------------


async def test_success_and_failure_branches(backend):
    store = backend.store
    await store.put(b"k", b"v")
    is_v = cmp(b"k", CompareTarget.VALUE, EQ, b"v")
    resp = await store.txn([is_v], [PutRequest(b"then", b"1")], [PutRequest(b"else", b"1")])
    assert resp.succeeded is True
    assert resp.header.revision == 3
    assert len(resp.responses) == 1 and isinstance(resp.responses[0], PutResponse)
    is_w = cmp(b"k", CompareTarget.VALUE, EQ, b"w")
    resp = await store.txn([is_w], [PutRequest(b"then", b"2")], [PutRequest(b"else", b"2")])
    assert resp.succeeded is False
    assert resp.header.revision == 4
    assert (await get(store, b"then")).value == b"1"
    assert (await get(store, b"else")).value == b"2"


async def test_whole_txn_is_one_revision(backend):
    store = backend.store
    await store.put(b"a", b"old")  # 2
    await store.put(b"c", b"old")  # 3
    await store.put(b"d1", b"old")  # 4
    await store.put(b"d2", b"old")  # 5
    resp = await store.txn(
        [],
        [
            PutRequest(b"a", b"new"),
            PutRequest(b"b", b"new"),
            DeleteRangeRequest(b"c"),
            TxnRequest([], [PutRequest(b"e", b"new"), DeleteRangeRequest(b"d", b"e")], []),
        ],
        [],
    )
    assert resp.succeeded is True
    assert resp.header.revision == 6
    assert await current_revision(store) == 6
    assert await get(store, b"a") == KeyValue(b"a", 2, 6, 2, b"new")
    assert await get(store, b"b") == KeyValue(b"b", 6, 6, 1, b"new")
    assert await get(store, b"e") == KeyValue(b"e", 6, 6, 1, b"new")
    assert await get(store, b"c") is None
    assert (await store.range(b"d", b"e")).kvs == ()
    assert (await store.range(b"d", b"e", revision=5)).count == 2


async def test_txn_that_changes_nothing_spends_no_revision(backend):
    store = backend.store
    await store.put(b"k", b"v")
    resp = await store.txn([], [RangeRequest(b"k"), RangeRequest(b"a", b"\0")], [])
    assert resp.header.revision == 2
    resp = await store.txn([], [DeleteRangeRequest(b"missing")], [])
    assert resp.header.revision == 2
    assert resp.responses[0].deleted == 0
    never = cmp(b"k", CompareTarget.VALUE, EQ, b"nope")
    resp = await store.txn([never], [PutRequest(b"k", b"x")], [])
    assert resp.succeeded is False
    assert resp.header.revision == 2
    resp = await store.txn([], [TxnRequest([], [RangeRequest(b"k")], [])], [])
    assert resp.header.revision == 2
    assert await current_revision(store) == 2


async def test_later_ops_see_earlier_writes(backend):
    store = backend.store
    await store.put(b"gone", b"x")  # 2
    resp = await store.txn(
        [],
        [
            RangeRequest(b"a"),
            PutRequest(b"a", b"1"),
            RangeRequest(b"a"),
            DeleteRangeRequest(b"gone", prev_kv=True),
            RangeRequest(b"gone"),
            TxnRequest([], [RangeRequest(b"a", b"b")], []),
        ],
        [],
    )
    r = resp.responses
    assert [type(x) for x in r] == [
        RangeResponse,
        PutResponse,
        RangeResponse,
        DeleteRangeResponse,
        RangeResponse,
        TxnResponse,
    ]
    assert r[0].kvs == ()
    assert r[2].kvs == (KeyValue(b"a", 3, 3, 1, b"1"),)
    assert r[3].deleted == 1
    assert r[3].prev_kvs == (KeyValue(b"gone", 2, 2, 1, b"x"),)
    assert r[4].kvs == ()
    assert r[5].succeeded is True
    assert r[5].responses[0].kvs == (KeyValue(b"a", 3, 3, 1, b"1"),)


async def test_put_prev_kv_inside_txn(backend):
    store = backend.store
    await store.put(b"k", b"v1")
    resp = await store.txn([], [PutRequest(b"k", b"v2", prev_kv=True)], [])
    assert resp.responses[0].prev_kv == KeyValue(b"k", 2, 2, 1, b"v1")


async def test_nested_compares_see_the_state_before_the_txn(backend):
    store = backend.store
    await store.put(b"k", b"v1")
    was_v1 = cmp(b"k", CompareTarget.VALUE, EQ, b"v1")
    resp = await store.txn(
        [],
        [
            PutRequest(b"k", b"v2"),
            TxnRequest([was_v1], [PutRequest(b"saw", b"before")], [PutRequest(b"saw", b"after")]),
        ],
        [],
    )
    assert resp.responses[1].succeeded is True
    assert (await get(store, b"saw")).value == b"before"
    assert (await get(store, b"k")).value == b"v2"


async def test_nested_compare_on_key_created_in_the_same_txn(backend):
    store = backend.store
    absent = cmp(b"new", CompareTarget.VERSION, EQ, 0)
    resp = await store.txn(
        [],
        [PutRequest(b"new", b"1"), TxnRequest([absent], [PutRequest(b"x", b"yes")], [])],
        [],
    )
    assert resp.responses[1].succeeded is True
    assert (await get(store, b"x")).value == b"yes"


async def test_nested_txn_in_failure_branch(backend):
    store = backend.store
    never = cmp(b"k", CompareTarget.VERSION, GT, 0)
    inner = TxnRequest([], [PutRequest(b"inner", b"1")], [])
    resp = await store.txn([never], [], [PutRequest(b"outer", b"1"), inner])
    assert resp.succeeded is False
    assert isinstance(resp.responses[1], TxnResponse)
    assert (await get(store, b"inner")) == KeyValue(b"inner", 2, 2, 1, b"1")
    assert (await get(store, b"outer")) == KeyValue(b"outer", 2, 2, 1, b"1")


# --- errors leave nothing behind --------------------------------------------------------


async def test_unknown_lease_in_a_later_op_applies_nothing(backend):
    store = backend.store
    async with unchanged(store):
        with pytest.raises(LeaseNotFoundError):
            await store.txn([], [PutRequest(b"a", b"1"), PutRequest(b"b", b"1", lease=999)], [])
        with pytest.raises(LeaseNotFoundError):
            await store.txn(
                [], [PutRequest(b"a", b"1"), TxnRequest([], [PutRequest(b"b", lease=999)], [])], []
            )


async def test_ignore_value_on_missing_key_in_txn_applies_nothing(backend):
    store = backend.store
    async with unchanged(store):
        with pytest.raises(KeyNotFoundError):
            await store.txn([], [PutRequest(b"a", b"1"), PutRequest(b"b", ignore_value=True)], [])


async def test_future_revision_read_in_txn_applies_nothing(backend):
    store = backend.store
    async with unchanged(store):
        with pytest.raises(FutureRevisionError):
            await store.txn([], [PutRequest(b"a", b"1"), RangeRequest(b"a", revision=50)], [])


async def test_compacted_revision_read_in_txn_applies_nothing(backend):
    store = backend.store
    for i in range(4):
        await store.put(b"k", b"%d" % i)  # 2..5
    await store.compact(4)
    async with unchanged(store):
        with pytest.raises(CompactedError):
            await store.txn([], [PutRequest(b"a", b"1"), RangeRequest(b"k", revision=3)], [])


# --- size limit ----------------------------------------------------------------------------


def puts(n: int, prefix: bytes = b"k") -> list[PutRequest]:
    return [PutRequest(prefix + b"%03d" % i, b"v") for i in range(n)]


async def test_128_ops_are_allowed(backend):
    store = backend.store
    resp = await store.txn([], puts(128), [])
    assert resp.header.revision == 2
    assert (await store.range(b"k", b"l", count_only=True)).count == 128
    compares = [version_is(b"k%03d" % i, 1) for i in range(128)]
    resp = await store.txn(compares, puts(128, b"m"), puts(128, b"n"))
    assert resp.succeeded is True
    assert (await store.range(b"m", b"n", count_only=True)).count == 128


@pytest.mark.parametrize("where", ["compare", "success", "failure"])
async def test_129_ops_are_refused(backend, where):
    store = backend.store
    args = {"compare": [], "success": [], "failure": []}
    if where == "compare":
        args["compare"] = [version_is(b"k%03d" % i, 0) for i in range(129)]
    else:
        args[where] = puts(129)
    async with unchanged(store):
        with pytest.raises(TooManyOpsError) as exc:
            await store.txn(**args)
    assert str(exc.value) == "etcdserver: too many operations in txn request"


async def test_nested_ops_count_toward_the_limit(backend):
    store = backend.store
    inner = TxnRequest([], puts(50, b"inner"), [])
    async with unchanged(store):
        with pytest.raises(TooManyOpsError):
            await store.txn([], [*puts(100), inner], [])


# --- duplicate keys --------------------------------------------------------------------------


def txn(success=(), failure=(), compare=()) -> TxnRequest:
    return TxnRequest(compare, success, failure)


P, D = PutRequest, DeleteRangeRequest

DUPLICATES = {
    "put twice": [P(b"a"), P(b"a", b"2")],
    "put then delete": [P(b"a"), D(b"a")],
    "delete then put": [D(b"a"), P(b"a")],
    "put inside a deleted range": [D(b"a", b"c"), P(b"b")],
    "put at top and in nested then": [P(b"a"), txn([P(b"a")])],
    "put at top and in nested else": [txn(failure=[P(b"a")]), P(b"a")],
    "put in nested then, deleted at top": [D(b"a", b"b"), txn([P(b"a")])],
    "deleted in nested txn, put at top": [txn([D(b"a")]), P(b"a")],
    "two nested txns put the same key": [txn([P(b"a")]), txn([P(b"a")])],
    "put in nested then and an earlier nested else": [txn(failure=[P(b"a")]), txn([P(b"a")])],
    "deleted in one nested txn, put in a later one": [txn([D(b"a")]), txn([P(b"a")])],
    "put twice two levels down": [txn([txn([P(b"a"), P(b"a")])])],
    "put at top and two levels down": [P(b"a"), txn([txn(failure=[P(b"a")])])],
}

ALLOWED = {
    "read and put the same key": [RangeRequest(b"a"), P(b"a"), RangeRequest(b"a")],
    "overlapping deletes": [D(b"a", b"c"), D(b"b", b"d"), D(b"b")],
    "delete and put different keys": [D(b"a", b"b"), P(b"b")],
    "then and else of a nested txn share a key": [txn([P(b"a")], [P(b"a")])],
    "put in nested then, deleted in its else": [txn([P(b"a")], [D(b"a")])],
    "same key in different nested levels' reads": [P(b"a"), txn([RangeRequest(b"a")])],
}


@pytest.mark.parametrize("ops", list(DUPLICATES.values()), ids=list(DUPLICATES))
@pytest.mark.parametrize("branch", ["success", "failure"])
async def test_duplicate_key_is_refused(backend, ops, branch):
    """Refused before anything runs, whichever branch the compares choose."""
    store = backend.store
    await store.put(b"a", b"0")
    async with unchanged(store):
        with pytest.raises(DuplicateKeyError) as exc:
            await store.txn([], **{branch: ops})
    assert str(exc.value) == "etcdserver: duplicate key given in txn request"


@pytest.mark.parametrize("ops", list(ALLOWED.values()), ids=list(ALLOWED))
async def test_allowed_key_reuse(backend, ops):
    store = backend.store
    await store.put(b"a", b"0")
    await store.put(b"b", b"0")
    resp = await store.txn([], ops, [])
    assert resp.succeeded is True
    assert resp.header.revision == 4


async def test_top_level_branches_are_checked_separately(backend):
    store = backend.store
    resp = await store.txn([], [P(b"a", b"then")], [P(b"a", b"else")])
    assert resp.succeeded is True
    assert (await get(store, b"a")).value == b"then"
    resp = await store.txn([], [D(b"a")], [P(b"a", b"else")])
    assert resp.succeeded is True
    assert await get(store, b"a") is None
