"""A Python port of critest's core checks, runnable against any CRI endpoint.

critest (cri-tools) is how runtimes prove they are CRI-compatible; these are its checks that a
kubelet's pod lifecycle depends on: Version's fields, the RuntimeReady/NetworkReady conditions,
the sandbox and container state machines with the status fields kubelet reads, list filters,
idempotent stop/remove, NOT_FOUND for what does not exist, and the image calls. Each check is a
plain async function of a ``CRIClient`` and a ``SuiteConfig``; ``CHECKS`` lists them so a test can
parametrize over them, and ``run_suite(endpoint)`` runs them all against one runtime and raises
``AssertionError`` naming every check that failed.

Checks marked ``needs_workloads`` pull an image and create sandboxes and containers. A real
runtime that cannot do that here (containerd offline cannot pull the pause image) is run with
``workloads=False``. Every check uses fresh names and removes what it created.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import attrs

from kcore import errors
from kcore.interfaces.cri import CRIClient, api


@attrs.frozen
class SuiteConfig:
    """What the checks need to know about the runtime under test."""

    image: str = "docker.io/library/busybox:1.36"
    runtime_handler: str = ""
    exec_command: tuple[str, ...] = ("true",)  # exits 0 in the image


@attrs.frozen
class Check:
    name: str
    run: Callable[[CRIClient, SuiteConfig], Awaitable[None]]
    needs_workloads: bool


CHECKS: list[Check] = []


def check(*, needs_workloads: bool) -> Callable[[Callable[..., Awaitable[None]]], Check]:
    def register(function: Callable[[CRIClient, SuiteConfig], Awaitable[None]]) -> Check:
        found = Check(function.__name__.removeprefix("check_"), function, needs_workloads)
        CHECKS.append(found)
        return found

    return register


async def run_suite(
    endpoint: str, config: SuiteConfig | None = None, *, workloads: bool = True
) -> list[str]:
    """Run every check against ``endpoint``; the names that passed, or AssertionError."""
    config = config or SuiteConfig()
    passed: list[str] = []
    failed: list[str] = []
    async with CRIClient(endpoint, timeout=60.0) as client:
        for item in CHECKS:
            if item.needs_workloads and not workloads:
                continue
            try:
                await item.run(client, config)
            except Exception as err:  # collected: one failure must not hide the others
                failed.append(f"{item.name}: {type(err).__name__}: {err}")
            else:
                passed.append(item.name)
    if failed:
        raise AssertionError(f"CRI suite against {endpoint}:\n  " + "\n  ".join(failed))
    return passed


# --- helpers -------------------------------------------------------------------------------


def sandbox_config(name: str = "", labels: dict[str, str] | None = None) -> api.PodSandboxConfig:
    suffix = uuid.uuid4().hex[:12]
    return api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(
            name=name or f"critest-pod-{suffix}",
            namespace="critest",
            uid=f"uid-{suffix}",
            attempt=0,
        ),
        hostname="critest",
        labels=labels or {},
    )


def container_config(
    image: str, name: str = "", labels: dict[str, str] | None = None
) -> api.ContainerConfig:
    return api.ContainerConfig(
        metadata=api.ContainerMetadata(name=name or f"critest-ctr-{uuid.uuid4().hex[:8]}"),
        image=api.ImageSpec(image=image),
        command=["sh", "-c", "sleep 3600"],
        labels=labels or {},
    )


@asynccontextmanager
async def running_sandbox(
    client: CRIClient, config: SuiteConfig, labels: dict[str, str] | None = None
) -> AsyncIterator[tuple[str, api.PodSandboxConfig]]:
    sandbox = sandbox_config(labels=labels)
    sandbox_id = await client.run_pod_sandbox(sandbox, config.runtime_handler)
    try:
        yield sandbox_id, sandbox
    finally:
        await client.stop_pod_sandbox(sandbox_id)
        await client.remove_pod_sandbox(sandbox_id)


async def expect_not_found(call: Awaitable[object], what: str) -> None:
    try:
        await call
    except errors.NotFoundError:
        return
    raise AssertionError(f"{what}: expected NOT_FOUND, got an answer")


# --- runtime ---------------------------------------------------------------------------------


@check(needs_workloads=False)
async def check_version_fields(client: CRIClient, config: SuiteConfig) -> None:
    response = await client.call("Version", api.VersionRequest(version="v1"))
    assert isinstance(response, api.VersionResponse)
    for field in ("version", "runtime_name", "runtime_version", "runtime_api_version"):
        assert getattr(response, field), f"Version.{field} is empty"
    assert response.runtime_api_version == "v1", response.runtime_api_version


@check(needs_workloads=False)
async def check_status_conditions(client: CRIClient, config: SuiteConfig) -> None:
    response = await client.call("Status", api.StatusRequest())
    assert isinstance(response, api.StatusResponse)
    conditions = {c.type: c.status for c in response.status.conditions}
    for wanted in ("RuntimeReady", "NetworkReady"):
        assert wanted in conditions, f"Status has no {wanted} condition: {conditions}"
        assert conditions[wanted], f"Status reports {wanted} false"


# --- sandboxes -----------------------------------------------------------------------------


@check(needs_workloads=True)
async def check_sandbox_lifecycle(client: CRIClient, config: SuiteConfig) -> None:
    sandbox = sandbox_config()
    sandbox_id = await client.run_pod_sandbox(sandbox, config.runtime_handler)
    assert sandbox_id, "RunPodSandbox returned an empty id"
    try:
        status = (await client.pod_sandbox_status(sandbox_id)).status
        assert status.id == sandbox_id
        assert status.metadata.name == sandbox.metadata.name
        assert status.metadata.namespace == sandbox.metadata.namespace
        assert status.metadata.uid == sandbox.metadata.uid
        assert status.created_at > 0, "created_at is not set"
        assert status.state == api.SANDBOX_READY
        listed = {s.id: s for s in await client.list_pod_sandbox()}
        assert sandbox_id in listed, "a running sandbox is not listed"
        assert listed[sandbox_id].state == api.SANDBOX_READY
        assert listed[sandbox_id].created_at == status.created_at
        await client.stop_pod_sandbox(sandbox_id)
        stopped = (await client.pod_sandbox_status(sandbox_id)).status
        assert stopped.state == api.SANDBOX_NOTREADY, "a stopped sandbox is still ready"
    finally:
        await client.stop_pod_sandbox(sandbox_id)
        await client.remove_pod_sandbox(sandbox_id)
    await expect_not_found(client.pod_sandbox_status(sandbox_id), "status of a removed sandbox")
    assert sandbox_id not in {s.id for s in await client.list_pod_sandbox()}


@check(needs_workloads=True)
async def check_sandbox_list_filters(client: CRIClient, config: SuiteConfig) -> None:
    tag = uuid.uuid4().hex[:8]
    async with (
        running_sandbox(client, config, {"critest": tag, "role": "a"}) as (first, _),
        running_sandbox(client, config, {"critest": tag, "role": "b"}) as (second, _),
    ):
        by_id = await client.list_pod_sandbox(id=first)
        assert [s.id for s in by_id] == [first], "filter by id"
        both = {s.id for s in await client.list_pod_sandbox(label_selector={"critest": tag})}
        assert both == {first, second}, "filter by a shared label"
        only_b = await client.list_pod_sandbox(label_selector={"critest": tag, "role": "b"})
        assert [s.id for s in only_b] == [second], "filter by two labels"
        await client.stop_pod_sandbox(second)
        ready = await client.list_pod_sandbox(
            state=api.SANDBOX_READY, label_selector={"critest": tag}
        )
        assert [s.id for s in ready] == [first], "filter by state READY"
        not_ready = await client.list_pod_sandbox(
            state=api.SANDBOX_NOTREADY, label_selector={"critest": tag}
        )
        assert [s.id for s in not_ready] == [second], "filter by state NOTREADY"


# --- containers ----------------------------------------------------------------------------


@check(needs_workloads=True)
async def check_container_lifecycle(client: CRIClient, config: SuiteConfig) -> None:
    await client.pull_image(config.image)
    async with running_sandbox(client, config) as (sandbox_id, sandbox):
        wanted = container_config(config.image)
        container_id = await client.create_container(sandbox_id, wanted, sandbox)
        assert container_id, "CreateContainer returned an empty id"
        created = (await client.container_status(container_id)).status
        assert created.id == container_id
        assert created.metadata.name == wanted.metadata.name
        assert created.created_at > 0, "created_at is not set"
        assert created.image.image, "status.image.image is empty"
        assert created.image_ref, "status.image_ref is empty"
        assert created.state == api.CONTAINER_CREATED
        await client.start_container(container_id)
        running = (await client.container_status(container_id)).status
        assert running.state == api.CONTAINER_RUNNING
        assert running.started_at >= created.created_at > 0
        await client.stop_container(container_id, 10)
        exited = (await client.container_status(container_id)).status
        assert exited.state == api.CONTAINER_EXITED
        assert exited.finished_at >= running.started_at
        await client.remove_container(container_id)
        await expect_not_found(
            client.container_status(container_id), "status of a removed container"
        )
        assert await client.list_containers(pod_sandbox_id=sandbox_id) == []


@check(needs_workloads=True)
async def check_container_list_filters(client: CRIClient, config: SuiteConfig) -> None:
    await client.pull_image(config.image)
    tag = uuid.uuid4().hex[:8]
    async with running_sandbox(client, config) as (sandbox_id, sandbox):
        first = await client.create_container(
            sandbox_id, container_config(config.image, labels={"critest": tag}), sandbox
        )
        second = await client.create_container(
            sandbox_id, container_config(config.image, labels={"critest": tag, "x": "1"}), sandbox
        )
        await client.start_container(second)
        assert [c.id for c in await client.list_containers(id=first)] == [first]
        in_sandbox = {c.id for c in await client.list_containers(pod_sandbox_id=sandbox_id)}
        assert in_sandbox == {first, second}, "filter by pod_sandbox_id"
        running = await client.list_containers(
            state=api.CONTAINER_RUNNING, pod_sandbox_id=sandbox_id
        )
        assert [c.id for c in running] == [second], "filter by state RUNNING"
        created = await client.list_containers(
            state=api.CONTAINER_CREATED, pod_sandbox_id=sandbox_id
        )
        assert [c.id for c in created] == [first], "filter by state CREATED"
        labelled = await client.list_containers(label_selector={"critest": tag, "x": "1"})
        assert [c.id for c in labelled] == [second], "filter by labels"
        listed = {c.id: c for c in await client.list_containers(pod_sandbox_id=sandbox_id)}
        assert listed[first].pod_sandbox_id == sandbox_id
        assert listed[first].image_ref and listed[first].created_at > 0


@check(needs_workloads=True)
async def check_exec_sync(client: CRIClient, config: SuiteConfig) -> None:
    await client.pull_image(config.image)
    async with running_sandbox(client, config) as (sandbox_id, sandbox):
        container_id = await client.create_container(
            sandbox_id, container_config(config.image), sandbox
        )
        await client.start_container(container_id)
        result = await client.exec_sync(container_id, config.exec_command, 30)
        assert result.exit_code == 0, f"exec {config.exec_command} exited {result.exit_code}"


@check(needs_workloads=True)
async def check_idempotent_stop_remove(client: CRIClient, config: SuiteConfig) -> None:
    await client.pull_image(config.image)
    sandbox = sandbox_config()
    sandbox_id = await client.run_pod_sandbox(sandbox, config.runtime_handler)
    container_id = await client.create_container(
        sandbox_id, container_config(config.image), sandbox
    )
    await client.start_container(container_id)
    for _ in range(2):
        await client.stop_container(container_id, 5)
    for _ in range(2):
        await client.remove_container(container_id)
    for _ in range(2):
        await client.stop_pod_sandbox(sandbox_id)
    for _ in range(2):
        await client.remove_pod_sandbox(sandbox_id)
    # Stopping what was removed: the CRI says it succeeds; containerd 1.6 answers NOT_FOUND,
    # which kubelet also treats as done. Anything else is a failure.
    with suppress(errors.NotFoundError):
        await client.stop_container(container_id)
    with suppress(errors.NotFoundError):
        await client.stop_pod_sandbox(sandbox_id)


@check(needs_workloads=False)
async def check_remove_unknown_succeeds(client: CRIClient, config: SuiteConfig) -> None:
    unknown = uuid.uuid4().hex * 2
    await client.remove_container(unknown)
    await client.remove_pod_sandbox(unknown)
    await client.remove_image(f"critest.invalid/none-{uuid.uuid4().hex[:8]}:gone")


@check(needs_workloads=False)
async def check_status_of_unknown_is_not_found(client: CRIClient, config: SuiteConfig) -> None:
    unknown = uuid.uuid4().hex * 2
    await expect_not_found(client.pod_sandbox_status(unknown), "PodSandboxStatus of unknown id")
    await expect_not_found(client.container_status(unknown), "ContainerStatus of unknown id")


@check(needs_workloads=False)
async def check_lists_answer(client: CRIClient, config: SuiteConfig) -> None:
    for sandbox in await client.list_pod_sandbox():
        assert sandbox.id and sandbox.created_at > 0
    for container in await client.list_containers():
        assert container.id and container.created_at > 0
    for image in await client.list_images():
        assert image.id and image.size > 0
    info = await client.image_fs_info()
    for usage in info.image_filesystems:
        assert usage.timestamp > 0 and usage.fs_id.mountpoint


# --- images --------------------------------------------------------------------------------


@check(needs_workloads=False)
async def check_image_status_of_missing_image(client: CRIClient, config: SuiteConfig) -> None:
    missing = f"critest.invalid/none-{uuid.uuid4().hex[:8]}:gone"
    response = await client.image_status(missing)
    assert not response.HasField("image"), "ImageStatus of a missing image returned an image"


@check(needs_workloads=True)
async def check_image_pull_list_remove(client: CRIClient, config: SuiteConfig) -> None:
    image_ref = await client.pull_image(config.image)
    assert image_ref, "PullImage returned an empty image_ref"
    status = await client.image_status(config.image)
    assert status.HasField("image"), "a pulled image has no status"
    assert status.image.id and status.image.size > 0
    assert status.image.repo_tags or status.image.repo_digests
    assert (await client.image_status(status.image.id)).image.id == status.image.id
    assert status.image.id in {image.id for image in await client.list_images()}
    await client.remove_image(config.image)
    assert not (await client.image_status(config.image)).HasField("image")
    assert status.image.id not in {image.id for image in await client.list_images()}
