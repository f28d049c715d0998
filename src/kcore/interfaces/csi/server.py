"""The base class of a CSI plugin served by kcore: override the RPCs you implement, serve it.

A plugin is one object whose async methods are the CSI RPCs (``create_volume`` for
``/csi.v1.Controller/CreateVolume`` ...), all three services on one unix socket, as the spec
and kubelet expect. Methods a subclass does not override answer UNIMPLEMENTED, naming the
method, which is how a CO learns a plugin lacks an optional RPC. Before an overridden method
runs, the request is checked against the spec's required fields and size limits
(:mod:`kcore.interfaces.csi.validation`), so every plugin answers INVALID_ARGUMENT the same
way; a method raises ``kcore.errors`` classes (``PeerError(msg, "ABORTED")`` for codes without
their own) and the caller gets that gRPC status. Served with ``grpc.aio``: asyncio only::

    class MyPlugin(CSIServer):
        async def probe(self, request):
            return pb.ProbeResponse(ready=BoolValue(value=True))

    async with MyPlugin().serve("unix:///run/my/csi.sock"):
        ...
"""

from __future__ import annotations

from typing import Any, ClassVar

from kcore.errors import UnimplementedError
from kcore.interfaces._grpc import UnixServer, unary
from kcore.interfaces.csi._pb import csi_pb2 as pb
from kcore.interfaces.csi._rpcs import PACKAGE, RPCS, RPCS_BY_NAME, Rpc
from kcore.interfaces.csi.validation import validate_request

__all__ = ["CSIServer"]


class CSIServer:
    """Subclass, override the async RPC methods the plugin implements, then :meth:`serve`.

    ``stages_volumes``: set True in a plugin whose NodeGetCapabilities advertises
    STAGE_UNSTAGE_VOLUME; a NodePublishVolume without ``staging_target_path`` is then
    answered FAILED_PRECONDITION before the plugin's method runs.
    ``validates_requests``: set False to see requests exactly as sent (not recommended).
    """

    stages_volumes: ClassVar[bool] = False
    validates_requests: ClassVar[bool] = True

    # --- Identity --------------------------------------------------------------------------

    async def get_plugin_info(self, request: pb.GetPluginInfoRequest) -> pb.GetPluginInfoResponse:
        raise self._unimplemented("GetPluginInfo")

    async def get_plugin_capabilities(
        self, request: pb.GetPluginCapabilitiesRequest
    ) -> pb.GetPluginCapabilitiesResponse:
        raise self._unimplemented("GetPluginCapabilities")

    async def probe(self, request: pb.ProbeRequest) -> pb.ProbeResponse:
        raise self._unimplemented("Probe")

    # --- Controller ------------------------------------------------------------------------

    async def create_volume(self, request: pb.CreateVolumeRequest) -> pb.CreateVolumeResponse:
        raise self._unimplemented("CreateVolume")

    async def delete_volume(self, request: pb.DeleteVolumeRequest) -> pb.DeleteVolumeResponse:
        raise self._unimplemented("DeleteVolume")

    async def controller_publish_volume(
        self, request: pb.ControllerPublishVolumeRequest
    ) -> pb.ControllerPublishVolumeResponse:
        raise self._unimplemented("ControllerPublishVolume")

    async def controller_unpublish_volume(
        self, request: pb.ControllerUnpublishVolumeRequest
    ) -> pb.ControllerUnpublishVolumeResponse:
        raise self._unimplemented("ControllerUnpublishVolume")

    async def validate_volume_capabilities(
        self, request: pb.ValidateVolumeCapabilitiesRequest
    ) -> pb.ValidateVolumeCapabilitiesResponse:
        raise self._unimplemented("ValidateVolumeCapabilities")

    async def list_volumes(self, request: pb.ListVolumesRequest) -> pb.ListVolumesResponse:
        raise self._unimplemented("ListVolumes")

    async def get_capacity(self, request: pb.GetCapacityRequest) -> pb.GetCapacityResponse:
        raise self._unimplemented("GetCapacity")

    async def controller_get_capabilities(
        self, request: pb.ControllerGetCapabilitiesRequest
    ) -> pb.ControllerGetCapabilitiesResponse:
        raise self._unimplemented("ControllerGetCapabilities")

    # --- Node ------------------------------------------------------------------------------

    async def node_stage_volume(
        self, request: pb.NodeStageVolumeRequest
    ) -> pb.NodeStageVolumeResponse:
        raise self._unimplemented("NodeStageVolume")

    async def node_unstage_volume(
        self, request: pb.NodeUnstageVolumeRequest
    ) -> pb.NodeUnstageVolumeResponse:
        raise self._unimplemented("NodeUnstageVolume")

    async def node_publish_volume(
        self, request: pb.NodePublishVolumeRequest
    ) -> pb.NodePublishVolumeResponse:
        raise self._unimplemented("NodePublishVolume")

    async def node_unpublish_volume(
        self, request: pb.NodeUnpublishVolumeRequest
    ) -> pb.NodeUnpublishVolumeResponse:
        raise self._unimplemented("NodeUnpublishVolume")

    async def node_get_volume_stats(
        self, request: pb.NodeGetVolumeStatsRequest
    ) -> pb.NodeGetVolumeStatsResponse:
        raise self._unimplemented("NodeGetVolumeStats")

    async def node_get_capabilities(
        self, request: pb.NodeGetCapabilitiesRequest
    ) -> pb.NodeGetCapabilitiesResponse:
        raise self._unimplemented("NodeGetCapabilities")

    async def node_get_info(self, request: pb.NodeGetInfoRequest) -> pb.NodeGetInfoResponse:
        raise self._unimplemented("NodeGetInfo")

    # --- serving ---------------------------------------------------------------------------

    def implements(self, rpc_name: str) -> bool:
        """Whether this plugin overrides the method for ``rpc_name`` (``"CreateVolume"``)."""
        attr = RPCS_BY_NAME[rpc_name].attr
        return getattr(type(self), attr) is not getattr(CSIServer, attr)

    def services(self) -> dict[str, dict[str, Any]]:
        """gRPC method handlers by full service name, for :class:`UnixServer`."""
        services: dict[str, dict[str, Any]] = {}
        for rpc in RPCS:
            handler = unary(self._behaviour(rpc), rpc.request.FromString)
            services.setdefault(f"{PACKAGE}.{rpc.service}", {})[rpc.name] = handler
        return services

    def serve(self, endpoint: str) -> UnixServer:
        """A server for this plugin on ``unix:///path.sock``; ``async with`` runs it."""
        return UnixServer(endpoint, self.services())

    def _behaviour(self, rpc: Rpc) -> Any:
        method = getattr(self, rpc.attr)
        check = self.validates_requests and self.implements(rpc.name)
        stages = self.stages_volumes

        async def behaviour(request: Any, context: Any) -> Any:
            if check:
                validate_request(rpc.name, request, stages_volumes=stages)
            return await method(request)

        return behaviour

    def _unimplemented(self, rpc_name: str) -> UnimplementedError:
        path = RPCS_BY_NAME[rpc_name].path
        return UnimplementedError(
            f"CSI plugin {type(self).__name__} does not implement {path}; check the "
            "plugin's capabilities (GetPluginCapabilities, ControllerGetCapabilities, "
            "NodeGetCapabilities) before calling it"
        )
