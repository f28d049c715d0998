"""CNI's error format and codes, and the kcore errors a failed plugin call becomes.

A plugin reports failure by exiting non-zero with ``{cniVersion, code, msg, details}`` on
stdout. ``ErrorResult`` is that body (what a plugin prints, what a fake plugin returns);
``ErrorCode`` names the spec's well-known codes (0-99 reserved, 100+ plugin-specific, 999 is
what the reference plugins use for errors without a specific code). ``CniPluginError`` is what
the invoker raises: it names the plugin, its path, the command, the exit status and a truncated
copy of what the plugin printed, so a log line alone says what broke. It is a ``PeerError``
(a plugin is a peer), with a gRPC code chosen from the CNI code so callers that map kcore
errors onward (a CRI server, say) keep the meaning: 11/50/51 are UNAVAILABLE (retry later), 3
is NOT_FOUND, configuration and environment errors are INVALID_ARGUMENT.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence

import attrs

from kcore import errors

__all__ = [
    "GENERIC_PLUGIN_ERROR",
    "CniPluginError",
    "ErrorCode",
    "ErrorResult",
    "IncompatibleVersionError",
    "excerpt",
]

GENERIC_PLUGIN_ERROR = 999
"""The code the reference plugins print for an error that has no more specific code."""


class ErrorCode(enum.IntEnum):
    """The well-known CNI error codes (spec section 5, "Error")."""

    INCOMPATIBLE_VERSION = 1
    UNSUPPORTED_FIELD = 2
    UNKNOWN_CONTAINER = 3
    INVALID_ENVIRONMENT = 4
    IO_FAILURE = 5
    DECODE_FAILURE = 6
    INVALID_NETWORK_CONFIG = 7
    TRY_AGAIN_LATER = 11
    PLUGIN_NOT_AVAILABLE = 50
    PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY = 51

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    ErrorCode.INCOMPATIBLE_VERSION: "incompatible CNI version",
    ErrorCode.UNSUPPORTED_FIELD: "unsupported field in network configuration",
    ErrorCode.UNKNOWN_CONTAINER: "container unknown or does not exist",
    ErrorCode.INVALID_ENVIRONMENT: "invalid environment variables",
    ErrorCode.IO_FAILURE: "I/O failure",
    ErrorCode.DECODE_FAILURE: "failed to decode content",
    ErrorCode.INVALID_NETWORK_CONFIG: "invalid network config",
    ErrorCode.TRY_AGAIN_LATER: "try again later",
    ErrorCode.PLUGIN_NOT_AVAILABLE: "plugin not available",
    ErrorCode.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY: (
        "plugin not available; existing containers may have limited connectivity"
    ),
}

_GRPC_CODES = {
    ErrorCode.INCOMPATIBLE_VERSION: "INVALID_ARGUMENT",
    ErrorCode.UNSUPPORTED_FIELD: "INVALID_ARGUMENT",
    ErrorCode.UNKNOWN_CONTAINER: "NOT_FOUND",
    ErrorCode.INVALID_ENVIRONMENT: "INVALID_ARGUMENT",
    ErrorCode.IO_FAILURE: "UNKNOWN",
    ErrorCode.DECODE_FAILURE: "INVALID_ARGUMENT",
    ErrorCode.INVALID_NETWORK_CONFIG: "INVALID_ARGUMENT",
    ErrorCode.TRY_AGAIN_LATER: "UNAVAILABLE",
    ErrorCode.PLUGIN_NOT_AVAILABLE: "UNAVAILABLE",
    ErrorCode.PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY: "UNAVAILABLE",
}


def describe_code(code: int) -> str:
    """``7 (invalid network config)``, ``120 (plugin-specific)``."""
    try:
        return f"{code} ({ErrorCode(code).description})"
    except ValueError:
        kind = "plugin-specific" if code >= 100 else "reserved, unassigned"
        return f"{code} ({kind})"


@attrs.frozen
class ErrorResult:
    """The JSON a failing plugin prints: ``{cniVersion, code, msg, details}``."""

    code: int
    msg: str
    details: str = ""
    cni_version: str = ""

    @property
    def well_known(self) -> ErrorCode | None:
        """The spec's name for ``code``, or None for plugin-specific codes."""
        try:
            return ErrorCode(self.code)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {}
        if self.cni_version:
            body["cniVersion"] = self.cni_version
        body["code"] = self.code
        body["msg"] = self.msg
        if self.details:
            body["details"] = self.details
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict()).encode()

    @classmethod
    def from_dict(cls, body: Mapping[str, object]) -> ErrorResult:
        """Read an error body; a missing or non-integer ``code`` is refused (ValueError)."""
        code = body.get("code")
        if isinstance(code, bool) or not isinstance(code, int):
            raise errors.InvalidArgumentError(
                f"CNI error body: 'code' must be an integer, got {code!r}"
            )
        msg, details, version = body.get("msg", ""), body.get("details", ""), body.get("cniVersion")
        return cls(
            code=code,
            msg=msg if isinstance(msg, str) else json.dumps(msg),
            details=details if isinstance(details, str) else json.dumps(details),
            cni_version=version if isinstance(version, str) else "",
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ErrorResult:
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise errors.InvalidArgumentError(f"CNI error body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise errors.InvalidArgumentError("CNI error body must be a JSON object")
        return cls.from_dict(body)


def excerpt(data: bytes, limit: int = 400) -> str:
    """What a plugin printed, decoded leniently and cut to ``limit`` characters for messages."""
    text = data.decode("utf-8", errors="replace").strip()
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


class CniPluginError(errors.PeerError):
    """A CNI plugin failed, printed something unreadable, or answered for the wrong spec."""

    def __init__(
        self,
        problem: str,
        *,
        plugin: str,
        command: str,
        path: str = "",
        context: str = "",
        exit_status: int | None = None,
        error: ErrorResult | None = None,
        stdout: bytes = b"",
        stderr: bytes = b"",
    ) -> None:
        where = f"CNI plugin {plugin!r}" + (f" ({path})" if path else "") + f" {command}"
        parts = [f"{where}{' ' + context if context else ''}: {problem}"]
        if exit_status is not None:
            parts.append(f"exit status {exit_status}")
        if error is not None:
            text = f"error code {describe_code(error.code)}: {error.msg}"
            parts.append(text + (f" ({error.details})" if error.details else ""))
        elif stdout.strip():
            parts.append(f"stdout: {excerpt(stdout)!r}")
        if stderr.strip():
            parts.append(f"stderr: {excerpt(stderr)!r}")
        known = error.well_known if error is not None else None
        super().__init__("; ".join(parts), "UNKNOWN" if known is None else _GRPC_CODES[known])
        self.problem = problem
        self.plugin = plugin
        self.command = command
        self.path = path
        self.context = context
        self.exit_status = exit_status
        self.error = error
        self.stdout = stdout
        self.stderr = stderr

    @property
    def cni_code(self) -> int | None:
        """The code the plugin reported, or None when it printed no readable error."""
        return self.error.code if self.error is not None else None

    @property
    def retryable(self) -> bool:
        """True for "try again later" (11): the plugin expects the condition to clear."""
        return self.cni_code == ErrorCode.TRY_AGAIN_LATER


class IncompatibleVersionError(errors.InvalidArgumentError):
    """A configuration asks for a CNI spec version the plugin (or kcore) does not speak."""

    def __init__(self, message: str, *, plugin: str, version: str, supported: Sequence[str]):
        super().__init__(message)
        self.plugin = plugin
        self.version = version
        self.supported = tuple(supported)
