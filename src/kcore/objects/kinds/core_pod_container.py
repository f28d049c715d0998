"""core/v1 containers and the security settings a container and its pod carry.

Everything the kubelet reads to start one container — image, command, environment, ports,
mounts, resources, probes, lifecycle hooks, security context — plus ``PodSecurityContext``,
which sits here rather than with the pod so the defaulting module can build one without
importing ``core_pod`` (which imports it).

Field order and JSON names follow ``k8s.io/api/core/v1``. Go embeds some structs (a Probe
embeds its ProbeHandler, a ConfigMapKeySelector its LocalObjectReference); their fields are
written inline here, which is what the JSON looks like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kcore.objects.intstr import IntOrString
from kcore.objects.quantity import Quantity
from kcore.objects.struct import field, struct

__all__ = [
    "CONTAINER_RESTART_POLICIES",
    "MOUNT_PROPAGATION_MODES",
    "PROC_MOUNT_TYPES",
    "PROTOCOLS",
    "PULL_POLICIES",
    "TERMINATION_MESSAGE_POLICIES",
    "URI_SCHEMES",
    "AppArmorProfile",
    "Capabilities",
    "ConfigMapEnvSource",
    "ConfigMapKeySelector",
    "Container",
    "ContainerPort",
    "ContainerResizePolicy",
    "ContainerRestartRule",
    "ContainerRestartRuleOnExitCodes",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "EphemeralContainer",
    "ExecAction",
    "FileKeySelector",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "Lifecycle",
    "LifecycleHandler",
    "ObjectFieldSelector",
    "PodSecurityContext",
    "Probe",
    "ResourceClaim",
    "ResourceFieldSelector",
    "ResourceRequirements",
    "SELinuxOptions",
    "SeccompProfile",
    "SecretEnvSource",
    "SecretKeySelector",
    "SecurityContext",
    "SleepAction",
    "Sysctl",
    "TCPSocketAction",
    "VolumeDevice",
    "VolumeMount",
    "WindowsSecurityContextOptions",
]

# Enumerations, in the order Kubernetes lists them in its "supported values" messages.
PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
URI_SCHEMES = ("HTTP", "HTTPS")
MOUNT_PROPAGATION_MODES = ("Bidirectional", "HostToContainer", "None")
RECURSIVE_READ_ONLY_MODES = ("Disabled", "Enabled", "IfPossible")
CONTAINER_RESTART_POLICIES = ("Always",)  # only sidecar init containers may set one
PROC_MOUNT_TYPES = ("Default", "Unmasked")
SECCOMP_PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
APP_ARMOR_PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")
SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
SE_LINUX_CHANGE_POLICIES = ("MountOption", "Recursive")
RESIZE_RESOURCES = ("cpu", "memory")
RESIZE_RESTART_POLICIES = ("NotRequired", "RestartContainer")


# --- ports and environment ---------------------------------------------------------------


@struct
class ContainerPort:
    name: str = ""
    host_port: int = 0
    container_port: int = field(default=0, omitempty=False)
    protocol: str = ""
    host_ip: str = ""


@struct
class ConfigMapEnvSource:
    name: str = ""
    optional: bool | None = None


@struct
class SecretEnvSource:
    name: str = ""
    optional: bool | None = None


@struct
class EnvFromSource:
    prefix: str = ""
    config_map_ref: ConfigMapEnvSource | None = None
    secret_ref: SecretEnvSource | None = None


@struct
class ObjectFieldSelector:
    """A field of the pod itself (``metadata.name``, ``status.podIP``...), for the downward API."""

    api_version: str = ""
    field_path: str = field(default="", omitempty=False)


@struct
class ResourceFieldSelector:
    """A container's resource (``limits.memory``...), scaled by ``divisor``."""

    container_name: str = ""
    resource: str = field(default="", omitempty=False)
    divisor: Quantity | None = None


@struct
class ConfigMapKeySelector:
    name: str = ""
    key: str = field(default="", omitempty=False)
    optional: bool | None = None


@struct
class SecretKeySelector:
    name: str = ""
    key: str = field(default="", omitempty=False)
    optional: bool | None = None


@struct
class FileKeySelector:
    volume_name: str = field(default="", omitempty=False)
    path: str = field(default="", omitempty=False)
    key: str = field(default="", omitempty=False)
    optional: bool | None = None


@struct
class EnvVarSource:
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    secret_key_ref: SecretKeySelector | None = None
    file_key_ref: FileKeySelector | None = None


@struct
class EnvVar:
    name: str = field(default="", omitempty=False)
    value: str = ""
    value_from: EnvVarSource | None = None


# --- resources -----------------------------------------------------------------------------


@struct
class ResourceClaim:
    """Names an entry of the pod's ``resourceClaims`` this container uses."""

    name: str = field(default="", omitempty=False)
    request: str = ""


@struct
class ResourceRequirements:
    limits: Mapping[str, Quantity] = {}
    requests: Mapping[str, Quantity] = {}
    claims: Sequence[ResourceClaim] = ()


@struct
class ContainerResizePolicy:
    resource_name: str = field(default="", omitempty=False)
    restart_policy: str = field(default="", omitempty=False)


@struct
class ContainerRestartRuleOnExitCodes:
    operator: str = ""
    values: Sequence[int] = ()


@struct
class ContainerRestartRule:
    action: str = ""
    exit_codes: ContainerRestartRuleOnExitCodes | None = None


# --- mounts --------------------------------------------------------------------------------


@struct
class VolumeMount:
    name: str = field(default="", omitempty=False)
    read_only: bool = False
    recursive_read_only: str | None = None
    mount_path: str = field(default="", omitempty=False)
    sub_path: str = ""
    mount_propagation: str | None = None
    sub_path_expr: str = ""


@struct
class VolumeDevice:
    name: str = field(default="", omitempty=False)
    device_path: str = field(default="", omitempty=False)


# --- probes and lifecycle hooks ----------------------------------------------------------


@struct
class ExecAction:
    command: Sequence[str] = ()


@struct
class HTTPHeader:
    name: str = field(default="", omitempty=False)
    value: str = field(default="", omitempty=False)


@struct
class HTTPGetAction:
    path: str = ""
    port: IntOrString | None = None
    host: str = ""
    scheme: str = ""
    http_headers: Sequence[HTTPHeader] = ()


@struct
class TCPSocketAction:
    port: IntOrString | None = None
    host: str = ""


@struct
class GRPCAction:
    port: int = field(default=0, omitempty=False)
    service: str | None = None


@struct
class SleepAction:
    seconds: int = field(default=0, omitempty=False)


@struct
class Probe:
    """A health check: one handler (exec, httpGet, tcpSocket or grpc) and its timing."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int = 0
    timeout_seconds: int = 0
    period_seconds: int = 0
    success_threshold: int = 0
    failure_threshold: int = 0
    termination_grace_period_seconds: int | None = None


@struct
class LifecycleHandler:
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


@struct
class Lifecycle:
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


# --- security ------------------------------------------------------------------------------


@struct
class Capabilities:
    add: Sequence[str] = ()
    drop: Sequence[str] = ()


@struct
class SELinuxOptions:
    user: str = ""
    role: str = ""
    type: str = ""
    level: str = ""


@struct
class SeccompProfile:
    type: str = field(default="", omitempty=False)
    localhost_profile: str | None = None


@struct
class AppArmorProfile:
    type: str = field(default="", omitempty=False)
    localhost_profile: str | None = None


@struct
class WindowsSecurityContextOptions:
    gmsa_credential_spec_name: str | None = None
    gmsa_credential_spec: str | None = None
    run_as_user_name: str | None = None
    host_process: bool | None = None


@struct
class SecurityContext:
    """A container's security settings; set fields override the pod's PodSecurityContext."""

    capabilities: Capabilities | None = None
    privileged: bool | None = None
    se_linux_options: SELinuxOptions | None = None
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    proc_mount: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None


@struct
class Sysctl:
    name: str = field(default="", omitempty=False)
    value: str = field(default="", omitempty=False)


@struct
class PodSecurityContext:
    se_linux_options: SELinuxOptions | None = None
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: Sequence[int] = ()
    supplemental_groups_policy: str | None = None
    fs_group: int | None = None
    sysctls: Sequence[Sysctl] = ()
    fs_group_change_policy: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None
    se_linux_change_policy: str | None = None


# --- containers ----------------------------------------------------------------------------


@struct
class Container:
    name: str = field(default="", omitempty=False)
    image: str = ""
    command: Sequence[str] = ()
    args: Sequence[str] = ()
    working_dir: str = ""
    ports: Sequence[ContainerPort] = ()
    env_from: Sequence[EnvFromSource] = ()
    env: Sequence[EnvVar] = ()
    resources: ResourceRequirements = ResourceRequirements()
    resize_policy: Sequence[ContainerResizePolicy] = ()
    restart_policy: str | None = None
    restart_policy_rules: Sequence[ContainerRestartRule] = ()
    volume_mounts: Sequence[VolumeMount] = ()
    volume_devices: Sequence[VolumeDevice] = ()
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str = ""
    termination_message_policy: str = ""
    image_pull_policy: str = ""
    security_context: SecurityContext | None = None
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False


@struct
class EphemeralContainer(Container):
    """A debugging container added to a running pod (``kubectl debug``).

    Kubernetes shares the Container fields through an embedded struct and converts one into
    the other for validation; a subclass gives the same JSON and lets the container checks
    and defaults take it as it is.
    """

    target_container_name: str = ""
