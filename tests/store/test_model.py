"""MemoryStore against a small reference model of etcd v3, over random request sequences.

A hypothesis state machine drives ``MemoryStore(clock=VirtualClock())`` and a pure-Python model
side by side — range (historical revisions, limits, sorting, filters), put (prev_kv, leases,
ignore flags), delete_range, txn (compares, nested txns, the duplicate-key rule), compact,
lease grant/revoke/keepalive/time-to-live/list, lease expiry by advancing the clock, and bad
input — and compares every response and every error type. After every step the whole store
(revision, compact revision, key count, every key-value) must equal the model's.

The model is written from etcd's rules (../shared/reference/ETCD-SEMANTICS.md), not from the
store's code. Where etcd leaves a choice open the comparison allows any answer etcd could
give: ties when sorting by a field other than the key, and which of "key not found" and
"lease not found" a put reports when both hold (etcd's put and txn paths differ). Leases that
would expire at the same instant (in an order etcd leaves open, each in its own revision) are
avoided by nudging the clock before a grant or keep-alive.

Run with ``--hypothesis-show-statistics`` to see which outcomes the examples reached.

Hypothesis stateful tests are synchronous, so the store runs on an event loop in a blocking
portal that the machine holds for one example (``async with MemoryStore`` stays open across
steps, so its background lease timer runs as it would in a program).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import anyio.from_thread
import attrs
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kcore.clock import VirtualClock
from kcore.errors import (
    CompactedError,
    DuplicateKeyError,
    FutureRevisionError,
    InvalidArgumentError,
    InvalidSortOptionError,
    InvalidTypeError,
    KcoreError,
    KeyNotFoundError,
    KeyNotProvidedError,
    LeaseExistsError,
    LeaseNotFoundError,
    LeaseProvidedError,
    LeaseTTLTooLargeError,
    TooManyOpsError,
    ValueProvidedError,
)
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DeleteRangeResponse,
    KeyValue,
    MemoryStore,
    PutRequest,
    PutResponse,
    RangeRequest,
    RangeResponse,
    RequestOp,
    SortOrder,
    SortTarget,
    TxnRequest,
    TxnResponse,
    prefix_end,
)

# A small key space, with prefixes, so that keys collide and ranges overlap.
KEYS = (b"a", b"a/1", b"a/2", b"b", b"b/1", b"c")
VALUES = (b"", b"v", b"w", b"xyz")
MIN_TTL = 2
BOGUS_LEASE = 0x7777  # never granted
CHOSEN_LEASE_IDS = (1001, 1002)
# Lease "slots" in generated requests: 0 = no lease, 1..3 = the n-th lease ever granted (it may
# be revoked or expired by now), 4 = a lease that never existed. Resolved when the step runs.
LEASE_SLOTS = st.integers(0, 4)


# --- the reference model ------------------------------------------------------------------


class Fail(Exception):
    """The model's verdict that a request fails; ``kinds`` are the acceptable error types."""

    def __init__(self, *kinds: type[KcoreError]) -> None:
        super().__init__(", ".join(k.__name__ for k in kinds))
        self.kinds = kinds


@attrs.define
class ModelLease:
    id: int
    ttl: int  # granted
    deadline: float


def in_range(k: bytes, key: bytes, end: bytes) -> bool:
    if not end:
        return k == key
    if end == b"\0":
        return k >= key
    return key <= k < end


SORT_FIELD: dict[SortTarget, Callable[[KeyValue], Any]] = {
    SortTarget.KEY: lambda kv: kv.key,
    SortTarget.VERSION: lambda kv: kv.version,
    SortTarget.CREATE: lambda kv: kv.create_revision,
    SortTarget.MOD: lambda kv: kv.mod_revision,
    SortTarget.VALUE: lambda kv: kv.value,
}
COMPARE_FIELD = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE: "create_revision",
    CompareTarget.MOD: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}


@attrs.define
class RangeResult:
    """What a range must return; ``candidates`` maps key -> key-value (before limit)."""

    kvs: list[KeyValue]
    more: bool
    count: int
    target: SortTarget
    candidates: dict[bytes, KeyValue]
    keys_only: bool


def select(state: dict[bytes, KeyValue], r: RangeRequest) -> RangeResult:
    kvs = sorted(
        (kv for k, kv in state.items() if in_range(k, r.key, r.range_end)),
        key=SORT_FIELD[SortTarget.KEY],
    )
    count = len(kvs)
    target = SortTarget(r.sort_target)
    if r.count_only:
        return RangeResult([], False, count, target, {}, r.keys_only)
    if r.min_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision >= r.min_mod_revision]
    if r.max_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision <= r.max_mod_revision]
    if r.min_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision >= r.min_create_revision]
    if r.max_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision <= r.max_create_revision]
    descending = r.sort_order == SortOrder.DESCEND
    filtered = r.min_mod_revision or r.max_mod_revision or r.min_create_revision
    if (
        r.limit
        and r.sort_order == SortOrder.NONE
        and target is not SortTarget.KEY
        and not (filtered or r.max_create_revision)
    ):
        kvs = kvs[: r.limit + 1]  # etcd reads only limit+1 keys when no order is given
    if target is SortTarget.KEY:
        if descending:
            kvs.reverse()
    else:  # a target other than KEY with order NONE means ASCEND
        kvs.sort(key=SORT_FIELD[target], reverse=descending)
    candidates = {kv.key: kv for kv in kvs}
    more = False
    if r.limit and len(kvs) > r.limit:
        kvs = kvs[: r.limit]
        more = True
    if r.keys_only:
        kvs = [attrs.evolve(kv, value=b"") for kv in kvs]
    return RangeResult(kvs, more, count, target, candidates, r.keys_only)


def assert_range(got: RangeResponse, want: RangeResult, what: str) -> None:
    assert (got.count, got.more) == (want.count, want.more), f"{what}: count/more {got} != {want}"
    if want.target is SortTarget.KEY:
        assert list(got.kvs) == want.kvs, f"{what}: kvs {got.kvs} != {want.kvs}"
        return
    # Sorting by another field: etcd's sort is not stable, so equal fields may come in any
    # order (and a limit may cut a tie anywhere). The field sequence must match exactly and
    # every key-value must be one of the range's, once.
    field = SORT_FIELD[want.target]
    assert len({kv.key for kv in got.kvs}) == len(got.kvs), f"{what}: a key twice in {got.kvs}"
    for kv in got.kvs:
        orig = want.candidates.get(kv.key)
        assert orig is not None, f"{what}: {kv} is not in the range"
        expected = attrs.evolve(orig, value=b"") if want.keys_only else orig
        assert kv == expected, f"{what}: {kv} != {expected}"
    got_fields = [field(want.candidates[kv.key]) for kv in got.kvs]
    want_fields = [field(want.candidates[kv.key]) for kv in want.kvs]
    assert got_fields == want_fields, (
        f"{what}: sorted by {want.target.name}: {got.kvs} vs {want.kvs}"
    )


class Model:
    """etcd v3's key space, revisions, history and leases, as plainly as possible."""

    def __init__(self) -> None:
        self.rev = 1
        self.compact_rev = 0
        self.state: dict[bytes, KeyValue] = {}
        self.history: dict[int, dict[bytes, KeyValue]] = {1: {}}  # revision -> live kvs then
        self.leases: dict[int, ModelLease] = {}
        self.now = 0.0

    # --- revisions and history

    def commit(self, state: dict[bytes, KeyValue]) -> None:
        self.rev += 1
        self.state = state
        self.history[self.rev] = dict(state)

    def at(self, revision: int) -> dict[bytes, KeyValue]:
        return self.history[revision]

    def check_read_revision(self, revision: int, current: int) -> None:
        if revision > current:
            raise Fail(FutureRevisionError)
        if 0 < revision < self.compact_rev:
            raise Fail(CompactedError)

    # --- leases

    def live_lease(self, lease_id: int) -> bool:
        return lease_id in self.leases

    def lease_keys(self, lease_id: int) -> list[bytes]:
        return sorted(k for k, kv in self.state.items() if kv.lease == lease_id)

    def end_lease(self, lease_id: int) -> None:
        """Revoke or expiry: the lease's keys go in one revision (none: no revision)."""
        del self.leases[lease_id]
        keys = self.lease_keys(lease_id)
        if keys:
            self.commit({k: kv for k, kv in self.state.items() if k not in keys})

    def expire(self) -> None:
        """Every lease whose deadline has come ends, in deadline order, one revision each."""
        for lease in sorted(self.leases.values(), key=lambda lease: lease.deadline):
            if lease.deadline <= self.now:
                self.end_lease(lease.id)

    # --- requests

    def put_errors(self, r: PutRequest, state: dict[bytes, KeyValue]) -> None:
        key_missing = (r.ignore_value or r.ignore_lease) and r.key not in state
        lease_missing = bool(r.lease) and not self.live_lease(r.lease)
        if key_missing and lease_missing:
            raise Fail(KeyNotFoundError, LeaseNotFoundError)  # etcd's put and txn differ
        if key_missing:
            raise Fail(KeyNotFoundError)
        if lease_missing:
            raise Fail(LeaseNotFoundError)

    @staticmethod
    def do_put(r: PutRequest, state: dict[bytes, KeyValue], rev: int) -> KeyValue | None:
        prev = state.get(r.key)
        value = prev.value if r.ignore_value and prev else r.value
        lease = prev.lease if r.ignore_lease and prev else r.lease
        if prev is None:
            state[r.key] = KeyValue(r.key, rev, rev, 1, value, lease)
        else:
            state[r.key] = KeyValue(
                r.key, prev.create_revision, rev, prev.version + 1, value, lease
            )
        return prev

    @staticmethod
    def do_delete(r: DeleteRangeRequest, state: dict[bytes, KeyValue]) -> list[KeyValue]:
        gone = sorted(
            (kv for k, kv in state.items() if in_range(k, r.key, r.range_end)),
            key=lambda kv: kv.key,
        )
        for kv in gone:
            del state[kv.key]
        return gone

    def holds(self, c: Compare) -> bool:
        kvs = [kv for k, kv in self.state.items() if in_range(k, c.key, c.range_end)]
        target = CompareTarget(c.target)
        if not kvs:
            if target is CompareTarget.VALUE:
                return False
            kvs = [KeyValue(b"")]
        field = COMPARE_FIELD[target]
        want = getattr(c, field)
        ops: dict[CompareResult, Callable[[Any, Any], bool]] = {
            CompareResult.EQUAL: lambda a, b: a == b,
            CompareResult.NOT_EQUAL: lambda a, b: a != b,
            CompareResult.GREATER: lambda a, b: a > b,
            CompareResult.LESS: lambda a, b: a < b,
        }
        test = ops[CompareResult(c.result)]
        return all(test(getattr(kv, field), want) for kv in kvs)


# --- txn rules, restated from etcd ----------------------------------------------------------


def validate_txn(
    compare: Sequence[Compare], success: Sequence[RequestOp], failure: Sequence[RequestOp]
) -> None:
    """Argument checks, in etcd's order: compares, then success ops, then failure ops."""
    for c in compare:
        if not c.key:
            raise Fail(KeyNotProvidedError)
    for op in (*success, *failure):
        if isinstance(op, TxnRequest):
            validate_txn(op.compare, op.success, op.failure)
            continue
        if not op.key:
            raise Fail(KeyNotProvidedError)
        if isinstance(op, PutRequest):
            if op.ignore_value and op.value:
                raise Fail(ValueProvidedError)
            if op.ignore_lease and op.lease:
                raise Fail(LeaseProvidedError)


def check_intervals(ops: Sequence[RequestOp]) -> tuple[set[bytes], list[tuple[bytes, bytes]]]:
    """etcd's duplicate-key rule (checkIntervals): returns the puts and deletes of ``ops``."""

    def deleted(k: bytes, dels: list[tuple[bytes, bytes]]) -> bool:
        return any(in_range(k, key, end) for key, end in dels)

    dels = [(op.key, op.range_end) for op in ops if isinstance(op, DeleteRangeRequest)]
    puts: set[bytes] = set()
    for op in ops:
        if not isinstance(op, TxnRequest):
            continue
        then_puts, then_dels = check_intervals(op.success)
        else_puts, else_dels = check_intervals(op.failure)
        for k in then_puts:
            if k in puts or deleted(k, dels):
                raise Fail(DuplicateKeyError)
        for k in else_puts:
            if (k in puts and k not in then_puts) or deleted(k, dels):
                raise Fail(DuplicateKeyError)
        puts |= then_puts | else_puts
        dels += then_dels + else_dels
    for op in ops:
        if isinstance(op, PutRequest):
            if op.key in puts or deleted(op.key, dels):
                raise Fail(DuplicateKeyError)
            puts.add(op.key)
    return puts, dels


@attrs.define
class Plan:
    succeeded: bool
    ops: Sequence[RequestOp]
    children: list[Plan]


def plan_txn(
    model: Model,
    compare: Sequence[Compare],
    success: Sequence[RequestOp],
    failure: Sequence[RequestOp],
) -> Plan:
    ok = all(model.holds(c) for c in compare)  # every compare sees the state before the txn
    ops = success if ok else failure
    return Plan(
        ok,
        ops,
        [
            plan_txn(model, t.compare, t.success, t.failure)
            for t in ops
            if isinstance(t, TxnRequest)
        ],
    )


def check_plan(model: Model, plan: Plan) -> None:
    """What the chosen path would fail on, checked before anything is written."""
    children = iter(plan.children)
    for op in plan.ops:
        if isinstance(op, PutRequest):
            model.put_errors(op, model.state)
        elif isinstance(op, RangeRequest):
            model.check_read_revision(op.revision, model.rev)
        elif isinstance(op, TxnRequest):
            check_plan(model, next(children))


def apply_plan(
    model: Model, plan: Plan, state: dict[bytes, KeyValue], rev: int, changed: list[bool]
) -> tuple[Any, ...]:
    out: list[Any] = []
    children = iter(plan.children)
    for op in plan.ops:
        if isinstance(op, RangeRequest):
            source = state if op.revision <= 0 else model.at(op.revision)
            res = select(source, op)
            out.append(("range", tuple(res.kvs), res.more, res.count))
        elif isinstance(op, PutRequest):
            prev = model.do_put(op, state, rev)
            changed[0] = True
            out.append(("put", prev if op.prev_kv else None))
        elif isinstance(op, DeleteRangeRequest):
            gone = model.do_delete(op, state)
            changed[0] = changed[0] or bool(gone)
            out.append(("delete", len(gone), tuple(gone) if op.prev_kv else ()))
        else:
            child = next(children)
            out.append(("txn", child.succeeded, apply_plan(model, child, state, rev, changed)))
    return tuple(out)


def shape(resp: Any) -> Any:
    """A txn response without headers (inner headers carry no meaning)."""
    if isinstance(resp, TxnResponse):
        return ("txn", resp.succeeded, tuple(shape(r) for r in resp.responses))
    if isinstance(resp, RangeResponse):
        return ("range", resp.kvs, resp.more, resp.count)
    if isinstance(resp, PutResponse):
        return ("put", resp.prev_kv)
    if isinstance(resp, DeleteRangeResponse):
        return ("delete", resp.deleted, resp.prev_kvs)
    raise AssertionError(f"unexpected response {resp!r}")


# --- strategies ----------------------------------------------------------------------------

keys = st.sampled_from(KEYS)
# Mostly real keys, now and then an empty one (which every request must refuse).
keys_or_empty = st.integers(0, 24).map(lambda i: b"" if i == 0 else KEYS[i % len(KEYS)])
# Inside txns: rarer, as one bad op fails the whole txn.
txn_keys = st.integers(0, 99).map(lambda i: b"" if i == 0 else KEYS[i % len(KEYS)])
values = st.sampled_from(VALUES)
small_revisions = st.one_of(st.just(0), st.integers(0, 12))


@st.composite
def key_ranges(
    draw: st.DrawFn, key_strategy: st.SearchStrategy[bytes] = keys
) -> tuple[bytes, bytes]:
    kind = draw(st.sampled_from(["one", "one", "prefix", "from", "to", "all"]))
    if kind == "all":
        return b"\0", b"\0"
    key = draw(key_strategy)
    if kind == "one":
        return key, b""
    if kind == "prefix":
        return key, prefix_end(key) if key else b"\0"
    if kind == "from":
        return key, b"\0"
    return key, draw(st.sampled_from((*KEYS, b"d")))


@st.composite
def range_requests(
    draw: st.DrawFn,
    revisions: st.SearchStrategy[int],
    key_sort_only: bool = False,
    key_strategy: st.SearchStrategy[bytes] = keys_or_empty,
) -> RangeRequest:
    key, end = draw(key_ranges(key_strategy))
    return RangeRequest(
        key,
        end,
        limit=draw(st.integers(0, 3)),
        revision=draw(revisions),
        sort_order=draw(st.sampled_from(SortOrder)),
        sort_target=SortTarget.KEY if key_sort_only else draw(st.sampled_from(SortTarget)),
        keys_only=draw(st.booleans()),
        count_only=draw(st.integers(0, 5)) == 0,
        min_mod_revision=draw(small_revisions),
        max_mod_revision=draw(small_revisions),
        min_create_revision=draw(small_revisions),
        max_create_revision=draw(small_revisions),
    )


@st.composite
def put_requests(
    draw: st.DrawFn, key_strategy: st.SearchStrategy[bytes] = keys_or_empty, odds: int = 4
) -> PutRequest:
    ignore_value = draw(st.integers(0, odds)) == 0
    ignore_lease = draw(st.integers(0, odds)) == 0
    # Mostly valid combinations; now and then a value or lease next to its ignore flag.
    value = draw(values) if not ignore_value or draw(st.integers(0, 3)) == 0 else b""
    lease = draw(LEASE_SLOTS) if not ignore_lease or draw(st.integers(0, 3)) == 0 else 0
    return PutRequest(
        draw(key_strategy), value, lease, draw(st.booleans()), ignore_value, ignore_lease
    )


@st.composite
def delete_requests(
    draw: st.DrawFn, key_strategy: st.SearchStrategy[bytes] = keys_or_empty
) -> DeleteRangeRequest:
    key, end = draw(key_ranges(key_strategy))
    return DeleteRangeRequest(key, end, draw(st.booleans()))


@st.composite
def compares(draw: st.DrawFn) -> Compare:
    key, end = draw(key_ranges(keys))
    return Compare(
        key,
        draw(st.sampled_from(CompareTarget)),
        draw(st.sampled_from(CompareResult)),
        version=draw(st.integers(0, 3)),
        create_revision=draw(st.integers(0, 12)),
        mod_revision=draw(st.integers(0, 12)),
        value=draw(values),
        lease=draw(LEASE_SLOTS),
        range_end=end if draw(st.integers(0, 3)) == 0 else b"",
    )


def ops_lists(depth: int) -> st.SearchStrategy[list[RequestOp]]:
    leaf: st.SearchStrategy[RequestOp] = st.one_of(
        range_requests(small_revisions, key_sort_only=True, key_strategy=txn_keys),
        put_requests(txn_keys, odds=10),
        delete_requests(txn_keys),
    )
    if depth > 0:
        leaf = st.one_of(leaf, txn_requests(depth - 1))
    return st.lists(leaf, max_size=3)


def txn_requests(depth: int) -> st.SearchStrategy[TxnRequest]:
    return st.builds(
        TxnRequest,
        compare=st.lists(compares(), max_size=2),
        success=ops_lists(depth),
        failure=ops_lists(depth),
    )


# --- the state machine ------------------------------------------------------------------------


class StoreVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        self.portal = self._portal_cm.__enter__()
        self.clock = VirtualClock()
        self._store_cm = self.portal.wrap_async_context_manager(MemoryStore(clock=self.clock))
        self.store = self._store_cm.__enter__()
        self.model = Model()
        self.granted: list[int] = []  # every lease ID ever granted, in order
        self.steps = 0

    def teardown(self) -> None:
        try:
            self._store_cm.__exit__(None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)

    # --- plumbing

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self.portal.call(functools.partial(fn, *args, **kwargs))

    def outcome(
        self, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[Any, KcoreError | None]:
        name = getattr(fn, "__name__", "call")
        try:
            result = self.call(fn, *args, **kwargs)
        except KcoreError as e:
            event(f"{name}: {type(e).__name__}")
            return None, e
        if isinstance(result, TxnResponse):
            event(f"txn: {'succeeded' if result.succeeded else 'failed'}")
        else:
            event(f"{name}: ok")
        return result, None

    @staticmethod
    def expect_failure(what: str, verdict: Fail, result: Any, error: KcoreError | None) -> None:
        assert error is not None, f"{what}: expected {verdict}, got {result!r}"
        assert isinstance(error, verdict.kinds), f"{what}: expected {verdict}, got {error!r}"

    @staticmethod
    def expect_success(what: str, error: KcoreError | None) -> None:
        assert error is None, f"{what}: unexpected {error!r}"

    def lease(self, slot: int) -> int:
        if slot == 0:
            return 0
        if slot <= 3:
            return self.granted[slot - 1] if slot <= len(self.granted) else BOGUS_LEASE
        return BOGUS_LEASE

    def resolve(self, op: Any) -> Any:
        """Replace lease slots by lease IDs, through nested txns."""
        if isinstance(op, PutRequest):
            return attrs.evolve(op, lease=self.lease(op.lease))
        if isinstance(op, Compare):
            return attrs.evolve(op, lease=self.lease(op.lease))
        if isinstance(op, TxnRequest):
            return TxnRequest(
                [self.resolve(c) for c in op.compare],
                [self.resolve(o) for o in op.success],
                [self.resolve(o) for o in op.failure],
            )
        return op

    def advance(self, seconds: float) -> None:
        self.call(self.clock.advance, seconds)
        self.model.now += seconds
        assert self.clock.now() == self.model.now
        self.model.expire()

    def avoid_deadline_tie(self, ttl: int, renewing: int = 0) -> None:
        """Nudge the clock until a new deadline (now + ttl) equals no other lease's.

        Leases with equal deadlines expire in an order etcd does not define (each in its own
        revision), so the model keeps deadlines distinct instead of guessing.
        """
        for _ in range(64):
            others = {x.deadline for x in self.model.leases.values() if x.id != renewing}
            if self.model.now + ttl not in others:
                return
            self.advance(1 / 16)

    # --- range

    @rule(data=st.data())
    def range_request(self, data: st.DataObject) -> None:
        m = self.model
        r = data.draw(range_requests(st.integers(-1, m.rev + 1)))
        what = f"range {r}"
        result, error = self.outcome(
            self.store.range,
            r.key,
            r.range_end,
            limit=r.limit,
            revision=r.revision,
            sort_order=r.sort_order,
            sort_target=r.sort_target,
            keys_only=r.keys_only,
            count_only=r.count_only,
            min_mod_revision=r.min_mod_revision,
            max_mod_revision=r.max_mod_revision,
            min_create_revision=r.min_create_revision,
            max_create_revision=r.max_create_revision,
        )
        try:
            if not r.key:
                raise Fail(KeyNotProvidedError)
            m.check_read_revision(r.revision, m.rev)
        except Fail as verdict:
            self.expect_failure(what, verdict, result, error)
            return
        self.expect_success(what, error)
        assert result.header.revision == m.rev, f"{what}: header {result.header}"
        source = m.state if r.revision <= 0 else m.at(r.revision)
        assert_range(result, select(source, r), what)

    @rule(data=st.data())
    def read_whole_revision(self, data: st.DataObject) -> None:
        """Everything at one retained revision: the store's history must be the model's."""
        m = self.model
        rev = data.draw(st.integers(max(1, m.compact_rev), m.rev))
        resp = self.call(self.store.range, b"\0", b"\0", revision=rev)
        assert resp.header.revision == m.rev
        assert list(resp.kvs) == sorted(m.at(rev).values(), key=lambda kv: kv.key), f"at {rev}"

    # --- writes

    @rule(r=put_requests())
    def put(self, r: PutRequest) -> None:
        self.do_put(self.resolve(r))

    @rule(
        puts=st.lists(
            st.tuples(keys, values, st.sampled_from([0, 0, 1, 2]), st.booleans()),
            min_size=1,
            max_size=6,
        )
    )
    def put_plain(self, puts: list[tuple[bytes, bytes, int, bool]]) -> None:
        """The common case, so that the key space fills up: valid puts, live leases."""
        for key, value, slot, prev_kv in puts:
            live = sorted(self.model.leases)
            lease = live[slot % len(live)] if slot and live else 0
            self.do_put(PutRequest(key, value, lease, prev_kv))

    def do_put(self, r: PutRequest) -> None:
        m = self.model
        what = f"put {r}"
        result, error = self.outcome(
            self.store.put,
            r.key,
            r.value,
            lease=r.lease,
            prev_kv=r.prev_kv,
            ignore_value=r.ignore_value,
            ignore_lease=r.ignore_lease,
        )
        try:
            validate_txn((), (r,), ())
            m.put_errors(r, m.state)
        except Fail as verdict:
            self.expect_failure(what, verdict, result, error)
            return
        self.expect_success(what, error)
        state = dict(m.state)
        prev = m.do_put(r, state, m.rev + 1)
        m.commit(state)
        assert result.header.revision == m.rev, f"{what}: header {result.header}"
        assert result.prev_kv == (prev if r.prev_kv else None), f"{what}: prev_kv {result.prev_kv}"

    @rule(r=delete_requests())
    def delete_range(self, r: DeleteRangeRequest) -> None:
        m = self.model
        what = f"delete {r}"
        result, error = self.outcome(self.store.delete_range, r.key, r.range_end, prev_kv=r.prev_kv)
        if not r.key:
            self.expect_failure(what, Fail(KeyNotProvidedError), result, error)
            return
        self.expect_success(what, error)
        state = dict(m.state)
        gone = m.do_delete(r, state)
        if gone:  # deleting nothing spends no revision
            m.commit(state)
        assert result.header.revision == m.rev, f"{what}: header {result.header}"
        assert result.deleted == len(gone), f"{what}: deleted {result.deleted}"
        assert list(result.prev_kvs) == (gone if r.prev_kv else []), f"{what}: {result.prev_kvs}"

    @rule(compare=st.lists(compares(), max_size=3), success=ops_lists(0), failure=ops_lists(0))
    def txn_flat(
        self, compare: list[Compare], success: list[RequestOp], failure: list[RequestOp]
    ) -> None:
        self.do_txn([self.resolve(c) for c in compare], success, failure)

    @rule(compare=st.lists(compares(), max_size=2), success=ops_lists(2), failure=ops_lists(1))
    def txn_nested(
        self, compare: list[Compare], success: list[RequestOp], failure: list[RequestOp]
    ) -> None:
        self.do_txn([self.resolve(c) for c in compare], success, failure)

    @rule(data=st.data(), success=ops_lists(1), failure=ops_lists(0))
    def txn_guarded(
        self, data: st.DataObject, success: list[RequestOp], failure: list[RequestOp]
    ) -> None:
        """Compares built from the key's real fields (as clients do), so both branches run."""
        m = self.model
        key = data.draw(keys)
        kv = m.state.get(key, KeyValue(key))
        target = data.draw(st.sampled_from(CompareTarget))
        nudge = data.draw(st.sampled_from([0, 0, 1, -1]))
        fields: dict[str, Any] = {
            "version": kv.version + nudge,
            "create_revision": kv.create_revision + nudge,
            "mod_revision": kv.mod_revision + nudge,
            "value": kv.value + (b"!" if nudge else b""),
            "lease": kv.lease + nudge,
        }
        result = data.draw(st.sampled_from(CompareResult))
        self.do_txn([Compare(key, target, result, **fields)], success, failure)

    def do_txn(
        self, compare: list[Compare], success: list[RequestOp], failure: list[RequestOp]
    ) -> None:
        """Run a txn whose compares are resolved already (ops still carry lease slots)."""
        m = self.model
        success = [self.resolve(o) for o in success]
        failure = [self.resolve(o) for o in failure]
        what = f"txn {compare} then {success} else {failure}"
        result, error = self.outcome(self.store.txn, compare, success, failure)
        try:
            validate_txn(compare, success, failure)
            check_intervals(success)
            check_intervals(failure)
            plan = plan_txn(m, compare, success, failure)
            check_plan(m, plan)
        except Fail as verdict:
            self.expect_failure(what, verdict, result, error)
            return
        self.expect_success(what, error)
        state = dict(m.state)
        changed = [False]
        expected = ("txn", plan.succeeded, apply_plan(m, plan, state, m.rev + 1, changed))
        if changed[0]:  # the whole txn is one revision; a txn that changes nothing spends none
            m.commit(state)
        assert result.header.revision == m.rev, f"{what}: header {result.header}"
        assert shape(result) == expected, f"{what}:\n got {shape(result)}\nwant {expected}"

    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        m = self.model
        rev = data.draw(st.integers(1, m.rev + 1))
        result, error = self.outcome(self.store.compact, rev)
        what = f"compact {rev} (compacted at {m.compact_rev}, current {m.rev})"
        if rev <= m.compact_rev:
            self.expect_failure(what, Fail(CompactedError), result, error)
        elif rev > m.rev:
            self.expect_failure(what, Fail(FutureRevisionError), result, error)
        else:
            self.expect_success(what, error)
            assert result.header.revision == m.rev
            m.compact_rev = rev
            for old in [r for r in m.history if r < rev]:
                del m.history[old]

    # --- leases

    @rule(
        ttl=st.sampled_from([0, 1, 2, 3, 5, 10]), chosen=st.sampled_from([0, 0, *CHOSEN_LEASE_IDS])
    )
    def lease_grant(self, ttl: int, chosen: int) -> None:
        m = self.model
        granted = max(ttl, MIN_TTL)
        self.avoid_deadline_tie(granted)
        result, error = self.outcome(self.store.lease_grant, ttl, chosen)
        what = f"lease_grant({ttl}, {chosen})"
        if chosen and chosen in m.leases:
            self.expect_failure(what, Fail(LeaseExistsError), result, error)
            return
        self.expect_success(what, error)
        assert result.header.revision == m.rev
        assert result.ttl == granted, f"{what}: ttl {result.ttl}"
        assert not result.error
        if chosen:
            assert result.id == chosen, f"{what}: id {result.id}"
        else:
            assert result.id > 0 and result.id not in m.leases, f"{what}: id {result.id}"
        m.leases[result.id] = ModelLease(result.id, granted, m.now + granted)
        if result.id not in self.granted:
            self.granted.append(result.id)

    @rule(slot=LEASE_SLOTS)
    def lease_revoke(self, slot: int) -> None:
        m = self.model
        lease_id = self.lease(slot) or BOGUS_LEASE
        result, error = self.outcome(self.store.lease_revoke, lease_id)
        what = f"lease_revoke({lease_id})"
        if lease_id not in m.leases:
            self.expect_failure(what, Fail(LeaseNotFoundError), result, error)
            return
        self.expect_success(what, error)
        m.end_lease(lease_id)
        assert result.header.revision == m.rev, f"{what}: header {result.header}"

    @rule(slot=LEASE_SLOTS)
    def lease_keepalive(self, slot: int) -> None:
        m = self.model
        lease_id = self.lease(slot) or BOGUS_LEASE
        lease = m.leases.get(lease_id)
        if lease is not None:
            self.avoid_deadline_tie(lease.ttl, renewing=lease_id)
            lease = m.leases.get(lease_id)  # a nudge may have let it expire
        result = self.call(self.store.lease_keepalive, lease_id)
        assert result.header.revision == m.rev
        assert result.id == lease_id
        if lease is None:
            assert result.ttl == 0, f"keepalive of unknown lease {lease_id}: {result}"
        else:
            assert result.ttl == lease.ttl, f"keepalive {lease_id}: {result}"
            lease.deadline = m.now + lease.ttl

    @rule(slot=LEASE_SLOTS, with_keys=st.booleans())
    def lease_time_to_live(self, slot: int, with_keys: bool) -> None:
        m = self.model
        listed = self.call(self.store.leases)
        assert listed.header.revision == m.rev
        ids = [s.id for s in listed.leases]
        assert sorted(ids) == sorted(m.leases), f"leases {ids}"
        lease_id = self.lease(slot) or BOGUS_LEASE
        result = self.call(self.store.lease_time_to_live, lease_id, keys=with_keys)
        assert result.header.revision == m.rev
        assert result.id == lease_id
        lease = m.leases.get(lease_id)
        if lease is None:
            assert result.ttl == -1, f"time_to_live of unknown lease {lease_id}: {result}"
            return
        assert result.ttl == math.floor(lease.deadline - m.now), f"{lease}, now {m.now}: {result}"
        assert result.granted_ttl == lease.ttl
        want_keys = m.lease_keys(lease_id) if with_keys else []
        assert sorted(result.keys) == want_keys, f"lease {lease_id} keys: {result.keys}"

    @rule(seconds=st.sampled_from([0.5, 1, 1.5, 2, 3, 5, 12]))
    def advance_clock(self, seconds: float) -> None:
        self.advance(seconds)

    # --- bad input: a clear error, and nothing changes (the invariant checks the latter)

    @rule(case=st.integers(0, 9))
    def bad_input(self, case: int) -> None:
        s = self.store
        calls: list[tuple[type[KcoreError], str, Callable[[], Any]]] = [
            (InvalidTypeError, "key", lambda: s.put("a", b"v")),  # type: ignore[arg-type]
            (InvalidTypeError, "value", lambda: s.put(b"a", "v")),  # type: ignore[arg-type]
            (InvalidTypeError, "range_end", lambda: s.range(b"a", "b")),  # type: ignore[arg-type]
            (InvalidArgumentError, "limit", lambda: s.range(b"a", limit=-1)),
            (InvalidSortOptionError, "", lambda: s.range(b"a", sort_order=7)),  # type: ignore[arg-type]
            (InvalidArgumentError, "revision", lambda: s.compact(-1)),
            (InvalidArgumentError, "ttl", lambda: s.lease_grant(-5)),
            (LeaseTTLTooLargeError, "", lambda: s.lease_grant(9_000_000_001)),
            (
                TooManyOpsError,
                "",
                lambda: s.txn((), [PutRequest(b"k%d" % i) for i in range(129)]),
            ),
            (KeyNotProvidedError, "", lambda: s.delete_range(b"")),
        ]
        kind, names, fn = calls[case]
        result, error = self.outcome(fn)
        assert isinstance(error, kind), (
            f"bad input #{case}: expected {kind.__name__}, got {error!r} / {result!r}"
        )
        assert names in str(error), f"bad input #{case}: {error} does not name {names!r}"

    # --- after every step: the whole store equals the model

    @invariant()
    def same_store(self) -> None:
        m = self.model
        self.steps += 1
        event(f"steps >= {self.steps // 10 * 10}")
        event(f"revision >= {m.rev // 10 * 10}")
        status = self.call(self.store.status)
        assert status.header.revision == m.rev, f"revision {status.header.revision} != {m.rev}"
        assert status.compact_revision == m.compact_rev
        assert status.key_count == len(m.state)
        resp = self.call(self.store.range, b"\0", b"\0")
        assert list(resp.kvs) == sorted(m.state.values(), key=lambda kv: kv.key)
        for lease_id in m.leases:  # each live lease's attached keys
            result = self.call(self.store.lease_time_to_live, lease_id, keys=True)
            assert sorted(result.keys) == m.lease_keys(lease_id), f"lease {lease_id}: {result}"


StoreVersusModel.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # One failure, shrunk well, in under a minute, rather than several taking many minutes.
    report_multiple_bugs=False,
)
TestStoreMatchesModel = StoreVersusModel.TestCase
