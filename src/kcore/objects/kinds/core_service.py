"""core/v1 Service and Endpoints: how a set of pods is given one stable name and address.

This module declares the types, the defaults and the selectable fields; the validation rules
are in :mod:`.core_service_validation`, imported at the bottom so that importing this module
registers everything. The defaulter applies Kubernetes' SetDefaults_Service and, because kcore
has no separate registry strategy, the one strategy step every create performs: a ``clusterIP``
given alone is copied into ``clusterIPs``. Allocation (cluster IPs, node ports, health-check
ports) is the API layer's job, not this module's.

:func:`validate_non_special_ip`, :func:`is_headless` and :func:`externally_accessible` are
shared with EndpointSlices, the service proxy and the controllers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Final

from kcore.objects.defaults import changed, defaulter, map_items
from kcore.objects.fieldsets import selectable
from kcore.objects.intstr import IntOrString
from kcore.objects.meta import Condition, Object, ObjectReference
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems

__all__ = [
    "CLUSTER_IP_NONE",
    "IP_FAMILIES",
    "IP_FAMILY_POLICIES",
    "LOAD_BALANCER_IP_MODES",
    "PROTOCOLS",
    "SERVICE_TYPES",
    "SESSION_AFFINITIES",
    "TRAFFIC_DISTRIBUTIONS",
    "TRAFFIC_POLICIES",
    "ClientIPConfig",
    "EndpointAddress",
    "EndpointPort",
    "EndpointSubset",
    "Endpoints",
    "LoadBalancerIngress",
    "LoadBalancerStatus",
    "PortStatus",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "ServiceStatus",
    "SessionAffinityConfig",
    "externally_accessible",
    "is_headless",
    "validate_non_special_ip",
]

# Allowed values, sorted as Kubernetes lists them in "supported values" messages.
PROTOCOLS: Final = ("SCTP", "TCP", "UDP")
SERVICE_TYPES: Final = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES: Final = ("ClientIP", "None")
TRAFFIC_POLICIES: Final = ("Cluster", "Local")
IP_FAMILIES: Final = ("IPv4", "IPv6")
IP_FAMILY_POLICIES: Final = ("PreferDualStack", "RequireDualStack", "SingleStack")
LOAD_BALANCER_IP_MODES: Final = ("Proxy", "VIP")
TRAFFIC_DISTRIBUTIONS: Final = ("PreferClose", "PreferSameNode", "PreferSameZone")
CLUSTER_IP_NONE: Final = "None"
DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: Final = 10800  # three hours
MAX_CLIENT_IP_TIMEOUT_SECONDS: Final = 86400  # one day


# --- types -----------------------------------------------------------------------------------


@struct
class ServicePort:
    name: str = ""
    protocol: str = ""
    app_protocol: str | None = None
    port: int = field(default=0, omitempty=False)
    target_port: IntOrString | None = None
    node_port: int = 0


@struct
class ClientIPConfig:
    timeout_seconds: int | None = None


@struct
class SessionAffinityConfig:
    client_ip: ClientIPConfig | None = None


@struct
class ServiceSpec:
    ports: Sequence[ServicePort] = ()
    selector: Mapping[str, str] = {}
    cluster_ip: str = ""
    cluster_ips: Sequence[str] = ()
    type: str = ""
    external_ips: Sequence[str] = ()
    session_affinity: str = ""
    load_balancer_ip: str = ""  # deprecated, still served and read by some load balancers
    load_balancer_source_ranges: Sequence[str] = ()
    external_name: str = ""
    external_traffic_policy: str = ""
    health_check_node_port: int = 0
    publish_not_ready_addresses: bool = False
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: Sequence[str] = ()
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


@struct
class PortStatus:
    port: int = field(default=0, omitempty=False)
    protocol: str = field(default="", omitempty=False)
    error: str | None = None


@struct
class LoadBalancerIngress:
    ip: str = ""
    hostname: str = ""
    ip_mode: str | None = None
    ports: Sequence[PortStatus] = ()


@struct
class LoadBalancerStatus:
    ingress: Sequence[LoadBalancerIngress] = ()


@struct
class ServiceStatus:
    load_balancer: LoadBalancerStatus = LoadBalancerStatus()
    conditions: Sequence[Condition] = ()


@kind("v1", "Service", plural="services", short_names=("svc",))
class Service(Object):
    spec: ServiceSpec = ServiceSpec()
    status: ServiceStatus = ServiceStatus()


@struct
class EndpointAddress:
    ip: str = field(default="", omitempty=False)
    hostname: str = ""
    node_name: str | None = None
    target_ref: ObjectReference | None = None


@struct
class EndpointPort:
    name: str = ""
    port: int = field(default=0, omitempty=False)
    protocol: str = ""
    app_protocol: str | None = None


@struct
class EndpointSubset:
    addresses: Sequence[EndpointAddress] = ()
    not_ready_addresses: Sequence[EndpointAddress] = ()
    ports: Sequence[EndpointPort] = ()


@kind("v1", "Endpoints", plural="endpoints", short_names=("ep",))
class Endpoints(Object):
    subsets: Sequence[EndpointSubset] = ()


# --- shared checks ---------------------------------------------------------------------------


def validate_non_special_ip(ip: str, path: str, problems: Problems) -> None:
    """An address a service may route to: not unspecified, loopback or link-local.

    Such addresses mean "this host" or are used for node-local services (a cloud's metadata
    endpoint), so sending service traffic to them is never what was meant.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return  # the caller has reported the malformed address already
    if address.is_unspecified:
        problems.invalid(path, ip, f"may not be unspecified ({ip})")
    if address.is_loopback:
        problems.invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if address.is_link_local:
        problems.invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    if _is_link_local_multicast(address):
        problems.invalid(
            path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
        )


def _is_link_local_multicast(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv4Address):
        return address in ipaddress.IPv4Network("224.0.0.0/24")
    packed = address.packed
    return packed[0] == 0xFF and packed[1] & 0x0F == 0x02


def _effective_cluster_ips(spec: ServiceSpec) -> tuple[str, ...]:
    if spec.cluster_ips:
        return tuple(spec.cluster_ips)
    return (spec.cluster_ip,) if spec.cluster_ip else ()


def is_headless(spec: ServiceSpec) -> bool:
    """Whether the service has no cluster IP on purpose (``clusterIP: None``)."""
    return _effective_cluster_ips(spec) == (CLUSTER_IP_NONE,)


def externally_accessible(spec: ServiceSpec) -> bool:
    """Reachable from outside the cluster: node ports, a load balancer, or external IPs."""
    kind_of = spec.type or "ClusterIP"
    return kind_of in ("LoadBalancer", "NodePort") or (
        kind_of == "ClusterIP" and bool(spec.external_ips)
    )


# --- Service defaults ------------------------------------------------------------------------


def _default_service_port(port: ServicePort) -> ServicePort:
    port = changed(port, protocol="TCP")
    # 0 and "" are how an unset IntOrString reads; the pods' port defaults to the service's.
    if port.target_port in (None, 0, ""):
        port = evolve(port, target_port=port.port)
    return port


def _default_session_affinity(spec: ServiceSpec) -> ServiceSpec:
    spec = changed(spec, session_affinity="None")
    if spec.session_affinity == "None" and spec.session_affinity_config is not None:
        return evolve(spec, session_affinity_config=None)
    if spec.session_affinity == "ClientIP":
        config = spec.session_affinity_config
        client_ip = config.client_ip if config is not None else None
        if client_ip is None or client_ip.timeout_seconds is None:
            timeout = ClientIPConfig(timeout_seconds=DEFAULT_CLIENT_IP_TIMEOUT_SECONDS)
            return evolve(spec, session_affinity_config=SessionAffinityConfig(client_ip=timeout))
    return spec


def _default_service_spec(spec: ServiceSpec) -> ServiceSpec:
    spec = _default_session_affinity(spec)
    spec = changed(spec, type="ClusterIP")
    ports = map_items(spec.ports, _default_service_port)
    if ports is not None:
        spec = evolve(spec, ports=ports)
    if externally_accessible(spec):
        spec = changed(spec, external_traffic_policy="Cluster")
    if spec.type in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec = changed(spec, internal_traffic_policy="Cluster")
    if spec.type == "LoadBalancer":
        spec = changed(spec, allocate_load_balancer_node_ports=True)
    # What the API server's create strategy does for clients that only know clusterIP.
    if spec.cluster_ip and not spec.cluster_ips:
        spec = evolve(spec, cluster_ips=(spec.cluster_ip,))
    return spec


def _default_ingress(entry: LoadBalancerIngress) -> LoadBalancerIngress:
    if entry.ip and entry.ip_mode is None:
        return evolve(entry, ip_mode="VIP")
    return entry


@defaulter(Service)
def _default_service(service: Service) -> Service:
    spec = _default_service_spec(service.spec)
    if spec is not service.spec:
        service = evolve(service, spec=spec)
    if spec.type == "LoadBalancer":
        ingress = map_items(service.status.load_balancer.ingress, _default_ingress)
        if ingress is not None:
            service = evolve(service, status__load_balancer__ingress=ingress)
    return service


selectable(
    Service,
    {"spec.clusterIP": lambda o: o.spec.cluster_ip, "spec.type": lambda o: o.spec.type},
)


# --- Endpoints defaults ---------------------------------------------------------------------


def _default_endpoint_port(port: EndpointPort) -> EndpointPort:
    return changed(port, protocol="TCP")


def _default_subset(subset: EndpointSubset) -> EndpointSubset:
    ports = map_items(subset.ports, _default_endpoint_port)
    return subset if ports is None else evolve(subset, ports=ports)


@defaulter(Endpoints)
def _default_endpoints(endpoints: Endpoints) -> Endpoints:
    subsets = map_items(endpoints.subsets, _default_subset)
    return endpoints if subsets is None else evolve(endpoints, subsets=subsets)


# Validation needs the classes above, so it is imported (and registered) last.
from kcore.objects.kinds import core_service_validation  # noqa: E402, F401
