"""Lease: MicroTime on the wire, no defaults, and Kubernetes' validation rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kcore.objects import (
    ObjectMeta,
    apply_defaults,
    evolve,
    from_dict,
    info_for,
    problems_of,
    to_dict,
)
from kcore.objects.fieldsets import fields_of
from kcore.objects.kinds.coordination import Lease, LeaseSpec

META = ObjectMeta(name="lock", namespace="kube-system")


def _problems(spec: LeaseSpec) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in problems_of(Lease(metadata=META, spec=spec))]


def test_registered_namespaced_without_status() -> None:
    info = info_for(Lease)
    assert (info.group, info.version, info.plural, info.namespaced, info.has_status) == (
        "coordination.k8s.io",
        "v1",
        "leases",
        True,
        False,
    )


def test_times_are_written_with_microseconds() -> None:
    renewed = datetime(2024, 5, 1, 12, 0, 3, 512345, tzinfo=UTC)
    acquired = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    lease = Lease(
        metadata=META,
        spec=LeaseSpec(holder_identity="a", acquire_time=acquired, renew_time=renewed),
    )
    spec = to_dict(lease)["spec"]
    assert spec["renewTime"] == "2024-05-01T12:00:03.512345Z"
    assert spec["acquireTime"] == "2024-05-01T12:00:00.000000Z"
    assert from_dict(to_dict(lease)) == lease


def test_microtime_reads_other_offsets_and_precisions() -> None:
    document: dict[str, Any] = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "l", "namespace": "n"},
        "spec": {"renewTime": "2024-05-01T14:00:03.5+02:00"},
    }
    lease = from_dict(document)
    assert to_dict(lease)["spec"]["renewTime"] == "2024-05-01T12:00:03.500000Z"


def test_empty_spec_is_written_as_go_writes_it() -> None:
    assert to_dict(Lease(metadata=META))["spec"] == {}


def test_zero_values_of_pointer_fields_are_kept() -> None:
    spec = to_dict(Lease(metadata=META, spec=LeaseSpec(holder_identity="", lease_transitions=0)))[
        "spec"
    ]
    assert spec == {"holderIdentity": "", "leaseTransitions": 0}


def test_no_defaults_are_applied() -> None:
    lease = Lease(metadata=META)
    assert apply_defaults(lease) is lease


def test_only_metadata_fields_are_selectable() -> None:
    assert fields_of(Lease(metadata=META)) == {
        "metadata.name": "lock",
        "metadata.namespace": "kube-system",
    }


@pytest.mark.parametrize(
    "spec",
    [
        LeaseSpec(),
        LeaseSpec(holder_identity="node-1", lease_duration_seconds=1, lease_transitions=0),
        LeaseSpec(strategy="OldestEmulationVersion", preferred_holder="cp-1"),
        LeaseSpec(strategy="example.com/fastest"),
        LeaseSpec(preferred_holder=""),  # empty is as good as absent
    ],
)
def test_valid_specs(spec: LeaseSpec) -> None:
    assert _problems(spec) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            LeaseSpec(lease_duration_seconds=0),
            [("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0")],
        ),
        (
            LeaseSpec(lease_duration_seconds=-5),
            [("spec.leaseDurationSeconds", "Invalid value: -5: must be greater than 0")],
        ),
        (
            LeaseSpec(lease_transitions=-1),
            [("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0")],
        ),
        (
            LeaseSpec(strategy="Newest"),
            [
                (
                    "spec.strategy",
                    'Unsupported value: "Newest": supported values: "OldestEmulationVersion"',
                )
            ],
        ),
        (
            LeaseSpec(strategy=""),
            [
                (
                    "spec.strategy",
                    'Unsupported value: "": supported values: "OldestEmulationVersion"',
                )
            ],
        ),
        (
            LeaseSpec(preferred_holder="cp-2"),
            [("spec.preferredHolder", "Forbidden: may only be specified if `strategy` is defined")],
        ),
    ],
)
def test_invalid_specs(spec: LeaseSpec, expected: list[tuple[str, str]]) -> None:
    assert _problems(spec) == expected


def test_prefixed_strategy_must_be_a_qualified_name() -> None:
    found = _problems(LeaseSpec(strategy="example.com/no spaces"))
    assert [path for path, _ in found] == ["spec.strategy"]
    assert "name part must consist of alphanumeric characters" in found[0][1]
    two_slashes = _problems(LeaseSpec(strategy="a/b/c"))
    assert [path for path, _ in two_slashes] == ["spec.strategy"]


def test_renewal_is_an_evolve_of_the_spec() -> None:
    lease = Lease(metadata=META, spec=LeaseSpec(holder_identity="a", lease_duration_seconds=15))
    now = datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=UTC)
    renewed = evolve(lease, spec__renew_time=now)
    assert renewed.spec.renew_time == now and lease.spec.renew_time is None
    assert renewed.spec.holder_identity == "a"
