"""The Node half of the host-path CSI driver: stage, publish, and their undoing, and stats.

Each method is the synchronous body of one Node RPC; ``HostPathDriver`` runs it under its
lock in a worker thread. Without mount rights, staging writes a marker file into the staging
directory the CO created and publishing makes ``target_path`` a symlink to the volume's
directory (a runtime bind-mounting the target follows it). Rules followed (CSI spec,
csi-sanity): a repeated stage or publish with the same arguments succeeds and with other
arguments is ALREADY_EXISTS; publishing needs the volume staged at the given staging path
(FAILED_PRECONDITION); unstage and unpublish of what is not there succeed; unpublish removes
the target path; stats of an unknown volume, or at a path it is not at, are NOT_FOUND.
"""

from __future__ import annotations

import os
from pathlib import Path

from kcore.errors import AlreadyExistsError, ConflictError, NotFoundError
from kcore.interfaces.csi._hostpath_state import (
    Publication,
    Staging,
    StateOwner,
    as_json,
    require_supported,
)
from kcore.interfaces.csi._pb import csi_pb2 as pb

__all__ = ["STAGED_MARKER", "NodeOps"]

STAGED_MARKER = ".kcore-hostpath-volume"


class NodeOps(StateOwner):
    """Node RPC bodies (synchronous; the caller holds the driver's lock)."""

    def _node_stage(self, r: pb.NodeStageVolumeRequest) -> pb.NodeStageVolumeResponse:
        rpc = "NodeStageVolume"
        volume = self._volume(rpc, r.volume_id)
        require_supported(rpc, [r.volume_capability])
        wanted = Staging(r.staging_target_path, as_json(r.volume_capability))
        if volume.staging == wanted:
            return pb.NodeStageVolumeResponse()
        if volume.staging is not None:
            differs = "capability" if volume.staging.path == wanted.path else "path"
            raise AlreadyExistsError(
                f"{rpc}: volume {r.volume_id} is already staged at {volume.staging.path}, "
                f"with another {differs} than asked; unstage it first"
            )
        if self.attach_required and self.node_id not in volume.attachments:
            raise ConflictError(
                f"{rpc}: volume {r.volume_id} is not controller-published to node "
                f"{self.node_id!r}; call ControllerPublishVolume first"
            )
        for other in self._state.volumes.values():
            if other.staging is not None and other.staging.path == wanted.path:
                raise ConflictError(
                    f"{rpc}: volume {other.volume_id} is staged at {wanted.path}; "
                    "use a staging path of its own for each volume"
                )
        staging = Path(r.staging_target_path)
        if not staging.is_dir():
            raise ConflictError(
                f"{rpc}: staging_target_path {staging} is not an existing directory; "
                "the CO creates it before NodeStageVolume"
            )
        marker = staging / STAGED_MARKER
        try:
            with self._change():
                marker.write_text(r.volume_id + "\n")
                volume.staging = wanted
        except BaseException:
            marker.unlink(missing_ok=True)
            raise
        return pb.NodeStageVolumeResponse()

    def _node_unstage(self, r: pb.NodeUnstageVolumeRequest) -> pb.NodeUnstageVolumeResponse:
        rpc = "NodeUnstageVolume"
        volume = self._volume(rpc, r.volume_id)
        if volume.staging is None or volume.staging.path != r.staging_target_path:
            return pb.NodeUnstageVolumeResponse()  # not staged there: nothing to undo
        if volume.publications:
            raise ConflictError(
                f"{rpc}: volume {r.volume_id} is still published at "
                f"{', '.join(sorted(volume.publications))}; NodeUnpublishVolume those first"
            )
        with self._change():
            volume.staging = None
        # Only once the state says "unstaged": a failed save leaves the marker as it was.
        (Path(r.staging_target_path) / STAGED_MARKER).unlink(missing_ok=True)
        return pb.NodeUnstageVolumeResponse()

    def _node_publish(self, r: pb.NodePublishVolumeRequest) -> pb.NodePublishVolumeResponse:
        rpc = "NodePublishVolume"
        volume = self._volume(rpc, r.volume_id)
        require_supported(rpc, [r.volume_capability])
        if volume.staging is None or volume.staging.path != r.staging_target_path:
            raise ConflictError(
                f"{rpc}: volume {r.volume_id} is not staged at {r.staging_target_path}; "
                "call NodeStageVolume with that staging_target_path first"
            )
        source = self._state.volume_dir(r.volume_id)
        target = Path(r.target_path)
        wanted = Publication(
            r.staging_target_path,
            as_json(r.volume_capability),
            r.readonly,
            dict(r.volume_context),
        )
        current = volume.publications.get(r.target_path)
        if current is not None and current != wanted:
            raise AlreadyExistsError(
                f"{rpc}: volume {r.volume_id} is already published at {target} with other "
                "arguments (capability, readonly, staging path or context); unpublish it first"
            )
        for other in self._state.volumes.values():
            if other is not volume and r.target_path in other.publications:
                raise ConflictError(
                    f"{rpc}: volume {other.volume_id} is published at {target}; "
                    "unpublish it or use another target path"
                )
        _clear_target(rpc, target, source)
        created = not target.is_symlink()
        try:
            with self._change():
                if created:
                    target.symlink_to(source, target_is_directory=True)
                volume.publications[r.target_path] = wanted
        except BaseException:
            if created:
                target.unlink(missing_ok=True)
            raise
        return pb.NodePublishVolumeResponse()

    def _node_unpublish(self, r: pb.NodeUnpublishVolumeRequest) -> pb.NodeUnpublishVolumeResponse:
        volume = self._volume("NodeUnpublishVolume", r.volume_id)
        target = Path(r.target_path)
        if target.is_symlink() and target.readlink() == self._state.volume_dir(r.volume_id):
            target.unlink()
        if r.target_path in volume.publications:
            with self._change():
                del volume.publications[r.target_path]
        return pb.NodeUnpublishVolumeResponse()

    def _node_stats(self, r: pb.NodeGetVolumeStatsRequest) -> pb.NodeGetVolumeStatsResponse:
        rpc = "NodeGetVolumeStats"
        volume = self._volume(rpc, r.volume_id)
        places = set(volume.publications)
        if volume.staging is not None:
            places.add(volume.staging.path)
        if r.volume_path not in places:
            raise NotFoundError(
                f"{rpc}: volume {r.volume_id} is neither published nor staged at "
                f"{r.volume_path}; pass a target or staging path it is published at"
            )
        used_bytes, used_inodes = _usage(self._state.volume_dir(r.volume_id))
        fs = os.statvfs(self._state.dir)
        Usage = pb.VolumeUsage
        return pb.NodeGetVolumeStatsResponse(
            usage=[
                Usage(
                    unit=Usage.BYTES,
                    total=volume.capacity_bytes,
                    used=used_bytes,
                    available=max(0, volume.capacity_bytes - used_bytes),
                ),
                Usage(
                    unit=Usage.INODES,
                    total=fs.f_files,
                    used=used_inodes,
                    available=fs.f_favail,
                ),
            ]
        )


def _clear_target(rpc: str, target: Path, source: Path) -> None:
    """Make room for the publish symlink: nothing there, an empty directory, or our own link."""
    if not target.parent.is_dir():
        raise ConflictError(
            f"{rpc}: the parent directory of target_path {target} does not exist; "
            "the CO creates it before NodePublishVolume"
        )
    if target.is_symlink():
        if target.readlink() != source:
            raise ConflictError(f"{rpc}: {target} is a symlink to something else; remove it")
    elif target.is_dir():
        if any(target.iterdir()):
            raise ConflictError(f"{rpc}: {target} is a non-empty directory; empty or remove it")
        target.rmdir()
    elif target.exists():
        raise ConflictError(f"{rpc}: {target} exists and is not a directory; remove it")


def _usage(root: Path) -> tuple[int, int]:
    """Bytes and inodes used under ``root``, not following symlinks."""
    used_bytes, inodes = 0, 0
    for directory, _dirs, files in os.walk(root):
        inodes += 1
        for name in files:
            used_bytes += os.lstat(os.path.join(directory, name)).st_size
        inodes += len(files)  # os.walk lists symlinked directories but does not enter them
    return used_bytes, inodes
