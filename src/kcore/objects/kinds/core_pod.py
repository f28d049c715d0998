"""core/v1 Pod, the pod template every workload kind embeds, and the pod spec and status.

This is the entry point for everything pod-shaped: it declares ``PodSpec``, ``PodStatus``,
``PodTemplateSpec`` and the ``Pod`` kind, re-exports the types its siblings declare
(containers and security contexts from ``core_pod_container``, volumes from
``core_pod_volumes``, node selectors, affinity, tolerations and taints from
``core_pod_scheduling``), and registers the Pod's validation, defaults and field selectors.
Importing it is enough: ``from kcore.objects.kinds.core_pod import PodSpec, Taint``.

Workload kinds use three functions on their templates: ``default_pod_spec(spec) -> spec``
(Kubernetes' SetDefaults_PodSpec and everything below it), ``validate_pod_spec(spec, path,
problems)`` and ``validate_pod_template_spec(template, path, problems)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from kcore.objects import fieldsets
from kcore.objects.defaults import defaulter
from kcore.objects.kinds.core_pod_container import (
    AppArmorProfile,
    Capabilities,
    ConfigMapEnvSource,
    ConfigMapKeySelector,
    Container,
    ContainerPort,
    ContainerResizePolicy,
    ContainerRestartRule,
    ContainerRestartRuleOnExitCodes,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    EphemeralContainer,
    ExecAction,
    FileKeySelector,
    GRPCAction,
    HTTPGetAction,
    HTTPHeader,
    Lifecycle,
    LifecycleHandler,
    ObjectFieldSelector,
    PodSecurityContext,
    Probe,
    ResourceClaim,
    ResourceFieldSelector,
    ResourceRequirements,
    SeccompProfile,
    SecretEnvSource,
    SecretKeySelector,
    SecurityContext,
    SELinuxOptions,
    SleepAction,
    Sysctl,
    TCPSocketAction,
    VolumeDevice,
    VolumeMount,
    WindowsSecurityContextOptions,
)
from kcore.objects.kinds.core_pod_defaults import (
    default_container,
    default_pod,
    default_pod_spec,
    pull_policy_for_image,
)
from kcore.objects.kinds.core_pod_scheduling import (
    Affinity,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodAffinity,
    PodAffinityTerm,
    PodAntiAffinity,
    PreferredSchedulingTerm,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from kcore.objects.kinds.core_pod_validation import (
    validate_pod,
    validate_pod_spec,
    validate_pod_template_spec,
)
from kcore.objects.kinds.core_pod_volumes import (
    ClusterTrustBundleProjection,
    ConfigMapProjection,
    ConfigMapVolumeSource,
    CSIVolumeSource,
    DownwardAPIProjection,
    DownwardAPIVolumeFile,
    DownwardAPIVolumeSource,
    EmptyDirVolumeSource,
    EphemeralVolumeSource,
    HostPathVolumeSource,
    ImageVolumeSource,
    KeyToPath,
    NFSVolumeSource,
    PersistentVolumeClaimTemplate,
    PersistentVolumeClaimVolumeSource,
    ProjectedVolumeSource,
    SecretProjection,
    SecretVolumeSource,
    ServiceAccountTokenProjection,
    Volume,
    VolumeProjection,
)
from kcore.objects.meta import LocalObjectReference, Object, ObjectMeta
from kcore.objects.quantity import Quantity
from kcore.objects.struct import field, kind, struct
from kcore.objects.validation import validates

__all__ = [
    "POD_CONDITION_TYPES",
    "POD_PHASES",
    "QOS_CLASSES",
    "Affinity",
    "AppArmorProfile",
    "CSIVolumeSource",
    "Capabilities",
    "ClusterTrustBundleProjection",
    "ConfigMapEnvSource",
    "ConfigMapKeySelector",
    "ConfigMapProjection",
    "ConfigMapVolumeSource",
    "Container",
    "ContainerPort",
    "ContainerResizePolicy",
    "ContainerRestartRule",
    "ContainerRestartRuleOnExitCodes",
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "ContainerUser",
    "DownwardAPIProjection",
    "DownwardAPIVolumeFile",
    "DownwardAPIVolumeSource",
    "EmptyDirVolumeSource",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "EphemeralContainer",
    "EphemeralVolumeSource",
    "ExecAction",
    "FileKeySelector",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "HostAlias",
    "HostIP",
    "HostPathVolumeSource",
    "ImageVolumeSource",
    "ImageVolumeStatus",
    "KeyToPath",
    "Lifecycle",
    "LifecycleHandler",
    "LinuxContainerUser",
    "NFSVolumeSource",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "ObjectFieldSelector",
    "PersistentVolumeClaimTemplate",
    "PersistentVolumeClaimVolumeSource",
    "Pod",
    "PodAffinity",
    "PodAffinityTerm",
    "PodAntiAffinity",
    "PodCondition",
    "PodDNSConfig",
    "PodDNSConfigOption",
    "PodIP",
    "PodOS",
    "PodReadinessGate",
    "PodResourceClaim",
    "PodResourceClaimStatus",
    "PodSchedulingGate",
    "PodSecurityContext",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "PreferredSchedulingTerm",
    "Probe",
    "ProjectedVolumeSource",
    "ResourceClaim",
    "ResourceFieldSelector",
    "ResourceHealth",
    "ResourceRequirements",
    "ResourceStatus",
    "SELinuxOptions",
    "SeccompProfile",
    "SecretEnvSource",
    "SecretKeySelector",
    "SecretProjection",
    "SecretVolumeSource",
    "SecurityContext",
    "ServiceAccountTokenProjection",
    "SleepAction",
    "Sysctl",
    "TCPSocketAction",
    "Taint",
    "Toleration",
    "TopologySpreadConstraint",
    "Volume",
    "VolumeDevice",
    "VolumeMount",
    "VolumeMountStatus",
    "VolumeProjection",
    "VolumeStatus",
    "WeightedPodAffinityTerm",
    "WindowsSecurityContextOptions",
    "default_container",
    "default_pod",
    "default_pod_spec",
    "pull_policy_for_image",
    "validate_pod",
    "validate_pod_spec",
    "validate_pod_template_spec",
]

POD_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
QOS_CLASSES = ("Guaranteed", "Burstable", "BestEffort")
POD_CONDITION_TYPES = (
    "PodScheduled",
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
    "DisruptionTarget",
    "PodResizePending",
    "PodResizeInProgress",
)


# --- spec ----------------------------------------------------------------------------------


@struct
class HostAlias:
    """An extra line for the pod's /etc/hosts."""

    ip: str = field(default="", omitempty=False)
    hostnames: Sequence[str] = ()


@struct
class PodDNSConfigOption:
    name: str = ""
    value: str | None = None


@struct
class PodDNSConfig:
    nameservers: Sequence[str] = ()
    searches: Sequence[str] = ()
    options: Sequence[PodDNSConfigOption] = ()


@struct
class PodReadinessGate:
    condition_type: str = field(default="", omitempty=False)


@struct
class PodOS:
    name: str = field(default="", omitempty=False)


@struct
class PodSchedulingGate:
    name: str = field(default="", omitempty=False)


@struct
class PodResourceClaim:
    name: str = field(default="", omitempty=False)
    resource_claim_name: str | None = None
    resource_claim_template_name: str | None = None


@struct
class PodSpec:
    volumes: Sequence[Volume] = ()
    init_containers: Sequence[Container] = ()
    containers: Sequence[Container] = ()
    ephemeral_containers: Sequence[EphemeralContainer] = ()
    restart_policy: str = ""
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str = ""
    node_selector: Mapping[str, str] = {}
    service_account_name: str = ""
    service_account: str = ""  # deprecated alias of serviceAccountName, still written
    automount_service_account_token: bool | None = None
    node_name: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext | None = None
    image_pull_secrets: Sequence[LocalObjectReference] = ()
    hostname: str = ""
    subdomain: str = ""
    affinity: Affinity | None = None
    scheduler_name: str = ""
    tolerations: Sequence[Toleration] = ()
    host_aliases: Sequence[HostAlias] = ()
    priority_class_name: str = ""
    priority: int | None = None
    dns_config: PodDNSConfig | None = None
    readiness_gates: Sequence[PodReadinessGate] = ()
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: Mapping[str, Quantity] = {}
    topology_spread_constraints: Sequence[TopologySpreadConstraint] = ()
    set_hostname_as_fqdn: bool | None = field(default=None, wire="setHostnameAsFQDN")
    os: PodOS | None = None
    host_users: bool | None = None
    scheduling_gates: Sequence[PodSchedulingGate] = ()
    resource_claims: Sequence[PodResourceClaim] = ()
    resources: ResourceRequirements | None = None
    hostname_override: str | None = None


@struct
class PodTemplateSpec:
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()


# --- status --------------------------------------------------------------------------------


@struct
class PodCondition:
    type: str = field(default="", omitempty=False)
    observed_generation: int = 0
    status: str = field(default="", omitempty=False)
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class ContainerStateWaiting:
    reason: str = ""
    message: str = ""


@struct
class ContainerStateRunning:
    started_at: datetime | None = None


@struct
class ContainerStateTerminated:
    exit_code: int = field(default=0, omitempty=False)
    signal: int = 0
    reason: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    container_id: str = ""


@struct
class ContainerState:
    """At most one of waiting, running, terminated; none set means waiting."""

    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


@struct
class ImageVolumeStatus:
    image_ref: str = ""


@struct
class VolumeStatus:
    image: ImageVolumeStatus | None = None


@struct
class VolumeMountStatus:
    name: str = field(default="", omitempty=False)
    mount_path: str = field(default="", omitempty=False)
    read_only: bool = False
    recursive_read_only: str | None = None
    volume_status: VolumeStatus | None = None


@struct
class LinuxContainerUser:
    uid: int = field(default=0, omitempty=False)
    gid: int = field(default=0, omitempty=False)
    supplemental_groups: Sequence[int] = ()


@struct
class ContainerUser:
    linux: LinuxContainerUser | None = None


@struct
class ResourceHealth:
    resource_id: str = field(default="", omitempty=False)
    health: str = ""
    message: str | None = None


@struct
class ResourceStatus:
    name: str = field(default="", omitempty=False)
    resources: Sequence[ResourceHealth] = ()


@struct
class ContainerStatus:
    name: str = field(default="", omitempty=False)
    state: ContainerState = ContainerState()
    last_state: ContainerState = ContainerState()
    ready: bool = field(default=False, omitempty=False)
    restart_count: int = field(default=0, omitempty=False)
    image: str = field(default="", omitempty=False)
    image_id: str = field(default="", omitempty=False)
    container_id: str = ""
    started: bool | None = None
    allocated_resources: Mapping[str, Quantity] = {}
    resources: ResourceRequirements | None = None
    volume_mounts: Sequence[VolumeMountStatus] = ()
    user: ContainerUser | None = None
    allocated_resources_status: Sequence[ResourceStatus] = ()
    stop_signal: str | None = None


@struct
class HostIP:
    ip: str = field(default="", omitempty=False)


@struct
class PodIP:
    ip: str = field(default="", omitempty=False)


@struct
class PodResourceClaimStatus:
    name: str = field(default="", omitempty=False)
    resource_claim_name: str | None = None


@struct
class PodStatus:
    observed_generation: int = 0
    phase: str = ""
    conditions: Sequence[PodCondition] = ()
    message: str = ""
    reason: str = ""
    nominated_node_name: str = ""
    host_ip: str = ""
    host_ips: Sequence[HostIP] = ()
    pod_ip: str = ""
    pod_ips: Sequence[PodIP] = ()
    start_time: datetime | None = None
    init_container_statuses: Sequence[ContainerStatus] = ()
    container_statuses: Sequence[ContainerStatus] = ()
    qos_class: str = ""
    ephemeral_container_statuses: Sequence[ContainerStatus] = ()
    resize: str = ""
    resource_claim_statuses: Sequence[PodResourceClaimStatus] = ()
    allocated_resources: Mapping[str, Quantity] = {}
    resources: ResourceRequirements | None = None


# --- the kind ------------------------------------------------------------------------------


@kind("v1", "Pod", plural="pods", short_names=("po",))
class Pod(Object):
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()


validates(Pod)(validate_pod)
defaulter(Pod)(default_pod)


def _pod_ip(pod: Pod) -> str:
    # Kubernetes selects on the first of podIPs (which podIP mirrors).
    return pod.status.pod_ips[0].ip if pod.status.pod_ips else pod.status.pod_ip


fieldsets.selectable(
    Pod,
    {
        "spec.nodeName": lambda pod: pod.spec.node_name,
        "spec.restartPolicy": lambda pod: pod.spec.restart_policy,
        "spec.schedulerName": lambda pod: pod.spec.scheduler_name,
        "spec.serviceAccountName": lambda pod: pod.spec.service_account_name,
        "spec.hostNetwork": lambda pod: "true" if pod.spec.host_network else "false",
        "status.phase": lambda pod: pod.status.phase,
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": lambda pod: pod.status.nominated_node_name,
    },
)
