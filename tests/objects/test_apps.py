"""apps/v1 kinds: defaults, validation rules, the Deployment's surge arithmetic, wire shape.

Each table row is one Kubernetes rule: a valid object is changed in one place and the test
asserts the exact field path and the message Kubernetes gives for that rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kcore import errors
from kcore.objects import apply_defaults, evolve, from_dict, from_yaml, lookup, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.apps import (
    ControllerRevision,
    DaemonSet,
    Deployment,
    ReplicaSet,
    StatefulSet,
    max_surge_and_unavailable,
)
from kcore.objects.kinds.core_pod import default_pod_spec
from kcore.objects.kinds.core_storage import PersistentVolumeClaim

TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}
SELECTOR = {"matchLabels": {"app": "web"}}


def _obj(kind: str, spec: dict[str, Any], **extra: Any) -> Any:
    document = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
        **extra,
    }
    return from_dict(document)


def deployment(**spec: Any) -> Deployment:
    obj: Deployment = _obj("Deployment", {"selector": SELECTOR, "template": TEMPLATE, **spec})
    return obj


def replica_set(**spec: Any) -> ReplicaSet:
    obj: ReplicaSet = _obj("ReplicaSet", {"selector": SELECTOR, "template": TEMPLATE, **spec})
    return obj


def stateful_set(**spec: Any) -> StatefulSet:
    base = {"selector": SELECTOR, "template": TEMPLATE, "serviceName": "web", **spec}
    obj: StatefulSet = _obj("StatefulSet", base)
    return obj


def daemon_set(**spec: Any) -> DaemonSet:
    obj: DaemonSet = _obj("DaemonSet", {"selector": SELECTOR, "template": TEMPLATE, **spec})
    return obj


def _problems(obj: Any) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in problems_of(obj)]


def _assert_problem(obj: Any, path: str, text: str) -> None:
    found = _problems(obj)
    assert any(p == path and text in d for p, d in found), f"{path}: {text!r} not in {found}"


# --- registration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural", "short"),
    [
        ("Deployment", "deployments", ("deploy",)),
        ("ReplicaSet", "replicasets", ("rs",)),
        ("StatefulSet", "statefulsets", ("sts",)),
        ("DaemonSet", "daemonsets", ("ds",)),
        ("ControllerRevision", "controllerrevisions", ()),
    ],
)
def test_kinds_are_registered_with_kubernetes_names(
    kind: str, plural: str, short: tuple[str, ...]
) -> None:
    info = lookup("apps/v1", kind)
    assert (info.group, info.version, info.plural, info.short_names) == (
        "apps",
        "v1",
        plural,
        short,
    )
    assert info.namespaced
    assert info.has_status == (kind != "ControllerRevision")


# --- defaults -----------------------------------------------------------------------------


def test_deployment_defaults() -> None:
    raw = deployment()
    out = apply_defaults(raw)
    assert out.spec.replicas == 1
    assert out.spec.strategy.type == "RollingUpdate"
    assert out.spec.strategy.rolling_update is not None
    assert out.spec.strategy.rolling_update.max_surge == "25%"
    assert out.spec.strategy.rolling_update.max_unavailable == "25%"
    assert out.spec.revision_history_limit == 10
    assert out.spec.progress_deadline_seconds == 600
    assert out.spec.template.spec == default_pod_spec(raw.spec.template.spec)


@pytest.mark.parametrize(
    ("spec", "check"),
    [
        ({"replicas": 0}, lambda d: d.spec.replicas == 0),
        ({"revisionHistoryLimit": 0}, lambda d: d.spec.revision_history_limit == 0),
        (
            {"strategy": {"type": "Recreate"}},
            lambda d: d.spec.strategy.type == "Recreate" and d.spec.strategy.rolling_update is None,
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": 1}}},
            lambda d: (
                (
                    d.spec.strategy.rolling_update.max_surge,
                    d.spec.strategy.rolling_update.max_unavailable,
                )
                == (1, "25%")
            ),
        ),
        (
            {"strategy": {"rollingUpdate": {"maxUnavailable": 0}}},
            lambda d: d.spec.strategy.rolling_update.max_unavailable == 0,
        ),
    ],
)
def test_deployment_defaults_keep_what_is_set(spec: dict[str, Any], check: Any) -> None:
    assert check(apply_defaults(deployment(**spec)))


def test_replica_set_defaults() -> None:
    assert apply_defaults(replica_set()).spec.replicas == 1
    assert apply_defaults(replica_set(replicas=0)).spec.replicas == 0


def test_stateful_set_defaults() -> None:
    raw = stateful_set(
        volumeClaimTemplates=[
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ]
    )
    out = apply_defaults(raw)
    spec = out.spec
    assert spec.replicas == 1
    assert spec.pod_management_policy == "OrderedReady"
    assert spec.update_strategy.type == "RollingUpdate"
    assert spec.update_strategy.rolling_update is not None
    assert spec.update_strategy.rolling_update.partition == 0
    assert spec.update_strategy.rolling_update.max_unavailable is None  # gate off by default
    assert spec.revision_history_limit == 10
    policy = spec.persistent_volume_claim_retention_policy
    assert policy is not None
    assert (policy.when_deleted, policy.when_scaled) == ("Retain", "Retain")
    # Claim templates get the PersistentVolumeClaim defaults, as in Kubernetes.
    assert spec.volume_claim_templates[0] == apply_defaults(raw.spec.volume_claim_templates[0])
    assert isinstance(spec.volume_claim_templates[0], PersistentVolumeClaim)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        # An explicit RollingUpdate without the block keeps it absent (Kubernetes does too).
        ({"type": "RollingUpdate"}, ("RollingUpdate", None)),
        ({"type": "OnDelete"}, ("OnDelete", None)),
        ({"rollingUpdate": {"partition": 3}}, ("RollingUpdate", 3)),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}, ("RollingUpdate", 0)),
    ],
)
def test_stateful_set_update_strategy_defaults(
    strategy: dict[str, Any], expected: tuple[str, int | None]
) -> None:
    out = apply_defaults(stateful_set(updateStrategy=strategy)).spec.update_strategy
    partition = None if out.rolling_update is None else out.rolling_update.partition
    assert (out.type, partition) == expected


def test_stateful_set_retention_policy_is_completed_not_replaced() -> None:
    out = apply_defaults(
        stateful_set(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"})
    )
    policy = out.spec.persistent_volume_claim_retention_policy
    assert policy is not None
    assert (policy.when_deleted, policy.when_scaled) == ("Delete", "Retain")


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ({}, ("RollingUpdate", 1, 0)),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "10%"}},
            ("RollingUpdate", 1, "10%"),
        ),
        ({"rollingUpdate": {"maxUnavailable": "20%"}}, ("RollingUpdate", "20%", 0)),
        ({"type": "OnDelete"}, ("OnDelete", None, None)),
    ],
)
def test_daemon_set_update_strategy_defaults(
    strategy: dict[str, Any], expected: tuple[str, Any, Any]
) -> None:
    out = apply_defaults(daemon_set(updateStrategy=strategy))
    rolling = out.spec.update_strategy.rolling_update
    got = (
        out.spec.update_strategy.type,
        None if rolling is None else rolling.max_unavailable,
        None if rolling is None else rolling.max_surge,
    )
    assert got == expected
    assert out.spec.revision_history_limit == 10


@pytest.mark.parametrize("make", [deployment, replica_set, stateful_set, daemon_set])
def test_defaulting_a_defaulted_object_returns_it_unchanged(make: Any) -> None:
    once = apply_defaults(make())
    assert once != make()  # something was filled in
    assert apply_defaults(once) is once


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [deployment, replica_set, stateful_set, daemon_set])
def test_minimal_objects_are_valid_before_and_after_defaults(make: Any) -> None:
    assert _problems(make()) == []
    assert _problems(apply_defaults(make())) == []


@pytest.mark.parametrize("make", [deployment, replica_set, stateful_set, daemon_set])
def test_selector_rules_shared_by_every_apps_kind(make: Any) -> None:
    obj = make()
    _assert_problem(evolve(obj, spec__selector=None), "spec.selector", "Required value")
    mismatched = evolve(obj, spec__selector__match_labels={"app": "other"})
    _assert_problem(
        mismatched, "spec.template.metadata.labels", "`selector` does not match template `labels`"
    )
    empty = evolve(obj, spec__selector__match_labels={})
    _assert_problem(empty, "spec.selector", "empty selector is invalid for")
    never = evolve(obj, spec__template__spec__restart_policy="Never")
    _assert_problem(never, "spec.template.spec.restartPolicy", 'Unsupported value: "Never"')
    deadline = evolve(obj, spec__template__spec__active_deadline_seconds=60)
    _assert_problem(deadline, "spec.template.spec.activeDeadlineSeconds", "Forbidden")


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({"replicas": -1}, "spec.replicas", "must be greater than or equal to 0"),
        ({"minReadySeconds": -1}, "spec.minReadySeconds", "must be greater than or equal to 0"),
        ({"revisionHistoryLimit": -1}, "spec.revisionHistoryLimit", "greater than or equal to 0"),
        (
            {"minReadySeconds": 600, "progressDeadlineSeconds": 600},
            "spec.progressDeadlineSeconds",
            "must be greater than minReadySeconds",
        ),
        (
            {"strategy": {"type": "Recreate", "rollingUpdate": {}}},
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ),
        ({"strategy": {"type": "Canary"}}, "spec.strategy.type", 'Unsupported value: "Canary"'),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}},
            "spec.strategy.rollingUpdate.maxUnavailable",
            "may not be 0 when `maxSurge` is 0",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxUnavailable": "101%"}}},
            "spec.strategy.rollingUpdate.maxUnavailable",
            "must not be greater than 100%",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": -1}}},
            "spec.strategy.rollingUpdate.maxSurge",
            "must be greater than or equal to 0",
        ),
        (
            {"strategy": {"rollingUpdate": {"maxSurge": "25"}}},
            "spec.strategy.rollingUpdate.maxSurge",
            "a valid percent string",
        ),
    ],
)
def test_deployment_rules(spec: dict[str, Any], path: str, text: str) -> None:
    _assert_problem(deployment(**spec), path, text)


@pytest.mark.parametrize(
    "spec",
    [
        {"strategy": {"rollingUpdate": {"maxSurge": "200%", "maxUnavailable": 0}}},
        {"strategy": {"rollingUpdate": {"maxSurge": 0}}},  # maxUnavailable defaults to 25%
        {"strategy": {"rollingUpdate": {"maxUnavailable": "0%"}}},  # maxSurge defaults to 25%
        {"minReadySeconds": 10, "progressDeadlineSeconds": 11},
        {"replicas": 0},
    ],
)
def test_deployment_edge_cases_that_kubernetes_accepts(spec: dict[str, Any]) -> None:
    assert _problems(deployment(**spec)) == []


def test_replica_set_status_counts_are_bounded_by_replicas() -> None:
    bad = _obj(
        "ReplicaSet",
        {"selector": SELECTOR, "template": TEMPLATE},
        status={"replicas": 2, "fullyLabeledReplicas": 3, "readyReplicas": 1},
    )
    _assert_problem(bad, "status.fullyLabeledReplicas", "cannot be greater than status.replicas")
    assert not any(p == "status.readyReplicas" for p, _ in _problems(bad))


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({"podManagementPolicy": "Random"}, "spec.podManagementPolicy", "Unsupported value"),
        ({"updateStrategy": {"type": "Recreate"}}, "spec.updateStrategy.type", "Unsupported"),
        (
            {"updateStrategy": {"type": "OnDelete", "rollingUpdate": {}}},
            "spec.updateStrategy.rollingUpdate",
            "only allowed for updateStrategy 'RollingUpdate'",
        ),
        (
            {"updateStrategy": {"rollingUpdate": {"partition": -1}}},
            "spec.updateStrategy.rollingUpdate.partition",
            "must be greater than or equal to 0",
        ),
        (
            {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "0%"}}},
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            "cannot be 0",
        ),
        (
            {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            "must not be greater than 100%",
        ),
        (
            {"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Keep"}},
            "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
            'Unsupported value: "Keep"',
        ),
        ({"ordinals": {"start": -1}}, "spec.ordinals.start", "greater than or equal to 0"),
        ({"serviceName": "Web.Service"}, "spec.serviceName", "RFC 1123 label"),
        ({"replicas": -1}, "spec.replicas", "must be greater than or equal to 0"),
    ],
)
def test_stateful_set_rules(spec: dict[str, Any], path: str, text: str) -> None:
    _assert_problem(stateful_set(**spec), path, text)


def test_stateful_set_name_must_be_a_dns_label() -> None:
    named = evolve(stateful_set(), metadata__name="web.v2")
    _assert_problem(named, "metadata.name", "must not contain dots")
    assert _problems(evolve(stateful_set(), metadata__name="web-v2")) == []


def test_stateful_set_service_name_is_optional() -> None:
    assert _problems(stateful_set(serviceName="")) == []


def test_stateful_set_pods_may_mount_their_claim_templates() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}],
                }
            ]
        },
    }
    claim = {
        "metadata": {"name": "www"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    with_claim = stateful_set(template=template, volumeClaimTemplates=[claim])
    assert _problems(with_claim) == []
    # Without the claim template the same mount names nothing, and the pod check says so.
    without = stateful_set(template=template)
    assert any(
        p.startswith("spec.template.spec.containers[0].volumeMounts") for p, _ in _problems(without)
    )


@pytest.mark.parametrize(
    ("strategy", "path", "text"),
    [
        (
            {"rollingUpdate": {"maxSurge": 1}},  # maxUnavailable defaults to 1
            "spec.updateStrategy.rollingUpdate.maxSurge",
            "may not be set when maxUnavailable is non-zero",
        ),
        (
            {"rollingUpdate": {"maxUnavailable": 0}},
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            "cannot be 0 when maxSurge is 0",
        ),
        (
            {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "101%"}},
            "spec.updateStrategy.rollingUpdate.maxSurge",
            "must not be greater than 100%",
        ),
        ({"type": "Rolling"}, "spec.updateStrategy.type", 'Unsupported value: "Rolling"'),
    ],
)
def test_daemon_set_update_strategy_rules(strategy: dict[str, Any], path: str, text: str) -> None:
    _assert_problem(daemon_set(updateStrategy=strategy), path, text)


@pytest.mark.parametrize(
    "strategy",
    [
        {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        {"rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}},
        {"type": "OnDelete"},
    ],
)
def test_daemon_set_strategies_kubernetes_accepts(strategy: dict[str, Any]) -> None:
    assert _problems(daemon_set(updateStrategy=strategy)) == []


def test_daemon_set_status_counters_must_not_be_negative() -> None:
    bad = _obj(
        "DaemonSet",
        {"selector": SELECTOR, "template": TEMPLATE},
        status={
            "numberMisscheduled": -1,
            "currentNumberScheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        },
    )
    _assert_problem(bad, "status.numberMisscheduled", "must be greater than or equal to 0")


# --- the Deployment controller's surge arithmetic -----------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 10}, (3, 2)),  # 25% of 10: surge rounds up, unavailable down
        ({"replicas": 4}, (1, 1)),
        ({"replicas": 1}, (1, 0)),
        ({}, (1, 0)),  # unset replicas and limits read as their defaults
        (
            {
                "replicas": 3,
                "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}},
            },
            (0, 1),
        ),
        (
            {"replicas": 3, "strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 5}}},
            (2, 3),
        ),
        ({"replicas": 0}, (0, 0)),
        (
            {"replicas": 0, "strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}},
            (2, 0),
        ),
        ({"replicas": 10, "strategy": {"type": "Recreate"}}, (0, 0)),
        (
            {
                "replicas": 7,
                "strategy": {"rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "50%"}},
            },
            (4, 3),
        ),
    ],
)
def test_max_surge_and_unavailable(spec: dict[str, Any], expected: tuple[int, int]) -> None:
    obj = deployment(**spec)
    assert max_surge_and_unavailable(obj) == expected
    assert max_surge_and_unavailable(apply_defaults(obj)) == expected


def test_max_surge_rejects_a_string_that_is_not_a_percentage() -> None:
    obj = deployment(replicas=3, strategy={"rollingUpdate": {"maxSurge": "two"}})
    with pytest.raises(errors.InvalidArgumentError, match="maxSurge"):
        max_surge_and_unavailable(obj)


# --- field selectors ----------------------------------------------------------------------


def test_replica_sets_expose_status_replicas_to_field_selectors() -> None:
    rs = _obj("ReplicaSet", {"selector": SELECTOR, "template": TEMPLATE}, status={"replicas": 4})
    assert fields_of(rs, ["status.replicas", "metadata.name"]) == {
        "status.replicas": "4",
        "metadata.name": "web",
    }
    assert fields_of(replica_set(), ["status.replicas"]) == {"status.replicas": "0"}


@pytest.mark.parametrize("make", [deployment, stateful_set, daemon_set])
def test_other_apps_kinds_expose_only_metadata(make: Any) -> None:
    obj = make()
    assert fields_of(obj) == {"metadata.name": "web", "metadata.namespace": "default"}
    with pytest.raises(errors.InvalidArgumentError, match="field label not supported"):
        fields_of(obj, ["status.replicas"])


# --- wire shape -----------------------------------------------------------------------------


def test_counters_go_always_writes_are_written_when_zero() -> None:
    assert to_dict(replica_set())["status"] == {"replicas": 0}
    assert to_dict(stateful_set())["status"] == {"replicas": 0, "availableReplicas": 0}
    assert to_dict(daemon_set())["status"] == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }
    # A Deployment's status counters all carry omitempty.
    assert "status" not in to_dict(deployment())


def test_stateful_set_writes_service_name_and_typed_claim_templates() -> None:
    sts = stateful_set(serviceName="", volumeClaimTemplates=[{"metadata": {"name": "data"}}])
    wire = to_dict(sts)
    assert wire["spec"]["serviceName"] == ""
    assert wire["spec"]["volumeClaimTemplates"][0]["apiVersion"] == "v1"
    assert wire["spec"]["volumeClaimTemplates"][0]["kind"] == "PersistentVolumeClaim"


def test_int_or_string_limits_keep_their_type_on_the_wire() -> None:
    d = deployment(strategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}})
    rolling = to_dict(d)["spec"]["strategy"]["rollingUpdate"]
    assert rolling == {"maxSurge": 1, "maxUnavailable": "10%"}


def test_controller_revision_keeps_free_form_data() -> None:
    data = {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"a": "b"}}}}}
    revision = from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "web-1", "namespace": "default"},
            "data": data,
            "revision": 3,
        }
    )
    assert isinstance(revision, ControllerRevision)
    assert to_dict(revision)["data"] == data
    assert to_dict(evolve(revision, revision=0))["revision"] == 0


# --- what a real cluster writes is already defaulted ---------------------------------------

CORPUS = Path(__file__).parent / "manifests"


@pytest.mark.parametrize(
    "name",
    ["apps/deployment-with-status.yaml", "apps/replicaset-owned.yaml", "apps/statefulset-web.yaml"],
)
def test_cluster_output_is_a_fixed_point_of_defaulting(name: str) -> None:
    """Objects as kube-apiserver returned them already carry every default; ours add nothing."""
    objects = [o for o in from_yaml((CORPUS / name).read_text()) if o.api_version != "v1"]
    assert objects
    for obj in objects:
        assert to_dict(apply_defaults(obj)) == to_dict(obj)
