"""autoscaling/v2 HorizontalPodAutoscaler: defaults, behavior merging, validation, wire shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kcore.objects import apply_defaults, from_dict, from_yaml, lookup, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.autoscaling import (
    HorizontalPodAutoscaler,
    HPAScalingPolicy,
    default_scale_down_rules,
    default_scale_up_rules,
)
from kcore.objects.quantity import Quantity

TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
CPU = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
}


def hpa(**spec: Any) -> HorizontalPodAutoscaler:
    obj: HorizontalPodAutoscaler = from_dict(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"scaleTargetRef": TARGET, "maxReplicas": 5, **spec},
        }
    )
    return obj


def _problems(obj: Any) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in problems_of(obj)]


def _assert_problem(obj: Any, path: str, text: str) -> None:
    found = _problems(obj)
    assert any(p == path and text in d for p, d in found), f"{path}: {text!r} not in {found}"


def test_hpa_is_registered_with_its_short_name() -> None:
    info = lookup("autoscaling/v2", "HorizontalPodAutoscaler")
    assert (info.plural, info.short_names, info.namespaced, info.has_status) == (
        "horizontalpodautoscalers",
        ("hpa",),
        True,
        True,
    )


# --- defaults -----------------------------------------------------------------------------


def test_defaults_without_metrics_or_behavior() -> None:
    spec = apply_defaults(hpa()).spec
    assert spec.min_replicas == 1
    assert len(spec.metrics) == 1
    metric = spec.metrics[0]
    assert metric.type == "Resource" and metric.resource is not None
    assert metric.resource.name == "cpu"
    assert (metric.resource.target.type, metric.resource.target.average_utilization) == (
        "Utilization",
        80,
    )
    assert spec.behavior is None  # behavior is only filled in once the user writes some


def test_given_metrics_and_min_replicas_are_kept() -> None:
    spec = apply_defaults(hpa(minReplicas=3, metrics=[CPU])).spec
    assert spec.min_replicas == 3
    assert to_dict(hpa(metrics=[CPU]))["spec"]["metrics"] == [CPU]
    assert [m.resource.target.average_utilization for m in spec.metrics if m.resource] == [50]


def test_behavior_is_completed_around_what_the_user_set() -> None:
    out = apply_defaults(hpa(behavior={"scaleDown": {"selectPolicy": "Disabled"}}))
    assert out.spec.behavior is not None
    assert out.spec.behavior.scale_up == default_scale_up_rules()
    down = out.spec.behavior.scale_down
    assert down is not None
    assert down.select_policy == "Disabled"
    assert down.stabilization_window_seconds is None  # the controller's own window applies
    assert down.policies == (HPAScalingPolicy(type="Percent", value=100, period_seconds=15),)


def test_default_scaling_rules_match_kubernetes() -> None:
    up = default_scale_up_rules()
    assert (up.stabilization_window_seconds, up.select_policy) == (0, "Max")
    assert [(p.type, p.value, p.period_seconds) for p in up.policies] == [
        ("Pods", 4, 15),
        ("Percent", 100, 15),
    ]
    down = default_scale_down_rules()
    assert (down.stabilization_window_seconds, down.select_policy) == (None, "Max")
    assert [(p.type, p.value, p.period_seconds) for p in down.policies] == [("Percent", 100, 15)]


def test_user_scaling_policies_replace_the_defaults_whole() -> None:
    policies = [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    out = apply_defaults(hpa(behavior={"scaleUp": {"policies": policies, "tolerance": "0.1"}}))
    assert out.spec.behavior is not None and out.spec.behavior.scale_up is not None
    up = out.spec.behavior.scale_up
    assert up.policies == (HPAScalingPolicy(type="Pods", value=1, period_seconds=60),)
    assert (up.stabilization_window_seconds, up.select_policy) == (0, "Max")
    assert up.tolerance == Quantity("100m")


def test_defaults_are_idempotent() -> None:
    once = apply_defaults(hpa(behavior={"scaleUp": {"stabilizationWindowSeconds": 30}}))
    assert apply_defaults(once) is once
    assert _problems(once) == []


# --- validation ---------------------------------------------------------------------------


def test_minimal_hpa_is_valid_before_and_after_defaults() -> None:
    assert _problems(hpa()) == []
    assert _problems(apply_defaults(hpa())) == []


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({"minReplicas": 0}, "spec.minReplicas", "must be greater than or equal to 1"),
        ({"maxReplicas": 0}, "spec.maxReplicas", "must be greater than 0"),
        ({"minReplicas": 6}, "spec.maxReplicas", "must be greater than or equal to `minReplicas`"),
        ({"scaleTargetRef": {"name": "web"}}, "spec.scaleTargetRef.kind", "Required value"),
        ({"scaleTargetRef": {"kind": "Deployment"}}, "spec.scaleTargetRef.name", "Required"),
        (
            {"scaleTargetRef": {"kind": "Deployment", "name": ".."}},
            "spec.scaleTargetRef.name",
            "may not be '..'",
        ),
        (
            {"scaleTargetRef": {"kind": "Deploy%ment", "name": "web"}},
            "spec.scaleTargetRef.kind",
            "may not contain '%'",
        ),
    ],
)
def test_spec_rules(spec: dict[str, Any], path: str, text: str) -> None:
    _assert_problem(hpa(**spec), path, text)


def _metric(kind: str, **source: Any) -> dict[str, Any]:
    key = kind[:1].lower() + kind[1:]
    return {"type": kind, key: source}


@pytest.mark.parametrize(
    ("metric", "path", "text"),
    [
        ({"type": "Custom"}, "type", 'Unsupported value: "Custom"'),
        ({"type": "Pods"}, "pods", "must populate information for the given metric source"),
        (
            {
                **CPU,
                "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "1"}},
            },
            "external",
            "must populate the given metric source only",
        ),
        (
            _metric("Resource", name="cpu", target={"type": "Utilization"}),
            "resource.target.averageUtilization",
            "must set either a target raw value or a target utilization",
        ),
        (
            _metric("Resource", name="", target={"type": "Utilization", "averageUtilization": 5}),
            "resource.name",
            "must specify a resource name",
        ),
        (
            _metric("Resource", name="cpu", target={"type": "AverageValue", "averageValue": "0"}),
            "resource.target.averageValue",
            "must be positive",
        ),
        (
            _metric("Resource", name="cpu", target={"averageUtilization": 5}),
            "resource.target.type",
            "must specify a metric target type",
        ),
        (
            _metric(
                "ContainerResource",
                name="cpu",
                container="App",
                target={"type": "Utilization", "averageUtilization": 5},
            ),
            "containerResource.container",
            "RFC 1123 label",
        ),
        (
            _metric(
                "Pods", metric={"name": "a/b"}, target={"type": "AverageValue", "averageValue": "1"}
            ),
            "pods.metric.name",
            "may not contain '/'",
        ),
        (
            _metric(
                "Pods", metric={"name": ""}, target={"type": "AverageValue", "averageValue": "1"}
            ),
            "pods.metric.name",
            "must specify a metric name",
        ),
        (
            _metric(
                "External",
                metric={
                    "name": "q",
                    "selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]},
                },
                target={"type": "Value", "value": "1"},
            ),
            "external.metric.selector.matchExpressions[0].operator",
            "not a valid selector operator",
        ),
        (
            _metric(
                "External",
                metric={"name": "q"},
                target={"type": "Value", "value": "1", "averageValue": "1"},
            ),
            "external.target.value",
            "may not set both a target value for metric and a per-pod target",
        ),
        (
            _metric(
                "Object",
                metric={"name": "hits"},
                describedObject={"kind": "Service", "name": "web"},
                target={"type": "Utilization", "averageUtilization": 50},
            ),
            "object.target.averageValue",
            "must set either a target value or averageValue",
        ),
        (
            _metric(
                "Object",
                metric={"name": "hits"},
                describedObject={"name": "web"},
                target={"type": "Value", "value": "5"},
            ),
            "object.describedObject.kind",
            "Required value",
        ),
    ],
)
def test_metric_rules(metric: dict[str, Any], path: str, text: str) -> None:
    _assert_problem(hpa(metrics=[CPU, metric]), f"spec.metrics[1].{path}", text)


@pytest.mark.parametrize(
    "metric",
    [
        _metric("Resource", name="memory", target={"type": "AverageValue", "averageValue": "1Gi"}),
        _metric(
            "Resource", name="hugepages-2Mi", target={"type": "AverageValue", "averageValue": "1Mi"}
        ),
        _metric(
            "ContainerResource",
            name="cpu",
            container="app",
            target={"type": "Utilization", "averageUtilization": 90},
        ),
        _metric(
            "Pods", metric={"name": "qps"}, target={"type": "AverageValue", "averageValue": "10"}
        ),
        _metric(
            "External",
            metric={"name": "queue", "selector": {"matchLabels": {"q": "jobs"}}},
            target={"type": "AverageValue", "averageValue": "30"},
        ),
    ],
)
def test_valid_metrics(metric: dict[str, Any]) -> None:
    assert _problems(hpa(metrics=[metric])) == []


@pytest.mark.parametrize(
    ("rules", "path", "text"),
    [
        (
            {"stabilizationWindowSeconds": -1},
            "stabilizationWindowSeconds",
            "greater than or equal to zero",
        ),
        (
            {"stabilizationWindowSeconds": 3601},
            "stabilizationWindowSeconds",
            "less than or equal to 3600",
        ),
        ({"selectPolicy": "Average"}, "selectPolicy", 'Unsupported value: "Average"'),
        (
            {"policies": [{"type": "Nodes", "value": 1, "periodSeconds": 1}]},
            "policies[0].type",
            "Unsupported",
        ),
        (
            {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 1}]},
            "policies[0].value",
            "greater than zero",
        ),
        (
            {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]},
            "policies[0].periodSeconds",
            "greater than zero",
        ),
        (
            {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1801}]},
            "policies[0].periodSeconds",
            "less than or equal to 1800",
        ),
        ({"tolerance": "-1m"}, "tolerance", "greater than or equal to zero"),
    ],
)
def test_behavior_rules(rules: dict[str, Any], path: str, text: str) -> None:
    _assert_problem(hpa(behavior={"scaleDown": rules}), f"spec.behavior.scaleDown.{path}", text)
    _assert_problem(hpa(behavior={"scaleUp": rules}), f"spec.behavior.scaleUp.{path}", text)


def test_rules_without_policies_are_valid_because_defaults_fill_them() -> None:
    obj = hpa(behavior={"scaleUp": {"stabilizationWindowSeconds": 0}, "scaleDown": {}})
    assert _problems(obj) == []


# --- field selectors and wire shape ---------------------------------------------------------


def test_field_selectors_are_metadata_only() -> None:
    assert fields_of(hpa()) == {"metadata.name": "web", "metadata.namespace": "default"}


def test_required_wire_fields_follow_go() -> None:
    wire = to_dict(hpa())
    # desiredReplicas has no omitempty in Go, so a new HPA shows status: {desiredReplicas: 0}.
    assert wire["status"] == {"desiredReplicas": 0}
    assert wire["spec"]["scaleTargetRef"] == TARGET
    empty_current = from_dict(
        {
            **wire,
            "status": {
                "desiredReplicas": 2,
                "currentMetrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "current": {}}}
                ],
            },
        }
    )
    assert to_dict(empty_current)["status"]["currentMetrics"][0]["resource"] == {
        "name": "cpu",
        "current": {},
    }


def test_quantities_round_trip_as_written() -> None:
    metric = _metric(
        "Pods", metric={"name": "qps"}, target={"type": "AverageValue", "averageValue": "1.5k"}
    )
    obj = hpa(metrics=[metric])
    assert obj.spec.metrics[0].pods is not None
    assert obj.spec.metrics[0].pods.target.average_value == Quantity("1500")
    assert to_dict(obj)["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "1.5k"


# --- what a real cluster writes is already defaulted ---------------------------------------

CORPUS = Path(__file__).parent / "manifests"


@pytest.mark.parametrize("name", ["autoscaling/hpa-php-apache.yaml"])
def test_cluster_output_is_a_fixed_point_of_defaulting(name: str) -> None:
    """Objects as kube-apiserver returned them already carry every default; ours add nothing."""
    objects = [o for o in from_yaml((CORPUS / name).read_text()) if o.api_version != "v1"]
    assert objects
    for obj in objects:
        assert to_dict(apply_defaults(obj)) == to_dict(obj)
