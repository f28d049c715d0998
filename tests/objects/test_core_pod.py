"""Pod types: a pod built in Python round-trips with Kubernetes' JSON names; field selectors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kcore import errors
from kcore.objects import (
    LabelSelector,
    ObjectMeta,
    apply_defaults,
    evolve,
    from_json,
    from_yaml,
    info_for,
    lookup,
    to_dict,
    to_json,
    validate,
)
from kcore.objects.fieldsets import fields_of, selectable_fields
from kcore.objects.kinds.core_pod import (
    Affinity,
    Container,
    ContainerPort,
    ContainerState,
    ContainerStateRunning,
    ContainerStatus,
    DownwardAPIProjection,
    DownwardAPIVolumeFile,
    EmptyDirVolumeSource,
    EnvVar,
    EnvVarSource,
    EphemeralContainer,
    HostIP,
    HTTPGetAction,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    ObjectFieldSelector,
    Pod,
    PodAffinityTerm,
    PodAntiAffinity,
    PodCondition,
    PodIP,
    PodSecurityContext,
    PodSpec,
    PodStatus,
    PodTemplateSpec,
    Probe,
    ProjectedVolumeSource,
    ResourceRequirements,
    SecurityContext,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    Volume,
    VolumeMount,
    VolumeProjection,
)
from kcore.objects.kinds.core_pod_volumes import AzureDiskVolumeSource, FCVolumeSource
from kcore.objects.quantity import Quantity
from kcore.objects.selectors import parse_field_selector

STARTED = datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)


def _python_pod() -> Pod:
    """A pod touching most of the spec and status, built without any YAML."""
    app = Container(
        name="app",
        image="registry.example.com/app:1.0",
        ports=(ContainerPort(name="http", container_port=8080, host_ip="0.0.0.0"),),
        env=(
            EnvVar(
                name="POD_IP",
                value_from=EnvVarSource(field_ref=ObjectFieldSelector(field_path="status.podIP")),
            ),
        ),
        resources=ResourceRequirements(
            requests={"cpu": Quantity("250m"), "memory": Quantity("64Mi")},
            limits={"memory": Quantity("128Mi")},
        ),
        volume_mounts=(VolumeMount(name="info", mount_path="/etc/podinfo", read_only=True),),
        readiness_probe=Probe(http_get=HTTPGetAction(path="/ready", port="http"), period_seconds=5),
        security_context=SecurityContext(run_as_non_root=True, allow_privilege_escalation=False),
    )
    spec = PodSpec(
        containers=(app,),
        volumes=(
            Volume(name="scratch", empty_dir=EmptyDirVolumeSource()),
            Volume(
                name="info",
                projected=ProjectedVolumeSource(
                    sources=(
                        VolumeProjection(
                            downward_api=DownwardAPIProjection(
                                items=(
                                    DownwardAPIVolumeFile(
                                        path="labels",
                                        field_ref=ObjectFieldSelector(field_path="metadata.labels"),
                                    ),
                                )
                            )
                        ),
                    )
                ),
            ),
        ),
        host_ipc=True,
        set_hostname_as_fqdn=True,
        security_context=PodSecurityContext(fs_group=2000),
        affinity=Affinity(
            node_affinity=NodeAffinity(
                required_during_scheduling_ignored_during_execution=NodeSelector(
                    node_selector_terms=(
                        NodeSelectorTerm(
                            match_expressions=(
                                NodeSelectorRequirement(
                                    key="kubernetes.io/arch", operator="In", values=("arm64",)
                                ),
                            )
                        ),
                    )
                )
            ),
            pod_anti_affinity=PodAntiAffinity(
                required_during_scheduling_ignored_during_execution=(
                    PodAffinityTerm(
                        label_selector=LabelSelector(match_labels={"app": "web"}),
                        topology_key="kubernetes.io/hostname",
                    ),
                )
            ),
        ),
        tolerations=(
            Toleration(key="dedicated", operator="Equal", value="web", effect="NoSchedule"),
        ),
        topology_spread_constraints=(
            TopologySpreadConstraint(
                max_skew=1,
                topology_key="topology.kubernetes.io/zone",
                when_unsatisfiable="ScheduleAnyway",
                label_selector=LabelSelector(match_labels={"app": "web"}),
            ),
        ),
        node_name="worker-1",
    )
    status = PodStatus(
        phase="Running",
        conditions=(PodCondition(type="Ready", status="True", last_transition_time=STARTED),),
        host_ip="10.0.0.4",
        host_ips=(HostIP(ip="10.0.0.4"),),
        pod_ip="10.244.0.9",
        pod_ips=(PodIP(ip="10.244.0.9"), PodIP(ip="fd00:10:244::9")),
        start_time=STARTED,
        container_statuses=(
            ContainerStatus(
                name="app",
                state=ContainerState(running=ContainerStateRunning(started_at=STARTED)),
                ready=True,
                image="registry.example.com/app:1.0",
                image_id="",
                started=True,
            ),
        ),
        qos_class="Burstable",
    )
    return Pod(
        metadata=ObjectMeta(name="web-0", namespace="default", labels={"app": "web"}),
        spec=spec,
        status=status,
    )


def test_a_pod_built_in_python_round_trips_through_json() -> None:
    pod = _python_pod()
    validate(pod)
    assert from_json(to_json(pod)) == pod
    assert from_yaml(to_json(pod)) == [pod]  # JSON is YAML too


def test_json_uses_kubernetes_field_names() -> None:
    data = to_dict(_python_pod())
    spec, status = data["spec"], data["status"]
    container = spec["containers"][0]
    assert (data["apiVersion"], data["kind"]) == ("v1", "Pod")
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "hostIP": "0.0.0.0"}]
    assert container["readinessProbe"] == {
        "httpGet": {"path": "/ready", "port": "http"},
        "periodSeconds": 5,
    }
    assert container["resources"]["requests"] == {"cpu": "250m", "memory": "64Mi"}
    assert spec["hostIPC"] is True
    assert spec["setHostnameAsFQDN"] is True
    assert spec["volumes"][0] == {"name": "scratch", "emptyDir": {}}  # a set empty source stays
    assert "downwardAPI" in spec["volumes"][1]["projected"]["sources"][0]
    term = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["operator"] == "In"
    assert status["hostIPs"] == [{"ip": "10.0.0.4"}]
    assert status["podIPs"][1] == {"ip": "fd00:10:244::9"}
    assert status["qosClass"] == "Burstable"
    assert status["conditions"][0]["lastTransitionTime"] == "2024-05-01T12:00:05Z"
    # Go fields without omitempty are written even when empty or zero.
    assert status["containerStatuses"][0]["imageID"] == ""
    assert status["containerStatuses"][0]["restartCount"] == 0
    assert to_dict(FCVolumeSource(target_wwns=("500a0982991b8dc5",), lun=2)) == {
        "targetWWNs": ["500a0982991b8dc5"],
        "lun": 2,
    }
    assert to_dict(AzureDiskVolumeSource(disk_name="d", disk_uri="u")) == {
        "diskName": "d",
        "diskURI": "u",
    }
    assert to_dict(Taint(key="k", effect="NoSchedule")) == {"key": "k", "effect": "NoSchedule"}


def test_kind_registration() -> None:
    info = info_for(Pod)
    assert (info.plural, info.namespaced, info.has_status) == ("pods", True, True)
    assert "po" in info.short_names
    assert lookup("v1", "Pod").cls is Pod


def test_ephemeral_containers_decode_as_their_own_class() -> None:
    (pod,) = from_yaml(
        """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: app, image: nginx}]
  ephemeralContainers:
  - {name: dbg, image: busybox, targetContainerName: app, stdin: true}
"""
    )
    debugger = pod.spec.ephemeral_containers[0]
    assert isinstance(debugger, EphemeralContainer)
    assert (debugger.target_container_name, debugger.stdin) == ("app", True)
    assert to_dict(pod)["spec"]["ephemeralContainers"][0] == {
        "name": "dbg",
        "image": "busybox",
        "stdin": True,
        "targetContainerName": "app",
    }


def test_removed_volume_drivers_are_unknown_fields() -> None:
    text = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: app, image: nginx}]
  volumes: [{name: v, glusterfs: {endpoints: e, path: p}}]
"""
    with pytest.raises(errors.DecodeError) as raised:
        from_yaml(text)
    assert [c.path for c in raised.value.causes] == ["spec.volumes[0].glusterfs"]
    (lenient,) = from_yaml(text, strict=False)
    assert to_dict(lenient)["spec"]["volumes"][0]["glusterfs"] == {"endpoints": "e", "path": "p"}


def test_field_selectors() -> None:
    pod = _python_pod()
    assert selectable_fields(Pod) == sorted(
        [
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]
    )
    assert fields_of(pod) == {
        "metadata.name": "web-0",
        "metadata.namespace": "default",
        "spec.nodeName": "worker-1",
        "spec.restartPolicy": "",
        "spec.schedulerName": "",
        "spec.serviceAccountName": "",
        "spec.hostNetwork": "false",
        "status.phase": "Running",
        "status.podIP": "10.244.0.9",
        "status.nominatedNodeName": "",
    }
    defaulted = apply_defaults(
        evolve(pod, spec__host_network=True, spec__service_account_name="robot")
    )
    assert fields_of(
        defaulted, ["spec.restartPolicy", "spec.schedulerName", "spec.hostNetwork"]
    ) == {
        "spec.restartPolicy": "Always",
        "spec.schedulerName": "default-scheduler",
        "spec.hostNetwork": "true",
    }
    assert parse_field_selector("spec.nodeName=worker-1,status.phase!=Failed").matches(
        fields_of(pod)
    )
    assert not parse_field_selector("spec.serviceAccountName=robot").matches(fields_of(pod))
    assert parse_field_selector("spec.serviceAccountName=robot").matches(fields_of(defaulted))
    with pytest.raises(errors.InvalidArgumentError, match=r"spec\.containers"):
        fields_of(pod, ["spec.containers"])


def test_pod_ip_selector_reads_the_first_of_pod_ips() -> None:
    pod = evolve(_python_pod(), status__pod_ip="", status__pod_ips=(PodIP(ip="fd00::1"),))
    assert fields_of(pod, ["status.podIP"]) == {"status.podIP": "fd00::1"}
    only_ip = evolve(_python_pod(), status__pod_ips=())
    assert fields_of(only_ip, ["status.podIP"]) == {"status.podIP": "10.244.0.9"}


def test_template_and_contract_names_import_from_core_pod() -> None:
    from kcore.objects.kinds import core_pod

    for name in (
        "Container",
        "PodSpec",
        "PodTemplateSpec",
        "PodStatus",
        "Pod",
        "Taint",
        "Toleration",
        "NodeSelector",
        "NodeSelectorTerm",
        "NodeSelectorRequirement",
        "ResourceRequirements",
        "SecurityContext",
        "PodSecurityContext",
        "default_pod_spec",
        "validate_pod_spec",
        "validate_pod_template_spec",
    ):
        assert name in core_pod.__all__ and hasattr(core_pod, name)
    template = PodTemplateSpec(
        metadata=ObjectMeta(labels={"app": "web"}),
        spec=PodSpec(containers=(Container(name="app", image="nginx"),)),
    )
    assert to_dict(template) == {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }
