"""PersistentVolume and PersistentVolumeClaim: defaults, validation, exported claim-spec helpers."""

from __future__ import annotations

from typing import Any

import pytest

from kcore import errors
from kcore.objects import apply_defaults, from_dict, problems_of, to_dict
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.core_storage import (
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeClaimSpec,
    default_persistent_volume_claim_spec,
    validate_persistent_volume_claim_spec,
)
from kcore.objects.registry import info_for
from kcore.objects.validation import Problems

HOST_PATH_PV: dict[str, Any] = {
    "capacity": {"storage": "1Gi"},
    "accessModes": ["ReadWriteOnce"],
    "hostPath": {"path": "/data"},
}
CLAIM: dict[str, Any] = {
    "accessModes": ["ReadWriteOnce"],
    "resources": {"requests": {"storage": "1Gi"}},
}
AFFINITY: dict[str, Any] = {
    "required": {
        "nodeSelectorTerms": [
            {
                "matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}
                ]
            }
        ]
    }
}


def pv(spec: dict[str, Any], status: dict[str, Any] | None = None) -> PersistentVolume:
    data: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-1"},
        "spec": spec,
    }
    if status is not None:
        data["status"] = status
    return from_dict(data)


def pvc(spec: dict[str, Any]) -> PersistentVolumeClaim:
    return from_dict(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "shop"},
            "spec": spec,
        }
    )


def has_problem(obj: Any, path: str, text: str) -> bool:
    return any(c.path == path and text in c.detail for c in problems_of(obj))


def problems(obj: Any) -> list[str]:
    return [str(c) for c in problems_of(obj)]


def test_registry_entries() -> None:
    volume, claim = info_for(PersistentVolume), info_for(PersistentVolumeClaim)
    assert (volume.plural, volume.namespaced, volume.short_names) == (
        "persistentvolumes",
        False,
        ("pv",),
    )
    assert (claim.plural, claim.namespaced, claim.short_names) == (
        "persistentvolumeclaims",
        True,
        ("pvc",),
    )


# --- PersistentVolume defaults ---------------------------------------------------------------


def test_persistent_volume_defaults() -> None:
    defaulted = apply_defaults(pv(HOST_PATH_PV))
    assert defaulted.spec.persistent_volume_reclaim_policy == "Retain"
    assert defaulted.spec.volume_mode == "Filesystem"
    assert defaulted.status.phase == "Pending"
    # An unset hostPath type becomes "" and is then written, as kube-apiserver does.
    assert to_dict(defaulted)["spec"]["hostPath"] == {"path": "/data", "type": ""}
    assert apply_defaults(defaulted) is defaulted


def test_persistent_volume_defaults_keep_explicit_values() -> None:
    explicit = pv(
        {
            **HOST_PATH_PV,
            "hostPath": {"path": "/data", "type": "Directory"},
            "persistentVolumeReclaimPolicy": "Delete",
            "volumeMode": "Block",
        },
        {"phase": "Bound"},
    )
    assert apply_defaults(explicit) is explicit


# --- PersistentVolume validation -------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        HOST_PATH_PV,
        {**HOST_PATH_PV, "hostPath": {"path": "/data", "type": "DirectoryOrCreate"}},
        {
            "capacity": {"storage": "100Gi"},
            "accessModes": ["ReadWriteOncePod"],
            "local": {"path": "/mnt/disks/ssd1", "fsType": "xfs"},
            "nodeAffinity": AFFINITY,
        },
        {
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
            "nfs": {"server": "nfs.example.com", "path": "/exports"},
            "mountOptions": ["nfsvers=4.1"],
        },
        {
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteOnce"],
            "csi": {
                "driver": "ebs.csi.aws.com",
                "volumeHandle": "vol-1",
                "nodePublishSecretRef": {"name": "creds", "namespace": "kube-system"},
            },
            "volumeAttributesClassName": "gold",
        },
    ],
)
def test_valid_persistent_volumes(spec: dict[str, Any]) -> None:
    assert problems(pv(spec)) == []
    assert problems(apply_defaults(pv(spec))) == []


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({**HOST_PATH_PV, "accessModes": []}, "spec.accessModes", "Required value"),
        ({**HOST_PATH_PV, "accessModes": ["RWO"]}, "spec.accessModes", 'Unsupported value: "RWO"'),
        (
            {**HOST_PATH_PV, "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"]},
            "spec.accessModes",
            "may not use ReadWriteOncePod with other access modes",
        ),
        ({**HOST_PATH_PV, "capacity": {}}, "spec.capacity", "Required value"),
        (
            {**HOST_PATH_PV, "capacity": {"storage": "1Gi", "iops": "300"}},
            "spec.capacity",
            'supported values: "storage"',
        ),
        (
            {**HOST_PATH_PV, "capacity": {"storage": "-1"}},
            "spec.capacity[storage]",
            "must be greater than zero",
        ),
        (
            {**HOST_PATH_PV, "persistentVolumeReclaimPolicy": "Archive"},
            "spec.persistentVolumeReclaimPolicy",
            '"Archive"',
        ),
        (
            {**HOST_PATH_PV, "hostPath": {"path": "/"}, "persistentVolumeReclaimPolicy": "Recycle"},
            "spec.persistentVolumeReclaimPolicy",
            "may not be 'recycle' for a hostPath mount of '/'",
        ),
        ({**HOST_PATH_PV, "hostPath": {"path": ""}}, "spec.hostPath.path", "Required value"),
        ({**HOST_PATH_PV, "hostPath": {"path": "/a/../b"}}, "spec.hostPath.path", "'..'"),
        (
            {**HOST_PATH_PV, "csi": {"driver": "d", "volumeHandle": "h"}},
            "spec.csi",
            "may not specify more than 1 volume type",
        ),
        (
            {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
            "spec",
            "must specify a volume type",
        ),
        (
            {**HOST_PATH_PV, "hostPath": None, "csi": {"driver": "D" * 64, "volumeHandle": "h"}},
            "spec.csi.driver",
            "may not be more than 63 characters",
        ),
        (
            {**HOST_PATH_PV, "hostPath": None, "csi": {"driver": "a_b", "volumeHandle": "h"}},
            "spec.csi.driver",
            "RFC 1123 subdomain",
        ),
        (
            {
                **HOST_PATH_PV,
                "hostPath": None,
                "csi": {
                    "driver": "d",
                    "volumeHandle": "h",
                    "nodeExpandSecretRef": {"name": "s", "namespace": "Bad_NS"},
                },
            },
            "spec.csi.nodeExpandSecretRef.namespace",
            "RFC 1123 label",
        ),
        ({**HOST_PATH_PV, "volumeMode": "Raw"}, "spec.volumeMode", '"Raw"'),
        ({**HOST_PATH_PV, "storageClassName": "A"}, "spec.storageClassName", "RFC 1123"),
        (
            {**HOST_PATH_PV, "volumeAttributesClassName": "gold"},
            "spec.csi",
            "has to be specified when using volumeAttributesClassName",
        ),
        (
            {**HOST_PATH_PV, "volumeAttributesClassName": ""},
            "spec.volumeAttributesClassName",
            "an empty string is disallowed",
        ),
        (
            {**HOST_PATH_PV, "nodeAffinity": {}},
            "spec.nodeAffinity.required",
            "must specify required node constraints",
        ),
        (
            {**HOST_PATH_PV, "hostPath": None, "local": {"path": "/mnt/x"}},
            "spec.nodeAffinity",
            "Local volume requires node affinity",
        ),
        (
            {**HOST_PATH_PV, "hostPath": None, "nfs": {"server": "s", "path": "exports"}},
            "spec.nfs.path",
            "must be an absolute path",
        ),
    ],
)
def test_invalid_persistent_volumes(spec: dict[str, Any], path: str, text: str) -> None:
    volume = pv(spec)
    assert has_problem(volume, path, text), problems(volume)


def test_persistent_volume_phase_must_be_known() -> None:
    assert has_problem(pv(HOST_PATH_PV, {"phase": "Lost"}), "status.phase", '"Lost"')


def test_in_tree_cloud_sources_are_not_declared() -> None:
    with pytest.raises(errors.DecodeError, match="gcePersistentDisk"):
        pv({**HOST_PATH_PV, "gcePersistentDisk": {"pdName": "disk-1"}})


# --- node affinity (the pod's node-selector rules, at the volume's paths) --------------------

AT = "spec.nodeAffinity.required.nodeSelectorTerms"


@pytest.mark.parametrize(
    ("required", "path", "text"),
    [
        ({}, AT, "must have at least one node selector term"),
        (
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "Gt"}]}]},
            f"{AT}[0].matchExpressions[0].values",
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        ),
        (
            {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "k", "operator": "In", "values": ["a b"]}]}
                ]
            },
            f"{AT}[0].matchExpressions[0].values[0]",
            "a valid label must be",
        ),
        (
            {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": []}]}
                ]
            },
            f"{AT}[0].matchFields[0].values",
            "must be only one value",
        ),
    ],
)
def test_node_affinity_rules(required: dict[str, Any], path: str, text: str) -> None:
    volume = pv({**HOST_PATH_PV, "nodeAffinity": {"required": required}})
    assert has_problem(volume, path, text), problems(volume)


def test_valid_node_affinity_with_fields_and_numbers() -> None:
    required = {
        "nodeSelectorTerms": [
            {
                "matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}],
                "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
            }
        ]
    }
    assert problems(pv({**HOST_PATH_PV, "nodeAffinity": {"required": required}})) == []


# --- PersistentVolumeClaim -------------------------------------------------------------------


def test_claim_defaults() -> None:
    defaulted = apply_defaults(pvc(CLAIM))
    assert defaulted.spec.volume_mode == "Filesystem"
    assert defaulted.status.phase == "Pending"
    assert apply_defaults(defaulted) is defaulted
    block = pvc({**CLAIM, "volumeMode": "Block"})
    assert apply_defaults(block).spec.volume_mode == "Block"


def test_claim_spec_helpers_work_at_any_path() -> None:
    spec = from_dict({"resources": {"requests": {"storage": "1Gi"}}}, PersistentVolumeClaimSpec)
    found = Problems()
    validate_persistent_volume_claim_spec(spec, "spec.volumeClaimTemplates[0].spec", found)
    assert [c.path for c in found.causes] == ["spec.volumeClaimTemplates[0].spec.accessModes"]
    assert default_persistent_volume_claim_spec(spec).volume_mode == "Filesystem"


@pytest.mark.parametrize(
    "spec",
    [
        CLAIM,
        {**CLAIM, "storageClassName": ""},  # "" asks for no class (static binding)
        {**CLAIM, "selector": {"matchLabels": {"release": "stable"}}},
        {
            **CLAIM,
            "dataSource": {"kind": "PersistentVolumeClaim", "name": "src"},
            "dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "src"},
        },
        {
            **CLAIM,
            "dataSourceRef": {
                "apiGroup": "snapshot.storage.k8s.io",
                "kind": "VolumeSnapshot",
                "name": "snap",
                "namespace": "other",
            },
        },
    ],
)
def test_valid_claims(spec: dict[str, Any]) -> None:
    assert problems(pvc(spec)) == []
    assert problems(apply_defaults(pvc(spec))) == []


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        ({**CLAIM, "accessModes": []}, "spec.accessModes", "at least 1 access mode is required"),
        (
            {**CLAIM, "accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]},
            "spec.accessModes",
            "may not use ReadWriteOncePod",
        ),
        ({**CLAIM, "resources": {}}, "spec.resources[storage]", "Required value"),
        (
            {**CLAIM, "resources": {"requests": {"storage": "0"}}},
            "spec.resources[storage]",
            "must be greater than zero",
        ),
        ({**CLAIM, "volumeMode": "Raw"}, "spec.volumeMode", '"Raw"'),
        ({**CLAIM, "storageClassName": "Fast"}, "spec.storageClassName", "RFC 1123 subdomain"),
        (
            {**CLAIM, "selector": {"matchLabels": {"a b": "c"}}},
            "spec.selector.matchLabels",
            'Invalid value: "a b"',
        ),
        (
            {**CLAIM, "selector": {"matchExpressions": [{"key": "k", "operator": "In"}]}},
            "spec.selector.matchExpressions[0].values",
            "Required value",
        ),
        (
            {**CLAIM, "dataSource": {"kind": "Thing", "name": "x"}},
            "spec.dataSource",
            "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
        ),
        (
            {**CLAIM, "dataSource": {"apiGroup": "a", "kind": "", "name": ""}},
            "spec.dataSource.kind",
            "Required value",
        ),
        (
            {
                **CLAIM,
                "dataSource": {"kind": "PersistentVolumeClaim", "name": "a"},
                "dataSourceRef": {"kind": "PersistentVolumeClaim", "name": "b"},
            },
            "spec",
            "must match dataSourceRef",
        ),
        (
            {
                **CLAIM,
                "dataSource": {"apiGroup": "g.io", "kind": "K", "name": "a"},
                "dataSourceRef": {"apiGroup": "g.io", "kind": "K", "name": "a", "namespace": "o"},
            },
            "spec",
            "may not be specified when dataSourceRef.namespace is specified",
        ),
        (
            {
                **CLAIM,
                "dataSourceRef": {"apiGroup": "g.io", "kind": "K", "name": "a", "namespace": "O"},
            },
            "spec.dataSourceRef.namespace",
            "RFC 1123 label",
        ),
    ],
)
def test_invalid_claims(spec: dict[str, Any], path: str, text: str) -> None:
    claim = pvc(spec)
    assert has_problem(claim, path, text), problems(claim)


def test_typed_reference_api_group_is_written_only_when_set() -> None:
    claim = pvc({**CLAIM, "dataSource": {"kind": "PersistentVolumeClaim", "name": "src"}})
    assert to_dict(claim)["spec"]["dataSource"] == {"kind": "PersistentVolumeClaim", "name": "src"}
    assert claim.spec.data_source is not None and claim.spec.data_source.api_group is None


# --- field selectors -------------------------------------------------------------------------


def test_volumes_and_claims_accept_the_legacy_name_field() -> None:
    assert fields_of(pv(HOST_PATH_PV), ["name"]) == {"name": "pv-1"}
    assert fields_of(pvc(CLAIM), ["name", "metadata.namespace"]) == {
        "name": "data",
        "metadata.namespace": "shop",
    }
