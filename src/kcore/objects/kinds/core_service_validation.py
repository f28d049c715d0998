"""Validation of core/v1 Service and Endpoints (registered when ``core_service`` is imported).

A Service is checked as its author wrote it, before defaults, so rules that depend on defaulted
fields read the *effective* value: ``type`` unset means ClusterIP, a port's protocol unset means
TCP, a ``targetPort`` of 0 or "" means "the service port", and a ``clusterIP`` given without
``clusterIPs`` stands for ``clusterIPs[0]``. Field paths are the v1 names the author wrote
(``spec.loadBalancerSourceRanges``), also where kube-apiserver's own paths are spelled otherwise.
"""

from __future__ import annotations

import ipaddress

from kcore.objects import names
from kcore.objects.intstr import IntOrString
from kcore.objects.kinds.core_service import (
    CLUSTER_IP_NONE,
    IP_FAMILIES,
    IP_FAMILY_POLICIES,
    LOAD_BALANCER_IP_MODES,
    MAX_CLIENT_IP_TIMEOUT_SECONDS,
    PROTOCOLS,
    SERVICE_TYPES,
    SESSION_AFFINITIES,
    TRAFFIC_DISTRIBUTIONS,
    TRAFFIC_POLICIES,
    EndpointAddress,
    EndpointPort,
    Endpoints,
    Service,
    ServiceSpec,
    externally_accessible,
    is_headless,
    validate_non_special_ip,
)
from kcore.objects.validation import Problems, validate_labels, validates

__all__: list[str] = []  # registers checks; nothing to import from here


# --- Service validation ----------------------------------------------------------------------


def _validate_app_protocol(value: str | None, path: str, problems: Problems) -> None:
    if value is not None:
        problems.from_messages(path, value, names.is_qualified_name(value))


def _validate_port_name(name: str, path: str, problems: Problems) -> None:
    problems.from_messages(path, name, names.is_dns1123_label(name))


def _validate_ip(ip: str, path: str, problems: Problems) -> bool:
    messages = names.is_valid_ip(ip)
    problems.from_messages(path, ip, messages)
    return not messages


@validates(Service, name_rule=names.is_dns1035_label)
def _validate_service(service: Service, problems: Problems) -> None:
    spec = service.spec
    kind_of = spec.type or "ClusterIP"
    problems.enum("spec.type", spec.type, SERVICE_TYPES)
    if not spec.ports and not is_headless(spec) and kind_of != "ExternalName":
        problems.required("spec.ports")
    if kind_of in ("LoadBalancer", "NodePort") and is_headless(spec):
        at = "spec.clusterIP" if spec.cluster_ip else "spec.clusterIPs[0]"
        problems.invalid(at, CLUSTER_IP_NONE, f"may not be set to 'None' for {kind_of} services")
    if kind_of == "ExternalName":
        _validate_external_name(spec, problems)
    else:
        _validate_cluster_ips(spec, problems)
    _validate_service_ports(spec, kind_of, problems)
    validate_labels(spec.selector, "spec.selector", problems)
    _validate_session_affinity(spec, problems)
    for i, ip in enumerate(spec.external_ips):
        if _validate_ip(ip, f"spec.externalIPs[{i}]", problems):
            validate_non_special_ip(ip, f"spec.externalIPs[{i}]", problems)
    _validate_load_balancer_fields(spec, kind_of, problems)
    _validate_traffic_policies(spec, kind_of, problems)
    _validate_load_balancer_status(service, kind_of, problems)


def _validate_external_name(spec: ServiceSpec, problems: Problems) -> None:
    for path, value in (("spec.clusterIP", spec.cluster_ip), ("spec.clusterIPs", spec.cluster_ips)):
        if value:
            problems.forbidden(path, "may not be set for ExternalName services")
    if spec.ip_families:
        problems.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
    if spec.ip_family_policy is not None:
        problems.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
    # A trailing dot marks the name as fully qualified; it is not part of the DNS check.
    cname = spec.external_name.removesuffix(".")
    if not cname:
        problems.required("spec.externalName")
    else:
        problems.from_messages(
            "spec.externalName", spec.external_name, names.is_dns1123_subdomain(cname)
        )


def _validate_cluster_ips(spec: ServiceSpec, problems: Problems) -> None:
    ips = list(spec.cluster_ips)
    if ips and not spec.cluster_ip:
        problems.invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified")
    elif ips and ips[0] != spec.cluster_ip:
        problems.invalid("spec.clusterIPs", ips, "first value must match `clusterIP`")
    seen: set[str] = set()
    for i, family in enumerate(spec.ip_families):
        problems.enum(f"spec.ipFamilies[{i}]", family, IP_FAMILIES)
        if family in seen:
            problems.duplicate(f"spec.ipFamilies[{i}]", family)
        seen.add(family)
    problems.enum("spec.ipFamilyPolicy", spec.ip_family_policy, IP_FAMILY_POLICIES)
    # Before defaulting an author may give only clusterIP; it stands for clusterIPs[0].
    paths = [f"spec.clusterIPs[{i}]" for i in range(len(ips))]
    if not ips and spec.cluster_ip:
        ips, paths = [spec.cluster_ip], ["spec.clusterIP"]
    bad_ips = False
    for i, (ip, path) in enumerate(zip(ips, paths, strict=True)):
        if ip == CLUSTER_IP_NONE and i == 0:
            if len(ips) > 1:
                bad_ips = True
                problems.invalid("spec.clusterIPs", ips, "'None' must be the first and only value")
            continue
        bad_ips = not _validate_ip(ip, path, problems) or bad_ips
    if len(ips) > 2:
        problems.invalid("spec.clusterIPs", ips, "may only hold up to 2 values")
    if bad_ips or ips == [CLUSTER_IP_NONE]:
        return  # family checks on malformed or absent addresses would only add noise
    if len(ips) == 2 and _version(ips[0]) == _version(ips[1]):
        problems.invalid(
            "spec.clusterIPs", ips, "may specify no more than one IP for each IP family"
        )
    for i, (ip, family, path) in enumerate(zip(ips, spec.ip_families, paths, strict=False)):
        expected = "IPv6" if _version(ip) == 6 else "IPv4"
        if family in IP_FAMILIES and family != expected:
            problems.invalid(
                path, ip, f"expected an {family} value as indicated by `ipFamilies[{i}]`"
            )


def _version(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def _validate_service_ports(spec: ServiceSpec, kind_of: str, problems: Problems) -> None:
    require_names = len(spec.ports) > 1
    port_names: set[str] = set()
    node_ports: set[tuple[str, int]] = set()
    ports: set[tuple[str, int]] = set()
    for i, port in enumerate(spec.ports):
        at = f"spec.ports[{i}]"
        if not port.name:
            if require_names:
                problems.required(f"{at}.name")
        else:
            _validate_port_name(port.name, f"{at}.name", problems)
            if port.name in port_names:
                problems.duplicate(f"{at}.name", port.name)
            port_names.add(port.name)
        problems.from_messages(f"{at}.port", port.port, names.is_valid_port_num(port.port))
        problems.enum(f"{at}.protocol", port.protocol, PROTOCOLS)
        _validate_target_port(port.target_port, f"{at}.targetPort", problems)
        _validate_app_protocol(port.app_protocol, f"{at}.appProtocol", problems)
        protocol = port.protocol or "TCP"
        if port.node_port:
            if kind_of == "ClusterIP":
                problems.forbidden(f"{at}.nodePort", "may not be used when `type` is 'ClusterIP'")
            problems.port(f"{at}.nodePort", port.node_port)
            if (protocol, port.node_port) in node_ports:
                problems.duplicate(f"{at}.nodePort", port.node_port)
            node_ports.add((protocol, port.node_port))
        if (protocol, port.port) in ports:
            problems.duplicate(at, {"port": port.port, "protocol": protocol})
        ports.add((protocol, port.port))


def _validate_target_port(target: IntOrString | None, path: str, problems: Problems) -> None:
    # 0 and "" mean "unset": defaulting makes the target the service port.
    if isinstance(target, int) and target != 0:
        problems.from_messages(path, target, names.is_valid_port_num(target))
    elif isinstance(target, str) and target:
        problems.from_messages(path, target, names.is_valid_port_name(target))


def _validate_session_affinity(spec: ServiceSpec, problems: Problems) -> None:
    problems.enum("spec.sessionAffinity", spec.session_affinity, SESSION_AFFINITIES)
    config = spec.session_affinity_config
    if spec.session_affinity != "ClientIP" or config is None or config.client_ip is None:
        return  # defaulting fills the ClientIP timeout, and drops the config for "None"
    timeout = config.client_ip.timeout_seconds
    if timeout is not None and not 0 < timeout <= MAX_CLIENT_IP_TIMEOUT_SECONDS:
        problems.invalid(
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            timeout,
            f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT_SECONDS}",
        )


def _validate_load_balancer_fields(spec: ServiceSpec, kind_of: str, problems: Problems) -> None:
    only_lb = "may only be used when `type` is 'LoadBalancer'"
    is_lb = kind_of == "LoadBalancer"
    if spec.load_balancer_source_ranges:
        if not is_lb:
            problems.forbidden("spec.loadBalancerSourceRanges", only_lb)
        for i, cidr in enumerate(spec.load_balancer_source_ranges):
            # Space padding is tolerated: values once came from a comma-separated annotation.
            problems.from_messages(
                f"spec.loadBalancerSourceRanges[{i}]", cidr, names.is_valid_cidr(cidr.strip())
            )
    if spec.allocate_load_balancer_node_ports is not None and not is_lb:
        problems.forbidden("spec.allocateLoadBalancerNodePorts", only_lb)
    if spec.load_balancer_class is not None:
        if is_lb:
            problems.from_messages(
                "spec.loadBalancerClass",
                spec.load_balancer_class,
                names.is_qualified_name(spec.load_balancer_class),
            )
        else:
            problems.forbidden("spec.loadBalancerClass", only_lb)


def _validate_traffic_policies(spec: ServiceSpec, kind_of: str, problems: Problems) -> None:
    policy = spec.external_traffic_policy
    if policy and not externally_accessible(spec):
        problems.invalid(
            "spec.externalTrafficPolicy",
            policy,
            "may only be set for externally-accessible services",
        )
    else:
        problems.enum("spec.externalTrafficPolicy", policy, TRAFFIC_POLICIES)
    if spec.health_check_node_port:
        # Only a load balancer sending traffic to local endpoints needs a health check.
        if kind_of != "LoadBalancer" or policy != "Local":
            problems.invalid(
                "spec.healthCheckNodePort",
                spec.health_check_node_port,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
                "'Local'",
            )
        else:
            problems.port("spec.healthCheckNodePort", spec.health_check_node_port)
    problems.enum("spec.internalTrafficPolicy", spec.internal_traffic_policy, TRAFFIC_POLICIES)
    problems.enum("spec.trafficDistribution", spec.traffic_distribution, TRAFFIC_DISTRIBUTIONS)


def _validate_load_balancer_status(service: Service, kind_of: str, problems: Problems) -> None:
    ingress = service.status.load_balancer.ingress
    if ingress and kind_of != "LoadBalancer":
        problems.forbidden(
            "status.loadBalancer.ingress", "may only be used when `spec.type` is 'LoadBalancer'"
        )
        return
    for i, entry in enumerate(ingress):
        at = f"status.loadBalancer.ingress[{i}]"
        if entry.ip:
            _validate_ip(entry.ip, f"{at}.ip", problems)
        if entry.ip_mode is not None:
            if not entry.ip:
                problems.forbidden(f"{at}.ipMode", "may not be specified when `ip` is not set")
            else:
                problems.enum(f"{at}.ipMode", entry.ip_mode, LOAD_BALANCER_IP_MODES)
        if entry.hostname:
            problems.from_messages(
                f"{at}.hostname", entry.hostname, names.is_dns1123_subdomain(entry.hostname)
            )
            if not names.is_valid_ip(entry.hostname):
                problems.invalid(
                    f"{at}.hostname", entry.hostname, "must be a DNS name, not an IP address"
                )


# --- Endpoints validation ---------------------------------------------------------------------


@validates(Endpoints)
def _validate_endpoints(endpoints: Endpoints, problems: Problems) -> None:
    for i, subset in enumerate(endpoints.subsets):
        at = f"subsets[{i}]"
        # Ports may be absent (headless services), addresses may not.
        if not subset.addresses and not subset.not_ready_addresses:
            problems.required(at, "must specify `addresses` or `notReadyAddresses`")
        for j, address in enumerate(subset.addresses):
            _validate_endpoint_address(address, f"{at}.addresses[{j}]", problems)
        for j, address in enumerate(subset.not_ready_addresses):
            _validate_endpoint_address(address, f"{at}.notReadyAddresses[{j}]", problems)
        require_names = len(subset.ports) > 1
        for j, port in enumerate(subset.ports):
            _validate_endpoint_port(port, require_names, f"{at}.ports[{j}]", problems)


def _validate_endpoint_address(address: EndpointAddress, path: str, problems: Problems) -> None:
    if _validate_ip(address.ip, f"{path}.ip", problems):
        validate_non_special_ip(address.ip, f"{path}.ip", problems)
    if address.hostname:
        problems.from_messages(
            f"{path}.hostname", address.hostname, names.is_dns1123_label(address.hostname)
        )
    if address.node_name is not None:
        problems.from_messages(
            f"{path}.nodeName", address.node_name, names.is_dns1123_subdomain(address.node_name)
        )


def _validate_endpoint_port(
    port: EndpointPort, require_name: bool, path: str, problems: Problems
) -> None:
    if not port.name:
        if require_name:
            problems.required(f"{path}.name")
    else:
        _validate_port_name(port.name, f"{path}.name", problems)
    problems.from_messages(f"{path}.port", port.port, names.is_valid_port_num(port.port))
    problems.enum(f"{path}.protocol", port.protocol, PROTOCOLS)
    _validate_app_protocol(port.app_protocol, f"{path}.appProtocol", problems)
