"""The codec: wire names, omitempty, strict and lenient decoding, errors with paths, YAML."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from kcore import errors
from kcore.objects import (
    Object,
    field,
    from_dict,
    from_json,
    from_yaml,
    kind,
    struct,
    to_dict,
    to_json,
    to_yaml,
    unknown_fields,
)
from kcore.objects.struct import wire_name


@struct
class Port:
    name: str = ""
    container_port: int = 0
    host_ip: str | None = None
    protocol: str | None = None


@struct
class Source:
    medium: str | None = None


@struct
class GadgetSpec:
    replicas: int | None = None
    paused: bool = False
    ready: bool = field(default=False, omitempty=False)
    ratio: float | None = None
    ports: Sequence[Port] = ()
    args: Sequence[str] = ()
    selector: Mapping[str, str] = {}
    empty_dir: Source | None = None
    target: int | str | None = None
    started: datetime | None = None
    renewed: datetime | None = field(default=None, micro=True)
    blob: bytes | None = None
    data: Mapping[str, bytes] = {}
    raw: Any = None
    pod_cidrs: Sequence[str] = ()
    continue_: str = field(default="", wire="continue")


@struct
class GadgetStatus:
    phase: str = ""


@kind("codec.example.com/v1", "Gadget")
class Gadget(Object):
    spec: GadgetSpec = GadgetSpec()
    status: GadgetStatus = GadgetStatus()


@kind("codec.example.com/v1", "ClusterGadget", namespaced=False, plural="clustergadgets")
class ClusterGadget(Object):
    spec: GadgetSpec = GadgetSpec()


def doc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "codec.example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g", "namespace": "ns"},
        "spec": spec,
    }


def causes(err: errors.InvalidError) -> dict[str, str]:
    return {c.path: c.detail for c in err.causes}


@pytest.mark.parametrize(
    ("attribute", "wire"),
    [
        ("name", "name"),
        ("container_port", "containerPort"),
        ("host_ip", "hostIP"),
        ("pod_ips", "podIPs"),
        ("pod_cidrs", "podCIDRs"),
        ("provider_id", "providerID"),
        ("system_uuid", "systemUUID"),
        ("host_pid", "hostPID"),
        ("host_ipc", "hostIPC"),
        ("uid", "uid"),
        ("api_version", "apiVersion"),
        ("fs_type", "fsType"),
        ("ip_families", "ipFamilies"),
    ],
)
def test_wire_names_follow_kubernetes_spelling(attribute: str, wire: str) -> None:
    assert wire_name(attribute) == wire


def test_round_trip_of_every_field_shape() -> None:
    d = doc(
        replicas=0,
        paused=True,
        ready=False,
        ratio=0.5,
        ports=[{"name": "http", "containerPort": 80, "hostIP": "10.0.0.1", "protocol": "TCP"}],
        args=["--flag", "x"],
        selector={"app": "web"},
        emptyDir={},
        target="25%",
        started="2024-05-01T12:00:00Z",
        renewed="2024-05-01T12:00:00.123456Z",
        blob="aGVsbG8=",
        data={"k": "d29ybGQ="},
        raw={"nested": [1, {"a": None}], "s": "x"},
        podCIDRs=["10.0.0.0/24"],
        **{"continue": "token"},
    )
    obj = from_dict(d)
    assert isinstance(obj, Gadget)
    assert obj.spec.replicas == 0
    assert obj.spec.ports[0].host_ip == "10.0.0.1"
    assert obj.spec.empty_dir == Source()
    assert obj.spec.started == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert obj.spec.renewed is not None and obj.spec.renewed.microsecond == 123456
    assert obj.spec.blob == b"hello" and obj.spec.data["k"] == b"world"
    assert obj.spec.continue_ == "token"
    assert to_dict(obj) == d
    assert from_json(to_json(obj)) == obj
    assert from_yaml(to_yaml(obj)) == [obj]


def test_empty_fields_are_left_out_but_explicit_values_and_empty_structs_stay() -> None:
    obj = from_dict(doc())
    out = to_dict(obj)
    # ``ready`` has no omitempty (as ContainerStatus.ready in Kubernetes); everything else is empty
    assert out["spec"] == {"ready": False}
    assert "status" not in out
    assert out["metadata"] == {"name": "g", "namespace": "ns"}
    assert to_dict(from_dict(doc(replicas=0, emptyDir={})))["spec"]["replicas"] == 0
    assert to_dict(from_dict(doc(emptyDir={})))["spec"]["emptyDir"] == {}


def test_null_reads_as_unset() -> None:
    obj = from_dict(doc(replicas=None, ports=None, emptyDir=None))
    assert obj.spec.replicas is None and obj.spec.ports == () and obj.spec.empty_dir is None
    meta = from_dict({**doc(), "metadata": {"name": "g", "creationTimestamp": None}}).metadata
    assert meta.creation_timestamp is None


def test_strict_decoding_names_every_unknown_field_by_path() -> None:
    d = doc(ports=[{"containerPort": 80, "hostPot": 1}], bogus=1)
    d["extra"] = True
    with pytest.raises(errors.DecodeError) as caught:
        from_dict(d)
    found = causes(caught.value)
    assert found == {
        "spec.ports[0].hostPot": 'unknown field "hostPot"',
        "spec.bogus": 'unknown field "bogus"',
        "extra": 'unknown field "extra"',
    }
    assert all(c.reason == "FieldValueUnknown" for c in caught.value.causes)
    assert caught.value.code == 400


def test_lenient_decoding_keeps_unknown_fields_and_writes_them_back() -> None:
    d = doc(ports=[{"containerPort": 80, "future": {"x": [1, 2]}}], ready=False, newKnob="on")
    d["x-extension"] = {"a": 1}
    obj = from_dict(d, strict=False)
    assert unknown_fields(obj.spec) == {"newKnob": "on"}
    assert to_dict(obj) == d
    assert from_dict(json.loads(to_json(obj)), strict=False) == obj


def test_every_type_error_is_reported_at_once_with_its_path() -> None:
    d = doc(
        replicas="3",
        paused="yes",
        ratio="half",
        ports=[{"containerPort": "80"}, 7, {"containerPort": True}],
        args="not-a-list",
        selector={"app": 1},
        target=1.5,
        started="yesterday",
        blob="!!!",
        emptyDir=[],
    )
    with pytest.raises(errors.DecodeError) as caught:
        from_dict(d)
    found = causes(caught.value)
    assert found["spec.replicas"] == "expected integer, got string '3'"
    assert found["spec.paused"].startswith("expected boolean")
    assert found["spec.ratio"].startswith("expected number")
    assert found["spec.ports[0].containerPort"].startswith("expected integer")
    assert found["spec.ports[1]"].startswith("expected an object")
    assert found["spec.ports[2].containerPort"] == "expected integer, got boolean True"
    assert found["spec.args"].startswith("expected an array")
    assert found["spec.selector[app]"].startswith("expected string")
    assert found["spec.target"].startswith("expected an integer or a string")
    assert "RFC 3339" in found["spec.started"]
    assert "base64" in found["spec.blob"]
    assert found["spec.emptyDir"].startswith("expected an object")
    assert len(found) == 12
    assert "12 problems" in str(caught.value)


def test_type_and_kind_are_required_and_must_be_registered() -> None:
    with pytest.raises(errors.DecodeError) as caught:
        from_dict({"metadata": {"name": "x"}})
    assert set(causes(caught.value)) == {"apiVersion", "kind"}
    with pytest.raises(errors.DecodeError, match='no kind "Gadget" is registered in "v9"'):
        from_dict({**doc(), "apiVersion": "v9"})
    with pytest.raises(errors.DecodeError, match='no kind "Nope"'):
        from_dict({**doc(), "kind": "Nope"})
    with pytest.raises(errors.DecodeError, match="expected an object"):
        from_dict(["not", "a", "mapping"])


def test_explicit_class_checks_type_fields_when_present() -> None:
    assert from_dict({"metadata": {"name": "g"}}, Gadget).metadata.name == "g"
    with pytest.raises(errors.DecodeError, match="is not a Gadget"):
        from_dict({"apiVersion": "v1", "kind": "Pod"}, Gadget)


def test_malformed_json_and_yaml_say_where() -> None:
    with pytest.raises(errors.DecodeError, match="malformed JSON"):
        from_json(b'{"apiVersion": ')
    with pytest.raises(errors.DecodeError, match="malformed YAML at line 4, column 1"):
        from_yaml("apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n")


def test_yaml_multi_document_lists_and_problems_in_several_documents() -> None:
    text = "\n---\n".join(
        [
            "apiVersion: codec.example.com/v1\nkind: Gadget\nmetadata: {name: a}",
            "",  # an empty document is skipped
            "apiVersion: v1\nkind: List\nitems:\n"
            "- {apiVersion: codec.example.com/v1, kind: Gadget, metadata: {name: b}}\n"
            "- {apiVersion: codec.example.com/v1, kind: ClusterGadget, metadata: {name: c}}",
        ]
    )
    objs = from_yaml(text)
    assert [o.metadata.name for o in objs] == ["a", "b", "c"]
    assert isinstance(objs[2], ClusterGadget)
    bad = (
        "apiVersion: codec.example.com/v1\nkind: Gadget\nmetadata: {name: a}\nspec: {replicas: x}\n"
        "---\napiVersion: codec.example.com/v1\nkind: Gadget\nmetadata: {name: b, bogus: 1}\n"
    )
    with pytest.raises(errors.DecodeError) as caught:
        from_yaml(bad)
    details = [str(c) for c in caught.value.causes]
    assert details[0].startswith('spec.replicas: document 1 (Gadget "a")')
    assert details[1].startswith('metadata.bogus: document 2 (Gadget "b")')


def test_yaml_unquoted_timestamps_and_numbers() -> None:
    text = (
        "apiVersion: codec.example.com/v1\nkind: Gadget\nmetadata:\n  name: a\n"
        "  creationTimestamp: 2024-05-01T12:00:00Z\nspec:\n  started: 2024-05-01T12:00:00Z\n"
    )
    (obj,) = from_yaml(text)
    assert obj.spec.started == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert obj.metadata.creation_timestamp == obj.spec.started
    assert to_dict(obj)["spec"]["started"] == "2024-05-01T12:00:00Z"


def test_a_10_megabyte_annotation_decodes_and_fails_validation_cleanly() -> None:
    from kcore.objects import validate

    d = doc()
    d["metadata"]["annotations"] = {"big": "x" * (10 * 1024 * 1024)}
    obj = from_dict(d)
    with pytest.raises(errors.InvalidError) as caught:
        validate(obj)
    assert [c.path for c in caught.value.causes] == ["metadata.annotations"]
    assert caught.value.causes[0].detail.startswith("Too long")


def test_cluster_scoped_kind_refuses_a_namespace_in_validation() -> None:
    from kcore.objects import validate

    obj = from_dict(
        {"apiVersion": "codec.example.com/v1", "kind": "ClusterGadget", "metadata": {"name": "c"}}
    )
    validate(obj)
    with pytest.raises(errors.InvalidError, match=r"metadata\.namespace: Forbidden"):
        validate(from_dict({**to_dict(obj), "metadata": {"name": "c", "namespace": "x"}}))


def test_an_empty_struct_spelled_out_is_written_back_but_a_default_one_is_not() -> None:
    spelled = {**doc(), "status": {}}
    assert to_dict(from_dict(spelled))["status"] == {}
    assert "status" not in to_dict(from_dict(doc()))
    assert "status" not in to_dict(Gadget())
    assert from_dict(spelled) == from_dict(doc())  # equal either way; only the wire differs
