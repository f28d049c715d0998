"""Validation of batch/v1 Job, with Kubernetes' rules (pkg/apis/batch/validation).

As everywhere in kcore, the Job is checked as submitted, before defaults: ``completionMode``
absent means NonIndexed, a pod-condition pattern without ``status`` means "True", and a
missing selector is fine unless ``manualSelector`` is true (the API server generates it).
A Job's pod template must say ``restartPolicy: OnFailure`` or ``Never`` explicitly, because
the pod default (Always) is not allowed for Jobs — Kubernetes requires the same.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from kcore import errors
from kcore.objects import names
from kcore.objects.codec import to_dict
from kcore.objects.kinds.apps_validation import (
    validate_selector,
    validate_selector_matches_template,
)
from kcore.objects.kinds.batch import (
    COMPLETION_MODES,
    CONDITION_STATUSES,
    CONTROLLER_UID_LABEL,
    FAILED,
    INDEXED,
    JOB_NAME_LABEL,
    LEGACY_CONTROLLER_UID_LABEL,
    LEGACY_JOB_NAME_LABEL,
    ON_EXIT_CODES_OPERATORS,
    POD_FAILURE_POLICY_ACTIONS,
    POD_REPLACEMENT_POLICIES,
    Job,
    JobSpec,
    JobStatus,
    PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyRule,
    SuccessPolicyRule,
)
from kcore.objects.kinds.core_pod import validate_pod_template_spec
from kcore.objects.selectors import selector_from_label_selector
from kcore.objects.validation import Problems, validates

__all__ = ["parse_indexes"]

MAX_PARALLELISM_FOR_INDEXED_JOB = 100_000
MAX_FAILED_INDEXES_FOR_INDEXED_JOB = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS = 10_000
MAX_POD_FAILURE_POLICY_RULES = 20
MAX_ON_EXIT_CODES_VALUES = 255
MAX_ON_POD_CONDITIONS_PATTERNS = 20
MAX_MANAGED_BY_LENGTH = 63
MAX_SUCCEEDED_INDEXES_LENGTH = 64 * 1024
MAX_SUCCESS_POLICY_RULES = 20

_JOB_RESTART_POLICIES = ("OnFailure", "Never")
_HTTP_PATH = re.compile(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _too_many(path: str, count: int, limit: int, problems: Problems) -> None:
    problems.causes.append(
        errors.FieldError(
            path, f"Too many: {count}: must have at most {limit} items", count, "FieldValueTooMany"
        )
    )


def parse_indexes(text: str, completions: int) -> tuple[list[tuple[int, int]], str | None]:
    """Intervals of an index list such as ``"1,3-5,7"`` and an error (None when valid).

    The format of ``completedIndexes``, ``failedIndexes`` and ``succeededIndexes``: increasing,
    non-overlapping decimal indexes or ``a-b`` ranges, each below ``completions``.
    """
    intervals: list[tuple[int, int]] = []
    if not text:
        return intervals, None
    for fragment in text.split(","):
        limits = fragment.split("-")
        if len(limits) > 2:
            return [], (
                f'the fragment "{fragment}" violates the requirement that an index interval can '
                "have at most two parts separated by '-'"
            )
        bounds: list[int] = []
        for limit in limits:
            if _INTEGER.fullmatch(limit) is None:
                return [], f'cannot convert string to integer for index: "{limit}"'
            if int(limit) >= completions:
                return [], f'too large index: "{limit}"'
            bounds.append(int(limit))
        first, last = bounds[0], bounds[-1]
        if len(bounds) == 2 and first >= last:
            return [], f"non-increasing order, previous: {first}, current: {last}"
        if intervals and intervals[-1][1] >= first:
            return [], f"non-increasing order, previous: {intervals[-1][1]}, current: {first}"
        intervals.append((first, last))
    return intervals, None


@validates(Job)
def _validate_job(job: Job, problems: Problems) -> None:
    spec = job.spec
    _validate_generated_selector(job, problems)
    if spec.selector is None:
        if spec.manual_selector:
            problems.required("spec.selector", "when manualSelector is true")
    elif validate_selector(spec.selector, "spec.selector", problems):
        validate_selector_matches_template(
            spec.selector, spec.template.metadata.labels, "spec.template.metadata.labels", problems
        )
    _validate_job_spec(spec, problems)
    if spec.completion_mode == INDEXED and spec.completions and spec.completions > 0:
        # Pods of an Indexed Job are named <job>-<index>: the longest must be a DNS label.
        hostname = f"{job.metadata.name}-{spec.completions - 1}"
        if names.is_dns1123_label(hostname):
            problems.invalid(
                "metadata.name",
                job.metadata.name,
                f"will not able to create pod with invalid DNS label: {hostname}",
            )
    _validate_job_status(job, problems)


def _validate_generated_selector(job: Job, problems: Problems) -> None:
    """A selector the user did not ask to set manually must be exactly the generated one."""
    if job.spec.manual_selector or job.spec.selector is None:
        return
    uid, name = job.metadata.uid, job.metadata.name
    if not uid:
        problems.required("metadata.uid")
    labels = job.spec.template.metadata.labels
    expected = {
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
    }
    for key, value in expected.items():
        _validate_has_label(labels, key, value, problems)
    try:
        matcher = selector_from_label_selector(
            job.spec.selector.match_labels, job.spec.selector.match_expressions
        )
    except errors.InvalidArgumentError:
        return  # reported by the selector check
    if not matcher.matches(expected):
        problems.invalid(
            "spec.selector", to_dict(job.spec.selector), "`selector` not auto-generated"
        )


def _validate_has_label(
    labels: Mapping[str, str], key: str, expected: str, problems: Problems
) -> None:
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        problems.required(path, expected)
    elif labels[key] != expected:
        problems.invalid(path, labels[key], f"must be '{expected}'")


def _validate_job_spec(spec: JobSpec, problems: Problems) -> None:
    for wire, value in (
        ("parallelism", spec.parallelism),
        ("completions", spec.completions),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit),
        ("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished),
        ("backoffLimitPerIndex", spec.backoff_limit_per_index),
        ("maxFailedIndexes", spec.max_failed_indexes),
    ):
        problems.non_negative(f"spec.{wire}", value)
    if spec.max_failed_indexes is not None and spec.backoff_limit_per_index is None:
        problems.required("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified")
    if spec.managed_by is not None:
        _validate_managed_by(spec.managed_by, problems)
    problems.enum("spec.completionMode", spec.completion_mode, COMPLETION_MODES)
    if spec.completion_mode == INDEXED:
        _validate_indexed(spec, problems)
    else:
        for wire, value in (
            ("backoffLimitPerIndex", spec.backoff_limit_per_index),
            ("maxFailedIndexes", spec.max_failed_indexes),
        ):
            if value is not None:
                problems.invalid(f"spec.{wire}", value, "requires indexed completion mode")
    if spec.pod_failure_policy is not None:
        _validate_pod_failure_policy(spec, problems)
    if spec.success_policy is not None:
        if spec.completion_mode != INDEXED:
            problems.invalid(
                "spec.successPolicy",
                to_dict(spec.success_policy),
                "requires indexed completion mode",
            )
        else:
            _validate_success_policy(spec, problems)
    if spec.pod_replacement_policy is not None:
        allowed = (FAILED,) if spec.pod_failure_policy is not None else POD_REPLACEMENT_POLICIES
        problems.enum("spec.podReplacementPolicy", spec.pod_replacement_policy, allowed)
    validate_pod_template_spec(spec.template, "spec.template", problems)
    policy = spec.template.spec.restart_policy
    where = "spec.template.spec.restartPolicy"
    if not policy or policy == "Always":
        problems.required(where, 'valid values: "OnFailure", "Never"')
    elif policy not in _JOB_RESTART_POLICIES:
        problems.not_supported(where, policy, _JOB_RESTART_POLICIES)
    elif spec.pod_failure_policy is not None and policy != "Never":
        problems.invalid(
            where, policy, 'only "Never" is supported when podFailurePolicy is specified'
        )


def _validate_managed_by(value: str, problems: Problems) -> None:
    path = "spec.managedBy"
    host, slash, rest = value.partition("/")
    if not value:
        problems.required(path)
    elif not slash or not host or not rest:
        problems.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')
    else:
        problems.from_messages(path, host, names.is_dns1123_subdomain(host))
        if _HTTP_PATH.fullmatch(rest) is None:
            problems.invalid(
                path, rest, f"Invalid path (regex used for validation is '{_HTTP_PATH.pattern}')"
            )
    if len(value) > MAX_MANAGED_BY_LENGTH:
        problems.too_long(path, value, MAX_MANAGED_BY_LENGTH)


def _validate_indexed(spec: JobSpec, problems: Problems) -> None:
    completions, parallelism, max_failed = (
        spec.completions,
        spec.parallelism,
        spec.max_failed_indexes,
    )
    if completions is None:
        problems.required("spec.completions", "when completion mode is Indexed")
    if parallelism is not None and parallelism > MAX_PARALLELISM_FOR_INDEXED_JOB:
        problems.invalid(
            "spec.parallelism",
            parallelism,
            f"must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} "
            "when completion mode is Indexed",
        )
    if max_failed is not None:
        if completions is not None and max_failed > completions:
            problems.invalid(
                "spec.maxFailedIndexes", max_failed, "must be less than or equal to completions"
            )
        if max_failed > MAX_FAILED_INDEXES_FOR_INDEXED_JOB:
            problems.invalid(
                "spec.maxFailedIndexes",
                max_failed,
                f"must be less than or equal to {MAX_FAILED_INDEXES_FOR_INDEXED_JOB}",
            )
    if (
        completions is not None
        and completions > COMPLETIONS_SOFT_LIMIT
        and spec.backoff_limit_per_index is not None
    ):
        tail = (
            f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit "
            "per index"
        )
        if max_failed is None:
            problems.required(
                "spec.maxFailedIndexes",
                f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}",
            )
        elif max_failed > MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS:
            problems.invalid(
                "spec.maxFailedIndexes",
                max_failed,
                f"must be less than or equal to {MAX_FAILED_INDEXES_LIMIT_FOR_HIGH_COMPLETIONS} "
                + tail,
            )
        if parallelism is not None and parallelism > PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS:
            problems.invalid(
                "spec.parallelism",
                parallelism,
                f"must be less than or equal to {PARALLELISM_LIMIT_FOR_HIGH_COMPLETIONS} " + tail,
            )


def _validate_pod_failure_policy(spec: JobSpec, problems: Problems) -> None:
    assert spec.pod_failure_policy is not None
    rules = spec.pod_failure_policy.rules
    path = "spec.podFailurePolicy.rules"
    if len(rules) > MAX_POD_FAILURE_POLICY_RULES:
        _too_many(path, len(rules), MAX_POD_FAILURE_POLICY_RULES, problems)
    pod = spec.template.spec
    containers = {c.name for c in pod.containers} | {c.name for c in pod.init_containers}
    for i, rule in enumerate(rules):
        _validate_failure_rule(spec, rule, f"{path}[{i}]", containers, problems)


def _validate_failure_rule(
    spec: JobSpec, rule: PodFailurePolicyRule, path: str, containers: set[str], problems: Problems
) -> None:
    action = f"{path}.action"
    if not rule.action:
        problems.required(action, "valid values: " + ", ".join(POD_FAILURE_POLICY_ACTIONS))
    elif rule.action == "FailIndex":
        if spec.backoff_limit_per_index is None:
            problems.invalid(action, rule.action, "requires the backoffLimitPerIndex to be set")
    else:
        problems.enum(action, rule.action, POD_FAILURE_POLICY_ACTIONS)
    if rule.on_exit_codes is not None:
        _validate_on_exit_codes(rule.on_exit_codes, f"{path}.onExitCodes", containers, problems)
    patterns = rule.on_pod_conditions
    if len(patterns) > MAX_ON_POD_CONDITIONS_PATTERNS:
        _too_many(
            f"{path}.onPodConditions", len(patterns), MAX_ON_POD_CONDITIONS_PATTERNS, problems
        )
    for j, pattern in enumerate(patterns):
        at = f"{path}.onPodConditions[{j}]"
        problems.from_messages(f"{at}.type", pattern.type, names.is_qualified_name(pattern.type))
        problems.enum(f"{at}.status", pattern.status, CONDITION_STATUSES)  # "" defaults to True
    if rule.on_exit_codes is not None and patterns:
        problems.invalid(
            path, to_dict(rule), "specifying both OnExitCodes and OnPodConditions is not supported"
        )
    elif rule.on_exit_codes is None and not patterns:
        problems.invalid(
            path, to_dict(rule), "specifying one of OnExitCodes and OnPodConditions is required"
        )


def _validate_on_exit_codes(
    requirement: PodFailurePolicyOnExitCodesRequirement,
    path: str,
    containers: set[str],
    problems: Problems,
) -> None:
    operator = requirement.operator
    if not operator:
        problems.required(f"{path}.operator", "valid values: " + ", ".join(ON_EXIT_CODES_OPERATORS))
    else:
        problems.enum(f"{path}.operator", operator, ON_EXIT_CODES_OPERATORS)
    name = requirement.container_name
    if name is not None and name not in containers:
        problems.invalid(
            f"{path}.containerName",
            name,
            "must be one of the container or initContainer names in the pod template",
        )
    values = requirement.values
    if not values:
        problems.invalid(f"{path}.values", [], "at least one value is required")
    elif len(values) > MAX_ON_EXIT_CODES_VALUES:
        _too_many(f"{path}.values", len(values), MAX_ON_EXIT_CODES_VALUES, problems)
    seen: set[int] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            problems.invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator")
        if value in seen:
            problems.duplicate(f"{path}.values[{j}]", value)
        seen.add(value)
    if any(a > b for a, b in itertools.pairwise(values)):
        problems.invalid(f"{path}.values", list(values), "must be ordered")


def _validate_success_policy(spec: JobSpec, problems: Problems) -> None:
    assert spec.success_policy is not None
    rules = spec.success_policy.rules
    path = "spec.successPolicy.rules"
    if not rules:
        problems.required(
            path, "at least one rules must be specified when the successPolicy is specified"
        )
    if len(rules) > MAX_SUCCESS_POLICY_RULES:
        _too_many(path, len(rules), MAX_SUCCESS_POLICY_RULES, problems)
    for i, rule in enumerate(rules):
        _validate_success_rule(spec, rule, f"{path}[{i}]", problems)


def _validate_success_rule(
    spec: JobSpec, rule: SuccessPolicyRule, path: str, problems: Problems
) -> None:
    if rule.succeeded_count is None and rule.succeeded_indexes is None:
        problems.required(
            path, "at least one of succeededCount or succeededIndexes must be specified"
        )
    completions = spec.completions
    total = 0
    if rule.succeeded_indexes is not None:
        at = f"{path}.succeededIndexes"
        if len(rule.succeeded_indexes) > MAX_SUCCEEDED_INDEXES_LENGTH:
            problems.too_long(at, rule.succeeded_indexes, MAX_SUCCEEDED_INDEXES_LENGTH)
        if completions is not None:
            intervals, error = parse_indexes(rule.succeeded_indexes, completions)
            if error:
                problems.invalid(
                    at, rule.succeeded_indexes, f"error parsing succeededIndexes: {error}"
                )
            total = sum(last - first + 1 for first, last in intervals)
    count = rule.succeeded_count
    if count is not None:
        at = f"{path}.succeededCount"
        problems.non_negative(at, count)
        if completions is not None and count > completions:
            problems.invalid(
                at,
                count,
                f"must be less than or equal to {completions} (the number of specified "
                "completions)",
            )
        if rule.succeeded_indexes is not None and count > total:
            problems.invalid(
                at,
                count,
                f"must be less than or equal to {total} (the number of indexes in the "
                "specified succeededIndexes field)",
            )


def _validate_job_status(job: Job, problems: Problems) -> None:
    status: JobStatus = job.status
    for wire, value in (
        ("active", status.active),
        ("succeeded", status.succeeded),
        ("failed", status.failed),
        ("ready", status.ready),
        ("terminating", status.terminating),
    ):
        problems.non_negative(f"status.{wire}", value)
    if status.ready is not None and status.ready > status.active:
        problems.invalid("status.ready", status.ready, "cannot set more ready pods than active")
    uncounted = status.uncounted_terminated_pods
    if uncounted is not None:
        seen: set[str] = set()
        for wire, uids in (("succeeded", uncounted.succeeded), ("failed", uncounted.failed)):
            for i, uid in enumerate(uids):
                at = f"status.uncountedTerminatedPods.{wire}[{i}]"
                if not uid:
                    problems.invalid(at, uid, "must not be empty")
                elif uid in seen:
                    problems.duplicate(at, uid)
                seen.add(uid)
    completions = job.spec.completions
    if completions is None:
        return
    if status.completed_indexes:
        if job.spec.completion_mode != INDEXED:
            problems.invalid(
                "status.completedIndexes",
                status.completed_indexes,
                "cannot set non-empty completedIndexes when non-indexed completion mode",
            )
        _, error = parse_indexes(status.completed_indexes, completions)
        if error:
            problems.invalid(
                "status.completedIndexes",
                status.completed_indexes,
                f"error parsing completedIndexes: {error}",
            )
    if status.failed_indexes is not None:
        if job.spec.backoff_limit_per_index is None:
            problems.invalid(
                "status.failedIndexes",
                status.failed_indexes,
                "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
            )
        else:
            _, error = parse_indexes(status.failed_indexes, completions)
            if error:
                problems.invalid(
                    "status.failedIndexes",
                    status.failed_indexes,
                    f"error parsing failedIndexes: {error}",
                )
