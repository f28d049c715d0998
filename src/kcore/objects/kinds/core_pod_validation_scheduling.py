"""Validation of scheduling constraints: node selectors, affinity, tolerations, taints, spreading.

Kubernetes' ValidateNodeSelector, validateAffinity, ValidateTolerations, validateNodeTaints and
validateTopologySpreadConstraints. Other kinds reuse them — a PersistentVolume's node affinity
is a NodeSelector, a Node's taints are Taints — so each is a public function taking the part,
its field path and the ``Problems`` collector.
"""

from __future__ import annotations

from collections.abc import Sequence

from kcore import errors
from kcore.objects import names
from kcore.objects.kinds.core_pod_scheduling import (
    NODE_INCLUSION_POLICIES,
    TAINT_EFFECTS,
    TOLERATION_OPERATORS,
    UNSATISFIABLE_CONSTRAINT_ACTIONS,
    Affinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodAffinityTerm,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from kcore.objects.kinds.core_pod_validation_fields import add_label_selector_problems
from kcore.objects.meta import LabelSelector
from kcore.objects.validation import Problems

__all__ = [
    "validate_affinity",
    "validate_node_selector",
    "validate_node_selector_term",
    "validate_taints",
    "validate_tolerations",
    "validate_topology_spread_constraints",
]


def _validate_label_name(key: str, path: str, problems: Problems) -> None:
    problems.from_messages(path, key, names.is_qualified_name(key))


def _validate_requirement(
    requirement: NodeSelectorRequirement, path: str, problems: Problems, check_values: bool
) -> None:
    operator, values = requirement.operator, requirement.values
    if operator in ("In", "NotIn"):
        if not values:
            problems.required(
                f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            problems.forbidden(
                f"{path}.values",
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            problems.required(
                f"{path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'"
            )
    else:
        problems.invalid(f"{path}.operator", operator, "not a valid selector operator")
    _validate_label_name(requirement.key, f"{path}.key", problems)
    if check_values:
        for i, value in enumerate(values):
            problems.from_messages(f"{path}.values[{i}]", value, names.is_valid_label_value(value))


def _validate_field_requirement(
    requirement: NodeSelectorRequirement, path: str, problems: Problems
) -> None:
    if requirement.operator in ("In", "NotIn"):
        if len(requirement.values) != 1:
            problems.required(
                f"{path}.values",
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
            )
    else:
        problems.invalid(f"{path}.operator", requirement.operator, "not a valid selector operator")
    if requirement.key != "metadata.name":
        problems.invalid(f"{path}.key", requirement.key, "not a valid field selector key")
    else:
        for i, value in enumerate(requirement.values):
            problems.from_messages(f"{path}.values[{i}]", value, names.is_dns1123_subdomain(value))


def validate_node_selector_term(
    term: NodeSelectorTerm, path: str, problems: Problems, *, check_values: bool = True
) -> None:
    """``check_values=False`` for preferred terms, where Kubernetes tolerates any label value."""
    for i, requirement in enumerate(term.match_expressions):
        _validate_requirement(requirement, f"{path}.matchExpressions[{i}]", problems, check_values)
    for i, requirement in enumerate(term.match_fields):
        _validate_field_requirement(requirement, f"{path}.matchFields[{i}]", problems)


def validate_node_selector(selector: NodeSelector, path: str, problems: Problems) -> None:
    """A required node selector: at least one term; the terms are ORed."""
    terms_path = f"{path}.nodeSelectorTerms"
    if not selector.node_selector_terms:
        problems.required(terms_path, "must have at least one node selector term")
        return
    for i, term in enumerate(selector.node_selector_terms):
        validate_node_selector_term(term, f"{terms_path}[{i}]", problems)


def _validate_weight(weight: int, path: str, problems: Problems) -> None:
    if not 1 <= weight <= 100:
        problems.invalid(path, weight, "must be in the range 1-100")


def _validate_label_keys(
    keys: Sequence[str], selector: LabelSelector | None, path: str, problems: Problems
) -> None:
    if not keys:
        return
    if selector is None:
        problems.forbidden(path, "must not be specified when labelSelector is not set")
        return
    for i, key in enumerate(keys):
        _validate_label_name(key, f"{path}[{i}]", problems)


def _validate_pod_affinity_term(term: PodAffinityTerm, path: str, problems: Problems) -> None:
    add_label_selector_problems(term.label_selector, f"{path}.labelSelector", problems)
    add_label_selector_problems(term.namespace_selector, f"{path}.namespaceSelector", problems)
    for i, namespace in enumerate(term.namespaces):
        problems.from_messages(
            f"{path}.namespaces[{i}]", namespace, names.is_dns1123_label(namespace)
        )
    _validate_label_keys(
        term.match_label_keys, term.label_selector, f"{path}.matchLabelKeys", problems
    )
    _validate_label_keys(
        term.mismatch_label_keys, term.label_selector, f"{path}.mismatchLabelKeys", problems
    )
    for i, key in enumerate(term.match_label_keys):
        if key in term.mismatch_label_keys:
            problems.invalid(
                f"{path}.matchLabelKeys[{i}]",
                key,
                "exists in both matchLabelKeys and mismatchLabelKeys",
            )
    if not term.topology_key:
        problems.required(f"{path}.topologyKey", "can not be empty")
    _validate_label_name(term.topology_key, f"{path}.topologyKey", problems)


def _validate_pod_affinity_terms(
    required: Sequence[PodAffinityTerm],
    preferred: Sequence[WeightedPodAffinityTerm],
    path: str,
    problems: Problems,
) -> None:
    for i, term in enumerate(required):
        _validate_pod_affinity_term(
            term, f"{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]", problems
        )
    for i, weighted in enumerate(preferred):
        at = f"{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        _validate_weight(weighted.weight, f"{at}.weight", problems)
        _validate_pod_affinity_term(weighted.pod_affinity_term, f"{at}.podAffinityTerm", problems)


def validate_affinity(affinity: Affinity | None, path: str, problems: Problems) -> None:
    if affinity is None:
        return
    node = affinity.node_affinity
    if node is not None:
        node_path = f"{path}.nodeAffinity"
        required = node.required_during_scheduling_ignored_during_execution
        if required is not None:
            validate_node_selector(
                required, f"{node_path}.requiredDuringSchedulingIgnoredDuringExecution", problems
            )
        for i, term in enumerate(node.preferred_during_scheduling_ignored_during_execution):
            at = f"{node_path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            _validate_weight(term.weight, f"{at}.weight", problems)
            validate_node_selector_term(
                term.preference, f"{at}.preference", problems, check_values=False
            )
    for part, where in (
        (affinity.pod_affinity, "podAffinity"),
        (affinity.pod_anti_affinity, "podAntiAffinity"),
    ):
        if part is not None:
            _validate_pod_affinity_terms(
                part.required_during_scheduling_ignored_during_execution,
                part.preferred_during_scheduling_ignored_during_execution,
                f"{path}.{where}",
                problems,
            )


def validate_tolerations(tolerations: Sequence[Toleration], path: str, problems: Problems) -> None:
    for i, toleration in enumerate(tolerations):
        at = f"{path}[{i}]"
        if toleration.key:
            _validate_label_name(toleration.key, f"{at}.key", problems)
        if not toleration.key and toleration.operator != "Exists":
            problems.invalid(
                f"{at}.operator",
                toleration.operator,
                'operator must be Exists when `key` is empty, which means "match all values and '
                'all keys"',
            )
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            problems.invalid(
                f"{at}.effect",
                toleration.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        if toleration.operator in ("Equal", ""):
            messages = names.is_valid_label_value(toleration.value)
            if messages:
                problems.invalid(f"{at}.operator", toleration.value, ";".join(messages))
        elif toleration.operator == "Exists":
            if toleration.value:
                problems.invalid(
                    f"{at}.operator",
                    toleration.value,
                    "value must be empty when `operator` is 'Exists'",
                )
        else:
            problems.not_supported(f"{at}.operator", toleration.operator, TOLERATION_OPERATORS)
        problems.enum(f"{at}.effect", toleration.effect, TAINT_EFFECTS)


def validate_taints(taints: Sequence[Taint], path: str, problems: Problems) -> None:
    """A Node's ``spec.taints``: valid keys and values, a known effect, unique key+effect."""
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        at = f"{path}[{i}]"
        _validate_label_name(taint.key, f"{at}.key", problems)
        messages = names.is_valid_label_value(taint.value)
        if messages:
            problems.invalid(f"{at}.value", taint.value, ";".join(messages))
        if not taint.effect:
            problems.required(f"{at}.effect")
        else:
            problems.enum(f"{at}.effect", taint.effect, TAINT_EFFECTS)
        if (taint.key, taint.effect) in seen:
            shown = f"{taint.key}:{taint.effect}"
            detail = f'Duplicate value: "{shown}": taints must be unique by key and effect pair'
            problems.causes.append(errors.FieldError(at, detail, shown, "FieldValueDuplicate"))
            continue
        seen.add((taint.key, taint.effect))


def validate_topology_spread_constraints(
    constraints: Sequence[TopologySpreadConstraint], path: str, problems: Problems
) -> None:
    for i, constraint in enumerate(constraints):
        at = f"{path}[{i}]"
        if constraint.max_skew <= 0:
            problems.invalid(f"{at}.maxSkew", constraint.max_skew, "must be greater than zero")
        if not constraint.topology_key:
            problems.required(f"{at}.topologyKey", "can not be empty")
        action = constraint.when_unsatisfiable
        if action not in UNSATISFIABLE_CONSTRAINT_ACTIONS:
            problems.not_supported(
                f"{at}.whenUnsatisfiable", action, UNSATISFIABLE_CONSTRAINT_ACTIONS
            )
        for later in constraints[i + 1 :]:
            if (later.topology_key, later.when_unsatisfiable) == (constraint.topology_key, action):
                problems.duplicate(
                    f"{at}.{{topologyKey, whenUnsatisfiable}}",
                    f"{{{constraint.topology_key}, {action}}}",
                )
                break
        if constraint.min_domains is not None:
            if constraint.min_domains <= 0:
                problems.invalid(
                    f"{at}.minDomains", constraint.min_domains, "must be greater than zero"
                )
            if action != "DoNotSchedule":
                problems.invalid(
                    f"{at}.minDomains",
                    constraint.min_domains,
                    f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}",
                )
        problems.enum(
            f"{at}.nodeAffinityPolicy", constraint.node_affinity_policy, NODE_INCLUSION_POLICIES
        )
        problems.enum(
            f"{at}.nodeTaintsPolicy", constraint.node_taints_policy, NODE_INCLUSION_POLICIES
        )
        selector = constraint.label_selector
        keys_path = f"{at}.matchLabelKeys"
        if constraint.match_label_keys and selector is None:
            problems.forbidden(keys_path, "must not be specified when labelSelector is not set")
        selector_keys = (
            set(selector.match_labels) | {e.key for e in selector.match_expressions}
            if selector is not None
            else set()
        )
        for j, key in enumerate(constraint.match_label_keys):
            _validate_label_name(key, f"{keys_path}[{j}]", problems)
            if key in selector_keys:
                problems.invalid(
                    f"{keys_path}[{j}]", key, "exists in both matchLabelKeys and labelSelector"
                )
        add_label_selector_problems(selector, f"{at}.labelSelector", problems)
