"""critest's core checks (tests/interfaces/cri/suite.py) against FakeRuntime over gRPC.

Each check runs as its own test against a fake served on a real unix socket; ``run_suite`` runs
them all at once, as it would against any runtime. The last tests break the fake on purpose to
show the suite notices: a check that cannot fail proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kcore.interfaces.cri import CRIClient, FakeRuntime, api
from tests.interfaces.cri.suite import CHECKS, Check, SuiteConfig, run_suite


@pytest.mark.anyio
@pytest.mark.parametrize("item", CHECKS, ids=[c.name for c in CHECKS])
async def test_check_passes_against_fake(item: Check, client: CRIClient) -> None:
    await item.run(client, SuiteConfig())


@pytest.mark.anyio
async def test_whole_suite_against_fake(fake: FakeRuntime, sock_dir: Path) -> None:
    async with fake.serve(f"unix://{sock_dir}/cri.sock") as server:
        passed = await run_suite(server.endpoint)
    assert passed == [c.name for c in CHECKS]
    # every check cleaned up after itself
    assert await fake.list_pod_sandbox(api.ListPodSandboxRequest()) == api.ListPodSandboxResponse()
    assert not (await fake.list_containers(api.ListContainersRequest())).containers


class _NetworkDown(FakeRuntime):
    def __init__(self) -> None:
        super().__init__()
        self.network_ready = False


class _NoRuntimeName(FakeRuntime):
    async def version(self, request: api.VersionRequest) -> api.VersionResponse:
        response = await super().version(request)
        response.runtime_name = ""
        return response


class _StopIsNoop(FakeRuntime):
    async def stop_pod_sandbox(
        self, request: api.StopPodSandboxRequest
    ) -> api.StopPodSandboxResponse:
        self._enter("StopPodSandbox", request)
        return api.StopPodSandboxResponse()


class _ForgetsCreatedAt(FakeRuntime):
    async def pod_sandbox_status(
        self, request: api.PodSandboxStatusRequest
    ) -> api.PodSandboxStatusResponse:
        response = await super().pod_sandbox_status(request)
        response.status.created_at = 0
        return response


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("runtime", "failing"),
    [
        (_NetworkDown, "status_conditions"),
        (_NoRuntimeName, "version_fields"),
        (_StopIsNoop, "sandbox_lifecycle"),
        (_ForgetsCreatedAt, "sandbox_lifecycle"),
    ],
)
async def test_suite_catches_a_broken_runtime(
    runtime: type[FakeRuntime], failing: str, sock_dir: Path
) -> None:
    async with runtime().serve(f"unix://{sock_dir}/cri.sock") as server:
        with pytest.raises(AssertionError) as caught:
            await run_suite(server.endpoint)
    assert f"{failing}:" in str(caught.value)
    assert server.endpoint in str(caught.value)
