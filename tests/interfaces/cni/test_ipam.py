"""The host-local-like allocator: ranges, gateway, round-robin, idempotence, persistence."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from kcore import errors
from kcore.interfaces.cni import (
    DirAllocationStore,
    HostLocalAllocator,
    IpRange,
    MemoryAllocationStore,
)


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


@pytest.fixture(params=["memory", "dir"])
def allocator(request: pytest.FixtureRequest, tmp_path: Path) -> HostLocalAllocator:
    if request.param == "memory":
        return HostLocalAllocator(MemoryAllocationStore())
    return HostLocalAllocator(DirAllocationStore(tmp_path / "net"))


def test_range_defaults_follow_host_local() -> None:
    r = IpRange.create("10.9.0.0/24")
    assert (r.range_start, r.range_end, r.gateway) == (
        ip("10.9.0.1"),
        ip("10.9.0.254"),
        ip("10.9.0.1"),
    )
    v6 = IpRange.create("fd00::/120")
    assert v6.range_end == ip("fd00::ff")


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("10.0.0.0/31",), "too small"),
        (("10.0.0.1/24",), "host bits"),
        (("nonsense",), "subnet"),
        (("10.0.0.0/24", "10.0.1.5"), "rangeStart 10.0.1.5 is not in subnet"),
        (("10.0.0.0/24", "10.0.0.50", "10.0.0.10"), "after rangeEnd"),
        (("10.0.0.0/24", None, None, "gw"), "gateway"),
    ],
)
def test_bad_ranges_are_refused(args: tuple[str | None, ...], match: str) -> None:
    with pytest.raises(errors.InvalidArgumentError, match=match):
        IpRange.create(*args)  # type: ignore[arg-type]


def test_allocation_skips_the_gateway_and_is_idempotent(allocator: HostLocalAllocator) -> None:
    ranges = [IpRange.create("10.9.0.0/24")]
    first = allocator.allocate("c1", "eth0", ranges)
    assert str(first.address) == "10.9.0.2/24" and first.gateway == ip("10.9.0.1")
    assert allocator.allocate("c1", "eth0", ranges) == first  # same container+ifname: same IP
    second = allocator.allocate("c2", "eth0", ranges)
    other_if = allocator.allocate("c1", "net1", ranges)
    assert {str(second.address), str(other_if.address)} == {"10.9.0.3/24", "10.9.0.4/24"}
    assert allocator.allocated("c1", "eth0") == [ip("10.9.0.2")]


def test_release_frees_and_allocation_continues_round_robin(allocator: HostLocalAllocator) -> None:
    ranges = [IpRange.create("10.9.0.0/24", "10.9.0.10", "10.9.0.12")]
    got = [str(allocator.allocate(c, "eth0", ranges).address.ip) for c in ("a", "b")]
    assert got == ["10.9.0.10", "10.9.0.11"]
    assert allocator.release("a", "eth0") == [ip("10.9.0.10")]
    assert allocator.release("a", "eth0") == []  # releasing again is fine
    # the next allocation continues after the last reserved address, then wraps around
    assert str(allocator.allocate("c", "eth0", ranges).address.ip) == "10.9.0.12"
    assert str(allocator.allocate("d", "eth0", ranges).address.ip) == "10.9.0.10"
    with pytest.raises(errors.UnavailableError, match=r"no addresses left in 10.9.0.10-10.9.0.12"):
        allocator.allocate("e", "eth0", ranges)


def test_second_range_is_used_when_the_first_is_full(allocator: HostLocalAllocator) -> None:
    ranges = [
        IpRange.create("10.9.0.0/24", "10.9.0.10", "10.9.0.10"),
        IpRange.create("10.8.0.0/16", "10.8.3.3", "10.8.3.4", "10.8.0.1"),
    ]
    assert str(allocator.allocate("a", "eth0", ranges).address) == "10.9.0.10/24"
    b = allocator.allocate("b", "eth0", ranges)
    assert str(b.address) == "10.8.3.3/16" and b.gateway == ip("10.8.0.1")


def test_dir_store_uses_host_locals_layout_and_survives_restarts(tmp_path: Path) -> None:
    ranges = [IpRange.create("fd00:1::/64")]
    first = HostLocalAllocator(DirAllocationStore(tmp_path / "net"))
    held = first.allocate("ctr", "eth0", ranges)
    assert str(held.address) == "fd00:1::2/64"
    files = sorted(p.name for p in (tmp_path / "net").iterdir())
    assert files == ["fd00:1::2", "last_reserved_ip.0", "lock"]
    assert (tmp_path / "net" / "fd00:1::2").read_bytes() == b"ctr\r\neth0"
    # a new allocator over the same directory (a new process) sees the allocation
    second = HostLocalAllocator(DirAllocationStore(tmp_path / "net"))
    assert second.allocate("ctr", "eth0", ranges) == held
    assert str(second.allocate("other", "eth0", ranges).address) == "fd00:1::3/64"
    second.release("ctr", "eth0")
    assert not (tmp_path / "net" / "fd00:1::2").exists()
