"""Fixtures for the CRI tests: a short private socket directory and a served FakeRuntime.

Socket paths must stay under 108 bytes, and pytest's ``tmp_path`` can be longer than that, so
sockets go in a fresh ``/tmp/kcri-*`` directory (mode 0700, owned by the test) instead.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kcore.interfaces.cri import CRIClient, FakeRuntime


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kcri-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
async def client(fake: FakeRuntime, sock_dir: Path) -> AsyncIterator[CRIClient]:
    """A CRIClient talking to ``fake`` over a real unix socket."""
    async with (
        fake.serve(f"unix://{sock_dir}/cri.sock") as server,
        CRIClient(server.endpoint, timeout=10.0) as cri,
    ):
        yield cri
