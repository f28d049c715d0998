"""A Python port of csi-sanity's core checks, usable against any CSI plugin endpoint.

kubernetes-csi/csi-test's csi-sanity is how the CSI world decides a plugin behaves: required
fields answer INVALID_ARGUMENT, every call is idempotent, unknown things answer the right code.
This suite makes the same checks (in kcore's own words and code) so kcore's own plugins, and
any plugin a user points it at, can be held to them::

    sanity = CSISanity(endpoint, staging_dir=make_dir, target_path=make_target)
    async with sanity:
        await sanity.run("check_full_lifecycle_is_idempotent")

``staging_dir()`` returns a fresh existing directory (the CO creates staging directories);
``target_path()`` a fresh path whose parent exists (the plugin creates the target). Checks
adapt to the capabilities the plugin advertises, as csi-sanity does, and delete the volumes
they create.
"""

from __future__ import annotations

import uuid

from kcore.interfaces.csi import pb
from tests.interfaces.csi.sanity_harness import (
    Cases,
    SanityFailure,
    SanityHarness,
    expect_code,
    mount_capability,
    without,
)

__all__ = ["CHECKS", "CSISanity", "SanityFailure", "mount_capability"]

_Mode = pb.VolumeCapability.AccessMode
_Ctrl = pb.ControllerServiceCapability.RPC
_Node = pb.NodeServiceCapability.RPC


class CSISanity(SanityHarness):
    """csi-sanity's core checks against the plugin at ``endpoint``; ``async with`` to use."""

    async def check_identity(self) -> None:
        info = await self.csi.get_plugin_info()
        if not info.name or len(info.name) > 63:
            raise SanityFailure(f"GetPluginInfo name {info.name!r}: must be 1..63 characters")
        if not info.vendor_version:
            raise SanityFailure("GetPluginInfo vendor_version is empty; it is required")
        await self.csi.get_plugin_capabilities()
        probe = await self.csi.probe()
        if probe.HasField("ready") and not probe.ready.value:
            raise SanityFailure("Probe says the plugin is not ready")
        if not self.node_id:
            raise SanityFailure("NodeGetInfo node_id is empty; it is required")

    async def check_missing_fields_are_invalid_argument(self) -> None:
        volume = await self.create()
        vid, staging, target = volume.volume_id, self.staging_dir(), self.target_path()
        cap = mount_capability()
        no_type = pb.VolumeCapability(access_mode=_Mode(mode=_Mode.SINGLE_NODE_WRITER))
        no_mode = pb.VolumeCapability(mount=pb.VolumeCapability.MountVolume())
        csi, node = self.csi, self.node_id
        cases: Cases = [
            ("CreateVolume without name", lambda: csi.create_volume(self._create_without("name"))),
            (
                "CreateVolume without capabilities",
                lambda: csi.create_volume(self._create_without("volume_capabilities")),
            ),
            (
                "CreateVolume with a capability lacking an access type",
                lambda: csi.create_volume(
                    pb.CreateVolumeRequest(name="x", volume_capabilities=[no_type])
                ),
            ),
            (
                "CreateVolume with a capability lacking an access mode",
                lambda: csi.create_volume(
                    pb.CreateVolumeRequest(name="x", volume_capabilities=[no_mode])
                ),
            ),
            ("DeleteVolume without volume_id", lambda: csi.delete_volume(pb.DeleteVolumeRequest())),
            (
                "ValidateVolumeCapabilities without volume_id",
                lambda: csi.validate_volume_capabilities(
                    pb.ValidateVolumeCapabilitiesRequest(volume_capabilities=[cap])
                ),
            ),
            (
                "ValidateVolumeCapabilities without capabilities",
                lambda: csi.validate_volume_capabilities(
                    pb.ValidateVolumeCapabilitiesRequest(volume_id=vid)
                ),
            ),
            (
                "NodePublishVolume without volume_id",
                lambda: csi.node_publish_volume(
                    self._publish_without(vid, staging, target, "volume_id")
                ),
            ),
            (
                "NodePublishVolume without target_path",
                lambda: csi.node_publish_volume(
                    self._publish_without(vid, staging, target, "target_path")
                ),
            ),
            (
                "NodePublishVolume without volume_capability",
                lambda: csi.node_publish_volume(
                    self._publish_without(vid, staging, target, "volume_capability")
                ),
            ),
            (
                "NodeUnpublishVolume without volume_id",
                lambda: csi.node_unpublish_volume(
                    pb.NodeUnpublishVolumeRequest(target_path=str(target))
                ),
            ),
            (
                "NodeUnpublishVolume without target_path",
                lambda: csi.node_unpublish_volume(pb.NodeUnpublishVolumeRequest(volume_id=vid)),
            ),
        ]
        if _Node.GET_VOLUME_STATS in self.node_caps:
            cases += [
                (
                    "NodeGetVolumeStats without volume_id",
                    lambda: csi.node_get_volume_stats(
                        pb.NodeGetVolumeStatsRequest(volume_path=str(target))
                    ),
                ),
                (
                    "NodeGetVolumeStats without volume_path",
                    lambda: csi.node_get_volume_stats(pb.NodeGetVolumeStatsRequest(volume_id=vid)),
                ),
            ]
        if self.attaches:
            publish = pb.ControllerPublishVolumeRequest
            cases += [
                (
                    "ControllerPublishVolume without volume_id",
                    lambda: csi.controller_publish_volume(
                        publish(node_id=node, volume_capability=cap)
                    ),
                ),
                (
                    "ControllerPublishVolume without node_id",
                    lambda: csi.controller_publish_volume(
                        publish(volume_id=vid, volume_capability=cap)
                    ),
                ),
                (
                    "ControllerPublishVolume without volume_capability",
                    lambda: csi.controller_publish_volume(publish(volume_id=vid, node_id=node)),
                ),
                (
                    "ControllerUnpublishVolume without volume_id",
                    lambda: csi.controller_unpublish_volume(
                        pb.ControllerUnpublishVolumeRequest(node_id=node)
                    ),
                ),
            ]
        if self.stages:
            stage = self.stage_request(vid, staging)
            cases += [
                (
                    "NodeStageVolume without volume_id",
                    lambda: csi.node_stage_volume(without(stage, "volume_id")),
                ),
                (
                    "NodeStageVolume without staging_target_path",
                    lambda: csi.node_stage_volume(without(stage, "staging_target_path")),
                ),
                (
                    "NodeStageVolume without volume_capability",
                    lambda: csi.node_stage_volume(without(stage, "volume_capability")),
                ),
                (
                    "NodeUnstageVolume without volume_id",
                    lambda: csi.node_unstage_volume(
                        pb.NodeUnstageVolumeRequest(staging_target_path=str(staging))
                    ),
                ),
                (
                    "NodeUnstageVolume without staging_target_path",
                    lambda: csi.node_unstage_volume(pb.NodeUnstageVolumeRequest(volume_id=vid)),
                ),
            ]
        for what, call in cases:
            await expect_code("INVALID_ARGUMENT", call(), what)
        if self.stages:
            # The spec's error table gives this case its own code: the CO skipped staging.
            await expect_code(
                "FAILED_PRECONDITION",
                csi.node_publish_volume(
                    self._publish_without(vid, staging, target, "staging_target_path")
                ),
                "NodePublishVolume without staging_target_path from a plugin that stages",
            )
        if target.exists() or target.is_symlink():
            raise SanityFailure(f"a rejected NodePublishVolume left {target} behind")

    async def check_create_volume_is_idempotent(self) -> None:
        name = f"sanity-idem-{uuid.uuid4().hex[:8]}"
        first = await self.create(name)
        second = await self.create(name)
        if second.volume_id != first.volume_id:
            raise SanityFailure(
                f"CreateVolume twice with name {name!r} gave two volumes "
                f"({first.volume_id}, {second.volume_id})"
            )
        if first.capacity_bytes and first.capacity_bytes < self.volume_bytes:
            raise SanityFailure(
                f"CreateVolume gave {first.capacity_bytes} bytes for {self.volume_bytes} asked"
            )
        other = self.create_request(name, self.volume_bytes * 2)
        other.capacity_range.limit_bytes = self.volume_bytes * 2
        await expect_code(
            "ALREADY_EXISTS",
            self.csi.create_volume(other),
            "CreateVolume of an existing name with another size",
        )

    async def check_max_length_names(self) -> None:
        name = "v" * 128
        volume = await self.create(name)
        again = await self.create(name)
        if again.volume_id != volume.volume_id:
            raise SanityFailure("CreateVolume with a 128-byte name is not idempotent")
        await expect_code(
            "INVALID_ARGUMENT",
            self.csi.create_volume(self.create_request("v" * 129)),
            "CreateVolume with a 129-byte name (over the spec's 128-byte limit)",
        )

    async def check_delete_unknown_volume_is_ok(self) -> None:
        unknown = pb.DeleteVolumeRequest(volume_id=f"no-such-volume-{uuid.uuid4().hex[:8]}")
        await self.csi.delete_volume(unknown)
        await self.csi.delete_volume(unknown)
        volume = await self.create()
        await self.delete(volume.volume_id)
        await self.csi.delete_volume(pb.DeleteVolumeRequest(volume_id=volume.volume_id))

    async def check_list_volumes_pagination(self) -> None:
        if _Ctrl.LIST_VOLUMES not in self.controller_caps:
            return
        created = {(await self.create()).volume_id for _ in range(5)}
        seen: list[str] = []
        token = ""
        for _ in range(20):  # bounded: 5 volumes in pages of 2 need 3 pages
            page = await self.csi.list_volumes(
                pb.ListVolumesRequest(max_entries=2, starting_token=token)
            )
            if len(page.entries) > 2:
                raise SanityFailure(f"ListVolumes max_entries=2 returned {len(page.entries)}")
            seen += [e.volume.volume_id for e in page.entries]
            token = page.next_token
            if not token:
                break
        else:
            raise SanityFailure("ListVolumes kept returning a next_token after 20 pages")
        if len(seen) != len(set(seen)) or not created <= set(seen):
            raise SanityFailure(f"paging ListVolumes saw {seen}, expected each of {created} once")
        await expect_code(
            "ABORTED",
            self.csi.list_volumes(pb.ListVolumesRequest(starting_token="no-such-token")),
            "ListVolumes with a starting_token the plugin never issued",
        )

    async def check_list_volumes_token_survives_changes(self) -> None:
        """A page's token stays valid when its last volume is deleted; new volumes show up."""
        if _Ctrl.LIST_VOLUMES not in self.controller_caps:
            return
        for _ in range(3):
            await self.create()
        everything = await self.csi.list_volumes()
        first = await self.csi.list_volumes(pb.ListVolumesRequest(max_entries=2))
        if not first.next_token:
            raise SanityFailure("ListVolumes max_entries=2 over 3+ volumes gave no next_token")
        await self.delete(first.entries[-1].volume.volume_id)
        added = await self.create()
        rest = await self.csi.list_volumes(pb.ListVolumesRequest(starting_token=first.next_token))
        got = {e.volume.volume_id for e in first.entries[:-1]} | {
            e.volume.volume_id for e in rest.entries
        }
        expected = {e.volume.volume_id for e in everything.entries} - {
            first.entries[-1].volume.volume_id
        }
        if not expected <= got or added.volume_id not in got:
            raise SanityFailure(f"after a deletion and a creation, paging saw {got}")

    async def check_full_lifecycle_is_idempotent(self) -> None:
        """create, attach, stage, publish, stats, and back, every step made twice."""
        csi = self.csi
        volume = await self.create()
        vid = volume.volume_id
        staging = await self.attach_and_stage(vid)
        await self._repeat_attach_and_stage(vid, staging)
        target = self.target_path()
        for _ in range(2):
            await csi.node_publish_volume(self.publish_request(vid, staging, target))
        if not target.exists():
            raise SanityFailure(f"NodePublishVolume did not create the target path {target}")
        if _Node.GET_VOLUME_STATS in self.node_caps:
            stats = await csi.node_get_volume_stats(
                pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(target))
            )
            if not stats.usage:
                raise SanityFailure("NodeGetVolumeStats returned no usage")
        for _ in range(2):
            await csi.node_unpublish_volume(
                pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
            )
        if target.exists() or target.is_symlink():
            raise SanityFailure(f"NodeUnpublishVolume left the target path {target}")
        for _ in range(2):
            await self.unstage_and_detach(vid, staging)
        for _ in range(2):
            await self.delete(vid)

    async def check_incompatible_repeats_already_exist(self) -> None:
        volume = await self.create()
        vid = volume.volume_id
        staging = await self.attach_and_stage(vid)
        if staging is not None:
            other = self.stage_request(vid, staging)
            other.volume_capability.access_mode.mode = _Mode.SINGLE_NODE_READER_ONLY
            await expect_code(
                "ALREADY_EXISTS",
                self.csi.node_stage_volume(other),
                "NodeStageVolume at the same path with another capability",
            )
        target = self.target_path()
        await self.csi.node_publish_volume(self.publish_request(vid, staging, target))
        await expect_code(
            "ALREADY_EXISTS",
            self.csi.node_publish_volume(self.publish_request(vid, staging, target, readonly=True)),
            "NodePublishVolume at the same target path with another readonly flag",
        )
        await self.csi.node_unpublish_volume(
            pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        )
        await self.unstage_and_detach(vid, staging)

    async def check_unknown_volumes_are_not_found(self) -> None:
        missing = f"no-such-volume-{uuid.uuid4().hex[:8]}"
        staging, target = self.staging_dir(), self.target_path()
        csi = self.csi
        cases: Cases = [
            (
                "ValidateVolumeCapabilities of an unknown volume",
                lambda: csi.validate_volume_capabilities(
                    pb.ValidateVolumeCapabilitiesRequest(
                        volume_id=missing, volume_capabilities=[mount_capability()]
                    )
                ),
            ),
            (
                "NodePublishVolume of an unknown volume",
                lambda: csi.node_publish_volume(self.publish_request(missing, staging, target)),
            ),
            (
                "NodeUnpublishVolume of an unknown volume",
                lambda: csi.node_unpublish_volume(
                    pb.NodeUnpublishVolumeRequest(volume_id=missing, target_path=str(target))
                ),
            ),
        ]
        if _Node.GET_VOLUME_STATS in self.node_caps:
            cases.append(
                (
                    "NodeGetVolumeStats of an unknown volume",
                    lambda: csi.node_get_volume_stats(
                        pb.NodeGetVolumeStatsRequest(volume_id=missing, volume_path=str(target))
                    ),
                )
            )
        if self.attaches:
            cases.append(
                (
                    "ControllerPublishVolume of an unknown volume",
                    lambda: csi.controller_publish_volume(
                        pb.ControllerPublishVolumeRequest(
                            volume_id=missing,
                            node_id=self.node_id,
                            volume_capability=mount_capability(),
                        )
                    ),
                )
            )
        if self.stages:
            cases.append(
                (
                    "NodeStageVolume of an unknown volume",
                    lambda: csi.node_stage_volume(self.stage_request(missing, staging)),
                )
            )
            cases.append(
                (
                    "NodeUnstageVolume of an unknown volume",
                    lambda: csi.node_unstage_volume(
                        pb.NodeUnstageVolumeRequest(
                            volume_id=missing, staging_target_path=str(staging)
                        )
                    ),
                )
            )
        for what, call in cases:
            await expect_code("NOT_FOUND", call(), what)
        if self.attaches:
            volume = await self.create()
            await expect_code(
                "NOT_FOUND",
                csi.controller_publish_volume(
                    pb.ControllerPublishVolumeRequest(
                        volume_id=volume.volume_id,
                        node_id=f"no-such-node-{uuid.uuid4().hex[:8]}",
                        volume_capability=mount_capability(),
                    )
                ),
                "ControllerPublishVolume to an unknown node",
            )
            # Unpublishing what was never published succeeds.
            await csi.controller_unpublish_volume(
                pb.ControllerUnpublishVolumeRequest(volume_id=missing, node_id=self.node_id)
            )

    async def check_validate_volume_capabilities(self) -> None:
        volume = await self.create()
        response = await self.csi.validate_volume_capabilities(
            pb.ValidateVolumeCapabilitiesRequest(
                volume_id=volume.volume_id, volume_capabilities=[mount_capability()]
            )
        )
        if not response.HasField("confirmed"):
            raise SanityFailure(
                f"ValidateVolumeCapabilities did not confirm the capability the volume was "
                f"created with: {response.message}"
            )

    async def check_get_capacity(self) -> None:
        if _Ctrl.GET_CAPACITY not in self.controller_caps:
            return
        response = await self.csi.get_capacity(
            pb.GetCapacityRequest(volume_capabilities=[mount_capability()])
        )
        if response.available_capacity < 0:
            raise SanityFailure(f"GetCapacity reported {response.available_capacity} bytes")


CHECKS: tuple[str, ...] = tuple(name for name in dir(CSISanity) if name.startswith("check_"))
