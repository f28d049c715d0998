"""The invoker against the reference CNI plugins (Debian's containernetworking-plugins).

The main test runs loopback + bridge + host-local in a network namespace of its own
(``kcore-test-<random>``) with a bridge of its own (``kcb<random>``) and a random private /24
that does not overlap anything on the host; the IPAM data dir and the result cache live in the
test's tmp dir. It checks the result, that the address really is on ``eth0`` inside the
namespace, that CHECK passes and then fails once the address is removed, and that DEL undoes
everything (twice). The namespace and the bridge are removed in ``finally``; nothing else on
the host is touched. Needs root (CI runs as root).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcore.interfaces.cni import (
    CniInvoker,
    CniPluginError,
    DirAllocationStore,
    FakeBridge,
    FakeHost,
    IncompatibleVersionError,
    NetworkConfigList,
    PluginRegistry,
    RuntimeConf,
)
from tests.conftest import require_peer

pytestmark = [pytest.mark.anyio, pytest.mark.peers]

CNI_DIR = "/usr/lib/cni"


def require_root() -> None:
    if os.geteuid() != 0:
        message = "creating network namespaces and bridges needs root"
        if os.environ.get("KCORE_REQUIRE_PEERS") == "1":
            pytest.fail(message + "; KCORE_REQUIRE_PEERS=1 makes this a failure")
        pytest.skip(message)


def ip_json(*args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ip", "-j", *args], check=True, capture_output=True, text=True, timeout=30
    )
    return json.loads(out.stdout or "[]")


def free_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.0/24 overlapping no address or route on the host."""
    used = []
    for entry in ip_json("-4", "addr", "show"):
        for info in entry.get("addr_info", []):  # type: ignore[union-attr]
            used.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for route in ip_json("-4", "route", "show", "table", "all"):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.ip_network(dst, strict=False))
    for _ in range(100):  # bounded
        candidate = ipaddress.ip_network(
            f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.0/24"
        )
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise AssertionError("no free 10.x.y.0/24 found in 100 tries")


@pytest.fixture
def scratch_netns() -> Iterator[tuple[str, str]]:
    """(namespace name, bridge name), both unique to this test and removed afterwards."""
    for peer in ("ip", f"{CNI_DIR}/bridge", f"{CNI_DIR}/host-local", f"{CNI_DIR}/loopback"):
        require_peer(peer)
    require_root()
    tag = secrets.token_hex(4)
    netns, bridge = f"kcore-test-{tag}", f"kcb{tag}"  # kcb + 8 hex = 11 chars <= 15
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=30)
    try:
        yield netns, bridge
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=30)
        # The bridge exists only if ADD got that far; deleting a missing one just fails.
        subprocess.run(["ip", "link", "del", bridge], check=False, timeout=30, capture_output=True)


def real_network(
    bridge: str, subnet: ipaddress.IPv4Network, data_dir: Path, version: str
) -> NetworkConfigList:
    return NetworkConfigList.from_dict(
        {
            "cniVersion": version,
            "name": "kcore-real",
            "plugins": [
                {"type": "loopback"},
                {
                    "type": "bridge",
                    "bridge": bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {"type": "host-local", "subnet": str(subnet), "dataDir": str(data_dir)},
                },
            ],
        }
    )


def addresses_in(netns: str) -> dict[str, list[str]]:
    return {
        str(link["ifname"]): [
            f"{info['local']}/{info['prefixlen']}"
            for info in link.get("addr_info", [])  # type: ignore[union-attr]
        ]
        for link in ip_json("-n", netns, "addr", "show")
    }


@pytest.mark.parametrize("version", ["1.0.0", "0.4.0"])
async def test_bridge_host_local_loopback_in_a_private_namespace(
    scratch_netns: tuple[str, str], tmp_path: Path, version: str
) -> None:
    netns, bridge = scratch_netns
    subnet = free_subnet()
    net = real_network(bridge, subnet, tmp_path / "ipam", version)
    invoker = CniInvoker([CNI_DIR], cache_dir=tmp_path / "cache", timeout=60)
    rt = RuntimeConf(f"kcore-{secrets.token_hex(6)}", f"/var/run/netns/{netns}", "eth0")
    expected = f"{subnet.network_address + 2}/24"

    assert await invoker.validate(net) == ()
    result = await invoker.add(net, rt)

    # the result parses, in the 1.0.0 model whatever version the plugins spoke
    assert result.cni_version == "1.0.0"
    names = [interface.name for interface in result.interfaces]
    assert names[0] == bridge and names[-1] == "eth0"
    assert result.interfaces[-1].sandbox == rt.netns
    assert [(str(ip.address), str(ip.gateway)) for ip in result.ips] == [
        (expected, str(subnet.network_address + 1))
    ]
    assert result.interfaces[result.ips[0].interface or 0].name == "eth0"

    # ... and the kernel agrees: the address is on eth0 inside the namespace, lo is up
    inside = addresses_in(netns)
    assert expected in inside["eth0"]
    assert "127.0.0.1/8" in inside["lo"]
    assert (tmp_path / "cache" / "results" / f"kcore-real-{rt.container_id}-eth0").is_file()
    # host-local's allocation file, readable by kcore's own store
    store = DirAllocationStore(tmp_path / "ipam" / "kcore-real")
    assert [str(a) for a in store.find(rt.container_id, "eth0")] == [expected.split("/")[0]]

    await invoker.check(net, rt)

    subprocess.run(
        ["ip", "-n", netns, "addr", "del", expected, "dev", "eth0"], check=True, timeout=30
    )
    with pytest.raises(CniPluginError) as caught:
        await invoker.check(net, rt)
    assert caught.value.plugin == "bridge" and caught.value.command == "CHECK"

    await invoker.delete(net, rt)
    assert "eth0" not in addresses_in(netns)
    assert await invoker.cached_result(net, rt) is None
    assert store.find(rt.container_id, "eth0") == []
    await invoker.delete(net, rt)  # a repeated DEL succeeds


async def test_real_plugins_refuse_a_version_they_do_not_speak(tmp_path: Path) -> None:
    require_peer(f"{CNI_DIR}/bridge")
    net = NetworkConfigList.from_dict(
        {"cniVersion": "1.1.0", "name": "too-new", "plugins": [{"type": "bridge"}]}
    )
    invoker = CniInvoker([CNI_DIR], cache_dir=tmp_path / "cache", timeout=60)
    with pytest.raises(IncompatibleVersionError) as caught:
        await invoker.add(net, RuntimeConf("c1", "/var/run/netns/never-used"))
    assert "1.0.0" in caught.value.supported and "1.1.0" not in caught.value.supported
    assert f"{CNI_DIR}/bridge" in str(caught.value)


async def test_fake_bridge_over_the_real_host_local(tmp_path: Path) -> None:
    require_peer(f"{CNI_DIR}/host-local")
    host = FakeHost()
    registry = PluginRegistry({"bridge": FakeBridge(host)})
    invoker = CniInvoker([CNI_DIR], cache_dir=tmp_path / "cache", timeout=60, registry=registry)
    net = NetworkConfigList.from_dict(
        {
            "cniVersion": "1.0.0",
            "name": "fake-over-real",
            "plugins": [
                {
                    "type": "bridge",
                    "ipam": {
                        "type": "host-local",
                        "subnet": "10.250.0.0/24",
                        "dataDir": str(tmp_path / "ipam"),
                    },
                }
            ],
        }
    )
    rt = RuntimeConf("ctr-a", "/var/run/netns/unused-by-host-local")
    result = await invoker.add(net, rt)
    assert [str(ip.address) for ip in result.ips] == ["10.250.0.2/24"]
    assert host.addresses(rt.netns) == ["10.250.0.2/24"]
    assert (tmp_path / "ipam" / "fake-over-real" / "10.250.0.2").read_bytes() == b"ctr-a\r\neth0"
    await invoker.delete(net, rt)
    assert not (tmp_path / "ipam" / "fake-over-real" / "10.250.0.2").exists()
