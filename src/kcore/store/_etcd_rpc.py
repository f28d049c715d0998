"""EtcdStore's plumbing: one gRPC channel per endpoint, typed calls, failover, error mapping.

grpc has no type stubs here, so every grpc object stays inside this module behind small typed
helpers (``Endpoint.unary``, ``BidiStream``); the rest of the etcd backend sees protobuf
messages, ``RpcFailure`` and kcore errors only. ``grpc.aio`` runs on asyncio only, and so does
everything built on this module.

Two failure policies, because retrying is only safe for some requests:

* ``call_idempotent`` (reads, keep-alives): on a transport failure try the next endpoint,
  until one answers or the deadline passes.
* ``call_once`` (writes): a failure moves on to the next endpoint only when the request
  certainly reached no server (the connection could not be made, or etcd refused it before
  proposing it to raft). Any other failure after sending is ambiguous — the write may have
  been applied — and raises ``OutcomeUnknownError`` instead of being retried blindly (the bug
  Jepsen found in jetcd).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import anyio
import attrs
import grpc
import grpc.aio
from google.protobuf.message import Message

from kcore import errors as e

__all__ = [
    "BidiStream",
    "Endpoint",
    "Endpoints",
    "RpcFailure",
    "TLSConfig",
    "error_from_failure",
]

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

# The gRPC status texts etcd answers with, mapped back to kcore's classes (etcd's server adds
# "etcdserver: " to storage errors; a bare ETCD_TEXT is accepted too, for other servers).
_STORE_ERRORS: tuple[type[e.StoreError], ...] = (
    e.CompactedError,
    e.FutureRevisionError,
    e.KeyNotProvidedError,
    e.DuplicateKeyError,
    e.TooManyOpsError,
    e.KeyNotFoundError,
    e.ValueProvidedError,
    e.LeaseProvidedError,
    e.InvalidSortOptionError,
    e.LeaseNotFoundError,
    e.LeaseExistsError,
    e.LeaseTTLTooLargeError,
    e.RequestTooLargeError,
    e.ServerStoppedError,
)
_BY_TEXT: dict[str, type[e.StoreError]] = {}
for _cls in _STORE_ERRORS:
    _BY_TEXT[_cls.ETCD_TEXT] = _cls
    _BY_TEXT[_cls.GRPC_TEXT] = _cls

_BY_CODE: dict[str, type[e.KcoreError]] = {
    "NOT_FOUND": e.NotFoundError,
    "ALREADY_EXISTS": e.AlreadyExistsError,
    "FAILED_PRECONDITION": e.ConflictError,
    "PERMISSION_DENIED": e.ForbiddenError,
    "UNAUTHENTICATED": e.ForbiddenError,
    "INVALID_ARGUMENT": e.InvalidArgumentError,
    "OUT_OF_RANGE": e.InvalidArgumentError,
    "DEADLINE_EXCEEDED": e.TimeoutError,
    "UNAVAILABLE": e.UnavailableError,
}

# Codes with which etcd decides a request (it was not applied, or it was a read): final.
_DEFINITE_CODES = frozenset(
    {
        "INVALID_ARGUMENT",
        "OUT_OF_RANGE",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "FAILED_PRECONDITION",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "RESOURCE_EXHAUSTED",
        "UNIMPLEMENTED",
    }
)
# etcd texts for requests refused before they were proposed to raft: never applied.
_REFUSED_BEFORE_PROPOSING = frozenset(
    {
        "etcdserver: too many requests",
        "etcdserver: not capable",
        "etcdserver: rpc not supported for learner",
        "raft proposal dropped",  # no leader (an election is on): never entered the log
    }
)
_DOWN = (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)
# gRPC core's words for "no connection could be made, the call was never sent".
_NOT_CONNECTED = ("failed to connect to all addresses", "connections to all backends failing")


class RpcFailure(Exception):
    """A gRPC call that ended in an error status (or a broken stream)."""

    def __init__(self, endpoint: str, code: str, details: str) -> None:
        super().__init__(f"{endpoint}: {code}: {details}")
        self.endpoint = endpoint
        self.code = code
        self.details = details

    @property
    def definite(self) -> bool:
        """etcd itself answered with an error: the request was decided, retrying won't help."""
        return self.code in _DEFINITE_CODES or self.details in _BY_TEXT

    @property
    def not_sent(self) -> bool:
        """The request certainly reached no server's state machine (safe to send elsewhere)."""
        if self.details in _REFUSED_BEFORE_PROPOSING:
            return True
        return self.code == "UNAVAILABLE" and any(w in self.details for w in _NOT_CONNECTED)


def error_from_failure(failure: RpcFailure) -> e.KcoreError:
    """The kcore error for an error status: by etcd's exact text first, then by code."""
    store_error = _BY_TEXT.get(failure.details)
    if store_error is not None:
        return store_error()
    kind = _BY_CODE.get(failure.code, e.KcoreError)
    return kind(f"etcd at {failure.endpoint} answered {failure.code}: {failure.details}")


def _failure(endpoint: str, exc: Any) -> RpcFailure:
    code = exc.code()
    name = code.name if code is not None else "UNKNOWN"
    return RpcFailure(endpoint, name, exc.details() or "")


# --- TLS and endpoints ----------------------------------------------------------------------


@attrs.frozen
class TLSConfig:
    """Client TLS for EtcdStore: a CA to trust, and a client certificate for mutual TLS.

    ``ca_file`` None trusts the system's roots. ``cert_file`` and ``key_file`` come together
    (mutual TLS) or not at all. ``server_name`` overrides the name checked against the
    server's certificate (when it is not the endpoint's host).
    """

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise e.InvalidArgumentError(
                "TLSConfig: cert_file and key_file go together (a client certificate and its "
                "private key, for mutual TLS); give both or neither"
            )

    def credentials(self) -> Any:
        def read(path: str | None) -> bytes | None:
            if path is None:
                return None
            with open(path, "rb") as f:
                return f.read()

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.key_file),
            certificate_chain=read(self.cert_file),
        )


def _parse(endpoint: str, tls: TLSConfig | None) -> tuple[str, bool]:
    """("host:port", secure) from "host:port", "http://host:port" or "https://host:port"."""
    if not isinstance(endpoint, str) or not endpoint:
        raise e.InvalidTypeError(f"an endpoint must be a 'host:port' string, got {endpoint!r}")
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return endpoint, tls is not None
    target = rest.rstrip("/")
    if scheme == "https":
        return target, True
    if scheme == "http":
        if tls is not None:
            raise e.InvalidArgumentError(
                f"endpoint {endpoint!r} says http:// but tls was given; use https:// or host:port"
            )
        return target, False
    raise e.InvalidArgumentError(f"endpoint {endpoint!r}: the scheme must be http or https")


def _options(tls: TLSConfig | None) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", -1),  # watch responses and ranges can be large
        ("grpc.initial_reconnect_backoff_ms", 100),  # a restarted member is found again fast
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.keepalive_time_ms", 30_000),  # notice a dead peer under a long watch
        ("grpc.keepalive_timeout_ms", 10_000),
    ]
    if tls is not None and tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return options


class Endpoint:
    """One etcd endpoint: a lazily made channel and its method callables."""

    def __init__(self, target: str, credentials: Any, options: list[tuple[str, Any]]) -> None:
        self.target = target
        self._credentials = credentials
        self._options = options
        self._channel: Any = None
        self._unary: dict[str, Any] = {}

    def _get_channel(self) -> Any:
        if self._channel is None:  # made on first use, inside the running event loop
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                raise e.KcoreError(
                    "EtcdStore runs on asyncio only (grpc.aio has no trio support); run it "
                    "under asyncio, e.g. anyio.run(main) or anyio.run(main, backend='asyncio')"
                ) from None
            if self._credentials is None:
                self._channel = grpc.aio.insecure_channel(self.target, options=self._options)
            else:
                self._channel = grpc.aio.secure_channel(
                    self.target, self._credentials, options=self._options
                )
        return self._channel

    async def wait_ready(self, timeout: float) -> bool:
        """Connect if need be; False when the endpoint is down or did not connect in time.

        A channel in TRANSIENT_FAILURE (its last connection attempt failed; gRPC keeps trying
        in the background) counts as down at once, so failover does not wait on it.
        """
        channel = self._get_channel()
        state = channel.get_state(try_to_connect=True)
        with anyio.move_on_after(max(timeout, 0.0)):
            while True:
                if state == grpc.ChannelConnectivity.READY:
                    return True
                if state in _DOWN:
                    return False
                await channel.wait_for_state_change(state)
                state = channel.get_state(try_to_connect=True)
        return False

    async def unary(
        self, path: str, request: Message, response: type[Resp], timeout: float
    ) -> Resp:
        call = self._unary.get(path)
        if call is None:
            call = self._unary[path] = self._get_channel().unary_unary(
                path,
                request_serializer=_serialize,
                response_deserializer=response.FromString,
            )
        try:
            result: Resp = await call(request, timeout=max(timeout, 0.001))
        except grpc.aio.AioRpcError as exc:
            raise _failure(self.target, exc) from None
        return result

    async def exchange(
        self, path: str, request: Message, response: type[Resp], timeout: float
    ) -> Resp:
        """One request and its answer on a fresh bidirectional stream (LeaseKeepAlive)."""
        stream = self.stream(path, response)
        try:
            with anyio.fail_after(max(timeout, 0.001)):
                await stream.write(request)
                result = await stream.read()
        except TimeoutError:
            raise RpcFailure(self.target, "DEADLINE_EXCEEDED", "no answer in time") from None
        finally:
            stream.cancel()
        if result is None:
            raise RpcFailure(self.target, "UNAVAILABLE", "the stream ended without an answer")
        return result

    def stream(
        self,
        path: str,
        response: type[Resp],
        metadata: Sequence[tuple[str, str]] = (),
    ) -> BidiStream[Resp]:
        method = self._get_channel().stream_stream(
            path, request_serializer=_serialize, response_deserializer=response.FromString
        )
        return BidiStream(self.target, method(metadata=tuple(metadata) or None))

    async def aclose(self) -> None:
        channel, self._channel = self._channel, None
        self._unary.clear()
        if channel is not None:
            await channel.close(grace=None)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


class BidiStream(Generic[Resp]):
    """A bidirectional-streaming call: write requests, read responses (None at the end)."""

    def __init__(self, endpoint: str, call: Any) -> None:
        self.endpoint = endpoint
        self._call = call

    async def write(self, request: Message) -> None:
        try:
            await self._call.write(request)
        except grpc.aio.AioRpcError as exc:
            raise _failure(self.endpoint, exc) from None
        except grpc.aio.UsageError as exc:  # written after the call ended
            raise RpcFailure(self.endpoint, "UNAVAILABLE", f"stream closed: {exc}") from None

    async def read(self) -> Resp | None:
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            raise _failure(self.endpoint, exc) from None
        if message is grpc.aio.EOF:
            return None
        result: Resp = message
        return result

    def cancel(self) -> None:
        self._call.cancel()


# --- the set of endpoints and the two retry policies -------------------------------------------


class Endpoints:
    """The endpoints of one cluster, with the one that answered last tried first."""

    def __init__(
        self,
        endpoints: Sequence[str],
        tls: TLSConfig | None,
        *,
        timeout: float,
        connect_timeout: float,
    ) -> None:
        parsed = [_parse(ep, tls) for ep in endpoints]
        if not parsed:
            raise e.InvalidArgumentError("EtcdStore needs at least one endpoint ('host:port')")
        options = _options(tls)
        creds = None
        if any(secure for _, secure in parsed):
            creds = (tls or TLSConfig()).credentials()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.all = [
            Endpoint(target, creds if secure else None, options) for target, secure in parsed
        ]
        self._preferred = 0
        self._next_stream = 0

    def order(self) -> list[Endpoint]:
        """Every endpoint once, starting with the preferred one."""
        n = len(self.all)
        return [self.all[(self._preferred + i) % n] for i in range(n)]

    def prefer(self, endpoint: Endpoint) -> None:
        self._preferred = self.all.index(endpoint)

    def next_for_stream(self) -> Endpoint:
        """Round robin over the endpoints, for (re)opening long-lived streams."""
        endpoint = self.all[self._next_stream % len(self.all)]
        self._next_stream += 1
        return endpoint

    async def call_idempotent(
        self,
        path: str,
        request: Message,
        response: type[Resp],
        *,
        timeout: float | None = None,
        stream: bool = False,
    ) -> Resp:
        """A request safe to repeat: failover across endpoints until one answers or time's up.

        ``stream``: the method is a bidirectional stream; send one request, take one answer.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        failures: list[str] = []
        rounds = 0
        while True:
            order = self.order()
            for tried, endpoint in enumerate(order):
                left = len(order) - tried  # this one and those after it
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not await endpoint.wait_ready(min(remaining, self.connect_timeout)):
                    failures.append(f"{endpoint.target}: could not connect")
                    continue
                # A hung endpoint must not eat the time the others after it need.
                remaining = deadline - time.monotonic()
                budget = max(remaining / left, min(remaining, 1.0))
                call = endpoint.exchange if stream else endpoint.unary
                try:
                    result = await call(path, request, response, budget)
                except RpcFailure as failure:
                    if failure.definite:
                        raise error_from_failure(failure) from None
                    failures.append(str(failure))
                    continue
                self.prefer(endpoint)
                return result
            rounds += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _unavailable(path, failures)
            await anyio.sleep(min(remaining, 0.05 * rounds, 0.5))  # all failed: back off a bit

    async def call_once(
        self,
        path: str,
        request: Message,
        response: type[Resp],
        *,
        describe: Callable[[], str],
        timeout: float | None = None,
    ) -> Resp:
        """A write: never repeated once it may have reached a server (see the module doc)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        failures: list[str] = []
        rounds = 0
        while True:
            for endpoint in self.order():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if not await endpoint.wait_ready(min(remaining, self.connect_timeout)):
                    failures.append(f"{endpoint.target}: could not connect")
                    continue
                try:
                    result = await endpoint.unary(
                        path, request, response, deadline - time.monotonic()
                    )
                except RpcFailure as failure:
                    if failure.definite:
                        raise error_from_failure(failure) from None
                    if failure.not_sent:
                        failures.append(str(failure))
                        continue
                    raise e.OutcomeUnknownError(
                        f"{describe()} may or may not have been applied: the request was sent "
                        f"to etcd at {failure.endpoint} and then failed ({failure.code}: "
                        f"{failure.details}). It was not retried, so it happened at most once; "
                        "read the state back (e.g. the key's mod_revision) to find out which."
                    ) from None
                self.prefer(endpoint)
                return result
            # Every endpoint refused it unsent (no connection, no leader yet): safe to go on.
            rounds += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _unavailable(path, failures, sent=False)
            await anyio.sleep(min(remaining, 0.05 * rounds, 0.5))

    async def aclose(self) -> None:
        for endpoint in self.all:
            await endpoint.aclose()


def _unavailable(path: str, failures: list[str], *, sent: bool = True) -> e.UnavailableError:
    tried = "; ".join(dict.fromkeys(failures)) or "no time left to try any endpoint"
    note = "" if sent else " The request was sent to none of them, so nothing was applied."
    return e.UnavailableError(
        f"no etcd endpoint answered {path} ({tried}).{note} Check that the endpoints are right "
        "and the cluster has a quorum, then retry."
    )
