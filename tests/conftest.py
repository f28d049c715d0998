"""Shared pytest set-up: anyio on asyncio by default, the rule for tests needing real peers,
and letting gRPC finish with its objects while each async test's event loop still runs.

grpc.aio objects garbage-collected after their loop closed get their completion events
delivered to the closed loop ("Event loop is closed" in a later test); a collection at the end
of every async test, inside its loop, prevents that.
"""

from __future__ import annotations

import gc
import inspect
import os
import shutil
from collections.abc import AsyncIterator

import anyio
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


@pytest.fixture
async def _grpc_settles() -> AsyncIterator[None]:
    yield
    gc.collect()
    await anyio.sleep(0.01)


@pytest.fixture(autouse=True)
def _settle_grpc_after_async_tests(request: pytest.FixtureRequest) -> None:
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("_grpc_settles")
