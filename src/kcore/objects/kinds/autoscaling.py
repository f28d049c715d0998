"""autoscaling/v2 HorizontalPodAutoscaler: scale a workload's replicas to track metrics.

Fields mirror k8s.io/api autoscaling/v2 in Go order. A metric is a tagged union: ``type``
names which one of ``object``, ``pods``, ``resource``, ``containerResource`` or ``external``
is set, and validation insists on exactly that one. Defaults follow Kubernetes: one replica
at least, an 80% CPU utilization target when no metric is given, and — once any ``behavior``
is written — the scale-up and scale-down rules the controller would otherwise assume, filled
in around what the user set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from kcore.objects import fieldsets, names
from kcore.objects.defaults import changed, defaulter
from kcore.objects.kinds.apps_validation import validate_selector
from kcore.objects.meta import LabelSelector, Object
from kcore.objects.quantity import Quantity
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "ABLE_TO_SCALE",
    "DEFAULT_CPU_UTILIZATION",
    "MAX_PERIOD_SECONDS",
    "MAX_STABILIZATION_WINDOW_SECONDS",
    "METRIC_SOURCE_TYPES",
    "METRIC_TARGET_TYPES",
    "SCALING_ACTIVE",
    "SCALING_LIMITED",
    "SCALING_POLICY_TYPES",
    "SELECT_POLICIES",
    "ContainerResourceMetricSource",
    "ContainerResourceMetricStatus",
    "CrossVersionObjectReference",
    "ExternalMetricSource",
    "ExternalMetricStatus",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscaler",
    "HorizontalPodAutoscalerBehavior",
    "HorizontalPodAutoscalerCondition",
    "HorizontalPodAutoscalerSpec",
    "HorizontalPodAutoscalerStatus",
    "MetricIdentifier",
    "MetricSpec",
    "MetricStatus",
    "MetricTarget",
    "MetricValueStatus",
    "ObjectMetricSource",
    "ObjectMetricStatus",
    "PodsMetricSource",
    "PodsMetricStatus",
    "ResourceMetricSource",
    "ResourceMetricStatus",
    "default_scale_down_rules",
    "default_scale_up_rules",
]

METRIC_SOURCE_TYPES: Final = ("ContainerResource", "External", "Object", "Pods", "Resource")
METRIC_TARGET_TYPES: Final = ("Utilization", "Value", "AverageValue")
SCALING_POLICY_TYPES: Final = ("Percent", "Pods")
SELECT_POLICIES: Final = ("Disabled", "Max", "Min")
MAX_PERIOD_SECONDS: Final = 1800
MAX_STABILIZATION_WINDOW_SECONDS: Final = 3600
DEFAULT_CPU_UTILIZATION: Final = 80

# Condition types the HPA controller sets.
SCALING_ACTIVE: Final = "ScalingActive"
ABLE_TO_SCALE: Final = "AbleToScale"
SCALING_LIMITED: Final = "ScalingLimited"


# --- spec ---------------------------------------------------------------------------------


@struct
class CrossVersionObjectReference:
    kind: str = field(default="", omitempty=False)
    name: str = field(default="", omitempty=False)
    api_version: str = ""


@struct
class MetricIdentifier:
    name: str = field(default="", omitempty=False)
    selector: LabelSelector | None = None


@struct
class MetricTarget:
    type: str = field(default="", omitempty=False)
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


@struct
class ObjectMetricSource:
    described_object: CrossVersionObjectReference = CrossVersionObjectReference()
    target: MetricTarget = MetricTarget()
    metric: MetricIdentifier = MetricIdentifier()


@struct
class PodsMetricSource:
    metric: MetricIdentifier = MetricIdentifier()
    target: MetricTarget = MetricTarget()


@struct
class ResourceMetricSource:
    name: str = field(default="", omitempty=False)
    target: MetricTarget = MetricTarget()


@struct
class ContainerResourceMetricSource:
    name: str = field(default="", omitempty=False)
    target: MetricTarget = MetricTarget()
    container: str = field(default="", omitempty=False)


@struct
class ExternalMetricSource:
    metric: MetricIdentifier = MetricIdentifier()
    target: MetricTarget = MetricTarget()


@struct
class MetricSpec:
    type: str = field(default="", omitempty=False)
    object: ObjectMetricSource | None = None
    pods: PodsMetricSource | None = None
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    external: ExternalMetricSource | None = None


@struct
class HPAScalingPolicy:
    type: str = field(default="", omitempty=False)
    value: int = field(default=0, omitempty=False)
    period_seconds: int = field(default=0, omitempty=False)


@struct
class HPAScalingRules:
    stabilization_window_seconds: int | None = None
    select_policy: str | None = None
    policies: Sequence[HPAScalingPolicy] = ()
    tolerance: Quantity | None = None


@struct
class HorizontalPodAutoscalerBehavior:
    scale_up: HPAScalingRules | None = None
    scale_down: HPAScalingRules | None = None


@struct
class HorizontalPodAutoscalerSpec:
    scale_target_ref: CrossVersionObjectReference = CrossVersionObjectReference()
    min_replicas: int | None = None
    max_replicas: int = field(default=0, omitempty=False)
    metrics: Sequence[MetricSpec] = ()
    behavior: HorizontalPodAutoscalerBehavior | None = None


# --- status -------------------------------------------------------------------------------


@struct
class MetricValueStatus:
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


@struct
class ObjectMetricStatus:
    metric: MetricIdentifier = MetricIdentifier()
    # Go writes ``current`` even when it is empty; so do we, for exact round trips.
    current: MetricValueStatus = field(default=MetricValueStatus(), omitempty=False)
    described_object: CrossVersionObjectReference = CrossVersionObjectReference()


@struct
class PodsMetricStatus:
    metric: MetricIdentifier = MetricIdentifier()
    current: MetricValueStatus = field(default=MetricValueStatus(), omitempty=False)


@struct
class ResourceMetricStatus:
    name: str = field(default="", omitempty=False)
    current: MetricValueStatus = field(default=MetricValueStatus(), omitempty=False)


@struct
class ContainerResourceMetricStatus:
    name: str = field(default="", omitempty=False)
    current: MetricValueStatus = field(default=MetricValueStatus(), omitempty=False)
    container: str = field(default="", omitempty=False)


@struct
class ExternalMetricStatus:
    metric: MetricIdentifier = MetricIdentifier()
    current: MetricValueStatus = field(default=MetricValueStatus(), omitempty=False)


@struct
class MetricStatus:
    type: str = field(default="", omitempty=False)
    object: ObjectMetricStatus | None = None
    pods: PodsMetricStatus | None = None
    resource: ResourceMetricStatus | None = None
    container_resource: ContainerResourceMetricStatus | None = None
    external: ExternalMetricStatus | None = None


@struct
class HorizontalPodAutoscalerCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""
    observed_generation: int | None = None


@struct
class HorizontalPodAutoscalerStatus:
    observed_generation: int | None = None
    last_scale_time: datetime | None = None
    current_replicas: int = 0
    desired_replicas: int = field(default=0, omitempty=False)
    current_metrics: Sequence[MetricStatus] = ()
    conditions: Sequence[HorizontalPodAutoscalerCondition] = ()


@kind(
    "autoscaling/v2",
    "HorizontalPodAutoscaler",
    plural="horizontalpodautoscalers",
    short_names=("hpa",),
)
class HorizontalPodAutoscaler(Object):
    spec: HorizontalPodAutoscalerSpec = HorizontalPodAutoscalerSpec()
    status: HorizontalPodAutoscalerStatus = HorizontalPodAutoscalerStatus()


fieldsets.selectable(HorizontalPodAutoscaler, {})


# --- defaults (pkg/apis/autoscaling/v2/defaults.go) ---------------------------------------


def default_scale_up_rules() -> HPAScalingRules:
    """What the controller does without a scale-up rule: no stabilization, and per 15 s the
    larger of +4 pods and +100%."""
    return HPAScalingRules(
        stabilization_window_seconds=0,
        select_policy="Max",
        policies=(
            HPAScalingPolicy(type="Pods", value=4, period_seconds=15),
            HPAScalingPolicy(type="Percent", value=100, period_seconds=15),
        ),
    )


def default_scale_down_rules() -> HPAScalingRules:
    """Without a scale-down rule: down to 100% per 15 s. The stabilization window stays unset;
    the controller then uses its own configured window (300 s in Kubernetes)."""
    return HPAScalingRules(
        select_policy="Max",
        policies=(HPAScalingPolicy(type="Percent", value=100, period_seconds=15),),
    )


# Without metrics, an HPA keeps average CPU utilization at 80% of the pods' requests.
_DEFAULT_METRICS: Final = (
    MetricSpec(
        type="Resource",
        resource=ResourceMetricSource(
            name="cpu",
            target=MetricTarget(type="Utilization", average_utilization=DEFAULT_CPU_UTILIZATION),
        ),
    ),
)


def _merge_rules(given: HPAScalingRules | None, defaults: HPAScalingRules) -> HPAScalingRules:
    if given is None:
        return defaults
    # Only defaults that are set fill gaps (scale-down has no default window).
    fill = {
        "stabilization_window_seconds": defaults.stabilization_window_seconds,
        "select_policy": defaults.select_policy,
        "policies": defaults.policies,
    }
    return changed(given, **{name: value for name, value in fill.items() if value is not None})


@defaulter(HorizontalPodAutoscaler)
def _default_hpa(hpa: HorizontalPodAutoscaler) -> HorizontalPodAutoscaler:
    spec = changed(hpa.spec, min_replicas=1, metrics=_DEFAULT_METRICS)
    behavior = spec.behavior
    if behavior is not None:
        up = _merge_rules(behavior.scale_up, default_scale_up_rules())
        down = _merge_rules(behavior.scale_down, default_scale_down_rules())
        if up is not behavior.scale_up or down is not behavior.scale_down:
            spec = evolve(spec, behavior=evolve(behavior, scale_up=up, scale_down=down))
    return hpa if spec is hpa.spec else evolve(hpa, spec=spec)


# --- validation (pkg/apis/autoscaling/validation) -----------------------------------------


@validates(HorizontalPodAutoscaler)
def _validate_hpa(hpa: HorizontalPodAutoscaler, problems: Problems) -> None:
    spec = hpa.spec
    if spec.min_replicas is not None and spec.min_replicas < 1:
        # 0 needs the alpha HPAScaleToZero gate, which kcore does not enable.
        problems.invalid(
            "spec.minReplicas", spec.min_replicas, "must be greater than or equal to 1"
        )
    if spec.max_replicas < 1:
        problems.invalid("spec.maxReplicas", spec.max_replicas, "must be greater than 0")
    if spec.min_replicas is not None and spec.max_replicas < spec.min_replicas:
        problems.invalid(
            "spec.maxReplicas", spec.max_replicas, "must be greater than or equal to `minReplicas`"
        )
    _validate_reference(spec.scale_target_ref, "spec.scaleTargetRef", problems)
    for i, metric in enumerate(spec.metrics):
        _validate_metric(metric, f"spec.metrics[{i}]", problems)
    if spec.behavior is not None:
        _validate_rules(spec.behavior.scale_up, "spec.behavior.scaleUp", problems)
        _validate_rules(spec.behavior.scale_down, "spec.behavior.scaleDown", problems)
    problems.non_negative("status.currentReplicas", hpa.status.current_replicas)
    problems.non_negative("status.desiredReplicas", hpa.status.desired_replicas)


def _path_segment_problems(value: str) -> list[str]:
    """Kubernetes' IsValidPathSegmentName: the value becomes one segment of a URL path."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def _validate_reference(ref: CrossVersionObjectReference, path: str, problems: Problems) -> None:
    for wire, value in (("kind", ref.kind), ("name", ref.name)):
        if not value:
            problems.required(f"{path}.{wire}")
        else:
            problems.from_messages(f"{path}.{wire}", value, _path_segment_problems(value))


def _validate_identifier(metric: MetricIdentifier, path: str, problems: Problems) -> None:
    if not metric.name:
        problems.required(f"{path}.name", "must specify a metric name")
    else:
        problems.from_messages(f"{path}.name", metric.name, _path_segment_problems(metric.name))
    validate_selector(metric.selector, f"{path}.selector", problems, required=False)


def _validate_target(target: MetricTarget, path: str, problems: Problems) -> None:
    if not target.type:
        problems.required(f"{path}.type", "must specify a metric target type")
    elif target.type not in METRIC_TARGET_TYPES:
        problems.invalid(
            f"{path}.type", target.type, "must be either Utilization, Value, or AverageValue"
        )
    for wire, quantity in (("value", target.value), ("averageValue", target.average_value)):
        if quantity is not None and quantity.sign() != 1:
            problems.invalid(f"{path}.{wire}", str(quantity), "must be positive")
    if target.average_utilization is not None and target.average_utilization < 1:
        problems.invalid(
            f"{path}.averageUtilization", target.average_utilization, "must be greater than 0"
        )


def _validate_resource_name(name: str, path: str, problems: Problems) -> None:
    if not name:
        problems.required(path, "must specify a resource name")
        return
    problems.from_messages(path, name, names.is_qualified_name(name))
    standard = name in ("cpu", "memory", "ephemeral-storage") or name.startswith("hugepages-")
    if "/" not in name and not standard:
        problems.invalid(path, name, "must be a standard resource for containers")


def _validate_metric(metric: MetricSpec, path: str, problems: Problems) -> None:
    sources = {
        "object": metric.object,
        "pods": metric.pods,
        "resource": metric.resource,
        "containerResource": metric.container_resource,
        "external": metric.external,
    }
    present = [wire for wire, source in sources.items() if source is not None]
    expected = metric.type[:1].lower() + metric.type[1:]
    if not metric.type:
        problems.required(f"{path}.type", "must specify a metric source type")
    elif metric.type not in METRIC_SOURCE_TYPES:
        problems.not_supported(f"{path}.type", metric.type, METRIC_SOURCE_TYPES)
    elif sources[expected] is None:
        problems.required(
            f"{path}.{expected}", "must populate information for the given metric source"
        )
    if len(present) != 1:
        for wire in present:
            if wire != expected:
                problems.forbidden(f"{path}.{wire}", "must populate the given metric source only")
    if metric.object is not None:
        at = f"{path}.object"
        _validate_reference(metric.object.described_object, f"{at}.describedObject", problems)
        _validate_identifier(metric.object.metric, f"{at}.metric", problems)
        _validate_target(metric.object.target, f"{at}.target", problems)
        target = metric.object.target
        if target.value is None and target.average_value is None:
            problems.required(
                f"{at}.target.averageValue", "must set either a target value or averageValue"
            )
    if metric.pods is not None:
        at = f"{path}.pods"
        _validate_identifier(metric.pods.metric, f"{at}.metric", problems)
        _validate_target(metric.pods.target, f"{at}.target", problems)
        if metric.pods.target.average_value is None:
            problems.required(
                f"{at}.target.averageValue", "must specify a positive target averageValue"
            )
    if metric.resource is not None:
        at = f"{path}.resource"
        _validate_resource_name(metric.resource.name, f"{at}.name", problems)
        _validate_utilization_target(metric.resource.target, f"{at}.target", problems)
    if metric.container_resource is not None:
        at = f"{path}.containerResource"
        source = metric.container_resource
        _validate_resource_name(source.name, f"{at}.name", problems)
        if not source.container:
            problems.required(f"{at}.container", "must specify a container")
        else:
            problems.from_messages(
                f"{at}.container", source.container, names.is_dns1123_label(source.container)
            )
        _validate_utilization_target(source.target, f"{at}.target", problems)
    if metric.external is not None:
        at = f"{path}.external"
        _validate_identifier(metric.external.metric, f"{at}.metric", problems)
        _validate_target(metric.external.target, f"{at}.target", problems)
        target = metric.external.target
        if target.value is None and target.average_value is None:
            problems.required(
                f"{at}.target.averageValue",
                "must set either a target value for metric or a per-pod target",
            )
        elif target.value is not None and target.average_value is not None:
            problems.forbidden(
                f"{at}.target.value",
                "may not set both a target value for metric and a per-pod target",
            )


def _validate_utilization_target(target: MetricTarget, path: str, problems: Problems) -> None:
    """Resource metrics are per pod: a utilization or an average value, exactly one."""
    _validate_target(target, path, problems)
    if target.average_utilization is None and target.average_value is None:
        problems.required(
            f"{path}.averageUtilization",
            "must set either a target raw value or a target utilization",
        )
    elif target.average_utilization is not None and target.average_value is not None:
        problems.forbidden(
            f"{path}.averageValue", "may not set both a target raw value and a target utilization"
        )


def _validate_rules(rules: HPAScalingRules | None, path: str, problems: Problems) -> None:
    # Rules without policies are valid here: defaulting fills in Kubernetes' policies.
    if rules is None:
        return
    window = rules.stabilization_window_seconds
    if window is not None and window < 0:
        problems.invalid(
            f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"
        )
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        problems.invalid(
            f"{path}.stabilizationWindowSeconds",
            window,
            f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
        )
    if rules.select_policy is not None and rules.select_policy not in SELECT_POLICIES:
        problems.not_supported(f"{path}.selectPolicy", rules.select_policy, SELECT_POLICIES)
    for i, policy in enumerate(rules.policies):
        at = f"{path}.policies[{i}]"
        if policy.type not in SCALING_POLICY_TYPES:
            problems.not_supported(f"{at}.type", policy.type, SCALING_POLICY_TYPES)
        if policy.value <= 0:
            problems.invalid(f"{at}.value", policy.value, "must be greater than zero")
        if policy.period_seconds <= 0:
            problems.invalid(
                f"{at}.periodSeconds", policy.period_seconds, "must be greater than zero"
            )
        elif policy.period_seconds > MAX_PERIOD_SECONDS:
            problems.invalid(
                f"{at}.periodSeconds",
                policy.period_seconds,
                f"must be less than or equal to {MAX_PERIOD_SECONDS}",
            )
    if rules.tolerance is not None and rules.tolerance.sign() < 0:
        problems.invalid(
            f"{path}.tolerance", str(rules.tolerance), "must be greater than or equal to zero"
        )
