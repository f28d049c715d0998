"""Fixtures for the CSI tests: private directories, and a HostPathDriver served on a socket.

Socket paths must stay under 108 bytes and pytest's ``tmp_path`` can be longer, so sockets
go in a fresh ``/tmp/kcsi-*`` directory (mode 0700, owned by the test). The node side's
staging and target paths live in ``tmp_path``, as kubelet's pod directories would.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kcore.interfaces.csi import CSIClient, HostPathDriver

NODE_ID = "node-a"


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kcsi-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def driver(state_dir: Path) -> HostPathDriver:
    return HostPathDriver(state_dir, node_id=NODE_ID, nodes=["node-b"])


@pytest.fixture
def endpoint(sock_dir: Path) -> str:
    return f"unix://{sock_dir}/csi.sock"


@pytest.fixture
async def served(driver: HostPathDriver, endpoint: str) -> AsyncIterator[str]:
    """The endpoint, with ``driver`` serving on it for the test's duration."""
    async with driver.serve(endpoint) as server:
        yield server.endpoint


@pytest.fixture
async def client(served: str) -> AsyncIterator[CSIClient]:
    async with CSIClient(served, timeout=10.0) as csi:
        yield csi


class NodeDirs:
    """Where the CO would put staging directories (created) and target paths (parent only)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._numbers = itertools.count()

    def staging_dir(self) -> Path:
        path = self.root / f"staging-{next(self._numbers)}"
        path.mkdir(parents=True)
        return path

    def target_path(self) -> Path:
        parent = self.root / f"pod-{next(self._numbers)}"
        parent.mkdir(parents=True)
        return parent / "volume"


@pytest.fixture
def node_dirs(tmp_path: Path) -> NodeDirs:
    return NodeDirs(tmp_path / "node")
