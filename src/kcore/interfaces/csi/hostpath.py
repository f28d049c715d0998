"""HostPathDriver: a complete CSI plugin whose volumes are directories, needing no privileges.

It exists so kcore's node agent, controllers and users' tests can drive the whole CSI volume
lifecycle (create, attach, stage, publish, stats, and back) against a real plugin over a real
socket, on a laptop or in CI, without mount rights. It follows the spec's idempotency rules and
error codes (see PLUGIN-RULES.md) and passes kcore's port of csi-sanity.

How it stands in for the privileged parts:

* a volume is the directory ``<state_dir>/volumes/<volume_id>``; capacity is bookkeeping (no
  quota is enforced), optionally bounded in total by ``capacity_bytes``;
* ControllerPublish records an attachment (which nodes ``nodes`` names; this driver's own by
  default). NodeStage requires it unless ``attach_required=False``;
* NodeStage checks the staging directory the CO created and writes a marker file
  ``.kcore-hostpath-volume`` (holding the volume id) into it where a real driver would mount
  the device; NodeUnstage removes the marker;
* NodePublish makes ``target_path`` a **symlink** to the volume directory, where a real driver
  would bind-mount. A container runtime bind-mounting the target follows the link, so pods see
  the volume. ``readonly`` is recorded and compared, but not enforced (that needs a mount);
* every change is persisted (``state.json``) before the RPC answers, so a restarted driver
  knows its volumes, attachments, stagings and publications. One driver per state directory.

All operations are serialized by one lock and run their file work in a worker thread, so the
event loop never blocks. This module is the plugin's face (settings, Identity, capabilities,
the async RPC methods); the RPC bodies are in ``_hostpath_controller`` and ``_hostpath_node``,
the persisted state in ``_hostpath_state``. Served with grpc.aio (asyncio only)::

    driver = HostPathDriver("/var/lib/kcore/csi-hostpath", node_id="node-1")
    async with driver.serve("unix:///run/kcore/csi-hostpath.sock"):
        ...
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
from google.protobuf.wrappers_pb2 import BoolValue

from kcore.errors import InvalidArgumentError, NotFoundError
from kcore.interfaces.csi._hostpath_controller import ControllerOps
from kcore.interfaces.csi._hostpath_node import STAGED_MARKER, NodeOps
from kcore.interfaces.csi._hostpath_state import HostPathState
from kcore.interfaces.csi._pb import csi_pb2 as pb
from kcore.interfaces.csi.server import CSIServer
from kcore.interfaces.csi.validation import MAX_NODE_ID_BYTES

__all__ = ["STAGED_MARKER", "HostPathDriver"]

_T = TypeVar("_T")
_CTRL = pb.ControllerServiceCapability.RPC
_NODE = pb.NodeServiceCapability.RPC
_PLUGIN_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?")


class HostPathDriver(ControllerOps, NodeOps, CSIServer):
    """A CSI plugin (Identity, Controller and Node) keeping volumes under ``state_dir``.

    ``name``: the plugin name (domain-like, at most 63 characters). ``node_id``: this node's
    id (default: the host name). ``nodes``: node ids ControllerPublishVolume accepts besides
    this one. ``capacity_bytes``: total space to hand out (default: unbounded; GetCapacity then
    reports the free space of the state directory's filesystem). ``default_volume_bytes``: the
    size of a volume created without a capacity range. ``attach_required``: whether the volume
    must be controller-published to this node before NodeStageVolume.
    """

    stages_volumes = True

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        name: str = "hostpath.csi.kcore.dev",
        node_id: str | None = None,
        nodes: Iterable[str] = (),
        capacity_bytes: int | None = None,
        default_volume_bytes: int = 1 << 30,
        max_volumes_per_node: int = 0,
        attach_required: bool = True,
        vendor_version: str = "0.1.0",
    ) -> None:
        if not _PLUGIN_NAME.fullmatch(name):
            raise InvalidArgumentError(
                f"HostPathDriver name {name!r}: use a domain-like name of at most 63 "
                "characters (letters, digits, '.', '-'), e.g. hostpath.csi.example.com"
            )
        self.name = name
        self.node_id = node_id if node_id is not None else socket.gethostname()
        if not self.node_id or len(self.node_id.encode()) > MAX_NODE_ID_BYTES:
            raise InvalidArgumentError(
                f"HostPathDriver node_id {self.node_id!r}: must be 1 to {MAX_NODE_ID_BYTES} bytes"
            )
        if capacity_bytes is not None and capacity_bytes <= 0:
            raise InvalidArgumentError(
                f"HostPathDriver capacity_bytes {capacity_bytes}: must be positive (or None)"
            )
        self.nodes = frozenset({self.node_id, *nodes})
        self.capacity_bytes = capacity_bytes
        self.default_volume_bytes = default_volume_bytes
        self.max_volumes_per_node = max_volumes_per_node
        self.attach_required = attach_required
        self.vendor_version = vendor_version
        self.ready = True  # what Probe answers; a test may flip it
        root = Path(state_dir)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        root = root.resolve()  # publish symlinks must point at an absolute path
        self._state = HostPathState(root)
        self._state.load()  # one small file, at construction, before any serving
        self._lock = anyio.Lock()

    def volume_path(self, volume_id: str) -> Path:
        """The directory holding a volume's data."""
        if volume_id not in self._state.volumes:
            raise NotFoundError(f"host-path volume {volume_id!r} does not exist")
        return self._state.volume_dir(volume_id)

    async def _locked(self, work: Callable[[], _T]) -> _T:
        async with self._lock:
            return await anyio.to_thread.run_sync(work)

    # --- Identity --------------------------------------------------------------------------

    async def get_plugin_info(self, request: pb.GetPluginInfoRequest) -> pb.GetPluginInfoResponse:
        return pb.GetPluginInfoResponse(
            name=self.name, vendor_version=self.vendor_version, manifest={"driver": "hostpath"}
        )

    async def get_plugin_capabilities(
        self, request: pb.GetPluginCapabilitiesRequest
    ) -> pb.GetPluginCapabilitiesResponse:
        service = pb.PluginCapability.Service(type=pb.PluginCapability.Service.CONTROLLER_SERVICE)
        return pb.GetPluginCapabilitiesResponse(capabilities=[pb.PluginCapability(service=service)])

    async def probe(self, request: pb.ProbeRequest) -> pb.ProbeResponse:
        return pb.ProbeResponse(ready=BoolValue(value=self.ready))

    # --- Controller ------------------------------------------------------------------------

    async def controller_get_capabilities(
        self, request: pb.ControllerGetCapabilitiesRequest
    ) -> pb.ControllerGetCapabilitiesResponse:
        types = [
            _CTRL.CREATE_DELETE_VOLUME,
            _CTRL.LIST_VOLUMES,
            _CTRL.LIST_VOLUMES_PUBLISHED_NODES,
            _CTRL.GET_CAPACITY,
            _CTRL.CLONE_VOLUME,
        ]
        if self.attach_required:
            types.append(_CTRL.PUBLISH_UNPUBLISH_VOLUME)
        return pb.ControllerGetCapabilitiesResponse(
            capabilities=[pb.ControllerServiceCapability(rpc=_CTRL(type=t)) for t in types]
        )

    async def create_volume(self, request: pb.CreateVolumeRequest) -> pb.CreateVolumeResponse:
        return await self._locked(lambda: self._create_volume(request))

    async def delete_volume(self, request: pb.DeleteVolumeRequest) -> pb.DeleteVolumeResponse:
        return await self._locked(lambda: self._delete_volume(request))

    async def controller_publish_volume(
        self, request: pb.ControllerPublishVolumeRequest
    ) -> pb.ControllerPublishVolumeResponse:
        return await self._locked(lambda: self._controller_publish(request))

    async def controller_unpublish_volume(
        self, request: pb.ControllerUnpublishVolumeRequest
    ) -> pb.ControllerUnpublishVolumeResponse:
        return await self._locked(lambda: self._controller_unpublish(request))

    async def validate_volume_capabilities(
        self, request: pb.ValidateVolumeCapabilitiesRequest
    ) -> pb.ValidateVolumeCapabilitiesResponse:
        return await self._locked(lambda: self._validate_capabilities(request))

    async def list_volumes(self, request: pb.ListVolumesRequest) -> pb.ListVolumesResponse:
        return await self._locked(lambda: self._list_volumes(request))

    async def get_capacity(self, request: pb.GetCapacityRequest) -> pb.GetCapacityResponse:
        return await self._locked(lambda: self._get_capacity(request))

    # --- Node ------------------------------------------------------------------------------

    async def node_get_capabilities(
        self, request: pb.NodeGetCapabilitiesRequest
    ) -> pb.NodeGetCapabilitiesResponse:
        types = [_NODE.STAGE_UNSTAGE_VOLUME, _NODE.GET_VOLUME_STATS]
        return pb.NodeGetCapabilitiesResponse(
            capabilities=[pb.NodeServiceCapability(rpc=_NODE(type=t)) for t in types]
        )

    async def node_get_info(self, request: pb.NodeGetInfoRequest) -> pb.NodeGetInfoResponse:
        return pb.NodeGetInfoResponse(
            node_id=self.node_id, max_volumes_per_node=self.max_volumes_per_node
        )

    async def node_stage_volume(
        self, request: pb.NodeStageVolumeRequest
    ) -> pb.NodeStageVolumeResponse:
        return await self._locked(lambda: self._node_stage(request))

    async def node_unstage_volume(
        self, request: pb.NodeUnstageVolumeRequest
    ) -> pb.NodeUnstageVolumeResponse:
        return await self._locked(lambda: self._node_unstage(request))

    async def node_publish_volume(
        self, request: pb.NodePublishVolumeRequest
    ) -> pb.NodePublishVolumeResponse:
        return await self._locked(lambda: self._node_publish(request))

    async def node_unpublish_volume(
        self, request: pb.NodeUnpublishVolumeRequest
    ) -> pb.NodeUnpublishVolumeResponse:
        return await self._locked(lambda: self._node_unpublish(request))

    async def node_get_volume_stats(
        self, request: pb.NodeGetVolumeStatsRequest
    ) -> pb.NodeGetVolumeStatsResponse:
        return await self._locked(lambda: self._node_stats(request))
