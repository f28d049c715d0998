"""CRI (Container Runtime Interface, ``runtime.v1``): messages, client, server base, fake.

* ``api`` — the protobuf messages and enums (``api.PodSandboxConfig``, ``api.CONTAINER_RUNNING``),
  generated from kcore's own wire-compatible ``proto/cri/api.proto``;
* :class:`CRIClient` — async calls to a runtime on ``unix:///path.sock`` (containerd, CRI-O,
  or any :class:`CRIServer`), checking answers the way kubelet does;
* :class:`CRIServer` — subclass it to write a runtime in Python; unimplemented RPCs answer
  UNIMPLEMENTED;
* :class:`FakeRuntime` — an in-memory runtime for tests, with call recording and error
  injection.

gRPC here is grpc.aio, so these run under asyncio only.
"""

from kcore.interfaces.cri._images import normalize_reference
from kcore.interfaces.cri._pb import api_pb2 as api
from kcore.interfaces.cri._rpcs import IMAGE_SERVICE, RPCS, RUNTIME_SERVICE, Rpc
from kcore.interfaces.cri.client import CRIClient, image_spec
from kcore.interfaces.cri.fake import Call, ExecHandler, ExecResult, FakeRuntime
from kcore.interfaces.cri.server import CRIServer

__all__ = [
    "IMAGE_SERVICE",
    "RPCS",
    "RUNTIME_SERVICE",
    "CRIClient",
    "CRIServer",
    "Call",
    "ExecHandler",
    "ExecResult",
    "FakeRuntime",
    "Rpc",
    "api",
    "image_spec",
    "normalize_reference",
]
