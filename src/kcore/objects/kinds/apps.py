"""apps/v1: ReplicaSet, Deployment, StatefulSet, DaemonSet and ControllerRevision.

The fields mirror k8s.io/api apps/v1 in Go order, so real manifests and ``kubectl get -o yaml``
output load and write back unchanged. Counters that Go writes even when zero (a ReplicaSet's
``status.replicas``, a DaemonSet's four scheduling counters, a StatefulSet's ``replicas`` and
``availableReplicas``) are written here too, which is why a freshly created object shows
``status: {replicas: 0}`` exactly as it does on a real cluster.

Validation lives in :mod:`.apps_validation` and defaults in :mod:`.apps_defaults` (split by
mechanism to keep each module readable); both are imported at the bottom of this module, so
importing ``apps`` registers everything. The rolling-update arithmetic the Deployment
controller needs, :func:`max_surge_and_unavailable`, is here because it reads only the types.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from kcore.objects import fieldsets
from kcore.objects.intstr import IntOrString, resolve_fenceposts
from kcore.objects.kinds.core_pod import PodTemplateSpec
from kcore.objects.kinds.core_storage import PersistentVolumeClaim
from kcore.objects.meta import LabelSelector, Object
from kcore.objects.struct import field, kind, struct

__all__ = [
    "CONTROLLER_REVISION_HASH_LABEL",
    "DAEMON_SET_UPDATE_STRATEGY_TYPES",
    "DEFAULT_DEPLOYMENT_UNIQUE_LABEL",
    "DELETE",
    "DEPLOYMENT_AVAILABLE",
    "DEPLOYMENT_PROGRESSING",
    "DEPLOYMENT_REPLICA_FAILURE",
    "DEPLOYMENT_STRATEGY_TYPES",
    "DEPRECATED_ROLLBACK_TO_ANNOTATION",
    "DEPRECATED_TEMPLATE_GENERATION_ANNOTATION",
    "ON_DELETE",
    "ORDERED_READY",
    "PARALLEL",
    "POD_INDEX_LABEL",
    "POD_MANAGEMENT_POLICIES",
    "PVC_RETENTION_POLICY_TYPES",
    "RECREATE",
    "REPLICA_SET_REPLICA_FAILURE",
    "RETAIN",
    "ROLLING_UPDATE",
    "STATEFUL_SET_POD_NAME_LABEL",
    "STATEFUL_SET_PROGRESSING",
    "STATEFUL_SET_UPDATE_STRATEGY_TYPES",
    "ControllerRevision",
    "DaemonSet",
    "DaemonSetCondition",
    "DaemonSetSpec",
    "DaemonSetStatus",
    "DaemonSetUpdateStrategy",
    "Deployment",
    "DeploymentCondition",
    "DeploymentSpec",
    "DeploymentStatus",
    "DeploymentStrategy",
    "ReplicaSet",
    "ReplicaSetCondition",
    "ReplicaSetSpec",
    "ReplicaSetStatus",
    "RollingUpdateDaemonSet",
    "RollingUpdateDeployment",
    "RollingUpdateStatefulSetStrategy",
    "StatefulSet",
    "StatefulSetCondition",
    "StatefulSetOrdinals",
    "StatefulSetPersistentVolumeClaimRetentionPolicy",
    "StatefulSetSpec",
    "StatefulSetStatus",
    "StatefulSetUpdateStrategy",
    "max_surge_and_unavailable",
]

# --- well-known labels and annotations the apps controllers put on what they create ---------

CONTROLLER_REVISION_HASH_LABEL: Final = "controller-revision-hash"
DEFAULT_DEPLOYMENT_UNIQUE_LABEL: Final = "pod-template-hash"
STATEFUL_SET_POD_NAME_LABEL: Final = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL: Final = "apps.kubernetes.io/pod-index"
DEPRECATED_ROLLBACK_TO_ANNOTATION: Final = "deprecated.deployment.rollback.to"
DEPRECATED_TEMPLATE_GENERATION_ANNOTATION: Final = "deprecated.daemonset.template.generation"

# --- enum-like values ---------------------------------------------------------------------

RECREATE: Final = "Recreate"
ROLLING_UPDATE: Final = "RollingUpdate"
ON_DELETE: Final = "OnDelete"
ORDERED_READY: Final = "OrderedReady"
PARALLEL: Final = "Parallel"
RETAIN: Final = "Retain"
DELETE: Final = "Delete"

DEPLOYMENT_STRATEGY_TYPES: Final = (RECREATE, ROLLING_UPDATE)
STATEFUL_SET_UPDATE_STRATEGY_TYPES: Final = (ROLLING_UPDATE, ON_DELETE)
DAEMON_SET_UPDATE_STRATEGY_TYPES: Final = (ROLLING_UPDATE, ON_DELETE)
POD_MANAGEMENT_POLICIES: Final = (ORDERED_READY, PARALLEL)
PVC_RETENTION_POLICY_TYPES: Final = (RETAIN, DELETE)

# Condition types the controllers set.
DEPLOYMENT_AVAILABLE: Final = "Available"
DEPLOYMENT_PROGRESSING: Final = "Progressing"
DEPLOYMENT_REPLICA_FAILURE: Final = "ReplicaFailure"
REPLICA_SET_REPLICA_FAILURE: Final = "ReplicaFailure"
STATEFUL_SET_PROGRESSING: Final = "Progressing"


# --- ReplicaSet ---------------------------------------------------------------------------


@struct
class ReplicaSetSpec:
    replicas: int | None = None
    min_ready_seconds: int = 0
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()


@struct
class ReplicaSetCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class ReplicaSetStatus:
    replicas: int = field(default=0, omitempty=False)
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    terminating_replicas: int | None = None
    observed_generation: int = 0
    conditions: Sequence[ReplicaSetCondition] = ()


@kind("apps/v1", "ReplicaSet", plural="replicasets", short_names=("rs",))
class ReplicaSet(Object):
    spec: ReplicaSetSpec = ReplicaSetSpec()
    status: ReplicaSetStatus = ReplicaSetStatus()


# --- Deployment ---------------------------------------------------------------------------


@struct
class RollingUpdateDeployment:
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


@struct
class DeploymentStrategy:
    type: str = ""
    rolling_update: RollingUpdateDeployment | None = None


@struct
class DeploymentSpec:
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    strategy: DeploymentStrategy = DeploymentStrategy()
    min_ready_seconds: int = 0
    revision_history_limit: int | None = None
    paused: bool = False
    progress_deadline_seconds: int | None = None


@struct
class DeploymentCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_update_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class DeploymentStatus:
    observed_generation: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    terminating_replicas: int | None = None
    conditions: Sequence[DeploymentCondition] = ()
    collision_count: int | None = None


@kind("apps/v1", "Deployment", plural="deployments", short_names=("deploy",))
class Deployment(Object):
    spec: DeploymentSpec = DeploymentSpec()
    status: DeploymentStatus = DeploymentStatus()


# --- StatefulSet --------------------------------------------------------------------------


@struct
class RollingUpdateStatefulSetStrategy:
    partition: int | None = None
    max_unavailable: IntOrString | None = None


@struct
class StatefulSetUpdateStrategy:
    type: str = ""
    rolling_update: RollingUpdateStatefulSetStrategy | None = None


@struct
class StatefulSetPersistentVolumeClaimRetentionPolicy:
    when_deleted: str = ""
    when_scaled: str = ""


@struct
class StatefulSetOrdinals:
    start: int = field(default=0, omitempty=False)


@struct
class StatefulSetSpec:
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    volume_claim_templates: Sequence[PersistentVolumeClaim] = ()
    # Go writes serviceName even when empty (no omitempty on its json tag).
    service_name: str = field(default="", omitempty=False)
    pod_management_policy: str = ""
    update_strategy: StatefulSetUpdateStrategy = StatefulSetUpdateStrategy()
    revision_history_limit: int | None = None
    min_ready_seconds: int = 0
    persistent_volume_claim_retention_policy: (
        StatefulSetPersistentVolumeClaimRetentionPolicy | None
    ) = None
    ordinals: StatefulSetOrdinals | None = None


@struct
class StatefulSetCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class StatefulSetStatus:
    observed_generation: int = 0
    replicas: int = field(default=0, omitempty=False)
    ready_replicas: int = 0
    current_replicas: int = 0
    updated_replicas: int = 0
    current_revision: str = ""
    update_revision: str = ""
    collision_count: int | None = None
    conditions: Sequence[StatefulSetCondition] = ()
    available_replicas: int = field(default=0, omitempty=False)


@kind("apps/v1", "StatefulSet", plural="statefulsets", short_names=("sts",))
class StatefulSet(Object):
    spec: StatefulSetSpec = StatefulSetSpec()
    status: StatefulSetStatus = StatefulSetStatus()


# --- DaemonSet ----------------------------------------------------------------------------


@struct
class RollingUpdateDaemonSet:
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


@struct
class DaemonSetUpdateStrategy:
    type: str = ""
    rolling_update: RollingUpdateDaemonSet | None = None


@struct
class DaemonSetSpec:
    selector: LabelSelector | None = None
    template: PodTemplateSpec = PodTemplateSpec()
    update_strategy: DaemonSetUpdateStrategy = DaemonSetUpdateStrategy()
    min_ready_seconds: int = 0
    revision_history_limit: int | None = None


@struct
class DaemonSetCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class DaemonSetStatus:
    current_number_scheduled: int = field(default=0, omitempty=False)
    number_misscheduled: int = field(default=0, omitempty=False)
    desired_number_scheduled: int = field(default=0, omitempty=False)
    number_ready: int = field(default=0, omitempty=False)
    observed_generation: int = 0
    updated_number_scheduled: int = 0
    number_available: int = 0
    number_unavailable: int = 0
    collision_count: int | None = None
    conditions: Sequence[DaemonSetCondition] = ()


@kind("apps/v1", "DaemonSet", plural="daemonsets", short_names=("ds",))
class DaemonSet(Object):
    spec: DaemonSetSpec = DaemonSetSpec()
    status: DaemonSetStatus = DaemonSetStatus()


# --- ControllerRevision -------------------------------------------------------------------


@kind("apps/v1", "ControllerRevision", plural="controllerrevisions")
class ControllerRevision(Object):
    """An immutable snapshot of a StatefulSet's or DaemonSet's template (their rollout history).

    ``data`` holds the serialized patch the controller recorded; it is free-form JSON.
    """

    data: Any = None
    revision: int = field(default=0, omitempty=False)


# --- field selectors: ReplicaSets add status.replicas; the rest only name/namespace --------

fieldsets.selectable(ReplicaSet, {"status.replicas": lambda rs: str(rs.status.replicas)})
for _cls in (Deployment, StatefulSet, DaemonSet, ControllerRevision):
    fieldsets.selectable(_cls, {})


# --- what the Deployment controller computes from a spec ----------------------------------


def max_surge_and_unavailable(deployment: Deployment) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of ``deployment`` as pod counts, as Kubernetes computes them.

    Both are 0 unless the strategy is RollingUpdate. Percentages are taken of
    ``spec.replicas`` (surge rounds up, unavailable down); if both come out 0, unavailable is 1
    so the rollout can move. Unavailable never exceeds the replica count and is 0 when scaled
    to zero. Unset values read as their defaults (1 replica, 25% each), so an object that has
    not been through defaulting gives the same answer as the stored one.
    """
    spec = deployment.spec
    if spec.strategy.type not in ("", ROLLING_UPDATE):
        return 0, 0
    replicas = 1 if spec.replicas is None else spec.replicas
    rolling = spec.strategy.rolling_update or RollingUpdateDeployment()
    surge = "25%" if rolling.max_surge is None else rolling.max_surge
    unavailable = "25%" if rolling.max_unavailable is None else rolling.max_unavailable
    max_surge, max_unavailable = resolve_fenceposts(surge, unavailable, replicas)
    if replicas == 0:
        return max_surge, 0
    return max_surge, min(max_unavailable, replicas)


# Registering validation and defaults needs the classes above, so these come last.
from kcore.objects.kinds import apps_defaults, apps_validation  # noqa: E402, F401
