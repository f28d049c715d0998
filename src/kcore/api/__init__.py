"""The API layer: a typed client with kube-apiserver's semantics over any kcore store.

``Client(store)`` creates, reads, updates, patches, deletes and watches objects of every
registered kind as kube-apiserver would: server-set metadata, optimistic concurrency, generation,
status as a subresource, finalizers, namespaces, admission and (optionally) RBAC. Keys follow
kube-apiserver's etcd layout (``kcore.api.keys``).
"""

from kcore.api.admission import Admission, Denied
from kcore.api.client import Client
from kcore.api.keys import list_prefix, object_key, resource_prefix
from kcore.api.types import (
    AdmissionRequest,
    ObjectList,
    Operation,
    UserInfo,
    WatchEvent,
    WatchEventType,
)
from kcore.api.watch import Watcher

__all__ = [
    "Admission",
    "AdmissionRequest",
    "Client",
    "Denied",
    "ObjectList",
    "Operation",
    "UserInfo",
    "WatchEvent",
    "WatchEventType",
    "Watcher",
    "list_prefix",
    "object_key",
    "resource_prefix",
]
