"""The spec's request rules (validate_request): required fields, size limits, path rules."""

from __future__ import annotations

import pytest

from kcore.errors import ConflictError, InvalidArgumentError
from kcore.interfaces.csi import (
    MAX_MAP_BYTES,
    MAX_NODE_ID_BYTES,
    MAX_PATH_BYTES,
    MAX_STRING_BYTES,
    pb,
    validate_request,
)
from tests.interfaces.csi.sanity import mount_capability


def publish(**fields: object) -> pb.ControllerPublishVolumeRequest:
    base: dict[str, object] = {
        "volume_id": "v",
        "node_id": "n",
        "volume_capability": mount_capability(),
    }
    return pb.ControllerPublishVolumeRequest(**{**base, **fields})  # type: ignore[arg-type]


def node_publish(**fields: object) -> pb.NodePublishVolumeRequest:
    base: dict[str, object] = {
        "volume_id": "v",
        "staging_target_path": "/stage",
        "target_path": "/target",
        "volume_capability": mount_capability(),
    }
    return pb.NodePublishVolumeRequest(**{**base, **fields})  # type: ignore[arg-type]


def test_string_limits_count_bytes_not_characters() -> None:
    validate_request("DeleteVolume", pb.DeleteVolumeRequest(volume_id="x" * MAX_STRING_BYTES))
    with pytest.raises(InvalidArgumentError, match="DeleteVolume: volume_id is 130 bytes"):
        validate_request("DeleteVolume", pb.DeleteVolumeRequest(volume_id="é" * 65))


def test_node_id_may_be_256_bytes() -> None:
    validate_request("ControllerPublishVolume", publish(node_id="n" * MAX_NODE_ID_BYTES))
    with pytest.raises(InvalidArgumentError, match="node_id is 257 bytes; the limit is 256"):
        validate_request("ControllerPublishVolume", publish(node_id="n" * 257))


def test_paths_are_absolute_clean_and_up_to_path_max() -> None:
    validate_request(
        "NodePublishVolume", node_publish(target_path="/" + "p" * (MAX_PATH_BYTES - 1))
    )
    with pytest.raises(InvalidArgumentError, match="limit is 4096"):
        validate_request("NodePublishVolume", node_publish(target_path="/" + "p" * MAX_PATH_BYTES))
    with pytest.raises(InvalidArgumentError, match="target_path 'rel/path' is not absolute"):
        validate_request("NodePublishVolume", node_publish(target_path="rel/path"))
    with pytest.raises(InvalidArgumentError, match="NUL"):
        validate_request("NodePublishVolume", node_publish(target_path="/a\x00b"))


def test_a_missing_staging_path_is_a_failed_precondition_for_plugins_that_stage() -> None:
    unstaged = node_publish(staging_target_path="")
    validate_request("NodePublishVolume", unstaged, stages_volumes=False)
    with pytest.raises(ConflictError, match="advertises STAGE_UNSTAGE_VOLUME"):
        validate_request("NodePublishVolume", unstaged, stages_volumes=True)


def test_maps_are_limited_to_4_kib_of_keys_and_values() -> None:
    fits = {"k": "v" * (MAX_MAP_BYTES - 1)}
    validate_request("ControllerPublishVolume", publish(volume_context=fits))
    with pytest.raises(InvalidArgumentError, match="volume_context holds 4097 bytes"):
        validate_request("ControllerPublishVolume", publish(volume_context={"k": "v" * 4096}))


def test_capability_parts_and_ranges() -> None:
    long_flag = mount_capability()
    long_flag.mount.mount_flags.append("f" * 129)
    with pytest.raises(InvalidArgumentError, match=r"mount_flags\[0\] is 129 bytes"):
        validate_request("ControllerPublishVolume", publish(volume_capability=long_flag))
    unknown_mode = mount_capability(pb.VolumeCapability.AccessMode.UNKNOWN)
    with pytest.raises(InvalidArgumentError, match="access_mode is required"):
        validate_request("ControllerPublishVolume", publish(volume_capability=unknown_mode))
    negative = pb.CreateVolumeRequest(
        name="v",
        volume_capabilities=[mount_capability()],
        capacity_range=pb.CapacityRange(required_bytes=-1),
    )
    with pytest.raises(InvalidArgumentError, match="negative size"):
        validate_request("CreateVolume", negative)
    with pytest.raises(InvalidArgumentError, match="max_entries is -1"):
        validate_request("ListVolumes", pb.ListVolumesRequest(max_entries=-1))


def test_optional_fields_may_be_empty() -> None:
    validate_request(
        "ControllerUnpublishVolume", pb.ControllerUnpublishVolumeRequest(volume_id="v")
    )
    validate_request("ListVolumes", pb.ListVolumesRequest())
    validate_request("GetCapacity", pb.GetCapacityRequest())
    validate_request("Probe", pb.ProbeRequest())
    validate_request(
        "NodeGetVolumeStats", pb.NodeGetVolumeStatsRequest(volume_id="v", volume_path="/p")
    )
