"""Where objects live in the store: kube-apiserver's etcd key layout.

kube-apiserver keeps every object under ``/registry/<resource>/<namespace>/<name>`` (cluster-
scoped kinds drop the namespace), using the bare resource name for built-in groups and
``<group>/<resource>`` for custom ones (CustomResourceDefinitions themselves included), with
historical names kept for compatibility: Services under ``services/specs``, Endpoints under
``services/endpoints``, Nodes under ``minions``, ReplicationControllers under ``controllers``
and Ingresses under ``ingress``. kcore uses the same layout, so
``etcdctl get --prefix /registry/`` reads a kcore cluster as it reads a real one.
"""

from __future__ import annotations

from kcore.objects import KindInfo

__all__ = ["BUILTIN_GROUPS", "list_prefix", "object_key", "resource_prefix"]

REGISTRY = "/registry/"

# Groups whose resources kube-apiserver stores without the group in the key.
BUILTIN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
    }
)

_HISTORICAL = {
    ("", "services"): "services/specs",
    ("", "endpoints"): "services/endpoints",
    ("", "nodes"): "minions",
    ("", "replicationcontrollers"): "controllers",
    ("networking.k8s.io", "ingresses"): "ingress",
    ("extensions", "ingresses"): "ingress",
}


def resource_prefix(info: KindInfo) -> str:
    """``/registry/pods/``, ``/registry/minions/``, ``/registry/example.com/websites/``."""
    special = _HISTORICAL.get((info.group, info.plural))
    if special is not None:
        return f"{REGISTRY}{special}/"
    if info.group in BUILTIN_GROUPS:
        return f"{REGISTRY}{info.plural}/"
    return f"{REGISTRY}{info.group}/{info.plural}/"


def object_key(info: KindInfo, namespace: str, name: str) -> bytes:
    if info.namespaced:
        return f"{resource_prefix(info)}{namespace}/{name}".encode()
    return f"{resource_prefix(info)}{name}".encode()


def list_prefix(info: KindInfo, namespace: str | None) -> bytes:
    """The prefix holding every object of the kind, or of one namespace of it."""
    if info.namespaced and namespace:
        return f"{resource_prefix(info)}{namespace}/".encode()
    return resource_prefix(info).encode()
