"""Fake main plugins (bridge-, loopback- and tuning-like) over a simulated host, for tests.

The fakes change a ``FakeHost`` instead of the kernel: bridges, host-side veth ends and, per
network namespace path, the interfaces with their MAC and addresses. A test can then assert
what a real test asserts with ``ip -n <ns> addr`` (``host.addresses(netns)``), without root.

They keep the reference plugins' contract where a runtime can observe it: ``bridge`` delegates
IPAM to ``ipam.type`` (ADD, and DEL even when nothing is left, so DEL is idempotent), undoes its
IPAM allocation when a later step of its ADD fails, reports bridge, host veth and container
interface in that order with the IPs on the container interface (index 2); CHECK verifies the
interface and addresses in ``prevResult`` still exist. ``loopback`` brings ``lo`` up; ``tuning``
applies the ``mac`` capability from ``runtimeConfig`` to the container interface and passes the
(changed) ``prevResult`` on, which makes it a good probe of chaining.

``fake_registry`` registers all of them, plus ``HostLocalPlugin``, under the real plugins'
names, so a conflist written for the real plugins runs unchanged against the fakes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import attrs

from kcore.interfaces.cni._frozen import FrozenJSON
from kcore.interfaces.cni.codes import GENERIC_PLUGIN_ERROR, ErrorCode
from kcore.interfaces.cni.ipam import HostLocalAllocator, HostLocalPlugin
from kcore.interfaces.cni.plugin import PluginFailure, PluginRegistry, PluginRequest, PythonPlugin
from kcore.interfaces.cni.types import Interface, IPConfig, Result

__all__ = [
    "FakeBridge",
    "FakeHost",
    "FakeLink",
    "FakeLoopback",
    "FakeTuning",
    "fake_registry",
]


def _mac(*seed: str) -> str:
    """A stable, locally administered unicast MAC derived from ``seed``."""
    digest = hashlib.sha256("/".join(seed).encode()).digest()
    octets = [(digest[0] & 0xFC) | 0x02, *digest[1:6]]
    return ":".join(f"{octet:02x}" for octet in octets)


@attrs.define
class FakeLink:
    """One simulated interface."""

    name: str
    mac: str
    mtu: int = 1500
    up: bool = False
    addresses: list[str] = attrs.Factory(list)
    master: str = ""


class FakeHost:
    """The simulated kernel state the fake plugins change (host links and namespaces)."""

    def __init__(self) -> None:
        self.host_links: dict[str, FakeLink] = {}
        self.namespaces: dict[str, dict[str, FakeLink]] = {}

    def namespace(self, netns: str) -> dict[str, FakeLink]:
        return self.namespaces.setdefault(netns, {})

    def addresses(self, netns: str) -> list[str]:
        """Every address (CIDR) on any interface in ``netns``, like ``ip -n ns addr``."""
        links = self.namespaces.get(netns, {})
        return [address for link in links.values() for address in link.addresses]


def _require_netns(request: PluginRequest) -> None:
    if not request.netns:
        raise PluginFailure(ErrorCode.INVALID_ENVIRONMENT, "CNI_NETNS is required")


def _require_prev(request: PluginRequest) -> Result:
    if request.prev_result is None:
        raise PluginFailure(ErrorCode.INVALID_NETWORK_CONFIG, "required prevResult missing")
    return request.prev_result


def _config_str(config: Mapping[str, FrozenJSON], key: str, default: str) -> str:
    value = config.get(key, default)
    return value if isinstance(value, str) and value else default


class FakeBridge(PythonPlugin):
    """A bridge-like main plugin: bridge + veth pair, addresses from the IPAM plugin."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    def _names(self, request: PluginRequest) -> tuple[str, str]:
        bridge = _config_str(request.config, "bridge", "cni0")
        veth = (
            "veth"
            + hashlib.sha256(f"{request.container_id}/{request.ifname}".encode()).hexdigest()[:8]
        )
        return bridge, veth

    def _ipam_type(self, request: PluginRequest) -> str | None:
        ipam = request.config.get("ipam")
        if isinstance(ipam, Mapping) and isinstance(ipam.get("type"), str):
            return str(ipam["type"])
        return None

    async def add(self, request: PluginRequest) -> Result:
        _require_netns(request)
        bridge_name, veth_name = self._names(request)
        namespace = self.host.namespace(request.netns)
        if request.ifname in namespace:
            raise PluginFailure(
                GENERIC_PLUGIN_ERROR,
                f"container interface {request.ifname} already exists in {request.netns}",
            )
        mtu = request.config.get("mtu")
        mtu = mtu if isinstance(mtu, int) and not isinstance(mtu, bool) and mtu > 0 else 1500
        ipam_type = self._ipam_type(request)
        ipam_result = await request.delegate(ipam_type) if ipam_type else None
        try:
            ips = ipam_result.ips if ipam_result is not None else ()
            if not ips and ipam_type:
                raise PluginFailure(GENERIC_PLUGIN_ERROR, "IPAM plugin returned no IP config")
            bridge = self.host.host_links.setdefault(
                bridge_name, FakeLink(bridge_name, _mac("bridge", bridge_name), mtu, up=True)
            )
            gateways = {f"{ip.gateway}/{ip.address.network.prefixlen}" for ip in ips if ip.gateway}
            if request.config.get("isGateway") is True:
                bridge.addresses.extend(sorted(gateways - set(bridge.addresses)))
            veth = FakeLink(veth_name, _mac("veth", veth_name), mtu, up=True, master=bridge_name)
            inner = FakeLink(
                request.ifname,
                _mac("container", request.container_id, request.ifname),
                mtu,
                up=True,
                addresses=[str(ip.address) for ip in ips],
            )
        except Exception:
            if ipam_type:
                await request.delegate(ipam_type, "DEL")
            raise
        self.host.host_links[veth_name] = veth
        namespace[request.ifname] = inner
        interfaces = [
            Interface(bridge.name, bridge.mac),
            Interface(veth.name, veth.mac),
            Interface(inner.name, inner.mac, sandbox=request.netns),
        ]
        return Result(
            interfaces=interfaces,
            ips=[IPConfig(ip.address, ip.gateway, interface=2) for ip in ips],
            routes=ipam_result.routes if ipam_result is not None else (),
            dns=ipam_result.dns if ipam_result is not None else Result().dns,
        )

    async def delete(self, request: PluginRequest) -> None:
        ipam_type = self._ipam_type(request)
        if ipam_type:
            await request.delegate(ipam_type)
        _, veth_name = self._names(request)
        self.host.host_links.pop(veth_name, None)
        if request.netns in self.host.namespaces:
            self.host.namespaces[request.netns].pop(request.ifname, None)

    async def check(self, request: PluginRequest) -> None:
        _require_netns(request)
        prev = _require_prev(request)
        ipam_type = self._ipam_type(request)
        if ipam_type:
            await request.delegate(ipam_type)
        link = self.host.namespaces.get(request.netns, {}).get(request.ifname)
        if link is None:
            raise PluginFailure(
                GENERIC_PLUGIN_ERROR, f"interface {request.ifname} missing in {request.netns}"
            )
        wanted = {str(ip.address) for ip in prev.ips}
        missing = sorted(wanted - set(link.addresses))
        if missing:
            raise PluginFailure(
                GENERIC_PLUGIN_ERROR,
                f"addresses {', '.join(missing)} missing on {request.ifname} in {request.netns}",
            )
        for interface in prev.interfaces:
            ours = interface.sandbox == request.netns and interface.name == request.ifname
            if ours and interface.mac and interface.mac != link.mac:
                raise PluginFailure(
                    GENERIC_PLUGIN_ERROR,
                    f"{request.ifname} has MAC {link.mac}, prevResult says {interface.mac}",
                )


class FakeLoopback(PythonPlugin):
    """Brings ``lo`` up in the namespace; passes prevResult on when there is one."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    async def add(self, request: PluginRequest) -> Result:
        _require_netns(request)
        namespace = self.host.namespace(request.netns)
        namespace["lo"] = FakeLink(
            "lo", "00:00:00:00:00:00", 65536, up=True, addresses=["127.0.0.1/8", "::1/128"]
        )
        if request.prev_result is not None:
            return request.prev_result
        return Result(
            interfaces=[Interface("lo", "00:00:00:00:00:00", sandbox=request.netns)],
            ips=[IPConfig("127.0.0.1/8", interface=0), IPConfig("::1/128", interface=0)],
        )

    async def delete(self, request: PluginRequest) -> None:
        link = self.host.namespaces.get(request.netns, {}).get("lo")
        if link is not None:
            link.up = False
            link.addresses.clear()

    async def check(self, request: PluginRequest) -> None:
        link = self.host.namespaces.get(request.netns, {}).get("lo")
        if link is None or not link.up:
            raise PluginFailure(GENERIC_PLUGIN_ERROR, f"lo is down in {request.netns}")


class FakeTuning(PythonPlugin):
    """Applies the ``mac`` capability to the container interface and updates prevResult."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    async def add(self, request: PluginRequest) -> Result:
        prev = _require_prev(request)
        mac = request.runtime_config.get("mac")
        if not isinstance(mac, str) or not mac:
            return prev
        link = self.host.namespaces.get(request.netns, {}).get(request.ifname)
        if link is None:
            raise PluginFailure(
                GENERIC_PLUGIN_ERROR, f"no interface {request.ifname} in {request.netns} to tune"
            )
        link.mac = mac
        interfaces = [
            attrs.evolve(item, mac=mac)
            if item.name == request.ifname and item.sandbox == request.netns
            else item
            for item in prev.interfaces
        ]
        return attrs.evolve(prev, interfaces=interfaces)

    async def check(self, request: PluginRequest) -> None:
        _require_prev(request)


def fake_registry(
    host: FakeHost | None = None, allocator: HostLocalAllocator | None = None
) -> PluginRegistry:
    """A registry with ``bridge``, ``loopback``, ``tuning`` and ``host-local`` fakes."""
    host = host if host is not None else FakeHost()
    registry = PluginRegistry()
    registry.register("bridge", FakeBridge(host))
    registry.register("loopback", FakeLoopback(host))
    registry.register("tuning", FakeTuning(host))
    registry.register("host-local", HostLocalPlugin(allocator))
    return registry
