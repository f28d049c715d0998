"""Real etcd processes for tests and development: one member, or a 3-member cluster, on loopback.

::

    async with EtcdProcess() as etcd:                 # random free ports, a private temp dir
        async with etcd.store() as store:             # an EtcdStore for this member
            await store.put(b"k", b"v")
        await etcd.kill()                             # SIGKILL by PID
        await etcd.restart()                          # same ports, same data dir

    async with EtcdCluster(3) as cluster:
        async with EtcdStore(cluster.endpoints) as store: ...
        await cluster.members[0].kill()

Every member listens on 127.0.0.1 only, keeps its data and log under a temp directory that is
removed on close, and is started with ``start_new_session`` so a signal to the test runner does
not reach it; a finalizer kills a member left running when its object goes away. Waits are
bounded: ``start`` raises ``EtcdStartError`` (with the log's tail) when the member does not
answer in time. ``EtcdTLS`` serves the client port over TLS, optionally requiring client
certificates. The etcd binary is ``etcd`` on PATH unless ``binary`` says otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import IO, Any, Self

import anyio
import attrs

from kcore.store.etcd import EtcdStore, TLSConfig

__all__ = ["EtcdCluster", "EtcdProcess", "EtcdStartError", "EtcdTLS", "free_port"]

HOST = "127.0.0.1"


class EtcdStartError(RuntimeError):
    """An etcd member did not start (or did not answer) in time; the message has its log."""


def free_port(host: str = HOST) -> int:
    """A TCP port nobody listens on right now (another process may still take it first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@attrs.frozen
class EtcdTLS:
    """TLS on a member's client port: its certificate and key, and the CA.

    The helper trusts ``ca_file`` when it checks that the member answers. With
    ``client_cert_auth`` etcd also requires client certificates signed by that CA
    (``--trusted-ca-file``, ``--client-cert-auth``); ``client_cert_file``/``client_key_file``
    are then the helper's own. Without it the CA is not given to etcd (etcd 3.4 asks every
    client for a certificate as soon as it has a trusted CA).
    """

    cert_file: str
    key_file: str
    ca_file: str
    client_cert_auth: bool = False
    client_cert_file: str | None = None
    client_key_file: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.client_cert_auth and not (self.client_cert_file and self.client_key_file):
            raise ValueError(
                "EtcdTLS: client_cert_auth needs client_cert_file and client_key_file, so the "
                "helper can check that the member answers"
            )

    def client(self) -> TLSConfig:
        return TLSConfig(self.ca_file, self.client_cert_file, self.client_key_file)


def _kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    # Through the Popen object, not a bare PID: once reaped, the PID may belong to another.
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


class EtcdProcess:
    """One etcd member: start, wait until it answers, stop, kill (by PID), restart.

    Ports left 0 are picked at random; ``data_dir`` None makes a private temp directory
    (removed by ``aclose``). ``initial_cluster`` joins it to a cluster (``EtcdCluster`` sets
    it); by default the member is a cluster of one. ``extra_args`` go to etcd as they are.
    """

    def __init__(
        self,
        *,
        name: str = "kcore0",
        binary: str | None = None,
        client_port: int = 0,
        peer_port: int = 0,
        data_dir: str | None = None,
        tls: EtcdTLS | None = None,
        initial_cluster: str | None = None,
        cluster_token: str = "kcore-test",
        extra_args: Sequence[str] = (),
        start_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.binary = binary or shutil.which("etcd") or "etcd"
        self.tls = tls
        self._pick_ports = not (client_port or peer_port or initial_cluster)
        self.client_port = client_port or free_port()
        self.peer_port = peer_port or free_port()
        self._own_dir = tempfile.mkdtemp(prefix=f"kcore-etcd-{name}-")
        self._dir_finalizer = weakref.finalize(self, shutil.rmtree, self._own_dir, True)
        self.data_dir = data_dir or os.path.join(self._own_dir, "data")
        self.log_path = os.path.join(self._own_dir, "etcd.log")
        self.initial_cluster = initial_cluster or f"{name}={self.peer_url}"
        self.cluster_token = cluster_token
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.starts = 0

    # --- addresses ------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``host:port`` of the client port (what EtcdStore takes)."""
        return f"{HOST}:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"http://{HOST}:{self.peer_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def store(self, **kwargs: Any) -> EtcdStore:
        """An EtcdStore for this member alone (with the member's client TLS, if any)."""
        if self.tls is not None:
            kwargs.setdefault("tls", self.tls.client())
        return EtcdStore(self.client_url, **kwargs)

    def command(self) -> list[str]:
        args = [
            self.binary,
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={self.initial_cluster}",
            f"--initial-cluster-token={self.cluster_token}",
            "--initial-cluster-state=new",
        ]
        if self.tls is not None:
            args += [f"--cert-file={self.tls.cert_file}", f"--key-file={self.tls.key_file}"]
            if self.tls.client_cert_auth:  # etcd asks for client certificates once it has a CA
                args += [f"--trusted-ca-file={self.tls.ca_file}", "--client-cert-auth=true"]
        return args + self.extra_args

    # --- lifecycle ------------------------------------------------------------------------

    def spawn(self) -> None:
        """Start the process without waiting for it (``start`` = spawn + ``wait_ready``)."""
        if self.running:
            raise RuntimeError(f"etcd {self.name} is already running (pid {self.pid})")
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _close_log
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _kill_if_running, self._proc)

    async def start(self, timeout: float | None = None) -> None:
        """Start the member and wait until it answers a linearizable read.

        A first start of a lone member on random ports retries with new ports when another
        process took one of them in the meantime.
        """
        for attempt in range(3):
            self.spawn()
            try:
                await self.wait_ready(timeout)
                return
            except EtcdStartError:
                taken = "address already in use" in self.log_tail(5)
                if not (taken and self._pick_ports and self.starts == 1 and attempt < 2):
                    raise
            self.starts = 0
            self.client_port, self.peer_port = free_port(), free_port()
            self.initial_cluster = f"{self.name}={self.peer_url}"

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the member answers a linearizable read (it has a leader)."""
        limit = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        async with self.store(timeout=1.0, connect_timeout=0.5) as store:
            while True:
                if not self.running:
                    raise EtcdStartError(
                        f"etcd {self.name} exited (code {self._returncode()}) while starting; "
                        f"its log ends:\n{self.log_tail()}"
                    )
                try:
                    with anyio.fail_after(1.5):
                        await store.range(b"\0", count_only=True)
                    return
                except Exception:  # not up yet: every kind of failure means "try again"
                    if time.monotonic() > deadline:
                        raise EtcdStartError(
                            f"etcd {self.name} (pid {self.pid}) did not answer on "
                            f"{self.client_url} within {limit:.0f} s; its log ends:\n"
                            f"{self.log_tail()}"
                        ) from None
                await anyio.sleep(0.05)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (etcd shuts down cleanly), then SIGKILL if it is not gone in ``timeout``."""
        await self._signal(signal.SIGTERM, timeout)

    async def kill(self) -> None:
        """SIGKILL by PID: the member dies at once, as in a crash."""
        await self._signal(signal.SIGKILL, 10.0)

    def pause(self) -> None:
        """SIGSTOP: the member stops answering but keeps its connections open."""
        if self._proc is not None and self.running:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        if self._proc is not None and self.running:
            os.kill(self._proc.pid, signal.SIGCONT)

    async def restart(self, timeout: float | None = None) -> None:
        """Stop it if running, then start it again on the same ports and data dir."""
        if self.running:
            await self.stop()
        await self.start(timeout)

    async def _signal(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        if sig != signal.SIGKILL:
            os.kill(proc.pid, signal.SIGCONT)  # a paused member must run to handle SIGTERM
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
                deadline = time.monotonic() + 10.0
                timeout = 10.0
                if sig == signal.SIGKILL:
                    raise RuntimeError(f"etcd {self.name} (pid {proc.pid}) survived SIGKILL")
                sig = signal.SIGKILL
            await anyio.sleep(0.02)

    def _returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    async def aclose(self) -> None:
        """Stop the member and remove its temp directory (data included)."""
        await self.stop()
        self._close_log()
        if self._finalizer is not None:
            self._finalizer.detach()
        self._dir_finalizer()  # removes the directory now (once)

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class EtcdCluster:
    """``size`` etcd members on loopback, wired together with ``--initial-cluster``.

    Members are ``kcore0``, ``kcore1``, ...; ``endpoints`` lists their client addresses.
    ``extra_args`` go to every member (e.g. shorter ``--heartbeat-interval`` and
    ``--election-timeout`` for faster leader changes).
    """

    def __init__(
        self,
        size: int = 3,
        *,
        binary: str | None = None,
        tls: EtcdTLS | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 30.0,
    ) -> None:
        names = [f"kcore{i}" for i in range(size)]
        peers = [free_port() for _ in names]
        initial = ",".join(f"{n}=http://{HOST}:{p}" for n, p in zip(names, peers, strict=True))
        token = f"kcore-test-{os.getpid()}-{peers[0]}"  # one per cluster: members must agree
        self.members = [
            EtcdProcess(
                name=n,
                binary=binary,
                peer_port=p,
                tls=tls,
                initial_cluster=initial,
                cluster_token=token,
                extra_args=extra_args,
                start_timeout=start_timeout,
            )
            for n, p in zip(names, peers, strict=True)
        ]
        self.tls = tls

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    def store(self, **kwargs: Any) -> EtcdStore:
        """An EtcdStore given every member's endpoint."""
        if self.tls is not None:
            kwargs.setdefault("tls", self.tls.client())
        return EtcdStore(self.endpoints, **kwargs)

    async def start(self) -> None:
        """Start every member at once (they need each other to elect a leader), then wait."""
        for member in self.members:
            member.spawn()
        for member in self.members:
            await member.wait_ready()

    async def leader(self, timeout: float = 20.0) -> EtcdProcess:
        """The member that is the raft leader, once a running member says it is (bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            for member in self.members:
                if not member.running:
                    continue
                try:
                    async with member.store(timeout=1.0) as store:
                        status = await store.status()
                except Exception:  # down or electing: ask the next one
                    continue
                if status.leader and status.leader == status.header.member_id:
                    return member
            if time.monotonic() > deadline:
                raise RuntimeError(f"no running member became the leader within {timeout} s")
            await anyio.sleep(0.1)

    async def aclose(self) -> None:
        for member in self.members:
            await member.aclose()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
