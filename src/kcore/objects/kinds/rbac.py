"""rbac.authorization.k8s.io/v1: Role, ClusterRole, their bindings, and how a rule matches.

The four kinds are plain data: rules say which verbs on which resources (or non-resource URLs)
are allowed, bindings grant a role to subjects. They share a module with the two pure matching
functions, :func:`rule_allows` and :func:`rule_allows_non_resource`, because the API layer's
RBAC authorizer and these types must agree on what a rule means; keeping them together keeps
that meaning in one place.

Names follow Kubernetes' minimal rule for RBAC objects (a safe URL path segment, see
:func:`is_path_segment_name`), so ``system:controller:deployment-controller`` is a valid name.
Lists that Go writes as ``null`` when empty (``rules``, ``verbs``, ``subjects``) are left out
when empty, which is what a real cluster's output looks like once its nulls are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeVar

from kcore import errors
from kcore.objects import names
from kcore.objects.defaults import changed, defaulter, map_items
from kcore.objects.meta import LabelSelector, Object
from kcore.objects.selectors import validate_label_selector
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "ALL",
    "GROUP_NAME",
    "SUBJECT_KINDS",
    "AggregationRule",
    "ClusterRole",
    "ClusterRoleBinding",
    "PolicyRule",
    "Role",
    "RoleBinding",
    "RoleRef",
    "Subject",
    "is_path_segment_name",
    "rule_allows",
    "rule_allows_non_resource",
]

GROUP_NAME: Final = "rbac.authorization.k8s.io"
# "*" in verbs, apiGroups, resources or nonResourceURLs matches every value.
ALL: Final = "*"
SERVICE_ACCOUNT_KIND: Final = "ServiceAccount"
USER_KIND: Final = "User"
GROUP_KIND: Final = "Group"
SUBJECT_KINDS: Final = (SERVICE_ACCOUNT_KIND, USER_KIND, GROUP_KIND)

# --- types -----------------------------------------------------------------------------------


@struct
class PolicyRule:
    verbs: Sequence[str] = ()
    api_groups: Sequence[str] = ()
    resources: Sequence[str] = ()
    resource_names: Sequence[str] = ()
    non_resource_urls: Sequence[str] = field(default=(), wire="nonResourceURLs")


@struct
class Subject:
    kind: str = field(default="", omitempty=False)
    api_group: str = ""
    name: str = field(default="", omitempty=False)
    namespace: str = ""


@struct
class RoleRef:
    api_group: str = field(default="", omitempty=False)
    kind: str = field(default="", omitempty=False)
    name: str = field(default="", omitempty=False)


@struct
class AggregationRule:
    cluster_role_selectors: Sequence[LabelSelector] = ()


@kind("rbac.authorization.k8s.io/v1", "Role", plural="roles")
class Role(Object):
    rules: Sequence[PolicyRule] = ()


@kind("rbac.authorization.k8s.io/v1", "ClusterRole", plural="clusterroles", namespaced=False)
class ClusterRole(Object):
    rules: Sequence[PolicyRule] = ()
    aggregation_rule: AggregationRule | None = None


@kind("rbac.authorization.k8s.io/v1", "RoleBinding", plural="rolebindings")
class RoleBinding(Object):
    subjects: Sequence[Subject] = ()
    role_ref: RoleRef = field(default=RoleRef(), omitempty=False)


@kind(
    "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding",
    plural="clusterrolebindings",
    namespaced=False,
)
class ClusterRoleBinding(Object):
    subjects: Sequence[Subject] = ()
    role_ref: RoleRef = field(default=RoleRef(), omitempty=False)


# --- names -----------------------------------------------------------------------------------

_NAMES_NOT_ALLOWED: Final = (".", "..")
_CHARACTERS_NOT_ALLOWED: Final = ("/", "%")


def is_path_segment_name(name: str) -> list[str]:
    """The RBAC name rule: the name must be usable as one segment of a URL path.

    ``.`` and ``..`` would move up the path, ``/`` would split it and ``%`` would start an
    escape, so those are refused; anything else (colons, capitals) is allowed.
    """
    if name in _NAMES_NOT_ALLOWED:
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in _CHARACTERS_NOT_ALLOWED if c in name]


# --- validation ------------------------------------------------------------------------------


def _validate_rule(rule: PolicyRule, namespaced: bool, path: str, problems: Problems) -> None:
    if not rule.verbs:
        problems.required(f"{path}.verbs", "verbs must contain at least one value")
    if rule.non_resource_urls:
        urls = list(rule.non_resource_urls)
        at = f"{path}.nonResourceURLs"
        if namespaced:
            problems.invalid(at, urls, "namespaced rules cannot apply to non-resource URLs")
        if rule.api_groups or rule.resources or rule.resource_names:
            problems.invalid(
                at, urls, "rules cannot apply to both regular resources and non-resource URLs"
            )
        return
    if not rule.api_groups:
        problems.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
    if not rule.resources:
        problems.required(f"{path}.resources", "resource rules must supply at least one resource")


@validates(Role, name_rule=is_path_segment_name)
def _validate_role(role: Role, problems: Problems) -> None:
    for i, rule in enumerate(role.rules):
        _validate_rule(rule, True, f"rules[{i}]", problems)


@validates(ClusterRole, name_rule=is_path_segment_name)
def _validate_cluster_role(role: ClusterRole, problems: Problems) -> None:
    for i, rule in enumerate(role.rules):
        _validate_rule(rule, False, f"rules[{i}]", problems)
    aggregation = role.aggregation_rule
    if aggregation is None:
        return
    at = "aggregationRule.clusterRoleSelectors"
    if not aggregation.cluster_role_selectors:
        problems.required(at, "at least one clusterRoleSelector required if aggregationRule is set")
    for i, selector in enumerate(aggregation.cluster_role_selectors):
        found = validate_label_selector(
            selector.match_labels, selector.match_expressions, f"{at}[{i}]"
        )
        for where, message in found:
            problems.causes.append(errors.FieldError(where, message, None, _reason(message)))


def _reason(message: str) -> str:
    return {
        "Required value": "FieldValueRequired",
        "Forbidden": "FieldValueForbidden",
    }.get(message.partition(":")[0], "FieldValueInvalid")


def _validate_role_ref(ref: RoleRef, kinds: tuple[str, ...], problems: Problems) -> None:
    # An empty group is defaulted to the RBAC group, so only a wrong one is an error.
    if ref.api_group and ref.api_group != GROUP_NAME:
        problems.not_supported("roleRef.apiGroup", ref.api_group, (GROUP_NAME,))
    if ref.kind not in kinds:
        problems.not_supported("roleRef.kind", ref.kind, kinds)
    if not ref.name:
        problems.required("roleRef.name")
    else:
        problems.from_messages("roleRef.name", ref.name, is_path_segment_name(ref.name))


def _validate_subject(subject: Subject, namespaced: bool, path: str, problems: Problems) -> None:
    if not subject.name:
        problems.required(f"{path}.name")
    if subject.kind == SERVICE_ACCOUNT_KIND:
        if subject.name:
            problems.from_messages(
                f"{path}.name", subject.name, names.is_dns1123_subdomain(subject.name)
            )
        if subject.api_group:
            problems.not_supported(f"{path}.apiGroup", subject.api_group, ("",))
        # A RoleBinding's service accounts default to its own namespace; a cluster-wide
        # binding has none to lend.
        if not namespaced and not subject.namespace:
            problems.required(f"{path}.namespace")
    elif subject.kind in (USER_KIND, GROUP_KIND):
        # Before defaulting an empty apiGroup is fine: the defaulter fills in the RBAC group.
        if subject.api_group and subject.api_group != GROUP_NAME:
            problems.not_supported(f"{path}.apiGroup", subject.api_group, (GROUP_NAME,))
    else:
        problems.not_supported(f"{path}.kind", subject.kind, SUBJECT_KINDS)


@validates(RoleBinding, name_rule=is_path_segment_name)
def _validate_role_binding(binding: RoleBinding, problems: Problems) -> None:
    _validate_role_ref(binding.role_ref, ("Role", "ClusterRole"), problems)
    for i, subject in enumerate(binding.subjects):
        _validate_subject(subject, True, f"subjects[{i}]", problems)


@validates(ClusterRoleBinding, name_rule=is_path_segment_name)
def _validate_cluster_role_binding(binding: ClusterRoleBinding, problems: Problems) -> None:
    _validate_role_ref(binding.role_ref, ("ClusterRole",), problems)
    for i, subject in enumerate(binding.subjects):
        _validate_subject(subject, False, f"subjects[{i}]", problems)


# --- defaults --------------------------------------------------------------------------------


_Binding = TypeVar("_Binding", RoleBinding, ClusterRoleBinding)


def _default_subject(subject: Subject) -> Subject:
    if subject.kind in (USER_KIND, GROUP_KIND):
        return changed(subject, api_group=GROUP_NAME)
    return subject  # a ServiceAccount's group is the core group, ""


def _default_binding(binding: _Binding) -> _Binding:
    role_ref = changed(binding.role_ref, api_group=GROUP_NAME)
    subjects = map_items(binding.subjects, _default_subject)
    if role_ref is binding.role_ref and subjects is None:
        return binding
    return evolve(
        binding, role_ref=role_ref, subjects=binding.subjects if subjects is None else subjects
    )


defaulter(RoleBinding)(_default_binding)
defaulter(ClusterRoleBinding)(_default_binding)


# --- matching --------------------------------------------------------------------------------


def _resource_matches(rule: PolicyRule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for allowed in rule.resources:
        if allowed in (ALL, combined):
            return True
        # "*/scale" grants one subresource of every resource.
        if subresource and allowed == f"*/{subresource}":
            return True
    return False


def rule_allows(
    rule: PolicyRule, verb: str, api_group: str, resource: str, subresource: str, name: str
) -> bool:
    """Whether ``rule`` allows ``verb`` on a resource, as Kubernetes' RBAC authorizer decides.

    Every part must match: the verb (or ``*``), the API group (``""`` is the core group; ``*``
    any), the resource — ``pods`` does not cover ``pods/log``; ``pods/log``, ``*/log`` or ``*``
    does — and the object name, where an empty ``resourceNames`` means every name (so a rule
    with names never allows ``list`` or ``create``, whose requests carry no name).
    """
    return (
        (ALL in rule.verbs or verb in rule.verbs)
        and (ALL in rule.api_groups or api_group in rule.api_groups)
        and _resource_matches(rule, resource, subresource)
        and (not rule.resource_names or name in rule.resource_names)
    )


def rule_allows_non_resource(rule: PolicyRule, verb: str, path: str) -> bool:
    """Whether ``rule`` allows ``verb`` on a non-resource URL such as ``/healthz``.

    A URL in the rule matches exactly, or, ending in ``*``, as a prefix (``/logs/*`` covers
    ``/logs/`` and everything below it, but not ``/logs``); ``*`` alone matches every path.
    """
    if not (ALL in rule.verbs or verb in rule.verbs):
        return False
    for allowed in rule.non_resource_urls:
        if allowed in (ALL, path):
            return True
        if allowed.endswith("*") and path.startswith(allowed.rstrip("*")):
            return True
    return False
