"""The built-in kinds, one module per API group (core/v1 split by topic).

Importing this package registers every built-in kind. Modules:
``core_pod`` (Pod, PodTemplateSpec and everything a pod spec holds), ``core_node``, ``core_service``
(Service, Endpoints), ``core_config`` (Namespace, ConfigMap, Secret, Event), ``core_storage``
(PersistentVolume, PersistentVolumeClaim), ``core_replication`` (ReplicationController),
``apps``, ``batch``, ``autoscaling``, ``storage``, ``coordination``, ``discovery``, ``rbac``.
"""

from kcore.objects.kinds import (  # noqa: F401  (importing registers the kinds)
    apps,
    autoscaling,
    batch,
    coordination,
    core_config,
    core_node,
    core_pod,
    core_replication,
    core_service,
    core_storage,
    discovery,
    rbac,
    storage,
)
