"""One error hierarchy for all of kcore.

Every layer raises from here so that a caller can catch by meaning (``NotFoundError``) whatever
produced it (the memory store, a real etcd, the API layer). Each class carries the two mappings
the outside world knows it by:

* ``reason`` / ``code`` — the Kubernetes ``Status`` reason and HTTP code (NotFound 404,
  Conflict 409, Gone 410, ...), used by the API layer;
* ``grpc_code`` — the gRPC status code name etcd answers with (``OUT_OF_RANGE``,
  ``INVALID_ARGUMENT``, ...), used by the etcd-API server and the etcd client.

Store errors keep etcd's exact message texts (``ETCD_TEXT``), because they surface unchanged
through kcore's etcd-API server and etcdctl prints them. Argument errors name the argument and
say what to do; they subclass ``TypeError``/``ValueError`` too, so plain Python code that
catches those keeps working.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "CompactedError",
    "ConflictError",
    "DataDirError",
    "DecodeError",
    "DuplicateKeyError",
    "FieldError",
    "ForbiddenError",
    "FutureRevisionError",
    "GoneError",
    "InvalidArgumentError",
    "InvalidError",
    "InvalidSortOptionError",
    "InvalidTypeError",
    "KcoreError",
    "KeyNotFoundError",
    "KeyNotProvidedError",
    "LeaseExistsError",
    "LeaseNotFoundError",
    "LeaseProvidedError",
    "LeaseTTLTooLargeError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PeerError",
    "RequestTooLargeError",
    "ServerStoppedError",
    "StorageFailedError",
    "StoreError",
    "TimeoutError",
    "TooManyOpsError",
    "UnavailableError",
    "UnimplementedError",
    "ValueProvidedError",
]


class KcoreError(Exception):
    """Base of every error kcore raises on purpose."""

    reason: str = "InternalError"
    code: int = 500
    grpc_code: str = "UNKNOWN"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- Kubernetes status reasons -------------------------------------------------------------


class NotFoundError(KcoreError):
    reason = "NotFound"
    code = 404
    grpc_code = "NOT_FOUND"


class AlreadyExistsError(KcoreError):
    reason = "AlreadyExists"
    code = 409
    grpc_code = "ALREADY_EXISTS"


class ConflictError(KcoreError):
    reason = "Conflict"
    code = 409
    grpc_code = "FAILED_PRECONDITION"


class ForbiddenError(KcoreError):
    reason = "Forbidden"
    code = 403
    grpc_code = "PERMISSION_DENIED"


class GoneError(KcoreError):
    """What was asked for existed once but is gone (Kubernetes answers 410 Expired/Gone)."""

    reason = "Expired"
    code = 410
    grpc_code = "OUT_OF_RANGE"


class TimeoutError(KcoreError):
    reason = "Timeout"
    code = 504
    grpc_code = "DEADLINE_EXCEEDED"


class UnavailableError(KcoreError):
    reason = "ServiceUnavailable"
    code = 503
    grpc_code = "UNAVAILABLE"


class FieldError:
    """One invalid field: its path (``spec.containers[0].image``), what was wrong, the value."""

    __slots__ = ("detail", "path", "reason", "value")

    def __init__(
        self, path: str, detail: str, value: object = None, reason: str = "FieldValueInvalid"
    ) -> None:
        self.path = path
        self.detail = detail
        self.value = value
        # Kubernetes' StatusCause type: FieldValueRequired, FieldValueInvalid,
        # FieldValueNotSupported, FieldValueDuplicate, FieldValueTooLong, FieldValueForbidden...
        self.reason = reason

    def __repr__(self) -> str:
        return f"FieldError({self.path!r}, {self.detail!r})"

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


class InvalidError(KcoreError, ValueError):
    """An object failed validation; ``causes`` lists every bad field with its path."""

    reason = "Invalid"
    code = 422
    grpc_code = "INVALID_ARGUMENT"

    def __init__(self, message: str, causes: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.causes = list(causes or [])


class DecodeError(InvalidError):
    """A document could not be decoded into an object: wrong types, unknown fields, bad YAML.

    Kubernetes answers these with BadRequest (400); ``causes`` lists every problem with its
    field path, as for :class:`InvalidError`.
    """

    reason = "BadRequest"
    code = 400


class InvalidArgumentError(KcoreError, ValueError):
    """A call was made with a bad argument; the message names the argument and the fix."""

    reason = "BadRequest"
    code = 400
    grpc_code = "INVALID_ARGUMENT"


class InvalidTypeError(InvalidArgumentError, TypeError):
    """An argument has the wrong type (``str`` where the store takes ``bytes``, say)."""


class OutcomeUnknownError(KcoreError):
    """A write may or may not have been applied (the connection broke after sending it).

    Never retried blindly: the caller must read back to find out.
    """

    reason = "InternalError"
    code = 500
    grpc_code = "UNKNOWN"


# --- store (etcd) errors: exact etcd texts ---------------------------------------------------


class StoreError(KcoreError):
    """An error with etcd's own text; ``ETCD_TEXT`` is what etcd says, word for word.

    ``GRPC_TEXT`` is the gRPC status message etcd's server sends for it (and etcdctl prints):
    the same text, except that storage-level ("mvcc: ...") errors gain an "etcdserver: "
    prefix on the wire.
    """

    ETCD_TEXT = ""
    GRPC_TEXT = ""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.ETCD_TEXT)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "GRPC_TEXT" not in cls.__dict__:
            prefix = "etcdserver: " if cls.ETCD_TEXT.startswith("mvcc: ") else ""
            cls.GRPC_TEXT = prefix + cls.ETCD_TEXT


class CompactedError(StoreError, GoneError):
    """The revision asked for is older than the last compaction; re-list from the latest."""

    ETCD_TEXT = "mvcc: required revision has been compacted"
    grpc_code = "OUT_OF_RANGE"

    def __init__(self, compact_revision: int = 0, message: str | None = None) -> None:
        super().__init__(message)
        self.compact_revision = compact_revision


class FutureRevisionError(StoreError, TimeoutError):
    """The revision asked for has not happened yet."""

    ETCD_TEXT = "mvcc: required revision is a future revision"
    reason = "Timeout"
    code = 504
    grpc_code = "OUT_OF_RANGE"


class KeyNotProvidedError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: key is not provided"
    grpc_code = "INVALID_ARGUMENT"


class DuplicateKeyError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: duplicate key given in txn request"
    grpc_code = "INVALID_ARGUMENT"


class TooManyOpsError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: too many operations in txn request"
    grpc_code = "INVALID_ARGUMENT"


class KeyNotFoundError(StoreError, InvalidArgumentError):
    """``ignore_value``/``ignore_lease`` on a key that does not exist."""

    ETCD_TEXT = "etcdserver: key not found"
    grpc_code = "INVALID_ARGUMENT"


class ValueProvidedError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: value is provided"
    grpc_code = "INVALID_ARGUMENT"


class LeaseProvidedError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: lease is provided"
    grpc_code = "INVALID_ARGUMENT"


class InvalidSortOptionError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: invalid sort option"
    grpc_code = "INVALID_ARGUMENT"


class LeaseNotFoundError(StoreError, NotFoundError):
    ETCD_TEXT = "etcdserver: requested lease not found"
    grpc_code = "NOT_FOUND"


class LeaseExistsError(StoreError, ConflictError):
    ETCD_TEXT = "etcdserver: lease already exists"
    grpc_code = "FAILED_PRECONDITION"


class LeaseTTLTooLargeError(StoreError, InvalidArgumentError):
    ETCD_TEXT = "etcdserver: too large lease TTL"
    grpc_code = "OUT_OF_RANGE"


class RequestTooLargeError(StoreError, InvalidArgumentError):
    """A write bigger than the server's request size limit (etcd's --max-request-bytes)."""

    ETCD_TEXT = "etcdserver: request is too large"
    grpc_code = "INVALID_ARGUMENT"


class ServerStoppedError(StoreError, UnavailableError):
    """The server is shutting down; streams still open end with this."""

    ETCD_TEXT = "etcdserver: server stopped"
    grpc_code = "UNAVAILABLE"


class StorageFailedError(StoreError, UnavailableError):
    """The disk failed under the durable store; it refuses writes it cannot persist."""

    ETCD_TEXT = "kcore: storage failed: the store refuses writes it cannot persist"
    grpc_code = "UNAVAILABLE"


class DataDirError(KcoreError):
    """A data directory the durable store cannot start from (damaged, newer, locked)."""


# --- gRPC plugin peers (CRI, CSI) ----------------------------------------------------------


class PeerError(KcoreError):
    """A plugin peer answered with a gRPC status no more specific class stands for.

    ``grpc_code`` is set per instance (``ABORTED``, ``OUT_OF_RANGE``, ``RESOURCE_EXHAUSTED``...),
    so a server raising it answers with that code and a client receiving it keeps it.
    """

    reason = "InternalError"
    code = 500

    def __init__(self, message: str, grpc_code: str = "UNKNOWN") -> None:
        super().__init__(message)
        self.grpc_code = grpc_code


class UnimplementedError(KcoreError):
    """The peer does not implement the method (gRPC UNIMPLEMENTED)."""

    reason = "MethodNotAllowed"
    code = 405
    grpc_code = "UNIMPLEMENTED"
