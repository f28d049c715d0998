"""Validation of a pod's volumes (Kubernetes' ValidateVolumes and validateVolumeSource).

Each volume needs a unique DNS-label name and at most one source, each source its own fields.
A volume with no source is valid: defaulting makes it an emptyDir, as kube-apiserver does
before it validates. ``validate_volumes`` returns the volumes that passed, by name, because
mounts may only refer to those (Kubernetes reports a mount of a broken volume as not found).

An ephemeral volume's claim spec is free-form JSON in kcore (see ``core_pod_volumes``); the
rules Kubernetes applies to every claim — access modes and a storage request — are checked on
that JSON here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kcore.objects import names
from kcore.objects.kinds.core_pod_container import PULL_POLICIES
from kcore.objects.kinds.core_pod_validation_fields import (
    add_label_selector_problems,
    validate_local_descending_path,
    validate_object_field_selector,
    validate_path_no_backsteps,
    validate_resource_field_selector,
)
from kcore.objects.kinds.core_pod_volumes import (
    HOST_PATH_TYPES,
    VOLUME_SOURCE_FIELDS,
    DownwardAPIVolumeFile,
    KeyToPath,
    ProjectedVolumeSource,
    Volume,
)
from kcore.objects.meta import ObjectMeta
from kcore.objects.quantity import Quantity
from kcore.objects.struct import wire_name
from kcore.objects.validation import Problems

__all__ = ["VOLUME_FIELD_PATHS", "validate_volumes"]

# Downward API fields a volume file may hold (labels/annotations also with a subscript).
VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
_IQN = re.compile(r"iqn\.\d{4}-\d{2}\.[A-Za-z0-9.-]+(:[^,;*&$|\s]+)$")
_EUI = re.compile(r"eui\.[A-Za-z0-9]{16}")
_NAA = re.compile(r"naa\.[A-Za-z0-9]{32}")


def validate_volumes(
    volumes: Sequence[Volume], path: str, problems: Problems, *, for_pod: bool, pod_name: str = ""
) -> dict[str, Volume]:
    """Check every volume at ``path``; the valid ones, by name. ``pod_name`` (a real pod's)
    lets the claim an ephemeral volume will create be checked too."""
    valid: dict[str, Volume] = {}
    for i, volume in enumerate(volumes):
        at = f"{path}[{i}]"
        before = len(problems.causes)
        _validate_source(volume, at, problems, for_pod)
        if not volume.name:
            problems.required(f"{at}.name")
        else:
            problems.from_messages(f"{at}.name", volume.name, names.is_dns1123_label(volume.name))
        if volume.name in valid:
            problems.duplicate(f"{at}.name", volume.name)
        if pod_name and volume.ephemeral is not None and volume.name:
            claim = f"{pod_name}-{volume.name}"
            for message in names.is_dns1123_subdomain(claim):
                problems.invalid(f"{at}.name", volume.name, f'PVC name "{claim}": {message}')
        if len(problems.causes) == before:
            valid[volume.name] = volume
    return valid


def _validate_source(volume: Volume, path: str, problems: Problems, for_pod: bool) -> None:
    chosen = [wire for attribute, wire in VOLUME_SOURCE_FIELDS if getattr(volume, attribute)]
    for wire in chosen[1:]:
        problems.forbidden(f"{path}.{wire}", "may not specify more than 1 volume type")
    if not chosen:
        return  # defaulted to an emptyDir
    at = f"{path}.{chosen[0]}"
    source = chosen[0]
    if source == "emptyDir" and volume.empty_dir is not None:
        size = volume.empty_dir.size_limit
        if size is not None and size.sign() < 0:
            problems.forbidden(
                f"{at}.sizeLimit", "SizeLimit field must be a valid resource quantity"
            )
    elif source == "hostPath" and volume.host_path is not None:
        if not volume.host_path.path:
            problems.required(f"{at}.path")
        else:
            validate_path_no_backsteps(volume.host_path.path, f"{at}.path", problems)
            problems.enum(f"{at}.type", volume.host_path.type or "", HOST_PATH_TYPES)
    elif source == "secret" and volume.secret is not None:
        _required(problems, at, secretName=volume.secret.secret_name)
        _validate_mode(volume.secret.default_mode, f"{at}.defaultMode", problems)
        _validate_items(volume.secret.items, f"{at}.items", problems)
    elif source == "configMap" and volume.config_map is not None:
        _required(problems, at, name=volume.config_map.name)
        _validate_mode(volume.config_map.default_mode, f"{at}.defaultMode", problems)
        _validate_items(volume.config_map.items, f"{at}.items", problems)
    elif source == "persistentVolumeClaim" and volume.persistent_volume_claim is not None:
        _required(problems, at, claimName=volume.persistent_volume_claim.claim_name)
    elif source == "downwardAPI" and volume.downward_api is not None:
        _validate_mode(volume.downward_api.default_mode, f"{at}.defaultMode", problems)
        for file in volume.downward_api.items:
            _validate_downward_file(file, at, problems)
    elif source == "projected" and volume.projected is not None:
        _validate_projected(volume.projected, at, problems)
    elif source == "csi" and volume.csi is not None:
        _validate_csi_driver(volume.csi.driver, f"{at}.driver", problems)
        ref = volume.csi.node_publish_secret_ref
        if ref is not None and not ref.name:
            problems.required(f"{at}.nodePublishSecretRef.name")
        elif ref is not None:
            problems.from_messages(f"{at}.name", ref.name, names.is_dns1123_subdomain(ref.name))
    elif source == "nfs" and volume.nfs is not None:
        _required(problems, at, server=volume.nfs.server, path=volume.nfs.path)
        if not volume.nfs.path.startswith("/"):
            problems.invalid(f"{at}.path", volume.nfs.path, "must be an absolute path")
    elif source == "ephemeral" and volume.ephemeral is not None:
        template = volume.ephemeral.volume_claim_template
        if template is None:
            problems.required(f"{at}.volumeClaimTemplate")
        else:
            _validate_claim_template(
                template.metadata, template.spec, f"{at}.volumeClaimTemplate", problems
            )
    elif source == "image" and volume.image is not None:
        if for_pod and not volume.image.reference:
            problems.required(f"{at}.reference")
        problems.enum(f"{at}.pullPolicy", volume.image.pull_policy, PULL_POLICIES)
    else:
        _validate_legacy_source(volume, source, at, problems)


def _required(problems: Problems, where: str, /, **fields: str) -> None:
    """Each of ``fields`` (wire name = value) must be non-empty."""
    for wire, value in fields.items():
        if not value:
            problems.required(f"{where}.{wire}")


def _validate_mode(mode: int | None, path: str, problems: Problems) -> None:
    if mode is not None and not 0 <= mode <= 0o777:
        problems.invalid(path, mode, _MODE_ERROR)


def _validate_local_non_reserved_path(target: str, path: str, problems: Problems) -> None:
    validate_local_descending_path(target, path, problems)
    if target.startswith("..") and not target.startswith("../"):
        problems.invalid(path, target, "must not start with '..'")


def _validate_items(items: Sequence[KeyToPath], path: str, problems: Problems) -> None:
    for i, item in enumerate(items):
        at = f"{path}[{i}]"
        _required(problems, at, key=item.key, path=item.path)
        _validate_local_non_reserved_path(item.path, f"{at}.path", problems)
        _validate_mode(item.mode, f"{at}.mode", problems)


def _validate_downward_file(file: DownwardAPIVolumeFile, path: str, problems: Problems) -> None:
    if not file.path:
        problems.required(f"{path}.path")
    _validate_local_non_reserved_path(file.path, f"{path}.path", problems)
    if file.field_ref is not None:
        validate_object_field_selector(
            file.field_ref, VOLUME_FIELD_PATHS, f"{path}.fieldRef", problems
        )
        if file.resource_field_ref is not None:
            problems.invalid(
                path,
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            )
    elif file.resource_field_ref is not None:
        validate_resource_field_selector(
            file.resource_field_ref, f"{path}.resourceFieldRef", problems, in_volume=True
        )
    else:
        problems.required(path, "one of fieldRef and resourceFieldRef is required")
    _validate_mode(file.mode, f"{path}.mode", problems)


def _validate_projected(projected: ProjectedVolumeSource, path: str, problems: Problems) -> None:
    _validate_mode(projected.default_mode, f"{path}.defaultMode", problems)
    paths: set[str] = set()

    def claim_path(target: str, shown: str) -> None:
        if target in paths:
            problems.invalid(path, shown, "conflicting duplicate paths")
        paths.add(target)

    for i, source in enumerate(projected.sources):
        at = f"{path}.sources[{i}]"
        count = 0
        for ref, where in ((source.secret, "secret"), (source.config_map, "configMap")):
            if ref is None:
                continue
            count += 1
            _required(problems, f"{at}.{where}", name=ref.name)
            _validate_items(ref.items, f"{at}.{where}.items", problems)
            for item in ref.items:
                if item.path:
                    claim_path(item.path, ref.name)
        if source.downward_api is not None:
            count += 1
            for file in source.downward_api.items:
                _validate_downward_file(file, f"{at}.downwardAPI", problems)
                if file.path:
                    claim_path(file.path, file.path)
        token = source.service_account_token
        if token is not None:
            count += 1
            seconds = 3600 if token.expiration_seconds is None else token.expiration_seconds
            if seconds < 600:
                problems.invalid(
                    f"{at}.serviceAccountToken.expirationSeconds",
                    seconds,
                    "may not specify a duration less than 10 minutes",
                )
            if seconds > 1 << 32:
                problems.invalid(
                    f"{at}.serviceAccountToken.expirationSeconds",
                    seconds,
                    "may not specify a duration larger than 2^32 seconds",
                )
            if not token.path:
                problems.required(f"{path}.path")
            else:
                _validate_local_non_reserved_path(token.path, f"{path}.path", problems)
        bundle = source.cluster_trust_bundle
        if bundle is not None:
            count += 1
            here = f"{at}.clusterTrustBundle"
            if bundle.name is not None and bundle.signer_name is not None:
                problems.invalid(
                    here, "clusterTrustBundle", "only one of name and signerName may be used"
                )
            elif bundle.name is None and bundle.signer_name is None:
                problems.required(here, "either name or signerName must be specified")
            elif bundle.name is not None and bundle.label_selector is not None:
                problems.invalid(
                    f"{here}.labelSelector",
                    "labelSelector",
                    "labelSelector must be unset if name is specified",
                )
            add_label_selector_problems(bundle.label_selector, f"{here}.labelSelector", problems)
            if not bundle.path:
                problems.required(f"{here}.path")
            _validate_local_non_reserved_path(bundle.path, f"{here}.path", problems)
            claim_path(bundle.path, bundle.path)
        if count > 1:
            problems.forbidden(at, "may not specify more than 1 volume type per source")


def _validate_csi_driver(driver: str, path: str, problems: Problems) -> None:
    if not driver:
        problems.required(path)
    if len(driver) > 63:
        problems.too_long(path, driver, 63, "characters")
    problems.from_messages(path, driver, names.is_dns1123_subdomain(driver.lower()))


def _validate_claim_template(
    metadata: ObjectMeta, spec: Any, path: str, problems: Problems
) -> None:
    """Only labels and annotations in the metadata; the claim spec's universal rules."""
    for attribute in attrs.fields(ObjectMeta):  # type: ignore[arg-type]
        if attribute.name in ("labels", "annotations") or attribute.name.startswith("_"):
            continue
        if getattr(metadata, attribute.name) != attribute.default:
            problems.forbidden(f"{path}.metadata.{wire_name(attribute.name)}", "cannot be set")
    spec_path = f"{path}.spec"
    if not isinstance(spec, Mapping):
        problems.required(spec_path, "a PersistentVolumeClaimSpec is required")
        return
    modes = spec.get("accessModes") or ()
    if not modes:
        problems.required(f"{spec_path}.accessModes", "at least 1 access mode is required")
    for mode in modes:
        problems.enum(f"{spec_path}.accessModes", str(mode), ACCESS_MODES)
    requests = (spec.get("resources") or {}).get("requests") or {}
    storage_path = f"{spec_path}.resources[storage]"
    if "storage" not in requests:
        problems.required(storage_path)
        return
    try:
        storage = Quantity(requests["storage"])
    except (ValueError, TypeError) as err:
        problems.invalid(storage_path, requests["storage"], str(err))
        return
    if storage.sign() <= 0:
        problems.invalid(storage_path, storage.canonical(), "must be greater than zero")


def _validate_legacy_source(volume: Volume, source: str, path: str, problems: Problems) -> None:
    """The in-tree network and cloud sources: their required fields and simple ranges."""
    if volume.iscsi is not None:
        iscsi = volume.iscsi
        _required(problems, path, targetPortal=iscsi.target_portal, iqn=iscsi.iqn)
        if iscsi.iqn:
            _validate_iqn(iscsi.iqn, f"{path}.iqn", problems)
        if not 0 <= iscsi.lun <= 255:
            problems.invalid(f"{path}.lun", iscsi.lun, names.inclusive_range_error(0, 255))
        if (iscsi.chap_auth_discovery or iscsi.chap_auth_session) and iscsi.secret_ref is None:
            problems.required(f"{path}.secretRef")
        if iscsi.initiator_name is not None:
            _validate_iqn(iscsi.initiator_name, f"{path}.initiatorname", problems)
    elif volume.fc is not None:
        fc = volume.fc
        if not fc.target_wwns and not fc.wwids:
            problems.required(
                f"{path}.targetWWNs", "must specify either targetWWNs or wwids, but not both"
            )
        if fc.target_wwns and fc.wwids:
            problems.invalid(
                f"{path}.targetWWNs",
                list(fc.target_wwns),
                "targetWWNs and wwids can not be specified simultaneously",
            )
        if fc.target_wwns and fc.lun is None:
            problems.required(f"{path}.lun", "lun is required if targetWWNs is specified")
        elif fc.target_wwns and fc.lun is not None and not 0 <= fc.lun <= 255:
            problems.invalid(f"{path}.lun", fc.lun, names.inclusive_range_error(0, 255))
    elif volume.git_repo is not None:
        _required(problems, path, repository=volume.git_repo.repository)
        validate_local_descending_path(volume.git_repo.directory, f"{path}.directory", problems)
    elif volume.flex_volume is not None:
        _required(problems, path, driver=volume.flex_volume.driver)
        for key in volume.flex_volume.options:
            domain = "." + key.partition("/")[0].lower() if "/" in key else "." + key.lower()
            if domain.endswith((".kubernetes.io", ".k8s.io")):
                problems.invalid(
                    f"{path}.options[{key}]",
                    key,
                    "kubernetes.io and k8s.io namespaces are reserved",
                )
    else:
        required: dict[str, Mapping[str, str]] = {
            "rbd": {"image": volume.rbd.image if volume.rbd else ""},
            "gcePersistentDisk": {"pdName": volume.gce_persistent_disk.pd_name}
            if volume.gce_persistent_disk
            else {},
            "awsElasticBlockStore": {"volumeID": volume.aws_elastic_block_store.volume_id}
            if volume.aws_elastic_block_store
            else {},
            "cinder": {"volumeID": volume.cinder.volume_id} if volume.cinder else {},
            "azureFile": {
                "secretName": volume.azure_file.secret_name,
                "shareName": volume.azure_file.share_name,
            }
            if volume.azure_file
            else {},
            "vsphereVolume": {"volumePath": volume.vsphere_volume.volume_path}
            if volume.vsphere_volume
            else {},
            "azureDisk": {
                "diskName": volume.azure_disk.disk_name,
                "diskURI": volume.azure_disk.disk_uri,
            }
            if volume.azure_disk
            else {},
            "portworxVolume": {"volumeID": volume.portworx_volume.volume_id}
            if volume.portworx_volume
            else {},
        }
        _required(problems, path, **required.get(source, {}))
        monitors = (
            volume.rbd.monitors if volume.rbd else volume.cephfs.monitors if volume.cephfs else None
        )
        if monitors is not None and not monitors:
            problems.required(f"{path}.monitors")


def _validate_iqn(value: str, path: str, problems: Problems) -> None:
    if not value.startswith(("iqn", "eui", "naa")):
        problems.invalid(path, value, "must be valid format starting with iqn, eui, or naa")
        return
    pattern = {"iqn": _IQN, "eui": _EUI, "naa": _NAA}[value[:3]]
    if pattern.fullmatch(value) is None:
        problems.invalid(path, value, "must be valid format")
