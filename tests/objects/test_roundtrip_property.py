"""Property: any object of any registered kind round-trips through dict, JSON and YAML."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore.objects import all_kinds, from_dict, from_json, from_yaml, to_dict, to_json, to_yaml
from tests.objects.strategies import structs

KINDS = [info.cls for info in all_kinds()]


def test_every_seed_kind_is_registered() -> None:
    names = {(info.api_version, info.kind) for info in all_kinds()}
    core = (
        "Pod Node Namespace Service Endpoints ConfigMap Secret PersistentVolume"
        " PersistentVolumeClaim ReplicationController Event"
    )
    seed = {("v1", k) for k in core.split()} | {
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
        ("storage.k8s.io/v1", "StorageClass"),
        ("coordination.k8s.io/v1", "Lease"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    }
    assert seed <= names, sorted(seed - names)


@pytest.mark.parametrize("cls", KINDS, ids=[c.__name__ for c in KINDS])
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_round_trip(cls: type[Any], data: st.DataObject) -> None:
    obj = data.draw(structs(cls))
    as_dict = to_dict(obj)
    assert from_dict(as_dict) == obj
    assert from_json(to_json(obj)) == obj
    assert from_yaml(to_yaml(obj)) == [obj]
    assert to_dict(from_dict(as_dict)) == as_dict
