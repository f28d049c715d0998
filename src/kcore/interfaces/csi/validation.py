"""The CSI spec's request rules that hold for every plugin: required fields and size limits.

csi-sanity expects INVALID_ARGUMENT from every RPC whose required field is missing, and the
spec caps field sizes. Those rules do not depend on what a plugin does, so they live here once
and :class:`~kcore.interfaces.csi.server.CSIServer` applies them before a plugin's method runs;
a plugin then only checks what is specific to it. One rule depends on the plugin: a plugin that
advertises STAGE_UNSTAGE_VOLUME (``stages_volumes``) answers a NodePublish without
``staging_target_path`` with FAILED_PRECONDITION, as the spec's error table says.

Limits: strings 128 bytes and maps 4 KiB (keys plus values), the spec's general limits;
``node_id`` 256 bytes and paths 4096 bytes (PATH_MAX), where the spec (1.5+) overrides them
because kubelet's node names and pod paths are routinely longer than 128 bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kcore.errors import ConflictError, InvalidArgumentError
from kcore.interfaces.csi._pb import csi_pb2 as pb

__all__ = [
    "MAX_MAP_BYTES",
    "MAX_NODE_ID_BYTES",
    "MAX_PATH_BYTES",
    "MAX_STRING_BYTES",
    "validate_request",
]

MAX_STRING_BYTES = 128
MAX_MAP_BYTES = 4096
MAX_NODE_ID_BYTES = 256
MAX_PATH_BYTES = 4096

_Mode = pb.VolumeCapability.AccessMode


def _fail(rpc: str, field: str, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{rpc}: {field} {problem}")


def _string(
    rpc: str, field: str, value: str, *, required: bool = True, limit: int = MAX_STRING_BYTES
) -> None:
    if not value:
        if required:
            raise _fail(rpc, field, "is required; set it (the spec makes it mandatory)")
        return
    size = len(value.encode())
    if size > limit:
        raise _fail(rpc, field, f"is {size} bytes; the limit is {limit} bytes, shorten it")


def _path(rpc: str, field: str, value: str, *, required: bool = True) -> None:
    _string(rpc, field, value, required=required, limit=MAX_PATH_BYTES)
    if not value:
        return
    if not value.startswith("/"):
        raise _fail(rpc, field, f"{value!r} is not absolute; pass an absolute path")
    if "\x00" in value:
        raise _fail(rpc, field, "contains a NUL byte; pass a real filesystem path")


def _map(rpc: str, field: str, value: Mapping[str, str]) -> None:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
    if size > MAX_MAP_BYTES:
        raise _fail(
            rpc, field, f"holds {size} bytes of keys and values; the limit is {MAX_MAP_BYTES}"
        )


def _maps(rpc: str, request: Any, *fields: str) -> None:
    for field in fields:
        _map(rpc, field, getattr(request, field))


def _capability(rpc: str, field: str, cap: pb.VolumeCapability) -> None:
    if cap.WhichOneof("access_type") is None:
        raise _fail(rpc, f"{field}.access_type", "is required; set block or mount")
    if not cap.HasField("access_mode") or cap.access_mode.mode == _Mode.UNKNOWN:
        raise _fail(
            rpc, f"{field}.access_mode", "is required; set a mode such as SINGLE_NODE_WRITER"
        )
    if cap.HasField("mount"):
        _string(rpc, f"{field}.mount.fs_type", cap.mount.fs_type, required=False)
        for i, flag in enumerate(cap.mount.mount_flags):
            _string(rpc, f"{field}.mount.mount_flags[{i}]", flag)


def _one_capability(rpc: str, request: Any, field: str) -> None:
    if not request.HasField(field):
        raise _fail(rpc, field, "is required; say how the volume will be accessed")
    _capability(rpc, field, getattr(request, field))


def _capabilities(
    rpc: str, field: str, caps: Iterable[pb.VolumeCapability], *, required: bool
) -> None:
    caps = list(caps)
    if required and not caps:
        raise _fail(rpc, field, "is required; give at least one volume capability")
    for i, cap in enumerate(caps):
        _capability(rpc, f"{field}[{i}]", cap)


def _create_volume(r: pb.CreateVolumeRequest) -> None:
    rpc = "CreateVolume"
    _string(rpc, "name", r.name)
    _capabilities(rpc, "volume_capabilities", r.volume_capabilities, required=True)
    if r.HasField("capacity_range"):
        wanted, limit = r.capacity_range.required_bytes, r.capacity_range.limit_bytes
        if wanted < 0 or limit < 0:
            raise _fail(rpc, "capacity_range", "has a negative size; sizes are bytes >= 0")
        if limit and limit < wanted:
            raise _fail(
                rpc,
                "capacity_range",
                f"asks for at least {wanted} and at most {limit} bytes; raise limit_bytes",
            )
    source = r.volume_content_source
    if source.HasField("volume"):
        _string(rpc, "volume_content_source.volume.volume_id", source.volume.volume_id)
    if source.HasField("snapshot"):
        _string(rpc, "volume_content_source.snapshot.snapshot_id", source.snapshot.snapshot_id)
    _maps(rpc, r, "parameters", "secrets", "mutable_parameters")


def _delete_volume(r: pb.DeleteVolumeRequest) -> None:
    _string("DeleteVolume", "volume_id", r.volume_id)
    _maps("DeleteVolume", r, "secrets")


def _controller_publish(r: pb.ControllerPublishVolumeRequest) -> None:
    rpc = "ControllerPublishVolume"
    _string(rpc, "volume_id", r.volume_id)
    _string(rpc, "node_id", r.node_id, limit=MAX_NODE_ID_BYTES)
    _one_capability(rpc, r, "volume_capability")
    _maps(rpc, r, "secrets", "volume_context")


def _controller_unpublish(r: pb.ControllerUnpublishVolumeRequest) -> None:
    rpc = "ControllerUnpublishVolume"
    _string(rpc, "volume_id", r.volume_id)
    # An empty node_id means "from every node".
    _string(rpc, "node_id", r.node_id, required=False, limit=MAX_NODE_ID_BYTES)
    _maps(rpc, r, "secrets")


def _validate_capabilities(r: pb.ValidateVolumeCapabilitiesRequest) -> None:
    rpc = "ValidateVolumeCapabilities"
    _string(rpc, "volume_id", r.volume_id)
    _capabilities(rpc, "volume_capabilities", r.volume_capabilities, required=True)
    _maps(rpc, r, "volume_context", "parameters", "secrets", "mutable_parameters")


def _list_volumes(r: pb.ListVolumesRequest) -> None:
    if r.max_entries < 0:
        raise _fail("ListVolumes", "max_entries", f"is {r.max_entries}; use 0 (all) or more")
    _string("ListVolumes", "starting_token", r.starting_token, required=False)


def _get_capacity(r: pb.GetCapacityRequest) -> None:
    _capabilities("GetCapacity", "volume_capabilities", r.volume_capabilities, required=False)
    _maps("GetCapacity", r, "parameters")


def _node_stage(r: pb.NodeStageVolumeRequest) -> None:
    rpc = "NodeStageVolume"
    _string(rpc, "volume_id", r.volume_id)
    _path(rpc, "staging_target_path", r.staging_target_path)
    _one_capability(rpc, r, "volume_capability")
    _maps(rpc, r, "publish_context", "secrets", "volume_context")


def _node_unstage(r: pb.NodeUnstageVolumeRequest) -> None:
    _string("NodeUnstageVolume", "volume_id", r.volume_id)
    _path("NodeUnstageVolume", "staging_target_path", r.staging_target_path)


def _node_publish(r: pb.NodePublishVolumeRequest, stages_volumes: bool) -> None:
    rpc = "NodePublishVolume"
    _string(rpc, "volume_id", r.volume_id)
    _path(rpc, "target_path", r.target_path)
    _one_capability(rpc, r, "volume_capability")
    _path(rpc, "staging_target_path", r.staging_target_path, required=False)
    _maps(rpc, r, "publish_context", "secrets", "volume_context")
    if stages_volumes and not r.staging_target_path:
        # The spec's own code for this case: the CO skipped NodeStageVolume.
        raise ConflictError(
            f"{rpc}: staging_target_path is not set, but this plugin advertises "
            "STAGE_UNSTAGE_VOLUME; call NodeStageVolume first and pass its staging_target_path"
        )


def _node_unpublish(r: pb.NodeUnpublishVolumeRequest) -> None:
    _string("NodeUnpublishVolume", "volume_id", r.volume_id)
    _path("NodeUnpublishVolume", "target_path", r.target_path)


def _node_stats(r: pb.NodeGetVolumeStatsRequest) -> None:
    rpc = "NodeGetVolumeStats"
    _string(rpc, "volume_id", r.volume_id)
    _path(rpc, "volume_path", r.volume_path)
    _path(rpc, "staging_target_path", r.staging_target_path, required=False)


# Each checker takes its own request type; the table is keyed by RPC name.
_CHECKS: dict[str, Callable[[Any], None]] = {
    "CreateVolume": _create_volume,
    "DeleteVolume": _delete_volume,
    "ControllerPublishVolume": _controller_publish,
    "ControllerUnpublishVolume": _controller_unpublish,
    "ValidateVolumeCapabilities": _validate_capabilities,
    "ListVolumes": _list_volumes,
    "GetCapacity": _get_capacity,
    "NodeStageVolume": _node_stage,
    "NodeUnstageVolume": _node_unstage,
    "NodeUnpublishVolume": _node_unpublish,
    "NodeGetVolumeStats": _node_stats,
}


def validate_request(rpc: str, request: Any, *, stages_volumes: bool = False) -> None:
    """Raise ``InvalidArgumentError`` if ``request`` (for RPC ``rpc``) breaks the spec's rules.

    ``stages_volumes``: the plugin advertises STAGE_UNSTAGE_VOLUME, so a NodePublishVolume
    without ``staging_target_path`` is ``ConflictError`` (FAILED_PRECONDITION). RPCs without
    required fields always pass.
    """
    if rpc == "NodePublishVolume":
        _node_publish(request, stages_volumes)
        return
    check = _CHECKS.get(rpc)
    if check is not None:
        check(request)
