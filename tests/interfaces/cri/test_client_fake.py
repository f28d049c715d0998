"""CRIClient against FakeRuntime over a real unix socket: every RPC, the fake's state machines,
its test controls (call recording, error injection, exec output), and the client's refusal of
answers that break the CRI contract."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kcore import errors
from kcore.interfaces.cri import (
    RPCS,
    CRIClient,
    CRIServer,
    ExecResult,
    FakeRuntime,
    api,
    normalize_reference,
)

IMAGE = "busybox:1.36"


def pod(name: str = "web", uid: str = "uid-1", **labels: str) -> api.PodSandboxConfig:
    return api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=name, namespace="default", uid=uid),
        labels=labels,
    )


def ctr(name: str = "app", image: str = IMAGE, **labels: str) -> api.ContainerConfig:
    return api.ContainerConfig(
        metadata=api.ContainerMetadata(name=name), image=api.ImageSpec(image=image), labels=labels
    )


async def running_container(client: CRIClient) -> tuple[str, str]:
    await client.pull_image(IMAGE)
    sandbox_id = await client.run_pod_sandbox(pod())
    container_id = await client.create_container(sandbox_id, ctr(), pod())
    await client.start_container(container_id)
    return sandbox_id, container_id


@pytest.mark.anyio
async def test_every_rpc_round_trips(fake: FakeRuntime, client: CRIClient) -> None:
    version = await client.version()
    assert (version.runtime_name, version.runtime_api_version) == ("kcore-fake", "v1")
    conditions = {c.type: c.status for c in (await client.status()).status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}

    image_ref = await client.pull_image(IMAGE)
    assert image_ref.startswith("sha256:")
    assert [i.id for i in await client.list_images()] == [image_ref]
    assert (await client.image_status(IMAGE)).image.id == image_ref
    fs = (await client.image_fs_info()).image_filesystems[0]
    assert fs.used_bytes.value == (await client.list_images())[0].size
    assert fs.inodes_used.value == 1

    sandbox_id = await client.run_pod_sandbox(pod(tier="front"))
    assert (await client.pod_sandbox_status(sandbox_id)).status.network.ip == "10.88.0.2"
    assert [s.id for s in await client.list_pod_sandbox()] == [sandbox_id]
    container_id = await client.create_container(sandbox_id, ctr(), pod())
    await client.start_container(container_id)
    status = (await client.container_status(container_id)).status
    assert status.state == api.CONTAINER_RUNNING
    assert status.image_ref == image_ref
    assert [c.id for c in await client.list_containers()] == [container_id]
    fake.exec_handler = lambda cid, cmd: ExecResult(b" ".join(c.encode() for c in cmd), b"e", 3)
    result = await client.exec_sync(container_id, ["echo", "hi"], 5)
    assert (result.stdout, result.stderr, result.exit_code) == (b"echo hi", b"e", 3)
    await client.stop_container(container_id, 1)
    await client.remove_container(container_id)
    await client.stop_pod_sandbox(sandbox_id)
    await client.remove_pod_sandbox(sandbox_id)
    await client.remove_image(image_ref)
    assert await client.list_images() == []

    assert {call.method for call in fake.calls} == {rpc.name for rpc in RPCS}
    assert fake.calls_to("StopContainer")[0].timeout == 1  # type: ignore[attr-defined]
    assert fake.calls_to("RunPodSandbox")[0].config.labels == {"tier": "front"}  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_calls_are_copies(fake: FakeRuntime, client: CRIClient) -> None:
    config = pod()
    await client.run_pod_sandbox(config)
    config.metadata.name = "changed"
    assert fake.calls_to("RunPodSandbox")[0].config.metadata.name == "web"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_env_values_may_be_any_bytes(fake: FakeRuntime, client: CRIClient) -> None:
    """KeyValue.value is declared bytes: invalid UTF-8 (which a string field refuses) passes."""
    await client.pull_image(IMAGE)
    sandbox_id = await client.run_pod_sandbox(pod())
    config = ctr()
    config.envs.append(api.KeyValue(key="BIN", value=b"\xff\xfe"))
    await client.create_container(sandbox_id, config, pod())
    assert fake.calls_to("CreateContainer")[0].config.envs[0].value == b"\xff\xfe"  # type: ignore[attr-defined]


# --- sandbox and container state machines ---------------------------------------------------


@pytest.mark.anyio
async def test_timestamps_come_from_now_ns(sock_dir: Path) -> None:
    ticks = iter(range(1000, 2000, 10))
    fake = FakeRuntime(now_ns=lambda: next(ticks))
    async with (
        fake.serve(f"unix://{sock_dir}/c.sock") as server,
        CRIClient(server.endpoint) as client,
    ):
        _, container_id = await running_container(client)
        await client.stop_container(container_id)
        status = (await client.container_status(container_id)).status
    assert (status.created_at, status.started_at, status.finished_at) == (1010, 1020, 1030)
    assert (status.exit_code, status.reason) == (0, "Completed")


@pytest.mark.anyio
async def test_stopping_a_sandbox_kills_its_running_containers(client: CRIClient) -> None:
    sandbox_id, container_id = await running_container(client)
    await client.stop_pod_sandbox(sandbox_id)
    status = (await client.container_status(container_id)).status
    assert (status.state, status.exit_code, status.reason) == (api.CONTAINER_EXITED, 137, "Error")
    with pytest.raises(errors.ConflictError, match="not ready"):
        await client.create_container(sandbox_id, ctr("late"), pod())


@pytest.mark.anyio
async def test_removing_a_ready_sandbox_removes_its_containers(client: CRIClient) -> None:
    sandbox_id, container_id = await running_container(client)
    await client.remove_pod_sandbox(sandbox_id)
    assert await client.list_containers() == []
    assert await client.list_pod_sandbox() == []
    with pytest.raises(errors.NotFoundError, match=container_id):
        await client.container_status(container_id)


@pytest.mark.anyio
async def test_container_state_rules(fake: FakeRuntime, client: CRIClient) -> None:
    sandbox_id, container_id = await running_container(client)
    with pytest.raises(errors.ConflictError, match="CONTAINER_RUNNING"):
        await client.start_container(container_id)
    fake.exit_container(container_id, 2)
    status = (await client.container_status(container_id)).status
    assert (status.state, status.exit_code, status.reason) == (api.CONTAINER_EXITED, 2, "Error")
    with pytest.raises(errors.ConflictError, match="running container"):
        await client.exec_sync(container_id, ["true"])
    with pytest.raises(errors.ConflictError):
        fake.exit_container(container_id)
    with pytest.raises(errors.AlreadyExistsError, match="attempt"):
        await client.create_container(sandbox_id, ctr(), pod())
    # the next attempt of the same container is a new container
    again = ctr()
    again.metadata.attempt = 1
    assert await client.create_container(sandbox_id, again, pod()) != container_id


@pytest.mark.anyio
async def test_bad_requests_change_nothing(fake: FakeRuntime, client: CRIClient) -> None:
    nameless = pod()
    nameless.metadata.uid = ""
    with pytest.raises(errors.InvalidArgumentError, match=r"metadata\.uid"):
        await client.run_pod_sandbox(nameless)
    with pytest.raises(errors.InvalidArgumentError, match="runtime handler 'gvisor'"):
        await client.run_pod_sandbox(pod(), "gvisor")
    sandbox_id = await client.run_pod_sandbox(pod())
    with pytest.raises(errors.AlreadyExistsError, match=sandbox_id):
        await client.run_pod_sandbox(pod())
    with pytest.raises(errors.NotFoundError, match="pull it first"):
        await client.create_container(sandbox_id, ctr(), pod())
    with pytest.raises(errors.NotFoundError, match="does not exist"):
        await client.create_container("nope", ctr(), pod())
    assert [s.id for s in await client.list_pod_sandbox()] == [sandbox_id]
    assert await client.list_containers() == []
    assert await client.run_pod_sandbox(pod(uid="uid-2"), "runc")  # a configured handler


@pytest.mark.anyio
async def test_host_network_sandbox_has_no_pod_ip(client: CRIClient) -> None:
    config = pod()
    config.linux.security_context.namespace_options.network = api.NODE
    sandbox_id = await client.run_pod_sandbox(config)
    status = (await client.pod_sandbox_status(sandbox_id)).status
    assert status.network.ip == ""
    assert status.linux.namespaces.options.network == api.NODE


@pytest.mark.anyio
async def test_sandbox_status_lists_its_containers(client: CRIClient) -> None:
    sandbox_id, container_id = await running_container(client)
    response = await client.pod_sandbox_status(sandbox_id)
    assert [c.id for c in response.containers_statuses] == [container_id]
    assert response.timestamp > 0


@pytest.mark.anyio
async def test_network_not_ready_is_reported(fake: FakeRuntime, client: CRIClient) -> None:
    fake.network_ready = False
    conditions = {c.type: c for c in (await client.status()).status.conditions}
    assert conditions["NetworkReady"].status is False
    assert conditions["NetworkReady"].reason == "NetworkPluginNotReady"
    assert conditions["RuntimeReady"].status is True


# --- images --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_image_references_resolve_like_a_runtime(client: CRIClient) -> None:
    image_ref = await client.pull_image("busybox")
    image = (await client.image_status("docker.io/library/busybox:latest")).image
    assert image.id == image_ref
    assert image.repo_tags == ["docker.io/library/busybox:latest"]
    assert (await client.image_status(image_ref)).image.id == image_ref
    assert (await client.image_status(image_ref.removeprefix("sha256:"))).image.id == image_ref
    assert (await client.image_status(image.repo_digests[0])).image.id == image_ref
    assert [i.id for i in await client.list_images("busybox:latest")] == [image_ref]
    assert await client.list_images("busybox:other") == []
    assert await client.pull_image("busybox:latest") == image_ref  # pulling again: same image


def test_normalize_reference() -> None:
    assert normalize_reference("nginx") == "docker.io/library/nginx:latest"
    assert normalize_reference("user/app:1") == "docker.io/user/app:1"
    assert normalize_reference("registry.k8s.io/pause:3.9") == "registry.k8s.io/pause:3.9"
    assert normalize_reference("localhost:5000/x") == "localhost:5000/x:latest"
    assert normalize_reference("localhost/x") == "localhost/x:latest"
    digest = "sha256:" + "a" * 64
    assert normalize_reference(f"app@{digest}") == f"docker.io/library/app@{digest}"
    for bad in ("", " app", "app@md5:00"):
        with pytest.raises(errors.InvalidArgumentError):
            normalize_reference(bad)


@pytest.mark.anyio
async def test_pullable_limits_the_fake_registry(sock_dir: Path) -> None:
    fake = FakeRuntime(images=["registry.k8s.io/pause:3.9"], pullable=["busybox:1.36"])
    async with fake.serve(f"unix://{sock_dir}/c.sock") as s, CRIClient(s.endpoint) as client:
        assert [i.repo_tags[0] for i in await client.list_images()] == ["registry.k8s.io/pause:3.9"]
        assert await client.pull_image("docker.io/library/busybox:1.36")
        with pytest.raises(errors.NotFoundError, match="not in the fake registry"):
            await client.pull_image("nginx")
        with pytest.raises(errors.InvalidArgumentError, match="does not parse"):
            await client.pull_image("app@nodigest")
        assert len(await client.list_images()) == 2


# --- error injection -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_injected_errors_fail_calls_and_change_nothing(
    fake: FakeRuntime, client: CRIClient
) -> None:
    fake.inject_error("PullImage", errors.UnavailableError("registry down"), times=2)
    for _ in range(2):
        with pytest.raises(errors.UnavailableError, match="registry down"):
            await client.pull_image(IMAGE)
        assert await client.list_images() == []
    assert await client.pull_image(IMAGE)
    fake.inject_error("RunPodSandbox", errors.PeerError("no room", "RESOURCE_EXHAUSTED"))
    with pytest.raises(errors.PeerError) as caught:
        await client.run_pod_sandbox(pod())
    assert caught.value.grpc_code == "RESOURCE_EXHAUSTED"
    assert await client.list_pod_sandbox() == []
    assert len(fake.calls_to("RunPodSandbox")) == 1  # a failed call is still recorded


@pytest.mark.anyio
async def test_injected_errors_until_cleared(fake: FakeRuntime, client: CRIClient) -> None:
    fake.inject_error("Version", RuntimeError("boom"), times=None)
    for _ in range(3):
        with pytest.raises(errors.PeerError, match="RuntimeError: boom") as caught:
            await client.version()
        assert caught.value.grpc_code == "INTERNAL"
    fake.clear_errors()
    assert (await client.version()).runtime_name == "kcore-fake"
    with pytest.raises(errors.InvalidArgumentError, match="not an RPC this fake serves"):
        fake.inject_error("Versoin", RuntimeError())
    with pytest.raises(errors.InvalidArgumentError, match="at least 1"):
        fake.inject_error("Version", RuntimeError(), times=0)


# --- the client refuses answers that break the contract -------------------------------------


class _Broken(CRIServer):
    async def version(self, request: api.VersionRequest) -> api.VersionResponse:
        return api.VersionResponse(version="1", runtime_name="x", runtime_api_version="v1")

    async def status(self, request: api.StatusRequest) -> api.StatusResponse:
        ready = api.RuntimeCondition(type="RuntimeReady", status=True)
        return api.StatusResponse(status=api.RuntimeStatus(conditions=[ready]))

    async def run_pod_sandbox(self, request: api.RunPodSandboxRequest) -> api.RunPodSandboxResponse:
        return api.RunPodSandboxResponse()

    async def container_status(
        self, request: api.ContainerStatusRequest
    ) -> api.ContainerStatusResponse:
        status = api.ContainerStatus(id="c", metadata=api.ContainerMetadata(name="n"))
        status.created_at, status.image.image = 1, "img"
        return api.ContainerStatusResponse(status=status)

    async def image_status(self, request: api.ImageStatusRequest) -> api.ImageStatusResponse:
        return api.ImageStatusResponse(image=api.Image(id="sha256:x"))

    async def pull_image(self, request: api.PullImageRequest) -> api.PullImageResponse:
        return api.PullImageResponse()


@pytest.mark.anyio
async def test_client_refuses_broken_answers(sock_dir: Path) -> None:
    async with (
        _Broken().serve(f"unix://{sock_dir}/b.sock") as server,
        CRIClient(server.endpoint) as client,
    ):
        cases: list[tuple[Callable[[], Awaitable[object]], str, str]] = [
            (client.version, "Version", "runtime_version"),
            (client.status, "Status", "NetworkReady"),
            (lambda: client.run_pod_sandbox(pod()), "RunPodSandbox", "pod_sandbox_id"),
            (lambda: client.container_status("c"), "ContainerStatus", "status.image_ref"),
            (lambda: client.image_status("img"), "ImageStatus", "image.size"),
            (lambda: client.pull_image("img"), "PullImage", "image_ref"),
        ]
        for call, rpc, field in cases:
            with pytest.raises(errors.PeerError) as caught:
                await call()
            assert server.endpoint in str(caught.value)
            assert f"/{rpc}:" in str(caught.value)
            assert field in str(caught.value)
        # the raw call hands back what the runtime said, unchecked
        raw = await client.call("Version", api.VersionRequest())
        assert isinstance(raw, api.VersionResponse) and raw.runtime_version == ""
        with pytest.raises(errors.InvalidTypeError, match="takes VersionRequest"):
            await client.call("Version", api.StatusRequest())
        with pytest.raises(errors.InvalidArgumentError, match="not a CRI RPC"):
            await client.call("Nope", api.VersionRequest())


@pytest.mark.anyio
async def test_separate_image_endpoint(sock_dir: Path) -> None:
    runtime, images = FakeRuntime(), FakeRuntime()
    async with (
        runtime.serve(f"unix://{sock_dir}/r.sock") as r,
        images.serve(f"unix://{sock_dir}/i.sock") as i,
        CRIClient(r.endpoint, image_endpoint=i.endpoint) as client,
    ):
        await client.pull_image(IMAGE)
        await client.version()
        assert client.image_endpoint == i.endpoint
    assert [c.method for c in images.calls] == ["PullImage"]
    assert [c.method for c in runtime.calls] == ["Version"]
