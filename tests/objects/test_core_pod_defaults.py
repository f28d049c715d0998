"""Pod defaults: each default Kubernetes applies, what it leaves alone, Pod-only rules, identity."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kcore.objects import apply_defaults, from_dict, to_dict
from kcore.objects.kinds.core_pod import (
    Container,
    Pod,
    PodSpec,
    PodTemplateSpec,
    ResourceRequirements,
    default_container,
    default_pod_spec,
    pull_policy_for_image,
)
from kcore.objects.quantity import Quantity

DIGEST = "sha256:" + "ab" * 32


def _pod(spec: dict[str, Any]) -> Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})


def _get(data: Any, path: str) -> Any:
    """``spec.containers[0].image`` looked up in a JSON-shaped dict; KeyError when absent."""
    for part in path.replace("]", "").replace("[", ".").split("."):
        data = data[int(part)] if part.isdigit() else data[part]
    return data


def _container(**extra: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx:1.25", **extra}


@pytest.mark.parametrize(
    ("spec", "path", "expected"),
    [
        # SetDefaults_PodSpec
        ({}, "spec.restartPolicy", "Always"),
        ({}, "spec.terminationGracePeriodSeconds", 30),
        ({}, "spec.dnsPolicy", "ClusterFirst"),
        ({}, "spec.schedulerName", "default-scheduler"),
        ({}, "spec.securityContext", {}),
        # SetDefaults_Pod
        ({}, "spec.enableServiceLinks", True),
        # values already set are kept
        ({"restartPolicy": "Never"}, "spec.restartPolicy", "Never"),
        ({"terminationGracePeriodSeconds": 0}, "spec.terminationGracePeriodSeconds", 0),
        ({"dnsPolicy": "Default"}, "spec.dnsPolicy", "Default"),
        ({"enableServiceLinks": False}, "spec.enableServiceLinks", False),
        ({"securityContext": {"runAsUser": 7}}, "spec.securityContext", {"runAsUser": 7}),
        # the deprecated serviceAccount mirrors serviceAccountName, both ways
        ({"serviceAccountName": "robot"}, "spec.serviceAccount", "robot"),
        ({"serviceAccount": "robot"}, "spec.serviceAccountName", "robot"),
        # SetDefaults_Container
        ({}, "spec.containers[0].imagePullPolicy", "IfNotPresent"),
        ({}, "spec.containers[0].terminationMessagePath", "/dev/termination-log"),
        ({}, "spec.containers[0].terminationMessagePolicy", "File"),
        (
            {"containers": [_container(imagePullPolicy="Never")]},
            "spec.containers[0].imagePullPolicy",
            "Never",
        ),
        (
            {"containers": [_container(ports=[{"containerPort": 53, "protocol": "UDP"}])]},
            "spec.containers[0].ports[0].protocol",
            "UDP",
        ),
        (
            {"containers": [_container(ports=[{"containerPort": 80}])]},
            "spec.containers[0].ports[0].protocol",
            "TCP",
        ),
        # init and ephemeral containers get container defaults too
        (
            {"initContainers": [_container()]},
            "spec.initContainers[0].terminationMessagePolicy",
            "File",
        ),
        (
            {"ephemeralContainers": [_container(name="dbg", image="busybox")]},
            "spec.ephemeralContainers[0].imagePullPolicy",
            "Always",
        ),
        # SetDefaults_Probe and SetDefaults_HTTPGetAction
        *[
            (
                {"containers": [_container(livenessProbe={"httpGet": {"port": 80}})]},
                f"spec.containers[0].livenessProbe.{field}",
                value,
            )
            for field, value in [
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
                ("httpGet.path", "/"),
                ("httpGet.scheme", "HTTP"),
            ]
        ],
        (
            {"containers": [_container(readinessProbe={"grpc": {"port": 9000}})]},
            "spec.containers[0].readinessProbe.grpc.service",
            "",
        ),
        (
            {
                "containers": [
                    _container(startupProbe={"exec": {"command": ["true"]}, "periodSeconds": 3})
                ]
            },
            "spec.containers[0].startupProbe.periodSeconds",
            3,
        ),
        (
            {"containers": [_container(lifecycle={"preStop": {"httpGet": {"port": 80}}})]},
            "spec.containers[0].lifecycle.preStop.httpGet.path",
            "/",
        ),
        # SetDefaults_ObjectFieldSelector (env and downward API volumes)
        (
            {
                "containers": [
                    _container(
                        env=[
                            {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                        ]
                    )
                ]
            },
            "spec.containers[0].env[0].valueFrom.fieldRef.apiVersion",
            "v1",
        ),
        (
            {
                "volumes": [
                    {
                        "name": "d",
                        "downwardAPI": {
                            "items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]
                        },
                    }
                ]
            },
            "spec.volumes[0].downwardAPI.items[0].fieldRef.apiVersion",
            "v1",
        ),
        # volumes
        ({"volumes": [{"name": "v"}]}, "spec.volumes[0].emptyDir", {}),
        (
            {"volumes": [{"name": "v", "secret": {"secretName": "s"}}]},
            "spec.volumes[0].secret.defaultMode",
            420,
        ),
        (
            {"volumes": [{"name": "v", "configMap": {"name": "c"}}]},
            "spec.volumes[0].configMap.defaultMode",
            420,
        ),
        (
            {"volumes": [{"name": "v", "downwardAPI": {}}]},
            "spec.volumes[0].downwardAPI.defaultMode",
            420,
        ),
        (
            {"volumes": [{"name": "v", "projected": {}}]},
            "spec.volumes[0].projected.defaultMode",
            420,
        ),
        (
            {"volumes": [{"name": "v", "configMap": {"name": "c", "defaultMode": 256}}]},
            "spec.volumes[0].configMap.defaultMode",
            256,
        ),
        (
            {"volumes": [{"name": "v", "hostPath": {"path": "/x"}}]},
            "spec.volumes[0].hostPath.type",
            "",
        ),
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]},
                    }
                ]
            },
            "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds",
            3600,
        ),
        (
            {"volumes": [{"name": "v", "image": {"reference": "quay.io/a/b:latest"}}]},
            "spec.volumes[0].image.pullPolicy",
            "Always",
        ),
        (
            {
                "volumes": [
                    {
                        "name": "v",
                        "ephemeral": {
                            "volumeClaimTemplate": {
                                "spec": {
                                    "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "1Gi"}},
                                }
                            }
                        },
                    }
                ]
            },
            "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.volumeMode",
            "Filesystem",
        ),
        # requests default to limits (Pods only), for regular and init containers
        (
            {"containers": [_container(resources={"limits": {"cpu": "1", "memory": "1Gi"}})]},
            "spec.containers[0].resources.requests",
            {"cpu": "1", "memory": "1Gi"},
        ),
        (
            {
                "containers": [
                    _container(
                        resources={
                            "limits": {"cpu": "1", "memory": "1Gi"},
                            "requests": {"cpu": "250m"},
                        }
                    )
                ]
            },
            "spec.containers[0].resources.requests",
            {"cpu": "250m", "memory": "1Gi"},
        ),
        (
            {"initContainers": [_container(resources={"limits": {"memory": "64Mi"}})]},
            "spec.initContainers[0].resources.requests",
            {"memory": "64Mi"},
        ),
        # host networking: hostPort defaults to containerPort (Pods only)
        (
            {"hostNetwork": True, "containers": [_container(ports=[{"containerPort": 8080}])]},
            "spec.containers[0].ports[0].hostPort",
            8080,
        ),
        # amounts finer than a thousandth round up to it
        (
            {"containers": [_container(resources={"requests": {"cpu": "100u"}})]},
            "spec.containers[0].resources.requests.cpu",
            "1m",
        ),
        (
            {"overhead": {"cpu": "1500u", "memory": "10Mi"}},
            "spec.overhead",
            {"cpu": "2m", "memory": "10Mi"},
        ),
    ],
)
def test_default(spec: dict[str, Any], path: str, expected: Any) -> None:
    spec = {"containers": [_container()], **copy.deepcopy(spec)}
    defaulted = to_dict(apply_defaults(_pod(spec)))
    assert _get(defaulted, path) == expected


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("docker.io/library/nginx:1.25.3", "IfNotPresent"),
        (f"nginx@{DIGEST}", "IfNotPresent"),
        (f"nginx:latest@{DIGEST}", "Always"),
        (f"nginx:1.25@{DIGEST}", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("registry.example.com:443/team/app:latest", "Always"),
        ("registry.example.com/team/sub/app", "Always"),
        ("ghcr.io/org/app:Latest", "IfNotPresent"),  # tags are case-sensitive
        ("NGINX", "IfNotPresent"),  # not a valid reference: no tag known
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert pull_policy_for_image(image) == policy
    assert default_container(Container(name="c", image=image)).image_pull_policy == policy


def test_defaults_leave_unrelated_fields_absent() -> None:
    defaulted = to_dict(apply_defaults(_pod({"containers": [_container()]})))
    spec = defaulted["spec"]
    for absent in ("hostNetwork", "nodeName", "serviceAccountName", "affinity", "volumes", "os"):
        assert absent not in spec
    assert "resources" not in spec["containers"][0]  # no limits, so no requests either


def test_template_specs_get_spec_defaults_but_not_pod_only_ones() -> None:
    spec = from_dict(
        {
            "hostNetwork": True,
            "containers": [
                _container(resources={"limits": {"cpu": "1"}}, ports=[{"containerPort": 80}])
            ],
        },
        PodSpec,
    )
    defaulted = to_dict(default_pod_spec(spec))
    assert defaulted["restartPolicy"] == "Always"
    assert defaulted["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert "enableServiceLinks" not in defaulted
    assert "requests" not in defaulted["containers"][0]["resources"]
    assert "hostPort" not in defaulted["containers"][0]["ports"][0]


def test_defaulting_is_idempotent_and_free_when_done() -> None:
    pod = _pod(
        {
            "containers": [
                _container(
                    livenessProbe={"httpGet": {"port": 80}},
                    resources={"limits": {"cpu": "1"}},
                    env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                )
            ],
            "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "s"}}],
            "serviceAccountName": "robot",
        }
    )
    once = apply_defaults(pod)
    assert once is not pod
    assert once == apply_defaults(pod)
    assert apply_defaults(once) is once  # nothing missing: the same instance, no copies
    assert once.spec.containers[0].resources.requests == {"cpu": Quantity("1")}
    assert pod.spec.containers[0].resources.requests == {}  # the input is untouched


def test_defaults_share_the_parts_they_do_not_change() -> None:
    done = apply_defaults(_pod({"containers": [_container()], "volumes": [{"name": "v"}]}))
    assert default_pod_spec(done.spec) is done.spec
    # A new container needs defaults; the volumes and tolerations did not and are not copied.
    spec = {**to_dict(done)["spec"], "containers": [_container(name="other")]}
    spec["tolerations"] = [{"operator": "Exists"}]
    pod = _pod(spec)
    again = apply_defaults(pod)
    assert again.spec.containers[0].termination_message_path == "/dev/termination-log"
    assert again.spec.volumes is pod.spec.volumes
    assert again.spec.tolerations is pod.spec.tolerations
    assert PodTemplateSpec(spec=again.spec).spec is again.spec


def test_default_container_keeps_the_container_class() -> None:
    pod = apply_defaults(
        _pod(
            {
                "containers": [_container()],
                "ephemeralContainers": [{"name": "d", "image": "busybox:1"}],
            }
        )
    )
    debugger = pod.spec.ephemeral_containers[0]
    assert type(debugger).__name__ == "EphemeralContainer"
    assert debugger.termination_message_policy == "File"
    assert isinstance(pod.spec.containers[0].resources, ResourceRequirements)
