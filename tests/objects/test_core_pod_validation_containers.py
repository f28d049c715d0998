"""Container and volume validation: each rule fails with Kubernetes' path and message.

The pod-wide rules and the shared helpers live in ``test_core_pod_validation``.
"""

from __future__ import annotations

import pytest

from tests.objects.test_core_pod_validation import (
    Patch,
    causes_of,
    container_of,
    set_field,
)

INVALID: list[tuple[str, Patch, str]] = [
    ("no containers", set_field("spec.containers", []), "spec.containers: Required value"),
    (
        "container name required",
        set_field("spec.containers.0.name", ""),
        "spec.containers[0].name: Required value",
    ),
    (
        "container name label",
        set_field("spec.containers.0.name", "app.v1"),
        'spec.containers[0].name: Invalid value: "app.v1": must not contain dots',
    ),
    (
        "image required",
        set_field("spec.containers.0.image", ""),
        "spec.containers[0].image: Required value",
    ),
    (
        "image whitespace",
        set_field("spec.containers.0.image", " nginx"),
        'spec.containers[0].image: Invalid value: " nginx": must not '
        "have leading or trailing whitespace",
    ),
    (
        "ephemeral with ports",
        set_field(
            "spec.ephemeralContainers",
            [{"name": "dbg", "image": "busybox", "ports": [{"containerPort": 1}]}],
        ),
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
    ),
    (
        "port zero",
        set_field("spec.containers.0.ports.0.containerPort", 0),
        "spec.containers[0].ports[0].containerPort: Required value",
    ),
    (
        "port too big",
        set_field("spec.containers.0.ports.0.containerPort", 65536),
        "spec.containers[0].ports[0].containerPort: Invalid value: "
        "65536: must be between 1 and 65535, inclusive",
    ),
    (
        "host port too big",
        set_field("spec.containers.0.ports.0.hostPort", 70000),
        "spec.containers[0].ports[0].hostPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive",
    ),
    (
        "port name no letter",
        set_field("spec.containers.0.ports.0.name", "8080"),
        'spec.containers[0].ports[0].name: Invalid value: "8080": '
        "must contain at least one letter (a-z)",
    ),
    (
        "protocol enum",
        set_field("spec.containers.0.ports.0.protocol", "tcp"),
        "spec.containers[0].ports[0].protocol: Unsupported value: "
        '"tcp": supported values: "SCTP", "TCP", "UDP"',
    ),
    (
        "env name",
        set_field("spec.containers.0.env", [{"name": ""}]),
        "spec.containers[0].env[0].name: Required value",
    ),
    (
        "env two sources",
        set_field(
            "spec.containers.0.env",
            [
                {
                    "name": "A",
                    "valueFrom": {
                        "fieldRef": {"fieldPath": "metadata.name"},
                        "secretKeyRef": {"name": "s", "key": "k"},
                    },
                }
            ],
        ),
        'spec.containers[0].env[0].valueFrom: Invalid value: "": may '
        "not have more than one field specified at a time",
    ),
    (
        "env no source",
        set_field("spec.containers.0.env", [{"name": "A", "valueFrom": {}}]),
        'spec.containers[0].env[0].valueFrom: Invalid value: "": must '
        "specify one of: `fieldRef`, `resourceFieldRef`, "
        "`configMapKeyRef` or `secretKeyRef`",
    ),
    (
        "env secret key",
        set_field(
            "spec.containers.0.env",
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a/b"}}}],
        ),
        "spec.containers[0].env[0].valueFrom.secretKeyRef.key: "
        'Invalid value: "a/b": a valid config key',
    ),
    (
        "env cpu divisor",
        set_field(
            "spec.containers.0.env",
            [
                {
                    "name": "A",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "10m"}},
                }
            ],
        ),
        "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: "
        'Invalid value: "limits.cpu": only divisor\'s values 1m and 1 '
        "are supported with the cpu resource",
    ),
    (
        "envFrom no source",
        set_field("spec.containers.0.envFrom", [{"prefix": "X_"}]),
        'spec.containers[0].envFrom: Invalid value: "": must specify '
        "one of: `configMapRef` or `secretRef`",
    ),
    (
        "volume name required",
        set_field("spec.volumes.0.name", ""),
        "spec.volumes[0].name: Required value",
    ),
    (
        "volume name label",
        set_field("spec.volumes.0.name", "Data"),
        'spec.volumes[0].name: Invalid value: "Data"',
    ),
    (
        "volume two sources",
        set_field("spec.volumes.0.hostPath", {"path": "/x"}),
        "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
    ),
    (
        "mount of unknown volume",
        set_field("spec.containers.0.volumeMounts.0.name", "other"),
        'spec.containers[0].volumeMounts[0].name: Not found: "other"',
    ),
    (
        "mount path required",
        set_field("spec.containers.0.volumeMounts.0.mountPath", ""),
        "spec.containers[0].volumeMounts[0].mountPath: Required value",
    ),
    (
        "secret name required",
        set_field("spec.volumes.0", {"name": "data", "secret": {}}),
        "spec.volumes[0].secret.secretName: Required value",
    ),
    (
        "negative sizeLimit",
        set_field("spec.volumes.0.emptyDir", {"sizeLimit": "-1Gi"}),
        "spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit "
        "field must be a valid resource quantity",
    ),
    (
        "csi driver name",
        set_field("spec.volumes.0", {"name": "data", "csi": {"driver": "Bad_Driver"}}),
        'spec.volumes[0].csi.driver: Invalid value: "Bad_Driver"',
    ),
    (
        "short token expiry",
        set_field(
            "spec.volumes.0",
            {
                "name": "data",
                "projected": {
                    "sources": [{"serviceAccountToken": {"path": "t", "expirationSeconds": 60}}]
                },
            },
        ),
        "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: "
        "Invalid value: 60: may not specify a duration less than 10 "
        "minutes",
    ),
    (
        "projected duplicate paths",
        set_field(
            "spec.volumes.0",
            {
                "name": "data",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "a", "items": [{"key": "k", "path": "p"}]}},
                        {"secret": {"name": "b", "items": [{"key": "k", "path": "p"}]}},
                    ]
                },
            },
        ),
        'spec.volumes[0].projected: Invalid value: "b": conflicting duplicate paths',
    ),
    (
        "ephemeral claim without access modes",
        set_field(
            "spec.volumes.0",
            {
                "name": "data",
                "ephemeral": {
                    "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "1Gi"}}}}
                },
            },
        ),
        "spec.volumes[0].ephemeral.volumeClaimTemplate.spec.accessModes: "
        "Required value: at least 1 access mode is required",
    ),
    (
        "ephemeral claim named",
        set_field(
            "spec.volumes.0",
            {
                "name": "data",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "metadata": {"name": "x"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                },
            },
        ),
        "spec.volumes[0].ephemeral.volumeClaimTemplate.metadata.name: Forbidden: cannot be set",
    ),
    (
        "requests above limits",
        set_field(
            "spec.containers.0.resources",
            {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
        ),
        'spec.containers[0].resources.requests: Invalid value: "2Gi": '
        "must be less than or equal to memory limit of 1Gi",
    ),
    (
        "negative request",
        set_field("spec.containers.0.resources", {"requests": {"cpu": "-100m"}}),
        "spec.containers[0].resources.requests[cpu]: Invalid value: "
        '"-100m": must be greater than or equal to 0',
    ),
    (
        "extended resource without limit",
        set_field("spec.containers.0.resources", {"requests": {"example.com/fpga": "1"}}),
        "spec.containers[0].resources.limits: Required value: Limit "
        "must be set for non overcommitable resources",
    ),
    (
        "fractional extended resource",
        set_field("spec.containers.0.resources", {"limits": {"example.com/fpga": "500m"}}),
        "spec.containers[0].resources.limits[example.com/fpga]: "
        'Invalid value: "500m": must be an integer',
    ),
    (
        "container resource name",
        set_field("spec.containers.0.resources", {"limits": {"pods": "1"}}),
        "spec.containers[0].resources.limits[pods]: Invalid value: "
        '"pods": must be a standard resource for containers',
    ),
    (
        "claim not in the pod",
        set_field("spec.containers.0.resources", {"claims": [{"name": "gpu"}]}),
        'spec.containers[0].resources.claims[0]: Not found: "gpu": '
        "must be one of the names in pod.spec.resourceClaims which is "
        "empty",
    ),
    (
        "probe with no handler",
        set_field("spec.containers.0.livenessProbe", {"periodSeconds": 5}),
        "spec.containers[0].livenessProbe: Required value: must specify a handler type",
    ),
    (
        "probe with two handlers",
        set_field(
            "spec.containers.0.livenessProbe", {"exec": {"command": ["true"]}, "grpc": {"port": 1}}
        ),
        "spec.containers[0].livenessProbe.grpc: Forbidden: may not "
        "specify more than 1 handler type",
    ),
    (
        "negative failureThreshold",
        set_field(
            "spec.containers.0.readinessProbe", {"tcpSocket": {"port": 80}, "failureThreshold": -1}
        ),
        "spec.containers[0].readinessProbe.failureThreshold: Invalid "
        "value: -1: must be greater than or equal to 0",
    ),
    (
        "startup successThreshold",
        set_field(
            "spec.containers.0.startupProbe", {"tcpSocket": {"port": 80}, "successThreshold": 3}
        ),
        "spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1",
    ),
    (
        "probe grace zero",
        set_field(
            "spec.containers.0.livenessProbe",
            {"tcpSocket": {"port": 80}, "terminationGracePeriodSeconds": 0},
        ),
        "spec.containers[0].livenessProbe.terminationGracePeriodSeconds: "
        "Invalid value: 0: must be greater than 0",
    ),
    (
        "named probe port must exist as a name",
        set_field("spec.containers.0.readinessProbe", {"httpGet": {"port": "HTTP"}}),
        "spec.containers[0].readinessProbe.httpGet.port: Invalid "
        'value: "HTTP": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
    ),
    (
        "pull policy enum",
        set_field("spec.containers.0.imagePullPolicy", "Sometimes"),
        "spec.containers[0].imagePullPolicy: Unsupported value: "
        '"Sometimes": supported values: "Always", "IfNotPresent", '
        '"Never"',
    ),
    (
        "hostNetwork hostPort mismatch",
        lambda d: (
            d["spec"].update(hostNetwork=True),
            container_of(d)["ports"][0].update(hostPort=8080),
        ),
        "spec.containers[0].ports[0].hostPort: Invalid value: 8080: "
        "must match `containerPort` when `hostNetwork` is true",
    ),
    (
        "Unmasked procMount needs user namespace",
        set_field("spec.containers.0.securityContext", {"procMount": "Unmasked"}),
        "spec.containers[0].securityContext.procMount: Invalid value: "
        '"Unmasked": `hostUsers` must be false to use `Unmasked`',
    ),
    (
        "no privilege escalation but privileged",
        set_field(
            "spec.containers.0.securityContext",
            {"privileged": True, "allowPrivilegeEscalation": False},
        ),
        "spec.containers[0].securityContext: Invalid value: "
        '"securityContext": cannot set `allowPrivilegeEscalation` to '
        "false and `privileged` to true",
    ),
]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [(p, e) for _, p, e in INVALID],
    ids=[name for name, _, _ in INVALID],
)
def test_each_container_rule_reports_its_path_and_message(patch: Patch, expected: str) -> None:
    causes = causes_of(patch)
    assert any(expected in cause for cause in causes), causes
