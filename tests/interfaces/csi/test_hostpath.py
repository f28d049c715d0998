"""HostPathDriver's own behaviour, over gRPC: what publish does on disk, restarts, capacity,
cloning, attachment rules, ordering rules, and that a failed change leaves nothing behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from kcore.errors import (
    AlreadyExistsError,
    ConflictError,
    DataDirError,
    InvalidArgumentError,
    KcoreError,
    NotFoundError,
    PeerError,
)
from kcore.interfaces.csi import STAGED_MARKER, CSIClient, HostPathDriver, pb
from kcore.interfaces.csi._hostpath_state import HostPathState
from tests.interfaces.csi.conftest import NODE_ID, NodeDirs
from tests.interfaces.csi.sanity import mount_capability

MiB = 1 << 20
_Mode = pb.VolumeCapability.AccessMode
BLOCK = pb.VolumeCapability(
    block=pb.VolumeCapability.BlockVolume(), access_mode=_Mode(mode=_Mode.SINGLE_NODE_WRITER)
)


async def create(csi: CSIClient, name: str, size: int = 0, **extra: object) -> pb.Volume:
    request = pb.CreateVolumeRequest(
        name=name,
        volume_capabilities=[mount_capability()],
        **extra,  # type: ignore[arg-type]
    )
    if size:
        request.capacity_range.required_bytes = size
    return (await csi.create_volume(request)).volume


async def attach(
    csi: CSIClient,
    vid: str,
    node: str = NODE_ID,
    mode: pb.VolumeCapability.AccessMode.Mode = _Mode.SINGLE_NODE_WRITER,
) -> None:
    await csi.controller_publish_volume(
        pb.ControllerPublishVolumeRequest(
            volume_id=vid, node_id=node, volume_capability=mount_capability(mode)
        )
    )


async def stage(csi: CSIClient, vid: str, staging: Path) -> None:
    await csi.node_stage_volume(
        pb.NodeStageVolumeRequest(
            volume_id=vid, staging_target_path=str(staging), volume_capability=mount_capability()
        )
    )


def publish_request(
    vid: str, staging: Path, target: Path, readonly: bool = False
) -> pb.NodePublishVolumeRequest:
    return pb.NodePublishVolumeRequest(
        volume_id=vid,
        staging_target_path=str(staging),
        target_path=str(target),
        volume_capability=mount_capability(),
        readonly=readonly,
    )


async def ready_volume(csi: CSIClient, dirs: NodeDirs, name: str = "v") -> tuple[str, Path]:
    """A created, attached and staged volume, and its staging directory."""
    vid = (await create(csi, name)).volume_id
    await attach(csi, vid)
    staging = dirs.staging_dir()
    await stage(csi, vid, staging)
    return vid, staging


@pytest.mark.anyio
async def test_publish_is_a_symlink_to_the_volume_and_stage_a_marker(
    driver: HostPathDriver, client: CSIClient, node_dirs: NodeDirs
) -> None:
    vid, staging = await ready_volume(client, node_dirs)
    assert (staging / STAGED_MARKER).read_text() == vid + "\n"
    target = node_dirs.target_path()
    await client.node_publish_volume(publish_request(vid, staging, target))
    assert target.is_symlink() and target.resolve() == driver.volume_path(vid)
    (target / "data.txt").write_text("kept")
    assert (driver.volume_path(vid) / "data.txt").read_text() == "kept"
    await client.node_unpublish_volume(
        pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
    )
    assert not target.exists() and not target.is_symlink()
    assert (driver.volume_path(vid) / "data.txt").read_text() == "kept"
    await client.node_unstage_volume(
        pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
    )
    assert staging.is_dir() and not (staging / STAGED_MARKER).exists()


@pytest.mark.anyio
async def test_a_restarted_driver_knows_its_volumes_and_where_they_are(
    state_dir: Path, endpoint: str, node_dirs: NodeDirs
) -> None:
    first = HostPathDriver(state_dir, node_id=NODE_ID)
    async with first.serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        vid, staging = await ready_volume(csi, node_dirs, name="survivor")
        target = node_dirs.target_path()
        await csi.node_publish_volume(publish_request(vid, staging, target))
        (target / "file").write_text("before restart")

    second = HostPathDriver(state_dir, node_id=NODE_ID)
    async with second.serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        listed = await csi.list_volumes()
        assert [
            (e.volume.volume_id, list(e.status.published_node_ids)) for e in listed.entries
        ] == [(vid, [NODE_ID])]
        assert (await create(csi, "survivor")).volume_id == vid  # same name: same volume
        await csi.node_publish_volume(publish_request(vid, staging, target))  # same: OK
        with pytest.raises(AlreadyExistsError):
            await csi.node_publish_volume(publish_request(vid, staging, target, readonly=True))
        with pytest.raises(ConflictError, match="in use"):
            await csi.delete_volume(pb.DeleteVolumeRequest(volume_id=vid))
        assert (target / "file").read_text() == "before restart"
        await csi.node_unpublish_volume(
            pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        )
        await csi.node_unstage_volume(
            pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
        )
        await csi.controller_unpublish_volume(pb.ControllerUnpublishVolumeRequest(volume_id=vid))
        await csi.delete_volume(pb.DeleteVolumeRequest(volume_id=vid))
    assert HostPathDriver(state_dir, node_id=NODE_ID)._state.volumes == {}
    assert not any((state_dir / "volumes").iterdir())


@pytest.mark.anyio
async def test_capacity_is_accounted(state_dir: Path, endpoint: str) -> None:
    driver = HostPathDriver(state_dir, node_id=NODE_ID, capacity_bytes=100 * MiB)
    async with driver.serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        first = await create(csi, "a", 60 * MiB)
        capacity = await csi.get_capacity()
        assert capacity.available_capacity == 40 * MiB
        assert capacity.maximum_volume_size.value == 40 * MiB
        with pytest.raises(PeerError) as exhausted:
            await create(csi, "b", 60 * MiB)
        assert exhausted.value.grpc_code == "RESOURCE_EXHAUSTED"
        with pytest.raises(PeerError) as too_big:
            await create(csi, "c", 200 * MiB)
        assert too_big.value.grpc_code == "OUT_OF_RANGE"
        assert len((await csi.list_volumes()).entries) == 1
        await csi.delete_volume(pb.DeleteVolumeRequest(volume_id=first.volume_id))
        assert (await csi.get_capacity()).available_capacity == 100 * MiB


@pytest.mark.anyio
async def test_volume_sizes_and_name_compatibility(client: CSIClient) -> None:
    assert (await create(client, "default")).capacity_bytes == 1 << 30
    only_limit = pb.CreateVolumeRequest(
        name="small",
        capacity_range=pb.CapacityRange(limit_bytes=3 * MiB),
        volume_capabilities=[mount_capability()],
    )
    assert (await client.create_volume(only_limit)).volume.capacity_bytes == 3 * MiB
    bad_range = pb.CreateVolumeRequest()
    bad_range.CopyFrom(only_limit)
    bad_range.capacity_range.required_bytes = 4 * MiB
    with pytest.raises(InvalidArgumentError, match="raise limit_bytes"):
        await client.create_volume(bad_range)
    tuned = await create(client, "tuned", 8 * MiB, parameters={"tier": "fast"})
    # Compatible repeats: a range the volume satisfies, the same parameters.
    again = await create(client, "tuned", 2 * MiB, parameters={"tier": "fast"})
    assert again.volume_id == tuned.volume_id and again.capacity_bytes == 8 * MiB
    with pytest.raises(AlreadyExistsError, match="other parameters"):
        await create(client, "tuned", 8 * MiB, parameters={"tier": "slow"})


@pytest.mark.anyio
async def test_block_access_is_refused_and_not_confirmed(client: CSIClient) -> None:
    with pytest.raises(InvalidArgumentError, match="block access is not supported"):
        await client.create_volume(pb.CreateVolumeRequest(name="b", volume_capabilities=[BLOCK]))
    vid = (await create(client, "m")).volume_id
    answer = await client.validate_volume_capabilities(
        pb.ValidateVolumeCapabilitiesRequest(volume_id=vid, volume_capabilities=[BLOCK])
    )
    assert not answer.HasField("confirmed") and "block" in answer.message
    capacity = await client.get_capacity(pb.GetCapacityRequest(volume_capabilities=[BLOCK]))
    assert capacity.available_capacity == 0


@pytest.mark.anyio
async def test_clone_copies_the_source(driver: HostPathDriver, client: CSIClient) -> None:
    source = await create(client, "source", 4 * MiB)
    (driver.volume_path(source.volume_id) / "seed").write_text("grown")
    from_volume = pb.VolumeContentSource(
        volume=pb.VolumeContentSource.VolumeSource(volume_id=source.volume_id)
    )
    clone = await create(client, "clone", MiB, volume_content_source=from_volume)
    assert clone.capacity_bytes == 4 * MiB  # at least the source's size
    assert clone.content_source.volume.volume_id == source.volume_id
    assert (driver.volume_path(clone.volume_id) / "seed").read_text() == "grown"
    missing = pb.VolumeContentSource(volume=pb.VolumeContentSource.VolumeSource(volume_id="gone"))
    with pytest.raises(NotFoundError, match="source volume 'gone'"):
        await create(client, "orphan", volume_content_source=missing)
    snapshot = pb.VolumeContentSource(
        snapshot=pb.VolumeContentSource.SnapshotSource(snapshot_id="s1")
    )
    with pytest.raises(InvalidArgumentError, match="no snapshots"):
        await create(client, "snap", volume_content_source=snapshot)


@pytest.mark.anyio
async def test_attachment_rules(state_dir: Path, endpoint: str) -> None:
    driver = HostPathDriver(
        state_dir, node_id=NODE_ID, nodes=["node-b", "node-c"], max_volumes_per_node=2
    )
    async with driver.serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        single = (await create(csi, "single")).volume_id
        await attach(csi, single, NODE_ID)
        with pytest.raises(ConflictError, match="single-node access mode"):
            await attach(csi, single, "node-b")
        with pytest.raises(AlreadyExistsError):
            await attach(csi, single, NODE_ID, mode=_Mode.SINGLE_NODE_READER_ONLY)
        shared = (await create(csi, "shared")).volume_id
        await attach(csi, shared, NODE_ID, mode=_Mode.MULTI_NODE_READER_ONLY)
        await attach(csi, shared, "node-b", mode=_Mode.MULTI_NODE_READER_ONLY)
        third = (await create(csi, "third")).volume_id
        with pytest.raises(PeerError) as full:
            await attach(csi, third, NODE_ID)  # node-a already has two
        assert full.value.grpc_code == "RESOURCE_EXHAUSTED"
        # An empty node_id detaches from every node.
        await csi.controller_unpublish_volume(pb.ControllerUnpublishVolumeRequest(volume_id=shared))
        entries = (await csi.list_volumes()).entries
        assert {e.volume.volume_id: list(e.status.published_node_ids) for e in entries} == {
            single: [NODE_ID],
            shared: [],
            third: [],
        }


@pytest.mark.anyio
async def test_node_calls_in_the_wrong_order_are_failed_precondition(
    client: CSIClient, node_dirs: NodeDirs, tmp_path: Path
) -> None:
    vid = (await create(client, "v")).volume_id
    staging = node_dirs.staging_dir()
    with pytest.raises(ConflictError, match="ControllerPublishVolume first"):
        await stage(client, vid, staging)
    await attach(client, vid)
    with pytest.raises(ConflictError, match="not an existing directory"):
        await stage(client, vid, tmp_path / "no-such-staging")
    target = node_dirs.target_path()
    with pytest.raises(ConflictError, match="NodeStageVolume"):
        await client.node_publish_volume(publish_request(vid, staging, target))
    await stage(client, vid, staging)
    with pytest.raises(AlreadyExistsError, match="another path"):
        await stage(client, vid, node_dirs.staging_dir())
    with pytest.raises(ConflictError, match="parent directory"):
        await client.node_publish_volume(publish_request(vid, staging, tmp_path / "x" / "y"))
    crowded = node_dirs.target_path()
    crowded.mkdir()
    (crowded / "someone-elses").write_text("")
    with pytest.raises(ConflictError, match="non-empty directory"):
        await client.node_publish_volume(publish_request(vid, staging, crowded))
    empty = node_dirs.target_path()
    empty.mkdir()  # an empty directory at the target (older kubelets make one) is replaced
    await client.node_publish_volume(publish_request(vid, staging, empty))
    assert empty.is_symlink()
    with pytest.raises(ConflictError, match="still published"):
        await client.node_unstage_volume(
            pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
        )
    with pytest.raises(NotFoundError, match="neither published nor staged"):
        await client.node_get_volume_stats(
            pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(crowded))
        )
    at_staging = await client.node_get_volume_stats(
        pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(staging))
    )
    assert {u.unit for u in at_staging.usage} == {pb.VolumeUsage.BYTES, pb.VolumeUsage.INODES}


@pytest.mark.anyio
async def test_attach_not_required(state_dir: Path, endpoint: str, node_dirs: NodeDirs) -> None:
    driver = HostPathDriver(state_dir, node_id=NODE_ID, attach_required=False)
    async with driver.serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        ctrl = await csi.controller_get_capabilities()
        kinds = {c.rpc.type for c in ctrl.capabilities}
        assert pb.ControllerServiceCapability.RPC.PUBLISH_UNPUBLISH_VOLUME not in kinds
        vid = (await create(csi, "v")).volume_id
        await stage(csi, vid, node_dirs.staging_dir())


@pytest.mark.anyio
async def test_concurrent_creates_of_one_name_make_one_volume(client: CSIClient) -> None:
    ids: list[str] = []

    async def one() -> None:
        ids.append((await create(client, "racy", MiB)).volume_id)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert len(ids) == 10 and len(set(ids)) == 1
    assert len((await client.list_volumes()).entries) == 1


@pytest.mark.anyio
async def test_a_failed_save_changes_nothing(
    driver: HostPathDriver,
    client: CSIClient,
    node_dirs: NodeDirs,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vid, staging = await ready_volume(client, node_dirs)
    saved = (state_dir / "state.json").read_text()

    def broken_save(self: HostPathState) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(HostPathState, "save", broken_save)
    with pytest.raises(KcoreError, match="No space left"):
        await create(client, "doomed")
    target = node_dirs.target_path()
    with pytest.raises(KcoreError, match="No space left"):
        await client.node_publish_volume(publish_request(vid, staging, target))
    monkeypatch.undo()
    assert not target.exists() and not target.is_symlink()
    assert [e.volume.volume_id for e in (await client.list_volumes()).entries] == [vid]
    assert [p.name for p in (state_dir / "volumes").iterdir()] == [vid]
    assert (state_dir / "state.json").read_text() == saved
    await client.node_publish_volume(publish_request(vid, staging, target))  # works again
    assert target.is_symlink()


def test_damaged_state_is_refused_and_strays_are_swept(state_dir: Path) -> None:
    HostPathDriver(state_dir, node_id=NODE_ID)
    stray = state_dir / "volumes" / "left-by-a-crash"
    stray.mkdir()
    HostPathDriver(state_dir, node_id=NODE_ID)
    assert not stray.exists()
    (state_dir / "state.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(DataDirError, match=r"state\.json is damaged"):
        HostPathDriver(state_dir, node_id=NODE_ID)
    (state_dir / "state.json").write_text("{not json")
    with pytest.raises(DataDirError, match="remove the state directory"):
        HostPathDriver(state_dir, node_id=NODE_ID)


def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="domain-like"):
        HostPathDriver(tmp_path, name="-bad-")
    with pytest.raises(InvalidArgumentError, match="domain-like"):
        HostPathDriver(tmp_path, name="a" * 64)
    with pytest.raises(InvalidArgumentError, match="capacity_bytes"):
        HostPathDriver(tmp_path, capacity_bytes=0)
    with pytest.raises(InvalidArgumentError, match="node_id"):
        HostPathDriver(tmp_path, node_id="n" * 257)
