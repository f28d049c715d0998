"""kcore's etcd-API server: any kcore store, served on etcd v3's own gRPC API.

etcdctl and every etcd client work against it: KV (Range, Put, DeleteRange, Txn, Compact),
Watch (many watches per stream), Lease (with the KeepAlive stream) and Maintenance.Status,
on etcd's method paths (``/etcdserverpb.KV/Range`` ...), with etcd's status codes and texts.
One module per service (``kv``, ``watch``, ``lease``, ``maintenance``); ``_wire`` holds the
places where etcd's wire is more lenient than the store API, ``_split`` how big watch
responses are cut, ``_grpc`` the typed grpc glue.

Runs on ``grpc.aio`` and therefore on **asyncio only** (not trio)::

    async with EtcdServer(MemoryStore(), "127.0.0.1:0") as server:
        print(server.port)  # etcdctl --endpoints 127.0.0.1:<port> get --prefix /

or ``await serve(store, "127.0.0.1:2379")`` to serve until cancelled, or from a shell
``python -m kcore.store.server --listen 127.0.0.1:2379``. With ``ca_file`` the server
requires and verifies client certificates (mutual TLS). The store's lifecycle stays the
caller's: the server neither enters nor closes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import grpc

from kcore.errors import InvalidArgumentError, UnavailableError
from kcore.store.protocol import Store
from kcore.store.server._wire import DEFAULT_MAX_REQUEST_BYTES, Identity
from kcore.store.server.kv import KVService
from kcore.store.server.lease import LeaseService
from kcore.store.server.maintenance import MaintenanceService
from kcore.store.server.watch import WatchService, WatchStreamStats

__all__ = ["EtcdServer", "Identity", "WatchStreamStats", "serve"]

_GRPC_OVERHEAD_BYTES = 512 * 1024  # etcd accepts gRPC messages this much over its limit


class EtcdServer:
    """Serves ``store`` on etcd's gRPC API at ``listen`` ("host:port"; port 0 picks one).

    TLS: ``cert_file`` and ``key_file`` (PEM) make the server speak TLS; ``ca_file`` also
    requires client certificates signed by that CA. ``identity`` sets the cluster ID,
    member ID and raft term reported in headers. ``max_txn_ops`` and ``max_request_bytes``
    are etcd's ``--max-txn-ops`` and ``--max-request-bytes``. Each watch stream buffers at
    most ``watch_send_buffer_bytes`` (and ``watch_send_buffer_responses`` responses) for a
    client that reads slowly; beyond that its watches fall behind in the store instead.
    """

    def __init__(
        self,
        store: Store,
        listen: str = "127.0.0.1:2379",
        *,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        ca_file: str | Path | None = None,
        identity: Identity | None = None,
        max_txn_ops: int = 128,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        watch_send_buffer_bytes: int = 4 * 1024 * 1024,
        watch_send_buffer_responses: int = 1024,
    ) -> None:
        if (cert_file is None) != (key_file is None):
            raise InvalidArgumentError(
                "cert_file and key_file go together: pass both for TLS, or neither"
            )
        if ca_file is not None and cert_file is None:
            raise InvalidArgumentError(
                "ca_file (client certificate checking) needs TLS: pass cert_file and key_file too"
            )
        host, sep, port = listen.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InvalidArgumentError(f"listen must be 'host:port', got {listen!r}")
        self._store = store
        self._listen = listen
        self._tls = (cert_file, key_file, ca_file)
        self._identity = identity or Identity()
        self._max_request_bytes = max_request_bytes
        self._kv = KVService(
            store,
            self._identity,
            max_txn_ops=max_txn_ops,
            max_request_bytes=max_request_bytes,
        )
        self._watch = WatchService(
            store,
            self._identity,
            max_request_bytes=max_request_bytes,
            send_buffer_bytes=watch_send_buffer_bytes,
            send_buffer_responses=watch_send_buffer_responses,
        )
        self._lease = LeaseService(store, self._identity)
        self._maintenance = MaintenanceService(store, self._identity)
        self._server: Any = None
        self._port = 0

    @property
    def port(self) -> int:
        """The port listened on (known once started)."""
        if not self._port:
            raise UnavailableError("the server is not started: call start() (or async with) first")
        return self._port

    @property
    def address(self) -> str:
        """``host:port`` as a client would dial it."""
        host = self._listen.rpartition(":")[0]
        return f"{host}:{self.port}"

    @property
    def store(self) -> Store:
        return self._store

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def tls(self) -> bool:
        return self._tls[0] is not None

    def watch_stats(self) -> list[WatchStreamStats]:
        """One entry per open watch stream: its watches and send-queue usage."""
        return self._watch.stats()

    async def start(self) -> None:
        _require_asyncio()
        if self._server is not None:
            raise InvalidArgumentError("the server is already started")
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self._max_request_bytes + _GRPC_OVERHEAD_BYTES),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),  # a port in use is an error, not a shared port
                # etcdctl pings every 2 s by default: allow it rather than send GOAWAY.
                ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
                ("grpc.http2.max_ping_strikes", 0),
                ("grpc.keepalive_permit_without_calls", 1),
            ]
        )
        server.add_generic_rpc_handlers(
            (
                self._kv.handler(),
                self._watch.handler(),
                self._lease.handler(),
                self._maintenance.handler(),
            )
        )
        try:
            self._port = self._bind(server)
        except RuntimeError as err:
            raise UnavailableError(
                f"cannot listen on {self._listen}: {err} (is the port in use? port 0 picks a "
                "free one)"
            ) from err
        await server.start()
        self._server = server

    def _bind(self, server: Any) -> int:
        cert_file, key_file, ca_file = self._tls
        if cert_file is None or key_file is None:
            return int(server.add_insecure_port(self._listen))
        credentials = grpc.ssl_server_credentials(
            [(Path(key_file).read_bytes(), Path(cert_file).read_bytes())],
            root_certificates=Path(ca_file).read_bytes() if ca_file is not None else None,
            require_client_auth=ca_file is not None,
        )
        return int(server.add_secure_port(self._listen, credentials))

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving: watch streams end now (UNAVAILABLE "etcdserver: server stopped",
        as etcd's do); other calls get up to ``grace`` seconds to finish (None: none)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._watch.shutdown()
        await server.stop(grace)

    async def wait_for_termination(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self.stop(grace=1.0)


async def serve(
    store: Store,
    listen: str = "127.0.0.1:2379",
    *,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
    ca_file: str | Path | None = None,
    ready: Callable[[EtcdServer], object] | None = None,
    **options: Any,
) -> None:
    """Serve ``store`` on etcd's gRPC API until cancelled (asyncio only).

    ``ready`` is called with the started server (to learn its port, say); ``options`` are
    ``EtcdServer``'s keyword arguments.
    """
    server = EtcdServer(
        store, listen, cert_file=cert_file, key_file=key_file, ca_file=ca_file, **options
    )
    async with server:
        if ready is not None:
            ready(server)
        await anyio.sleep_forever()


def _require_asyncio() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise InvalidArgumentError(
            "kcore's etcd-API server runs on grpc.aio, which needs asyncio: start it from an "
            "asyncio event loop (anyio.run(..., backend='asyncio')), not trio"
        ) from None
