"""Validation of security settings: container and pod security contexts, and the pod's OS.

A container's ``securityContext`` (Kubernetes' ValidateSecurityContext), the pod's
``securityContext`` with its sysctls, and ``spec.os``: a pod that declares Windows may not use
the Linux-only settings (seccomp, SELinux, run-as IDs...) and a Linux pod no Windows options.

This module imports the pod types only for type checking: ``core_pod`` imports it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kcore.objects import names
from kcore.objects.kinds.core_pod_container import (
    APP_ARMOR_PROFILE_TYPES,
    FS_GROUP_CHANGE_POLICIES,
    PROC_MOUNT_TYPES,
    SE_LINUX_CHANGE_POLICIES,
    SECCOMP_PROFILE_TYPES,
    SUPPLEMENTAL_GROUPS_POLICIES,
    AppArmorProfile,
    SeccompProfile,
    SecurityContext,
    WindowsSecurityContextOptions,
)
from kcore.objects.kinds.core_pod_validation_fields import (
    validate_id,
    validate_local_descending_path,
)
from kcore.objects.struct import wire_name
from kcore.objects.validation import Problems

if TYPE_CHECKING:
    from kcore.objects.kinds.core_pod import PodSpec

__all__ = [
    "OS_NAMES",
    "validate_app_armor_profile",
    "validate_os",
    "validate_pod_security_context",
    "validate_seccomp_profile",
    "validate_security_context",
    "validate_windows_options",
]

OS_NAMES = ("linux", "windows")
_SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SYSCTL_NAME = re.compile("(" + _SYSCTL_SEGMENT + "[\\./])*" + _SYSCTL_SEGMENT)


# --- security ------------------------------------------------------------------------------


def validate_seccomp_profile(profile: SeccompProfile | None, path: str, problems: Problems) -> None:
    if profile is None:
        return
    if not profile.type:
        problems.required(f"{path}.type", "type is required when seccompProfile is set")
    else:
        problems.enum(f"{path}.type", profile.type, SECCOMP_PROFILE_TYPES)
    if profile.type == "Localhost":
        if profile.localhost_profile is None:
            problems.required(
                f"{path}.localhostProfile", "must be set when seccomp type is Localhost"
            )
        else:
            validate_local_descending_path(
                profile.localhost_profile, f"{path}.localhostProfile", problems
            )
    elif profile.localhost_profile is not None:
        problems.invalid(
            f"{path}.localhostProfile",
            profile.localhost_profile,
            "can only be set when seccomp type is Localhost",
        )


def validate_app_armor_profile(
    profile: AppArmorProfile | None, path: str, problems: Problems
) -> None:
    if profile is None:
        return
    local = profile.localhost_profile
    if not profile.type:
        problems.required(f"{path}.type", "type is required when appArmorProfile is set")
    elif profile.type not in APP_ARMOR_PROFILE_TYPES:
        problems.not_supported(f"{path}.type", profile.type, APP_ARMOR_PROFILE_TYPES)
    elif profile.type == "Localhost":
        if local is None or not local.strip():
            problems.required(
                f"{path}.localhostProfile", "must be set when AppArmor type is Localhost"
            )
        elif local != local.strip():
            problems.invalid(
                f"{path}.localhostProfile", local, "must not be padded with whitespace"
            )
    elif local is not None:
        problems.invalid(
            f"{path}.localhostProfile", local, "can only be set when AppArmor type is Localhost"
        )


def validate_windows_options(
    options: WindowsSecurityContextOptions | None, path: str, problems: Problems
) -> None:
    if options is None:
        return
    if options.gmsa_credential_spec_name is not None:
        name = options.gmsa_credential_spec_name
        problems.from_messages(
            f"{path}.gmsaCredentialSpecName", name, names.is_dns1123_subdomain(name)
        )
    if options.gmsa_credential_spec == "":
        problems.invalid(
            f"{path}.gmsaCredentialSpec", "", "gmsaCredentialSpec cannot be an empty string"
        )
    if options.run_as_user_name == "":
        problems.invalid(f"{path}.runAsUserName", "", "runAsUserName cannot be an empty string")


def validate_security_context(
    context: SecurityContext | None, path: str, problems: Problems, *, host_users: bool
) -> None:
    """A container's security context (Kubernetes' ValidateSecurityContext)."""
    if context is None:
        return
    validate_id(context.run_as_user, f"{path}.runAsUser", problems)
    validate_id(context.run_as_group, f"{path}.runAsGroup", problems)
    if context.proc_mount is not None:
        problems.enum(f"{path}.procMount", context.proc_mount, PROC_MOUNT_TYPES)
        if host_users and context.proc_mount == "Unmasked":
            problems.invalid(
                f"{path}.procMount",
                context.proc_mount,
                "`hostUsers` must be false to use `Unmasked`",
            )
    validate_seccomp_profile(context.seccomp_profile, f"{path}.seccompProfile", problems)
    if context.allow_privilege_escalation is False:
        if context.privileged:
            problems.invalid(
                path,
                "securityContext",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        if context.capabilities is not None and "CAP_SYS_ADMIN" in context.capabilities.add:
            problems.invalid(
                path,
                "securityContext",
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` "
                "CAP_SYS_ADMIN",
            )
    validate_windows_options(context.windows_options, f"{path}.windowsOptions", problems)
    validate_app_armor_profile(context.app_armor_profile, f"{path}.appArmorProfile", problems)


# --- pod-wide settings ---------------------------------------------------------------------


def _sysctl_namespace(name: str) -> str:
    """Which namespace a sysctl belongs to ("net", "ipc"), or "" for node-level ones."""
    name = name.replace("/", ".")
    if name.startswith("net."):
        return "net"
    if name.startswith(("kernel.shm", "kernel.msg", "fs.mqueue.")) or name == "kernel.sem":
        return "ipc"
    return ""


def validate_pod_security_context(spec: PodSpec, path: str, problems: Problems) -> None:
    """The pod-wide security settings, including the host namespaces they interact with."""
    context = spec.security_context
    if spec.share_process_namespace and spec.host_pid:
        problems.invalid(
            f"{path}.shareProcessNamespace",
            True,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        )
    if context is None:
        return
    at = f"{path}.securityContext"
    validate_id(context.fs_group, f"{at}.fsGroup", problems)
    validate_id(context.run_as_user, f"{at}.runAsUser", problems)
    validate_id(context.run_as_group, f"{at}.runAsGroup", problems)
    for i, group in enumerate(context.supplemental_groups):
        validate_id(group, f"{at}.supplementalGroups[{i}]", problems)
    seen: set[str] = set()
    for i, sysctl in enumerate(context.sysctls):
        name_path = f"{at}.sysctls[{i}].name"
        if not sysctl.name:
            problems.required(name_path)
        elif len(sysctl.name) > 253 or _SYSCTL_NAME.fullmatch(sysctl.name) is None:
            problems.invalid(
                name_path,
                sysctl.name,
                f"must have at most 253 characters and match regex {_SYSCTL_NAME.pattern}",
            )
        elif sysctl.name in seen:
            problems.duplicate(name_path, sysctl.name)
        seen.add(sysctl.name)
        namespace = _sysctl_namespace(sysctl.name)
        if spec.host_network and namespace == "net":
            problems.invalid(
                name_path, sysctl.name, "may not be specified when 'hostNetwork' is true"
            )
        elif spec.host_ipc and namespace == "ipc":
            problems.invalid(name_path, sysctl.name, "may not be specified when 'hostIPC' is true")
    problems.enum(
        f"{at}.fsGroupChangePolicy", context.fs_group_change_policy, FS_GROUP_CHANGE_POLICIES
    )
    validate_seccomp_profile(context.seccomp_profile, f"{at}.seccompProfile", problems)
    validate_windows_options(context.windows_options, f"{at}.windowsOptions", problems)
    validate_app_armor_profile(context.app_armor_profile, f"{at}.appArmorProfile", problems)
    problems.enum(
        f"{at}.supplementalGroupsPolicy",
        context.supplemental_groups_policy,
        SUPPLEMENTAL_GROUPS_POLICIES,
    )
    problems.enum(
        f"{at}.seLinuxChangePolicy", context.se_linux_change_policy, SE_LINUX_CHANGE_POLICIES
    )


def validate_os(spec: PodSpec, path: str, problems: Problems) -> None:
    """``spec.os``; a Windows pod may not use Linux-only settings and the reverse."""
    if spec.os is None:
        return
    if not spec.os.name:
        problems.required(f"{path}.os.name", "cannot be empty")
        return
    if spec.os.name not in OS_NAMES:
        problems.not_supported(f"{path}.os", spec.os.name, OS_NAMES)
        return
    every = [
        (f"{path}.{where}[{i}]", c)
        for containers, where in (
            (spec.containers, "containers"),
            (spec.init_containers, "initContainers"),
            (spec.ephemeral_containers, "ephemeralContainers"),
        )
        for i, c in enumerate(containers)
    ]
    pod_context = spec.security_context
    if spec.os.name == "linux":
        if pod_context is not None and pod_context.windows_options is not None:
            problems.forbidden(
                f"{path}.securityContext.windowsOptions",
                "windows options cannot be set for a linux pod",
            )
        for at, container in every:
            if container.security_context and container.security_context.windows_options:
                problems.forbidden(
                    f"{at}.securityContext.windowsOptions",
                    "windows options cannot be set for a linux pod",
                )
        return
    # Windows: the Linux-only settings may not be set.
    if spec.host_users is not None:
        problems.forbidden(f"{path}.hostUsers", "cannot be set for a windows pod")
    for enabled, where in ((spec.host_pid, "hostPID"), (spec.host_ipc, "hostIPC")):
        if enabled:
            problems.forbidden(f"{path}.{where}", "cannot be set for a windows pod")
    if spec.share_process_namespace is not None:
        problems.forbidden(f"{path}.shareProcessNamespace", "cannot be set for a windows pod")
    linux_only = (
        "se_linux_options",
        "seccomp_profile",
        "app_armor_profile",
        "run_as_user",
        "run_as_group",
    )
    if pod_context is not None:
        for attribute in (
            *linux_only,
            "fs_group",
            "fs_group_change_policy",
            "sysctls",
            "supplemental_groups",
            "supplemental_groups_policy",
            "se_linux_change_policy",
        ):
            if getattr(pod_context, attribute) not in (None, ()):
                problems.forbidden(
                    f"{path}.securityContext.{wire_name(attribute)}",
                    "cannot be set for a windows pod",
                )
    for at, container in every:
        context = container.security_context
        if context is None:
            continue
        for attribute in (
            *linux_only,
            "capabilities",
            "read_only_root_filesystem",
            "privileged",
            "allow_privilege_escalation",
            "proc_mount",
        ):
            if getattr(context, attribute) is not None:
                problems.forbidden(
                    f"{at}.securityContext.{wire_name(attribute)}",
                    "cannot be set for a windows pod",
                )
