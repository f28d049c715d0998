"""Against a real containerd 1.6: the same CRIClient, and the suite's checks that need no
image pulls (this machine is offline, and a sandbox needs the pause image from a registry).

``ContainerdProcess`` runs containerd with a private config, root, state and socket in a temp
dir, with a bridge network config in its private CNI directory so that NetworkReady is true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kcore import errors
from kcore.testing.containerd import ContainerdProcess, ContainerdStartError
from tests.conftest import require_peer
from tests.interfaces.cri.suite import CHECKS, run_suite

CONFLIST = {
    "cniVersion": "1.0.0",
    "name": "kcore-test",
    "plugins": [
        {
            "type": "bridge",
            "bridge": "kcore-cri0",
            "ipam": {"type": "host-local", "subnet": "10.251.0.0/24"},
        }
    ],
}

pytestmark = [pytest.mark.peers, pytest.mark.anyio]


@pytest.fixture
async def containerd() -> AsyncIterator[ContainerdProcess]:
    require_peer("containerd")
    async with ContainerdProcess(cni_conflist=CONFLIST) as process:
        yield process


async def test_containerd_answers_through_the_client(containerd: ContainerdProcess) -> None:
    async with containerd.client() as cri:
        version = await cri.version()
        assert version.runtime_name == "containerd"
        assert version.runtime_api_version == "v1"
        assert version.runtime_version.startswith("1.6")
        conditions = {c.type: c.status for c in (await cri.status()).status.conditions}
        assert conditions == {"RuntimeReady": True, "NetworkReady": True}
        assert await cri.list_pod_sandbox() == []
        assert await cri.list_containers() == []
        assert await cri.list_images() == []
        info = await cri.image_fs_info()
        mountpoint = info.image_filesystems[0].fs_id.mountpoint
        assert mountpoint.startswith(str(containerd.dir))  # its private root, nothing shared
        assert info.image_filesystems[0].timestamp > 0
        assert not (await cri.image_status("busybox")).HasField("image")
        with pytest.raises(errors.NotFoundError, match=containerd.endpoint):
            await cri.container_status("0" * 64)


async def test_suite_without_workloads_passes_on_containerd(
    containerd: ContainerdProcess,
) -> None:
    passed = await run_suite(containerd.endpoint, workloads=False)
    assert passed == [c.name for c in CHECKS if not c.needs_workloads]
    assert "status_conditions" in passed and "version_fields" in passed


async def test_network_not_ready_without_cni_config() -> None:
    require_peer("containerd")
    async with ContainerdProcess() as process, process.client() as cri:
        conditions = {c.type: c.status for c in (await cri.status()).status.conditions}
        assert conditions == {"RuntimeReady": True, "NetworkReady": False}


async def test_process_is_stopped_and_its_directory_removed() -> None:
    require_peer("containerd")
    process = ContainerdProcess(stop_timeout=5.0)
    async with process:
        pid = process.pid
        assert pid is not None and process.running
        assert process.socket.exists()
        config = process.config_path.read_text()
        assert str(process.dir / "root") in config and "/var/lib/containerd" not in config
    assert not process.running
    assert _not_containerd(pid)
    assert not process.dir.exists()


def _not_containerd(pid: int) -> bool:
    # ours was reaped by Popen; the PID may since belong to another process
    try:
        return "containerd" not in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return True


async def test_a_binary_that_exits_is_a_start_error_with_its_log(sock_dir: Path) -> None:
    fake = sock_dir / "fake-containerd"
    fake.write_text("#!/bin/sh\necho cannot start: $@\nexit 3\n")
    fake.chmod(0o755)
    process = ContainerdProcess(binary=str(fake))
    with pytest.raises(ContainerdStartError, match=r"exited \(code 3\)") as caught:
        async with process:
            pass
    assert "cannot start: --config" in str(caught.value)
    assert not process.dir.exists()


async def test_a_binary_that_never_answers_is_stopped_by_pid(sock_dir: Path) -> None:
    fake = sock_dir / "silent-containerd"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    process = ContainerdProcess(binary=str(fake), start_timeout=0.5, stop_timeout=2.0)
    with pytest.raises(ContainerdStartError, match="did not answer CRI Version"):
        async with process:
            pass
    assert not process.running
    assert not process.dir.exists()
