"""Validation of pods, pod specs and pod templates (Kubernetes' ValidatePodSpec and friends).

``validate_pod_spec`` and ``validate_pod_template_spec`` are what workload kinds call on their
templates; ``validate_pod`` is the Pod kind's check (``core_pod`` registers it). The rules for
one container, one volume and the scheduling constraints live in the sibling
``core_pod_validation_*`` modules; this one holds the pod-wide rules: the container lists,
host networking, DNS, security context, resource claims, the OS, and a Pod's status.

Objects are validated as a user submits them, before defaulting, so fields defaulting fills
(``restartPolicy``, ``dnsPolicy``, ``terminationGracePeriodSeconds``...) are not required but
are checked when set. Where Kubernetes validates a field on create only (a pod may not be
created with ephemeral containers) kcore does not, since ``validate`` sees stored pods too.

This module imports the pod types only for type checking: ``core_pod`` imports it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from kcore import errors
from kcore.objects import names
from kcore.objects.kinds.core_pod_container import (
    CONTAINER_RESTART_POLICIES,
    Container,
    ResourceRequirements,
)
from kcore.objects.kinds.core_pod_validation_container import (
    validate_container_common,
    validate_lifecycle,
    validate_probe,
)
from kcore.objects.kinds.core_pod_validation_fields import (
    DEFAULT_GRACE_PERIOD_SECONDS,
    not_found,
    validate_resource_requirements,
)
from kcore.objects.kinds.core_pod_validation_scheduling import (
    validate_affinity,
    validate_tolerations,
    validate_topology_spread_constraints,
)
from kcore.objects.kinds.core_pod_validation_security import (
    validate_os,
    validate_pod_security_context,
)
from kcore.objects.kinds.core_pod_validation_volumes import validate_volumes
from kcore.objects.kinds.core_pod_volumes import Volume
from kcore.objects.validation import Problems, validate_labels

if TYPE_CHECKING:
    from kcore.objects.kinds.core_pod import Pod, PodSpec, PodStatus, PodTemplateSpec

__all__ = [
    "DNS_POLICIES",
    "PREEMPTION_POLICIES",
    "RESTART_POLICIES",
    "validate_pod",
    "validate_pod_spec",
    "validate_pod_template_spec",
]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
MAX_INT32 = 2**31 - 1
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_CHARS = 2048
# Conditions the kubelet and scheduler own; other condition types must be qualified names.
SYSTEM_CONDITIONS = ("PodScheduled", "Ready", "Initialized")
# Containers may not set these (an allow-list in Kubernetes: new fields start forbidden).
_EPHEMERAL_FORBIDDEN = (
    ("ports", "ports"),
    ("resources", "resources"),
    ("resize_policy", "resizePolicy"),
    ("restart_policy", "restartPolicy"),
    ("restart_policy_rules", "restartPolicyRules"),
    ("liveness_probe", "livenessProbe"),
    ("readiness_probe", "readinessProbe"),
    ("startup_probe", "startupProbe"),
    ("lifecycle", "lifecycle"),
)
_SEARCH_LABEL = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SEARCH_DOMAIN = re.compile(_SEARCH_LABEL + r"(\." + _SEARCH_LABEL + ")*")


def validate_pod(pod: Pod, problems: Problems) -> None:
    """A Pod's spec, the rules only real pods follow, and its status."""
    spec = pod.spec
    _validate_spec(spec, "spec", problems, for_pod=True, pod_name=pod.metadata.name)
    for containers, where in (
        (spec.containers, "containers"),
        (spec.init_containers, "initContainers"),
        (spec.ephemeral_containers, "ephemeralContainers"),
    ):
        for i, container in enumerate(containers):
            if container.image != container.image.strip():
                problems.invalid(
                    f"spec.{where}[{i}].image",
                    container.image,
                    "must not have leading or trailing whitespace",
                )
    if spec.node_name and spec.scheduling_gates:
        problems.forbidden(
            "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
        )
    _validate_status(pod.status, problems)


def validate_pod_spec(spec: PodSpec, path: str, problems: Problems) -> None:
    """Kubernetes' ValidatePodSpec at ``path`` (e.g. ``spec.template.spec``)."""
    _validate_spec(spec, path, problems, for_pod=False, pod_name="")


def validate_pod_template_spec(template: PodTemplateSpec, path: str, problems: Problems) -> None:
    """Labels and annotations of the template's metadata and its pod spec, at ``path``."""
    validate_labels(template.metadata.labels, f"{path}.labels", problems)
    for key in template.metadata.annotations:
        problems.from_messages(f"{path}.annotations", key, names.is_annotation_key(key))
    for message in names.validate_annotations_size(template.metadata.annotations):
        problems.causes.append(
            errors.FieldError(
                f"{path}.annotations", f"Too long: {message}", None, "FieldValueTooLong"
            )
        )
    validate_pod_spec(template.spec, f"{path}.spec", problems)
    if template.spec.ephemeral_containers:
        problems.forbidden(
            f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"
        )


def _validate_spec(
    spec: PodSpec, path: str, problems: Problems, *, for_pod: bool, pod_name: str
) -> None:
    grace = spec.termination_grace_period_seconds
    problems.non_negative(f"{path}.terminationGracePeriodSeconds", grace)
    hook_grace = DEFAULT_GRACE_PERIOD_SECONDS if grace is None else grace
    volumes = validate_volumes(
        spec.volumes, f"{path}.volumes", problems, for_pod=for_pod, pod_name=pod_name
    )
    claim_names = _validate_resource_claims(spec, f"{path}.resourceClaims", problems)
    host_users = spec.host_users is None or spec.host_users
    context = _PodContext(volumes, claim_names, spec.restart_policy, host_users, hook_grace)
    _validate_containers(spec.containers, f"{path}.containers", problems, context)
    _validate_init_containers(spec, f"{path}.initContainers", problems, context)
    _validate_ephemeral_containers(spec, f"{path}.ephemeralContainers", problems, context)
    if spec.resources is not None:
        validate_resource_requirements(
            spec.resources, f"{path}.resources", problems, pod_level=True
        )
    _validate_host_network_ports(spec, path, problems)
    problems.enum(f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES)
    problems.enum(f"{path}.dnsPolicy", spec.dns_policy, DNS_POLICIES)
    validate_labels(spec.node_selector, f"{path}.nodeSelector", problems)
    validate_pod_security_context(spec, path, problems)
    validate_affinity(spec.affinity, f"{path}.affinity", problems)
    _validate_dns_config(spec, f"{path}.dnsConfig", problems)
    _validate_gates(spec, path, problems)
    validate_topology_spread_constraints(
        spec.topology_spread_constraints, f"{path}.topologySpreadConstraints", problems
    )
    if not host_users:
        for enabled, where in (
            (spec.host_network, "hostNetwork"),
            (spec.host_pid, "hostPID"),
            (spec.host_ipc, "hostIPC"),
        ):
            if enabled:
                problems.forbidden(f"{path}.{where}", "when `pod.Spec.HostUsers` is false")
    _validate_names_and_ranges(spec, path, problems)
    validate_tolerations(spec.tolerations, f"{path}.tolerations", problems)
    if spec.preemption_policy is not None:
        if not spec.preemption_policy:
            problems.required(f"{path}.preemptionPolicy")
        problems.enum(f"{path}.preemptionPolicy", spec.preemption_policy, PREEMPTION_POLICIES)
    if spec.overhead:
        overhead = ResourceRequirements(limits=spec.overhead)
        validate_resource_requirements(overhead, f"{path}.overhead", problems)
    validate_os(spec, path, problems)


def _validate_host_network_ports(spec: PodSpec, path: str, problems: Problems) -> None:
    if not spec.host_network:
        return
    for i, container in enumerate(spec.containers):
        for j, port in enumerate(container.ports):
            # 0 is fine: defaulting copies containerPort into hostPort for a Pod.
            if port.host_port not in (0, port.container_port):
                problems.invalid(
                    f"{path}.containers[{i}].ports[{j}].hostPort",
                    port.host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                )


def _validate_gates(spec: PodSpec, path: str, problems: Problems) -> None:
    for i, gate in enumerate(spec.readiness_gates):
        at = f"{path}.readinessGates[{i}].conditionType"
        problems.from_messages(
            at, gate.condition_type, names.is_qualified_name(gate.condition_type)
        )
    seen: set[str] = set()
    for i, scheduling_gate in enumerate(spec.scheduling_gates):
        at = f"{path}.schedulingGates[{i}]"
        name = scheduling_gate.name
        problems.from_messages(at, name, names.is_qualified_name(name))
        if name in seen:
            problems.duplicate(at, name)
        seen.add(name)


def _validate_names_and_ranges(spec: PodSpec, path: str, problems: Problems) -> None:
    """Object names the spec refers to, its DNS names, host aliases and the deadline."""
    for value, where in (
        (spec.service_account_name, "serviceAccountName"),
        (spec.node_name, "nodeName"),
        (spec.priority_class_name, "priorityClassName"),
        (spec.runtime_class_name, "runtimeClassName"),
    ):
        if value:
            problems.from_messages(f"{path}.{where}", value, names.is_dns1123_subdomain(value))
    for value, where in ((spec.hostname, "hostname"), (spec.subdomain, "subdomain")):
        if value:
            problems.from_messages(f"{path}.{where}", value, names.is_dns1123_label(value))
    deadline = spec.active_deadline_seconds
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        problems.invalid(
            f"{path}.activeDeadlineSeconds", deadline, names.inclusive_range_error(1, MAX_INT32)
        )
    for i, alias in enumerate(spec.host_aliases):
        problems.from_messages(f"{path}.hostAliases[{i}].ip", alias.ip, names.is_valid_ip(alias.ip))
        for j, hostname in enumerate(alias.hostnames):
            problems.from_messages(
                f"{path}.hostAliases[{i}].hostnames[{j}]",
                hostname,
                names.is_dns1123_subdomain(hostname),
            )


def _validate_resource_claims(spec: PodSpec, path: str, problems: Problems) -> set[str]:
    claim_names: set[str] = set()
    for i, claim in enumerate(spec.resource_claims):
        at = f"{path}[{i}]"
        if not claim.name:
            problems.required(f"{at}.name")
        elif claim.name in claim_names:
            problems.duplicate(f"{at}.name", claim.name)
        else:
            problems.from_messages(f"{at}.name", claim.name, names.is_dns1123_label(claim.name))
            claim_names.add(claim.name)
        by_name, by_template = claim.resource_claim_name, claim.resource_claim_template_name
        if by_name is not None and by_template is not None:
            problems.invalid(
                at,
                claim.name,
                "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be "
                "specified",
            )
        if by_name is None and by_template is None:
            problems.invalid(
                at,
                claim.name,
                "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`",
            )
        for value, where in (
            (by_name, "resourceClaimName"),
            (by_template, "resourceClaimTemplateName"),
        ):
            if value is not None:
                problems.from_messages(f"{at}.{where}", value, names.is_dns1123_subdomain(value))
    return claim_names


# --- containers ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _PodContext:
    """What checking one container needs to know about its pod."""

    volumes: Mapping[str, Volume]
    claim_names: Collection[str]
    restart_policy: str
    host_users: bool
    grace: int  # terminationGracePeriodSeconds, as defaulting would leave it

    def check(self, container: Container, path: str, problems: Problems) -> None:
        validate_container_common(
            container,
            path,
            problems,
            volumes=self.volumes,
            claim_names=self.claim_names,
            pod_restart_policy=self.restart_policy,
            host_users=self.host_users,
        )

    def check_probes_and_hooks(self, container: Container, path: str, problems: Problems) -> None:
        if container.lifecycle is not None:
            validate_lifecycle(container.lifecycle, f"{path}.lifecycle", problems, self.grace)
        for probe, kind in (
            (container.liveness_probe, "liveness"),
            (container.readiness_probe, "readiness"),
            (container.startup_probe, "startup"),
        ):
            validate_probe(probe, kind, f"{path}.{kind}Probe", problems, self.grace)


def _check_host_ports(containers: Sequence[Container], path: str, problems: Problems) -> None:
    """No two ports may claim the same protocol, host IP and host port."""
    taken: set[str] = set()
    for i, container in enumerate(containers):
        for j, port in enumerate(container.ports):
            if not port.host_port:
                continue
            key = f"{port.protocol or 'TCP'}/{port.host_ip}/{port.host_port}"
            if key in taken:
                problems.duplicate(f"{path}[{i}].ports[{j}].hostPort", key)
            taken.add(key)


def _validate_containers(
    containers: Sequence[Container], path: str, problems: Problems, context: _PodContext
) -> None:
    if not containers:
        problems.required(path)
        return
    seen: set[str] = set()
    for i, container in enumerate(containers):
        at = f"{path}[{i}]"
        context.check(container, at, problems)
        if container.name in seen:
            problems.duplicate(f"{at}.name", container.name)
        seen.add(container.name)
        context.check_probes_and_hooks(container, at, problems)
        if container.restart_policy is not None:
            problems.forbidden(f"{at}.restartPolicy", "may not be set for non-init containers")
    _check_host_ports(containers, path, problems)


def _validate_init_containers(
    spec: PodSpec, path: str, problems: Problems, context: _PodContext
) -> None:
    seen = {container.name for container in spec.containers}
    for i, container in enumerate(spec.init_containers):
        at = f"{path}[{i}]"
        context.check(container, at, problems)
        sidecar = container.restart_policy == "Always"
        if container.restart_policy is not None:
            problems.enum(
                f"{at}.restartPolicy", container.restart_policy, CONTAINER_RESTART_POLICIES
            )
        if container.name in seen:
            problems.duplicate(f"{at}.name", container.name)
        elif container.name:
            seen.add(container.name)
        # Init containers run one at a time, so only ports within one container can clash.
        _check_host_ports([container], path, problems)
        if sidecar:
            context.check_probes_and_hooks(container, at, problems)
            continue
        for value, where in (
            (container.lifecycle, "lifecycle"),
            (container.liveness_probe, "livenessProbe"),
            (container.readiness_probe, "readinessProbe"),
            (container.startup_probe, "startupProbe"),
        ):
            if value is not None:
                problems.forbidden(
                    f"{at}.{where}",
                    "may not be set for init containers without restartPolicy=Always",
                )


def _validate_ephemeral_containers(
    spec: PodSpec, path: str, problems: Problems, context: _PodContext
) -> None:
    others = {c.name for c in (*spec.containers, *spec.init_containers)}
    seen = set(others)
    for i, container in enumerate(spec.ephemeral_containers):
        at = f"{path}[{i}]"
        context.check(container, at, problems)
        if container.name in seen:
            problems.duplicate(f"{at}.name", container.name)
        seen.add(container.name)
        target = container.target_container_name
        if target and target not in others:
            not_found(problems, f"{at}.targetContainerName", target)
        for attribute, where in _EPHEMERAL_FORBIDDEN:
            value = getattr(container, attribute)
            if value is not None and value != type(value)():
                problems.forbidden(f"{at}.{where}", "cannot be set for an Ephemeral Container")
        for j, mount in enumerate(container.volume_mounts):
            for value, where in ((mount.sub_path, "subPath"), (mount.sub_path_expr, "subPathExpr")):
                if value:
                    problems.forbidden(
                        f"{at}.volumeMounts[{j}].{where}",
                        "cannot be set for an Ephemeral Container",
                    )


# --- pod-wide settings ---------------------------------------------------------------------


def _validate_dns_config(spec: PodSpec, path: str, problems: Problems) -> None:
    config = spec.dns_config
    if spec.dns_policy == "None":
        if config is None:
            problems.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")
            return
        if not config.nameservers:
            problems.required(
                f"{path}.nameservers",
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )
            return
    if config is None:
        return
    if len(config.nameservers) > MAX_DNS_NAMESERVERS:
        problems.invalid(
            f"{path}.nameservers",
            list(config.nameservers),
            f"must not have more than {MAX_DNS_NAMESERVERS} nameservers",
        )
    for i, server in enumerate(config.nameservers):
        problems.from_messages(f"{path}.nameservers[{i}]", server, names.is_valid_ip(server))
    if len(config.searches) > MAX_DNS_SEARCH_PATHS:
        problems.invalid(
            f"{path}.searches",
            list(config.searches),
            f"must not have more than {MAX_DNS_SEARCH_PATHS} search paths",
        )
    if len(" ".join(config.searches)) > MAX_DNS_SEARCH_CHARS:
        problems.invalid(
            f"{path}.searches",
            list(config.searches),
            f"must not have more than {MAX_DNS_SEARCH_CHARS} characters (including spaces) in "
            "the search list",
        )
    for i, search in enumerate(config.searches):
        domain = search if search == "." else search.removesuffix(".")
        if domain != "." and (_SEARCH_DOMAIN.fullmatch(domain) is None or len(domain) > 253):
            problems.invalid(
                f"{path}.searches[{i}]",
                search,
                names.regex_error(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character",
                    _SEARCH_DOMAIN.pattern,
                    "example.com",
                ),
            )
    for i, option in enumerate(config.options):
        if not option.name:
            problems.required(f"{path}.options[{i}]", "must not be empty")


# --- status --------------------------------------------------------------------------------


def _validate_status(status: PodStatus, problems: Problems) -> None:
    """What a Pod's status must satisfy (Kubernetes checks it on status updates)."""
    for i, condition in enumerate(status.conditions):
        if condition.type not in SYSTEM_CONDITIONS:
            problems.from_messages(
                f"status.conditions[{i}].type",
                condition.type,
                names.is_qualified_name(condition.type),
            )
    if status.nominated_node_name:
        problems.from_messages(
            "status.nominatedNodeName",
            status.nominated_node_name,
            names.is_dns1123_subdomain(status.nominated_node_name),
        )
    _validate_ips([ip.ip for ip in status.pod_ips], "status.podIPs", problems)
    host_ips = [ip.ip for ip in status.host_ips]
    if host_ips and host_ips[0] != status.host_ip:
        problems.invalid("status.hostIPs[0].ip", host_ips[0], "must be equal to `hostIP`")
    _validate_ips(host_ips, "status.hostIPs", problems)


def _validate_ips(ips: Sequence[str], path: str, problems: Problems) -> None:
    """Valid addresses, no duplicates, at most one per IP family (dual stack)."""
    families: list[int] = []
    for i, ip in enumerate(ips):
        messages = names.is_valid_ip(ip)
        problems.from_messages(f"{path}[{i}]", ip, messages)
        if not messages:
            families.append(6 if ":" in ip else 4)
        if ip in ips[:i]:
            problems.duplicate(f"{path}[{i}]", ip)
    if len(ips) > 2 or (len(ips) == 2 and len(set(families)) != 2):
        problems.invalid(path, list(ips), "may specify no more than one IP for each IP family")
