"""Service and Endpoints: Kubernetes' defaults, validation rules and selectable fields."""

from __future__ import annotations

from typing import Any

import pytest

from kcore import errors
from kcore.objects import apply_defaults, from_dict, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.core_service import Endpoints, Service
from kcore.objects.registry import info_for


def service(spec: dict[str, Any], name: str = "web", **extra: Any) -> Service:
    return from_dict(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec, **extra}
    )


def endpoints(subsets: list[dict[str, Any]]) -> Endpoints:
    return from_dict(
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}, "subsets": subsets}
    )


def problems(obj: Any) -> list[str]:
    return [str(cause) for cause in problems_of(obj)]


def has_problem(obj: Any, path: str, text: str) -> bool:
    return any(c.path == path and text in c.detail for c in problems_of(obj))


PORT = {"port": 80}

# --- defaults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": [PORT]}, {"type": "ClusterIP", "sessionAffinity": "None"}),
        ({"ports": [PORT]}, {"internalTrafficPolicy": "Cluster"}),
        (
            {"ports": [{"port": 80}]},
            {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]},
        ),
        (
            {"ports": [{"port": 53, "protocol": "UDP", "targetPort": 0}]},
            {"ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}]},
        ),
        (
            {"ports": [{"port": 80, "targetPort": ""}]},
            {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]},
        ),
        (
            {"ports": [{"port": 80, "targetPort": "http"}]},
            {"ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]},
        ),
        ({"type": "NodePort", "ports": [PORT]}, {"externalTrafficPolicy": "Cluster"}),
        (
            {"type": "LoadBalancer", "ports": [PORT]},
            {"externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True},
        ),
        (
            {"type": "LoadBalancer", "ports": [PORT], "allocateLoadBalancerNodePorts": False},
            {"allocateLoadBalancerNodePorts": False},
        ),
        ({"ports": [PORT], "externalIPs": ["198.51.100.7"]}, {"externalTrafficPolicy": "Cluster"}),
        (
            {"sessionAffinity": "ClientIP", "ports": [PORT]},
            {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}},
        ),
        (
            {
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                "ports": [PORT],
            },
            {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}},
        ),
        ({"clusterIP": "10.96.0.7", "ports": [PORT]}, {"clusterIPs": ["10.96.0.7"]}),
        ({"clusterIP": "None", "ports": [PORT]}, {"clusterIPs": ["None"]}),
    ],
)
def test_service_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    defaulted = to_dict(apply_defaults(service(spec)))["spec"]
    for key, value in expected.items():
        assert defaulted[key] == value


@pytest.mark.parametrize(
    ("spec", "absent"),
    [
        ({"ports": [PORT]}, "externalTrafficPolicy"),  # not externally accessible
        ({"ports": [PORT]}, "allocateLoadBalancerNodePorts"),
        ({"type": "ExternalName", "externalName": "db.example.com"}, "internalTrafficPolicy"),
        # Affinity "None" (set or defaulted) drops a stray ClientIP config.
        (
            {"ports": [PORT], "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}},
            "sessionAffinityConfig",
        ),
    ],
)
def test_service_defaults_leave_out(spec: dict[str, Any], absent: str) -> None:
    assert absent not in to_dict(apply_defaults(service(spec)))["spec"]


def test_load_balancer_ingress_with_an_ip_defaults_to_vip_mode() -> None:
    lb = service(
        {"type": "LoadBalancer", "ports": [PORT]},
        status={"loadBalancer": {"ingress": [{"ip": "203.0.113.4"}, {"hostname": "lb.example"}]}},
    )
    ingress = to_dict(apply_defaults(lb))["status"]["loadBalancer"]["ingress"]
    assert ingress == [{"ip": "203.0.113.4", "ipMode": "VIP"}, {"hostname": "lb.example"}]


def test_defaulting_a_defaulted_service_returns_the_same_object() -> None:
    once = apply_defaults(service({"type": "LoadBalancer", "ports": [PORT, {"port": 443}]}))
    assert apply_defaults(once) is once


def test_defaulting_does_not_touch_the_input() -> None:
    raw = service({"ports": [PORT]})
    apply_defaults(raw)
    assert to_dict(raw)["spec"] == {"ports": [{"port": 80}]}


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"ports": [PORT]},
        {"clusterIP": "None"},  # headless: ports optional
        {"type": "ExternalName", "externalName": "db.example.com."},
        {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
        {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 32000,
            "loadBalancerSourceRanges": [" 10.0.0.0/8 "],
            "loadBalancerClass": "example.com/lb",
            "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80, "protocol": "UDP"}],
        },
        {"clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9", "fd00::9"], "ports": [PORT]},
        {"ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "PreferDualStack", "ports": [PORT]},
        {"ports": [{"port": 80, "targetPort": "http-web"}], "trafficDistribution": "PreferClose"},
    ],
)
def test_valid_services(spec: dict[str, Any]) -> None:
    assert problems(service(spec)) == []
    assert problems(apply_defaults(service(spec))) == []


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({}, "spec.ports", "Required value"),
        ({"type": "Magic", "ports": [PORT]}, "spec.type", 'Unsupported value: "Magic"'),
        ({"ports": [{"port": 65536}]}, "spec.ports[0].port", "between 1 and 65535"),
        ({"ports": [{"port": 80, "protocol": "ICMP"}]}, "spec.ports[0].protocol", '"ICMP"'),
        ({"ports": [PORT, {"port": 81}]}, "spec.ports[0].name", "Required value"),
        (
            {"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
            "spec.ports[1].name",
            'Duplicate value: "a"',
        ),
        ({"ports": [{"name": "A", "port": 80}]}, "spec.ports[0].name", "RFC 1123 label"),
        ({"ports": [{"port": 80, "targetPort": 0x10000}]}, "spec.ports[0].targetPort", "65535"),
        ({"ports": [{"port": 80, "targetPort": "a--b"}]}, "spec.ports[0].targetPort", "hyphens"),
        ({"ports": [{"port": 80, "targetPort": "1234"}]}, "spec.ports[0].targetPort", "letter"),
        ({"ports": [PORT, PORT]}, "spec.ports[1]", "Duplicate value"),
        ({"ports": [{"port": 80, "nodePort": 30001}]}, "spec.ports[0].nodePort", "ClusterIP"),
        (
            {"type": "NodePort", "ports": [{"port": 80, "nodePort": 70000}]},
            "spec.ports[0].nodePort",
            "between 1 and 65535",
        ),
        (
            {
                "type": "NodePort",
                "ports": [
                    {"name": "a", "port": 80, "nodePort": 30001},
                    {"name": "b", "port": 81, "nodePort": 30001},
                ],
            },
            "spec.ports[1].nodePort",
            "Duplicate value: 30001",
        ),
        ({"clusterIP": "300.1.1.1", "ports": [PORT]}, "spec.clusterIP", "valid IP address"),
        ({"clusterIP": "010.1.1.1", "ports": [PORT]}, "spec.clusterIP", "leading 0s"),
        (
            {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.2"], "ports": [PORT]},
            "spec.clusterIPs",
            "first value must match `clusterIP`",
        ),
        (
            {"clusterIPs": ["10.0.0.2"], "ports": [PORT]},
            "spec.clusterIPs",
            "must be empty when `clusterIP` is not specified",
        ),
        (
            {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1", "10.0.0.2"], "ports": [PORT]},
            "spec.clusterIPs",
            "no more than one IP for each IP family",
        ),
        (
            {"clusterIP": "None", "clusterIPs": ["None", "10.0.0.2"], "ports": [PORT]},
            "spec.clusterIPs",
            "'None' must be the first and only value",
        ),
        (
            {"clusterIP": "fd00::1", "ipFamilies": ["IPv4"], "ports": [PORT]},
            "spec.clusterIP",
            "expected an IPv4 value as indicated by `ipFamilies[0]`",
        ),
        ({"ipFamilies": ["IPv5"], "ports": [PORT]}, "spec.ipFamilies[0]", '"IPv5"'),
        ({"type": "LoadBalancer", "clusterIP": "None"}, "spec.clusterIP", "LoadBalancer"),
        ({"type": "ExternalName"}, "spec.externalName", "Required value"),
        (
            {"type": "ExternalName", "externalName": "a.b", "ipFamilies": ["IPv4"]},
            "spec.ipFamilies",
            "may not be set for ExternalName services",
        ),
        (
            {"ports": [PORT], "externalIPs": ["0.0.0.0"]},
            "spec.externalIPs[0]",
            "may not be unspecified (0.0.0.0)",
        ),
        (
            {"ports": [PORT], "externalIPs": ["fe80::1"]},
            "spec.externalIPs[0]",
            "link-local range",
        ),
        (
            {"ports": [PORT], "externalIPs": ["224.0.0.5"]},
            "spec.externalIPs[0]",
            "link-local multicast range",
        ),
        (
            {"ports": [PORT], "externalIPs": ["ff02::2"]},
            "spec.externalIPs[0]",
            "link-local multicast range",
        ),
        ({"ports": [PORT], "sessionAffinity": "Sticky"}, "spec.sessionAffinity", '"Sticky"'),
        (
            {
                "ports": [PORT],
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}},
            },
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            "must be greater than 0",
        ),
        (
            {"type": "NodePort", "ports": [PORT], "externalTrafficPolicy": "Everywhere"},
            "spec.externalTrafficPolicy",
            '"Everywhere"',
        ),
        (
            {"type": "LoadBalancer", "ports": [PORT], "healthCheckNodePort": 32000},
            "spec.healthCheckNodePort",
            "'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
        (
            {
                "type": "LoadBalancer",
                "ports": [PORT],
                "externalTrafficPolicy": "Local",
                "healthCheckNodePort": 70000,
            },
            "spec.healthCheckNodePort",
            "between 1 and 65535",
        ),
        (
            {"type": "LoadBalancer", "ports": [PORT], "loadBalancerClass": "not valid"},
            "spec.loadBalancerClass",
            "name part must consist",
        ),
        (
            {"ports": [PORT], "internalTrafficPolicy": "Node"},
            "spec.internalTrafficPolicy",
            '"Node"',
        ),
        ({"ports": [PORT], "trafficDistribution": "Nearby"}, "spec.trafficDistribution", "Nearby"),
        (
            {"ports": [{"port": 80, "appProtocol": "-bad"}]},
            "spec.ports[0].appProtocol",
            "name part must consist",
        ),
    ],
)
def test_invalid_services(spec: dict[str, Any], path: str, text: str) -> None:
    svc = service(spec)
    assert has_problem(svc, path, text), problems(svc)


def test_service_names_are_dns_1035_labels() -> None:
    # A valid DNS-1123 label that starts with a digit is still no Service name.
    assert problems(service({"ports": [PORT]}, name="web-1")) == []
    bad = service({"ports": [PORT]}, name="1web")
    assert has_problem(bad, "metadata.name", "a DNS-1035 label must consist of")


@pytest.mark.parametrize(
    ("status", "path", "text"),
    [
        ({"ingress": [{"ip": "203.0.113.300"}]}, "status.loadBalancer.ingress[0].ip", "valid IP"),
        (
            {"ingress": [{"hostname": "lb.example", "ipMode": "VIP"}]},
            "status.loadBalancer.ingress[0].ipMode",
            "may not be specified when `ip` is not set",
        ),
        (
            {"ingress": [{"ip": "203.0.113.3", "ipMode": "Direct"}]},
            "status.loadBalancer.ingress[0].ipMode",
            '"Direct"',
        ),
        (
            {"ingress": [{"hostname": "203.0.113.3"}]},
            "status.loadBalancer.ingress[0].hostname",
            "must be a DNS name, not an IP address",
        ),
    ],
)
def test_invalid_load_balancer_status(status: dict[str, Any], path: str, text: str) -> None:
    svc = service({"type": "LoadBalancer", "ports": [PORT]}, status={"loadBalancer": status})
    assert has_problem(svc, path, text), problems(svc)


def test_load_balancer_status_only_on_load_balancers() -> None:
    svc = service({"ports": [PORT]}, status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    assert has_problem(svc, "status.loadBalancer.ingress", "may only be used when `spec.type`")


def test_every_problem_is_reported_at_once() -> None:
    svc = service({"type": "Bogus", "sessionAffinity": "Sticky", "ports": [{"port": 0}]})
    paths = {cause.path for cause in problems_of(svc)}
    assert {"spec.type", "spec.sessionAffinity", "spec.ports[0].port"} <= paths


# --- wire format -----------------------------------------------------------------------------


def test_service_wire_names() -> None:
    svc = service(
        {
            "clusterIP": "10.96.0.9",
            "clusterIPs": ["10.96.0.9"],
            "externalIPs": ["198.51.100.1"],
            "loadBalancerIP": "198.51.100.2",
            "ipFamilies": ["IPv4"],
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30001}],
        }
    )
    assert svc.spec.cluster_ips == ("10.96.0.9",)
    assert svc.spec.external_ips == ("198.51.100.1",)
    assert svc.spec.load_balancer_ip == "198.51.100.2"
    assert svc.spec.ports[0].target_port == 8080
    assert to_dict(svc)["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "nodePort": 30001}]


def test_target_port_keeps_int_and_string_apart() -> None:
    numeric = service({"ports": [{"port": 80, "targetPort": 8080}]})
    named = service({"ports": [{"port": 80, "targetPort": "8080x"}]})
    assert to_dict(numeric)["spec"]["ports"][0]["targetPort"] == 8080
    assert to_dict(named)["spec"]["ports"][0]["targetPort"] == "8080x"


def test_registry_entries() -> None:
    assert (info_for(Service).plural, info_for(Service).short_names) == ("services", ("svc",))
    assert info_for(Service).namespaced and info_for(Service).has_status
    assert (info_for(Endpoints).plural, info_for(Endpoints).has_status) == ("endpoints", False)


# --- field selectors -------------------------------------------------------------------------


def test_service_selectable_fields() -> None:
    svc = service({"clusterIP": "10.96.0.9", "type": "NodePort", "ports": [PORT]})
    assert fields_of(svc, ["spec.clusterIP", "spec.type", "metadata.name"]) == {
        "spec.clusterIP": "10.96.0.9",
        "spec.type": "NodePort",
        "metadata.name": "web",
    }
    with pytest.raises(errors.InvalidArgumentError, match=r"spec\.selector"):
        fields_of(svc, ["spec.selector"])


def test_endpoints_have_only_metadata_fields() -> None:
    assert sorted(fields_of(endpoints([]))) == ["metadata.name", "metadata.namespace"]


# --- Endpoints -------------------------------------------------------------------------------


def test_endpoint_port_protocol_defaults_to_tcp() -> None:
    ep = endpoints([{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}])
    defaulted = apply_defaults(ep)
    assert to_dict(defaulted)["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert apply_defaults(defaulted) is defaulted
    empty = endpoints([])
    assert apply_defaults(empty) is empty


@pytest.mark.parametrize(
    ("subset", "path", "text"),
    [
        ({"ports": [PORT]}, "subsets[0]", "must specify `addresses` or `notReadyAddresses`"),
        ({"addresses": [{"ip": "::1"}]}, "subsets[0].addresses[0].ip", "loopback range"),
        ({"notReadyAddresses": [{"ip": "x"}]}, "subsets[0].notReadyAddresses[0].ip", "valid IP"),
        (
            {"addresses": [{"ip": "10.0.0.1", "nodeName": "Node_1"}]},
            "subsets[0].addresses[0].nodeName",
            "RFC 1123 subdomain",
        ),
        (
            {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 1}, {"name": "b", "port": 2}]},
            "subsets[0].ports[0].name",
            "Required value",
        ),
        (
            {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "tcp"}]},
            "subsets[0].ports[0].protocol",
            '"tcp"',
        ),
    ],
)
def test_invalid_endpoints(subset: dict[str, Any], path: str, text: str) -> None:
    ep = endpoints([subset])
    assert has_problem(ep, path, text), problems(ep)


def test_valid_endpoints_without_ports() -> None:
    # A headless service's endpoints may have addresses and no ports.
    assert problems(endpoints([{"addresses": [{"ip": "fd00::5", "hostname": "etcd-0"}]}])) == []
