"""kcore's port of csi-sanity, run against HostPathDriver over a real unix socket.

Each check gets a fresh driver (fresh state directory) so checks cannot lean on each other.
The suite is itself checked: drivers broken on purpose must fail the check that covers them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kcore.interfaces.csi import HostPathDriver, pb
from tests.interfaces.csi.conftest import NodeDirs
from tests.interfaces.csi.sanity import CHECKS, CSISanity, SanityFailure


def test_the_suite_has_the_core_checks() -> None:
    assert {
        "check_missing_fields_are_invalid_argument",
        "check_create_volume_is_idempotent",
        "check_max_length_names",
        "check_delete_unknown_volume_is_ok",
        "check_list_volumes_pagination",
        "check_full_lifecycle_is_idempotent",
        "check_unknown_volumes_are_not_found",
    } <= set(CHECKS)


@pytest.mark.anyio
@pytest.mark.parametrize("check", CHECKS)
async def test_hostpath_driver_passes(check: str, served: str, node_dirs: NodeDirs) -> None:
    sanity = CSISanity(served, staging_dir=node_dirs.staging_dir, target_path=node_dirs.target_path)
    async with sanity:
        await sanity.run(check)


class _AcceptsAnything(HostPathDriver):
    validates_requests = False


class _ForgetsToRemoveTargets(HostPathDriver):
    async def node_unpublish_volume(
        self, request: pb.NodeUnpublishVolumeRequest
    ) -> pb.NodeUnpublishVolumeResponse:
        return pb.NodeUnpublishVolumeResponse()


class _IgnoresTokens(HostPathDriver):
    async def list_volumes(self, request: pb.ListVolumesRequest) -> pb.ListVolumesResponse:
        return await super().list_volumes(pb.ListVolumesRequest(max_entries=request.max_entries))


class _NotIdempotent(HostPathDriver):
    async def create_volume(self, request: pb.CreateVolumeRequest) -> pb.CreateVolumeResponse:
        request.name += uuid.uuid4().hex[:6]
        return await super().create_volume(request)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("broken", "check", "complaint"),
    [
        (_AcceptsAnything, "check_missing_fields_are_invalid_argument", "expected INVALID_ARG"),
        (_ForgetsToRemoveTargets, "check_full_lifecycle_is_idempotent", "left the target"),
        (_IgnoresTokens, "check_list_volumes_pagination", "next_token"),
        (_NotIdempotent, "check_create_volume_is_idempotent", "two volumes"),
    ],
)
async def test_the_suite_catches_a_broken_plugin(
    broken: type[HostPathDriver],
    check: str,
    complaint: str,
    tmp_path: Path,
    endpoint: str,
    node_dirs: NodeDirs,
) -> None:
    driver = broken(tmp_path / "broken-state", node_id="node-a")
    async with driver.serve(endpoint) as server:
        sanity = CSISanity(
            server.endpoint, staging_dir=node_dirs.staging_dir, target_path=node_dirs.target_path
        )
        with pytest.raises(SanityFailure, match=complaint):
            async with sanity:
                await sanity.run(check)
