"""Field-level checks the pod validation modules share: paths, references, resources.

Kubernetes validates these pieces from several places — a resource list from a container, the
pod's overhead and pod-level resources (and, in other kinds, from elsewhere); a downward-API
reference from an environment variable and from a volume file; a relative path from a mount,
a volume item and a seccomp profile — so they are plain functions here, each taking the part,
its field path and the ``Problems`` collector. Other kinds use them too (a PersistentVolume's
hostPath, label selectors in any spec).

Objects are validated as a user submits them, before defaulting: a field that defaulting fills
(a fieldRef ``apiVersion``, for one) is checked only when set.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING

from kcore import errors
from kcore.objects import names
from kcore.objects.kinds.core_pod_container import (
    ObjectFieldSelector,
    ResourceFieldSelector,
    ResourceRequirements,
)
from kcore.objects.meta import LabelSelector
from kcore.objects.quantity import Quantity
from kcore.objects.selectors import validate_label_selector
from kcore.objects.validation import Problems

if TYPE_CHECKING:
    from kcore.objects.intstr import IntOrString

__all__ = [
    "CONTAINER_RESOURCE_FIELDS",
    "DEFAULT_GRACE_PERIOD_SECONDS",
    "add_label_selector_problems",
    "not_found",
    "validate_id",
    "validate_local_descending_path",
    "validate_object_field_selector",
    "validate_path_no_backsteps",
    "validate_port_num_or_name",
    "validate_resource_field_selector",
    "validate_resource_requirements",
]

DEFAULT_GRACE_PERIOD_SECONDS = 30  # what an unset terminationGracePeriodSeconds becomes
MAX_ID = 2**31 - 1  # user and group IDs: 0 .. MaxInt32

CONTAINER_RESOURCE_FIELDS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
_CPU_DIVISORS = ("1m", "1")
_BYTE_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_POD_LEVEL_RESOURCES = ("cpu", "hugepages-", "memory")
# Resource names Kubernetes knows without a domain (quota and node resources included).
_STANDARD_RESOURCES = frozenset(
    {
        *_CONTAINER_RESOURCES,
        "storage",
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
_REASONS = {
    "Invalid value": "FieldValueInvalid",
    "Required value": "FieldValueRequired",
    "Forbidden": "FieldValueForbidden",
}


def not_found(problems: Problems, path: str, value: object, detail: str = "") -> None:
    """Kubernetes' NotFound cause: the value names something that does not exist."""
    text = f"Not found: {json.dumps(value, default=str)}" + (f": {detail}" if detail else "")
    problems.causes.append(errors.FieldError(path, text, value, "FieldValueNotFound"))


def add_label_selector_problems(
    selector: LabelSelector | None, path: str, problems: Problems
) -> None:
    """Kubernetes' ValidateLabelSelector for an optional selector field."""
    if selector is None:
        return
    for where, message in validate_label_selector(
        selector.match_labels, selector.match_expressions, path
    ):
        reason = _REASONS.get(message.partition(":")[0], "FieldValueInvalid")
        problems.causes.append(errors.FieldError(where, message, None, reason))


def validate_path_no_backsteps(target: str, path: str, problems: Problems) -> None:
    if ".." in target.replace("\\", "/").split("/"):
        problems.invalid(path, target, "must not contain '..'")


def validate_local_descending_path(target: str, path: str, problems: Problems) -> None:
    """A path inside a volume or sandbox: relative, and never stepping out with ``..``."""
    if target.startswith("/"):
        problems.invalid(path, target, "must be a relative path")
    validate_path_no_backsteps(target, path, problems)


def validate_id(value: int | None, path: str, problems: Problems) -> None:
    if value is not None and not 0 <= value <= MAX_ID:
        problems.invalid(path, value, names.inclusive_range_error(0, MAX_ID))


def validate_port_num_or_name(port: IntOrString | None, path: str, problems: Problems) -> None:
    if isinstance(port, str):
        problems.from_messages(path, port, names.is_valid_port_name(port))
    else:  # unset reads as 0, as Go's zero IntOrString does
        problems.from_messages(path, port or 0, names.is_valid_port_num(port or 0))


# --- downward API references ---------------------------------------------------------------


def validate_object_field_selector(
    selector: ObjectFieldSelector, allowed: Collection[str], path: str, problems: Problems
) -> None:
    """A pod field reference: ``fieldPath`` one of ``allowed``, or a label/annotation subscript."""
    if selector.api_version and selector.api_version != "v1":
        problems.invalid(
            f"{path}.fieldPath",
            selector.field_path,
            f"error converting fieldPath: unsupported pod version: {selector.api_version}",
        )
        return
    if not selector.field_path:
        problems.required(f"{path}.fieldPath")
        return
    field_path = selector.field_path
    if field_path.endswith("']") and "['" in field_path:
        base, _, rest = field_path.partition("['")
        key = rest[:-2]
        if base == "metadata.annotations":
            problems.from_messages(path, key.lower(), names.is_qualified_name(key.lower()))
        elif base == "metadata.labels":
            problems.from_messages(path, key, names.is_qualified_name(key))
        else:
            problems.invalid(path, base, "does not support subscript")
    elif field_path not in allowed:
        problems.not_supported(f"{path}.fieldPath", field_path, sorted(allowed))


def validate_resource_field_selector(
    selector: ResourceFieldSelector, path: str, problems: Problems, *, in_volume: bool
) -> None:
    """A container resource reference; a volume file must also name the container."""
    resource = selector.resource
    if in_volume and not selector.container_name:
        problems.required(f"{path}.containerName")
    elif not resource:
        problems.required(f"{path}.resource")
    elif resource not in CONTAINER_RESOURCE_FIELDS and not resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        problems.not_supported(f"{path}.resource", resource, CONTAINER_RESOURCE_FIELDS)
    divisor = selector.divisor
    if divisor is None or divisor.is_zero():
        return
    text = divisor.canonical()
    kind = resource.partition(".")[2]
    if kind == "cpu" and text not in _CPU_DIVISORS:
        problems.invalid(
            f"{path}.divisor",
            resource,
            "only divisor's values 1m and 1 are supported with the cpu resource",
        )
    elif (kind in ("memory", "ephemeral-storage") or kind.startswith("hugepages-")) and (
        text not in _BYTE_DIVISORS
    ):
        what = {"memory": "memory", "ephemeral-storage": "local ephemeral storage"}.get(
            kind, "hugepages"
        )
        problems.invalid(
            f"{path}.divisor",
            resource,
            f"only divisor's values {', '.join(_BYTE_DIVISORS)} are supported with the "
            f"{what} resource",
        )


# --- resources -----------------------------------------------------------------------------


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    return (
        not _is_native(name)
        and not name.startswith("requests.")
        and not names.is_qualified_name("requests." + name)
    )


def _overcommit_allowed(name: str) -> bool:
    """Requests below limits (overcommit) are fine except for hugepages and extended resources."""
    return _is_native(name) and not name.startswith("hugepages-")


def _validate_resource_name(name: str, path: str, problems: Problems, pod_level: bool) -> None:
    messages = names.is_qualified_name(name)
    if messages:
        problems.from_messages(path, name, messages)
        return
    if "/" not in name and name not in _STANDARD_RESOURCES and not name.startswith("hugepages-"):
        problems.invalid(path, name, "must be a standard resource type or fully qualified")
    elif pod_level:
        if name not in ("cpu", "memory") and not name.startswith("hugepages-"):
            problems.not_supported(path, name, _POD_LEVEL_RESOURCES)
    elif "/" not in name:
        if name not in _CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            problems.invalid(path, name, "must be a standard resource for containers")
    elif not _is_native(name) and not _is_extended(name):
        problems.invalid(path, name, "doesn't follow extended resource name standard")


def _validate_quantity(name: str, quantity: Quantity, path: str, problems: Problems) -> None:
    if quantity.sign() < 0:
        problems.invalid(path, quantity.canonical(), "must be greater than or equal to 0")
    if _is_extended(name) and quantity.milli_value() % 1000:
        problems.invalid(path, quantity.canonical(), "must be an integer")


def validate_resource_requirements(
    requirements: ResourceRequirements,
    path: str,
    problems: Problems,
    *,
    claim_names: Collection[str] = (),
    pod_level: bool = False,
) -> None:
    """Names, non-negative amounts, requests within limits, claims that exist in the pod."""
    limits_path, requests_path = f"{path}.limits", f"{path}.requests"
    compute = False
    hugepages = False
    for name, quantity in requirements.limits.items():
        _validate_resource_name(name, f"{limits_path}[{name}]", problems, pod_level)
        _validate_quantity(name, quantity, f"{limits_path}[{name}]", problems)
        compute = compute or name in ("cpu", "memory")
        hugepages = hugepages or name.startswith("hugepages-")
    for name, quantity in requirements.requests.items():
        _validate_resource_name(name, f"{requests_path}[{name}]", problems, pod_level)
        _validate_quantity(name, quantity, f"{requests_path}[{name}]", problems)
        limit = requirements.limits.get(name)
        if limit is not None:
            if quantity != limit and not _overcommit_allowed(name):
                problems.invalid(
                    requests_path,
                    quantity.canonical(),
                    f"must be equal to {name} limit of {limit.canonical()}",
                )
            elif quantity > limit:
                problems.invalid(
                    requests_path,
                    quantity.canonical(),
                    f"must be less than or equal to {name} limit of {limit.canonical()}",
                )
        elif not _overcommit_allowed(name):
            problems.required(limits_path, "Limit must be set for non overcommitable resources")
        compute = compute or name in ("cpu", "memory")
        hugepages = hugepages or name.startswith("hugepages-")
    if hugepages and not compute:
        problems.forbidden(path, "HugePages require cpu or memory")
    if pod_level:
        if requirements.claims:
            problems.forbidden(f"{path}.claims", "claims cannot be set for Resources at pod-level")
        return
    _validate_claim_references(requirements, f"{path}.claims", problems, claim_names)


def _validate_claim_references(
    requirements: ResourceRequirements, path: str, problems: Problems, claim_names: Collection[str]
) -> None:
    seen: set[str] = set()
    for i, claim in enumerate(requirements.claims):
        at = f"{path}[{i}]"
        if not claim.name:
            problems.required(at)
            continue
        key = claim.name
        if claim.request:
            problems.from_messages(
                f"{at}.request", claim.request, names.is_dns1123_label(claim.request)
            )
            key = f"{claim.name}/{claim.request}"
        if claim.name in seen or key in seen:
            problems.duplicate(at, key)
        elif not claim.request and any(s.partition("/")[0] == claim.name for s in seen):
            problems.duplicate(at, claim.name)
        seen.add(key)
        if claim.name not in claim_names:
            listed = ", ".join(sorted(claim_names))
            not_found(
                problems,
                at,
                claim.name,
                "must be one of the names in pod.spec.resourceClaims"
                + (f": {listed}" if listed else " which is empty"),
            )
