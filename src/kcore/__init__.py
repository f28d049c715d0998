"""kcore: Kubernetes' control plane as an embeddable Python library.

The public names of every layer are re-exported here; see ARCHITECTURE.md for the map.
"""

from kcore import errors
from kcore.clock import Clock, RealClock, VirtualClock
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    DurableStore,
    EtcdStore,
    Event,
    EventType,
    FilterType,
    KeyValue,
    LeaseKeeper,
    MemoryStore,
    PutRequest,
    RangeRequest,
    SortOrder,
    SortTarget,
    Store,
    TxnRequest,
    Watch,
    WatchResponse,
    prefix_end,
)

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "Compare",
    "CompareResult",
    "CompareTarget",
    "DeleteRangeRequest",
    "DurableStore",
    "EtcdStore",
    "Event",
    "EventType",
    "FilterType",
    "KeyValue",
    "LeaseKeeper",
    "MemoryStore",
    "PutRequest",
    "RangeRequest",
    "RealClock",
    "SortOrder",
    "SortTarget",
    "Store",
    "TxnRequest",
    "VirtualClock",
    "Watch",
    "WatchResponse",
    "__version__",
    "errors",
    "prefix_end",
]
