"""An async CRI client: what a kubelet-like node agent calls a container runtime with.

One :class:`CRIClient` talks to both CRI services (RuntimeService and ImageService) over
``unix:///path.sock``; ``image_endpoint`` points image calls elsewhere when a runtime serves
them on a second socket. Methods take plain arguments or the protobuf messages of
:mod:`kcore.interfaces.cri.api` and return those messages (no wrapper types: the messages are
already typed, and callers that forward them to other CRI code keep them as they are). Calls
whose whole answer is one id or one list return that id or list.

Like kubelet's own CRI client, answers that break the CRI contract are refused rather than
passed on: a Version with an empty field, a sandbox or container id left empty, a sandbox or
container status without the fields kubelet needs, an image without id or size. They raise
``PeerError`` naming the endpoint, the RPC and the missing field. Transport and status errors
are the ``kcore.errors`` classes of ``kcore.interfaces._grpc`` (a runtime that is down is
``UnavailableError``, an RPC it lacks is ``UnimplementedError``). grpc.aio: asyncio only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

from google.protobuf.message import Message

from kcore import errors
from kcore.interfaces._grpc import UnixChannel
from kcore.interfaces.cri._pb import api_pb2 as api
from kcore.interfaces.cri._rpcs import BY_NAME, IMAGE_SERVICE

__all__ = ["CRIClient"]

READY_CONDITIONS = ("RuntimeReady", "NetworkReady")


def image_spec(image: str | api.ImageSpec) -> api.ImageSpec:
    """An ImageSpec for a reference (``busybox:1.36``) or the ImageSpec itself."""
    return api.ImageSpec(image=image) if isinstance(image, str) else image


class CRIClient:
    """Typed calls to one CRI runtime; ``async with`` closes its channels.

    ``timeout`` (seconds) bounds every call unless the call says otherwise; image pulls of
    large images may need a larger ``timeout=`` of their own.
    """

    def __init__(
        self, endpoint: str, *, image_endpoint: str | None = None, timeout: float = 30.0
    ) -> None:
        self._runtime = UnixChannel(endpoint, timeout=timeout)
        if image_endpoint is None or image_endpoint == endpoint:
            self._image = self._runtime
        else:
            self._image = UnixChannel(image_endpoint, timeout=timeout)
        self.timeout = timeout

    @property
    def endpoint(self) -> str:
        return self._runtime.endpoint

    @property
    def image_endpoint(self) -> str:
        return self._image.endpoint

    async def call(
        self, rpc_name: str, request: Message, *, timeout: float | None = None
    ) -> Message:
        """Any CRI RPC by name (``"Version"``), unchecked: the raw response message."""
        rpc = BY_NAME.get(rpc_name)
        if rpc is None:
            raise errors.InvalidArgumentError(
                f"{rpc_name!r} is not a CRI RPC kcore knows; use one of {', '.join(BY_NAME)}"
            )
        if not isinstance(request, rpc.request):
            raise errors.InvalidTypeError(
                f"{rpc.path} takes {rpc.request.__name__}, not {type(request).__name__}"
            )
        channel = self._image if rpc.service == IMAGE_SERVICE else self._runtime
        return await channel.call(rpc.path, request, rpc.response.FromString, timeout=timeout)

    # --- RuntimeService -------------------------------------------------------------------

    async def version(
        self, api_version: str = "v1", *, timeout: float | None = None
    ) -> api.VersionResponse:
        """The runtime's name and versions; all four fields are checked non-empty."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/Version",
            api.VersionRequest(version=api_version),
            api.VersionResponse.FromString,
            timeout=timeout,
        )
        fields = ("version", "runtime_name", "runtime_version", "runtime_api_version")
        missing = [name for name in fields if not getattr(response, name)]
        if missing:
            raise self._broken("Version", f"leaves {', '.join(missing)} empty")
        return response

    async def status(
        self, verbose: bool = False, *, timeout: float | None = None
    ) -> api.StatusResponse:
        """Runtime conditions; RuntimeReady and NetworkReady must both be reported."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/Status",
            api.StatusRequest(verbose=verbose),
            api.StatusResponse.FromString,
            timeout=timeout,
        )
        reported = {condition.type for condition in response.status.conditions}
        missing = [name for name in READY_CONDITIONS if name not in reported]
        if missing:
            raise self._broken("Status", f"reports no {' or '.join(missing)} condition")
        return response

    async def run_pod_sandbox(
        self,
        config: api.PodSandboxConfig,
        runtime_handler: str = "",
        *,
        timeout: float | None = None,
    ) -> str:
        """Create and start a pod sandbox; its id."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/RunPodSandbox",
            api.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler),
            api.RunPodSandboxResponse.FromString,
            timeout=timeout,
        )
        if not response.pod_sandbox_id:
            raise self._broken("RunPodSandbox", "leaves pod_sandbox_id empty")
        return response.pod_sandbox_id

    async def stop_pod_sandbox(self, pod_sandbox_id: str, *, timeout: float | None = None) -> None:
        await self._runtime.call(
            "/runtime.v1.RuntimeService/StopPodSandbox",
            api.StopPodSandboxRequest(pod_sandbox_id=pod_sandbox_id),
            api.StopPodSandboxResponse.FromString,
            timeout=timeout,
        )

    async def remove_pod_sandbox(
        self, pod_sandbox_id: str, *, timeout: float | None = None
    ) -> None:
        await self._runtime.call(
            "/runtime.v1.RuntimeService/RemovePodSandbox",
            api.RemovePodSandboxRequest(pod_sandbox_id=pod_sandbox_id),
            api.RemovePodSandboxResponse.FromString,
            timeout=timeout,
        )

    async def pod_sandbox_status(
        self, pod_sandbox_id: str, verbose: bool = False, *, timeout: float | None = None
    ) -> api.PodSandboxStatusResponse:
        """A sandbox's status; id, metadata name/namespace/uid and created_at are checked."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/PodSandboxStatus",
            api.PodSandboxStatusRequest(pod_sandbox_id=pod_sandbox_id, verbose=verbose),
            api.PodSandboxStatusResponse.FromString,
            timeout=timeout,
        )
        status = response.status
        missing = [
            name
            for name, value in (
                ("status.id", status.id),
                ("status.metadata.name", status.metadata.name),
                ("status.metadata.namespace", status.metadata.namespace),
                ("status.metadata.uid", status.metadata.uid),
                ("status.created_at", status.created_at),
            )
            if not value
        ]
        if missing:
            raise self._broken("PodSandboxStatus", f"leaves {', '.join(missing)} unset")
        return response

    async def list_pod_sandbox(
        self,
        *,
        id: str = "",
        state: api.PodSandboxState | None = None,
        label_selector: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> list[api.PodSandbox]:
        """Sandboxes matching every filter given (none: all of them)."""
        selected = api.PodSandboxFilter(id=id, label_selector=dict(label_selector or {}))
        if state is not None:
            selected.state.state = state
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/ListPodSandbox",
            api.ListPodSandboxRequest(filter=selected),
            api.ListPodSandboxResponse.FromString,
            timeout=timeout,
        )
        return list(response.items)

    async def create_container(
        self,
        pod_sandbox_id: str,
        config: api.ContainerConfig,
        sandbox_config: api.PodSandboxConfig,
        *,
        timeout: float | None = None,
    ) -> str:
        """Create a container in a sandbox; its id."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/CreateContainer",
            api.CreateContainerRequest(
                pod_sandbox_id=pod_sandbox_id, config=config, sandbox_config=sandbox_config
            ),
            api.CreateContainerResponse.FromString,
            timeout=timeout,
        )
        if not response.container_id:
            raise self._broken("CreateContainer", "leaves container_id empty")
        return response.container_id

    async def start_container(self, container_id: str, *, timeout: float | None = None) -> None:
        await self._runtime.call(
            "/runtime.v1.RuntimeService/StartContainer",
            api.StartContainerRequest(container_id=container_id),
            api.StartContainerResponse.FromString,
            timeout=timeout,
        )

    async def stop_container(
        self, container_id: str, grace_seconds: int = 0, *, timeout: float | None = None
    ) -> None:
        """Stop a container, killing it after ``grace_seconds``; the call waits that long more."""
        await self._runtime.call(
            "/runtime.v1.RuntimeService/StopContainer",
            api.StopContainerRequest(container_id=container_id, timeout=grace_seconds),
            api.StopContainerResponse.FromString,
            timeout=self._plus(grace_seconds, timeout),
        )

    async def remove_container(self, container_id: str, *, timeout: float | None = None) -> None:
        await self._runtime.call(
            "/runtime.v1.RuntimeService/RemoveContainer",
            api.RemoveContainerRequest(container_id=container_id),
            api.RemoveContainerResponse.FromString,
            timeout=timeout,
        )

    async def list_containers(
        self,
        *,
        id: str = "",
        state: api.ContainerState | None = None,
        pod_sandbox_id: str = "",
        label_selector: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> list[api.Container]:
        """Containers matching every filter given (none: all of them)."""
        selected = api.ContainerFilter(
            id=id, pod_sandbox_id=pod_sandbox_id, label_selector=dict(label_selector or {})
        )
        if state is not None:
            selected.state.state = state
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/ListContainers",
            api.ListContainersRequest(filter=selected),
            api.ListContainersResponse.FromString,
            timeout=timeout,
        )
        return list(response.containers)

    async def container_status(
        self, container_id: str, verbose: bool = False, *, timeout: float | None = None
    ) -> api.ContainerStatusResponse:
        """A container's status; id, metadata.name, created_at, image and image_ref checked."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/ContainerStatus",
            api.ContainerStatusRequest(container_id=container_id, verbose=verbose),
            api.ContainerStatusResponse.FromString,
            timeout=timeout,
        )
        status = response.status
        missing = [
            name
            for name, value in (
                ("status.id", status.id),
                ("status.metadata.name", status.metadata.name),
                ("status.created_at", status.created_at),
                ("status.image.image", status.image.image),
                ("status.image_ref", status.image_ref),
            )
            if not value
        ]
        if missing:
            raise self._broken("ContainerStatus", f"leaves {', '.join(missing)} unset")
        return response

    async def exec_sync(
        self,
        container_id: str,
        cmd: Sequence[str],
        exec_timeout: int = 0,
        *,
        timeout: float | None = None,
    ) -> api.ExecSyncResponse:
        """Run ``cmd`` in a container and wait; ``exec_timeout`` 0 means no limit there."""
        response = await self._runtime.call(
            "/runtime.v1.RuntimeService/ExecSync",
            api.ExecSyncRequest(container_id=container_id, cmd=list(cmd), timeout=exec_timeout),
            api.ExecSyncResponse.FromString,
            timeout=self._plus(exec_timeout, timeout),
        )
        return response

    # --- ImageService ---------------------------------------------------------------------

    async def list_images(
        self, image: str | api.ImageSpec | None = None, *, timeout: float | None = None
    ) -> list[api.Image]:
        """Images present, or those matching ``image`` when given."""
        request = api.ListImagesRequest()
        if image is not None:
            request.filter.image.CopyFrom(image_spec(image))
        response = await self._image.call(
            "/runtime.v1.ImageService/ListImages",
            request,
            api.ListImagesResponse.FromString,
            timeout=timeout,
        )
        return list(response.images)

    async def image_status(
        self, image: str | api.ImageSpec, verbose: bool = False, *, timeout: float | None = None
    ) -> api.ImageStatusResponse:
        """An image's status; ``HasField("image")`` is false when it is not present."""
        response = await self._image.call(
            "/runtime.v1.ImageService/ImageStatus",
            api.ImageStatusRequest(image=image_spec(image), verbose=verbose),
            api.ImageStatusResponse.FromString,
            timeout=timeout,
        )
        if response.HasField("image"):
            found = response.image
            fields = (("image.id", found.id), ("image.size", found.size))
            missing = [name for name, value in fields if not value]
            if missing:
                raise self._broken("ImageStatus", f"leaves {', '.join(missing)} unset")
        return response

    async def pull_image(
        self,
        image: str | api.ImageSpec,
        auth: api.AuthConfig | None = None,
        sandbox_config: api.PodSandboxConfig | None = None,
        *,
        timeout: float | None = None,
    ) -> str:
        """Pull an image; its image_ref (the runtime's id or digest for it)."""
        request = api.PullImageRequest(image=image_spec(image))
        if auth is not None:
            request.auth.CopyFrom(auth)
        if sandbox_config is not None:
            request.sandbox_config.CopyFrom(sandbox_config)
        response = await self._image.call(
            "/runtime.v1.ImageService/PullImage",
            request,
            api.PullImageResponse.FromString,
            timeout=timeout,
        )
        if not response.image_ref:
            raise self._broken("PullImage", "leaves image_ref empty")
        return response.image_ref

    async def remove_image(
        self, image: str | api.ImageSpec, *, timeout: float | None = None
    ) -> None:
        await self._image.call(
            "/runtime.v1.ImageService/RemoveImage",
            api.RemoveImageRequest(image=image_spec(image)),
            api.RemoveImageResponse.FromString,
            timeout=timeout,
        )

    async def image_fs_info(self, *, timeout: float | None = None) -> api.ImageFsInfoResponse:
        return await self._image.call(
            "/runtime.v1.ImageService/ImageFsInfo",
            api.ImageFsInfoRequest(),
            api.ImageFsInfoResponse.FromString,
            timeout=timeout,
        )

    # --- plumbing -------------------------------------------------------------------------

    def _plus(self, seconds: int, timeout: float | None) -> float | None:
        """A call that waits ``seconds`` on the runtime's side gets that on top of its timeout."""
        if timeout is not None or seconds <= 0:
            return timeout
        return self.timeout + seconds

    def _broken(self, rpc_name: str, what: str) -> errors.PeerError:
        rpc = BY_NAME[rpc_name]
        channel = self._image if rpc.service == IMAGE_SERVICE else self._runtime
        return errors.PeerError(
            f"{channel.endpoint} {rpc.path}: the runtime's answer {what}, which the CRI "
            "contract requires; fix the runtime (kubelet refuses this answer too)",
            "INTERNAL",
        )

    async def close(self) -> None:
        await self._runtime.close()
        if self._image is not self._runtime:
            await self._image.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
