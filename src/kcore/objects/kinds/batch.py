"""batch/v1 Job: run pods to completion, with failure and success policies.

Fields mirror k8s.io/api batch/v1 in Go order. A Job's selector is normally not written by the
user: on create the API server generates it from the Job's uid (:func:`generate_selector`,
which the API layer calls once the uid is assigned, as kube-apiserver's Job strategy does), and
labels the pod template to match. Validation therefore accepts a Job without a selector, and
checks a present one the way Kubernetes does: either ``manualSelector: true`` or exactly the
generated labels. The rules themselves live in :mod:`.batch_validation`, imported at the bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from kcore.objects import fieldsets
from kcore.objects.defaults import changed, defaulter, map_items
from kcore.objects.kinds.apps_defaults import default_pod_template
from kcore.objects.kinds.core_pod import PodTemplateSpec
from kcore.objects.meta import LabelSelector, Object
from kcore.objects.struct import evolve, field, kind, struct

__all__ = [
    "COMPLETION_MODES",
    "CONDITION_STATUSES",
    "CONTROLLER_UID_LABEL",
    "DEFAULT_BACKOFF_LIMIT",
    "FAILED",
    "INDEXED",
    "JOB_COMPLETE",
    "JOB_COMPLETION_INDEX_ANNOTATION",
    "JOB_CONTROLLER_NAME",
    "JOB_FAILED",
    "JOB_FAILURE_TARGET",
    "JOB_INDEX_FAILURE_COUNT_ANNOTATION",
    "JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION",
    "JOB_NAME_LABEL",
    "JOB_SUCCESS_CRITERIA_MET",
    "JOB_SUSPENDED",
    "JOB_TRACKING_FINALIZER",
    "LEGACY_CONTROLLER_UID_LABEL",
    "LEGACY_JOB_NAME_LABEL",
    "NON_INDEXED",
    "ON_EXIT_CODES_OPERATORS",
    "POD_FAILURE_POLICY_ACTIONS",
    "POD_REPLACEMENT_POLICIES",
    "TERMINATING_OR_FAILED",
    "Job",
    "JobCondition",
    "JobSpec",
    "JobStatus",
    "PodFailurePolicy",
    "PodFailurePolicyOnExitCodesRequirement",
    "PodFailurePolicyOnPodConditionsPattern",
    "PodFailurePolicyRule",
    "SuccessPolicy",
    "SuccessPolicyRule",
    "UncountedTerminatedPods",
    "generate_selector",
]

# --- labels, annotations and finalizers the Job controller uses ----------------------------

_PREFIX: Final = "batch.kubernetes.io/"
JOB_NAME_LABEL: Final = _PREFIX + "job-name"
CONTROLLER_UID_LABEL: Final = _PREFIX + "controller-uid"
LEGACY_JOB_NAME_LABEL: Final = "job-name"
LEGACY_CONTROLLER_UID_LABEL: Final = "controller-uid"
JOB_COMPLETION_INDEX_ANNOTATION: Final = _PREFIX + "job-completion-index"
JOB_INDEX_FAILURE_COUNT_ANNOTATION: Final = _PREFIX + "job-index-failure-count"
JOB_INDEX_IGNORED_FAILURE_COUNT_ANNOTATION: Final = _PREFIX + "job-index-ignored-failure-count"
JOB_TRACKING_FINALIZER: Final = _PREFIX + "job-tracking"
JOB_CONTROLLER_NAME: Final = "kubernetes.io/job-controller"

# --- enum-like values ---------------------------------------------------------------------

NON_INDEXED: Final = "NonIndexed"
INDEXED: Final = "Indexed"
COMPLETION_MODES: Final = (NON_INDEXED, INDEXED)
POD_FAILURE_POLICY_ACTIONS: Final = ("Count", "FailIndex", "FailJob", "Ignore")
ON_EXIT_CODES_OPERATORS: Final = ("In", "NotIn")
CONDITION_STATUSES: Final = ("False", "True", "Unknown")
FAILED: Final = "Failed"
TERMINATING_OR_FAILED: Final = "TerminatingOrFailed"
POD_REPLACEMENT_POLICIES: Final = (FAILED, TERMINATING_OR_FAILED)

# Condition types and reasons the Job controller sets.
JOB_SUSPENDED: Final = "Suspended"
JOB_COMPLETE: Final = "Complete"
JOB_FAILED: Final = "Failed"
JOB_FAILURE_TARGET: Final = "FailureTarget"
JOB_SUCCESS_CRITERIA_MET: Final = "SuccessCriteriaMet"

DEFAULT_BACKOFF_LIMIT: Final = 6
_MAX_INT32: Final = 2**31 - 1


# --- types --------------------------------------------------------------------------------


@struct
class PodFailurePolicyOnExitCodesRequirement:
    container_name: str | None = None
    operator: str = field(default="", omitempty=False)
    values: Sequence[int] = ()


@struct
class PodFailurePolicyOnPodConditionsPattern:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)


@struct
class PodFailurePolicyRule:
    action: str = field(default="", omitempty=False)
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: Sequence[PodFailurePolicyOnPodConditionsPattern] = ()


@struct
class PodFailurePolicy:
    rules: Sequence[PodFailurePolicyRule] = ()


@struct
class SuccessPolicyRule:
    succeeded_indexes: str | None = None
    succeeded_count: int | None = None


@struct
class SuccessPolicy:
    rules: Sequence[SuccessPolicyRule] = ()


@struct
class JobSpec:
    parallelism: int | None = None
    completions: int | None = None
    active_deadline_seconds: int | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    success_policy: SuccessPolicy | None = None
    backoff_limit: int | None = None
    backoff_limit_per_index: int | None = None
    max_failed_indexes: int | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    ttl_seconds_after_finished: int | None = None
    completion_mode: str | None = None
    suspend: bool | None = None
    pod_replacement_policy: str | None = None
    managed_by: str | None = None


@struct
class UncountedTerminatedPods:
    succeeded: Sequence[str] = ()
    failed: Sequence[str] = ()


@struct
class JobCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class JobStatus:
    conditions: Sequence[JobCondition] = ()
    start_time: datetime | None = None
    completion_time: datetime | None = None
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    terminating: int | None = None
    completed_indexes: str = ""
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None
    ready: int | None = None


@kind("batch/v1", "Job", plural="jobs")
class Job(Object):
    spec: JobSpec = JobSpec()
    status: JobStatus = JobStatus()


# kube-apiserver lets field selectors name status.successful (the succeeded count).
fieldsets.selectable(Job, {"status.successful": lambda job: str(job.status.succeeded)})


# --- selector generation (the API server's create step) -----------------------------------


def generate_selector(job: Job) -> Job:
    """The Job with its generated selector and the matching pod-template labels.

    Kubernetes does this on create unless ``spec.manualSelector`` is true: the template gets
    ``batch.kubernetes.io/job-name`` and ``batch.kubernetes.io/controller-uid`` (and their
    legacy unprefixed forms), and the selector matches the controller-uid label. Labels the
    user already set are kept; if they conflict, validation rejects the Job. Needs
    ``metadata.uid``; returns ``job`` itself when nothing was missing.
    """
    if job.spec.manual_selector:
        return job
    name, uid = job.metadata.name, job.metadata.uid
    labels = dict(job.spec.template.metadata.labels)
    for key, value in (
        (LEGACY_JOB_NAME_LABEL, name),
        (JOB_NAME_LABEL, name),
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (CONTROLLER_UID_LABEL, uid),
    ):
        labels.setdefault(key, value)
    selector = job.spec.selector or LabelSelector()
    match = dict(selector.match_labels)
    match.setdefault(CONTROLLER_UID_LABEL, uid)
    if job.spec.selector is None or match != selector.match_labels:
        selector = evolve(selector, match_labels=match)
    if selector is job.spec.selector and labels == job.spec.template.metadata.labels:
        return job
    return evolve(job, spec__selector=selector, spec__template__metadata__labels=labels)


# --- defaults (pkg/apis/batch/v1/defaults.go) ---------------------------------------------


@defaulter(Job)
def _default_job(job: Job) -> Job:
    spec = job.spec
    if spec.completions is None and spec.parallelism is None:
        spec = evolve(spec, completions=1, parallelism=1)
    failure_policy = spec.pod_failure_policy
    spec = changed(
        spec,
        parallelism=1,
        # With a per-index limit, the job-wide limit is effectively unlimited.
        backoff_limit=DEFAULT_BACKOFF_LIMIT if spec.backoff_limit_per_index is None else _MAX_INT32,
        completion_mode=NON_INDEXED,
        suspend=False,
        pod_replacement_policy=FAILED if failure_policy is not None else TERMINATING_OR_FAILED,
        manual_selector=False,
    )
    if failure_policy is not None:
        rules = map_items(failure_policy.rules, _default_failure_rule)
        if rules is not None:
            spec = evolve(spec, pod_failure_policy=evolve(failure_policy, rules=rules))
    template = default_pod_template(spec.template)
    if template is not spec.template:
        spec = evolve(spec, template=template)
    if spec is not job.spec:
        job = evolve(job, spec=spec)
    # A Job without labels of its own takes its pod template's.
    if not job.metadata.labels and spec.template.metadata.labels:
        job = evolve(job, metadata__labels=spec.template.metadata.labels)
    return job


def _default_failure_rule(rule: PodFailurePolicyRule) -> PodFailurePolicyRule:
    patterns = map_items(rule.on_pod_conditions, lambda p: changed(p, status="True"))
    return rule if patterns is None else evolve(rule, on_pod_conditions=patterns)


# Registering validation needs the classes above, so it comes last.
from kcore.objects.kinds import batch_validation  # noqa: E402, F401
