"""Unix-socket gRPC plumbing shared by the CRI and CSI clients and servers.

CRI and CSI peers talk gRPC over a unix socket, with hand-registered methods (no generated
``*_grpc.py`` stubs, as for etcd). This module owns the three things both need and that are easy
to get subtly wrong: where a socket may be created (mode 0600, in a directory the caller owns,
never over a socket someone else owns or that a live server answers on), how a raised
``kcore.errors`` error becomes a gRPC status and back, and how a client error names the endpoint
and method it came from. grpc.aio runs on asyncio only.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
import grpc
import grpc.aio

from kcore import errors

__all__ = [
    "Handler",
    "UnixChannel",
    "UnixServer",
    "error_from_status",
    "socket_path",
    "unary",
]

MAX_MESSAGE = 16 * 1024 * 1024  # kubelet's CRI limit; CSI sidecars use the same order
_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
]


class Message(Protocol):
    def SerializeToString(self) -> bytes: ...


Req = TypeVar("Req")
Resp = TypeVar("Resp", bound=Message)
Handler = Callable[[Any, Any], Awaitable[Message]]
"""``async def method(request, context) -> response``; raise a kcore error to fail it."""


def socket_path(endpoint: str) -> Path:
    """The filesystem path of ``unix:///abs/path.sock`` (or a bare absolute path)."""
    raw = endpoint.removeprefix("unix://")
    if raw == endpoint and "://" in endpoint:
        raise errors.InvalidArgumentError(
            f"endpoint {endpoint!r}: only unix sockets are supported; use unix:///path/to.sock"
        )
    if not raw.startswith("/"):
        raise errors.InvalidArgumentError(
            f"endpoint {endpoint!r}: the socket path must be absolute (unix:///path/to.sock)"
        )
    return Path(raw)


def _prepare(path: Path) -> None:
    """Refuse unsafe places; remove a stale socket of ours that nothing answers on."""
    parent = path.parent
    try:
        info = parent.stat()
    except FileNotFoundError:
        raise errors.InvalidArgumentError(
            f"socket {path}: directory {parent} does not exist; create it (mode 0700) first"
        ) from None
    uid = os.geteuid()
    if info.st_uid != uid:
        raise errors.ForbiddenError(
            f"socket {path}: directory {parent} is owned by uid {info.st_uid}, not by this "
            f"process (uid {uid}); use a directory you own"
        )
    try:
        existing = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(existing.st_mode):
        raise errors.AlreadyExistsError(
            f"socket {path}: a file that is not a socket is in the way; remove it or pick "
            "another path"
        )
    if existing.st_uid != uid:
        raise errors.ForbiddenError(
            f"socket {path}: an existing socket is owned by uid {existing.st_uid}; refusing "
            "to replace another user's socket"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError:
        path.unlink()  # stale: left by a server that is gone
        return
    finally:
        probe.close()
    raise errors.AlreadyExistsError(
        f"socket {path}: a server is already listening there; stop it or pick another path"
    )


def _status_code(err: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(err, errors.KcoreError):
        code = getattr(grpc.StatusCode, err.grpc_code, grpc.StatusCode.UNKNOWN)
        return code, err.message
    return grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"


def unary(
    behaviour: Callable[[Req, Any], Awaitable[Message]],
    request_type: Callable[[bytes], Req],
) -> Any:
    """A unary handler: ``behaviour(request, context) -> response``; errors become statuses.

    A request that does not parse is INVALID_ARGUMENT, not a crash of the server.
    """

    def decode(data: bytes) -> Any:
        try:
            return request_type(data)
        except Exception as err:
            return _Malformed(err)

    async def handle(request: Any, context: Any) -> Message | None:
        if isinstance(request, _Malformed):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"request does not parse: {request.error}"
            )
            return None
        try:
            return await behaviour(request, context)
        except Exception as err:  # mapped to a status; the server keeps serving
            code, details = _status_code(err)
            context.set_code(code)
            context.set_details(details)
            return None

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=decode, response_serializer=_serialize
    )


class _Malformed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


class UnixServer:
    """A grpc.aio server on one unix socket, created mode 0600; ``async with`` starts/stops it.

    ``services`` maps a full service name (``runtime.v1.RuntimeService``) to its methods, each
    built with :func:`unary`.
    """

    def __init__(self, endpoint: str, services: Mapping[str, Mapping[str, Any]]) -> None:
        self.path = socket_path(endpoint)
        self.endpoint = f"unix://{self.path}"
        self._services = services
        self._server: Any = None

    async def start(self) -> None:
        # The stale-socket probe is a blocking connect (up to 1 s): keep it off the event loop.
        await anyio.to_thread.run_sync(_prepare, self.path)
        server = grpc.aio.server(options=_OPTIONS)
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(name, dict(methods))
                for name, methods in self._services.items()
            ]
        )
        server.add_insecure_port(self.endpoint)
        await server.start()
        os.chmod(self.path, 0o600)
        self._server = server

    async def stop(self, grace: float | None = None) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        await server.stop(grace)
        self.path.unlink(missing_ok=True)

    async def __aenter__(self) -> UnixServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


_CODE_CLASSES: dict[str, Callable[[str], errors.KcoreError]] = {
    "NOT_FOUND": errors.NotFoundError,
    "ALREADY_EXISTS": errors.AlreadyExistsError,
    "INVALID_ARGUMENT": errors.InvalidArgumentError,
    "FAILED_PRECONDITION": errors.ConflictError,
    "PERMISSION_DENIED": errors.ForbiddenError,
    "UNAVAILABLE": errors.UnavailableError,
    "DEADLINE_EXCEEDED": errors.TimeoutError,
    "UNIMPLEMENTED": errors.UnimplementedError,
}


def error_from_status(code_name: str, message: str) -> errors.KcoreError:
    """The kcore error for a gRPC status; codes with no class of their own keep their code."""
    make = _CODE_CLASSES.get(code_name)
    if make is not None:
        return make(message)
    return errors.PeerError(message, code_name)


class UnixChannel:
    """A client channel to one unix-socket endpoint with typed unary calls.

    Every failure is a kcore error whose message names the endpoint, the method, the status
    code and what the peer said; a peer that is down is ``UnavailableError``.
    """

    def __init__(self, endpoint: str, *, timeout: float = 30.0) -> None:
        self.path = socket_path(endpoint)
        self.endpoint = f"unix://{self.path}"
        self.timeout = timeout
        self._channel = grpc.aio.insecure_channel(self.endpoint, options=_OPTIONS)
        self._callables: dict[str, Any] = {}

    async def call(
        self,
        method: str,
        request: Message,
        response_type: Callable[[bytes], Resp],
        *,
        timeout: float | None = None,
    ) -> Resp:
        """Call ``/package.Service/Method`` (``method``) with ``request``."""
        stub = self._callables.get(method)
        if stub is None:
            stub = self._channel.unary_unary(
                method, request_serializer=_serialize, response_deserializer=response_type
            )
            self._callables[method] = stub
        try:
            response: Resp = await stub(
                request, timeout=self.timeout if timeout is None else timeout
            )
        except grpc.aio.AioRpcError as err:
            code = err.code().name
            raise error_from_status(
                code, f"{self.endpoint} {method}: {code}: {err.details() or 'no details'}"
            ) from None
        return response

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> UnixChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
