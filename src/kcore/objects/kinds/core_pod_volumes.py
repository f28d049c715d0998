"""core/v1 pod volumes: ``Volume`` and every volume source a pod spec can name.

A Volume is a name plus exactly one source. The sources the kubelet of a modern cluster
mounts itself or through CSI are complete: emptyDir, hostPath, configMap, secret,
persistentVolumeClaim, csi, projected, downwardAPI, nfs, ephemeral and image, plus iscsi, fc,
rbd, cephfs, flexVolume, gitRepo and the cloud disks that CSI migration still translates.
The in-tree drivers Kubernetes has removed (glusterfs, flocker, quobyte, photon, scaleIO,
storageos) are not declared, so a manifest naming one fails decoding with a clear path.

``PersistentVolumeClaimTemplate.spec`` is free-form JSON here: the claim spec type belongs to
``core_storage``, which imports this package for node selectors, so a typed field would make
an import cycle. Its shape is checked where claims are validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kcore.objects.kinds.core_pod_container import ObjectFieldSelector, ResourceFieldSelector
from kcore.objects.meta import LabelSelector, LocalObjectReference, ObjectMeta
from kcore.objects.quantity import Quantity
from kcore.objects.struct import field, struct

__all__ = [
    "HOST_PATH_TYPES",
    "STORAGE_MEDIA",
    "VOLUME_SOURCE_FIELDS",
    "AWSElasticBlockStoreVolumeSource",
    "AzureDiskVolumeSource",
    "AzureFileVolumeSource",
    "CSIVolumeSource",
    "CephFSVolumeSource",
    "CinderVolumeSource",
    "ClusterTrustBundleProjection",
    "ConfigMapProjection",
    "ConfigMapVolumeSource",
    "DownwardAPIProjection",
    "DownwardAPIVolumeFile",
    "DownwardAPIVolumeSource",
    "EmptyDirVolumeSource",
    "EphemeralVolumeSource",
    "FCVolumeSource",
    "FlexVolumeSource",
    "GCEPersistentDiskVolumeSource",
    "GitRepoVolumeSource",
    "HostPathVolumeSource",
    "ISCSIVolumeSource",
    "ImageVolumeSource",
    "KeyToPath",
    "NFSVolumeSource",
    "PersistentVolumeClaimTemplate",
    "PersistentVolumeClaimVolumeSource",
    "PortworxVolumeSource",
    "ProjectedVolumeSource",
    "RBDVolumeSource",
    "SecretProjection",
    "SecretVolumeSource",
    "ServiceAccountTokenProjection",
    "Volume",
    "VolumeProjection",
    "VsphereVirtualDiskVolumeSource",
]

# hostPath types ("" = no check before mounting), sorted as Kubernetes lists them.
HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
STORAGE_MEDIA = ("", "Memory", "HugePages")  # emptyDir medium (plus "HugePages-<size>")


@struct
class HostPathVolumeSource:
    path: str = field(default="", omitempty=False)
    type: str | None = None


@struct
class EmptyDirVolumeSource:
    medium: str = ""
    size_limit: Quantity | None = None


@struct
class GCEPersistentDiskVolumeSource:
    pd_name: str = field(default="", omitempty=False)
    fs_type: str = ""
    partition: int = 0
    read_only: bool = False


@struct
class AWSElasticBlockStoreVolumeSource:
    volume_id: str = field(default="", omitempty=False)
    fs_type: str = ""
    partition: int = 0
    read_only: bool = False


@struct
class GitRepoVolumeSource:
    repository: str = field(default="", omitempty=False)
    revision: str = ""
    directory: str = ""


@struct
class KeyToPath:
    """One key of a ConfigMap or Secret, written to ``path`` inside the volume."""

    key: str = field(default="", omitempty=False)
    path: str = field(default="", omitempty=False)
    mode: int | None = None


@struct
class SecretVolumeSource:
    secret_name: str = ""
    items: Sequence[KeyToPath] = ()
    default_mode: int | None = None
    optional: bool | None = None


@struct
class NFSVolumeSource:
    server: str = field(default="", omitempty=False)
    path: str = field(default="", omitempty=False)
    read_only: bool = False


@struct
class ISCSIVolumeSource:
    target_portal: str = field(default="", omitempty=False)
    iqn: str = field(default="", omitempty=False)
    lun: int = field(default=0, omitempty=False)
    iscsi_interface: str = ""
    fs_type: str = ""
    read_only: bool = False
    portals: Sequence[str] = ()
    chap_auth_discovery: bool = False
    chap_auth_session: bool = False
    secret_ref: LocalObjectReference | None = None
    initiator_name: str | None = None


@struct
class PersistentVolumeClaimVolumeSource:
    claim_name: str = field(default="", omitempty=False)
    read_only: bool = False


@struct
class RBDVolumeSource:
    monitors: Sequence[str] = ()
    image: str = field(default="", omitempty=False)
    fs_type: str = ""
    pool: str = ""
    user: str = ""
    keyring: str = ""
    secret_ref: LocalObjectReference | None = None
    read_only: bool = False


@struct
class FlexVolumeSource:
    driver: str = field(default="", omitempty=False)
    fs_type: str = ""
    secret_ref: LocalObjectReference | None = None
    read_only: bool = False
    options: Mapping[str, str] = {}


@struct
class CinderVolumeSource:
    volume_id: str = field(default="", omitempty=False)
    fs_type: str = ""
    read_only: bool = False
    secret_ref: LocalObjectReference | None = None


@struct
class CephFSVolumeSource:
    monitors: Sequence[str] = ()
    path: str = ""
    user: str = ""
    secret_file: str = ""
    secret_ref: LocalObjectReference | None = None
    read_only: bool = False


@struct
class DownwardAPIVolumeFile:
    path: str = field(default="", omitempty=False)
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: int | None = None


@struct
class DownwardAPIVolumeSource:
    items: Sequence[DownwardAPIVolumeFile] = ()
    default_mode: int | None = None


@struct
class FCVolumeSource:
    target_wwns: Sequence[str] = field(default=(), wire="targetWWNs")
    lun: int | None = None
    fs_type: str = ""
    read_only: bool = False
    wwids: Sequence[str] = ()


@struct
class AzureFileVolumeSource:
    secret_name: str = field(default="", omitempty=False)
    share_name: str = field(default="", omitempty=False)
    read_only: bool = False


@struct
class ConfigMapVolumeSource:
    name: str = ""
    items: Sequence[KeyToPath] = ()
    default_mode: int | None = None
    optional: bool | None = None


@struct
class VsphereVirtualDiskVolumeSource:
    volume_path: str = field(default="", omitempty=False)
    fs_type: str = ""
    storage_policy_name: str = ""
    storage_policy_id: str = ""


@struct
class AzureDiskVolumeSource:
    disk_name: str = field(default="", omitempty=False)
    disk_uri: str = field(default="", omitempty=False, wire="diskURI")
    caching_mode: str | None = None
    fs_type: str | None = None
    read_only: bool | None = None
    kind: str | None = None


@struct
class SecretProjection:
    name: str = ""
    items: Sequence[KeyToPath] = ()
    optional: bool | None = None


@struct
class ConfigMapProjection:
    name: str = ""
    items: Sequence[KeyToPath] = ()
    optional: bool | None = None


@struct
class DownwardAPIProjection:
    items: Sequence[DownwardAPIVolumeFile] = ()


@struct
class ServiceAccountTokenProjection:
    """A bound, expiring service-account token written into a projected volume."""

    audience: str = ""
    expiration_seconds: int | None = None
    path: str = field(default="", omitempty=False)


@struct
class ClusterTrustBundleProjection:
    name: str | None = None
    signer_name: str | None = None
    label_selector: LabelSelector | None = None
    optional: bool | None = None
    path: str = field(default="", omitempty=False)


@struct
class VolumeProjection:
    secret: SecretProjection | None = None
    downward_api: DownwardAPIProjection | None = field(default=None, wire="downwardAPI")
    config_map: ConfigMapProjection | None = None
    service_account_token: ServiceAccountTokenProjection | None = None
    cluster_trust_bundle: ClusterTrustBundleProjection | None = None


@struct
class ProjectedVolumeSource:
    sources: Sequence[VolumeProjection] = ()
    default_mode: int | None = None


@struct
class PortworxVolumeSource:
    volume_id: str = field(default="", omitempty=False)
    fs_type: str = ""
    read_only: bool = False


@struct
class CSIVolumeSource:
    driver: str = field(default="", omitempty=False)
    read_only: bool | None = None
    fs_type: str | None = None
    volume_attributes: Mapping[str, str] = {}
    node_publish_secret_ref: LocalObjectReference | None = None


@struct
class PersistentVolumeClaimTemplate:
    """The claim an ephemeral volume creates (named ``<pod>-<volume>``) and deletes with it."""

    metadata: ObjectMeta = ObjectMeta()
    spec: Any = None  # a PersistentVolumeClaimSpec as JSON (see the module notes)


@struct
class EphemeralVolumeSource:
    volume_claim_template: PersistentVolumeClaimTemplate | None = None


@struct
class ImageVolumeSource:
    """An OCI image (or artifact) mounted read-only as a volume."""

    reference: str = ""
    pull_policy: str = ""


@struct
class Volume:
    """A named volume with exactly one source; with none, defaulting makes it an emptyDir."""

    name: str = field(default="", omitempty=False)
    host_path: HostPathVolumeSource | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    gce_persistent_disk: GCEPersistentDiskVolumeSource | None = None
    aws_elastic_block_store: AWSElasticBlockStoreVolumeSource | None = None
    git_repo: GitRepoVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    nfs: NFSVolumeSource | None = None
    iscsi: ISCSIVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    rbd: RBDVolumeSource | None = None
    flex_volume: FlexVolumeSource | None = None
    cinder: CinderVolumeSource | None = None
    cephfs: CephFSVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = field(default=None, wire="downwardAPI")
    fc: FCVolumeSource | None = None
    azure_file: AzureFileVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    vsphere_volume: VsphereVirtualDiskVolumeSource | None = None
    azure_disk: AzureDiskVolumeSource | None = None
    projected: ProjectedVolumeSource | None = None
    portworx_volume: PortworxVolumeSource | None = None
    csi: CSIVolumeSource | None = None
    ephemeral: EphemeralVolumeSource | None = None
    image: ImageVolumeSource | None = None


# (attribute, wire name) of every source field of Volume, in declaration order: validation
# counts the sources set and reports extras by wire name.
VOLUME_SOURCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("host_path", "hostPath"),
    ("empty_dir", "emptyDir"),
    ("gce_persistent_disk", "gcePersistentDisk"),
    ("aws_elastic_block_store", "awsElasticBlockStore"),
    ("git_repo", "gitRepo"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("persistent_volume_claim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("flex_volume", "flexVolume"),
    ("cinder", "cinder"),
    ("cephfs", "cephfs"),
    ("downward_api", "downwardAPI"),
    ("fc", "fc"),
    ("azure_file", "azureFile"),
    ("config_map", "configMap"),
    ("vsphere_volume", "vsphereVolume"),
    ("azure_disk", "azureDisk"),
    ("projected", "projected"),
    ("portworx_volume", "portworxVolume"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)
