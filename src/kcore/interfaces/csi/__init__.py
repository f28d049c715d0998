"""CSI (Container Storage Interface, csi.v1): the messages, a client, a server base, a driver.

* ``pb`` — the protocol's messages (kcore's own wire-compatible subset of the spec's proto:
  Identity, Controller and Node without snapshots, expansion or groups);
* :class:`CSIClient` — an async client with one typed method per RPC, over ``unix:///…``;
* :class:`CSIServer` — subclass it, override the RPCs a plugin implements, ``serve`` it;
  others answer UNIMPLEMENTED, and required fields and size limits are checked for you;
* :class:`HostPathDriver` — a complete plugin whose volumes are directories, needing no
  mount privileges (publish makes the target path a symlink), for tests and single hosts.

gRPC here is grpc.aio: asyncio only.
"""

from google.protobuf.wrappers_pb2 import BoolValue, Int64Value

from kcore.interfaces.csi._pb import csi_pb2 as pb
from kcore.interfaces.csi.client import CSIClient
from kcore.interfaces.csi.hostpath import STAGED_MARKER, HostPathDriver
from kcore.interfaces.csi.server import CSIServer
from kcore.interfaces.csi.validation import (
    MAX_MAP_BYTES,
    MAX_NODE_ID_BYTES,
    MAX_PATH_BYTES,
    MAX_STRING_BYTES,
    validate_request,
)

__all__ = [
    "MAX_MAP_BYTES",
    "MAX_NODE_ID_BYTES",
    "MAX_PATH_BYTES",
    "MAX_STRING_BYTES",
    "STAGED_MARKER",
    "BoolValue",
    "CSIClient",
    "CSIServer",
    "HostPathDriver",
    "Int64Value",
    "pb",
    "validate_request",
]
