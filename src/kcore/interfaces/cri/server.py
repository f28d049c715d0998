"""A base class for writing a CRI runtime in Python and serving it on a unix socket.

Subclass :class:`CRIServer`, override the ``async`` methods the runtime supports (each takes the
request message and returns the response message, both from :mod:`kcore.interfaces.cri.api`),
and serve it::

    class MyRuntime(CRIServer):
        async def version(self, request: api.VersionRequest) -> api.VersionResponse:
            return api.VersionResponse(version="0.1.0", runtime_name="mine", ...)

    async with MyRuntime().serve("unix:///run/my/cri.sock"):
        ...  # kubelet, crictl or kcore's CRIClient can call it now

Both CRI services (RuntimeService and ImageService) are served on the one socket, as containerd
does. A method left alone answers UNIMPLEMENTED naming itself; a method that raises a
``kcore.errors`` error answers with that error's gRPC code (NotFoundError -> NOT_FOUND, ...).
The socket is created mode 0600 in a directory the caller owns (see ``kcore.interfaces._grpc``).
grpc.aio underneath: this runs on asyncio only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message

from kcore import errors
from kcore.interfaces._grpc import UnixServer, unary
from kcore.interfaces.cri._pb import api_pb2 as api
from kcore.interfaces.cri._rpcs import BY_NAME, RPCS, Rpc

__all__ = ["CRIServer"]


class CRIServer:
    """CRI RuntimeService + ImageService; override what the runtime implements."""

    # --- RuntimeService -------------------------------------------------------------------

    async def version(self, request: api.VersionRequest) -> api.VersionResponse:
        raise self.unimplemented("Version")

    async def status(self, request: api.StatusRequest) -> api.StatusResponse:
        raise self.unimplemented("Status")

    async def run_pod_sandbox(self, request: api.RunPodSandboxRequest) -> api.RunPodSandboxResponse:
        raise self.unimplemented("RunPodSandbox")

    async def stop_pod_sandbox(
        self, request: api.StopPodSandboxRequest
    ) -> api.StopPodSandboxResponse:
        raise self.unimplemented("StopPodSandbox")

    async def remove_pod_sandbox(
        self, request: api.RemovePodSandboxRequest
    ) -> api.RemovePodSandboxResponse:
        raise self.unimplemented("RemovePodSandbox")

    async def pod_sandbox_status(
        self, request: api.PodSandboxStatusRequest
    ) -> api.PodSandboxStatusResponse:
        raise self.unimplemented("PodSandboxStatus")

    async def list_pod_sandbox(
        self, request: api.ListPodSandboxRequest
    ) -> api.ListPodSandboxResponse:
        raise self.unimplemented("ListPodSandbox")

    async def create_container(
        self, request: api.CreateContainerRequest
    ) -> api.CreateContainerResponse:
        raise self.unimplemented("CreateContainer")

    async def start_container(
        self, request: api.StartContainerRequest
    ) -> api.StartContainerResponse:
        raise self.unimplemented("StartContainer")

    async def stop_container(self, request: api.StopContainerRequest) -> api.StopContainerResponse:
        raise self.unimplemented("StopContainer")

    async def remove_container(
        self, request: api.RemoveContainerRequest
    ) -> api.RemoveContainerResponse:
        raise self.unimplemented("RemoveContainer")

    async def list_containers(
        self, request: api.ListContainersRequest
    ) -> api.ListContainersResponse:
        raise self.unimplemented("ListContainers")

    async def container_status(
        self, request: api.ContainerStatusRequest
    ) -> api.ContainerStatusResponse:
        raise self.unimplemented("ContainerStatus")

    async def exec_sync(self, request: api.ExecSyncRequest) -> api.ExecSyncResponse:
        raise self.unimplemented("ExecSync")

    # --- ImageService ---------------------------------------------------------------------

    async def list_images(self, request: api.ListImagesRequest) -> api.ListImagesResponse:
        raise self.unimplemented("ListImages")

    async def image_status(self, request: api.ImageStatusRequest) -> api.ImageStatusResponse:
        raise self.unimplemented("ImageStatus")

    async def pull_image(self, request: api.PullImageRequest) -> api.PullImageResponse:
        raise self.unimplemented("PullImage")

    async def remove_image(self, request: api.RemoveImageRequest) -> api.RemoveImageResponse:
        raise self.unimplemented("RemoveImage")

    async def image_fs_info(self, request: api.ImageFsInfoRequest) -> api.ImageFsInfoResponse:
        raise self.unimplemented("ImageFsInfo")

    # --- serving --------------------------------------------------------------------------

    def unimplemented(self, rpc_name: str) -> errors.UnimplementedError:
        """The error a method the runtime does not support raises (gRPC UNIMPLEMENTED)."""
        rpc = _by_name(rpc_name)
        return errors.UnimplementedError(
            f"{rpc.path} is not implemented by {type(self).__name__}; override "
            f"{rpc.attr}() in the runtime class to support it"
        )

    def handlers(self) -> dict[str, dict[str, Any]]:
        """gRPC method handlers per full service name, for :class:`UnixServer`."""
        services: dict[str, dict[str, Any]] = {}
        for rpc in RPCS:
            services.setdefault(rpc.service, {})[rpc.name] = unary(
                self._behaviour(rpc), rpc.request.FromString
            )
        return services

    def serve(self, endpoint: str) -> UnixServer:
        """A server for this runtime on ``unix:///path``; ``async with`` starts and stops it."""
        return UnixServer(endpoint, self.handlers())

    def _behaviour(self, rpc: Rpc) -> Callable[[Message, Any], Awaitable[Message]]:
        method: Callable[[Message], Awaitable[Message]] = getattr(self, rpc.attr)

        async def behaviour(request: Message, context: Any) -> Message:
            return await method(request)

        return behaviour


def _by_name(rpc_name: str) -> Rpc:
    rpc = BY_NAME.get(rpc_name)
    if rpc is not None:
        return rpc
    raise errors.InvalidArgumentError(
        f"{rpc_name!r} is not a CRI RPC kcore knows; use one of {', '.join(r.name for r in RPCS)}"
    )
