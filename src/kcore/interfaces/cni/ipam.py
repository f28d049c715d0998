"""A host-local-like IP address allocator, and an in-process IPAM plugin built on it.

``HostLocalAllocator`` hands out addresses from ranges (a subnet, optionally narrowed by
``rangeStart``/``rangeEnd``), never the gateway, round-robin from the last address it reserved,
and remembers which container and interface holds each one. It follows the reference host-local
plugin's rules and, with ``DirAllocationStore``, its on-disk layout (one file per address named
after it, holding ``<containerID>\\r\\n<ifname>``; ``last_reserved_ip.<range>``; a ``lock``
file taken with flock), so a data dir can be inspected like host-local's. One deliberate
difference: asking again for a container and interface that already hold an address returns
that address (host-local refuses), which makes a retried ADD safe in tests.

``HostLocalPlugin`` is the in-process IPAM plugin: it reads ``ipam.subnet`` or ``ipam.ranges``,
``ipam.routes``, ``ipam.dataDir`` (else its own store: memory by default), allocates on ADD,
releases on DEL (idempotent) and verifies the allocation on CHECK.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import attrs

from kcore import errors
from kcore.interfaces.cni._frozen import FrozenJSON
from kcore.interfaces.cni.codes import GENERIC_PLUGIN_ERROR, ErrorCode
from kcore.interfaces.cni.plugin import PluginFailure, PluginRequest, PythonPlugin
from kcore.interfaces.cni.types import IPAddress, IPConfig, IPNetwork, Result, Route

__all__ = [
    "AllocationStore",
    "DirAllocationStore",
    "HostLocalAllocator",
    "HostLocalPlugin",
    "IpRange",
    "MemoryAllocationStore",
]

_LAST_PREFIX = "last_reserved_ip."
_LOCK_NAME = "lock"


def _address(text: object, field: str) -> IPAddress:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        raise errors.InvalidArgumentError(f"ipam {field}: {text!r} is not an IP address") from None


@attrs.frozen
class IpRange:
    """Addresses ``range_start``..``range_end`` of ``subnet``, minus ``gateway``."""

    subnet: IPNetwork
    range_start: IPAddress
    range_end: IPAddress
    gateway: IPAddress | None

    @classmethod
    def create(
        cls,
        subnet: str | IPNetwork,
        range_start: str | None = None,
        range_end: str | None = None,
        gateway: str | None = None,
    ) -> IpRange:
        """host-local's defaults: gateway and start at network+1, end at the last host."""
        try:
            net = ipaddress.ip_network(subnet)
        except ValueError as exc:
            raise errors.InvalidArgumentError(f"ipam subnet {subnet!r}: {exc}") from None
        if net.num_addresses < 4:
            raise errors.InvalidArgumentError(f"ipam subnet {net} is too small to allocate from")
        last = net.broadcast_address - 1 if net.version == 4 else net.broadcast_address
        start = _address(range_start, "rangeStart") if range_start else net.network_address + 1
        end = _address(range_end, "rangeEnd") if range_end else last
        gw = _address(gateway, "gateway") if gateway else net.network_address + 1
        for name, value in (("rangeStart", start), ("rangeEnd", end)):
            if value not in net:
                raise errors.InvalidArgumentError(f"ipam {name} {value} is not in subnet {net}")
        if int(start) > int(end):
            raise errors.InvalidArgumentError(f"ipam rangeStart {start} is after rangeEnd {end}")
        return cls(net, start, end, gw)

    def __contains__(self, address: object) -> bool:
        return (
            isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address)
            and address.version == self.subnet.version
            and int(self.range_start) <= int(address) <= int(self.range_end)
        )

    def candidates(self, after: IPAddress | None) -> Iterator[IPAddress]:
        """Every allocatable address once, starting after ``after`` and wrapping around."""
        first, last = int(self.range_start), int(self.range_end)
        begin = int(after) + 1 if after is not None and after in self else first
        count = last - first + 1
        for step in range(count):
            value = first + (begin - first + step) % count
            address = ipaddress.ip_address(value)
            if address != self.gateway:
                yield address


class AllocationStore(Protocol):
    """Where allocations live. Methods are called with ``locked()`` held."""

    def locked(self) -> contextlib.AbstractContextManager[None]: ...
    def reserve(
        self, address: IPAddress, container_id: str, ifname: str, range_id: str
    ) -> bool: ...
    def last_reserved(self, range_id: str) -> IPAddress | None: ...
    def find(self, container_id: str, ifname: str) -> list[IPAddress]: ...
    def release(self, container_id: str, ifname: str) -> list[IPAddress]: ...


class MemoryAllocationStore:
    """Allocations in a dict (thread-safe; gone with the process)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._owners: dict[IPAddress, tuple[str, str]] = {}
        self._last: dict[str, IPAddress] = {}

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return _hold(self._lock)

    def reserve(self, address: IPAddress, container_id: str, ifname: str, range_id: str) -> bool:
        if address in self._owners:
            return False
        self._owners[address] = (container_id, ifname)
        self._last[range_id] = address
        return True

    def last_reserved(self, range_id: str) -> IPAddress | None:
        return self._last.get(range_id)

    def find(self, container_id: str, ifname: str) -> list[IPAddress]:
        return sorted(ip for ip, owner in self._owners.items() if owner == (container_id, ifname))

    def release(self, container_id: str, ifname: str) -> list[IPAddress]:
        released = self.find(container_id, ifname)
        for address in released:
            del self._owners[address]
        return released


@contextlib.contextmanager
def _hold(lock: threading.RLock) -> Iterator[None]:
    with lock:
        yield


class DirAllocationStore:
    """Allocations as files in a directory, in host-local's layout, locked with flock."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._thread_lock = threading.RLock()  # flock is per open file; threads need their own

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with self._thread_lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def reserve(self, address: IPAddress, container_id: str, ifname: str, range_id: str) -> bool:
        try:
            fd = os.open(self.directory / str(address), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as file:  # binary: the CRLF must reach the disk as written
            file.write(f"{container_id.strip()}\r\n{ifname}".encode())
        (self.directory / f"{_LAST_PREFIX}{range_id}").write_text(str(address))
        return True

    def last_reserved(self, range_id: str) -> IPAddress | None:
        try:
            return ipaddress.ip_address((self.directory / f"{_LAST_PREFIX}{range_id}").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _entries(self) -> Iterator[tuple[Path, IPAddress, str]]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.iterdir()):
            try:
                address = ipaddress.ip_address(path.name)
            except ValueError:
                continue  # the lock and last_reserved_ip files
            with contextlib.suppress(OSError):
                yield path, address, path.read_bytes().decode(errors="replace").strip()

    def find(self, container_id: str, ifname: str) -> list[IPAddress]:
        key = f"{container_id.strip()}\r\n{ifname}"
        return [address for _, address, owner in self._entries() if owner == key]

    def release(self, container_id: str, ifname: str) -> list[IPAddress]:
        key = f"{container_id.strip()}\r\n{ifname}"
        released = []
        for path, address, owner in self._entries():
            if owner == key:
                path.unlink(missing_ok=True)
                released.append(address)
        return released


class HostLocalAllocator:
    """Allocate one address per range set; idempotent per (container, interface)."""

    def __init__(self, store: AllocationStore | None = None) -> None:
        self.store: AllocationStore = store if store is not None else MemoryAllocationStore()

    def allocate(
        self, container_id: str, ifname: str, ranges: Sequence[IpRange], range_id: str = "0"
    ) -> IPConfig:
        """An address from the first range with room (the one already held, if any)."""
        if not ranges:
            raise errors.InvalidArgumentError("ipam: at least one range is needed")
        with self.store.locked():
            for held in self.store.find(container_id, ifname):
                for ip_range in ranges:
                    if held in ip_range:
                        return _config(held, ip_range)
            last = self.store.last_reserved(range_id)
            for ip_range in ranges:
                for address in ip_range.candidates(last):
                    if self.store.reserve(address, container_id, ifname, range_id):
                        return _config(address, ip_range)
        spans = ", ".join(f"{r.range_start}-{r.range_end}" for r in ranges)
        raise errors.UnavailableError(f"ipam: no addresses left in {spans}; release some first")

    def release(self, container_id: str, ifname: str) -> list[IPAddress]:
        """Free the addresses held by the container's interface (none held: nothing to do)."""
        with self.store.locked():
            return self.store.release(container_id, ifname)

    def allocated(self, container_id: str, ifname: str) -> list[IPAddress]:
        with self.store.locked():
            return self.store.find(container_id, ifname)


def _config(address: IPAddress, ip_range: IpRange) -> IPConfig:
    cidr = ipaddress.ip_interface(f"{address}/{ip_range.subnet.prefixlen}")
    return IPConfig(address=cidr, gateway=ip_range.gateway)


def _text(value: FrozenJSON) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_ranges(ipam: Mapping[str, FrozenJSON]) -> list[list[IpRange]]:
    """``ipam.subnet`` (one range) or ``ipam.ranges`` (range sets), host-local's two forms."""
    if isinstance(ipam.get("subnet"), str):
        return [
            [
                IpRange.create(
                    str(ipam["subnet"]),
                    _text(ipam.get("rangeStart")),
                    _text(ipam.get("rangeEnd")),
                    _text(ipam.get("gateway")),
                )
            ]
        ]
    sets = ipam.get("ranges")
    if not isinstance(sets, tuple) or not sets:
        raise errors.InvalidArgumentError("ipam needs 'subnet' or a non-empty 'ranges' list")
    parsed = []
    for range_set in sets:
        if not isinstance(range_set, tuple) or not range_set:
            raise errors.InvalidArgumentError("ipam.ranges: each range set is a non-empty list")
        items = []
        for item in range_set:
            if not isinstance(item, Mapping) or not isinstance(item.get("subnet"), str):
                raise errors.InvalidArgumentError("ipam.ranges: each range needs a 'subnet'")
            items.append(
                IpRange.create(
                    str(item["subnet"]),
                    _text(item.get("rangeStart")),
                    _text(item.get("rangeEnd")),
                    _text(item.get("gateway")),
                )
            )
        parsed.append(items)
    return parsed


class HostLocalPlugin(PythonPlugin):
    """In-process IPAM plugin with host-local's config; state in ``ipam.dataDir`` or its own."""

    def __init__(self, allocator: HostLocalAllocator | None = None) -> None:
        self.allocator = allocator if allocator is not None else HostLocalAllocator()

    def _allocator(self, request: PluginRequest) -> HostLocalAllocator:
        data_dir = _text(self._ipam(request).get("dataDir"))
        if data_dir is None:
            return self.allocator
        return HostLocalAllocator(DirAllocationStore(Path(data_dir) / request.network_name))

    @staticmethod
    def _ipam(request: PluginRequest) -> Mapping[str, FrozenJSON]:
        ipam = request.config.get("ipam")
        if not isinstance(ipam, Mapping):
            raise PluginFailure(ErrorCode.INVALID_NETWORK_CONFIG, "IPAM config missing 'ipam' key")
        return ipam

    def _ranges(self, request: PluginRequest) -> list[list[IpRange]]:
        try:
            return parse_ranges(self._ipam(request))
        except errors.InvalidArgumentError as exc:
            raise PluginFailure(
                ErrorCode.INVALID_NETWORK_CONFIG, "invalid IPAM config", str(exc)
            ) from None

    async def add(self, request: PluginRequest) -> Result:
        allocator, range_sets = self._allocator(request), self._ranges(request)
        ips = []
        for index, range_set in enumerate(range_sets):
            try:
                ips.append(
                    await anyio.to_thread.run_sync(
                        allocator.allocate,
                        request.container_id,
                        request.ifname,
                        range_set,
                        str(index),
                    )
                )
            except errors.UnavailableError as exc:
                # Undo this call's partial work so a failed ADD holds nothing.
                await anyio.to_thread.run_sync(
                    allocator.release, request.container_id, request.ifname
                )
                raise PluginFailure(GENERIC_PLUGIN_ERROR, "failed to allocate", str(exc)) from None
        listed = self._ipam(request).get("routes") or ()
        routes = []
        for route in listed if isinstance(listed, tuple) else (listed,):
            if not isinstance(route, Mapping) or not isinstance(route.get("dst"), str):
                raise PluginFailure(ErrorCode.INVALID_NETWORK_CONFIG, "ipam.routes need a 'dst'")
            routes.append(Route(dst=str(route["dst"]), gw=_text(route.get("gw"))))
        return Result(ips=ips, routes=routes)

    async def delete(self, request: PluginRequest) -> None:
        allocator = self._allocator(request)
        await anyio.to_thread.run_sync(allocator.release, request.container_id, request.ifname)

    async def check(self, request: PluginRequest) -> None:
        allocator = self._allocator(request)
        held = await anyio.to_thread.run_sync(
            allocator.allocated, request.container_id, request.ifname
        )
        if not held:
            raise PluginFailure(
                GENERIC_PLUGIN_ERROR,
                "host-local: failed to find address added by container",
                f"container {request.container_id!r}, interface {request.ifname!r}",
            )
