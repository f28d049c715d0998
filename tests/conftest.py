"""Shared pytest set-up: anyio on asyncio by default, and the rule for tests needing real peers."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def require_peer(binary: str) -> str:
    """The path of a peer program, or skip; with KCORE_REQUIRE_PEERS=1 a missing peer fails."""
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} not installed (scripts/install-peers.sh installs it)"
        if os.environ.get("KCORE_REQUIRE_PEERS") == "1":
            pytest.fail(message + "; KCORE_REQUIRE_PEERS=1 makes this a failure")
        pytest.skip(message)
    return path
