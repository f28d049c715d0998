"""Pod validation: valid pods pass, and each Kubernetes rule fails with its path and message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from kcore import errors
from kcore.objects import apply_defaults, from_dict, problems_of, validate
from kcore.objects.kinds.core_pod import (
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSpec,
    PodTemplateSpec,
    Taint,
    validate_pod_spec,
    validate_pod_template_spec,
)
from kcore.objects.kinds.core_pod_validation_scheduling import (
    validate_node_selector,
    validate_taints,
)
from kcore.objects.validation import Problems

Patch = Callable[[dict[str, Any]], None]


def base_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.25",
                    "ports": [{"name": "http", "containerPort": 80}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }


def causes_of(patch: Patch) -> list[str]:
    document = base_pod()
    patch(document)
    return [str(cause) for cause in problems_of(from_dict(document))]


def container_of(document: dict[str, Any], index: int = 0) -> dict[str, Any]:
    container: dict[str, Any] = document["spec"]["containers"][index]
    return container


def set_field(path: str, value: Any) -> Patch:
    """A patch setting ``spec.a.b`` (dots; ``containers.0`` indexes lists) to ``value``."""

    def patch(document: dict[str, Any]) -> None:
        target: Any = document
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        target[int(last) if last.isdigit() else last] = copy.deepcopy(value)

    return patch


VALID: list[tuple[str, Patch]] = [
    ("the base pod", lambda d: None),
    (
        "a volume with no source (defaulted to emptyDir)",
        set_field("spec.volumes.0", {"name": "data"}),
    ),
    ("hostNetwork with hostPort unset (defaulted)", set_field("spec.hostNetwork", True)),
    (
        "hostNetwork with matching hostPort",
        lambda d: (
            d["spec"].update(hostNetwork=True),
            container_of(d)["ports"][0].update(hostPort=80),
        ),
    ),
    (
        "a sidecar init container with probes",
        set_field(
            "spec.initContainers",
            [
                {
                    "name": "proxy",
                    "image": "envoy",
                    "restartPolicy": "Always",
                    "readinessProbe": {"tcpSocket": {"port": 15000}},
                }
            ],
        ),
    ),
    ("toleration matching every taint", set_field("spec.tolerations", [{"operator": "Exists"}])),
    (
        "requests equal to limits",
        set_field(
            "spec.containers.0.resources", {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}
        ),
    ),
    (
        "extended resource with equal request",
        set_field(
            "spec.containers.0.resources",
            {"requests": {"example.com/fpga": "1"}, "limits": {"example.com/fpga": "1"}},
        ),
    ),
    (
        "dnsPolicy None with nameservers",
        lambda d: d["spec"].update(dnsPolicy="None", dnsConfig={"nameservers": ["1.1.1.1"]}),
    ),
    (
        "search domain with an underscore and trailing dot",
        set_field("spec.dnsConfig", {"searches": ["_tcp.example.com."]}),
    ),
    (
        "label subscript in a downward API env var",
        set_field(
            "spec.containers.0.env",
            [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
        ),
    ),
    (
        "status with dual-stack pod IPs",
        set_field(
            "status",
            {
                "hostIP": "10.0.0.1",
                "hostIPs": [{"ip": "10.0.0.1"}],
                "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}],
            },
        ),
    ),
    (
        "ephemeral container targeting a container",
        set_field(
            "spec.ephemeralContainers",
            [{"name": "dbg", "image": "busybox", "targetContainerName": "app"}],
        ),
    ),
]


@pytest.mark.parametrize("patch", [p for _, p in VALID], ids=[name for name, _ in VALID])
def test_valid_pods_pass(patch: Patch) -> None:
    document = base_pod()
    patch(document)
    pod = from_dict(document)
    validate(pod)
    validate(apply_defaults(pod))


INVALID: list[tuple[str, Patch, str]] = [
    (
        "pod name",
        set_field("metadata.name", "Web"),
        'metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain',
    ),
    (
        "duplicate container",
        lambda d: d["spec"]["containers"].append(copy.deepcopy(container_of(d))),
        'spec.containers[1].name: Duplicate value: "app"',
    ),
    (
        "init name clashes with container",
        set_field("spec.initContainers", [{"name": "app", "image": "busybox"}]),
        'spec.initContainers[0].name: Duplicate value: "app"',
    ),
    (
        "ephemeral name clashes",
        set_field("spec.ephemeralContainers", [{"name": "app", "image": "busybox"}]),
        'spec.ephemeralContainers[0].name: Duplicate value: "app"',
    ),
    (
        "ephemeral target missing",
        set_field(
            "spec.ephemeralContainers",
            [{"name": "dbg", "image": "busybox", "targetContainerName": "nope"}],
        ),
        'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"',
    ),
    (
        "host port conflict",
        lambda d: (
            d["spec"]["containers"].append(
                {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 9000}]}
            )
            or container_of(d)["ports"][0].update(hostPort=9000)
        ),
        'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//9000"',
    ),
    (
        "restartPolicy enum",
        set_field("spec.restartPolicy", "Sometimes"),
        'spec.restartPolicy: Unsupported value: "Sometimes": '
        'supported values: "Always", "OnFailure", "Never"',
    ),
    (
        "dnsPolicy enum",
        set_field("spec.dnsPolicy", "Cluster"),
        'spec.dnsPolicy: Unsupported value: "Cluster"',
    ),
    (
        "dnsPolicy None needs config",
        set_field("spec.dnsPolicy", "None"),
        "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
    ),
    (
        "too many nameservers",
        set_field("spec.dnsConfig", {"nameservers": ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"]}),
        'spec.dnsConfig.nameservers: Invalid value: ["1.1.1.1", '
        '"1.0.0.1", "8.8.8.8", "8.8.4.4"]: must not have more than 3 '
        "nameservers",
    ),
    (
        "resource claim with both sources",
        set_field(
            "spec.resourceClaims",
            [{"name": "gpu", "resourceClaimName": "a", "resourceClaimTemplateName": "b"}],
        ),
        'spec.resourceClaims[0]: Invalid value: "gpu": at most one of',
    ),
    (
        "toleration Exists with value",
        set_field("spec.tolerations", [{"key": "k", "operator": "Exists", "value": "v"}]),
        'spec.tolerations[0].operator: Invalid value: "v": value '
        "must be empty when `operator` is 'Exists'",
    ),
    (
        "toleration operator",
        set_field("spec.tolerations", [{"key": "k", "operator": "In"}]),
        'spec.tolerations[0].operator: Unsupported value: "In": '
        'supported values: "Equal", "Exists"',
    ),
    (
        "toleration effect",
        set_field("spec.tolerations", [{"key": "k", "operator": "Exists", "effect": "NoStart"}]),
        'spec.tolerations[0].effect: Unsupported value: "NoStart": '
        'supported values: "NoSchedule", "PreferNoSchedule", '
        '"NoExecute"',
    ),
    (
        "maxSkew zero",
        set_field(
            "spec.topologySpreadConstraints",
            [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
        ),
        "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
    ),
    (
        "whenUnsatisfiable enum",
        set_field(
            "spec.topologySpreadConstraints",
            [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}],
        ),
        'spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Maybe"',
    ),
    (
        "spread topologyKey",
        set_field(
            "spec.topologySpreadConstraints", [{"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}]
        ),
        "spec.topologySpreadConstraints[0].topologyKey: Required value: can not be empty",
    ),
    (
        "duplicate spread",
        set_field(
            "spec.topologySpreadConstraints",
            [{"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule"}] * 2,
        ),
        "spec.topologySpreadConstraints[0].{topologyKey, "
        'whenUnsatisfiable}: Duplicate value: "{z, DoNotSchedule}"',
    ),
    (
        "nodeSelector label value",
        set_field("spec.nodeSelector", {"disk": "fast ssd"}),
        'spec.nodeSelector[disk]: Invalid value: "fast ssd"',
    ),
    (
        "affinity topologyKey",
        set_field(
            "spec.affinity",
            {
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}}]
                }
            },
        ),
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: "
        "Required value: can not be empty",
    ),
    (
        "affinity weight",
        set_field(
            "spec.affinity",
            {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 101, "podAffinityTerm": {"topologyKey": "zone"}}
                    ]
                }
            },
        ),
        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: "
        "Invalid value: 101: must be in the range 1-100",
    ),
    (
        "node field selector key",
        set_field(
            "spec.affinity",
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {"key": "metadata.labels", "operator": "In", "values": ["a"]}
                                ]
                            }
                        ]
                    }
                }
            },
        ),
        'matchFields[0].key: Invalid value: "metadata.labels": not a valid field selector key',
    ),
    (
        "Gt needs one value",
        set_field(
            "spec.affinity",
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "cores", "operator": "Gt", "values": ["1", "2"]}
                                ]
                            }
                        ]
                    }
                }
            },
        ),
        "matchExpressions[0].values: Required value: must be "
        "specified single value when `operator` is 'Lt' or 'Gt'",
    ),
    (
        "grace period negative",
        set_field("spec.terminationGracePeriodSeconds", -5),
        "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0",
    ),
    (
        "active deadline zero",
        set_field("spec.activeDeadlineSeconds", 0),
        "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
    ),
    (
        "active deadline too big",
        set_field("spec.activeDeadlineSeconds", 2**31),
        "spec.activeDeadlineSeconds: Invalid value: 2147483648",
    ),
    (
        "hostUsers false with hostNetwork",
        lambda d: d["spec"].update(hostUsers=False, hostNetwork=True),
        "spec.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false",
    ),
    (
        "seccomp type",
        set_field("spec.securityContext", {"seccompProfile": {"type": "Strict"}}),
        "spec.securityContext.seccompProfile.type: Unsupported value: "
        '"Strict": supported values: "Localhost", "RuntimeDefault", '
        '"Unconfined"',
    ),
    (
        "sysctl name",
        set_field("spec.securityContext", {"sysctls": [{"name": "Net.Bad", "value": "1"}]}),
        "spec.securityContext.sysctls[0].name: Invalid value: "
        '"Net.Bad": must have at most 253 characters',
    ),
    (
        "windows pod with seccomp",
        lambda d: d["spec"].update(
            os={"name": "windows"}, securityContext={"seccompProfile": {"type": "RuntimeDefault"}}
        ),
        "spec.securityContext.seccompProfile: Forbidden: cannot be set for a windows pod",
    ),
    (
        "hostname label",
        set_field("spec.hostname", "web.local"),
        'spec.hostname: Invalid value: "web.local": must not contain dots',
    ),
    (
        "host alias ip",
        set_field("spec.hostAliases", [{"ip": "example.com", "hostnames": ["a"]}]),
        'spec.hostAliases[0].ip: Invalid value: "example.com": must be a valid IP address',
    ),
    (
        "preemption policy",
        set_field("spec.preemptionPolicy", "Always"),
        'spec.preemptionPolicy: Unsupported value: "Always": '
        'supported values: "PreemptLowerPriority", "Never"',
    ),
    (
        "readiness gate",
        set_field("spec.readinessGates", [{"conditionType": "bad gate"}]),
        'spec.readinessGates[0].conditionType: Invalid value: "bad gate"',
    ),
    (
        "duplicate scheduling gate",
        set_field("spec.schedulingGates", [{"name": "a"}, {"name": "a"}]),
        'spec.schedulingGates[1]: Duplicate value: "a"',
    ),
    (
        "nodeName with scheduling gates",
        lambda d: d["spec"].update(nodeName="n1", schedulingGates=[{"name": "g"}]),
        "spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared",
    ),
    (
        "hostIPs must start with hostIP",
        set_field("status", {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}]}),
        'status.hostIPs[0].ip: Invalid value: "10.0.0.2": must be equal to `hostIP`',
    ),
    (
        "two IPv4 pod IPs",
        set_field("status", {"podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}),
        'status.podIPs: Invalid value: ["10.0.0.1", "10.0.0.2"]: may '
        "specify no more than one IP for each IP family",
    ),
    (
        "custom condition type",
        set_field("status", {"conditions": [{"type": "bad type", "status": "True"}]}),
        'status.conditions[0].type: Invalid value: "bad type"',
    ),
]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [(p, e) for _, p, e in INVALID],
    ids=[name for name, _, _ in INVALID],
)
def test_each_rule_reports_its_path_and_message(patch: Patch, expected: str) -> None:
    causes = causes_of(patch)
    assert any(expected in cause for cause in causes), causes


def test_validate_raises_with_every_problem_at_once() -> None:
    document = base_pod()
    document["spec"]["restartPolicy"] = "Sometimes"
    document["spec"]["containers"][0]["image"] = ""
    with pytest.raises(errors.InvalidError) as raised:
        validate(from_dict(document))
    paths = {cause.path for cause in raised.value.causes}
    assert paths == {"spec.restartPolicy", "spec.containers[0].image"}
    assert 'Pod "web" is invalid' in str(raised.value)


def test_pod_spec_validation_uses_the_callers_path() -> None:
    problems = Problems()
    validate_pod_spec(PodSpec(), "spec.template.spec", problems)
    assert [str(c) for c in problems.causes] == ["spec.template.spec.containers: Required value"]


def test_template_validation_checks_labels_spec_and_ephemeral_containers() -> None:
    template = from_dict(
        {
            "metadata": {"labels": {"app": "-bad-"}, "annotations": {"Bad Key": "x"}},
            "spec": {
                "containers": [{"name": "app"}],
                "ephemeralContainers": [{"name": "dbg", "image": "busybox"}],
            },
        },
        PodTemplateSpec,
    )
    problems = Problems()
    validate_pod_template_spec(template, "spec.template", problems)
    by_path = {c.path: c.detail for c in problems.causes}
    assert "a valid label must be an empty string" in by_path["spec.template.labels[app]"]
    assert "spec.template.annotations" in by_path
    assert by_path["spec.template.spec.containers[0].image"] == "Required value"
    assert by_path["spec.template.spec.ephemeralContainers"] == (
        "Forbidden: ephemeral containers not allowed in pod template"
    )


def test_templates_may_leave_image_volume_references_empty_but_pods_may_not() -> None:
    spec = {"containers": [{"name": "a", "image": "x"}], "volumes": [{"name": "v", "image": {}}]}
    problems = Problems()
    validate_pod_spec(from_dict(spec, PodSpec), "spec", problems)
    assert problems.causes == []
    causes = [
        str(c)
        for c in problems_of(
            from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
        )
    ]
    assert causes == ["spec.volumes[0].image.reference: Required value"]


def test_ephemeral_volume_claim_name_must_be_a_valid_name() -> None:
    document = base_pod()
    document["metadata"]["name"] = "p" * 250
    document["spec"]["volumes"][0] = {
        "name": "data",
        "ephemeral": {
            "volumeClaimTemplate": {
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                }
            }
        },
    }
    causes = [str(c) for c in problems_of(from_dict(document))]
    assert any(
        c.startswith('spec.volumes[0].name: Invalid value: "data": PVC name') for c in causes
    )


def test_node_selector_and_taints_are_validated_for_other_kinds() -> None:
    problems = Problems()
    selector = NodeSelector(
        node_selector_terms=(
            NodeSelectorTerm(
                match_expressions=(
                    NodeSelectorRequirement(key="zone", operator="Exists", values=("a",)),
                )
            ),
        )
    )
    validate_node_selector(selector, "spec.nodeAffinity.required", problems)
    validate_taints(
        (
            Taint(key="dedicated", value="gpu", effect="NoSchedule"),
            Taint(key="dedicated", value="other", effect="NoSchedule"),
            Taint(key="bad key", effect=""),
        ),
        "spec.taints",
        problems,
    )
    assert [str(c) for c in problems.causes] == [
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Forbidden: "
        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'spec.taints[1]: Duplicate value: "dedicated:NoSchedule": taints must be unique by key '
        "and effect pair",
        'spec.taints[2].key: Invalid value: "bad key": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "spec.taints[2].effect: Required value",
    ]
