"""Validation of the apps/v1 kinds, with Kubernetes' rules (pkg/apis/apps/validation).

kcore validates an object as the user submitted it, before defaults, so a field that
defaulting fills (a strategy type, ``podManagementPolicy``, a rolling update's limits) may be
absent here; when it is present its value is checked. Where Kubernetes compares two limits
(``maxSurge`` and ``maxUnavailable`` may not both be 0) an absent one counts as its default,
which is what the rule would see after defaulting.

The selector and int-or-percent helpers are shared with ``batch`` (Job), which follows the same
rules for its selector and pod template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kcore import errors
from kcore.objects import intstr, names
from kcore.objects.codec import to_dict
from kcore.objects.intstr import IntOrString
from kcore.objects.kinds.apps import (
    DAEMON_SET_UPDATE_STRATEGY_TYPES,
    DEPLOYMENT_STRATEGY_TYPES,
    ON_DELETE,
    POD_MANAGEMENT_POLICIES,
    PVC_RETENTION_POLICY_TYPES,
    RECREATE,
    ROLLING_UPDATE,
    STATEFUL_SET_UPDATE_STRATEGY_TYPES,
    DaemonSet,
    DaemonSetStatus,
    DaemonSetUpdateStrategy,
    Deployment,
    DeploymentStatus,
    DeploymentStrategy,
    ReplicaSet,
    ReplicaSetStatus,
    StatefulSet,
    StatefulSetSpec,
    StatefulSetStatus,
)
from kcore.objects.kinds.core_pod import PodTemplateSpec, validate_pod_template_spec
from kcore.objects.kinds.core_pod_volumes import PersistentVolumeClaimVolumeSource, Volume
from kcore.objects.meta import LabelSelector
from kcore.objects.selectors import selector_from_optional_label_selector, validate_label_selector
from kcore.objects.struct import evolve
from kcore.objects.validation import Problems, validates

__all__ = [
    "int_or_percent_value",
    "validate_int_or_percent",
    "validate_not_more_than_100_percent",
    "validate_selector",
    "validate_selector_matches_template",
]

_REASONS = {
    "Required value": "FieldValueRequired",
    "Forbidden": "FieldValueForbidden",
    "Unsupported value": "FieldValueNotSupported",
}
_ALWAYS = ("Always",)
_INTEGER = re.compile(r"[+-]?[0-9]+")


# --- shared helpers (also used by batch) ----------------------------------------------------


def validate_selector(
    selector: LabelSelector | None,
    path: str,
    problems: Problems,
    *,
    required: bool = True,
    empty_is_invalid_for: str | None = None,
) -> bool:
    """``selector`` is present (when ``required``), well formed and, if ``empty_is_invalid_for``
    names the kind, not empty. True when it can be turned into a matcher."""
    if selector is None:
        if required:
            problems.required(path)
        return True
    found = validate_label_selector(selector.match_labels, selector.match_expressions, path)
    for where, message in found:
        reason = _REASONS.get(message.partition(":")[0], "FieldValueInvalid")
        problems.causes.append(errors.FieldError(where, message, None, reason))
    if empty_is_invalid_for and not selector.match_labels and not selector.match_expressions:
        problems.invalid(path, {}, f"empty selector is invalid for {empty_is_invalid_for}")
    return not found


def validate_selector_matches_template(
    selector: LabelSelector | None, labels: Mapping[str, str], path: str, problems: Problems
) -> None:
    """The pods a controller creates from its template must be selected by its selector.

    An absent selector selects nothing, so, as in Kubernetes, it fails this check as well as
    the "Required value" one. An empty selector (which selects everything) passes.
    """
    matcher = selector_from_optional_label_selector(selector)
    if not matcher.is_empty() and not matcher.matches(labels):
        problems.invalid(path, dict(labels), "`selector` does not match template `labels`")


def int_or_percent_value(value: IntOrString) -> int:
    """The number in an int or ``"<n>%"`` (0 for a malformed string), for limit comparisons."""
    if isinstance(value, int):
        return value
    if not names.is_percent(value):
        return intstr.parse_percent(value)
    # Kubernetes reads any other string as a plain integer, and as 0 when it is not one.
    return int(value) if _INTEGER.fullmatch(value) else 0


def validate_int_or_percent(value: IntOrString | None, path: str, problems: Problems) -> None:
    """A non-negative int or a percentage such as "25%" (ValidatePositiveIntOrPercent)."""
    if value is None:
        return
    if isinstance(value, str):
        problems.from_messages(path, value, names.is_percent(value))
    else:
        problems.non_negative(path, value)


def validate_not_more_than_100_percent(
    value: IntOrString | None, path: str, problems: Problems
) -> None:
    if isinstance(value, str) and not names.is_percent(value) and intstr.parse_percent(value) > 100:
        problems.invalid(path, value, "must not be greater than 100%")


def _validate_pod_template(
    template: PodTemplateSpec,
    selector: LabelSelector | None,
    selector_ok: bool,
    path: str,
    problems: Problems,
    kind_name: str,
) -> None:
    """The template rules every apps kind shares: labels match, valid pod, restartPolicy Always."""
    if selector_ok:
        validate_selector_matches_template(
            selector, template.metadata.labels, f"{path}.metadata.labels", problems
        )
    validate_pod_template_spec(template, path, problems)
    _validate_restart_always(template, path, problems, kind_name)


def _validate_restart_always(
    template: PodTemplateSpec, path: str, problems: Problems, kind_name: str
) -> None:
    # An unset restartPolicy defaults to Always, so only a set, different value is wrong.
    policy = template.spec.restart_policy
    if policy and policy not in _ALWAYS:
        problems.not_supported(f"{path}.spec.restartPolicy", policy, _ALWAYS)
    if template.spec.active_deadline_seconds is not None:
        problems.forbidden(
            f"{path}.spec.activeDeadlineSeconds",
            f"activeDeadlineSeconds in {kind_name} is not Supported",
        )


def _validate_counts(
    status: object, path: str, fields: Sequence[tuple[str, str]], problems: Problems
) -> None:
    for attribute, wire in fields:
        value = getattr(status, attribute)
        if value is not None:
            problems.non_negative(f"{path}.{wire}", value)


def _not_above(value: int, limit: int, path: str, limit_name: str, problems: Problems) -> None:
    if value > limit:
        problems.invalid(path, value, f"cannot be greater than {limit_name}")


# --- ReplicaSet ---------------------------------------------------------------------------


@validates(ReplicaSet)
def _validate_replica_set(rs: ReplicaSet, problems: Problems) -> None:
    spec = rs.spec
    problems.non_negative("spec.replicas", spec.replicas)
    problems.non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    selector_ok = validate_selector(
        spec.selector, "spec.selector", problems, empty_is_invalid_for="replicaset"
    )
    _validate_pod_template(
        spec.template, spec.selector, selector_ok, "spec.template", problems, "ReplicaSet"
    )
    _validate_replica_set_status(rs.status, problems)


def _validate_replica_set_status(status: ReplicaSetStatus, problems: Problems) -> None:
    _validate_counts(
        status,
        "status",
        (
            ("replicas", "replicas"),
            ("fully_labeled_replicas", "fullyLabeledReplicas"),
            ("ready_replicas", "readyReplicas"),
            ("available_replicas", "availableReplicas"),
            ("terminating_replicas", "terminatingReplicas"),
            ("observed_generation", "observedGeneration"),
        ),
        problems,
    )
    replicas = "status.replicas"
    _not_above(
        status.fully_labeled_replicas,
        status.replicas,
        "status.fullyLabeledReplicas",
        replicas,
        problems,
    )
    _not_above(status.ready_replicas, status.replicas, "status.readyReplicas", replicas, problems)
    _not_above(
        status.available_replicas, status.replicas, "status.availableReplicas", replicas, problems
    )
    _not_above(
        status.available_replicas,
        status.ready_replicas,
        "status.availableReplicas",
        "readyReplicas",
        problems,
    )


# --- Deployment ---------------------------------------------------------------------------


@validates(Deployment)
def _validate_deployment(deployment: Deployment, problems: Problems) -> None:
    spec = deployment.spec
    problems.non_negative("spec.replicas", spec.replicas)
    selector_ok = validate_selector(
        spec.selector, "spec.selector", problems, empty_is_invalid_for="deployment"
    )
    _validate_pod_template(
        spec.template, spec.selector, selector_ok, "spec.template", problems, "Deployment"
    )
    _validate_deployment_strategy(spec.strategy, "spec.strategy", problems)
    problems.non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    problems.non_negative("spec.revisionHistoryLimit", spec.revision_history_limit)
    deadline = spec.progress_deadline_seconds
    if deadline is not None:
        problems.non_negative("spec.progressDeadlineSeconds", deadline)
        if deadline <= spec.min_ready_seconds:
            problems.invalid(
                "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
            )
    _validate_deployment_status(deployment.status, problems)


def _validate_deployment_strategy(
    strategy: DeploymentStrategy, path: str, problems: Problems
) -> None:
    if strategy.type == RECREATE:
        if strategy.rolling_update is not None:
            problems.forbidden(
                f"{path}.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )
        return
    if strategy.type not in ("", ROLLING_UPDATE):
        problems.not_supported(f"{path}.type", strategy.type, DEPLOYMENT_STRATEGY_TYPES)
        return
    rolling = strategy.rolling_update
    if rolling is None:  # defaulting fills 25%/25%
        return
    at = f"{path}.rollingUpdate"
    validate_int_or_percent(rolling.max_unavailable, f"{at}.maxUnavailable", problems)
    validate_int_or_percent(rolling.max_surge, f"{at}.maxSurge", problems)
    unavailable = "25%" if rolling.max_unavailable is None else rolling.max_unavailable
    surge = "25%" if rolling.max_surge is None else rolling.max_surge
    if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
        problems.invalid(f"{at}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0")
    validate_not_more_than_100_percent(rolling.max_unavailable, f"{at}.maxUnavailable", problems)


def _validate_deployment_status(status: DeploymentStatus, problems: Problems) -> None:
    _validate_counts(
        status,
        "status",
        (
            ("observed_generation", "observedGeneration"),
            ("replicas", "replicas"),
            ("updated_replicas", "updatedReplicas"),
            ("ready_replicas", "readyReplicas"),
            ("available_replicas", "availableReplicas"),
            ("unavailable_replicas", "unavailableReplicas"),
            ("terminating_replicas", "terminatingReplicas"),
            ("collision_count", "collisionCount"),
        ),
        problems,
    )
    replicas = "status.replicas"
    _not_above(
        status.updated_replicas, status.replicas, "status.updatedReplicas", replicas, problems
    )
    _not_above(status.ready_replicas, status.replicas, "status.readyReplicas", replicas, problems)
    _not_above(
        status.available_replicas, status.replicas, "status.availableReplicas", replicas, problems
    )
    _not_above(
        status.available_replicas,
        status.ready_replicas,
        "status.availableReplicas",
        "readyReplicas",
        problems,
    )


# --- StatefulSet --------------------------------------------------------------------------


# StatefulSet names become pod hostnames (<name>-<ordinal>), so they must be DNS labels.
@validates(StatefulSet, name_rule=names.is_dns1123_label)
def _validate_stateful_set(sts: StatefulSet, problems: Problems) -> None:
    spec = sts.spec
    problems.enum("spec.podManagementPolicy", spec.pod_management_policy, POD_MANAGEMENT_POLICIES)
    _validate_stateful_set_update_strategy(spec, problems)
    retention = spec.persistent_volume_claim_retention_policy
    if retention is not None:
        at = "spec.persistentVolumeClaimRetentionPolicy"
        problems.enum(f"{at}.whenDeleted", retention.when_deleted, PVC_RETENTION_POLICY_TYPES)
        problems.enum(f"{at}.whenScaled", retention.when_scaled, PVC_RETENTION_POLICY_TYPES)
    problems.non_negative("spec.replicas", spec.replicas)
    problems.non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    if spec.ordinals is not None:
        problems.non_negative("spec.ordinals.start", spec.ordinals.start)
    if spec.service_name:
        problems.from_messages(
            "spec.serviceName", spec.service_name, names.is_dns1123_label(spec.service_name)
        )
    selector_ok = validate_selector(
        spec.selector, "spec.selector", problems, empty_is_invalid_for="statefulset"
    )
    if selector_ok:
        validate_selector_matches_template(
            spec.selector, spec.template.metadata.labels, "spec.template.metadata.labels", problems
        )
    # The controller mounts each claim template as a volume of the same name, so the pod is
    # validated with those volumes present (Kubernetes skips pod validation here entirely).
    validate_pod_template_spec(_with_claim_volumes(spec), "spec.template", problems)
    _validate_restart_always(spec.template, "spec.template", problems, "StatefulSet")
    _validate_stateful_set_status(sts.status, problems)


def _validate_stateful_set_update_strategy(spec: StatefulSetSpec, problems: Problems) -> None:
    strategy = spec.update_strategy
    at = "spec.updateStrategy"
    if strategy.type == ON_DELETE:
        if strategy.rolling_update is not None:
            problems.invalid(
                f"{at}.rollingUpdate",
                to_dict(strategy.rolling_update),
                f"only allowed for updateStrategy '{ROLLING_UPDATE}'",
            )
        return
    if strategy.type not in ("", ROLLING_UPDATE):
        problems.not_supported(f"{at}.type", strategy.type, STATEFUL_SET_UPDATE_STRATEGY_TYPES)
        return
    rolling = strategy.rolling_update
    if rolling is None:
        return
    problems.non_negative(f"{at}.rollingUpdate.partition", rolling.partition)
    if rolling.max_unavailable is not None:
        where = f"{at}.rollingUpdate.maxUnavailable"
        validate_int_or_percent(rolling.max_unavailable, where, problems)
        if int_or_percent_value(rolling.max_unavailable) == 0:
            problems.invalid(where, rolling.max_unavailable, "cannot be 0")
        validate_not_more_than_100_percent(rolling.max_unavailable, where, problems)


def _with_claim_volumes(spec: StatefulSetSpec) -> PodTemplateSpec:
    template = spec.template
    have = {volume.name for volume in template.spec.volumes}
    extra = tuple(
        Volume(
            name=claim.metadata.name,
            persistent_volume_claim=PersistentVolumeClaimVolumeSource(
                claim_name=claim.metadata.name
            ),
        )
        for claim in spec.volume_claim_templates
        if claim.metadata.name and claim.metadata.name not in have
    )
    if not extra:
        return template
    return evolve(template, spec__volumes=(*template.spec.volumes, *extra))


def _validate_stateful_set_status(status: StatefulSetStatus, problems: Problems) -> None:
    _validate_counts(
        status,
        "status",
        (
            ("replicas", "replicas"),
            ("ready_replicas", "readyReplicas"),
            ("current_replicas", "currentReplicas"),
            ("updated_replicas", "updatedReplicas"),
            ("available_replicas", "availableReplicas"),
            ("observed_generation", "observedGeneration"),
            ("collision_count", "collisionCount"),
        ),
        problems,
    )
    replicas = "status.replicas"
    _not_above(status.ready_replicas, status.replicas, "status.readyReplicas", replicas, problems)
    _not_above(
        status.current_replicas, status.replicas, "status.currentReplicas", replicas, problems
    )
    _not_above(
        status.updated_replicas, status.replicas, "status.updatedReplicas", replicas, problems
    )
    _not_above(
        status.available_replicas, status.replicas, "status.availableReplicas", replicas, problems
    )
    _not_above(
        status.available_replicas,
        status.ready_replicas,
        "status.availableReplicas",
        "status.readyReplicas",
        problems,
    )


# --- DaemonSet ----------------------------------------------------------------------------


@validates(DaemonSet)
def _validate_daemon_set(ds: DaemonSet, problems: Problems) -> None:
    spec = ds.spec
    selector_ok = validate_selector(
        spec.selector, "spec.selector", problems, empty_is_invalid_for="daemonset"
    )
    _validate_pod_template(
        spec.template, spec.selector, selector_ok, "spec.template", problems, "DaemonSet"
    )
    problems.non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    _validate_daemon_set_update_strategy(spec.update_strategy, "spec.updateStrategy", problems)
    problems.non_negative("spec.revisionHistoryLimit", spec.revision_history_limit)
    _validate_daemon_set_status(ds.status, problems)


def _validate_daemon_set_update_strategy(
    strategy: DaemonSetUpdateStrategy, path: str, problems: Problems
) -> None:
    if strategy.type == ON_DELETE:
        return
    if strategy.type not in ("", ROLLING_UPDATE):
        problems.not_supported(f"{path}.type", strategy.type, DAEMON_SET_UPDATE_STRATEGY_TYPES)
        return
    rolling = strategy.rolling_update
    if rolling is None:  # defaulting fills maxUnavailable 1, maxSurge 0
        return
    at = f"{path}.rollingUpdate"
    validate_int_or_percent(rolling.max_unavailable, f"{at}.maxUnavailable", problems)
    validate_int_or_percent(rolling.max_surge, f"{at}.maxSurge", problems)
    validate_not_more_than_100_percent(rolling.max_unavailable, f"{at}.maxUnavailable", problems)
    validate_not_more_than_100_percent(rolling.max_surge, f"{at}.maxSurge", problems)
    # Exactly one of the two may be non-zero: a DaemonSet either surges or takes pods down.
    unavailable = 1 if rolling.max_unavailable is None else rolling.max_unavailable
    surge = 0 if rolling.max_surge is None else rolling.max_surge
    has_unavailable = int_or_percent_value(unavailable) != 0
    has_surge = int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        problems.invalid(f"{at}.maxSurge", surge, "may not be set when maxUnavailable is non-zero")
    elif not has_unavailable and not has_surge:
        problems.required(f"{at}.maxUnavailable", "cannot be 0 when maxSurge is 0")


def _validate_daemon_set_status(status: DaemonSetStatus, problems: Problems) -> None:
    _validate_counts(
        status,
        "status",
        (
            ("current_number_scheduled", "currentNumberScheduled"),
            ("number_misscheduled", "numberMisscheduled"),
            ("desired_number_scheduled", "desiredNumberScheduled"),
            ("number_ready", "numberReady"),
            ("observed_generation", "observedGeneration"),
            ("updated_number_scheduled", "updatedNumberScheduled"),
            ("number_available", "numberAvailable"),
            ("number_unavailable", "numberUnavailable"),
            ("collision_count", "collisionCount"),
        ),
        problems,
    )
