"""The generated CRI descriptors carry the wire facts peers depend on: package, services, RPC
names and message field names, numbers and types (a wrong number silently garbles a field)."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from kcore.interfaces.cri import IMAGE_SERVICE, RPCS, RUNTIME_SERVICE, api


def fields(message: type) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}  # type: ignore[attr-defined]


def test_package_services_and_rpcs() -> None:
    assert api.DESCRIPTOR.package == "runtime.v1"
    services = api.DESCRIPTOR.services_by_name
    assert {s.full_name for s in services.values()} == {RUNTIME_SERVICE, IMAGE_SERVICE}
    assert {m.name for m in services["RuntimeService"].methods} == {
        "Version", "Status", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox",
        "PodSandboxStatus", "ListPodSandbox", "CreateContainer", "StartContainer",
        "StopContainer", "RemoveContainer", "ListContainers", "ContainerStatus", "ExecSync",
    }  # fmt: skip
    assert {m.name for m in services["ImageService"].methods} == {
        "ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo",
    }  # fmt: skip
    paths = {rpc.path for rpc in RPCS}
    assert "/runtime.v1.RuntimeService/RunPodSandbox" in paths
    assert "/runtime.v1.ImageService/PullImage" in paths
    for rpc in RPCS:
        method = services[rpc.service.rpartition(".")[2]].methods_by_name[rpc.name]
        assert rpc.request.DESCRIPTOR is method.input_type
        assert rpc.response.DESCRIPTOR is method.output_type


def test_key_message_numbers() -> None:
    assert fields(api.VersionResponse) == {
        "version": 1, "runtime_name": 2, "runtime_version": 3, "runtime_api_version": 4,
    }  # fmt: skip
    assert fields(api.PodSandboxMetadata) == {"name": 1, "uid": 2, "namespace": 3, "attempt": 4}
    assert fields(api.PodSandboxConfig) == {
        "metadata": 1, "hostname": 2, "log_directory": 3, "dns_config": 4,
        "port_mappings": 5, "labels": 6, "annotations": 7, "linux": 8, "windows": 9,
    }  # fmt: skip
    assert fields(api.PodSandboxStatus)["runtime_handler"] == 9
    assert fields(api.PodSandboxStatusResponse) == {
        "status": 1, "info": 2, "containers_statuses": 3, "timestamp": 4,
    }  # fmt: skip
    assert fields(api.Container) == {
        "id": 1, "pod_sandbox_id": 2, "metadata": 3, "image": 4, "image_ref": 5, "state": 6,
        "created_at": 7, "labels": 8, "annotations": 9, "image_id": 10,
    }  # fmt: skip
    status = fields(api.ContainerStatus)
    assert (status["image"], status["image_ref"], status["image_id"], status["stop_signal"]) == (
        8, 9, 17, 19,
    )  # fmt: skip
    config = fields(api.ContainerConfig)
    assert (config["envs"], config["linux"], config["CDI_devices"], config["stop_signal"]) == (
        6, 15, 17, 18,
    )  # fmt: skip
    assert fields(api.ImageSpec) == {
        "image": 1, "annotations": 2, "user_specified_image": 18, "runtime_handler": 19,
        "image_ref": 20,
    }  # fmt: skip
    assert fields(api.Mount)["uidMappings"] == 6 and fields(api.Mount)["mount_options"] == 11
    security = fields(api.LinuxContainerSecurityContext)
    assert (security["run_as_group"], security["supplemental_groups_policy"]) == (12, 17)
    sandbox_security = fields(api.LinuxSandboxSecurityContext)
    assert (sandbox_security["run_as_group"], sandbox_security["seccomp"]) == (8, 9)
    assert fields(api.Namespace) == {"options": 2}
    assert fields(api.ExecSyncResponse) == {"stdout": 1, "stderr": 2, "exit_code": 3}
    assert fields(api.FilesystemUsage) == {
        "timestamp": 1, "fs_id": 2, "used_bytes": 3, "inodes_used": 4,
    }  # fmt: skip


def test_types_that_matter_on_the_wire() -> None:
    value = api.KeyValue.DESCRIPTOR.fields_by_name["value"]
    assert value.type == FieldDescriptor.TYPE_BYTES  # same wire type as upstream's string
    created = api.PodSandbox.DESCRIPTOR.fields_by_name["created_at"]
    assert created.type == FieldDescriptor.TYPE_INT64
    attempt = api.ContainerMetadata.DESCRIPTOR.fields_by_name["attempt"]
    assert attempt.type == FieldDescriptor.TYPE_UINT32
    size = api.Image.DESCRIPTOR.fields_by_name["size"]
    assert size.type == FieldDescriptor.TYPE_UINT64
    labels = api.PodSandboxFilter.DESCRIPTOR.fields_by_name["label_selector"]
    assert labels.message_type.GetOptions().map_entry


def test_enum_values() -> None:
    assert dict(api.ContainerState.items()) == {
        "CONTAINER_CREATED": 0, "CONTAINER_RUNNING": 1, "CONTAINER_EXITED": 2,
        "CONTAINER_UNKNOWN": 3,
    }  # fmt: skip
    assert dict(api.PodSandboxState.items()) == {"SANDBOX_READY": 0, "SANDBOX_NOTREADY": 1}
    assert dict(api.NamespaceMode.items()) == {"POD": 0, "CONTAINER": 1, "NODE": 2, "TARGET": 3}
    assert api.Signal.Value("SIGNAL_SIGTERM") == 23
    assert api.Signal.Value("SIGNAL_SIGRTMAX") == 65
    assert dict(api.SecurityProfile.ProfileType.items()) == {
        "RuntimeDefault": 0, "Unconfined": 1, "Localhost": 2,
    }  # fmt: skip


def test_known_bytes_decode() -> None:
    """A VersionResponse as a Go peer encodes it (fields 1-4, length-delimited) decodes here."""
    encoded = b"\x0a\x050.1.0\x12\x0acontainerd\x1a\x061.6.20\x22\x02v1"
    response = api.VersionResponse.FromString(encoded)
    assert (response.version, response.runtime_name) == ("0.1.0", "containerd")
    assert (response.runtime_version, response.runtime_api_version) == ("1.6.20", "v1")
    assert response.SerializeToString() == encoded
