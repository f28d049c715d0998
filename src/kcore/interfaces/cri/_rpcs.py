"""The table of CRI RPCs kcore serves and calls, read from the generated service descriptors.

The client, the server base class and the fake all need, per RPC, its service, its wire name
(``RunPodSandbox``), the Python method name (``run_pod_sandbox``) and its message types. Deriving
that from ``api.proto``'s descriptors keeps one source of truth: an RPC added to the .proto
appears everywhere, and a typo in a hand-written path cannot happen.
"""

from __future__ import annotations

import re

import attrs
from google.protobuf.message import Message

from kcore.interfaces.cri._pb import api_pb2

__all__ = ["BY_NAME", "IMAGE_SERVICE", "RPCS", "RUNTIME_SERVICE", "Rpc"]

RUNTIME_SERVICE = "runtime.v1.RuntimeService"
IMAGE_SERVICE = "runtime.v1.ImageService"


@attrs.frozen
class Rpc:
    """One unary CRI method: ``/runtime.v1.RuntimeService/Version`` and its message types."""

    service: str
    name: str
    attr: str
    request: type[Message]
    response: type[Message]

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _table() -> tuple[Rpc, ...]:
    rpcs: list[Rpc] = []
    for service in api_pb2.DESCRIPTOR.services_by_name.values():
        for method in service.methods:
            rpcs.append(
                Rpc(
                    service=service.full_name,
                    name=method.name,
                    attr=_snake(method.name),
                    request=getattr(api_pb2, method.input_type.name),
                    response=getattr(api_pb2, method.output_type.name),
                )
            )
    return tuple(rpcs)


RPCS = _table()
BY_NAME = {rpc.name: rpc for rpc in RPCS}
