"""ReplicationController: defaults from the template, validation, status, selectable fields."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.objects import apply_defaults, from_dict, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.core_replication import ReplicationController
from kcore.objects.registry import info_for

CONTAINERS = [{"name": "web", "image": "nginx:1.25"}]


def template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": labels or {}}, "spec": {"containers": CONTAINERS, **spec}}


def rc(spec: dict[str, Any], status: dict[str, Any] | None = None, **meta: Any) -> Any:
    data: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "web", **meta},
        "spec": spec,
    }
    if status is not None:
        data["status"] = status
    return from_dict(data)


def has_problem(obj: Any, path: str, text: str) -> bool:
    return any(c.path == path and text in c.detail for c in problems_of(obj))


def problems(obj: Any) -> list[str]:
    return [str(c) for c in problems_of(obj)]


def test_registry_entry() -> None:
    info = info_for(ReplicationController)
    assert (info.plural, info.short_names, info.namespaced, info.has_status) == (
        "replicationcontrollers",
        ("rc",),
        True,
        True,
    )


# --- defaults --------------------------------------------------------------------------------


def test_selector_labels_and_replicas_default_from_the_template() -> None:
    defaulted = apply_defaults(rc({"template": template({"app": "web"})}))
    assert defaulted.spec.replicas == 1
    assert dict(defaulted.spec.selector) == {"app": "web"}
    assert dict(defaulted.metadata.labels) == {"app": "web"}
    assert apply_defaults(defaulted) is defaulted


def test_explicit_selector_labels_and_zero_replicas_are_kept() -> None:
    explicit = rc(
        {"replicas": 0, "selector": {"app": "web"}, "template": template({"app": "web", "v": "2"})},
        labels={"team": "shop"},
    )
    defaulted = apply_defaults(explicit)
    assert defaulted.spec.replicas == 0
    assert dict(defaulted.spec.selector) == {"app": "web"}
    assert dict(defaulted.metadata.labels) == {"team": "shop"}


def test_template_gets_pod_spec_defaults() -> None:
    spec = apply_defaults(rc({"template": template({"app": "web"})})).spec.template.spec
    assert spec.restart_policy == "Always"
    assert spec.dns_policy == "ClusterFirst"
    assert spec.containers[0].image_pull_policy == "IfNotPresent"


def test_controller_without_template_gets_only_replicas() -> None:
    defaulted = apply_defaults(rc({"selector": {"app": "web"}}))
    assert defaulted.spec.replicas == 1 and defaulted.spec.template is None


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"template": template({"app": "web"})},  # selector comes from the labels
        {"replicas": 0, "selector": {"app": "web"}, "template": template({"app": "web", "x": "y"})},
        {"selector": {"app": "web"}, "template": template({"app": "web"}, restartPolicy="Always")},
    ],
)
def test_valid_controllers(spec: dict[str, Any]) -> None:
    assert problems(rc(spec)) == []
    assert problems(apply_defaults(rc(spec))) == []


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({"selector": {"app": "web"}}, "spec.template", "Required value"),
        ({"template": template()}, "spec.selector", "Required value"),
        (
            {"selector": {"app": "api"}, "template": template({"app": "web"})},
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        ),
        (
            {"selector": {"app": "web", "tier": "x"}, "template": template({"app": "web"})},
            "spec.template.metadata.labels",
            "`selector` does not match template `labels`",
        ),
        (
            {"replicas": -2, "template": template({"a": "b"})},
            "spec.replicas",
            "Invalid value: -2: must be greater than or equal to 0",
        ),
        (
            {"minReadySeconds": -1, "template": template({"a": "b"})},
            "spec.minReadySeconds",
            "must be greater than or equal to 0",
        ),
        (
            {"template": template({"a": "b"}, restartPolicy="Never")},
            "spec.template.spec.restartPolicy",
            'Unsupported value: "Never": supported values: "Always"',
        ),
        (
            {"template": template({"a": "b"}, activeDeadlineSeconds=30)},
            "spec.template.spec.activeDeadlineSeconds",
            "not Supported",
        ),
        (
            {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}},
            "spec.template.spec.containers",
            "Required value",
        ),
        (
            {"template": template({"a b": "c"})},
            "spec.template.labels",  # Kubernetes' own path for template labels
            "name part must consist",
        ),
    ],
)
def test_invalid_controllers(spec: dict[str, Any], path: str, text: str) -> None:
    controller = rc(spec)
    assert has_problem(controller, path, text), problems(controller)


@pytest.mark.parametrize(
    ("status", "path", "text"),
    [
        ({"replicas": -1}, "status.replicas", "must be greater than or equal to 0"),
        ({"replicas": 1, "readyReplicas": 2}, "status.readyReplicas", "status.replicas"),
        ({"replicas": 1, "fullyLabeledReplicas": 2}, "status.fullyLabeledReplicas", "replicas"),
        (
            {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2},
            "status.availableReplicas",
            "cannot be greater than readyReplicas",
        ),
        (
            {"replicas": 1, "observedGeneration": -1},
            "status.observedGeneration",
            "greater than or equal to 0",
        ),
    ],
)
def test_invalid_status(status: dict[str, Any], path: str, text: str) -> None:
    controller = rc({"template": template({"a": "b"})}, status)
    assert has_problem(controller, path, text), problems(controller)


# --- wire format and field selectors ---------------------------------------------------------


def test_status_replicas_is_written_even_when_zero() -> None:
    wire = to_dict(rc({"template": template({"a": "b"})}))
    assert wire["status"] == {"replicas": 0}


def test_replicas_zero_in_spec_survives_round_trip() -> None:
    assert to_dict(rc({"replicas": 0}))["spec"] == {"replicas": 0}


def test_status_replicas_is_selectable() -> None:
    controller = rc({}, {"replicas": 3})
    assert fields_of(controller, ["status.replicas"]) == {"status.replicas": "3"}
    assert fields_of(rc({}), ["status.replicas"]) == {"status.replicas": "0"}
