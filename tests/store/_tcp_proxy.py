"""A TCP proxy on loopback that a test controls: hold answers, cut connections, refuse new ones.

It stands between EtcdStore and a real etcd to produce the failures that matter for a client
deterministically: a request that reached the server whose answer never comes back
(``hold_answers`` then ``cut``), a connection reset under a watch (``cut``), an endpoint that
is down (``refuse``). It counts connections and bytes sent toward the server, so a test can
prove that nothing was sent.
"""

from __future__ import annotations

import socket
import struct
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
from anyio.abc import SocketAttribute

__all__ = ["TcpProxy"]


def _reset(stream: anyio.abc.SocketStream) -> None:
    """Close with an RST (linger 0), as a crashed or cut-off peer does."""
    sock = stream.extra(SocketAttribute.raw_socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target`` ("host:port")."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self.hold_answers = False  # True: bytes from the server are swallowed, not forwarded
        self.refuse = False  # True: new connections are reset at once
        self.connections = 0
        self.bytes_to_server = 0
        self.held_bytes = 0
        self._pairs: list[tuple[anyio.abc.SocketStream, anyio.abc.SocketStream]] = []
        self._group: anyio.abc.TaskGroup | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(SocketAttribute.local_port)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(listener.serve, self._handle)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cut()
        assert self._group is not None
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(None, None, None)

    def cut(self) -> None:
        """Reset every open connection (both sides), like a crash or a network cut."""
        pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            for stream in (client, server):
                try:
                    _reset(stream)
                    stream.extra(SocketAttribute.raw_socket).shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        self.connections += 1
        if self.refuse:
            _reset(client)
            await client.aclose()
            return
        try:
            server = await anyio.connect_tcp(*self._target)
        except OSError:
            _reset(client)
            await client.aclose()
            return
        pair = (client, server)
        self._pairs.append(pair)
        async with client, server, anyio.create_task_group() as tg:
            tg.start_soon(self._pump, client, server, True, tg.cancel_scope)
            tg.start_soon(self._pump, server, client, False, tg.cancel_scope)
        if pair in self._pairs:
            self._pairs.remove(pair)

    async def _pump(
        self,
        source: anyio.abc.SocketStream,
        sink: anyio.abc.SocketStream,
        to_server: bool,
        scope: anyio.CancelScope,
    ) -> None:
        try:
            async for data in source:
                if to_server:
                    self.bytes_to_server += len(data)
                elif self.hold_answers:
                    self.held_bytes += len(data)
                    continue
                await sink.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        finally:
            scope.cancel()
