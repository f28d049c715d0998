"""CNI benchmark: ADD+DEL cycles/s through kcore's invoker with the real bridge plugin, beside
the cost of exec'ing ``/bin/true`` (the floor any exec-based CNI runtime pays per plugin call).

Printed figures, not tests. One run measures, each as the median of ``--reps`` rounds (rounds
visit the targets in turn so machine noise spreads evenly):

* ``real bridge``: ``CniInvoker`` with Debian's plugins (``/usr/lib/cni``), conflist
  loopback + bridge (private bridge ``kcb<random>``, isGateway, ipMasq false) + host-local
  (private data dir, a free 10.x.y.0/24), in a private namespace ``kcore-test-<random>``.
  One cycle = ADD then DEL of one container: 6 plugin processes (loopback and bridge per
  command, and host-local under bridge), plus 2 VERSION queries the first time only;
* ``direct``: the same plugins with the same stdin exec'd one after another without the
  invoker (no version check, result decoding, chaining or cache): the invoker's own anchor;
* ``exec floor``: ``/bin/true`` through the same exec code the invoker uses (pipes, new
  session, output drained): what one plugin call costs before the plugin does any work;
* ``fake bridge``: the same conflist on the in-process fakes (no processes, no kernel).

Ratios, as time per cycle: invoker / direct is what the invoker itself adds (1.0 = nothing);
real cycle / 6 bare execs says how much of a cycle is plugin work beyond process creation
(1.0 = none); fakes' speed-up over real is what in-process fakes save a test. Needs root and
the plugins; the namespace and bridge are removed afterwards (also on errors).

Usage: python benchmarks/cni_bench.py [--cycles N] [--reps N]
The lead can merge ``cni_figures()`` into benchmarks/interfaces_bench.py.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio

from kcore.interfaces.cni import (
    CniInvoker,
    NetworkConfigList,
    RuntimeConf,
    fake_registry,
    request_config,
)
from kcore.interfaces.cni._run import PluginTarget, run_executable

CNI_DIR = "/usr/lib/cni"
EXECS_PER_CYCLE = 6  # ADD: loopback, bridge, host-local; DEL: the same three


def _ip_json(*args: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ip", "-j", *args], check=True, capture_output=True, text=True, timeout=30
    )
    return list(json.loads(out.stdout or "[]"))


def _free_subnet() -> ipaddress.IPv4Network:
    used: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for entry in _ip_json("-4", "addr", "show"):
        for info in entry.get("addr_info", []):  # type: ignore[attr-defined]
            used.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for route in _ip_json("-4", "route", "show", "table", "all"):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.ip_network(dst, strict=False))
    for _ in range(100):
        third, fourth = secrets.randbelow(256), secrets.randbelow(256)
        candidate = ipaddress.IPv4Network(f"10.{third}.{fourth}.0/24")
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise RuntimeError("no free 10.x.y.0/24 on this host")


@contextlib.contextmanager
def _scratch_namespace() -> Iterator[tuple[str, str]]:
    tag = secrets.token_hex(4)
    netns, bridge = f"kcore-test-{tag}", f"kcb{tag}"
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=30)
    try:
        yield netns, bridge
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=30)
        subprocess.run(["ip", "link", "del", bridge], check=False, timeout=30, capture_output=True)


def _network(bridge: str, subnet: ipaddress.IPv4Network, data_dir: Path) -> NetworkConfigList:
    return NetworkConfigList.from_dict(
        {
            "cniVersion": "1.0.0",
            "name": "kcore-bench",
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


async def _cycles_per_second(
    invoker: CniInvoker, net: NetworkConfigList, netns: str, cycles: int
) -> float:
    start = time.perf_counter()
    for _ in range(cycles):
        rt = RuntimeConf(f"bench-{secrets.token_hex(6)}", netns, "eth0")
        await invoker.add(net, rt)
        await invoker.delete(net, rt)
    return cycles / (time.perf_counter() - start)


async def _plain_cycles_per_second(net: NetworkConfigList, netns: str, cycles: int) -> float:
    """The same plugins, same stdin, exec'd directly: no invoker logic, no cache, no decoding."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_PATH": CNI_DIR, "CNI_ARGS": ""}
    targets = [PluginTarget(p.type, f"{CNI_DIR}/{p.type}") for p in net.plugins]
    start = time.perf_counter()
    for _ in range(cycles):
        rt = RuntimeConf(f"bench-{secrets.token_hex(6)}", netns, "eth0")
        env = {**base, "CNI_CONTAINERID": rt.container_id, "CNI_NETNS": netns, "CNI_IFNAME": "eth0"}
        stdins = [request_config(net, plugin, rt, None) for plugin in net.plugins]
        order = [("ADD", i) for i in range(len(targets))]
        order += [("DEL", i) for i in reversed(range(len(targets)))]
        for command, i in order:
            output = await run_executable(
                targets[i], command, stdins[i], {**env, "CNI_COMMAND": command}, 30.0
            )
            if output.exit_status != 0:
                raise RuntimeError(f"{targets[i].plugin_type} {command}: {output.stdout!r}")
    return cycles / (time.perf_counter() - start)


async def _floor_per_second(execs: int) -> float:
    target = PluginTarget("true", shutil.which("true") or "/bin/true")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    start = time.perf_counter()
    for _ in range(execs):
        output = await run_executable(target, "ADD", b"{}", env, 30.0)
        assert output.exit_status == 0
    return execs / (time.perf_counter() - start)


def missing_prerequisites() -> str | None:
    """Why this benchmark cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and bridges)"
    for tool in ("ip", f"{CNI_DIR}/bridge", f"{CNI_DIR}/host-local", f"{CNI_DIR}/loopback"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: iproute2, containernetworking-plugins)"
    return None


async def _measure(cycles: int, reps: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"real": [], "plain": [], "floor": [], "fake": []}
    with (
        tempfile.TemporaryDirectory(prefix="kcore-cni-bench-") as tmp,
        _scratch_namespace() as (
            netns_name,
            bridge,
        ),
    ):
        netns = f"/var/run/netns/{netns_name}"
        net = _network(bridge, _free_subnet(), Path(tmp) / "ipam")
        real = CniInvoker([CNI_DIR], cache_dir=Path(tmp) / "cache", timeout=60)
        fake = CniInvoker([], cache_dir=Path(tmp) / "fake-cache", registry=fake_registry())
        # Warm up: VERSION answers get cached, the bridge gets created, pages get faulted in.
        await _cycles_per_second(real, net, netns, 2)
        await _cycles_per_second(fake, net, netns, 2)
        runs: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("real", lambda: _cycles_per_second(real, net, netns, cycles)),
            ("plain", lambda: _plain_cycles_per_second(net, netns, cycles)),
            ("floor", lambda: _floor_per_second(cycles * EXECS_PER_CYCLE)),
            ("fake", lambda: _cycles_per_second(fake, net, netns, cycles * 10)),
        ]
        for _ in range(reps):
            for name, run in runs:
                samples[name].append(await run())
    return samples


def cni_figures(cycles: int = 30, reps: int = 3) -> list[tuple[str, float, str]]:
    """(name, value, unit and anchor) rows; empty when the prerequisites are missing."""
    if missing_prerequisites() is not None:
        return []
    samples = anyio.run(_measure, cycles, reps)
    real, plain, floor, fake = (
        statistics.median(samples[k]) for k in ("real", "plain", "floor", "fake")
    )
    floor_cycle = floor / EXECS_PER_CYCLE  # cycles/s if plugins cost nothing but their exec
    return [
        ("cni ADD+DEL, real bridge+loopback+host-local", real, "cycles/s (6 plugin execs each)"),
        ("same plugins exec'd directly, no invoker", plain, "cycles/s (anchor for the invoker)"),
        ("time ratio invoker / direct", plain / real, "1.0 = the invoker adds nothing"),
        ("exec floor: /bin/true via kcore's exec path", floor, "execs/s"),
        ("exec floor per cycle (floor / 6)", floor_cycle, "cycles/s if plugins did no work"),
        ("time ratio real cycle / 6 bare execs", floor_cycle / real, "1.0 = all time is exec"),
        ("cni ADD+DEL, in-process fakes", fake, "cycles/s (no processes)"),
        ("speed-up fakes / real", fake / real, "what tests on fakes save"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30, help="ADD+DEL cycles per round")
    parser.add_argument("--reps", type=int, default=3, help="rounds; medians are printed")
    args = parser.parse_args()
    reason = missing_prerequisites()
    if reason is not None:
        print(f"cni benchmark skipped: {reason}", file=sys.stderr)
        return 1
    print(f"CNI benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"medians of {args.reps} rounds, {args.cycles} ADD+DEL cycles per round\n")
    for name, value, note in cni_figures(args.cycles, args.reps):
        print(f"{name:<48} {value:>12,.2f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
