"""Node: wire format as kube-apiserver writes it, defaults, validation, selectable fields."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.objects import apply_defaults, from_dict, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.core_node import Node
from kcore.objects.kinds.core_pod_scheduling import Taint
from kcore.objects.quantity import Quantity
from kcore.objects.registry import info_for


def node(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> Node:
    data: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    if spec is not None:
        data["spec"] = spec
    if status is not None:
        data["status"] = status
    return from_dict(data)


def has_problem(obj: Any, path: str, text: str) -> bool:
    return any(c.path == path and text in c.detail for c in problems_of(obj))


def problems(obj: Any) -> list[str]:
    return [str(c) for c in problems_of(obj)]


def test_node_is_cluster_scoped() -> None:
    info = info_for(Node)
    assert (info.namespaced, info.plural, info.short_names, info.has_status) == (
        False,
        "nodes",
        ("no",),
        True,
    )


# --- wire format -----------------------------------------------------------------------------


def test_wire_names_with_acronyms() -> None:
    n = node(
        {"podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24"], "providerID": "aws:///i-1"},
        {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "osImage": "o"},
        },
    )
    assert n.spec.pod_cidr == "10.0.0.0/24" and n.spec.pod_cidrs == ("10.0.0.0/24",)
    assert n.spec.provider_id == "aws:///i-1"
    assert n.status.daemon_endpoints.kubelet_endpoint.port == 10250
    info = n.status.node_info
    assert (info.machine_id, info.system_uuid, info.boot_id, info.os_image) == ("m", "s", "b", "o")


def test_unreported_node_writes_empty_node_info_like_kube_apiserver() -> None:
    # Go value fields without omitempty: a node no kubelet reported on still shows them.
    status = to_dict(node())["status"]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert status["nodeInfo"] == {
        "machineID": "",
        "systemUUID": "",
        "bootID": "",
        "kernelVersion": "",
        "osImage": "",
        "containerRuntimeVersion": "",
        "kubeletVersion": "",
        "kubeProxyVersion": "",
        "operatingSystem": "",
        "architecture": "",
    }


def test_attached_csi_volume_keeps_its_empty_device_path() -> None:
    n = node(status={"volumesAttached": [{"name": "kubernetes.io/csi/x^1", "devicePath": ""}]})
    assert to_dict(n)["status"]["volumesAttached"] == [
        {"name": "kubernetes.io/csi/x^1", "devicePath": ""}
    ]


def test_taints_are_the_shared_scheduling_type() -> None:
    n = node({"taints": [{"key": "k", "effect": "NoSchedule"}]})
    assert isinstance(n.spec.taints[0], Taint)
    assert to_dict(n)["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]


def test_capacity_is_quantities() -> None:
    n = node(status={"capacity": {"cpu": "3800m", "memory": "8005624Ki"}})
    assert n.status.capacity["cpu"] == Quantity("3.8")
    assert to_dict(n)["status"]["capacity"] == {"cpu": "3800m", "memory": "8005624Ki"}


# --- defaults --------------------------------------------------------------------------------


def test_allocatable_defaults_to_capacity() -> None:
    n = apply_defaults(node(status={"capacity": {"cpu": "4", "pods": "110"}}))
    assert dict(n.status.allocatable) == {"cpu": Quantity("4"), "pods": Quantity("110")}
    assert apply_defaults(n) is n


def test_reported_allocatable_is_kept() -> None:
    n = node(status={"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3500m"}})
    assert apply_defaults(n) is n


@pytest.mark.parametrize(
    ("spec", "pod_cidr", "pod_cidrs"),
    [
        ({"podCIDR": "10.0.1.0/24"}, "10.0.1.0/24", ("10.0.1.0/24",)),
        ({"podCIDRs": ["10.0.1.0/24", "fd00::/64"]}, "10.0.1.0/24", ("10.0.1.0/24", "fd00::/64")),
        # When the two disagree the singular field wins, as in kube-apiserver's conversion.
        (
            {"podCIDR": "10.0.9.0/24", "podCIDRs": ["10.0.1.0/24", "fd00::/64"]},
            "10.0.9.0/24",
            ("10.0.9.0/24",),
        ),
        ({}, "", ()),
    ],
)
def test_pod_cidr_fields_are_kept_in_step(
    spec: dict[str, Any], pod_cidr: str, pod_cidrs: tuple[str, ...]
) -> None:
    defaulted = apply_defaults(node(spec))
    assert (defaulted.spec.pod_cidr, defaulted.spec.pod_cidrs) == (pod_cidr, pod_cidrs)
    assert apply_defaults(defaulted) is defaulted


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "status"),
    [
        ({}, None),
        ({"podCIDRs": ["10.0.1.0/24", "fd00:1::/64"], "podCIDR": "10.0.1.0/24"}, None),
        (
            {
                "taints": [
                    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                    {"key": "dedicated", "value": "gpu", "effect": "NoExecute"},
                    {"key": "example.com/x", "effect": "PreferNoSchedule"},
                ]
            },
            None,
        ),
        (None, {"capacity": {"cpu": "3800m", "example.com/fpga": "2", "pods": "110"}}),
        (
            {
                "configSource": {
                    "configMap": {
                        "namespace": "kube-system",
                        "name": "kubelet-config",
                        "kubeletConfigKey": "kubelet",
                    }
                }
            },
            None,
        ),
    ],
)
def test_valid_nodes(spec: dict[str, Any] | None, status: dict[str, Any] | None) -> None:
    assert problems(node(spec, status)) == []
    assert problems(apply_defaults(node(spec, status))) == []


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({"taints": [{"key": "k"}]}, "spec.taints[0].effect", "Required value"),
        (
            {"taints": [{"key": "k", "effect": "Never"}]},
            "spec.taints[0].effect",
            'supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
        ),
        ({"taints": [{"key": "", "effect": "NoSchedule"}]}, "spec.taints[0].key", "name part"),
        (
            {"taints": [{"key": "k", "value": "a b", "effect": "NoSchedule"}]},
            "spec.taints[0].value",
            "a valid label must be",
        ),
        (
            {
                "taints": [
                    {"key": "k", "value": "1", "effect": "NoSchedule"},
                    {"key": "k", "value": "2", "effect": "NoSchedule"},
                ]
            },
            "spec.taints[1]",
            'Duplicate value: "k:NoSchedule": taints must be unique by key and effect pair',
        ),
        ({"podCIDR": "10.0.1.1/24"}, "spec.podCIDR", "bits set beyond the prefix length"),
        ({"podCIDRs": ["10.0.1.0/24", "x"]}, "spec.podCIDRs[1]", "valid CIDR"),
        (
            {"podCIDRs": ["10.0.1.0/24", "10.0.2.0/24"]},
            "spec.podCIDRs",
            "no more than one CIDR for each IP family",
        ),
        (
            {"podCIDRs": ["10.0.1.0/24", "fd00::/64", "10.0.2.0/24"]},
            "spec.podCIDRs",
            "no more than one CIDR for each IP family",
        ),
        (
            {"configSource": {}},
            "spec.configSource",
            "exactly one reference subfield must be non-nil",
        ),
        (
            {"configSource": {"configMap": {"name": "c", "namespace": "ns"}}},
            "spec.configSource.configMap.kubeletConfigKey",
            "Required value",
        ),
        (
            {
                "configSource": {
                    "configMap": {
                        "name": "c",
                        "namespace": "ns",
                        "kubeletConfigKey": "k",
                        "resourceVersion": "5",
                    }
                }
            },
            "spec.configSource.configMap.resourceVersion",
            "Forbidden: resourceVersion must not be set in spec",
        ),
    ],
)
def test_invalid_node_specs(spec: dict[str, Any], path: str, text: str) -> None:
    n = node(spec)
    assert has_problem(n, path, text), problems(n)


@pytest.mark.parametrize(
    ("status", "path", "text"),
    [
        ({"capacity": {"memory": "-1Gi"}}, "status.capacity[memory]", "greater than or equal"),
        ({"allocatable": {"pods": "1500m"}}, "status.allocatable[pods]", "must be an integer"),
        ({"capacity": {"example.com/gpu": "0.5"}}, "status.capacity[example.com/gpu]", "integer"),
        (
            {"addresses": [{"type": "Hostname", "address": "a"}] * 2},
            "status.addresses[1]",
            "Duplicate value",
        ),
    ],
)
def test_invalid_node_status(status: dict[str, Any], path: str, text: str) -> None:
    n = node(status=status)
    assert has_problem(n, path, text), problems(n)


def test_fractional_cpu_and_kubernetes_io_resources_need_not_be_whole() -> None:
    n = node(status={"capacity": {"cpu": "1500m", "kubernetes.io/batch-cpu": "500m"}})
    assert problems(n) == []


def test_node_names_are_subdomains() -> None:
    dotted = from_dict(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ip-10-0-0-1.ec2.internal"}}
    )
    assert problems(dotted) == []


# --- field selectors -------------------------------------------------------------------------


@pytest.mark.parametrize(("unschedulable", "text"), [(True, "true"), (False, "false")])
def test_unschedulable_is_selectable_as_go_prints_booleans(unschedulable: bool, text: str) -> None:
    n = node({"unschedulable": unschedulable})
    assert fields_of(n, ["spec.unschedulable"]) == {"spec.unschedulable": text}
    assert sorted(fields_of(n)) == ["metadata.name", "metadata.namespace", "spec.unschedulable"]
