"""kcore's store messages survive a trip through etcd's protobuf messages unchanged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kcore.store import _convert as c
from kcore.store import types as t

keys = st.binary(min_size=1, max_size=8)
ints = st.integers(min_value=0, max_value=2**40)
kvs = st.builds(t.KeyValue, keys, ints, ints, ints, st.binary(max_size=8), ints)
headers = st.builds(t.ResponseHeader, ints, ints, ints, ints)
ranges = st.builds(
    t.RangeRequest,
    keys,
    st.binary(max_size=4),
    ints,
    ints,
    st.sampled_from(t.SortOrder),
    st.sampled_from(t.SortTarget),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    ints,
    ints,
    ints,
    ints,
)
puts = st.builds(t.PutRequest, keys, st.binary(max_size=8), ints, st.booleans(), st.booleans())
deletes = st.builds(t.DeleteRangeRequest, keys, st.binary(max_size=4), st.booleans())


@st.composite
def compares(draw: st.DrawFn) -> t.Compare:
    target = draw(st.sampled_from(t.CompareTarget))
    field = c._COMPARE_UNION[target]
    value = draw(st.binary(max_size=4) if target is t.CompareTarget.VALUE else ints)
    result = draw(st.sampled_from(t.CompareResult))
    return t.Compare(
        draw(keys), target, result, range_end=draw(st.binary(max_size=3)), **{field: value}
    )


txns = st.recursive(
    st.builds(t.TxnRequest, st.lists(compares(), max_size=2), st.lists(puts, max_size=2)),
    lambda inner: st.builds(
        t.TxnRequest,
        st.lists(compares(), max_size=2),
        st.lists(st.one_of(ranges, puts, deletes, inner), max_size=3),
        st.lists(st.one_of(ranges, puts, deletes, inner), max_size=3),
    ),
    max_leaves=6,
)


@given(txns)
def test_txn_requests_round_trip(txn: t.TxnRequest) -> None:
    wire = c.txn_request_to_pb(txn).SerializeToString()
    back = c.txn_request_from_pb(type(c.txn_request_to_pb(txn)).FromString(wire))
    assert back == txn


@given(ranges)
def test_range_requests_round_trip(r: t.RangeRequest) -> None:
    assert c.range_request_from_pb(c.range_request_to_pb(r)) == r


@given(headers, st.lists(kvs, max_size=3), st.booleans(), ints, st.one_of(st.none(), kvs))
def test_responses_round_trip(
    header: t.ResponseHeader, items: list[t.KeyValue], more: bool, n: int, prev: t.KeyValue | None
) -> None:
    rr = t.RangeResponse(header, tuple(items), more, n)
    pr = t.PutResponse(header, prev)
    dr = t.DeleteRangeResponse(header, n, tuple(items))
    txn = t.TxnResponse(header, more, (rr, pr, dr, t.TxnResponse(header, True, (pr,))))
    assert c.txn_response_from_pb(c.txn_response_to_pb(txn)) == txn
    events = tuple(
        t.Event(t.EventType.DELETE if kv.version == 0 else t.EventType.PUT, kv, prev)
        for kv in items
    )
    wr = t.WatchResponse(header, n, more, not more, n, "why", more, events)
    assert c.watch_response_from_pb(c.watch_response_to_pb(wr)) == wr
    ttl = t.LeaseTimeToLiveResponse(header, n, n, n, tuple(kv.key for kv in items))
    assert c.lease_ttl_from_pb(c.lease_ttl_to_pb(ttl)) == ttl
    status = t.StatusResponse(header, "3.4", n, n, n, n, n, ("e",), n, more)
    assert c.status_from_pb(c.status_to_pb(status)) == status


def test_unknown_enum_values_stay_raw_for_validation_to_reject() -> None:
    pb = c.range_request_to_pb(t.RangeRequest(b"k"))
    pb.sort_order = 7  # type: ignore[assignment]
    assert c.range_request_from_pb(pb).sort_order == 7
