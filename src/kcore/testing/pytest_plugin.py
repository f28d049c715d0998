"""pytest fixtures for testing controllers in-process (registered as the ``kcore`` plugin).

``cluster``: a running :class:`kcore.testing.cluster.Cluster` (virtual time, namespaces
"default" and "kube-system"); add controllers with ``cluster.manager.add(...)``. Tests using it
are async (``@pytest.mark.anyio``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kcore.testing.cluster import Cluster


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with Cluster() as running:
        yield running
