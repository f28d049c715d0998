"""FakeRuntime: an in-memory CRI runtime that behaves like containerd, for fast tests.

It keeps sandboxes, containers and images in dicts and walks them through the CRI state
machines (sandbox READY -> NOTREADY; container CREATED -> RUNNING -> EXITED) with ``created_at``
/ ``started_at`` / ``finished_at`` in nanoseconds, so a kubelet-like agent sees what it would
see from a real runtime, without processes, images or networks. It follows the CRI contract
where critest checks it: stop and remove of what is gone succeed, a missing sandbox or
container is NOT_FOUND, ImageStatus of a missing image is an empty answer, Version's fields are
non-empty and Status reports RuntimeReady and NetworkReady.

For tests it also records every call (``calls``), fails chosen RPCs on demand
(``inject_error``), answers ExecSync with configurable output (``exec_handler``) and lets a test
make a container exit by itself (``exit_container``). Serve it with ``serve(endpoint)`` like any
:class:`~kcore.interfaces.cri.server.CRIServer`. Timestamps come from ``now_ns`` (wall-clock
nanoseconds by default, as real runtimes report them; inject one for determinism).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

import attrs

from kcore import errors
from kcore.interfaces.cri._images import FakeImageStore
from kcore.interfaces.cri._pb import api_pb2 as api
from kcore.interfaces.cri._recorder import Call, CallRecorder, copy_message
from kcore.interfaces.cri._rpcs import BY_NAME
from kcore.interfaces.cri.server import CRIServer

__all__ = ["Call", "ExecResult", "FakeRuntime"]

FORCED_EXIT_CODE = 137  # what a SIGKILLed process exits with, as runtimes report it


@attrs.frozen
class ExecResult:
    """What an ExecSync answers: the command's output and exit code."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


ExecHandler = Callable[[str, Sequence[str]], ExecResult]
"""``handler(container_id, cmd) -> ExecResult``; raise a kcore error to fail the call."""


@attrs.define
class _Sandbox:
    id: str
    config: api.PodSandboxConfig
    runtime_handler: str
    created_at: int
    ip: str
    state: api.PodSandboxState = api.SANDBOX_READY


@attrs.define
class _Container:
    id: str
    sandbox_id: str
    config: api.ContainerConfig
    image_id: str
    created_at: int
    state: api.ContainerState = api.CONTAINER_CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""


def _labels_match(labels: Mapping[str, str], selector: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


class FakeRuntime(CallRecorder, CRIServer):
    """An in-memory CRI runtime (RuntimeService + ImageService).

    ``images`` are present from the start; ``pullable`` limits which references PullImage
    finds (None: any well-formed reference). ``runtime_handlers`` are the handler names
    RunPodSandbox accepts ("" is the default handler). Set ``network_ready`` False to make
    Status report the network as not ready, as a runtime without CNI config does.
    """

    def __init__(
        self,
        *,
        images: Iterable[str] = (),
        pullable: Collection[str] | None = None,
        runtime_handlers: Collection[str] = ("", "runc"),
        runtime_name: str = "kcore-fake",
        runtime_version: str = "0.1.0",
        exec_handler: ExecHandler | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        CallRecorder.__init__(self, BY_NAME)
        self.runtime_name = runtime_name
        self.runtime_version = runtime_version
        self.runtime_handlers = frozenset(runtime_handlers)
        self.network_ready = True
        self.exec_handler: ExecHandler = exec_handler or (lambda _id, _cmd: ExecResult())
        self.now_ns = now_ns
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._images = FakeImageStore(pullable)
        self._next_ip = 2
        for reference in images:
            self._images.add(reference)

    # --- test controls --------------------------------------------------------------------

    def exit_container(self, container_id: str, exit_code: int = 0, reason: str = "") -> None:
        """Make a running container exit by itself (its process ended with ``exit_code``)."""
        container = self._container(container_id)
        if container.state != api.CONTAINER_RUNNING:
            raise errors.ConflictError(
                f"container {container_id} is {api.ContainerState.Name(container.state)}; "
                "only a running container can exit"
            )
        self._finish(container, exit_code, reason or ("Completed" if exit_code == 0 else "Error"))

    # --- version and status ---------------------------------------------------------------

    async def version(self, request: api.VersionRequest) -> api.VersionResponse:
        self._enter("Version", request)
        return api.VersionResponse(
            version="0.1.0",
            runtime_name=self.runtime_name,
            runtime_version=self.runtime_version,
            runtime_api_version="v1",
        )

    async def status(self, request: api.StatusRequest) -> api.StatusResponse:
        self._enter("Status", request)
        network = api.RuntimeCondition(type="NetworkReady", status=self.network_ready)
        if not self.network_ready:
            network.reason = "NetworkPluginNotReady"
            network.message = "the fake runtime's network is set not ready (network_ready)"
        conditions = [api.RuntimeCondition(type="RuntimeReady", status=True), network]
        handlers = [api.RuntimeHandler(name=name) for name in sorted(self.runtime_handlers)]
        return api.StatusResponse(
            status=api.RuntimeStatus(conditions=conditions), runtime_handlers=handlers
        )

    # --- sandboxes ------------------------------------------------------------------------

    async def run_pod_sandbox(self, request: api.RunPodSandboxRequest) -> api.RunPodSandboxResponse:
        self._enter("RunPodSandbox", request)
        metadata = request.config.metadata
        for field in ("name", "namespace", "uid"):
            if not getattr(metadata, field):
                raise errors.InvalidArgumentError(
                    f"RunPodSandbox: config.metadata.{field} is empty; a sandbox needs "
                    "metadata name, namespace and uid"
                )
        if request.runtime_handler not in self.runtime_handlers:
            raise errors.InvalidArgumentError(
                f"RunPodSandbox: runtime handler {request.runtime_handler!r} is not "
                f"configured; use one of {sorted(self.runtime_handlers)}"
            )
        key = (metadata.name, metadata.namespace, metadata.uid, metadata.attempt)
        for other in self._sandboxes.values():
            theirs = other.config.metadata
            if (theirs.name, theirs.namespace, theirs.uid, theirs.attempt) == key:
                raise errors.AlreadyExistsError(
                    f"RunPodSandbox: sandbox {other.id} already has name {metadata.name}, "
                    f"namespace {metadata.namespace}, uid {metadata.uid}, attempt "
                    f"{metadata.attempt}; remove it or increase metadata.attempt"
                )
        options = request.config.linux.security_context.namespace_options
        sandbox = _Sandbox(
            id=secrets.token_hex(32),
            config=copy_message(request.config),
            runtime_handler=request.runtime_handler,
            created_at=self.now_ns(),
            ip="" if options.network == api.NODE else self._allocate_ip(),
        )
        self._sandboxes[sandbox.id] = sandbox
        return api.RunPodSandboxResponse(pod_sandbox_id=sandbox.id)

    async def stop_pod_sandbox(
        self, request: api.StopPodSandboxRequest
    ) -> api.StopPodSandboxResponse:
        self._enter("StopPodSandbox", request)
        sandbox = self._sandboxes.get(request.pod_sandbox_id)
        if sandbox is not None:  # stopping what is gone succeeds
            self._stop_sandbox(sandbox)
        return api.StopPodSandboxResponse()

    async def remove_pod_sandbox(
        self, request: api.RemovePodSandboxRequest
    ) -> api.RemovePodSandboxResponse:
        self._enter("RemovePodSandbox", request)
        sandbox = self._sandboxes.get(request.pod_sandbox_id)
        if sandbox is not None:  # removing what is gone succeeds
            self._stop_sandbox(sandbox)  # the CRI says a ready sandbox is forcibly stopped
            for container in list(self._containers.values()):
                if container.sandbox_id == sandbox.id:
                    del self._containers[container.id]
            del self._sandboxes[sandbox.id]
        return api.RemovePodSandboxResponse()

    async def pod_sandbox_status(
        self, request: api.PodSandboxStatusRequest
    ) -> api.PodSandboxStatusResponse:
        self._enter("PodSandboxStatus", request)
        sandbox = self._sandbox(request.pod_sandbox_id)
        config = sandbox.config
        status = api.PodSandboxStatus(
            id=sandbox.id,
            metadata=config.metadata,
            state=sandbox.state,
            created_at=sandbox.created_at,
            network=api.PodSandboxNetworkStatus(ip=sandbox.ip),
            labels=config.labels,
            annotations=config.annotations,
            runtime_handler=sandbox.runtime_handler,
        )
        status.linux.namespaces.options.CopyFrom(config.linux.security_context.namespace_options)
        containers = [
            self._container_status(c)
            for c in self._containers.values()
            if c.sandbox_id == sandbox.id
        ]
        return api.PodSandboxStatusResponse(
            status=status, containers_statuses=containers, timestamp=self.now_ns()
        )

    async def list_pod_sandbox(
        self, request: api.ListPodSandboxRequest
    ) -> api.ListPodSandboxResponse:
        self._enter("ListPodSandbox", request)
        selected = request.filter
        items = [
            api.PodSandbox(
                id=s.id,
                metadata=s.config.metadata,
                state=s.state,
                created_at=s.created_at,
                labels=s.config.labels,
                annotations=s.config.annotations,
                runtime_handler=s.runtime_handler,
            )
            for s in self._sandboxes.values()
            if s.id.startswith(selected.id)
            and (not selected.HasField("state") or s.state == selected.state.state)
            and _labels_match(s.config.labels, selected.label_selector)
        ]
        return api.ListPodSandboxResponse(items=items)

    # --- containers -----------------------------------------------------------------------

    async def create_container(
        self, request: api.CreateContainerRequest
    ) -> api.CreateContainerResponse:
        self._enter("CreateContainer", request)
        sandbox = self._sandbox(request.pod_sandbox_id)
        config = request.config
        if sandbox.state != api.SANDBOX_READY:
            raise errors.ConflictError(
                f"CreateContainer: sandbox {sandbox.id} is not ready (stopped); run a new "
                "sandbox for the pod"
            )
        if not config.metadata.name:
            raise errors.InvalidArgumentError(
                "CreateContainer: config.metadata.name is empty; a container needs a name"
            )
        if not config.image.image:
            raise errors.InvalidArgumentError(
                "CreateContainer: config.image.image is empty; name the image to run"
            )
        image = self._images.find(config.image.image)
        if image is None:
            raise errors.NotFoundError(
                f"CreateContainer: image {config.image.image!r} is not present; pull it first"
            )
        name = (config.metadata.name, config.metadata.attempt)
        for other in self._containers.values():
            if other.sandbox_id == sandbox.id and name == (
                other.config.metadata.name,
                other.config.metadata.attempt,
            ):
                raise errors.AlreadyExistsError(
                    f"CreateContainer: container {other.id} in sandbox {sandbox.id} already "
                    f"has name {name[0]} attempt {name[1]}; remove it or increase "
                    "metadata.attempt"
                )
        container = _Container(
            id=secrets.token_hex(32),
            sandbox_id=sandbox.id,
            config=copy_message(config),
            image_id=image.id,
            created_at=self.now_ns(),
        )
        self._containers[container.id] = container
        return api.CreateContainerResponse(container_id=container.id)

    async def start_container(
        self, request: api.StartContainerRequest
    ) -> api.StartContainerResponse:
        self._enter("StartContainer", request)
        container = self._container(request.container_id)
        if container.state != api.CONTAINER_CREATED:
            raise errors.ConflictError(
                f"StartContainer: container {container.id} is "
                f"{api.ContainerState.Name(container.state)}; only a created container "
                "starts (create a new one to run it again)"
            )
        if self._sandboxes[container.sandbox_id].state != api.SANDBOX_READY:
            raise errors.ConflictError(
                f"StartContainer: sandbox {container.sandbox_id} of container {container.id} "
                "is not ready (stopped)"
            )
        container.state = api.CONTAINER_RUNNING
        container.started_at = self.now_ns()
        return api.StartContainerResponse()

    async def stop_container(self, request: api.StopContainerRequest) -> api.StopContainerResponse:
        self._enter("StopContainer", request)
        container = self._containers.get(request.container_id)
        if container is not None and container.state == api.CONTAINER_RUNNING:
            # the fake's processes honour SIGTERM at once, within any grace period
            self._finish(container, 0, "Completed")
        return api.StopContainerResponse()

    async def remove_container(
        self, request: api.RemoveContainerRequest
    ) -> api.RemoveContainerResponse:
        self._enter("RemoveContainer", request)
        container = self._containers.pop(request.container_id, None)
        if container is not None and container.state == api.CONTAINER_RUNNING:
            self._finish(container, FORCED_EXIT_CODE, "Error")  # removal kills it first
        return api.RemoveContainerResponse()

    async def list_containers(
        self, request: api.ListContainersRequest
    ) -> api.ListContainersResponse:
        self._enter("ListContainers", request)
        selected = request.filter
        containers = [
            api.Container(
                id=c.id,
                pod_sandbox_id=c.sandbox_id,
                metadata=c.config.metadata,
                image=c.config.image,
                image_ref=c.image_id,
                state=c.state,
                created_at=c.created_at,
                labels=c.config.labels,
                annotations=c.config.annotations,
                image_id=c.image_id,
            )
            for c in self._containers.values()
            if c.id.startswith(selected.id)
            and c.sandbox_id.startswith(selected.pod_sandbox_id)
            and (not selected.HasField("state") or c.state == selected.state.state)
            and _labels_match(c.config.labels, selected.label_selector)
        ]
        return api.ListContainersResponse(containers=containers)

    async def container_status(
        self, request: api.ContainerStatusRequest
    ) -> api.ContainerStatusResponse:
        self._enter("ContainerStatus", request)
        container = self._container(request.container_id)
        return api.ContainerStatusResponse(status=self._container_status(container))

    async def exec_sync(self, request: api.ExecSyncRequest) -> api.ExecSyncResponse:
        self._enter("ExecSync", request)
        container = self._container(request.container_id)
        if not request.cmd:
            raise errors.InvalidArgumentError("ExecSync: cmd is empty; give the command to run")
        if container.state != api.CONTAINER_RUNNING:
            raise errors.ConflictError(
                f"ExecSync: container {container.id} is "
                f"{api.ContainerState.Name(container.state)}; exec needs a running container"
            )
        result = self.exec_handler(container.id, list(request.cmd))
        return api.ExecSyncResponse(
            stdout=result.stdout, stderr=result.stderr, exit_code=result.exit_code
        )

    # --- images ---------------------------------------------------------------------------

    async def list_images(self, request: api.ListImagesRequest) -> api.ListImagesResponse:
        self._enter("ListImages", request)
        wanted = request.filter.image.image
        if wanted:
            found = self._images.find(wanted)
            return api.ListImagesResponse(images=[found.message()] if found else [])
        return api.ListImagesResponse(images=[image.message() for image in self._images])

    async def image_status(self, request: api.ImageStatusRequest) -> api.ImageStatusResponse:
        self._enter("ImageStatus", request)
        found = self._images.find(request.image.image)
        if found is None:  # a missing image is an empty answer, not an error
            return api.ImageStatusResponse()
        return api.ImageStatusResponse(image=found.message())

    async def pull_image(self, request: api.PullImageRequest) -> api.PullImageResponse:
        self._enter("PullImage", request)
        image = self._images.pull(request.image.image)
        return api.PullImageResponse(image_ref=image.id)

    async def remove_image(self, request: api.RemoveImageRequest) -> api.RemoveImageResponse:
        self._enter("RemoveImage", request)
        self._images.remove(request.image.image)  # removing what is gone succeeds
        return api.RemoveImageResponse()

    async def image_fs_info(self, request: api.ImageFsInfoRequest) -> api.ImageFsInfoResponse:
        self._enter("ImageFsInfo", request)
        usage = api.FilesystemUsage(
            timestamp=self.now_ns(),
            fs_id=api.FilesystemIdentifier(mountpoint="/var/lib/kcore-fake/images"),
            used_bytes=api.UInt64Value(value=sum(image.size for image in self._images)),
            inodes_used=api.UInt64Value(value=len(self._images)),
        )
        return api.ImageFsInfoResponse(image_filesystems=[usage])

    # --- internals ------------------------------------------------------------------------

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            raise errors.NotFoundError(
                f"pod sandbox {sandbox_id!r} does not exist; list sandboxes to find its id"
            )
        return sandbox

    def _container(self, container_id: str) -> _Container:
        container = self._containers.get(container_id)
        if container is None:
            raise errors.NotFoundError(
                f"container {container_id!r} does not exist; list containers to find its id"
            )
        return container

    def _stop_sandbox(self, sandbox: _Sandbox) -> None:
        for container in self._containers.values():
            if container.sandbox_id == sandbox.id and container.state == api.CONTAINER_RUNNING:
                self._finish(container, FORCED_EXIT_CODE, "Error")  # forcibly terminated
        sandbox.state = api.SANDBOX_NOTREADY

    def _finish(self, container: _Container, exit_code: int, reason: str) -> None:
        container.state = api.CONTAINER_EXITED
        container.finished_at = self.now_ns()
        container.exit_code = exit_code
        container.reason = reason

    def _allocate_ip(self) -> str:
        index, self._next_ip = self._next_ip, self._next_ip + 1
        return f"10.88.{index // 256 % 256}.{index % 256}"  # containerd's default pod range

    def _container_status(self, container: _Container) -> api.ContainerStatus:
        config = container.config
        return api.ContainerStatus(
            id=container.id,
            metadata=config.metadata,
            state=container.state,
            created_at=container.created_at,
            started_at=container.started_at,
            finished_at=container.finished_at,
            exit_code=container.exit_code,
            image=config.image,
            image_ref=container.image_id,
            reason=container.reason,
            message=container.message,
            labels=config.labels,
            annotations=config.annotations,
            mounts=config.mounts,
            log_path=config.log_path,
            image_id=container.image_id,
            stop_signal=config.stop_signal,
        )
