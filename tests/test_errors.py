"""The error hierarchy: Kubernetes reasons, gRPC codes, etcd texts, and Python base classes."""

from __future__ import annotations

import pytest

from kcore import errors


@pytest.mark.parametrize(
    ("cls", "text", "grpc_code"),
    [
        (errors.CompactedError, "mvcc: required revision has been compacted", "OUT_OF_RANGE"),
        (
            errors.FutureRevisionError,
            "mvcc: required revision is a future revision",
            "OUT_OF_RANGE",
        ),
        (
            errors.DuplicateKeyError,
            "etcdserver: duplicate key given in txn request",
            "INVALID_ARGUMENT",
        ),
        (
            errors.TooManyOpsError,
            "etcdserver: too many operations in txn request",
            "INVALID_ARGUMENT",
        ),
        (errors.LeaseNotFoundError, "etcdserver: requested lease not found", "NOT_FOUND"),
        (errors.KeyNotFoundError, "etcdserver: key not found", "INVALID_ARGUMENT"),
        (errors.ValueProvidedError, "etcdserver: value is provided", "INVALID_ARGUMENT"),
        (errors.LeaseProvidedError, "etcdserver: lease is provided", "INVALID_ARGUMENT"),
        (errors.KeyNotProvidedError, "etcdserver: key is not provided", "INVALID_ARGUMENT"),
        (errors.LeaseExistsError, "etcdserver: lease already exists", "FAILED_PRECONDITION"),
        (errors.LeaseTTLTooLargeError, "etcdserver: too large lease TTL", "OUT_OF_RANGE"),
    ],
)
def test_store_errors_carry_etcds_text_and_code(
    cls: type[errors.StoreError], text: str, grpc_code: str
) -> None:
    err = cls()
    assert str(err) == text
    assert err.grpc_code == grpc_code
    assert isinstance(err, errors.KcoreError)


def test_kubernetes_reasons_and_python_bases() -> None:
    assert errors.CompactedError().reason == "Expired"
    assert errors.CompactedError().code == 410
    assert isinstance(errors.CompactedError(), errors.GoneError)
    assert errors.LeaseNotFoundError().reason == "NotFound"
    assert isinstance(errors.LeaseExistsError(), errors.ConflictError)
    bad_type = errors.InvalidTypeError("key must be bytes")
    assert isinstance(bad_type, TypeError)
    assert isinstance(bad_type, ValueError)
    assert bad_type.reason == "BadRequest"
    invalid = errors.InvalidError(
        "Pod is invalid", [errors.FieldError("spec.containers[0].image", "Required value")]
    )
    assert invalid.code == 422
    assert str(invalid.causes[0]) == "spec.containers[0].image: Required value"
    assert errors.CompactedError(7).compact_revision == 7


def test_grpc_texts_are_what_etcds_server_sends() -> None:
    assert (
        errors.CompactedError.GRPC_TEXT == "etcdserver: mvcc: required revision has been compacted"
    )
    assert errors.FutureRevisionError.GRPC_TEXT == (
        "etcdserver: mvcc: required revision is a future revision"
    )
    assert errors.LeaseNotFoundError.GRPC_TEXT == "etcdserver: requested lease not found"
