"""The Controller half of the host-path CSI driver: volumes, attachments, listing, capacity.

Each method is the synchronous body of one Controller RPC; ``HostPathDriver`` runs it under
its lock in a worker thread. Rules followed (CSI spec, csi-sanity): CreateVolume with a known
name answers the same volume when the request is compatible (size in range, same parameters
and source) and ALREADY_EXISTS otherwise; DeleteVolume and ControllerUnpublishVolume of
something already gone succeed; a volume in a single-node access mode is attached to one node
at a time (FAILED_PRECONDITION); ListVolumes tokens that were never issued are ABORTED.
"""

from __future__ import annotations

import os
import shutil
import uuid

from google.protobuf import json_format
from google.protobuf.wrappers_pb2 import Int64Value

from kcore.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    PeerError,
)
from kcore.interfaces.csi._hostpath_state import (
    Attachment,
    StateOwner,
    VolumeRecord,
    as_json,
    remove_tree,
    require_supported,
    unsupported,
)
from kcore.interfaces.csi._pb import csi_pb2 as pb

__all__ = ["ControllerOps", "volume_message"]

_Mode = pb.VolumeCapability.AccessMode
_SINGLE_NODE_MODES = frozenset(
    {
        _Mode.SINGLE_NODE_WRITER,
        _Mode.SINGLE_NODE_READER_ONLY,
        _Mode.SINGLE_NODE_SINGLE_WRITER,
        _Mode.SINGLE_NODE_MULTI_WRITER,
    }
)


class ControllerOps(StateOwner):
    """Controller RPC bodies (synchronous; the caller holds the driver's lock)."""

    def _create_volume(self, r: pb.CreateVolumeRequest) -> pb.CreateVolumeResponse:
        rpc = "CreateVolume"
        require_supported(rpc, r.volume_capabilities)
        wanted, limit = r.capacity_range.required_bytes, r.capacity_range.limit_bytes
        source = as_json(r.volume_content_source) if r.HasField("volume_content_source") else {}
        existing = self._state.by_name(r.name)
        if existing is not None:
            problems = _differences(existing, wanted, limit, dict(r.parameters), source)
            if problems:
                raise AlreadyExistsError(
                    f"{rpc}: volume {r.name!r} already exists as {existing.volume_id} but "
                    f"{'; '.join(problems)}; use another name or delete that volume first"
                )
            return pb.CreateVolumeResponse(volume=volume_message(existing))
        size = wanted or (min(limit, self.default_volume_bytes) if limit else 0)
        size = size or self.default_volume_bytes
        clone_from = self._clone_source(rpc, r.volume_content_source)
        if clone_from is not None and size < clone_from.capacity_bytes:
            if limit and limit < clone_from.capacity_bytes:
                raise PeerError(
                    f"{rpc}: limit_bytes {limit} is smaller than source volume "
                    f"{clone_from.volume_id} ({clone_from.capacity_bytes} bytes)",
                    "OUT_OF_RANGE",
                )
            size = clone_from.capacity_bytes
        self._check_room(rpc, size)
        volume = VolumeRecord(
            volume_id=str(uuid.uuid4()),
            name=r.name,
            seq=self._state.next_seq,
            capacity_bytes=size,
            parameters=dict(r.parameters),
            content_source=source,
        )
        path = self._state.volume_dir(volume.volume_id)
        try:
            with self._change():
                if clone_from is not None:
                    shutil.copytree(
                        self._state.volume_dir(clone_from.volume_id), path, symlinks=True
                    )
                else:
                    path.mkdir()
                path.chmod(0o777)  # pods may run as any user; the state dir stays 0700
                self._state.volumes[volume.volume_id] = volume
                self._state.next_seq += 1
        except BaseException:
            remove_tree(path)
            raise
        return pb.CreateVolumeResponse(volume=volume_message(volume))

    def _clone_source(self, rpc: str, source: pb.VolumeContentSource) -> VolumeRecord | None:
        if source.HasField("snapshot"):
            raise InvalidArgumentError(
                f"{rpc}: volume_content_source.snapshot is not supported by {self.name} "
                "(no snapshots); create an empty volume or clone a volume instead"
            )
        if not source.HasField("volume"):
            return None
        found = self._state.volumes.get(source.volume.volume_id)
        if found is None:
            raise NotFoundError(
                f"{rpc}: source volume {source.volume.volume_id!r} does not exist; "
                "clone an existing volume"
            )
        return found

    def _allocated(self) -> int:
        return sum(v.capacity_bytes for v in self._state.volumes.values())

    def _available(self) -> int:
        if self.capacity_bytes is None:
            fs = os.statvfs(self._state.dir)
            return fs.f_bavail * fs.f_frsize
        return max(0, self.capacity_bytes - self._allocated())

    def _check_room(self, rpc: str, size: int) -> None:
        if self.capacity_bytes is None:
            return  # directories are not preallocated
        if size > self.capacity_bytes:
            raise PeerError(
                f"{rpc}: {size} bytes is more than this driver's whole capacity "
                f"({self.capacity_bytes} bytes); ask for less",
                "OUT_OF_RANGE",
            )
        if size > self._available():
            raise PeerError(
                f"{rpc}: {size} bytes requested but only {self._available()} of "
                f"{self.capacity_bytes} are free; delete volumes or ask for less",
                "RESOURCE_EXHAUSTED",
            )

    def _delete_volume(self, r: pb.DeleteVolumeRequest) -> pb.DeleteVolumeResponse:
        volume = self._state.volumes.get(r.volume_id)
        if volume is None:
            return pb.DeleteVolumeResponse()  # already gone: deleting again succeeds
        in_use = volume.in_use()
        if in_use:
            raise ConflictError(
                f"DeleteVolume: volume {r.volume_id} is in use ({'; '.join(in_use)}); "
                "unpublish, unstage and controller-unpublish it first"
            )
        with self._change():
            del self._state.volumes[r.volume_id]
        # After the state no longer names it; a failure here leaves a directory that the
        # next start removes.
        remove_tree(self._state.volume_dir(r.volume_id))
        return pb.DeleteVolumeResponse()

    def _controller_publish(
        self, r: pb.ControllerPublishVolumeRequest
    ) -> pb.ControllerPublishVolumeResponse:
        rpc = "ControllerPublishVolume"
        volume = self._volume(rpc, r.volume_id)
        if r.node_id not in self.nodes:
            raise NotFoundError(
                f"{rpc}: node {r.node_id!r} is unknown to {self.name} (known: "
                f"{', '.join(sorted(self.nodes))}); use a node_id from NodeGetInfo"
            )
        require_supported(rpc, [r.volume_capability])
        wanted = Attachment(as_json(r.volume_capability), r.readonly)
        current = volume.attachments.get(r.node_id)
        if current == wanted:
            return pb.ControllerPublishVolumeResponse()
        if current is not None:
            raise AlreadyExistsError(
                f"{rpc}: volume {r.volume_id} is already published to node {r.node_id!r} "
                "with another capability or readonly flag; unpublish it first"
            )
        for node, other in volume.attachments.items():
            if _single_node(wanted.capability) or _single_node(other.capability):
                raise ConflictError(
                    f"{rpc}: volume {r.volume_id} is published to node {node!r} with a "
                    "single-node access mode; unpublish it there first"
                )
        if self.max_volumes_per_node:
            attached = sum(r.node_id in v.attachments for v in self._state.volumes.values())
            if attached >= self.max_volumes_per_node:
                raise PeerError(
                    f"{rpc}: node {r.node_id!r} already has {attached} volumes attached, "
                    f"the most it takes; detach one first",
                    "RESOURCE_EXHAUSTED",
                )
        with self._change():
            volume.attachments[r.node_id] = wanted
        return pb.ControllerPublishVolumeResponse()

    def _controller_unpublish(
        self, r: pb.ControllerUnpublishVolumeRequest
    ) -> pb.ControllerUnpublishVolumeResponse:
        volume = self._state.volumes.get(r.volume_id)
        # An unknown volume or node is "not attached": unpublishing it succeeds.
        if volume is not None:
            nodes = [r.node_id] if r.node_id else list(volume.attachments)
            if any(node in volume.attachments for node in nodes):
                with self._change():
                    for node in nodes:
                        volume.attachments.pop(node, None)
        return pb.ControllerUnpublishVolumeResponse()

    def _validate_capabilities(
        self, r: pb.ValidateVolumeCapabilitiesRequest
    ) -> pb.ValidateVolumeCapabilitiesResponse:
        volume = self._volume("ValidateVolumeCapabilities", r.volume_id)
        problem = unsupported(r.volume_capabilities)
        if problem:
            return pb.ValidateVolumeCapabilitiesResponse(message=problem)
        if r.parameters and dict(r.parameters) != volume.parameters:
            return pb.ValidateVolumeCapabilitiesResponse(
                message=f"volume {r.volume_id} was created with other parameters"
            )
        confirmed = pb.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=r.volume_context,
            volume_capabilities=r.volume_capabilities,
            parameters=r.parameters,
            mutable_parameters=r.mutable_parameters,
        )
        return pb.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    def _list_volumes(self, r: pb.ListVolumesRequest) -> pb.ListVolumesResponse:
        after = 0
        if r.starting_token:
            # A token is the creation number of the last volume returned: it stays valid when
            # that volume is deleted, and volumes created meanwhile appear on later pages.
            token = r.starting_token
            if not token.isdigit() or not 0 < int(token) < self._state.next_seq:
                raise PeerError(
                    f"ListVolumes: starting_token {token!r} was not issued by {self.name}; "
                    "list again without a token",
                    "ABORTED",
                )
            after = int(token)
        volumes = sorted(
            (v for v in self._state.volumes.values() if v.seq > after), key=lambda v: v.seq
        )
        next_token = ""
        if r.max_entries and len(volumes) > r.max_entries:
            volumes = volumes[: r.max_entries]
            next_token = str(volumes[-1].seq)
        Entry = pb.ListVolumesResponse.Entry
        entries = [
            Entry(
                volume=volume_message(v),
                status=pb.ListVolumesResponse.VolumeStatus(
                    published_node_ids=sorted(v.attachments)
                ),
            )
            for v in volumes
        ]
        return pb.ListVolumesResponse(entries=entries, next_token=next_token)

    def _get_capacity(self, r: pb.GetCapacityRequest) -> pb.GetCapacityResponse:
        if unsupported(r.volume_capabilities):
            return pb.GetCapacityResponse(available_capacity=0)  # spec: 0 for unsupported
        available = self._available()
        return pb.GetCapacityResponse(
            available_capacity=available, maximum_volume_size=Int64Value(value=available)
        )


def _single_node(capability: dict[str, object]) -> bool:
    cap = json_format.ParseDict(capability, pb.VolumeCapability())
    return cap.access_mode.mode in _SINGLE_NODE_MODES


def _differences(
    volume: VolumeRecord, wanted: int, limit: int, parameters: dict[str, str], source: object
) -> list[str]:
    problems = []
    size = volume.capacity_bytes
    if size < wanted or (limit and size > limit):
        upper = f"{limit}" if limit else "no limit"
        problems.append(f"its {size} bytes are outside the requested [{wanted}, {upper}]")
    if parameters != volume.parameters:
        problems.append("it was created with other parameters")
    if source != volume.content_source:
        problems.append("it was created from another content source")
    return problems


def volume_message(volume: VolumeRecord) -> pb.Volume:
    message = pb.Volume(capacity_bytes=volume.capacity_bytes, volume_id=volume.volume_id)
    if volume.content_source:
        json_format.ParseDict(volume.content_source, message.content_source)
    return message
