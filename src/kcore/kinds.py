"""Every built-in kind in one place: ``from kcore.kinds import Pod, Deployment, ConfigMap``.

The classes live in ``kcore.objects.kinds.<group module>``; this module only gathers them.
"""

from __future__ import annotations

from kcore.objects.kinds.apps import (
    ControllerRevision,
    DaemonSet,
    Deployment,
    ReplicaSet,
    StatefulSet,
)
from kcore.objects.kinds.autoscaling import (
    HorizontalPodAutoscaler,
)
from kcore.objects.kinds.batch import (
    Job,
)
from kcore.objects.kinds.coordination import (
    Lease,
)
from kcore.objects.kinds.core_config import (
    ConfigMap,
    Event,
    Namespace,
    Secret,
)
from kcore.objects.kinds.core_node import (
    Node,
)
from kcore.objects.kinds.core_pod import (
    Pod,
)
from kcore.objects.kinds.core_replication import (
    ReplicationController,
)
from kcore.objects.kinds.core_service import (
    Endpoints,
    Service,
)
from kcore.objects.kinds.core_storage import (
    PersistentVolume,
    PersistentVolumeClaim,
)
from kcore.objects.kinds.discovery import (
    EndpointSlice,
)
from kcore.objects.kinds.rbac import (
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
)
from kcore.objects.kinds.storage import (
    StorageClass,
)

__all__ = [
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "ControllerRevision",
    "DaemonSet",
    "Deployment",
    "EndpointSlice",
    "Endpoints",
    "Event",
    "HorizontalPodAutoscaler",
    "Job",
    "Lease",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Pod",
    "ReplicaSet",
    "ReplicationController",
    "Role",
    "RoleBinding",
    "Secret",
    "Service",
    "StatefulSet",
    "StorageClass",
]
