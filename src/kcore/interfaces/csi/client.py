"""An async client for a CSI plugin on a unix socket: one typed method per CSI RPC.

What kubelet and the external provisioner/attacher do to a plugin, kcore's node agent and
controllers do through this class. Each method takes the request message (empty requests may
be omitted) and returns the response message; a failure is a ``kcore.errors`` class chosen by
the gRPC status (NOT_FOUND is ``NotFoundError``, ABORTED a ``PeerError`` whose ``grpc_code``
is ``"ABORTED"``, a plugin that is down ``UnavailableError``), and its message names the
endpoint and method. grpc.aio underneath: asyncio only::

    async with CSIClient("unix:///run/csi/hostpath.sock") as csi:
        info = await csi.get_plugin_info()
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from kcore.interfaces._grpc import UnixChannel
from kcore.interfaces.csi._pb import csi_pb2 as pb
from kcore.interfaces.csi._rpcs import RPCS_BY_NAME

__all__ = ["CSIClient"]

_Resp = TypeVar("_Resp", bound=Message)


class CSIClient:
    """Calls the Identity, Controller and Node services of the plugin at ``endpoint``.

    ``timeout`` (seconds) bounds each call unless a call passes its own.
    """

    def __init__(self, endpoint: str, *, timeout: float = 30.0) -> None:
        self._channel = UnixChannel(endpoint, timeout=timeout)

    @property
    def endpoint(self) -> str:
        return self._channel.endpoint

    async def _call(
        self, rpc: str, request: Message, response: type[_Resp], timeout: float | None
    ) -> _Resp:
        path = RPCS_BY_NAME[rpc].path
        return await self._channel.call(path, request, response.FromString, timeout=timeout)

    # --- Identity --------------------------------------------------------------------------

    async def get_plugin_info(
        self, request: pb.GetPluginInfoRequest | None = None, *, timeout: float | None = None
    ) -> pb.GetPluginInfoResponse:
        request = request if request is not None else pb.GetPluginInfoRequest()
        return await self._call("GetPluginInfo", request, pb.GetPluginInfoResponse, timeout)

    async def get_plugin_capabilities(
        self,
        request: pb.GetPluginCapabilitiesRequest | None = None,
        *,
        timeout: float | None = None,
    ) -> pb.GetPluginCapabilitiesResponse:
        request = request if request is not None else pb.GetPluginCapabilitiesRequest()
        return await self._call(
            "GetPluginCapabilities", request, pb.GetPluginCapabilitiesResponse, timeout
        )

    async def probe(
        self, request: pb.ProbeRequest | None = None, *, timeout: float | None = None
    ) -> pb.ProbeResponse:
        return await self._call(
            "Probe",
            request if request is not None else pb.ProbeRequest(),
            pb.ProbeResponse,
            timeout,
        )

    # --- Controller ------------------------------------------------------------------------

    async def create_volume(
        self, request: pb.CreateVolumeRequest, *, timeout: float | None = None
    ) -> pb.CreateVolumeResponse:
        return await self._call("CreateVolume", request, pb.CreateVolumeResponse, timeout)

    async def delete_volume(
        self, request: pb.DeleteVolumeRequest, *, timeout: float | None = None
    ) -> pb.DeleteVolumeResponse:
        return await self._call("DeleteVolume", request, pb.DeleteVolumeResponse, timeout)

    async def controller_publish_volume(
        self, request: pb.ControllerPublishVolumeRequest, *, timeout: float | None = None
    ) -> pb.ControllerPublishVolumeResponse:
        return await self._call(
            "ControllerPublishVolume", request, pb.ControllerPublishVolumeResponse, timeout
        )

    async def controller_unpublish_volume(
        self, request: pb.ControllerUnpublishVolumeRequest, *, timeout: float | None = None
    ) -> pb.ControllerUnpublishVolumeResponse:
        return await self._call(
            "ControllerUnpublishVolume", request, pb.ControllerUnpublishVolumeResponse, timeout
        )

    async def validate_volume_capabilities(
        self, request: pb.ValidateVolumeCapabilitiesRequest, *, timeout: float | None = None
    ) -> pb.ValidateVolumeCapabilitiesResponse:
        return await self._call(
            "ValidateVolumeCapabilities", request, pb.ValidateVolumeCapabilitiesResponse, timeout
        )

    async def list_volumes(
        self, request: pb.ListVolumesRequest | None = None, *, timeout: float | None = None
    ) -> pb.ListVolumesResponse:
        request = request if request is not None else pb.ListVolumesRequest()
        return await self._call("ListVolumes", request, pb.ListVolumesResponse, timeout)

    async def get_capacity(
        self, request: pb.GetCapacityRequest | None = None, *, timeout: float | None = None
    ) -> pb.GetCapacityResponse:
        request = request if request is not None else pb.GetCapacityRequest()
        return await self._call("GetCapacity", request, pb.GetCapacityResponse, timeout)

    async def controller_get_capabilities(
        self,
        request: pb.ControllerGetCapabilitiesRequest | None = None,
        *,
        timeout: float | None = None,
    ) -> pb.ControllerGetCapabilitiesResponse:
        request = request if request is not None else pb.ControllerGetCapabilitiesRequest()
        return await self._call(
            "ControllerGetCapabilities", request, pb.ControllerGetCapabilitiesResponse, timeout
        )

    # --- Node ------------------------------------------------------------------------------

    async def node_stage_volume(
        self, request: pb.NodeStageVolumeRequest, *, timeout: float | None = None
    ) -> pb.NodeStageVolumeResponse:
        return await self._call("NodeStageVolume", request, pb.NodeStageVolumeResponse, timeout)

    async def node_unstage_volume(
        self, request: pb.NodeUnstageVolumeRequest, *, timeout: float | None = None
    ) -> pb.NodeUnstageVolumeResponse:
        return await self._call("NodeUnstageVolume", request, pb.NodeUnstageVolumeResponse, timeout)

    async def node_publish_volume(
        self, request: pb.NodePublishVolumeRequest, *, timeout: float | None = None
    ) -> pb.NodePublishVolumeResponse:
        return await self._call("NodePublishVolume", request, pb.NodePublishVolumeResponse, timeout)

    async def node_unpublish_volume(
        self, request: pb.NodeUnpublishVolumeRequest, *, timeout: float | None = None
    ) -> pb.NodeUnpublishVolumeResponse:
        return await self._call(
            "NodeUnpublishVolume", request, pb.NodeUnpublishVolumeResponse, timeout
        )

    async def node_get_volume_stats(
        self, request: pb.NodeGetVolumeStatsRequest, *, timeout: float | None = None
    ) -> pb.NodeGetVolumeStatsResponse:
        return await self._call(
            "NodeGetVolumeStats", request, pb.NodeGetVolumeStatsResponse, timeout
        )

    async def node_get_capabilities(
        self,
        request: pb.NodeGetCapabilitiesRequest | None = None,
        *,
        timeout: float | None = None,
    ) -> pb.NodeGetCapabilitiesResponse:
        request = request if request is not None else pb.NodeGetCapabilitiesRequest()
        return await self._call(
            "NodeGetCapabilities", request, pb.NodeGetCapabilitiesResponse, timeout
        )

    async def node_get_info(
        self, request: pb.NodeGetInfoRequest | None = None, *, timeout: float | None = None
    ) -> pb.NodeGetInfoResponse:
        request = request if request is not None else pb.NodeGetInfoRequest()
        return await self._call("NodeGetInfo", request, pb.NodeGetInfoResponse, timeout)

    # --- lifecycle -------------------------------------------------------------------------

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> CSIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
