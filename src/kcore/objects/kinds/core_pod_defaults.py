"""Defaults for pods and pod specs, as kube-apiserver applies them (SetDefaults_Pod and friends).

``default_pod_spec`` is Kubernetes' SetDefaults_PodSpec together with the defaults of
everything a spec holds (containers, probes, volumes...); workload kinds call it on their
templates. ``default_pod`` adds what Kubernetes applies to Pods only and not to templates:
requests copied from limits, ``enableServiceLinks``, and host ports for host-network pods.

Every function returns its argument itself when nothing was missing (objects are immutable),
so defaulting a defaulted pod allocates nothing and ``x is default(x)`` says "already done".

Two rules come from the apiserver's conversion rather than its defaulting, but are applied
here because every pod read back from Kubernetes shows them: the deprecated
``serviceAccount`` mirrors ``serviceAccountName`` (either fills the other), and resource
amounts finer than a thousandth are rounded up to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from kcore.objects.defaults import changed, map_items
from kcore.objects.kinds.core_pod_container import (
    Container,
    ContainerPort,
    EnvVar,
    HTTPGetAction,
    Lifecycle,
    LifecycleHandler,
    PodSecurityContext,
    Probe,
    ResourceRequirements,
)
from kcore.objects.kinds.core_pod_volumes import (
    VOLUME_SOURCE_FIELDS,
    DownwardAPIVolumeFile,
    EmptyDirVolumeSource,
    Volume,
    VolumeProjection,
)
from kcore.objects.quantity import Quantity
from kcore.objects.struct import evolve

if TYPE_CHECKING:
    from kcore.objects.kinds.core_pod import Pod, PodSpec

__all__ = [
    "default_container",
    "default_pod",
    "default_pod_spec",
    "default_probe",
    "default_volume",
    "pull_policy_for_image",
]

T = TypeVar("T")
C = TypeVar("C", bound=Container)

DEFAULT_GRACE_PERIOD_SECONDS = 30
DEFAULT_FILE_MODE = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600

# An image reference (Docker's grammar): [domain/]path[:tag][@digest].
_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)


def pull_policy_for_image(image: str) -> str:
    """``Always`` for ``:latest`` or an untagged, undigested image; ``IfNotPresent`` otherwise.

    As Kubernetes does, a reference it cannot parse gets ``IfNotPresent`` (no tag is known),
    and a digest without a tag pins the image, so it is not pulled again.
    """
    match = _REFERENCE.fullmatch(image)
    if match is None:
        return "IfNotPresent"
    tag, digest = match.group("tag"), match.group("digest")
    if tag == "latest" or (tag is None and digest is None):
        return "Always"
    return "IfNotPresent"


def _items(items: Sequence[T], fn: Callable[[T], T]) -> tuple[T, ...] | Sequence[T]:
    """``fn`` over ``items``; ``items`` itself when no item changed."""
    out = map_items(items, fn)
    return items if out is None else out


def _evolve_if(obj: T, **changes: Any) -> T:
    """``obj`` with ``changes`` applied, or ``obj`` itself when every value is already there."""
    if all(getattr(obj, name) is value for name, value in changes.items()):
        return obj
    return evolve(obj, **changes)


def _round_up_to_milli(resources: Mapping[str, Quantity]) -> Mapping[str, Quantity]:
    """Kubernetes keeps no resource amount finer than 1m: finer ones round up to it."""
    if all((q.as_fraction() * 1000).denominator == 1 for q in resources.values()):
        return resources
    return {
        name: q
        if (q.as_fraction() * 1000).denominator == 1
        else Quantity.from_milli(q.milli_value(), q.format)
        for name, q in resources.items()
    }


def _default_resources(resources: ResourceRequirements) -> ResourceRequirements:
    return _evolve_if(
        resources,
        limits=_round_up_to_milli(resources.limits),
        requests=_round_up_to_milli(resources.requests),
    )


def _default_http_get(action: HTTPGetAction | None) -> HTTPGetAction | None:
    return None if action is None else changed(action, path="/", scheme="HTTP")


def default_probe(probe: Probe | None) -> Probe | None:
    """Timeout 1s, period 10s, thresholds 1 (success) and 3 (failure); httpGet path and scheme."""
    if probe is None:
        return None
    timings: dict[str, Any] = {
        name: value
        for name, value in (
            ("timeout_seconds", 1),
            ("period_seconds", 10),
            ("success_threshold", 1),
            ("failure_threshold", 3),
        )
        if getattr(probe, name) == 0
    }
    grpc = probe.grpc
    if grpc is not None and grpc.service is None:
        timings["grpc"] = evolve(grpc, service="")
    http_get = _default_http_get(probe.http_get)
    if http_get is not probe.http_get:
        timings["http_get"] = http_get
    return evolve(probe, **timings) if timings else probe


def _default_handler(handler: LifecycleHandler | None) -> LifecycleHandler | None:
    if handler is None:
        return None
    return _evolve_if(handler, http_get=_default_http_get(handler.http_get))


def _default_lifecycle(lifecycle: Lifecycle | None) -> Lifecycle | None:
    if lifecycle is None:
        return None
    return _evolve_if(
        lifecycle,
        post_start=_default_handler(lifecycle.post_start),
        pre_stop=_default_handler(lifecycle.pre_stop),
    )


def _default_env(var: EnvVar) -> EnvVar:
    source = var.value_from
    if source is None:
        return var
    changes: dict[str, Any] = {}
    if source.field_ref is not None and not source.field_ref.api_version:
        changes["field_ref"] = evolve(source.field_ref, api_version="v1")
    if source.file_key_ref is not None and source.file_key_ref.optional is None:
        changes["file_key_ref"] = evolve(source.file_key_ref, optional=False)
    return evolve(var, value_from=evolve(source, **changes)) if changes else var


def _default_port(port: ContainerPort) -> ContainerPort:
    return changed(port, protocol="TCP")


def default_container(container: C) -> C:
    """SetDefaults_Container plus the defaults of what a container holds (ports, probes...)."""
    container = changed(
        container,
        image_pull_policy=pull_policy_for_image(container.image),
        termination_message_path="/dev/termination-log",
        termination_message_policy="File",
    )
    return _evolve_if(
        container,
        ports=_items(container.ports, _default_port),
        env=_items(container.env, _default_env),
        resources=_default_resources(container.resources),
        liveness_probe=default_probe(container.liveness_probe),
        readiness_probe=default_probe(container.readiness_probe),
        startup_probe=default_probe(container.startup_probe),
        lifecycle=_default_lifecycle(container.lifecycle),
    )


def _default_downward_file(file: DownwardAPIVolumeFile) -> DownwardAPIVolumeFile:
    if file.field_ref is None or file.field_ref.api_version:
        return file
    return evolve(file, field_ref=evolve(file.field_ref, api_version="v1"))


def _default_projection(projection: VolumeProjection) -> VolumeProjection:
    token = projection.service_account_token
    if token is not None and token.expiration_seconds is None:
        token = evolve(token, expiration_seconds=DEFAULT_TOKEN_EXPIRATION_SECONDS)
    downward = projection.downward_api
    if downward is not None:
        downward = _evolve_if(downward, items=_items(downward.items, _default_downward_file))
    return _evolve_if(projection, service_account_token=token, downward_api=downward)


def _default_claim_spec(spec: Any) -> Any:
    """An ephemeral volume's claim spec (JSON): volumeMode defaults to Filesystem."""
    if isinstance(spec, Mapping) and not spec.get("volumeMode"):
        return {**spec, "volumeMode": "Filesystem"}
    return spec


def default_volume(volume: Volume) -> Volume:
    """No source means an emptyDir; file modes 0644; hostPath type ""; token expiry 1h..."""
    if all(getattr(volume, name) is None for name, _ in VOLUME_SOURCE_FIELDS):
        return evolve(volume, empty_dir=EmptyDirVolumeSource())
    changes: dict[str, Any] = {}
    for name in ("secret", "config_map", "downward_api", "projected"):
        source = getattr(volume, name)
        if source is not None and source.default_mode is None:
            changes[name] = source = evolve(source, default_mode=DEFAULT_FILE_MODE)
        if name == "downward_api" and source is not None:
            changes[name] = _evolve_if(source, items=_items(source.items, _default_downward_file))
        if name == "projected" and source is not None:
            changes[name] = _evolve_if(source, sources=_items(source.sources, _default_projection))
    if volume.host_path is not None and volume.host_path.type is None:
        changes["host_path"] = evolve(volume.host_path, type="")
    if volume.image is not None and not volume.image.pull_policy:
        policy = pull_policy_for_image(volume.image.reference)
        changes["image"] = evolve(volume.image, pull_policy=policy)
    template = volume.ephemeral.volume_claim_template if volume.ephemeral else None
    if volume.ephemeral is not None and template is not None:
        spec = _default_claim_spec(template.spec)
        if spec is not template.spec:
            changes["ephemeral"] = evolve(volume.ephemeral, volume_claim_template__spec=spec)
    return _evolve_if(volume, **changes) if changes else volume


def default_pod_spec(spec: PodSpec) -> PodSpec:
    """Kubernetes' SetDefaults_PodSpec and the defaults of everything in it (templates too)."""
    spec = changed(
        spec,
        dns_policy="ClusterFirst",
        restart_policy="Always",
        security_context=PodSecurityContext(),
        termination_grace_period_seconds=DEFAULT_GRACE_PERIOD_SECONDS,
        scheduler_name="default-scheduler",
    )
    account = spec.service_account_name or spec.service_account
    if account:
        spec = changed(spec, service_account_name=account, service_account=account)
    overhead = _round_up_to_milli(spec.overhead)
    resources = None if spec.resources is None else _default_resources(spec.resources)
    return _evolve_if(
        spec,
        volumes=_items(spec.volumes, default_volume),
        init_containers=_items(spec.init_containers, default_container),
        containers=_items(spec.containers, default_container),
        ephemeral_containers=_items(spec.ephemeral_containers, default_container),
        overhead=overhead,
        resources=resources,
    )


def _requests_from_limits(container: C) -> C:
    """A limit with no request for the same resource also becomes the request (Pods only)."""
    resources = container.resources
    missing = {k: v for k, v in resources.limits.items() if k not in resources.requests}
    if not missing:
        return container
    return evolve(container, resources__requests={**resources.requests, **missing})


def _host_network_port(port: ContainerPort) -> ContainerPort:
    return port if port.host_port else evolve(port, host_port=port.container_port)


def _host_network_ports(container: C) -> C:
    return _evolve_if(container, ports=_items(container.ports, _host_network_port))


def default_pod(pod: Pod) -> Pod:
    """SetDefaults_Pod: the spec's defaults, then those Kubernetes gives Pods but not templates."""
    spec = default_pod_spec(pod.spec)
    containers = _items(spec.containers, _requests_from_limits)
    init_containers = _items(spec.init_containers, _requests_from_limits)
    if spec.host_network:
        containers = _items(containers, _host_network_ports)
        init_containers = _items(init_containers, _host_network_ports)
    spec = _evolve_if(spec, containers=containers, init_containers=init_containers)
    if spec.enable_service_links is None:
        spec = evolve(spec, enable_service_links=True)
    return _evolve_if(pod, spec=spec)
