"""core/v1 Node: a machine pods run on, as its kubelet registers and reports it.

The spec is small and mostly written by controllers (pod CIDRs by the node IPAM controller,
``unschedulable`` by ``kubectl cordon``, taints by anyone); the status is the kubelet's report
(capacity, conditions refreshed by heartbeat, addresses, the versions it runs, its images).
``nodeInfo`` and the kubelet endpoint's ``Port`` are Go value fields without omitempty, so they
are written even when empty, exactly as kube-apiserver writes them for a node no kubelet has
reported on yet.

The defaulter also does what kube-apiserver's v1 conversion does to pod CIDRs on every write:
``podCIDR`` and ``podCIDRs[0]`` are kept equal, the singular field winning when they differ.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from kcore.objects import names
from kcore.objects.defaults import defaulter
from kcore.objects.fieldsets import selectable
from kcore.objects.kinds.core_pod import Taint
from kcore.objects.kinds.core_pod_validation_scheduling import validate_taints
from kcore.objects.meta import Object
from kcore.objects.quantity import Quantity
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "NODE_ADDRESS_TYPES",
    "NODE_CONDITION_TYPES",
    "AttachedVolume",
    "ConfigMapNodeConfigSource",
    "ContainerImage",
    "DaemonEndpoint",
    "Node",
    "NodeAddress",
    "NodeCondition",
    "NodeConfigSource",
    "NodeConfigStatus",
    "NodeDaemonEndpoints",
    "NodeFeatures",
    "NodeRuntimeHandler",
    "NodeRuntimeHandlerFeatures",
    "NodeSpec",
    "NodeStatus",
    "NodeSwapStatus",
    "NodeSystemInfo",
    "validate_resource_list",
]

NODE_CONDITION_TYPES: Final = (
    "Ready",
    "MemoryPressure",
    "DiskPressure",
    "PIDPressure",
    "NetworkUnavailable",
)
NODE_ADDRESS_TYPES: Final = ("Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS")
# Resources counted in whole units; a fractional amount of them is meaningless.
INTEGER_RESOURCES: Final = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)


@struct
class ConfigMapNodeConfigSource:
    namespace: str = field(default="", omitempty=False)
    name: str = field(default="", omitempty=False)
    uid: str = ""
    resource_version: str = ""
    kubelet_config_key: str = field(default="", omitempty=False)


@struct
class NodeConfigSource:
    """Deprecated dynamic kubelet configuration; kept so old objects still load."""

    config_map: ConfigMapNodeConfigSource | None = None


@struct
class NodeSpec:
    pod_cidr: str = ""
    pod_cidrs: Sequence[str] = ()
    provider_id: str = ""
    unschedulable: bool = False
    taints: Sequence[Taint] = ()
    config_source: NodeConfigSource | None = None
    external_id: str = ""  # deprecated; Go calls it DoNotUseExternalID


@struct
class NodeCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_heartbeat_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class NodeAddress:
    type: str = field(default="", omitempty=False)
    address: str = field(default="", omitempty=False)


@struct
class DaemonEndpoint:
    # Capitalised on the wire: the field once had no JSON tag and Go used its own name.
    port: int = field(default=0, wire="Port", omitempty=False)


@struct
class NodeDaemonEndpoints:
    kubelet_endpoint: DaemonEndpoint = DaemonEndpoint()


@struct
class NodeSwapStatus:
    capacity: int | None = None


@struct
class NodeSystemInfo:
    machine_id: str = field(default="", omitempty=False)
    system_uuid: str = field(default="", omitempty=False)
    boot_id: str = field(default="", omitempty=False)
    kernel_version: str = field(default="", omitempty=False)
    os_image: str = field(default="", omitempty=False)
    container_runtime_version: str = field(default="", omitempty=False)
    kubelet_version: str = field(default="", omitempty=False)
    kube_proxy_version: str = field(default="", omitempty=False)  # deprecated, often ""
    operating_system: str = field(default="", omitempty=False)
    architecture: str = field(default="", omitempty=False)
    swap: NodeSwapStatus | None = None


@struct
class ContainerImage:
    names: Sequence[str] = ()
    size_bytes: int = 0


@struct
class AttachedVolume:
    name: str = field(default="", omitempty=False)
    device_path: str = field(default="", omitempty=False)  # "" for CSI volumes


@struct
class NodeConfigStatus:
    assigned: NodeConfigSource | None = None
    active: NodeConfigSource | None = None
    last_known_good: NodeConfigSource | None = None
    error: str = ""


@struct
class NodeRuntimeHandlerFeatures:
    recursive_read_only_mounts: bool | None = None
    user_namespaces: bool | None = None


@struct
class NodeRuntimeHandler:
    name: str = field(default="", omitempty=False)
    features: NodeRuntimeHandlerFeatures | None = None


@struct
class NodeFeatures:
    supplemental_groups_policy: bool | None = None


@struct
class NodeStatus:
    capacity: Mapping[str, Quantity] = {}
    allocatable: Mapping[str, Quantity] = {}
    phase: str = ""  # unused by Kubernetes since 1.x; kept for old objects
    conditions: Sequence[NodeCondition] = ()
    addresses: Sequence[NodeAddress] = ()
    daemon_endpoints: NodeDaemonEndpoints = NodeDaemonEndpoints()
    node_info: NodeSystemInfo = NodeSystemInfo()
    images: Sequence[ContainerImage] = ()
    volumes_in_use: Sequence[str] = ()
    volumes_attached: Sequence[AttachedVolume] = ()
    config: NodeConfigStatus | None = None
    runtime_handlers: Sequence[NodeRuntimeHandler] = ()
    features: NodeFeatures | None = None


@kind("v1", "Node", plural="nodes", namespaced=False, short_names=("no",))
class Node(Object):
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()


# --- validation ------------------------------------------------------------------------------


def _is_extended_resource(name: str) -> bool:
    # Extended resources ("example.com/gpu") are domain-qualified outside kubernetes.io.
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def validate_resource_list(
    resources: Mapping[str, Quantity], path: str, problems: Problems
) -> None:
    """Each amount non-negative, and whole for resources counted in units (pods, GPUs...)."""
    for name, quantity in resources.items():
        at = f"{path}[{name}]"
        if quantity.sign() < 0:
            problems.invalid(at, str(quantity), "must be greater than or equal to 0")
        if (name in INTEGER_RESOURCES or _is_extended_resource(name)) and (
            quantity.milli_value() % 1000
        ):
            problems.invalid(at, str(quantity), "must be an integer")


@validates(Node)
def _validate_node(node: Node, problems: Problems) -> None:
    spec = node.spec
    validate_taints(spec.taints, "spec.taints", problems)
    if spec.pod_cidr:
        problems.from_messages("spec.podCIDR", spec.pod_cidr, names.is_valid_cidr(spec.pod_cidr))
    _validate_pod_cidrs(spec.pod_cidrs, problems)
    if spec.config_source is not None:
        _validate_config_source(spec.config_source, problems)
    validate_resource_list(node.status.capacity, "status.capacity", problems)
    validate_resource_list(node.status.allocatable, "status.allocatable", problems)
    seen: set[tuple[str, str]] = set()
    for i, address in enumerate(node.status.addresses):
        key = (address.type, address.address)
        if key in seen:
            problems.duplicate(f"status.addresses[{i}]", {"type": key[0], "address": key[1]})
        seen.add(key)


def _validate_pod_cidrs(cidrs: Sequence[str], problems: Problems) -> None:
    valid = True
    for i, cidr in enumerate(cidrs):
        messages = names.is_valid_cidr(cidr)
        problems.from_messages(f"spec.podCIDRs[{i}]", cidr, messages)
        valid = valid and not messages
    if len(cidrs) < 2:
        return
    # At most one range per IP family: one IPv4 and one IPv6 (dual stack).
    families = [ipaddress.ip_network(c).version for c in cidrs] if valid else []
    if len(cidrs) > 2 or (valid and families[0] == families[1]):
        problems.invalid(
            "spec.podCIDRs", list(cidrs), "may specify no more than one CIDR for each IP family"
        )
    seen: set[str] = set()
    for i, cidr in enumerate(cidrs):
        if cidr in seen:
            problems.duplicate(f"spec.podCIDRs[{i}]", cidr)
        seen.add(cidr)


def _validate_config_source(source: NodeConfigSource, problems: Problems) -> None:
    path = "spec.configSource"
    ref = source.config_map
    if ref is None:
        problems.invalid(path, {}, "exactly one reference subfield must be non-nil")
        return
    at = f"{path}.configMap"
    # uid and resourceVersion are what the kubelet reports back, never what is asked for.
    if ref.uid:
        problems.forbidden(f"{at}.uid", "uid must not be set in spec")
    if ref.resource_version:
        problems.forbidden(f"{at}.resourceVersion", "resourceVersion must not be set in spec")
    for wire, value, rule in (
        ("namespace", ref.namespace, names.is_dns1123_label),
        ("name", ref.name, names.is_dns1123_subdomain),
        ("kubeletConfigKey", ref.kubelet_config_key, names.is_config_map_key),
    ):
        if not value:
            problems.required(f"{at}.{wire}", f"{wire} must be set")
        else:
            problems.from_messages(f"{at}.{wire}", value, rule(value))


# --- defaults --------------------------------------------------------------------------------


def _default_pod_cidrs(spec: NodeSpec) -> NodeSpec:
    single, many = spec.pod_cidr, tuple(spec.pod_cidrs)
    if single and (not many or many[0] != single):
        return evolve(spec, pod_cidrs=(single,))
    if many and not single:
        return evolve(spec, pod_cidr=many[0])
    return spec


@defaulter(Node)
def _default_node(node: Node) -> Node:
    spec = _default_pod_cidrs(node.spec)
    status = node.status
    # A kubelet that reports no allocatable amount reserves nothing for the system.
    if status.capacity and not status.allocatable:
        status = evolve(status, allocatable=status.capacity)
    if spec is node.spec and status is node.status:
        return node
    return evolve(node, spec=spec, status=status)


def _unschedulable(node: Node) -> str:
    return "true" if node.spec.unschedulable else "false"


selectable(Node, {"spec.unschedulable": _unschedulable})
