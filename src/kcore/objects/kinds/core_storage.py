"""core/v1 PersistentVolume and PersistentVolumeClaim: storage supplied, and storage asked for.

A PersistentVolume names exactly one volume source. The sources declared are the ones a kcore
node can actually attach — ``csi``, ``hostPath``, ``local`` and ``nfs`` — so a manifest naming
an in-tree cloud or network driver fails decoding with its path rather than loading into a
volume nothing could mount. The claim spec is exported with its validator and defaulter
(:func:`validate_persistent_volume_claim_spec`, :func:`default_persistent_volume_claim_spec`)
because StatefulSet claim templates and ephemeral volumes embed the same spec.

Node selectors (a local volume's node affinity) and the hostPath/NFS sources are the pod's own
types, checked by the pod's own rules, so the scheduler and kubelet read one shape wherever
they find it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from kcore.objects import names
from kcore.objects.defaults import changed, defaulter
from kcore.objects.fieldsets import selectable
from kcore.objects.kinds.core_pod import HostPathVolumeSource, NFSVolumeSource, NodeSelector
from kcore.objects.kinds.core_pod_validation_fields import (
    add_label_selector_problems,
    validate_path_no_backsteps,
)
from kcore.objects.kinds.core_pod_validation_scheduling import validate_node_selector
from kcore.objects.kinds.core_pod_volumes import HOST_PATH_TYPES
from kcore.objects.meta import LabelSelector, Object, ObjectReference
from kcore.objects.quantity import Quantity
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "ACCESS_MODES",
    "RECLAIM_POLICIES",
    "VOLUME_MODES",
    "CSIPersistentVolumeSource",
    "LocalVolumeSource",
    "ModifyVolumeStatus",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "PersistentVolumeClaimCondition",
    "PersistentVolumeClaimSpec",
    "PersistentVolumeClaimStatus",
    "PersistentVolumeSpec",
    "PersistentVolumeStatus",
    "SecretReference",
    "TypedLocalObjectReference",
    "TypedObjectReference",
    "VolumeNodeAffinity",
    "VolumeResourceRequirements",
    "default_persistent_volume_claim_spec",
    "validate_persistent_volume_claim_spec",
]

ACCESS_MODES: Final = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES: Final = ("Delete", "Recycle", "Retain")
VOLUME_MODES: Final = ("Block", "Filesystem")
PV_PHASES: Final = ("Available", "Bound", "Failed", "Pending", "Released")
PVC_PHASES: Final = ("Bound", "Lost", "Pending")
STORAGE: Final = "storage"
_CSI_DRIVER_NAME_MAX = 63

# --- PersistentVolume ------------------------------------------------------------------------


@struct
class SecretReference:
    name: str = ""
    namespace: str = ""


@struct
class LocalVolumeSource:
    path: str = field(default="", omitempty=False)
    fs_type: str | None = None


@struct
class CSIPersistentVolumeSource:
    driver: str = field(default="", omitempty=False)
    volume_handle: str = field(default="", omitempty=False)
    read_only: bool = False
    fs_type: str = ""
    volume_attributes: Mapping[str, str] = {}
    controller_publish_secret_ref: SecretReference | None = None
    node_stage_secret_ref: SecretReference | None = None
    node_publish_secret_ref: SecretReference | None = None
    controller_expand_secret_ref: SecretReference | None = None
    node_expand_secret_ref: SecretReference | None = None


@struct
class VolumeNodeAffinity:
    required: NodeSelector | None = None


@struct
class PersistentVolumeSpec:
    capacity: Mapping[str, Quantity] = {}
    # The volume sources (Go inlines PersistentVolumeSource here, in this order).
    host_path: HostPathVolumeSource | None = None
    nfs: NFSVolumeSource | None = None
    local: LocalVolumeSource | None = None
    csi: CSIPersistentVolumeSource | None = None
    access_modes: Sequence[str] = ()
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str = ""
    storage_class_name: str = ""
    mount_options: Sequence[str] = ()
    volume_mode: str | None = None
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None


@struct
class PersistentVolumeStatus:
    phase: str = ""
    message: str = ""
    reason: str = ""
    last_phase_transition_time: datetime | None = None


@kind("v1", "PersistentVolume", plural="persistentvolumes", namespaced=False, short_names=("pv",))
class PersistentVolume(Object):
    spec: PersistentVolumeSpec = PersistentVolumeSpec()
    status: PersistentVolumeStatus = PersistentVolumeStatus()


# --- PersistentVolumeClaim -------------------------------------------------------------------


@struct
class VolumeResourceRequirements:
    limits: Mapping[str, Quantity] = {}
    requests: Mapping[str, Quantity] = {}


@struct
class TypedLocalObjectReference:
    api_group: str | None = None
    kind: str = field(default="", omitempty=False)
    name: str = field(default="", omitempty=False)


@struct
class TypedObjectReference:
    api_group: str | None = None
    kind: str = field(default="", omitempty=False)
    name: str = field(default="", omitempty=False)
    namespace: str | None = None


@struct
class PersistentVolumeClaimSpec:
    access_modes: Sequence[str] = ()
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements = VolumeResourceRequirements()
    volume_name: str = ""
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: TypedObjectReference | None = None
    volume_attributes_class_name: str | None = None


@struct
class PersistentVolumeClaimCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class ModifyVolumeStatus:
    target_volume_attributes_class_name: str = ""
    status: str = field(default="", omitempty=False)


@struct
class PersistentVolumeClaimStatus:
    phase: str = ""
    access_modes: Sequence[str] = ()
    capacity: Mapping[str, Quantity] = {}
    conditions: Sequence[PersistentVolumeClaimCondition] = ()
    allocated_resources: Mapping[str, Quantity] = {}
    allocated_resource_statuses: Mapping[str, str] = {}
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: ModifyVolumeStatus | None = None


@kind("v1", "PersistentVolumeClaim", plural="persistentvolumeclaims", short_names=("pvc",))
class PersistentVolumeClaim(Object):
    spec: PersistentVolumeClaimSpec = PersistentVolumeClaimSpec()
    status: PersistentVolumeClaimStatus = PersistentVolumeClaimStatus()


# --- shared checks ---------------------------------------------------------------------------


def _validate_access_modes(modes: Sequence[str], path: str, problems: Problems) -> None:
    for mode in modes:
        problems.enum(path, mode, ACCESS_MODES)
    # ReadWriteOncePod promises a single pod; no other mode can be offered alongside it.
    if "ReadWriteOncePod" in modes and any(
        m in ACCESS_MODES for m in modes if m != "ReadWriteOncePod"
    ):
        problems.forbidden(path, "may not use ReadWriteOncePod with other access modes")


def _validate_class_name(value: str | None, path: str, problems: Problems) -> None:
    if value:
        problems.from_messages(path, value, names.is_dns1123_subdomain(value))


def _validate_positive(quantity: Quantity, path: str, problems: Problems) -> None:
    if quantity.sign() <= 0:
        problems.invalid(path, str(quantity), "must be greater than zero")


# --- PersistentVolume validation and defaults ------------------------------------------------


@validates(PersistentVolume)
def _validate_persistent_volume(pv: PersistentVolume, problems: Problems) -> None:
    spec = pv.spec
    if not spec.access_modes:
        problems.required("spec.accessModes")
    _validate_access_modes(spec.access_modes, "spec.accessModes", problems)
    if not spec.capacity:
        problems.required("spec.capacity")
    if STORAGE not in spec.capacity or len(spec.capacity) > 1:
        problems.not_supported(
            "spec.capacity", {k: str(v) for k, v in spec.capacity.items()}, [STORAGE]
        )
    for name, quantity in spec.capacity.items():
        _validate_positive(quantity, f"spec.capacity[{name}]", problems)
    problems.enum(
        "spec.persistentVolumeReclaimPolicy",
        spec.persistent_volume_reclaim_policy,
        RECLAIM_POLICIES,
    )
    if spec.node_affinity is not None:
        if spec.node_affinity.required is None:
            problems.required(
                "spec.nodeAffinity.required", "must specify required node constraints"
            )
        else:
            validate_node_selector(
                spec.node_affinity.required, "spec.nodeAffinity.required", problems
            )
    _validate_volume_source(spec, problems)
    _validate_class_name(spec.storage_class_name, "spec.storageClassName", problems)
    problems.enum("spec.volumeMode", spec.volume_mode, VOLUME_MODES)
    if spec.volume_attributes_class_name is not None:
        if not spec.volume_attributes_class_name:
            problems.required("spec.volumeAttributesClassName", "an empty string is disallowed")
        _validate_class_name(
            spec.volume_attributes_class_name, "spec.volumeAttributesClassName", problems
        )
        if spec.csi is None:
            problems.required(
                "spec.csi", "has to be specified when using volumeAttributesClassName"
            )
    problems.enum("status.phase", pv.status.phase, PV_PHASES)


def _validate_volume_source(spec: PersistentVolumeSpec, problems: Problems) -> None:
    sources = [
        (wire, source)
        for wire, source in (
            ("hostPath", spec.host_path),
            ("nfs", spec.nfs),
            ("local", spec.local),
            ("csi", spec.csi),
        )
        if source is not None
    ]
    if not sources:
        problems.required("spec", "must specify a volume type")
    for wire, _ in sources[1:]:
        problems.forbidden(f"spec.{wire}", "may not specify more than 1 volume type")
    first = sources[0][1] if sources else None
    if isinstance(first, HostPathVolumeSource):
        _validate_local_path(first.path, "spec.hostPath.path", problems)
        problems.enum("spec.hostPath.type", first.type, HOST_PATH_TYPES)
        if posixpath.normpath(first.path) == "/" and (
            spec.persistent_volume_reclaim_policy == "Recycle"
        ):
            problems.forbidden(
                "spec.persistentVolumeReclaimPolicy",
                "may not be 'recycle' for a hostPath mount of '/'",
            )
    elif isinstance(first, NFSVolumeSource):
        if not first.server:
            problems.required("spec.nfs.server")
        if not first.path:
            problems.required("spec.nfs.path")
        elif not first.path.startswith("/"):
            problems.invalid("spec.nfs.path", first.path, "must be an absolute path")
    elif isinstance(first, LocalVolumeSource):
        _validate_local_path(first.path, "spec.local.path", problems)
        # A local disk exists on one node only; without affinity pods would land elsewhere.
        if spec.node_affinity is None:
            problems.required("spec.nodeAffinity", "Local volume requires node affinity")
    elif isinstance(first, CSIPersistentVolumeSource):
        _validate_csi_source(first, "spec.csi", problems)


def _validate_local_path(value: str, path: str, problems: Problems) -> None:
    if not value:
        problems.required(path)
    else:
        validate_path_no_backsteps(value, path, problems)


def _validate_csi_source(csi: CSIPersistentVolumeSource, path: str, problems: Problems) -> None:
    driver = csi.driver
    if not driver:
        problems.required(f"{path}.driver")
    elif len(driver) > _CSI_DRIVER_NAME_MAX:
        problems.too_long(f"{path}.driver", driver, _CSI_DRIVER_NAME_MAX, "characters")
    if driver:
        problems.from_messages(f"{path}.driver", driver, names.is_dns1123_subdomain(driver.lower()))
    if not csi.volume_handle:
        problems.required(f"{path}.volumeHandle")
    for wire, ref in (
        ("controllerPublishSecretRef", csi.controller_publish_secret_ref),
        ("nodeStageSecretRef", csi.node_stage_secret_ref),
        ("nodePublishSecretRef", csi.node_publish_secret_ref),
        ("controllerExpandSecretRef", csi.controller_expand_secret_ref),
        ("nodeExpandSecretRef", csi.node_expand_secret_ref),
    ):
        if ref is None:
            continue
        # A cluster-scoped volume must say which namespace its secret lives in.
        at = f"{path}.{wire}"
        if not ref.name:
            problems.required(f"{at}.name")
        else:
            problems.from_messages(f"{at}.name", ref.name, names.is_dns1123_subdomain(ref.name))
        if not ref.namespace:
            problems.required(f"{at}.namespace")
        else:
            problems.from_messages(
                f"{at}.namespace", ref.namespace, names.is_dns1123_label(ref.namespace)
            )


@defaulter(PersistentVolume)
def _default_persistent_volume(pv: PersistentVolume) -> PersistentVolume:
    spec = changed(pv.spec, persistent_volume_reclaim_policy="Retain", volume_mode="Filesystem")
    # An unset hostPath type becomes "" (mount without checking what is at the path).
    if spec.host_path is not None and spec.host_path.type is None:
        spec = evolve(spec, host_path=evolve(spec.host_path, type=""))
    status = changed(pv.status, phase="Pending")
    if spec is pv.spec and status is pv.status:
        return pv
    return evolve(pv, spec=spec, status=status)


selectable(PersistentVolume, {"name": lambda o: o.metadata.name})

# --- PersistentVolumeClaim validation and defaults -------------------------------------------


def validate_persistent_volume_claim_spec(
    spec: PersistentVolumeClaimSpec, path: str, problems: Problems
) -> None:
    """Kubernetes' ValidatePersistentVolumeClaimSpec at ``path`` (e.g. ``spec``)."""
    if not spec.access_modes:
        problems.required(f"{path}.accessModes", "at least 1 access mode is required")
    _validate_access_modes(spec.access_modes, f"{path}.accessModes", problems)
    add_label_selector_problems(spec.selector, f"{path}.selector", problems)
    storage = spec.resources.requests.get(STORAGE)
    at = f"{path}.resources[{STORAGE}]"
    if storage is None:
        problems.required(at)
    else:
        _validate_positive(storage, at, problems)
    _validate_class_name(spec.storage_class_name, f"{path}.storageClassName", problems)
    problems.enum(f"{path}.volumeMode", spec.volume_mode, VOLUME_MODES)
    if spec.data_source is not None:
        _validate_data_source(spec.data_source, f"{path}.dataSource", problems)
    ref = spec.data_source_ref
    if ref is not None:
        _validate_data_source(ref, f"{path}.dataSourceRef", problems)
        if ref.namespace:
            problems.from_messages(
                f"{path}.dataSourceRef.namespace",
                ref.namespace,
                names.is_dns1123_label(ref.namespace),
            )
    if ref is not None and ref.namespace:
        if spec.data_source is not None:
            problems.invalid(
                path,
                f"{path}.dataSource",
                "may not be specified when dataSourceRef.namespace is specified",
            )
    elif spec.data_source is not None and ref is not None:
        source = spec.data_source
        if (source.api_group, source.kind, source.name) != (ref.api_group, ref.kind, ref.name):
            problems.invalid(path, f"{path}.dataSource", "must match dataSourceRef")
    _validate_class_name(
        spec.volume_attributes_class_name, f"{path}.volumeAttributesClassName", problems
    )


def _validate_data_source(
    source: TypedLocalObjectReference | TypedObjectReference, path: str, problems: Problems
) -> None:
    if not source.name:
        problems.required(f"{path}.name")
    if not source.kind:
        problems.required(f"{path}.kind")
    group = source.api_group or ""
    # Only claims can be cloned from the core group; everything else needs its API group.
    if not group and source.kind != "PersistentVolumeClaim":
        problems.invalid(
            path,
            source.kind,
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        )
    if group:
        problems.from_messages(f"{path}.apiGroup", group, names.is_dns1123_subdomain(group))


def default_persistent_volume_claim_spec(
    spec: PersistentVolumeClaimSpec,
) -> PersistentVolumeClaimSpec:
    """Kubernetes' SetDefaults_PersistentVolumeClaimSpec (shared with claim templates)."""
    return changed(spec, volume_mode="Filesystem")


@validates(PersistentVolumeClaim)
def _validate_persistent_volume_claim(pvc: PersistentVolumeClaim, problems: Problems) -> None:
    validate_persistent_volume_claim_spec(pvc.spec, "spec", problems)
    problems.enum("status.phase", pvc.status.phase, PVC_PHASES)


@defaulter(PersistentVolumeClaim)
def _default_persistent_volume_claim(pvc: PersistentVolumeClaim) -> PersistentVolumeClaim:
    spec = default_persistent_volume_claim_spec(pvc.spec)
    status = changed(pvc.status, phase="Pending")
    if spec is pvc.spec and status is pvc.status:
        return pvc
    return evolve(pvc, spec=spec, status=status)


selectable(PersistentVolumeClaim, {"name": lambda o: o.metadata.name})
