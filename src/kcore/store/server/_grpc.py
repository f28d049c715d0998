"""Small typed helpers over ``grpc.aio``, so the handlers never touch untyped grpc objects.

grpc ships no type stubs; everything it hands us is ``Any``. This module is the one place
that talks to grpc directly: it builds method handlers from typed coroutines (registered by
hand with etcd's own method paths, no generated ``*_grpc.py`` stubs), maps kcore errors to
gRPC statuses with etcd's texts, and describes the servicer context as a ``Protocol``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, Protocol, TypeVar

import grpc

from kcore.errors import KcoreError, StoreError

__all__ = [
    "Context",
    "MalformedRequestError",
    "MethodHandler",
    "bidi",
    "fail",
    "service",
    "status_of",
    "unary",
    "unwrap",
]

log = logging.getLogger("kcore.store.server")

Req = TypeVar("Req")
Resp = TypeVar("Resp")

# A grpc RpcMethodHandler (opaque: grpc has no stubs).
MethodHandler = Any


class Message(Protocol):
    """What a generated protobuf message class offers for (de)serialization."""

    def SerializeToString(self) -> bytes: ...


class Context(Protocol):
    """The parts of ``grpc.aio.ServicerContext`` the handlers use."""

    def set_code(self, code: Any) -> None: ...

    def set_details(self, details: str) -> None: ...

    async def write(self, message: Any) -> None: ...

    def peer(self) -> str: ...


def unwrap(err: BaseException) -> BaseException:
    """The error inside task-group wrapping (the first kcore error of a group, if any)."""
    while isinstance(err, BaseExceptionGroup):
        inner = err.exceptions
        err = next((e for e in inner if isinstance(unwrap(e), KcoreError)), inner[0])
    return err


def status_of(err: BaseException) -> tuple[Any, str]:
    """The gRPC status code and message etcd would answer ``err`` with."""
    err = unwrap(err)
    if isinstance(err, KcoreError):
        code = getattr(grpc.StatusCode, err.grpc_code, grpc.StatusCode.UNKNOWN)
        if isinstance(err, StoreError) and err.GRPC_TEXT:
            return code, err.GRPC_TEXT
        return code, str(err)
    return grpc.StatusCode.UNKNOWN, f"kcore: unexpected {type(err).__name__}: {err}"


def fail(context: Context, err: BaseException) -> None:
    """Make the call end with ``err`` mapped to a gRPC status (unexpected errors are logged).

    The status is set rather than raised with ``context.abort``: raising would tie the call's
    objects into exception/traceback cycles that only the garbage collector frees.
    """
    err = unwrap(err)
    if not isinstance(err, KcoreError):
        log.error("unexpected error serving %s", context.peer(), exc_info=err)
    code, text = status_of(err)
    context.set_code(code)
    context.set_details(text)


class MalformedRequestError(KcoreError):
    """A request that is not a valid protobuf message of the method's type."""

    grpc_code = "INTERNAL"  # what etcd's gRPC server answers


class _Malformed:
    """What the deserializer hands over instead of raising inside grpc (which would log
    an error and answer UNKNOWN): the handler turns it into MalformedRequestError."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error

    def raise_(self) -> NoReturn:
        raise MalformedRequestError(f"grpc: error unmarshalling request: {self.error}")


def _decoder(request_type: Callable[[bytes], Req]) -> Callable[[bytes], Req | _Malformed]:
    def decode(data: bytes) -> Req | _Malformed:
        try:
            return request_type(data)
        except Exception as err:  # protobuf's DecodeError, too-deep nesting, ...
            return _Malformed(err)

    return decode


async def _checked(requests: AsyncIterator[Req | _Malformed]) -> AsyncIterator[Req]:
    async for request in requests:
        if isinstance(request, _Malformed):
            request.raise_()
        yield request


def unary(
    behaviour: Callable[[Req], Awaitable[Message]],
    request_type: Callable[[bytes], Req],
) -> MethodHandler:
    """A unary-unary handler: ``behaviour(request) -> response``; errors become statuses."""

    async def handle(request: Req | _Malformed, context: Context) -> Message | None:
        try:
            if isinstance(request, _Malformed):
                request.raise_()
            return await behaviour(request)
        except Exception as err:  # mapped to a status; the server keeps serving
            fail(context, err)
            return None  # with a status other than OK, grpc sends no message

    return grpc.unary_unary_rpc_method_handler(
        handle,
        request_deserializer=_decoder(request_type),
        response_serializer=_serialize,
    )


def bidi(
    behaviour: Callable[[AsyncIterator[Req], Context], Awaitable[None]],
    request_type: Callable[[bytes], Req],
    *,
    raw_responses: bool = False,
) -> MethodHandler:
    """A stream-stream handler; ``behaviour`` writes with ``context.write``.

    With ``raw_responses`` the behaviour writes already serialized ``bytes`` (the watch
    stream serializes once, to know each response's size for its bounded send queue).
    """

    async def handle(requests: AsyncIterator[Req | _Malformed], context: Context) -> None:
        try:
            await behaviour(_checked(requests), context)
        except Exception as err:
            fail(context, err)

    return grpc.stream_stream_rpc_method_handler(
        handle,
        request_deserializer=_decoder(request_type),
        response_serializer=_identity if raw_responses else _serialize,
    )


def service(name: str, methods: dict[str, MethodHandler]) -> Any:
    """A generic handler for ``etcdserverpb.<name>`` serving ``/etcdserverpb.<name>/<Method>``."""
    return grpc.method_handlers_generic_handler(f"etcdserverpb.{name}", methods)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _identity(data: bytes) -> bytes:
    return data
