"""EndpointSlice: wire shape, port defaults, and Kubernetes' validation rules."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.objects import (
    ObjectMeta,
    ObjectReference,
    apply_defaults,
    from_dict,
    info_for,
    problems_of,
    to_dict,
)
from kcore.objects.fieldsets import selectable_fields
from kcore.objects.kinds.discovery import (
    MAX_ADDRESSES,
    MAX_ENDPOINTS,
    MAX_PORTS,
    Endpoint,
    EndpointConditions,
    EndpointHints,
    EndpointPort,
    EndpointSlice,
    ForNode,
    ForZone,
)

META = ObjectMeta(name="web-abc12", namespace="shop")


def _slice(address_type: str = "IPv4", **fields: Any) -> EndpointSlice:
    return EndpointSlice(metadata=META, address_type=address_type, **fields)


def _endpoint(*addresses: str, **fields: Any) -> Endpoint:
    return Endpoint(addresses=addresses, **fields)


def _problems(obj: Any) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in problems_of(obj)]


def _one(obj: Any, path: str, text: str) -> None:
    found = _problems(obj)
    assert len(found) == 1 and found[0][0] == path and text in found[0][1], found


def test_registered_namespaced_without_status() -> None:
    info = info_for(EndpointSlice)
    assert (info.group, info.plural, info.namespaced, info.has_status) == (
        "discovery.k8s.io",
        "endpointslices",
        True,
        False,
    )
    assert selectable_fields(EndpointSlice) == ["metadata.name", "metadata.namespace"]


def test_wire_shape() -> None:
    es = _slice(
        endpoints=(
            _endpoint(
                "10.0.0.1",
                conditions=EndpointConditions(ready=True, serving=True, terminating=False),
                target_ref=ObjectReference(kind="Pod", name="p", namespace="shop"),
                node_name="n1",
                zone="z1",
                hints=EndpointHints(for_zones=(ForZone(name="z1"),)),
            ),
        ),
        ports=(EndpointPort(name="http", protocol="TCP", port=80, app_protocol="http"),),
    )
    encoded = to_dict(es)
    assert encoded["addressType"] == "IPv4"
    assert encoded["endpoints"] == [
        {
            "addresses": ["10.0.0.1"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": {"kind": "Pod", "name": "p", "namespace": "shop"},
            "nodeName": "n1",
            "zone": "z1",
            "hints": {"forZones": [{"name": "z1"}]},
        }
    ]
    assert encoded["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "appProtocol": "http"}
    ]
    assert from_dict(encoded) == es


def test_go_always_writes_address_type_and_conditions() -> None:
    encoded = to_dict(EndpointSlice(metadata=META, endpoints=(_endpoint("10.0.0.1"),)))
    assert encoded["addressType"] == ""
    assert encoded["endpoints"] == [{"addresses": ["10.0.0.1"], "conditions": {}}]
    # An empty (null) endpoint or port list is left out.
    assert "endpoints" not in to_dict(_slice()) and "ports" not in to_dict(_slice())


# --- defaults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (EndpointPort(port=80), EndpointPort(name="", protocol="TCP", port=80)),
        (
            EndpointPort(name="dns", protocol="UDP", port=53),
            EndpointPort(name="dns", protocol="UDP", port=53),
        ),
        (EndpointPort(protocol="SCTP"), EndpointPort(name="", protocol="SCTP")),
        (EndpointPort(name="x"), EndpointPort(name="x", protocol="TCP")),
        # Only absent fields are defaulted; an empty protocol is left for validation to refuse.
        (EndpointPort(name="", protocol=""), EndpointPort(name="", protocol="")),
    ],
)
def test_port_defaults(port: EndpointPort, expected: EndpointPort) -> None:
    defaulted = apply_defaults(_slice(ports=(port,)))
    assert defaulted.ports == (expected,)
    assert apply_defaults(defaulted) is defaulted


def test_defaulted_unnamed_port_writes_an_empty_name() -> None:
    defaulted = apply_defaults(_slice(ports=(EndpointPort(port=80),)))
    assert to_dict(defaulted)["ports"] == [{"name": "", "protocol": "TCP", "port": 80}]


def test_slice_without_ports_is_returned_unchanged() -> None:
    es = _slice(endpoints=(_endpoint("10.0.0.1"),))
    assert apply_defaults(es) is es


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address_type", "address"),
    [
        ("IPv4", "10.244.1.17"),
        ("IPv4", "192.0.2.1"),
        ("IPv4", "010.001.002.003"),  # Go's lenient parser reads leading zeros as decimal
        ("IPv4", "::ffff:10.1.2.3"),  # an IPv4-mapped address is the IPv4 address
        ("IPv4", "224.0.1.1"),  # global multicast is (oddly) allowed, as in Kubernetes
        ("IPv6", "fd00:10:244::1a"),
        ("IPv6", "2001:DB8::1"),
        ("FQDN", "api.example.com"),
        ("FQDN", "api.example.com."),
    ],
)
def test_valid_addresses(address_type: str, address: str) -> None:
    assert _problems(_slice(address_type, endpoints=(_endpoint(address),))) == []


@pytest.mark.parametrize(
    ("address_type", "address", "text"),
    [
        ("IPv4", "10.0.0.256", "must be a valid IPv4 address"),
        ("IPv4", "fd00::1", "must be a valid IPv4 address"),
        ("IPv4", "web.example.com", "must be a valid IPv4 address"),
        ("IPv4", "0.0.0.0", "may not be unspecified (0.0.0.0)"),
        ("IPv4", "127.0.0.53", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        ("IPv4", "169.254.169.254", "may not be in the link-local range"),
        ("IPv4", "224.0.0.251", "may not be in the link-local multicast range"),
        ("IPv6", "10.0.0.1", "must be a valid IPv6 address"),
        ("IPv6", "::ffff:10.0.0.1", "must be a valid IPv6 address"),
        ("IPv6", "fe80::1%eth0", "must be a valid IPv6 address"),
        ("IPv6", "::1", "may not be in the loopback range"),
        ("IPv6", "::", "may not be unspecified (::)"),
        ("IPv6", "fe80::1", "may not be in the link-local range"),
        ("IPv6", "ff02::fb", "may not be in the link-local multicast range"),
        ("FQDN", "localhost", "should be a domain with at least two segments separated by dots"),
        ("FQDN", "Api.Example.com", "a lowercase RFC 1123 subdomain"),
        ("FQDN", "api..example.com", "a lowercase RFC 1123 subdomain"),
        ("FQDN", "", "Required value"),
    ],
)
def test_invalid_addresses(address_type: str, address: str, text: str) -> None:
    _one(_slice(address_type, endpoints=(_endpoint(address),)), "endpoints[0].addresses[0]", text)


def test_fqdn_labels_are_checked_one_by_one() -> None:
    # A valid subdomain whose label is too long for DNS: reported with the label as the value.
    label = "a" * 64
    found = problems_of(_slice("FQDN", endpoints=(_endpoint(f"{label}.example.com"),)))
    assert [(c.path, c.value) for c in found] == [("endpoints[0].addresses[0]", label)]
    assert "must be no more than 63 characters" in found[0].detail


def test_address_type_rules() -> None:
    _one(_slice(""), "addressType", "Required value")
    _one(
        _slice("IP"),
        "addressType",
        'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"',
    )
    # The addresses of an unknown type are not checked against any format.
    _one(_slice("Mac", endpoints=(_endpoint("aa:bb"),)), "addressType", "Unsupported value")


def test_endpoint_needs_an_address_and_at_most_a_hundred() -> None:
    _one(
        _slice(endpoints=(_endpoint(),)),
        "endpoints[0].addresses",
        "must contain at least 1 address",
    )
    many = tuple(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(MAX_ADDRESSES))
    assert _problems(_slice(endpoints=(_endpoint(*many),))) == []
    too_many = problems_of(_slice(endpoints=(_endpoint(*many, "10.9.9.9"),)))
    assert [(c.path, c.reason) for c in too_many] == [
        ("endpoints[0].addresses", "FieldValueTooMany")
    ]
    assert too_many[0].detail == "Too many: 101: must have at most 100 items"


def test_endpoint_count_limit_stops_further_endpoint_checks() -> None:
    bad = _endpoint("not-an-ip")
    at_limit = _slice(endpoints=(_endpoint("10.0.0.1"),) * MAX_ENDPOINTS)
    assert _problems(at_limit) == []
    over = _slice(endpoints=(bad,) * (MAX_ENDPOINTS + 1))
    assert _problems(over) == [("endpoints", "Too many: 1001: must have at most 1000 items")]


def test_port_count_limit() -> None:
    ports = tuple(EndpointPort(name=f"p{i}", port=1000 + i) for i in range(MAX_PORTS + 1))
    assert _problems(_slice(ports=ports[:MAX_PORTS])) == []
    assert [p for p, _ in _problems(_slice(ports=ports))] == ["ports"]


@pytest.mark.parametrize(
    ("fields", "path", "text"),
    [
        ({"hostname": "Db_0"}, "endpoints[0].hostname", "a lowercase RFC 1123 label"),
        ({"hostname": "db.0"}, "endpoints[0].hostname", "must not contain dots"),
        ({"node_name": "Node 1"}, "endpoints[0].nodeName", "a lowercase RFC 1123 subdomain"),
        (
            {"deprecated_topology": {"bad key!": "v"}},
            "endpoints[0].deprecatedTopology",
            "name part must consist",
        ),
        (
            {"deprecated_topology": {"k": "bad value!"}},
            "endpoints[0].deprecatedTopology[k]",
            "a valid label must be an empty string",
        ),
        (
            {"deprecated_topology": {f"k{i}": "v" for i in range(17)}},
            "endpoints[0].deprecatedTopology",
            "Too many: 17: must have at most 16 items",
        ),
        (
            {"hints": EndpointHints(for_zones=(ForZone(name="a"), ForZone(name="a")))},
            "endpoints[0].hints.forZones[1].name",
            'Duplicate value: "a"',
        ),
        (
            {"hints": EndpointHints(for_zones=tuple(ForZone(name=f"z{i}") for i in range(9)))},
            "endpoints[0].hints.forZones",
            "Too many: 9: must have at most 8 items",
        ),
        (
            {"hints": EndpointHints(for_nodes=(ForNode(name="n1"), ForNode(name="n1")))},
            "endpoints[0].hints.forNodes[1].name",
            'Duplicate value: "n1"',
        ),
        (
            {"hints": EndpointHints(for_nodes=(ForNode(name="Node_1"),))},
            "endpoints[0].hints.forNodes[0].name",
            "a lowercase RFC 1123 subdomain",
        ),
    ],
)
def test_endpoint_field_rules(fields: dict[str, Any], path: str, text: str) -> None:
    _one(_slice(endpoints=(_endpoint("10.0.0.1", **fields),)), path, text)


def test_empty_hints_and_zone_names_are_allowed() -> None:
    hints = EndpointHints(for_zones=(ForZone(name=""),))
    assert _problems(_slice(endpoints=(_endpoint("10.0.0.1", hints=hints),))) == []


@pytest.mark.parametrize(
    "ports",
    [
        (EndpointPort(port=80),),
        (EndpointPort(name="http", port=80), EndpointPort(name="https", port=443)),
        (EndpointPort(name="a-very-long-port-name-beyond-fifteen", port=1),),  # labels, not IANA
        (EndpointPort(name="dns", protocol="UDP", port=53), EndpointPort(name="dns-tcp", port=53)),
        (EndpointPort(),),  # a port number is optional
        (EndpointPort(name="grpc", port=9090, app_protocol="kubernetes.io/h2c"),),
    ],
)
def test_valid_ports(ports: tuple[EndpointPort, ...]) -> None:
    assert _problems(_slice(ports=ports)) == []


@pytest.mark.parametrize(
    ("ports", "path", "text"),
    [
        ((EndpointPort(port=80), EndpointPort(port=81)), "ports[1].name", 'Duplicate value: ""'),
        (
            (EndpointPort(port=80), EndpointPort(name="", port=81)),
            "ports[1].name",
            "Duplicate value",
        ),
        ((EndpointPort(name="Http"),), "ports[0].name", "a lowercase RFC 1123 label"),
        (
            (EndpointPort(name="a", protocol="tcp"),),
            "ports[0].protocol",
            'Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
        ),
        ((EndpointPort(name="a", protocol=""),), "ports[0].protocol", "Unsupported value"),
        ((EndpointPort(name="a", port=0),), "ports[0].port", "must be between 1 and 65535"),
        ((EndpointPort(name="a", port=65536),), "ports[0].port", "must be between 1 and 65535"),
        ((EndpointPort(name="a", app_protocol="h t t p"),), "ports[0].appProtocol", "name part"),
    ],
)
def test_invalid_ports(ports: tuple[EndpointPort, ...], path: str, text: str) -> None:
    _one(_slice(ports=ports), path, text)
