"""CSIClient against CSIServer over real unix sockets: every RPC, and how failures surface.

Covers the plumbing a CO relies on: each of the 18 RPCs round-trips with the HostPathDriver,
a plugin that is down is UnavailableError naming the endpoint, an RPC a plugin does not
implement is UnimplementedError naming the method, and a request that does not parse (or a
plugin bug) fails that one call while the server keeps serving.
"""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import grpc.aio
import pytest

from kcore.errors import (
    ConflictError,
    InvalidArgumentError,
    PeerError,
    UnavailableError,
    UnimplementedError,
)
from kcore.interfaces.csi import CSIClient, CSIServer, HostPathDriver, pb
from kcore.interfaces.csi._rpcs import RPCS
from tests.interfaces.csi.conftest import NODE_ID, NodeDirs
from tests.interfaces.csi.sanity import mount_capability

_Ctrl = pb.ControllerServiceCapability.RPC
_Node = pb.NodeServiceCapability.RPC


class _Recording(CSIClient):
    """Remembers which RPCs it made, so the test can prove it made all of them."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint, timeout=10.0)
        self.called: set[str] = set()

    async def _call(self, rpc, request, response, timeout):  # type: ignore[no-untyped-def]
        self.called.add(rpc)
        return await super()._call(rpc, request, response, timeout)


@pytest.mark.anyio
async def test_every_rpc_round_trips(served: str, node_dirs: NodeDirs) -> None:
    csi = _Recording(served)
    async with csi:
        info = await csi.get_plugin_info()
        assert (info.name, info.vendor_version) == ("hostpath.csi.kcore.dev", "0.1.0")
        caps = await csi.get_plugin_capabilities()
        assert [c.service.type for c in caps.capabilities] == [
            pb.PluginCapability.Service.CONTROLLER_SERVICE
        ]
        assert (await csi.probe()).ready.value is True
        ctrl = {c.rpc.type for c in (await csi.controller_get_capabilities()).capabilities}
        assert {_Ctrl.CREATE_DELETE_VOLUME, _Ctrl.PUBLISH_UNPUBLISH_VOLUME} <= ctrl
        node = {c.rpc.type for c in (await csi.node_get_capabilities()).capabilities}
        assert node == {_Node.STAGE_UNSTAGE_VOLUME, _Node.GET_VOLUME_STATS}
        assert (await csi.node_get_info()).node_id == NODE_ID

        created = await csi.create_volume(
            pb.CreateVolumeRequest(
                name="data",
                capacity_range=pb.CapacityRange(required_bytes=5 << 20),
                volume_capabilities=[mount_capability()],
                parameters={"tier": "fast"},
            )
        )
        vid = created.volume.volume_id
        assert created.volume.capacity_bytes == 5 << 20
        valid = await csi.validate_volume_capabilities(
            pb.ValidateVolumeCapabilitiesRequest(
                volume_id=vid, volume_capabilities=[mount_capability()], parameters={"tier": "fast"}
            )
        )
        assert list(valid.confirmed.volume_capabilities) == [mount_capability()]
        capacity = await csi.get_capacity()
        assert capacity.available_capacity > 0
        await csi.controller_publish_volume(
            pb.ControllerPublishVolumeRequest(
                volume_id=vid, node_id=NODE_ID, volume_capability=mount_capability()
            )
        )
        listed = await csi.list_volumes()
        assert [
            (e.volume.volume_id, list(e.status.published_node_ids)) for e in listed.entries
        ] == [(vid, [NODE_ID])]
        staging, target = node_dirs.staging_dir(), node_dirs.target_path()
        await csi.node_stage_volume(
            pb.NodeStageVolumeRequest(
                volume_id=vid,
                staging_target_path=str(staging),
                volume_capability=mount_capability(),
            )
        )
        await csi.node_publish_volume(
            pb.NodePublishVolumeRequest(
                volume_id=vid,
                staging_target_path=str(staging),
                target_path=str(target),
                volume_capability=mount_capability(),
            )
        )
        (target / "hello.txt").write_bytes(b"x" * 1000)
        stats = await csi.node_get_volume_stats(
            pb.NodeGetVolumeStatsRequest(volume_id=vid, volume_path=str(target))
        )
        usage = {u.unit: u for u in stats.usage}
        assert usage[pb.VolumeUsage.BYTES].used == 1000
        assert usage[pb.VolumeUsage.BYTES].total == 5 << 20
        await csi.node_unpublish_volume(
            pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=str(target))
        )
        await csi.node_unstage_volume(
            pb.NodeUnstageVolumeRequest(volume_id=vid, staging_target_path=str(staging))
        )
        await csi.controller_unpublish_volume(
            pb.ControllerUnpublishVolumeRequest(volume_id=vid, node_id=NODE_ID)
        )
        await csi.delete_volume(pb.DeleteVolumeRequest(volume_id=vid))
        assert not (await csi.list_volumes()).entries
        assert csi.called == {rpc.name for rpc in RPCS}


@pytest.mark.anyio
async def test_a_plugin_that_is_down_is_unavailable_naming_the_endpoint(sock_dir: Path) -> None:
    endpoint = f"unix://{sock_dir}/nobody-here.sock"
    async with CSIClient(endpoint, timeout=5.0) as csi:
        with pytest.raises(UnavailableError) as caught:
            await csi.probe()
    assert endpoint in str(caught.value)
    assert "/csi.v1.Identity/Probe" in str(caught.value)


class _IdentityOnly(CSIServer):
    async def get_plugin_info(self, request: pb.GetPluginInfoRequest) -> pb.GetPluginInfoResponse:
        return pb.GetPluginInfoResponse(name="identity.only.test", vendor_version="1")

    async def probe(self, request: pb.ProbeRequest) -> pb.ProbeResponse:
        raise RuntimeError("plugin bug")


@pytest.mark.anyio
async def test_unimplemented_rpcs_name_the_method(endpoint: str) -> None:
    plugin = _IdentityOnly()
    assert plugin.implements("GetPluginInfo") and not plugin.implements("CreateVolume")
    async with plugin.serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        assert (await csi.get_plugin_info()).name == "identity.only.test"
        # Unimplemented wins over validation: an empty CreateVolume is not INVALID_ARGUMENT.
        with pytest.raises(UnimplementedError) as caught:
            await csi.create_volume(pb.CreateVolumeRequest())
        assert "/csi.v1.Controller/CreateVolume" in str(caught.value)
        assert "_IdentityOnly" in str(caught.value)
        with pytest.raises(UnimplementedError, match=re.escape("/csi.v1.Node/NodeGetInfo")):
            await csi.node_get_info()


@pytest.mark.anyio
async def test_a_plugin_bug_fails_one_call_and_the_server_keeps_serving(endpoint: str) -> None:
    async with _IdentityOnly().serve(endpoint) as server, CSIClient(server.endpoint) as csi:
        with pytest.raises(PeerError, match="INTERNAL: RuntimeError: plugin bug") as caught:
            await csi.probe()
        assert caught.value.grpc_code == "INTERNAL"
        assert (await csi.get_plugin_info()).vendor_version == "1"


@pytest.mark.anyio
async def test_garbage_request_bytes_do_not_crash_the_server(served: str) -> None:
    async with grpc.aio.insecure_channel(served) as channel:
        raw = channel.unary_unary(
            "/csi.v1.Controller/CreateVolume",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\x7f", b"\x08" + b"\x80" * 11):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await raw(garbage, timeout=5.0)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "does not parse" in (caught.value.details() or "")
    async with CSIClient(served) as csi:
        assert (await csi.probe()).ready.value is True
        assert not (await csi.list_volumes()).entries  # nothing was created by the garbage


@pytest.mark.anyio
async def test_rejections_name_rpc_and_field(client: CSIClient) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await client.create_volume(pb.CreateVolumeRequest(name="x" * 129))
    assert "CreateVolume: name is 129 bytes; the limit is 128" in str(caught.value)
    with pytest.raises(ConflictError, match="NodePublishVolume: staging_target_path is not set"):
        await client.node_publish_volume(
            pb.NodePublishVolumeRequest(
                volume_id="v", target_path="/tmp/t", volume_capability=mount_capability()
            )
        )


@pytest.mark.anyio
async def test_probe_reports_not_ready(driver: HostPathDriver, client: CSIClient) -> None:
    driver.ready = False
    response = await client.probe()
    assert response.HasField("ready") and response.ready.value is False
