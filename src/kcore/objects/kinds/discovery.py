"""discovery.k8s.io/v1 EndpointSlice: one shard of the network endpoints behind a Service.

The EndpointSlice controller writes slices for each Service (labelled
``kubernetes.io/service-name``), and kube-proxy and DNS read them. Fields sit at the top level
(no spec or status). The Service kinds' address checks are reused from ``core_service``, so an
endpoint address is refused for the same reasons there and here (loopback, link-local...).

Three choices follow Kubernetes' behaviour rather than its documentation: at most 20,000 ports
per slice (the API reference still says 100; the limit was raised when Services with many
ports broke the controller); IPv4 addresses accept leading zeros and IPv4-mapped IPv6 text, as
the Go parser used for this field does; and a slice of an unknown address type is refused for
its type only, its addresses left unchecked. One addition to Kubernetes: a ``port`` that is set
must be 1-65535 (Kubernetes does not range-check it, but no such port can carry traffic).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Final

from kcore import errors
from kcore.objects import names
from kcore.objects.defaults import defaulter, map_items
from kcore.objects.kinds.core_service import PROTOCOLS, validate_non_special_ip
from kcore.objects.meta import Object, ObjectReference
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validate_labels, validates

__all__ = [
    "ADDRESS_TYPES",
    "MAX_ADDRESSES",
    "MAX_ENDPOINTS",
    "MAX_HINTS",
    "MAX_PORTS",
    "SERVICE_NAME_LABEL",
    "Endpoint",
    "EndpointConditions",
    "EndpointHints",
    "EndpointPort",
    "EndpointSlice",
    "ForNode",
    "ForZone",
]

ADDRESS_TYPES: Final = ("FQDN", "IPv4", "IPv6")  # sorted, as "supported values" lists them
MAX_ENDPOINTS: Final = 1000
MAX_ADDRESSES: Final = 100
MAX_PORTS: Final = 20000
MAX_HINTS: Final = 8
MAX_TOPOLOGY_LABELS: Final = 16
# The label linking a slice to its Service, and the one naming the controller that owns it.
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
MANAGED_BY_LABEL: Final = "endpointslice.kubernetes.io/managed-by"

_DOTTED_QUAD = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")


@struct
class EndpointConditions:
    """Each is tri-state: None reads as ready/serving true and terminating false."""

    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


@struct
class ForZone:
    name: str = field(default="", omitempty=False)


@struct
class ForNode:
    name: str = field(default="", omitempty=False)


@struct
class EndpointHints:
    for_zones: Sequence[ForZone] = ()
    for_nodes: Sequence[ForNode] = ()


@struct
class Endpoint:
    addresses: Sequence[str] = ()
    # Always written, as Go writes a struct value: an endpoint with no conditions shows {}.
    conditions: EndpointConditions = field(default=EndpointConditions(), omitempty=False)
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: Mapping[str, str] = {}
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


@struct
class EndpointPort:
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


@kind("discovery.k8s.io/v1", "EndpointSlice", plural="endpointslices")
class EndpointSlice(Object):
    address_type: str = field(default="", omitempty=False)
    endpoints: Sequence[Endpoint] = ()
    ports: Sequence[EndpointPort] = ()


# --- validation ------------------------------------------------------------------------------


def _too_many(problems: Problems, path: str, count: int, limit: int) -> None:
    problems.causes.append(
        errors.FieldError(
            path, f"Too many: {count}: must have at most {limit} items", None, "FieldValueTooMany"
        )
    )


@validates(EndpointSlice)
def _validate_endpoint_slice(es: EndpointSlice, problems: Problems) -> None:
    if not es.address_type:
        problems.required("addressType")
    else:
        problems.enum("addressType", es.address_type, ADDRESS_TYPES)
    if len(es.endpoints) > MAX_ENDPOINTS:
        _too_many(problems, "endpoints", len(es.endpoints), MAX_ENDPOINTS)
    else:
        for i, endpoint in enumerate(es.endpoints):
            _validate_endpoint(endpoint, es.address_type, f"endpoints[{i}]", problems)
    if len(es.ports) > MAX_PORTS:
        _too_many(problems, "ports", len(es.ports), MAX_PORTS)
    else:
        _validate_ports(es.ports, problems)


def _validate_endpoint(
    endpoint: Endpoint, address_type: str, path: str, problems: Problems
) -> None:
    at = f"{path}.addresses"
    if not endpoint.addresses:
        problems.required(at, "must contain at least 1 address")
    elif len(endpoint.addresses) > MAX_ADDRESSES:
        _too_many(problems, at, len(endpoint.addresses), MAX_ADDRESSES)
    for i, address in enumerate(endpoint.addresses):
        _validate_address(address, address_type, f"{at}[{i}]", problems)
    if endpoint.node_name is not None:
        problems.from_messages(
            f"{path}.nodeName", endpoint.node_name, names.is_dns1123_subdomain(endpoint.node_name)
        )
    topology = f"{path}.deprecatedTopology"
    if len(endpoint.deprecated_topology) > MAX_TOPOLOGY_LABELS:
        _too_many(problems, topology, len(endpoint.deprecated_topology), MAX_TOPOLOGY_LABELS)
    validate_labels(endpoint.deprecated_topology, topology, problems)
    if endpoint.hostname is not None:
        problems.from_messages(
            f"{path}.hostname", endpoint.hostname, names.is_dns1123_label(endpoint.hostname)
        )
    if endpoint.hints is not None:
        _validate_hints(endpoint.hints, f"{path}.hints", problems)


def _validate_address(address: str, address_type: str, path: str, problems: Problems) -> None:
    # Addresses of an unknown type are left alone; the type itself is already refused.
    if address_type == "IPv4":
        ipv4 = _parse_ipv4(address)
        if ipv4 is None:
            problems.invalid(path, address, "must be a valid IPv4 address")
        else:
            validate_non_special_ip(str(ipv4), path, problems)
    elif address_type == "IPv6":
        ipv6 = _parse_ipv6(address)
        if ipv6 is None:
            problems.invalid(path, address, "must be a valid IPv6 address")
        else:
            validate_non_special_ip(address, path, problems)
    elif address_type == "FQDN":
        _validate_fqdn(address, path, problems)


def _parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address as Go's lenient parser reads one: leading zeros count as decimal, and
    an IPv4-mapped IPv6 address is the IPv4 address it maps."""
    quad = _DOTTED_QUAD.fullmatch(text)
    if quad is not None:
        octets = [int(octet) for octet in quad.groups()]
        if all(octet <= 255 for octet in octets):
            return ipaddress.IPv4Address(".".join(map(str, octets)))
        return None
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        return parsed.ipv4_mapped
    return parsed


def _parse_ipv6(text: str) -> ipaddress.IPv6Address | None:
    if "%" in text:  # zones are not addresses
        return None
    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv4Address) or parsed.ipv4_mapped is not None:
        return None
    return parsed


def _validate_fqdn(address: str, path: str, problems: Problems) -> None:
    """A domain of at least two labels; one trailing dot (the DNS root) is allowed."""
    if not address:
        problems.required(path)
        return
    name = address.removesuffix(".")
    messages = names.is_dns1123_subdomain(name)
    if messages:
        problems.invalid(path, name, ",".join(messages))
        return
    labels = name.split(".")
    if len(labels) < 2:
        problems.invalid(
            path, name, "should be a domain with at least two segments separated by dots"
        )
        return
    for label in labels:
        messages = names.is_dns1123_label(label)
        if messages:
            problems.invalid(path, label, ",".join(messages))
            return


def _validate_hints(hints: EndpointHints, path: str, problems: Problems) -> None:
    # Zones are label values (they come from the topology.kubernetes.io/zone label); nodes
    # are node names.
    for group, hinted, check in (
        ("forZones", [zone.name for zone in hints.for_zones], names.is_valid_label_value),
        ("forNodes", [node.name for node in hints.for_nodes], names.is_dns1123_subdomain),
    ):
        at = f"{path}.{group}"
        if len(hinted) > MAX_HINTS:
            _too_many(problems, at, len(hinted), MAX_HINTS)
            continue
        seen: set[str] = set()
        for i, name in enumerate(hinted):
            name_path = f"{at}[{i}].name"
            if name in seen:
                problems.duplicate(name_path, name)
            seen.add(name)
            problems.from_messages(name_path, name, check(name))


def _validate_ports(ports: Sequence[EndpointPort], problems: Problems) -> None:
    seen: set[str] = set()
    for i, port in enumerate(ports):
        at = f"ports[{i}]"
        # An unset name is the empty name (the default), so two unnamed ports collide.
        name = port.name or ""
        if name:
            problems.from_messages(f"{at}.name", name, names.is_dns1123_label(name))
        if name in seen:
            problems.duplicate(f"{at}.name", name)
        seen.add(name)
        if port.protocol is not None and port.protocol not in PROTOCOLS:
            problems.not_supported(f"{at}.protocol", port.protocol, PROTOCOLS)
        if port.port is not None:
            problems.from_messages(f"{at}.port", port.port, names.is_valid_port_num(port.port))
        if port.app_protocol is not None:
            problems.from_messages(
                f"{at}.appProtocol", port.app_protocol, names.is_qualified_name(port.app_protocol)
            )


# --- defaults --------------------------------------------------------------------------------


def _default_port(port: EndpointPort) -> EndpointPort:
    # Not ``changed``: it would treat an explicit protocol of "" as missing, and Kubernetes
    # defaults only absent fields (an empty protocol is then refused by validation).
    if port.name is not None and port.protocol is not None:
        return port
    return evolve(
        port,
        name="" if port.name is None else port.name,
        protocol="TCP" if port.protocol is None else port.protocol,
    )


@defaulter(EndpointSlice)
def _default_endpoint_slice(es: EndpointSlice) -> EndpointSlice:
    ports = map_items(es.ports, _default_port)
    return es if ports is None else evolve(es, ports=ports)
