"""What the host-path CSI driver remembers, how that survives a restart, and its shared base.

A CSI plugin must answer a repeated call the way it answered the first, even across a restart
(kubelet and the sidecars retry after a plugin crash), so every volume, attachment, staging and
publication is kept in ``<state_dir>/state.json``. It is rewritten whole on every change, via a
temporary file, fsync and rename, so a crash leaves the old or the new state, never half of
one. Capabilities are stored as their protobuf JSON form (readable, and compared for
"compatible" by equality). Volume data lives beside it in ``<state_dir>/volumes/<volume_id>``.

:class:`StateOwner` is what the controller half and the node half of the driver
(``_hostpath_controller``, ``_hostpath_node``) both build on: the driver's settings, the state,
and :meth:`StateOwner._change`, which persists a change or, if anything fails, undoes it, so a
failed RPC changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from kcore.errors import DataDirError, InvalidArgumentError, NotFoundError
from kcore.interfaces.csi._pb import csi_pb2 as pb

__all__ = [
    "Attachment",
    "HostPathState",
    "Publication",
    "Staging",
    "StateOwner",
    "VolumeRecord",
    "as_json",
    "remove_tree",
    "require_supported",
    "unsupported",
]

_FORMAT = 1


def as_json(message: Message) -> dict[str, Any]:
    """A message as the plain dict stored in state.json (and compared for compatibility)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@dataclass
class Attachment:
    """ControllerPublishVolume to one node."""

    capability: dict[str, Any]
    readonly: bool


@dataclass
class Staging:
    """NodeStageVolume on this node: where, and with which capability."""

    path: str
    capability: dict[str, Any]


@dataclass
class Publication:
    """NodePublishVolume at one target path; all of it must match for a repeat to be OK."""

    staging_path: str
    capability: dict[str, Any]
    readonly: bool
    volume_context: dict[str, str]


@dataclass
class VolumeRecord:
    volume_id: str
    name: str
    seq: int  # creation order; ListVolumes pages by it, so tokens survive deletions
    capacity_bytes: int
    parameters: dict[str, str]
    content_source: dict[str, Any]
    attachments: dict[str, Attachment] = field(default_factory=dict)
    staging: Staging | None = None
    publications: dict[str, Publication] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> VolumeRecord:
        staging = raw.get("staging")
        return cls(
            volume_id=raw["volume_id"],
            name=raw["name"],
            seq=int(raw["seq"]),
            capacity_bytes=int(raw["capacity_bytes"]),
            parameters=dict(raw["parameters"]),
            content_source=dict(raw["content_source"]),
            attachments={k: Attachment(**v) for k, v in raw["attachments"].items()},
            staging=Staging(**staging) if staging is not None else None,
            publications={k: Publication(**v) for k, v in raw["publications"].items()},
        )

    def in_use(self) -> list[str]:
        """Why the volume may not be deleted now (empty when it may)."""
        reasons = [f"controller-published to node {node!r}" for node in sorted(self.attachments)]
        if self.staging is not None:
            reasons.append(f"staged at {self.staging.path}")
        reasons += [f"published at {target}" for target in sorted(self.publications)]
        return reasons


class HostPathState:
    """The driver's volumes, loaded from and saved to ``<state_dir>/state.json``."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.file = state_dir / "state.json"
        self.volumes_dir = state_dir / "volumes"
        self.volumes: dict[str, VolumeRecord] = {}
        self.next_seq = 1

    def volume_dir(self, volume_id: str) -> Path:
        return self.volumes_dir / volume_id

    def by_name(self, name: str) -> VolumeRecord | None:
        return next((v for v in self.volumes.values() if v.name == name), None)

    def load(self) -> None:
        """Read state.json (if any); drop volume directories no record claims (a crash's)."""
        self.volumes_dir.mkdir(parents=True, exist_ok=True)
        try:
            text = self.file.read_text()
        except FileNotFoundError:
            text = None
        if text is not None:
            try:
                raw = json.loads(text)
                if raw.get("format") != _FORMAT:
                    raise ValueError(f"format {raw.get('format')!r}, expected {_FORMAT}")
                self.next_seq = int(raw["next_seq"])
                self.volumes = {vid: VolumeRecord.from_json(v) for vid, v in raw["volumes"].items()}
            except (ValueError, KeyError, TypeError) as err:
                raise DataDirError(
                    f"host-path CSI state {self.file} is damaged ({err}); restore it from a "
                    "backup or remove the state directory to start with no volumes"
                ) from None
        for leftover in self.volumes_dir.iterdir():
            if leftover.name not in self.volumes:
                remove_tree(leftover)

    def save(self) -> None:
        payload = {
            "format": _FORMAT,
            "next_seq": self.next_seq,
            "volumes": {vid: asdict(v) for vid, v in self.volumes.items()},
        }
        tmp = self.file.with_name(self.file.name + ".tmp")
        with tmp.open("w") as out:
            json.dump(payload, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.file)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def snapshot(self) -> str:
        """The state as text, to restore with :meth:`restore` if a change fails half-way."""
        return json.dumps(
            {"next_seq": self.next_seq, "volumes": {k: asdict(v) for k, v in self.volumes.items()}}
        )

    def restore(self, snapshot: str) -> None:
        raw = json.loads(snapshot)
        self.next_seq = raw["next_seq"]
        self.volumes = {k: VolumeRecord.from_json(v) for k, v in raw["volumes"].items()}


def unsupported(caps: Iterable[pb.VolumeCapability]) -> str:
    """Why these capabilities cannot be served ("" if they can)."""
    for cap in caps:
        if cap.HasField("block"):
            return "block access is not supported: host-path volumes are directories"
    return ""


def require_supported(rpc: str, caps: Iterable[pb.VolumeCapability]) -> None:
    problem = unsupported(caps)
    if problem:
        raise InvalidArgumentError(f"{rpc}: {problem}; ask for mount access")


def remove_tree(path: Path) -> None:
    """Remove a file or directory tree; symlinks inside are removed, never followed."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


class StateOwner:
    """The settings and state both halves of the host-path driver work on."""

    name: str
    node_id: str
    nodes: frozenset[str]
    capacity_bytes: int | None
    default_volume_bytes: int
    max_volumes_per_node: int
    attach_required: bool
    _state: HostPathState

    @contextmanager
    def _change(self) -> Iterator[None]:
        """Apply a change to the state and persist it; on any failure, keep the old state."""
        before = self._state.snapshot()
        try:
            yield
            self._state.save()
        except BaseException:
            self._state.restore(before)
            raise

    def _volume(self, rpc: str, volume_id: str) -> VolumeRecord:
        volume = self._state.volumes.get(volume_id)
        if volume is None:
            raise NotFoundError(
                f"{rpc}: volume {volume_id!r} does not exist on {self.name}; "
                "create it with CreateVolume or check the id"
            )
        return volume
