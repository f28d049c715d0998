"""The harness under kcore's csi-sanity port: a client, the plugin's capabilities, request
builders, and cleanup of everything the checks created.

Kept apart from the checks (``sanity.py``) so each file reads as one thing: this one is how a
check talks to a plugin; that one is what a plugin must do.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Self, TypeVar

from kcore.errors import KcoreError
from kcore.interfaces.csi import CSIClient, pb

__all__ = ["Cases", "SanityFailure", "SanityHarness", "expect_code", "mount_capability", "without"]

_Mode = pb.VolumeCapability.AccessMode
_Ctrl = pb.ControllerServiceCapability.RPC
_Node = pb.NodeServiceCapability.RPC
MiB = 1 << 20
_Req = TypeVar(
    "_Req", pb.CreateVolumeRequest, pb.NodePublishVolumeRequest, pb.NodeStageVolumeRequest
)
# A case is a description and a call to make; calls are made one at a time, in order.
Cases = list[tuple[str, Callable[[], Awaitable[object]]]]


class SanityFailure(AssertionError):
    """A plugin did not behave as the CSI spec and csi-sanity require."""


def mount_capability(
    mode: pb.VolumeCapability.AccessMode.Mode = _Mode.SINGLE_NODE_WRITER,
) -> pb.VolumeCapability:
    return pb.VolumeCapability(
        mount=pb.VolumeCapability.MountVolume(), access_mode=_Mode(mode=mode)
    )


async def expect_code(code: str, call: Awaitable[object], what: str) -> KcoreError:
    """Await ``call`` and require it to fail with gRPC status ``code``."""
    try:
        await call
    except KcoreError as err:
        if err.grpc_code != code:
            raise SanityFailure(f"{what}: expected {code}, got {err.grpc_code}: {err}") from err
        return err
    raise SanityFailure(f"{what}: expected {code}, but the call succeeded")


class SanityHarness:
    """A client to the plugin at ``endpoint`` and what checks need around it.

    ``async with`` reads the plugin's capabilities and node id on entry and, on exit, undoes
    (unpublish, unstage, detach, delete) whatever the checks created.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        staging_dir: Callable[[], Path],
        target_path: Callable[[], Path],
        volume_bytes: int = 10 * MiB,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.csi = CSIClient(endpoint, timeout=30.0)
        self.staging_dir = staging_dir
        self.target_path = target_path
        self.volume_bytes = volume_bytes
        self.parameters = dict(parameters or {})
        self.controller_caps: set[int] = set()
        self.node_caps: set[int] = set()
        self.node_id = ""
        self._created: list[str] = []  # volume ids, to delete at the end
        # Where volumes may have been staged and published, to undo before deleting them.
        self._stagings: dict[str, set[Path]] = {}
        self._targets: dict[str, set[Path]] = {}

    async def __aenter__(self) -> Self:
        ctrl = await self.csi.controller_get_capabilities()
        self.controller_caps = {c.rpc.type for c in ctrl.capabilities}
        node = await self.csi.node_get_capabilities()
        self.node_caps = {c.rpc.type for c in node.capabilities}
        self.node_id = (await self.csi.node_get_info()).node_id
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Undo what the checks did, newest volume first, as csi-sanity's cleanup does.

        A cleanup failure fails the check, unless the check already failed (that failure is
        the one worth reading).
        """
        problems: list[str] = []
        try:
            for volume_id in reversed(self._created):
                problems += await self._clean(volume_id)
        finally:
            await self.csi.close()
        if problems and exc is None:
            raise SanityFailure("cleanup failed: " + "; ".join(problems))

    async def _clean(self, volume_id: str) -> list[str]:
        csi, vid = self.csi, volume_id
        steps: Cases = []
        for target in sorted(self._targets.get(vid, ())):
            unpublish = pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
            steps.append(
                (f"NodeUnpublishVolume {target}", partial(csi.node_unpublish_volume, unpublish))
            )
        for staging in sorted(self._stagings.get(vid, ())):
            unstage = pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
            steps.append(
                (f"NodeUnstageVolume {staging}", partial(csi.node_unstage_volume, unstage))
            )
        if self.attaches:
            detach = pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=self.node_id)
            steps.append(
                ("ControllerUnpublishVolume", partial(csi.controller_unpublish_volume, detach))
            )
        delete = pb.DeleteVolumeRequest(volume_id=vid)
        steps.append(("DeleteVolume", partial(csi.delete_volume, delete)))
        problems = []
        for what, call in steps:
            try:
                await call()
            except KcoreError as err:
                problems.append(f"{what} of {vid}: {err}")
        return problems

    async def run(self, check: str) -> None:
        await getattr(self, check)()

    # --- helpers ---------------------------------------------------------------------------

    @property
    def attaches(self) -> bool:
        return _Ctrl.PUBLISH_UNPUBLISH_VOLUME in self.controller_caps

    @property
    def stages(self) -> bool:
        return _Node.STAGE_UNSTAGE_VOLUME in self.node_caps

    def create_request(
        self, name: str | None = None, size: int | None = None
    ) -> pb.CreateVolumeRequest:
        size = self.volume_bytes if size is None else size
        return pb.CreateVolumeRequest(
            name=name or f"sanity-{uuid.uuid4().hex[:12]}",
            capacity_range=pb.CapacityRange(required_bytes=size),
            volume_capabilities=[mount_capability()],
            parameters=self.parameters,
        )

    async def create(self, name: str | None = None, size: int | None = None) -> pb.Volume:
        response = await self.csi.create_volume(self.create_request(name, size))
        volume = response.volume
        if not volume.volume_id:
            raise SanityFailure("CreateVolume returned an empty volume_id")
        if volume.volume_id not in self._created:
            self._created.append(volume.volume_id)
        return volume

    async def delete(self, volume_id: str) -> None:
        await self.csi.delete_volume(pb.DeleteVolumeRequest(volume_id=volume_id))
        if volume_id in self._created:
            self._created.remove(volume_id)

    def stage_request(self, volume_id: str, staging: Path) -> pb.NodeStageVolumeRequest:
        self._stagings.setdefault(volume_id, set()).add(staging)
        return pb.NodeStageVolumeRequest(
            volume_id=volume_id,
            staging_target_path=str(staging),
            volume_capability=mount_capability(),
        )

    def publish_request(
        self, volume_id: str, staging: Path | None, target: Path, *, readonly: bool = False
    ) -> pb.NodePublishVolumeRequest:
        self._targets.setdefault(volume_id, set()).add(target)
        return pb.NodePublishVolumeRequest(
            volume_id=volume_id,
            staging_target_path=str(staging) if staging is not None and self.stages else "",
            target_path=str(target),
            volume_capability=mount_capability(),
            readonly=readonly,
        )

    async def attach_and_stage(self, volume_id: str) -> Path | None:
        """Controller-publish and stage ``volume_id`` as the plugin needs; the staging dir."""
        if self.attaches:
            await self.csi.controller_publish_volume(
                pb.ControllerPublishVolumeRequest(
                    volume_id=volume_id, node_id=self.node_id, volume_capability=mount_capability()
                )
            )
        if not self.stages:
            return None
        staging = self.staging_dir()
        await self.csi.node_stage_volume(self.stage_request(volume_id, staging))
        return staging

    async def unstage_and_detach(self, volume_id: str, staging: Path | None) -> None:
        if staging is not None:
            await self.csi.node_unstage_volume(
                pb.NodeUnstageVolumeRequest(volume_id=volume_id, staging_target_path=str(staging))
            )
        if self.attaches:
            await self.csi.controller_unpublish_volume(
                pb.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=self.node_id)
            )

    # --- checks ----------------------------------------------------------------------------

    def _create_without(self, field: str) -> pb.CreateVolumeRequest:
        return without(self.create_request(), field)

    def _publish_without(
        self, vid: str, staging: Path, target: Path, field: str
    ) -> pb.NodePublishVolumeRequest:
        return without(self.publish_request(vid, staging, target), field)

    async def _repeat_attach_and_stage(self, vid: str, staging: Path | None) -> None:
        if self.attaches:
            await self.csi.controller_publish_volume(
                pb.ControllerPublishVolumeRequest(
                    volume_id=vid, node_id=self.node_id, volume_capability=mount_capability()
                )
            )
        if staging is not None:
            await self.csi.node_stage_volume(self.stage_request(vid, staging))


def without(request: _Req, field: str) -> _Req:
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField(field)
    return copy
