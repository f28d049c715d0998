"""StorageClass: wire shape, defaults and validation with Kubernetes' rules."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.objects import ObjectMeta, apply_defaults, from_dict, info_for, problems_of, to_dict
from kcore.objects.fieldsets import selectable_fields
from kcore.objects.kinds.storage import (
    MAX_PARAMETERS,
    MAX_PARAMETERS_SIZE,
    StorageClass,
    TopologySelectorLabelRequirement,
    TopologySelectorTerm,
)

META = ObjectMeta(name="fast")


def _sc(**fields: Any) -> StorageClass:
    fields.setdefault("provisioner", "example.com/disks")
    return StorageClass(metadata=META, **fields)


def _problems(obj: Any) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in problems_of(obj)]


def _term(*requirements: tuple[str, tuple[str, ...]]) -> TopologySelectorTerm:
    return TopologySelectorTerm(
        match_label_expressions=tuple(
            TopologySelectorLabelRequirement(key=key, values=values) for key, values in requirements
        )
    )


def test_registered_cluster_scoped_without_status() -> None:
    info = info_for(StorageClass)
    assert (info.group, info.plural, info.namespaced, info.has_status) == (
        "storage.k8s.io",
        "storageclasses",
        False,
        False,
    )
    assert info.short_names == ("sc",)
    assert selectable_fields(StorageClass) == ["metadata.name", "metadata.namespace"]


def test_fields_are_top_level_and_provisioner_always_written() -> None:
    encoded = to_dict(StorageClass(metadata=META))
    assert encoded == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "",
    }
    full = _sc(
        parameters={"type": "gp3"},
        reclaim_policy="Retain",
        mount_options=("noatime",),
        allow_volume_expansion=False,
        volume_binding_mode="WaitForFirstConsumer",
        allowed_topologies=(_term(("zone", ("a",))),),
    )
    assert to_dict(full) == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fast"},
        "provisioner": "example.com/disks",
        "parameters": {"type": "gp3"},
        "reclaimPolicy": "Retain",
        "mountOptions": ["noatime"],
        "allowVolumeExpansion": False,  # a pointer: false is written
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["a"]}]}],
    }
    assert from_dict(to_dict(full)) == full


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("Delete", "Immediate")),
        ({"reclaim_policy": "Retain"}, ("Retain", "Immediate")),
        ({"volume_binding_mode": "WaitForFirstConsumer"}, ("Delete", "WaitForFirstConsumer")),
        (
            {"reclaim_policy": "Retain", "volume_binding_mode": "WaitForFirstConsumer"},
            ("Retain", "WaitForFirstConsumer"),
        ),
    ],
)
def test_defaults(given: dict[str, str], expected: tuple[str, str]) -> None:
    defaulted = apply_defaults(_sc(**given))
    assert (defaulted.reclaim_policy, defaulted.volume_binding_mode) == expected
    assert apply_defaults(defaulted) is defaulted


def test_defaults_leave_everything_else_alone() -> None:
    sc = _sc(parameters={"a": "b"}, allow_volume_expansion=None)
    defaulted = apply_defaults(sc)
    assert defaulted.allow_volume_expansion is None
    assert defaulted.parameters == {"a": "b"}


@pytest.mark.parametrize(
    "provisioner",
    ["kubernetes.io/aws-ebs", "ebs.csi.aws.com", "Example.COM/Disks", "rancher.io/local-path"],
)
def test_valid_provisioners(provisioner: str) -> None:
    assert _problems(_sc(provisioner=provisioner)) == []


@pytest.mark.parametrize(
    ("fields", "path", "text"),
    [
        ({"provisioner": ""}, "provisioner", "Required value"),
        ({"provisioner": "a b"}, "provisioner", "name part must consist of alphanumeric"),
        ({"provisioner": "/disks"}, "provisioner", "prefix part must be non-empty"),
        ({"reclaim_policy": "Recycle"}, "reclaimPolicy", 'supported values: "Delete", "Retain"'),
        (
            {"volume_binding_mode": "Lazy"},
            "volumeBindingMode",
            'Unsupported value: "Lazy": supported values: "Immediate", "WaitForFirstConsumer"',
        ),
        ({"parameters": {"": "x"}}, "parameters", "field can not be empty."),
    ],
)
def test_field_rules(fields: dict[str, Any], path: str, text: str) -> None:
    found = _problems(_sc(**fields))
    assert len(found) == 1 and found[0][0] == path and text in found[0][1], found


def test_parameter_count_limit() -> None:
    at_limit = {f"k{i}": "v" for i in range(MAX_PARAMETERS)}
    assert _problems(_sc(parameters=at_limit)) == []
    over = {**at_limit, "one-more": "v"}
    found = problems_of(_sc(parameters=over))
    assert [(c.path, c.reason) for c in found] == [("parameters", "FieldValueTooLong")]
    assert str(MAX_PARAMETERS) in found[0].detail


def test_parameter_size_limit_counts_keys_and_values_in_bytes() -> None:
    # One key of 1 byte plus a value filling the rest: exactly at the limit.
    assert _problems(_sc(parameters={"k": "v" * (MAX_PARAMETERS_SIZE - 1)})) == []
    found = problems_of(_sc(parameters={"k": "v" * MAX_PARAMETERS_SIZE}))
    assert [(c.path, c.reason) for c in found] == [("parameters", "FieldValueTooLong")]
    # Multi-byte characters count by their UTF-8 length, as Go's len() does.
    wide = "é" * (MAX_PARAMETERS_SIZE // 2)  # 2 bytes each; with the key, one byte over
    assert len(problems_of(_sc(parameters={"k": wide}))) == 1


def test_allowed_topologies_valid() -> None:
    terms = (
        _term(("topology.kubernetes.io/zone", ("a", "b")), ("example.com/rack", ("r1",))),
        _term(("topology.kubernetes.io/zone", ("c",))),
    )
    assert _problems(_sc(allowed_topologies=terms)) == []


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (
            (_term(("zone", ())),),
            [("allowedTopologies[0].matchLabelExpressions[0].values", "Required value")],
        ),
        (
            (_term(("zone", ("a", "a"))),),
            [("allowedTopologies[0].matchLabelExpressions[0].values[1]", "Duplicate value")],
        ),
        (
            (_term(("zone", ("a",)), ("zone", ("b",))),),
            [("allowedTopologies[0].matchLabelExpressions[1].key", 'Duplicate value: "zone"')],
        ),
        (
            (_term(("bad key", ("a",))),),
            [("allowedTopologies[0].matchLabelExpressions[0].key", "name part must consist")],
        ),
        # The same requirements in another order are the same term.
        (
            (
                _term(("zone", ("a", "b")), ("rack", ("r",))),
                _term(("rack", ("r",)), ("zone", ("b", "a"))),
            ),
            [("allowedTopologies[1].matchLabelExpressions", 'Duplicate value: ""')],
        ),
        # Kubernetes reports an empty term as a duplicate (see the module notes).
        ((_term(),), [("allowedTopologies[0].matchLabelExpressions", 'Duplicate value: ""')]),
    ],
)
def test_allowed_topologies_rules(
    terms: tuple[TopologySelectorTerm, ...], expected: list[tuple[str, str]]
) -> None:
    found = _problems(_sc(allowed_topologies=terms))
    assert len(found) == len(expected), found
    for (path, detail), (want_path, want_text) in zip(found, expected, strict=True):
        assert path == want_path and want_text in detail


def test_different_values_make_different_terms() -> None:
    terms = (_term(("zone", ("a",))), _term(("zone", ("a", "b"))))
    assert _problems(_sc(allowed_topologies=terms)) == []


def test_cluster_scoped_name_rules() -> None:
    found = _problems(
        StorageClass(metadata=ObjectMeta(name="Fast", namespace="x"), provisioner="a")
    )
    assert [path for path, _ in found] == ["metadata.name", "metadata.namespace"]
