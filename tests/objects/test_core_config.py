"""Namespace, ConfigMap, Secret and Event: defaults, validation, wire format, field selectors."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kcore.objects import apply_defaults, from_dict, from_yaml, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.core_config import MAX_SECRET_SIZE, ConfigMap, Event, Namespace, Secret
from kcore.objects.registry import info_for


def make(kind: str, body: dict[str, Any], **meta: Any) -> Any:
    metadata = {"name": "thing", **meta}
    return from_dict({"apiVersion": "v1", "kind": kind, "metadata": metadata, **body})


def has_problem(obj: Any, path: str, text: str) -> bool:
    return any(c.path == path and text in c.detail for c in problems_of(obj))


def problems(obj: Any) -> list[str]:
    return [str(c) for c in problems_of(obj)]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- Namespace -------------------------------------------------------------------------------


def test_namespace_is_cluster_scoped_with_status() -> None:
    info = info_for(Namespace)
    assert (info.namespaced, info.has_status, info.plural, info.short_names) == (
        False,
        True,
        "namespaces",
        ("ns",),
    )


def test_namespace_defaults_name_label_and_active_phase() -> None:
    ns = make("Namespace", {}, name="team-a", labels={"owner": "me"})
    defaulted = apply_defaults(ns)
    assert defaulted.metadata.labels == {"owner": "me", "kubernetes.io/metadata.name": "team-a"}
    assert defaulted.status.phase == "Active"
    assert apply_defaults(defaulted) is defaulted


def test_namespace_name_label_is_corrected_and_phase_kept() -> None:
    ns = make(
        "Namespace",
        {"status": {"phase": "Terminating"}},
        name="team-a",
        labels={"kubernetes.io/metadata.name": "other"},
    )
    defaulted = apply_defaults(ns)
    assert defaulted.metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    assert defaulted.status.phase == "Terminating"


def test_generated_namespace_gets_no_name_label_yet() -> None:
    ns = from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"generateName": "ci-"}})
    assert dict(apply_defaults(ns).metadata.labels) == {}


@pytest.mark.parametrize(
    ("name", "finalizers", "path", "text"),
    [
        ("a.b", [], "metadata.name", "must not contain dots"),
        ("A", [], "metadata.name", "RFC 1123 label"),
        ("ok", ["cleanup"], "spec.finalizers[0]", "neither a standard finalizer name"),
        ("ok", ["example.com/a b"], "spec.finalizers[0]", "name part must consist"),
    ],
)
def test_invalid_namespaces(name: str, finalizers: list[str], path: str, text: str) -> None:
    ns = make("Namespace", {"spec": {"finalizers": finalizers}}, name=name)
    assert has_problem(ns, path, text), problems(ns)


def test_valid_namespace_finalizers() -> None:
    ns = make("Namespace", {"spec": {"finalizers": ["kubernetes", "example.com/cleanup"]}})
    assert problems(ns) == []


def test_namespace_selectable_fields() -> None:
    ns = apply_defaults(make("Namespace", {}, name="team-a"))
    assert fields_of(ns, ["status.phase", "name", "metadata.name"]) == {
        "status.phase": "Active",
        "name": "team-a",
        "metadata.name": "team-a",
    }


# --- ConfigMap -------------------------------------------------------------------------------


def test_config_map_round_trips_binary_data_as_base64() -> None:
    cm = make("ConfigMap", {"binaryData": {"blob": b64("\x00\x01binary")}, "data": {"a": "1"}})
    assert cm.binary_data["blob"] == b"\x00\x01binary"
    assert to_dict(cm)["binaryData"] == {"blob": b64("\x00\x01binary")}


def test_config_map_size_limit_counts_data_and_binary_data_together() -> None:
    half = MAX_SECRET_SIZE // 2
    at_limit = make(
        "ConfigMap",
        {"data": {"a": "x" * half}, "binaryData": {"b": b64("y" * (MAX_SECRET_SIZE - half))}},
    )
    assert problems(at_limit) == []
    over = make(
        "ConfigMap",
        {"data": {"a": "x" * half}, "binaryData": {"b": b64("y" * (MAX_SECRET_SIZE - half + 1))}},
    )
    assert has_problem(over, "<document>", f"may not be more than {MAX_SECRET_SIZE} bytes")


def test_config_map_size_counts_utf8_bytes() -> None:
    # 349,526 three-byte characters are 1,048,578 bytes: over the limit though fewer chars.
    cm = make("ConfigMap", {"data": {"a": "€" * (MAX_SECRET_SIZE // 3 + 1)}})
    assert has_problem(cm, "<document>", "Too long")


@pytest.mark.parametrize(
    ("body", "path", "text"),
    [
        ({"data": {"a/b": ""}}, "data[a/b]", "a valid config key must consist"),
        ({"data": {".": ""}}, "data[.]", "must not be '.'"),
        ({"binaryData": {"..x": ""}}, "binaryData[..x]", "must not start with '..'"),
        (
            {"data": {"k": "v"}, "binaryData": {"k": ""}},
            "data[k]",
            "duplicate of key present in binaryData",
        ),
    ],
)
def test_invalid_config_maps(body: dict[str, Any], path: str, text: str) -> None:
    cm = make("ConfigMap", body)
    assert has_problem(cm, path, text), problems(cm)


def test_config_map_and_secret_have_no_status_and_config_maps_no_selectable_extras() -> None:
    assert info_for(ConfigMap).has_status is False
    assert info_for(Secret).has_status is False
    assert sorted(fields_of(make("ConfigMap", {}))) == ["metadata.name", "metadata.namespace"]


# --- Secret ----------------------------------------------------------------------------------


def test_secret_type_defaults_to_opaque() -> None:
    secret = make("Secret", {"data": {"a": b64("1")}})
    defaulted = apply_defaults(secret)
    assert defaulted.type == "Opaque"
    assert apply_defaults(defaulted) is defaulted
    typed = make("Secret", {"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}})
    assert apply_defaults(typed) is typed


def test_string_data_is_merged_into_data_and_wins() -> None:
    secret = make(
        "Secret",
        {"data": {"user": b64("old"), "keep": b64("k")}, "stringData": {"user": "new", "pw": "é"}},
    )
    defaulted = apply_defaults(secret)
    assert dict(defaulted.data) == {"user": b"new", "keep": b"k", "pw": "é".encode()}
    assert dict(defaulted.string_data) == {}
    assert "stringData" not in to_dict(defaulted)
    assert to_dict(defaulted)["data"]["user"] == b64("new")


def test_secret_data_decodes_from_base64_and_encodes_back() -> None:
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {token: " + b64("t0k") + "}\n"
    (secret,) = from_yaml(text)
    assert secret.data["token"] == b"t0k"
    assert to_dict(secret)["data"] == {"token": b64("t0k")}


@pytest.mark.parametrize(
    ("body", "annotations"),
    [
        ({"type": "Opaque"}, {}),
        ({"type": "example.com/custom"}, {}),  # unknown types are not checked
        ({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "c", "tls.key": "k"}}, {}),
        ({"type": "kubernetes.io/basic-auth", "stringData": {"password": ""}}, {}),
        ({"type": "kubernetes.io/ssh-auth", "stringData": {"ssh-privatekey": "k"}}, {}),
        ({"type": "kubernetes.io/dockercfg", "stringData": {".dockercfg": "{}"}}, {}),
        (
            {
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": b64(json.dumps({"auths": {}}))},
            },
            {},
        ),
        (
            {"type": "kubernetes.io/service-account-token"},
            {"kubernetes.io/service-account.name": "builder"},
        ),
    ],
)
def test_valid_secrets(body: dict[str, Any], annotations: dict[str, str]) -> None:
    secret = make("Secret", body, annotations=annotations)
    assert problems(secret) == []
    assert problems(apply_defaults(secret)) == []


@pytest.mark.parametrize(
    ("body", "path", "text"),
    [
        ({"type": "kubernetes.io/tls", "data": {"tls.key": ""}}, "data[tls.crt]", "Required"),
        ({"type": "kubernetes.io/basic-auth"}, "data[username]", "Required value"),
        ({"type": "kubernetes.io/ssh-auth"}, "data[ssh-privatekey]", "Required value"),
        (
            {"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": ""}},
            "data[ssh-privatekey]",
            "Required value",
        ),
        ({"type": "kubernetes.io/dockercfg"}, "data[.dockercfg]", "Required value"),
        (
            {"type": "kubernetes.io/dockercfg", "stringData": {".dockercfg": "{nope"}},
            "data[.dockercfg]",
            '"<secret contents redacted>": must be well-formed JSON',
        ),
        (
            {"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "1"}},
            "data[.dockerconfigjson]",
            "must be a JSON object",
        ),
        (
            {"type": "kubernetes.io/service-account-token"},
            "metadata.annotations[kubernetes.io/service-account.name]",
            "Required value",
        ),
        ({"data": {"a b": ""}}, "data[a b]", "a valid config key"),
        ({"stringData": {"a b": ""}}, "stringData[a b]", "a valid config key"),
    ],
)
def test_invalid_secrets(body: dict[str, Any], path: str, text: str) -> None:
    secret = make("Secret", body)
    assert has_problem(secret, path, text), problems(secret)


def test_secret_contents_never_appear_in_messages() -> None:
    secret = make(
        "Secret",
        {"type": "kubernetes.io/dockercfg", "stringData": {".dockercfg": "hunter2-not-json"}},
    )
    assert problems(secret)
    assert not any("hunter2" in text for text in problems(secret))


def test_secret_size_limit_counts_string_data() -> None:
    fits = make("Secret", {"stringData": {"a": "x" * MAX_SECRET_SIZE}})
    assert problems(fits) == []
    over = make("Secret", {"data": {"b": b64("y")}, "stringData": {"a": "x" * MAX_SECRET_SIZE}})
    assert has_problem(over, "data", f"may not be more than {MAX_SECRET_SIZE} bytes")
    # stringData replacing a data key does not count twice.
    replaced = make("Secret", {"data": {"a": b64("y")}, "stringData": {"a": "x" * MAX_SECRET_SIZE}})
    assert problems(replaced) == []


def test_secret_type_is_selectable() -> None:
    secret = apply_defaults(make("Secret", {}))
    assert fields_of(secret, ["type"]) == {"type": "Opaque"}


# --- Event -----------------------------------------------------------------------------------


def event(body: dict[str, Any], namespace: str = "shop") -> Event:
    return make("Event", body, name="pod.17ca", namespace=namespace)


def test_event_reporting_fields_are_always_written() -> None:
    ev = event({"involvedObject": {"kind": "Pod", "name": "p", "namespace": "shop"}})
    wire = to_dict(ev)
    assert wire["reportingComponent"] == "" and wire["reportingInstance"] == ""
    assert "eventTime" not in wire and "source" not in wire


def test_event_time_keeps_microseconds() -> None:
    ev = event({"eventTime": "2024-05-01T12:00:01.000250Z", "series": {"count": 2}})
    assert to_dict(ev)["eventTime"] == "2024-05-01T12:00:01.000250Z"
    assert ev.event_time is not None and ev.event_time.microsecond == 250


@pytest.mark.parametrize(
    ("body", "namespace"),
    [
        ({"involvedObject": {"kind": "Pod", "name": "p", "namespace": "shop"}}, "shop"),
        ({"involvedObject": {"kind": "Node", "name": "n"}}, "default"),
        ({"involvedObject": {"kind": "Node", "name": "n"}}, ""),  # namespace not yet given
        (
            {
                "eventTime": "2024-05-01T12:00:01.000000Z",
                "involvedObject": {"kind": "Node", "name": "n"},
                "action": "Draining",
                "reason": "NodeDrain",
                "reportingComponent": "example.com/drainer",
                "reportingInstance": "drainer-1",
            },
            "kube-system",
        ),
    ],
)
def test_valid_events(body: dict[str, Any], namespace: str) -> None:
    assert problems(event(body, namespace)) == []


@pytest.mark.parametrize(
    ("body", "namespace", "path", "text"),
    [
        (
            {"involvedObject": {"kind": "Node", "name": "n"}},
            "shop",
            "involvedObject.namespace",
            "does not match event.namespace",
        ),
        (
            {"involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}},
            "shop",
            "involvedObject.namespace",
            'Invalid value: "other": does not match event.namespace',
        ),
        (
            {"eventTime": "2024-05-01T12:00:01.000000Z", "action": "A", "reason": "R"},
            "shop",
            "reportingComponent",
            "Required value",
        ),
        (
            {
                "eventTime": "2024-05-01T12:00:01.000000Z",
                "reportingComponent": "c",
                "reportingInstance": "i" * 129,
                "reason": "R",
                "action": "A",
                "involvedObject": {"namespace": "shop"},
            },
            "shop",
            "reportingInstance",
            "can have at most 128 characters",
        ),
        (
            {
                "eventTime": "2024-05-01T12:00:01.000000Z",
                "reportingComponent": "c",
                "reportingInstance": "i",
                "reason": "R",
                "action": "A",
                "message": "m" * 1025,
                "involvedObject": {"namespace": "shop"},
            },
            "shop",
            "message",
            "can have at most 1024 characters",
        ),
    ],
)
def test_invalid_events(body: dict[str, Any], namespace: str, path: str, text: str) -> None:
    ev = event(body, namespace)
    assert has_problem(ev, path, text), problems(ev)


def test_event_selectable_fields() -> None:
    ev = event(
        {
            "involvedObject": {
                "kind": "Pod",
                "name": "web-1",
                "namespace": "shop",
                "uid": "u-1",
                "apiVersion": "v1",
                "resourceVersion": "42",
                "fieldPath": "spec.containers{web}",
            },
            "reason": "Pulled",
            "source": {"component": "kubelet", "host": "n1"},
            "type": "Normal",
            "reportingComponent": "kubelet",
        }
    )
    assert fields_of(ev) == {
        "metadata.name": "pod.17ca",
        "metadata.namespace": "shop",
        "involvedObject.kind": "Pod",
        "involvedObject.namespace": "shop",
        "involvedObject.name": "web-1",
        "involvedObject.uid": "u-1",
        "involvedObject.apiVersion": "v1",
        "involvedObject.resourceVersion": "42",
        "involvedObject.fieldPath": "spec.containers{web}",
        "reason": "Pulled",
        "reportingComponent": "kubelet",
        "source": "kubelet",
        "type": "Normal",
    }
