"""kcore's csi.proto matches the CSI spec's wire format: names, numbers, paths, encodings.

The expected values are the facts of the wire (WIRE-FACTS.md); a renumbered field or a renamed
service would make kubelet and the CSI sidecars misread kcore, so each is pinned here.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import wrappers_pb2

from kcore.interfaces.csi import pb
from kcore.interfaces.csi._rpcs import RPCS


def fields(message: Any) -> dict[str, int]:
    """Field name -> number of a message descriptor (python or upb flavour)."""
    return {f.name: f.number for f in message.fields}


def test_package_services_and_method_paths() -> None:
    services = pb.DESCRIPTOR.services_by_name
    assert pb.DESCRIPTOR.package == "csi.v1"
    assert {name: [m.name for m in s.methods] for name, s in services.items()} == {
        "Identity": ["GetPluginInfo", "GetPluginCapabilities", "Probe"],
        "Controller": [
            "CreateVolume",
            "DeleteVolume",
            "ControllerPublishVolume",
            "ControllerUnpublishVolume",
            "ValidateVolumeCapabilities",
            "ListVolumes",
            "GetCapacity",
            "ControllerGetCapabilities",
        ],
        "Node": [
            "NodeStageVolume",
            "NodeUnstageVolume",
            "NodePublishVolume",
            "NodeUnpublishVolume",
            "NodeGetVolumeStats",
            "NodeGetCapabilities",
            "NodeGetInfo",
        ],
    }
    # The client and server table agrees with the proto, types included.
    for rpc in RPCS:
        method = services[rpc.service].methods_by_name[rpc.name]
        assert method.input_type.full_name == rpc.request.DESCRIPTOR.full_name
        assert method.output_type.full_name == rpc.response.DESCRIPTOR.full_name
    assert len(RPCS) == sum(len(s.methods) for s in services.values())
    assert RPCS[3].path == "/csi.v1.Controller/CreateVolume"


def test_volume_and_create_volume_fields() -> None:
    assert pb.CreateVolumeRequest.DESCRIPTOR.full_name == "csi.v1.CreateVolumeRequest"
    assert fields(pb.CreateVolumeRequest.DESCRIPTOR) == {
        "name": 1,
        "capacity_range": 2,
        "volume_capabilities": 3,
        "parameters": 4,
        "secrets": 5,
        "volume_content_source": 6,
        "accessibility_requirements": 7,
        "mutable_parameters": 8,
    }
    assert fields(pb.Volume.DESCRIPTOR) == {
        "capacity_bytes": 1,
        "volume_id": 2,
        "volume_context": 3,
        "content_source": 4,
        "accessible_topology": 5,
    }
    assert fields(pb.CapacityRange.DESCRIPTOR) == {"required_bytes": 1, "limit_bytes": 2}
    source = pb.VolumeContentSource.DESCRIPTOR
    assert fields(source) == {"snapshot": 1, "volume": 2}
    assert [f.name for f in source.oneofs_by_name["type"].fields] == ["snapshot", "volume"]


def test_volume_capability_fields_and_access_modes() -> None:
    cap = pb.VolumeCapability.DESCRIPTOR
    assert fields(cap) == {"block": 1, "mount": 2, "access_mode": 3}
    assert [f.name for f in cap.oneofs_by_name["access_type"].fields] == ["block", "mount"]
    assert fields(pb.VolumeCapability.MountVolume.DESCRIPTOR) == {
        "fs_type": 1,
        "mount_flags": 2,
        "volume_mount_group": 3,
    }
    modes = pb.VolumeCapability.AccessMode.Mode
    assert dict(modes.items()) == {
        "UNKNOWN": 0,
        "SINGLE_NODE_WRITER": 1,
        "SINGLE_NODE_READER_ONLY": 2,
        "MULTI_NODE_READER_ONLY": 3,
        "MULTI_NODE_SINGLE_WRITER": 4,
        "MULTI_NODE_MULTI_WRITER": 5,
        "SINGLE_NODE_SINGLE_WRITER": 6,
        "SINGLE_NODE_MULTI_WRITER": 7,
    }


def test_node_messages() -> None:
    assert fields(pb.NodePublishVolumeRequest.DESCRIPTOR) == {
        "volume_id": 1,
        "publish_context": 2,
        "staging_target_path": 3,
        "target_path": 4,
        "volume_capability": 5,
        "readonly": 6,
        "secrets": 7,
        "volume_context": 8,
    }
    assert fields(pb.NodeStageVolumeRequest.DESCRIPTOR) == {
        "volume_id": 1,
        "publish_context": 2,
        "staging_target_path": 3,
        "volume_capability": 4,
        "secrets": 5,
        "volume_context": 6,
    }
    assert fields(pb.NodeGetVolumeStatsRequest.DESCRIPTOR) == {
        "volume_id": 1,
        "volume_path": 2,
        "staging_target_path": 3,
    }
    assert fields(pb.VolumeUsage.DESCRIPTOR) == {"available": 1, "total": 2, "used": 3, "unit": 4}
    assert fields(pb.NodeGetInfoResponse.DESCRIPTOR) == {
        "node_id": 1,
        "max_volumes_per_node": 2,
        "accessible_topology": 3,
    }
    node_rpc = pb.NodeServiceCapability.RPC
    assert node_rpc.STAGE_UNSTAGE_VOLUME == 1
    assert node_rpc.GET_VOLUME_STATS == 2
    assert node_rpc.VOLUME_MOUNT_GROUP == 6


def test_controller_listing_and_capabilities() -> None:
    assert fields(pb.ListVolumesRequest.DESCRIPTOR) == {"max_entries": 1, "starting_token": 2}
    assert fields(pb.ListVolumesResponse.DESCRIPTOR) == {"entries": 1, "next_token": 2}
    assert fields(pb.ListVolumesResponse.Entry.DESCRIPTOR) == {"volume": 1, "status": 2}
    assert fields(pb.ListVolumesResponse.VolumeStatus.DESCRIPTOR) == {
        "published_node_ids": 1,
        "volume_condition": 2,
    }
    assert fields(pb.ControllerPublishVolumeRequest.DESCRIPTOR) == {
        "volume_id": 1,
        "node_id": 2,
        "volume_capability": 3,
        "readonly": 4,
        "secrets": 5,
        "volume_context": 6,
    }
    ctrl = pb.ControllerServiceCapability.RPC
    assert (ctrl.CREATE_DELETE_VOLUME, ctrl.PUBLISH_UNPUBLISH_VOLUME, ctrl.LIST_VOLUMES) == (
        1,
        2,
        3,
    )
    assert (ctrl.CLONE_VOLUME, ctrl.LIST_VOLUMES_PUBLISHED_NODES, ctrl.GET_SNAPSHOT) == (7, 10, 15)
    plugin = pb.PluginCapability.Service
    assert plugin.CONTROLLER_SERVICE == 1
    assert plugin.VOLUME_ACCESSIBILITY_CONSTRAINTS == 2


def test_wrappers_are_protobufs_well_known_types() -> None:
    """ProbeResponse.ready and GetCapacity's sizes are google.protobuf wrappers, as upstream."""
    ready_field = pb.ProbeResponse.DESCRIPTOR.fields_by_name["ready"]
    assert ready_field.message_type.full_name == "google.protobuf.BoolValue"
    size_field = pb.GetCapacityResponse.DESCRIPTOR.fields_by_name["maximum_volume_size"]
    assert size_field.message_type.full_name == "google.protobuf.Int64Value"
    ready = pb.ProbeResponse(ready=wrappers_pb2.BoolValue(value=True)).SerializeToString()
    inner = wrappers_pb2.BoolValue(value=True).SerializeToString()
    assert ready == b"\x0a" + bytes([len(inner)]) + inner
    size = pb.GetCapacityResponse(
        available_capacity=7, maximum_volume_size=wrappers_pb2.Int64Value(value=1 << 40)
    ).SerializeToString()
    inner = wrappers_pb2.Int64Value(value=1 << 40).SerializeToString()
    assert size == b"\x08\x07" + b"\x12" + bytes([len(inner)]) + inner
    # A peer saying "not ready" sends an empty BoolValue: present, and false (absent = ready).
    not_ready = pb.ProbeResponse.FromString(
        b"\x0a" + bytes([len(b"")]) + wrappers_pb2.BoolValue(value=False).SerializeToString()
    )
    assert not_ready.HasField("ready") and not not_ready.ready.value
    assert not pb.ProbeResponse.FromString(b"").HasField("ready")
