"""The table of CSI RPCs kcore speaks: service, method, Python name, request and response types.

The client, the server base class and the tests all walk this one table, so a method added to
``proto/csi/csi.proto`` is added here once and nowhere else can disagree about its path or
types.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from kcore.interfaces.csi._pb import csi_pb2 as pb

__all__ = ["PACKAGE", "RPCS", "RPCS_BY_NAME", "Rpc"]

PACKAGE = "csi.v1"


@dataclass(frozen=True)
class Rpc:
    """One unary CSI method: ``/csi.v1.<service>/<name>``, served by ``<attr>`` in Python."""

    service: str
    name: str
    attr: str
    request: type[Message]
    response: type[Message]

    @property
    def path(self) -> str:
        return f"/{PACKAGE}.{self.service}/{self.name}"


def _rpc(service: str, name: str, attr: str) -> Rpc:
    return Rpc(service, name, attr, getattr(pb, f"{name}Request"), getattr(pb, f"{name}Response"))


RPCS: tuple[Rpc, ...] = (
    _rpc("Identity", "GetPluginInfo", "get_plugin_info"),
    _rpc("Identity", "GetPluginCapabilities", "get_plugin_capabilities"),
    _rpc("Identity", "Probe", "probe"),
    _rpc("Controller", "CreateVolume", "create_volume"),
    _rpc("Controller", "DeleteVolume", "delete_volume"),
    _rpc("Controller", "ControllerPublishVolume", "controller_publish_volume"),
    _rpc("Controller", "ControllerUnpublishVolume", "controller_unpublish_volume"),
    _rpc("Controller", "ValidateVolumeCapabilities", "validate_volume_capabilities"),
    _rpc("Controller", "ListVolumes", "list_volumes"),
    _rpc("Controller", "GetCapacity", "get_capacity"),
    _rpc("Controller", "ControllerGetCapabilities", "controller_get_capabilities"),
    _rpc("Node", "NodeStageVolume", "node_stage_volume"),
    _rpc("Node", "NodeUnstageVolume", "node_unstage_volume"),
    _rpc("Node", "NodePublishVolume", "node_publish_volume"),
    _rpc("Node", "NodeUnpublishVolume", "node_unpublish_volume"),
    _rpc("Node", "NodeGetVolumeStats", "node_get_volume_stats"),
    _rpc("Node", "NodeGetCapabilities", "node_get_capabilities"),
    _rpc("Node", "NodeGetInfo", "node_get_info"),
)

RPCS_BY_NAME: dict[str, Rpc] = {rpc.name: rpc for rpc in RPCS}
