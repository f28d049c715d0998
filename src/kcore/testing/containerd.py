"""A real containerd (Debian's 1.6) for tests: private config, root, state and socket.

::

    async with ContainerdProcess() as containerd:          # a private temp dir for everything
        async with containerd.client() as cri:              # a CRIClient on its socket
            print((await cri.version()).runtime_version)

The process gets its own ``config.toml`` (written here) that puts root, state, the gRPC and
ttrpc sockets, ``/opt`` content and the CNI config directory under one temp directory, so it
never touches ``/var/lib/containerd`` or ``/run/containerd`` and runs beside a system
containerd. The CRI plugin is on; its CNI config directory is private and empty unless
``cni_conflist`` puts a network config there (containerd reports NetworkReady only with one).
Snapshotters that need btrfs, zfs, devmapper or aufs are disabled (they only fail to load).

``start`` waits, bounded, until the socket answers CRI Version and raises
``ContainerdStartError`` with the log's tail if it does not. ``stop`` sends SIGTERM by PID and
SIGKILL after ``stop_timeout``; ``aclose`` also removes the temp directory, unless something is
still mounted under it (then it is left in place and named in the error). Needs root, like
containerd itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import anyio

from kcore.interfaces.cri import CRIClient

__all__ = ["ContainerdProcess", "ContainerdStartError"]

DISABLED_PLUGINS = (
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
)


class ContainerdStartError(RuntimeError):
    """containerd did not start or did not answer in time; the message has its log's tail."""


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    # Through the Popen object, not a bare PID: once reaped, the PID may belong to another.
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


class ContainerdProcess:
    """One containerd daemon in a private temp directory; ``async with`` starts and removes it.

    ``cni_conflist``, when given, is written as the one network config in its CNI config
    directory (plugins from ``cni_bin_dir``). ``binary`` defaults to ``containerd`` on PATH.
    """

    def __init__(
        self,
        *,
        binary: str | None = None,
        cni_conflist: Mapping[str, Any] | None = None,
        cni_bin_dir: str = "/usr/lib/cni",
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.binary = binary or shutil.which("containerd") or "containerd"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cni_bin_dir = cni_bin_dir
        self.cni_conflist = dict(cni_conflist) if cni_conflist is not None else None
        # short: a unix socket path must stay under 108 bytes
        self.dir = Path(tempfile.mkdtemp(prefix="kcore-ctrd-"))
        self.socket = self.dir / "containerd.sock"
        self.config_path = self.dir / "config.toml"
        self.log_path = self.dir / "containerd.log"
        self.cni_conf_dir = self.dir / "cni"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @property
    def endpoint(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self, **kwargs: Any) -> CRIClient:
        """A CRIClient on this containerd's socket."""
        return CRIClient(self.endpoint, **kwargs)

    def config_text(self) -> str:
        """The config.toml containerd runs with (version 2 schema, as 1.6 reads it)."""
        d = self.dir
        disabled = ", ".join(_toml(name) for name in DISABLED_PLUGINS)
        return "\n".join(
            [
                "version = 2",
                f"root = {_toml(str(d / 'root'))}",
                f"state = {_toml(str(d / 'state'))}",
                f"disabled_plugins = [{disabled}]",
                "[grpc]",
                f"  address = {_toml(str(self.socket))}",
                "[ttrpc]",
                f"  address = {_toml(str(self.socket) + '.ttrpc')}",
                "[debug]",
                '  address = ""',
                "[metrics]",
                '  address = ""',
                '[plugins."io.containerd.internal.v1.opt"]',
                f"  path = {_toml(str(d / 'opt'))}",
                '[plugins."io.containerd.grpc.v1.cri"]',
                # pod network namespaces under our state dir, not /var/run/netns
                "  netns_mounts_under_state_dir = true",
                '[plugins."io.containerd.grpc.v1.cri".cni]',
                f"  bin_dir = {_toml(self.cni_bin_dir)}",
                f"  conf_dir = {_toml(str(self.cni_conf_dir))}",
                "",
            ]
        )

    # --- lifecycle ------------------------------------------------------------------------

    def spawn(self) -> None:
        """Write the config and start the process without waiting for it."""
        if self.running:
            raise RuntimeError(f"containerd is already running (pid {self.pid})")
        self.cni_conf_dir.mkdir(mode=0o700, exist_ok=True)
        if self.cni_conflist is not None:
            conflist = self.cni_conf_dir / "10-kcore.conflist"
            conflist.write_text(json.dumps(self.cni_conflist, indent=2))
        self.config_path.write_text(self.config_text())
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _close_log
        self._proc = subprocess.Popen(
            [self.binary, "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a signal to the test runner does not reach it
        )
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _kill_if_running, self._proc)

    async def start(self, timeout: float | None = None) -> None:
        """Start containerd and wait until its socket answers CRI Version."""
        self.spawn()
        await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float | None = None) -> None:
        limit = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        async with self.client(timeout=2.0) as cri:
            while True:
                if not self.running:
                    code = self._proc.poll() if self._proc is not None else None
                    raise ContainerdStartError(
                        f"containerd exited (code {code}) while starting; its log ends:\n"
                        f"{self.log_tail()}"
                    )
                if self.socket.exists():
                    try:
                        await cri.version()
                        return
                    except Exception:  # not serving yet: every failure means "try again"
                        pass
                if time.monotonic() > deadline:
                    raise ContainerdStartError(
                        f"containerd (pid {self.pid}) did not answer CRI Version on "
                        f"{self.endpoint} within {limit:.0f} s; its log ends:\n{self.log_tail()}"
                    )
                await anyio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM by PID, then SIGKILL if it has not exited within ``stop_timeout``."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while proc.poll() is None and time.monotonic() < deadline:
            await anyio.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            deadline = time.monotonic() + 10.0
            while proc.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"containerd (pid {proc.pid}) survived SIGKILL")
                await anyio.sleep(0.02)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _mounts_inside(self) -> list[str]:
        prefix = str(self.dir) + os.sep
        try:
            with open("/proc/self/mounts") as mounts:
                points = [line.split()[1] for line in mounts if len(line.split()) > 1]
        except OSError:
            return []
        return [point for point in points if point.startswith(prefix)]

    async def aclose(self) -> None:
        """Stop containerd and remove its temp directory (never anything outside it)."""
        await self.stop()
        self._close_log()
        if self._finalizer is not None:
            self._finalizer.detach()
        mounted = self._mounts_inside()
        if mounted:
            raise RuntimeError(
                f"containerd left mounts under {self.dir}: {', '.join(mounted)}; the "
                "directory is left in place so nothing behind them is deleted; unmount them "
                "and remove it"
            )
        shutil.rmtree(self.dir, ignore_errors=True)

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
