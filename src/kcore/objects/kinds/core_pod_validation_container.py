"""Validation of one container: Kubernetes' validateContainerCommon, probes and lifecycle hooks.

Ports, environment, mounts, devices, pull and termination-message policies, resources, the
security context, probes and lifecycle hooks of one container. The list-level rules — at
least one container, unique names across init and regular containers, what init and ephemeral
containers may not set, host-port conflicts — live in ``core_pod_validation``, which calls in.

Objects are validated as a user submits them, before defaulting: a field that defaulting
fills (``protocol``, ``imagePullPolicy``, ``terminationMessagePolicy``, probe periods...) is
checked only when it is set. Messages and paths follow Kubernetes' own wording.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from kcore.objects import names
from kcore.objects.kinds.core_pod_container import (
    MOUNT_PROPAGATION_MODES,
    PROTOCOLS,
    PULL_POLICIES,
    RECURSIVE_READ_ONLY_MODES,
    RESIZE_RESOURCES,
    RESIZE_RESTART_POLICIES,
    TERMINATION_MESSAGE_POLICIES,
    URI_SCHEMES,
    Container,
    ContainerPort,
    EnvFromSource,
    EnvVar,
    HTTPGetAction,
    Lifecycle,
    LifecycleHandler,
    Probe,
    VolumeMount,
)
from kcore.objects.kinds.core_pod_validation_fields import (
    not_found,
    validate_local_descending_path,
    validate_object_field_selector,
    validate_port_num_or_name,
    validate_resource_field_selector,
    validate_resource_requirements,
)
from kcore.objects.kinds.core_pod_validation_security import validate_security_context
from kcore.objects.kinds.core_pod_volumes import Volume
from kcore.objects.validation import Problems

__all__ = ["ENV_FIELD_PATHS", "validate_container_common", "validate_lifecycle", "validate_probe"]

# Downward API fields an environment variable may read (labels/annotations need a subscript).
ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_HTTP_HEADER_NAME = re.compile("[-A-Za-z0-9]+")


def validate_container_common(
    container: Container,
    path: str,
    problems: Problems,
    *,
    volumes: Mapping[str, Volume],
    claim_names: Collection[str],
    pod_restart_policy: str,
    host_users: bool,
) -> None:
    """What every container (regular, init, ephemeral) must satisfy, at ``path``."""
    if not container.name:
        problems.required(f"{path}.name")
    else:
        problems.from_messages(
            f"{path}.name", container.name, names.is_dns1123_label(container.name)
        )
    if not container.image:
        problems.required(f"{path}.image")
    problems.enum(
        f"{path}.terminationMessagePolicy",
        container.termination_message_policy,
        TERMINATION_MESSAGE_POLICIES,
    )
    _validate_ports(container.ports, f"{path}.ports", problems)
    _validate_env(container.env, f"{path}.env", problems)
    _validate_env_from(container.env_from, f"{path}.envFrom", problems)
    _validate_mounts(container, volumes, path, problems)
    _validate_devices(container, volumes, path, problems)
    problems.enum(f"{path}.imagePullPolicy", container.image_pull_policy, PULL_POLICIES)
    validate_resource_requirements(
        container.resources, f"{path}.resources", problems, claim_names=claim_names
    )
    _validate_resize_policy(container, f"{path}.resizePolicy", problems, pod_restart_policy)
    validate_security_context(
        container.security_context, f"{path}.securityContext", problems, host_users=host_users
    )


def _validate_resize_policy(
    container: Container, path: str, problems: Problems, pod_restart_policy: str
) -> None:
    seen: set[str] = set()
    for i, policy in enumerate(container.resize_policy):
        if policy.resource_name in seen:
            problems.duplicate(f"{path}[{i}]", policy.resource_name)
        seen.add(policy.resource_name)
        if not policy.resource_name:
            problems.required(path)
        else:
            problems.enum(path, policy.resource_name, RESIZE_RESOURCES)
        if not policy.restart_policy:
            problems.required(path)
        else:
            problems.enum(path, policy.restart_policy, RESIZE_RESTART_POLICIES)
        if pod_restart_policy == "Never" and policy.restart_policy != "NotRequired":
            problems.invalid(
                path, policy.restart_policy, "must be 'NotRequired' when `restartPolicy` is 'Never'"
            )


# --- ports and environment -----------------------------------------------------------------


def _validate_ports(ports: Sequence[ContainerPort], path: str, problems: Problems) -> None:
    seen: set[str] = set()
    for i, port in enumerate(ports):
        at = f"{path}[{i}]"
        if port.name:
            messages = names.is_valid_port_name(port.name)
            problems.from_messages(f"{at}.name", port.name, messages)
            if not messages and port.name in seen:
                problems.duplicate(f"{at}.name", port.name)
            seen.add(port.name)
        problems.port(f"{at}.containerPort", port.container_port)
        problems.port(f"{at}.hostPort", port.host_port, required=False)
        problems.enum(f"{at}.protocol", port.protocol, PROTOCOLS)


def _validate_env(env: Sequence[EnvVar], path: str, problems: Problems) -> None:
    for i, var in enumerate(env):
        at = f"{path}[{i}]"
        if not var.name:
            problems.required(f"{at}.name")
        else:
            problems.from_messages(f"{at}.name", var.name, names.is_env_var_name(var.name))
        source = var.value_from
        if source is None:
            continue
        from_path = f"{at}.valueFrom"
        count = 0
        if source.field_ref is not None:
            count += 1
            validate_object_field_selector(
                source.field_ref, ENV_FIELD_PATHS, f"{from_path}.fieldRef", problems
            )
        if source.resource_field_ref is not None:
            count += 1
            validate_resource_field_selector(
                source.resource_field_ref,
                f"{from_path}.resourceFieldRef",
                problems,
                in_volume=False,
            )
        for key_ref, where in (
            (source.config_map_key_ref, "configMapKeyRef"),
            (source.secret_key_ref, "secretKeyRef"),
        ):
            if key_ref is not None:
                count += 1
                ref_path = f"{from_path}.{where}"
                problems.from_messages(
                    f"{ref_path}.name", key_ref.name, names.is_dns1123_subdomain(key_ref.name)
                )
                if not key_ref.key:
                    problems.required(f"{ref_path}.key")
                else:
                    problems.from_messages(
                        f"{ref_path}.key", key_ref.key, names.is_config_map_key(key_ref.key)
                    )
        if source.file_key_ref is not None:
            count += 1
            ref = source.file_key_ref
            for value, where in ((ref.volume_name, "volumeName"), (ref.path, "path")):
                if not value:
                    problems.required(f"{from_path}.fileKeyRef.{where}")
            if not ref.key:
                problems.required(f"{from_path}.fileKeyRef.key")
            validate_local_descending_path(ref.path, f"{from_path}.fileKeyRef.path", problems)
        if count == 0:
            problems.invalid(
                from_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                "`secretKeyRef`",
            )
        elif var.value:
            problems.invalid(from_path, "", "may not be specified when `value` is not empty")
        elif count > 1:
            problems.invalid(from_path, "", "may not have more than one field specified at a time")


def _validate_env_from(sources: Sequence[EnvFromSource], path: str, problems: Problems) -> None:
    for i, source in enumerate(sources):
        at = f"{path}[{i}]"
        if source.prefix:
            messages = names.is_env_var_name(source.prefix)
            problems.from_messages(f"{at}.prefix", source.prefix, messages)
        refs = [
            (ref.name, where)
            for ref, where in (
                (source.config_map_ref, "configMapRef"),
                (source.secret_ref, "secretRef"),
            )
            if ref is not None
        ]
        for name, where in refs:
            if not name:
                problems.required(f"{at}.{where}.name")
            else:
                problems.from_messages(
                    f"{at}.{where}.name", name, names.name_is_dns1123_subdomain(name, prefix=True)
                )
        if not refs:
            problems.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
        elif len(refs) > 1:
            problems.invalid(path, "", "may not have more than one field specified at a time")


# --- mounts --------------------------------------------------------------------------------


def _validate_mounts(
    container: Container, volumes: Mapping[str, Volume], path: str, problems: Problems
) -> None:
    device_paths = {d.name: d.device_path for d in container.volume_devices}
    mount_points: set[str] = set()
    privileged = bool(container.security_context and container.security_context.privileged)
    for i, mount in enumerate(container.volume_mounts):
        at = f"{path}.volumeMounts[{i}]"
        if not mount.name:
            problems.required(f"{at}.name")
        if mount.name not in volumes:
            not_found(problems, f"{at}.name", mount.name)
        if not mount.mount_path:
            problems.required(f"{at}.mountPath")
        if mount.mount_path in mount_points:
            problems.invalid(f"{at}.mountPath", mount.mount_path, "must be unique")
        mount_points.add(mount.mount_path)
        if mount.name in device_paths:
            problems.invalid(f"{at}.name", mount.name, "must not already exist in volumeDevices")
        if mount.mount_path in device_paths.values():
            problems.invalid(
                f"{at}.mountPath",
                mount.mount_path,
                "must not already exist as a path in volumeDevices",
            )
        volume = volumes.get(mount.name)
        if volume is not None and volume.image is not None:
            for value, where in ((mount.sub_path, "subPath"), (mount.sub_path_expr, "subPathExpr")):
                if value:
                    problems.invalid(f"{at}.{where}", value, "not allowed in image volume sources")
        if mount.sub_path:
            validate_local_descending_path(mount.sub_path, f"{at}.subPath", problems)
        if mount.sub_path_expr:
            if mount.sub_path:
                problems.invalid(
                    f"{at}.subPathExpr",
                    mount.sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                )
            validate_local_descending_path(mount.sub_path_expr, f"{at}.subPathExpr", problems)
        if mount.mount_propagation is not None:
            problems.enum(
                f"{at}.mountPropagation", mount.mount_propagation, MOUNT_PROPAGATION_MODES
            )
            if mount.mount_propagation == "Bidirectional" and not privileged:
                problems.forbidden(
                    f"{at}.mountPropagation",
                    "Bidirectional mount propagation is available only to privileged containers",
                )
        _validate_recursive_read_only(mount, f"{at}.recursiveReadOnly", problems)


def _validate_recursive_read_only(mount: VolumeMount, path: str, problems: Problems) -> None:
    mode = mount.recursive_read_only
    if mode is None or mode == "Disabled":
        return
    if mode not in RECURSIVE_READ_ONLY_MODES:
        problems.not_supported(path, mode, RECURSIVE_READ_ONLY_MODES)
        return
    if not mount.read_only:
        problems.forbidden(path, "may only be specified when readOnly is true")
    if mount.mount_propagation not in (None, "None"):
        problems.forbidden(
            path, "may only be specified when mountPropagation is None or not specified"
        )


def _validate_devices(
    container: Container, volumes: Mapping[str, Volume], path: str, problems: Problems
) -> None:
    mount_paths = {m.name: m.mount_path for m in container.volume_mounts}
    seen_names: set[str] = set()
    seen_paths: set[str] = set()
    for i, device in enumerate(container.volume_devices):
        at = f"{path}.volumeDevices[{i}]"
        if not device.name:
            problems.required(f"{at}.name")
        if device.name in seen_names:
            problems.invalid(f"{at}.name", device.name, "must be unique")
        volume = volumes.get(device.name)
        if volume is None:
            not_found(problems, f"{at}.name", device.name)
        elif volume.persistent_volume_claim is None and volume.ephemeral is None:
            problems.invalid(
                f"{at}.name",
                device.name,
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for "
                "block mode",
            )
        if not device.device_path:
            problems.required(f"{at}.devicePath")
        if device.device_path in seen_paths:
            problems.invalid(f"{at}.devicePath", device.device_path, "must be unique")
        if ".." in device.device_path.split("/"):
            problems.invalid(
                f"{at}.devicePath", device.device_path, "can not contain backsteps ('..')"
            )
        else:
            seen_paths.add(device.device_path)
        if device.name in mount_paths:
            problems.invalid(f"{at}.name", device.name, "must not already exist in volumeMounts")
        if device.device_path in mount_paths.values():
            problems.invalid(
                f"{at}.devicePath",
                device.device_path,
                "must not already exist as a path in volumeMounts",
            )
        if device.name:
            seen_names.add(device.name)


# --- probes and lifecycle hooks ------------------------------------------------------------


def _validate_http_get(action: HTTPGetAction, path: str, problems: Problems) -> None:
    validate_port_num_or_name(action.port, f"{path}.port", problems)
    problems.enum(f"{path}.scheme", action.scheme, URI_SCHEMES)
    for header in action.http_headers:
        if _HTTP_HEADER_NAME.fullmatch(header.name) is None:
            problems.invalid(
                f"{path}.httpHeaders",
                header.name,
                names.regex_error(
                    "a valid HTTP header must consist of alphanumeric characters or '-'",
                    _HTTP_HEADER_NAME.pattern,
                    "X-Header-Name",
                ),
            )


def _validate_handler(
    handler: Probe | LifecycleHandler, path: str, problems: Problems, grace: int
) -> None:
    """Exactly one action, each checked. A Probe may use grpc; a LifecycleHandler may sleep."""
    grpc = handler.grpc if isinstance(handler, Probe) else None
    sleep = handler.sleep if isinstance(handler, LifecycleHandler) else None
    actions = [
        ("exec", handler.exec),
        ("httpGet", handler.http_get),
        ("tcpSocket", handler.tcp_socket),
        ("grpc", grpc),
        ("sleep", sleep),
    ]
    chosen = [where for where, action in actions if action is not None]
    if not chosen:
        problems.required(path, "must specify a handler type")
        return
    for where in chosen[1:]:
        problems.forbidden(f"{path}.{where}", "may not specify more than 1 handler type")
    at = f"{path}.{chosen[0]}"
    if handler.exec is not None:
        if not handler.exec.command:
            problems.required(f"{at}.command")
    elif handler.http_get is not None:
        _validate_http_get(handler.http_get, at, problems)
    elif handler.tcp_socket is not None:
        validate_port_num_or_name(handler.tcp_socket.port, f"{at}.port", problems)
    elif grpc is not None:
        validate_port_num_or_name(grpc.port, f"{at}.port", problems)
    elif sleep is not None and not 0 <= sleep.seconds <= grace:
        problems.invalid(
            at,
            sleep.seconds,
            f"must be non-negative and less than terminationGracePeriodSeconds ({grace})",
        )


def validate_probe(
    probe: Probe | None, kind: str, path: str, problems: Problems, grace: int
) -> None:
    """A ``liveness``, ``readiness`` or ``startup`` probe."""
    if probe is None:
        return
    _validate_handler(probe, path, problems, grace)
    for value, where in (
        (probe.initial_delay_seconds, "initialDelaySeconds"),
        (probe.timeout_seconds, "timeoutSeconds"),
        (probe.period_seconds, "periodSeconds"),
        (probe.success_threshold, "successThreshold"),
        (probe.failure_threshold, "failureThreshold"),
    ):
        problems.non_negative(f"{path}.{where}", value)
    grace_override = probe.termination_grace_period_seconds
    if grace_override is not None and grace_override <= 0:
        problems.invalid(
            f"{path}.terminationGracePeriodSeconds", grace_override, "must be greater than 0"
        )
    # Zero is "unset" (defaulted to 1); any other value must be 1 for these two kinds.
    if kind in ("liveness", "startup") and probe.success_threshold not in (0, 1):
        problems.invalid(f"{path}.successThreshold", probe.success_threshold, "must be 1")
    if kind == "readiness" and grace_override is not None:
        problems.invalid(
            f"{path}.terminationGracePeriodSeconds",
            grace_override,
            "must not be set for readinessProbes",
        )


def validate_lifecycle(lifecycle: Lifecycle, path: str, problems: Problems, grace: int) -> None:
    if lifecycle.post_start is not None:
        _validate_handler(lifecycle.post_start, f"{path}.postStart", problems, grace)
    if lifecycle.pre_stop is not None:
        _validate_handler(lifecycle.pre_stop, f"{path}.preStop", problems, grace)
