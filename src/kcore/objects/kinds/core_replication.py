"""core/v1 ReplicationController: the original "keep N pods running" kind.

Its selector is a plain label map rather than a LabelSelector, and an empty one means "the
template's labels": defaulting copies them into the selector (and into the controller's own
labels when it has none), so validation, which sees the object before defaults, accepts a
controller whose only labels are on its template. ``status.replicas`` is a Go value field
without omitempty, so it is written even when zero, as kube-apiserver writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from kcore.objects.defaults import changed, defaulter
from kcore.objects.fieldsets import selectable
from kcore.objects.kinds.core_pod import (
    PodTemplateSpec,
    default_pod_spec,
    validate_pod_template_spec,
)
from kcore.objects.meta import Object
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "ReplicationController",
    "ReplicationControllerCondition",
    "ReplicationControllerSpec",
    "ReplicationControllerStatus",
]

_ALWAYS: Final = ("Always",)


@struct
class ReplicationControllerSpec:
    replicas: int | None = None
    min_ready_seconds: int = 0
    selector: Mapping[str, str] = {}
    template: PodTemplateSpec | None = None


@struct
class ReplicationControllerCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class ReplicationControllerStatus:
    replicas: int = field(default=0, omitempty=False)
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    observed_generation: int = 0
    conditions: Sequence[ReplicationControllerCondition] = ()


@kind("v1", "ReplicationController", plural="replicationcontrollers", short_names=("rc",))
class ReplicationController(Object):
    spec: ReplicationControllerSpec = ReplicationControllerSpec()
    status: ReplicationControllerStatus = ReplicationControllerStatus()


@validates(ReplicationController)
def _validate_replication_controller(rc: ReplicationController, problems: Problems) -> None:
    spec = rc.spec
    problems.non_negative("spec.minReadySeconds", spec.min_ready_seconds)
    problems.non_negative("spec.replicas", spec.replicas)
    template = spec.template
    if template is None:
        problems.required("spec.template")
        if not spec.selector:
            problems.required("spec.selector")
    else:
        _validate_template(spec.selector, template, problems)
    _validate_status(rc.status, problems)


def _validate_template(
    selector: Mapping[str, str], template: PodTemplateSpec, problems: Problems
) -> None:
    labels = template.metadata.labels
    if not selector and not labels:
        problems.required("spec.selector")
    # The controller counts the pods its selector matches; pods from its own template must
    # be among them, or it would create pods forever.
    if selector and any(labels.get(key) != value for key, value in selector.items()):
        problems.invalid(
            "spec.template.metadata.labels",
            dict(labels),
            "`selector` does not match template `labels`",
        )
    validate_pod_template_spec(template, "spec.template", problems)
    # Controllers replace pods that exit; a pod that may stop for good has no place here.
    policy = template.spec.restart_policy
    if policy and policy not in _ALWAYS:
        problems.not_supported("spec.template.spec.restartPolicy", policy, _ALWAYS)
    if template.spec.active_deadline_seconds is not None:
        problems.forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicationController is not Supported",
        )


def _validate_status(status: ReplicationControllerStatus, problems: Problems) -> None:
    for wire, value in (
        ("replicas", status.replicas),
        ("fullyLabeledReplicas", status.fully_labeled_replicas),
        ("readyReplicas", status.ready_replicas),
        ("availableReplicas", status.available_replicas),
        ("observedGeneration", status.observed_generation),
    ):
        problems.non_negative(f"status.{wire}", value)
    for wire, value in (
        ("fullyLabeledReplicas", status.fully_labeled_replicas),
        ("readyReplicas", status.ready_replicas),
        ("availableReplicas", status.available_replicas),
    ):
        if value > status.replicas:
            problems.invalid(f"status.{wire}", value, "cannot be greater than status.replicas")
    if status.available_replicas > status.ready_replicas:
        problems.invalid(
            "status.availableReplicas",
            status.available_replicas,
            "cannot be greater than readyReplicas",
        )


@defaulter(ReplicationController)
def _default_replication_controller(rc: ReplicationController) -> ReplicationController:
    spec = changed(rc.spec, replicas=1)
    template = spec.template
    if template is not None:
        pod_spec = default_pod_spec(template.spec)
        if pod_spec is not template.spec:
            spec = evolve(spec, template=evolve(template, spec=pod_spec))
        labels = template.metadata.labels
        if labels:
            spec = changed(spec, selector=labels)
            if not rc.metadata.labels:
                rc = evolve(rc, metadata__labels=labels)
    return rc if spec is rc.spec else evolve(rc, spec=spec)


def _status_replicas(rc: ReplicationController) -> str:
    return str(rc.status.replicas)


selectable(ReplicationController, {"status.replicas": _status_replicas})
