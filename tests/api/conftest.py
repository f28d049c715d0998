"""The API suite's backends: every test taking ``client`` or ``api_backend`` runs once per store.

* ``memory``: a MemoryStore on a VirtualClock;
* ``etcd``: an EtcdStore on a real etcd 3.4 (loopback, random ports, private data dir) —
  skipped without etcd, failed with KCORE_REQUIRE_PEERS=1.

Both get a VirtualClock, so the timestamps the API layer writes (creationTimestamp,
deletionTimestamp) are the clock's wall time and tests can compute them exactly.

One etcd member serves the whole session (started on first use, stopped by PID at the end) and
every test starts from an empty keyspace: starting a member per test would cost most of the
suite's time, and the API layer's behaviour never depends on revisions being small. The member
is started and stopped on a short-lived thread with its own event loop (the anyio plugin may
already run a loop on the main thread while fixtures are set up), and each test opens its own
EtcdStore inside its own loop (grpc.aio channels belong to one loop).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import attrs
import pytest

from kcore.api import Client
from kcore.clock import VirtualClock
from kcore.objects import ObjectMeta
from kcore.objects.kinds.core_config import Namespace
from kcore.store import MemoryStore, Store
from kcore.testing.etcd import EtcdProcess
from tests.conftest import require_peer

BACKENDS = ["memory", "etcd"]


@attrs.define
class ApiBackend:
    """A store under test, its clock, and (for etcd) the member's client URL for etcdctl."""

    name: str
    store: Store
    clock: VirtualClock
    endpoint: str | None = None

    def client(self, **options: Any) -> Client:
        """A new admin client over this store (``authorization=True``, ``admission=...``)."""
        return Client(self.store, clock=self.clock, **options)


@pytest.fixture(scope="session")
def shared_etcd() -> Iterator[EtcdProcess]:
    """One etcd member for the session; started lazily by the first etcd-backed test."""
    member = EtcdProcess(name="kcore-api")

    async def start() -> None:
        await member.start()
        gc.collect()  # let grpc finish with the readiness probe's channel inside this loop
        await anyio.sleep(0.01)

    _run_on_thread(start)
    try:
        yield member
    finally:
        _run_on_thread(member.aclose)


def _run_on_thread(fn: Callable[[], Awaitable[None]]) -> None:
    """Run ``fn`` to completion in a fresh event loop on another thread, and wait for it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, fn).result(timeout=120)


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "etcd":
        require_peer("etcd")
        request.getfixturevalue("shared_etcd")  # started once, before the test's fixtures
    return name


@pytest.fixture
async def api_backend(
    backend_name: str, request: pytest.FixtureRequest
) -> AsyncIterator[ApiBackend]:
    """A fresh, empty store with the namespace "default" created (revision moves once)."""
    clock = VirtualClock()
    if backend_name == "memory":
        async with MemoryStore(clock=clock) as store:
            yield await _prepared(ApiBackend("memory", store, clock))
        return
    member: EtcdProcess = request.getfixturevalue("shared_etcd")
    async with member.store() as store:
        await store.delete_range(b"\0", b"\0")  # whatever an earlier test left behind
        yield await _prepared(ApiBackend("etcd", store, clock, member.client_url))


async def _prepared(backend: ApiBackend) -> ApiBackend:
    await backend.client().create(Namespace(metadata=ObjectMeta(name="default")))
    return backend


@pytest.fixture
def client(api_backend: ApiBackend) -> Client:
    """An admin client (no authorization) over the backend under test."""
    return api_backend.client()
