"""Keys: objects live where kube-apiserver keeps them, so etcdctl reads kcore like a cluster.

The expected keys are kube-apiserver's (its etcd storage-path integration data): the bare
resource name for built-in groups, four historical names (``services/specs``,
``services/endpoints``, ``minions``, ``controllers``), ``ingress`` for Ingresses, and
``<group>/<resource>`` for custom resources and for CRDs themselves.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import pytest

from kcore.api import Client, list_prefix, object_key, resource_prefix
from kcore.objects import KindInfo, ObjectMeta, from_dict, info_for, to_dict
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_node import Node
from kcore.objects.kinds.core_pod import Pod
from kcore.objects.kinds.core_service import Service
from kcore.objects.kinds.rbac import ClusterRole, RoleBinding, RoleRef
from tests.api._support import Widget, config_map, deployment, pod, widget
from tests.api.conftest import ApiBackend
from tests.conftest import require_peer

NAMESPACED_KEYS = [
    ("Pod", "/registry/pods/ns1/x"),
    ("ConfigMap", "/registry/configmaps/ns1/x"),
    ("Secret", "/registry/secrets/ns1/x"),
    ("Service", "/registry/services/specs/ns1/x"),
    ("Endpoints", "/registry/services/endpoints/ns1/x"),
    ("ReplicationController", "/registry/controllers/ns1/x"),
    ("Event", "/registry/events/ns1/x"),
    ("PersistentVolumeClaim", "/registry/persistentvolumeclaims/ns1/x"),
    ("Deployment", "/registry/deployments/ns1/x"),
    ("ReplicaSet", "/registry/replicasets/ns1/x"),
    ("StatefulSet", "/registry/statefulsets/ns1/x"),
    ("DaemonSet", "/registry/daemonsets/ns1/x"),
    ("ControllerRevision", "/registry/controllerrevisions/ns1/x"),
    ("Job", "/registry/jobs/ns1/x"),
    ("HorizontalPodAutoscaler", "/registry/horizontalpodautoscalers/ns1/x"),
    ("Lease", "/registry/leases/ns1/x"),
    ("EndpointSlice", "/registry/endpointslices/ns1/x"),
    ("Role", "/registry/roles/ns1/x"),
    ("RoleBinding", "/registry/rolebindings/ns1/x"),
    ("Widget", "/registry/example.com/widgets/ns1/x"),
]
CLUSTER_KEYS = [
    ("Namespace", "/registry/namespaces/x"),
    ("Node", "/registry/minions/x"),
    ("PersistentVolume", "/registry/persistentvolumes/x"),
    ("ClusterRole", "/registry/clusterroles/x"),
    ("ClusterRoleBinding", "/registry/clusterrolebindings/x"),
    ("StorageClass", "/registry/storageclasses/x"),
]


def info_of(kind_name: str) -> KindInfo:
    if kind_name == "Widget":
        return info_for(Widget)
    from kcore.objects import registry

    matches = [i for i in registry.kinds() if i.kind == kind_name and i.group != "example.com"]
    assert len(matches) == 1, f"{kind_name} is registered {len(matches)} times"
    return matches[0]


@pytest.mark.parametrize(("kind_name", "expected"), NAMESPACED_KEYS + CLUSTER_KEYS)
def test_object_keys_follow_kube_apiserver(kind_name: str, expected: str) -> None:
    info = info_of(kind_name)
    assert object_key(info, "ns1", "x") == expected.encode()
    assert resource_prefix(info) == expected.rsplit("/", 2 if info.namespaced else 1)[0] + "/"


def test_list_prefixes() -> None:
    pods = info_for(Pod)
    assert list_prefix(pods, "ns1") == b"/registry/pods/ns1/"
    assert list_prefix(pods, None) == b"/registry/pods/"
    assert list_prefix(info_for(Node), "ignored") == b"/registry/minions/"
    assert list_prefix(info_for(Widget), "ns1") == b"/registry/example.com/widgets/ns1/"


def synthetic(group: str, plural: str, namespaced: bool) -> KindInfo:
    """A kind kcore does not model yet, to check where its objects would be stored."""
    return KindInfo(object, f"{group}/v1", group, "v1", plural.title(), plural, namespaced, False)


def test_aggregated_api_services_keep_their_group() -> None:
    info = synthetic("apiregistration.k8s.io", "apiservices", False)
    assert (
        object_key(info, "", "v1.apps") == b"/registry/apiregistration.k8s.io/apiservices/v1.apps"
    )


def test_ingresses_use_the_historical_name() -> None:
    info = synthetic("networking.k8s.io", "ingresses", True)
    assert object_key(info, "ns1", "x") == b"/registry/ingress/ns1/x"


def test_custom_resource_definitions_keep_their_group() -> None:
    info = synthetic("apiextensions.k8s.io", "customresourcedefinitions", False)
    assert object_key(info, "", "widgets.example.com") == (
        b"/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com"
    )


async def populate(client: Client) -> list[Any]:
    objects: list[Any] = [
        await client.create(pod("web")),
        await client.create(
            from_dict(
                {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}},
                Service,
            )
        ),
        await client.create(Node(metadata=ObjectMeta(name="node-1"))),
        await client.create(deployment("web")),
        await client.create(config_map("settings", {"k": "v"})),
        await client.create(ClusterRole(metadata=ObjectMeta(name="reader"))),
        await client.create(
            RoleBinding(
                metadata=ObjectMeta(name="readers"),
                role_ref=RoleRef(kind="ClusterRole", name="reader"),
            )
        ),
        await client.create(widget("gizmo")),
    ]
    return objects


EXPECTED_KEYS = [
    "/registry/clusterroles/reader",
    "/registry/configmaps/default/settings",
    "/registry/deployments/default/web",
    "/registry/example.com/widgets/default/gizmo",
    "/registry/minions/node-1",
    "/registry/namespaces/default",
    "/registry/pods/default/web",
    "/registry/rolebindings/default/readers",
    "/registry/services/specs/default/web",
]


@pytest.mark.anyio
async def test_created_objects_are_stored_under_kube_keys(client: Client) -> None:
    await populate(client)
    response = await client.store.range(b"/registry/", b"/registry0", keys_only=True)
    assert [kv.key.decode() for kv in response.kvs] == EXPECTED_KEYS


@pytest.mark.anyio
@pytest.mark.parametrize("backend_name", ["etcd"], indirect=True)  # etcdctl needs a real etcd
async def test_etcdctl_sees_the_cluster_as_kube_apiserver_lays_it_out(
    api_backend: ApiBackend,
) -> None:
    assert api_backend.endpoint is not None
    etcdctl = require_peer("etcdctl")
    client = api_backend.client()
    objects = await populate(client)
    env = {**os.environ, "ETCDCTL_API": "3"}
    base = [etcdctl, f"--endpoints={api_backend.endpoint}", "--command-timeout=20s"]
    with anyio.fail_after(60):
        listed = await anyio.run_process(
            [*base, "get", "--prefix", "/registry/", "--keys-only"], env=env
        )
        value = await anyio.run_process(
            [*base, "get", "/registry/configmaps/default/settings", "--print-value-only"], env=env
        )
    keys = [line for line in listed.stdout.decode().splitlines() if line]
    assert keys == EXPECTED_KEYS
    document = json.loads(value.stdout)
    settings = next(o for o in objects if isinstance(o, ConfigMap))
    expected = to_dict(settings)
    expected["metadata"].pop("resourceVersion")
    assert document == expected
    assert (document["apiVersion"], document["kind"]) == ("v1", "ConfigMap")
    assert isinstance(await client.get(Namespace, "default"), Namespace)
    assert isinstance(await client.get(Deployment, "web"), Deployment)
