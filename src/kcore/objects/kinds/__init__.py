"""The built-in kinds, one module per API group (core/v1 split by topic).

Importing this package registers every built-in kind. Modules:
``core_pod`` (Pod, PodTemplateSpec and everything a pod spec holds), ``core_node``, ``core_service``
(Service, Endpoints), ``core_config`` (Namespace, ConfigMap, Secret, Event), ``core_storage``
(PersistentVolume, PersistentVolumeClaim), ``core_replication`` (ReplicationController),
``apps``, ``batch``, ``autoscaling``, ``storage``, ``coordination``, ``discovery``, ``rbac``.
"""

from kcore.objects.kinds import core_pod  # noqa: F401
