"""Plugin-interface benchmark: CRI round trips per second beside a bare grpc.aio floor.

Printed figures, not tests. CRI section: kcore's ``CRIClient`` calling a ``FakeRuntime`` over a
unix socket, beside the floor, a bare grpc.aio server on a unix socket that answers the same
RPC paths with a prebuilt response (no recording, no state, no validation) called through a
bare grpc.aio stub. A middle column, ``CRIClient`` against the bare server, splits the cost
between kcore's client and its server. Each server runs in its own process (this script with
``--serve``), as a runtime would. Workloads: sequential Version, sequential ListContainers of
20 containers, and Version from 16 concurrent tasks. Each figure is the median of ``--reps``
rounds; rounds visit the targets in turn so machine noise spreads evenly.

CNI section (``benchmarks/cni_bench.py`` measures it): ADD+DEL cycles per second through kcore's
invoker with the real loopback + bridge + host-local plugins in a private network namespace,
beside the same plugins exec'd directly ("direct") and beside six execs of /bin/true through the
same runner per cycle (the floor: what a cycle costs if plugins did nothing but start).

Usage: python benchmarks/interfaces_bench.py [--quick] [--reps N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from kcore.interfaces.cri import CRIClient, FakeRuntime, api

CONTAINERS = 20
CONCURRENCY = 16


@dataclass
class Row:
    """One workload's figures (operations per second) per target, and which two to compare."""

    section: str
    workload: str
    figures: dict[str, float] = field(default_factory=dict)
    numerator: str = "kcore"
    denominator: str = "floor"


# --- servers (run in their own process with --serve) ----------------------------------------


async def seeded_fake() -> FakeRuntime:
    """A FakeRuntime holding one sandbox with CONTAINERS containers."""
    fake = FakeRuntime(images=["busybox:1.36"])
    config = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name="bench", namespace="default", uid="bench-uid")
    )
    sandbox = await fake.run_pod_sandbox(api.RunPodSandboxRequest(config=config))
    for index in range(CONTAINERS):
        await fake.create_container(
            api.CreateContainerRequest(
                pod_sandbox_id=sandbox.pod_sandbox_id,
                config=api.ContainerConfig(
                    metadata=api.ContainerMetadata(name=f"c{index}"),
                    image=api.ImageSpec(image="busybox:1.36"),
                    labels={"app": "bench", "index": str(index)},
                ),
                sandbox_config=config,
            )
        )
    return fake


async def serve_fake(path: str) -> None:
    fake = await seeded_fake()
    async with fake.serve(f"unix://{path}"):
        print("serving", flush=True)
        await asyncio.Event().wait()  # until the parent terminates this process


async def serve_floor(path: str) -> None:
    """The floor: the same RPC paths, a prebuilt answer, nothing else."""
    fake = await seeded_fake()
    version = await fake.version(api.VersionRequest())
    listed = await fake.list_containers(api.ListContainersRequest())

    async def answer_version(request: Any, context: Any) -> api.VersionResponse:
        return version

    async def answer_list(request: Any, context: Any) -> api.ListContainersResponse:
        return listed

    handlers = {
        "Version": grpc.unary_unary_rpc_method_handler(
            answer_version, api.VersionRequest.FromString, api.VersionResponse.SerializeToString
        ),
        "ListContainers": grpc.unary_unary_rpc_method_handler(
            answer_list,
            api.ListContainersRequest.FromString,
            api.ListContainersResponse.SerializeToString,
        ),
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("runtime.v1.RuntimeService", handlers),)
    )
    server.add_insecure_port(f"unix://{path}")
    await server.start()
    print("serving", flush=True)
    await server.wait_for_termination()


@dataclass
class Server:
    name: str
    path: str
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"unix://{self.path}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_server(kind: str, directory: str) -> Server:
    path = f"{directory}/{kind}.sock"
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--socket", path],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            return Server(kind, path, process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{kind} server did not come up on {path}") from None
            time.sleep(0.05)
        finally:
            probe.close()


# --- clients ---------------------------------------------------------------------------------

Call = Callable[[], Awaitable[object]]


async def rate(call: Call, total: int, concurrency: int = 1) -> float:
    """Calls per second for ``total`` calls spread over ``concurrency`` tasks."""
    per_task = total // concurrency

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    await call()  # connect and warm up outside the timing
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_task * concurrency / (time.perf_counter() - started)


async def measure_cri(fake: Server, floor: Server, calls: int, reps: int) -> list[Row]:
    rows = {
        "Version, sequential": Row("CRI", "Version, sequential"),
        f"ListContainers ({CONTAINERS}), sequential": Row(
            "CRI", f"ListContainers ({CONTAINERS}), sequential"
        ),
        f"Version, {CONCURRENCY} concurrent": Row("CRI", f"Version, {CONCURRENCY} concurrent"),
    }
    samples: dict[tuple[str, str], list[float]] = {}
    async with (
        CRIClient(fake.endpoint) as kcore,
        CRIClient(floor.endpoint) as kcore_to_floor,
        grpc.aio.insecure_channel(floor.endpoint) as channel,
    ):
        bare_version = channel.unary_unary(
            "/runtime.v1.RuntimeService/Version",
            request_serializer=api.VersionRequest.SerializeToString,
            response_deserializer=api.VersionResponse.FromString,
        )
        bare_list = channel.unary_unary(
            "/runtime.v1.RuntimeService/ListContainers",
            request_serializer=api.ListContainersRequest.SerializeToString,
            response_deserializer=api.ListContainersResponse.FromString,
        )
        version_request, list_request = api.VersionRequest(), api.ListContainersRequest()
        targets: dict[str, tuple[Call, Call]] = {
            "kcore": (kcore.version, kcore.list_containers),
            "client->floor": (kcore_to_floor.version, kcore_to_floor.list_containers),
            "floor": (
                lambda: bare_version(version_request, timeout=30),
                lambda: bare_list(list_request, timeout=30),
            ),
        }
        if len(await kcore.list_containers()) != CONTAINERS:
            raise RuntimeError("the fake server is not seeded as expected")
        workloads = (
            ("Version, sequential", 0, 1),
            (f"ListContainers ({CONTAINERS}), sequential", 1, 1),
            (f"Version, {CONCURRENCY} concurrent", 0, CONCURRENCY),
        )
        # targets side by side within each workload, so noise hits them alike
        for _ in range(reps):
            for workload, which, concurrency in workloads:
                for name, calls_of in targets.items():
                    figure = await rate(calls_of[which], calls, concurrency)
                    samples.setdefault((workload, name), []).append(figure)
    for (workload, name), figures in samples.items():
        rows[workload].figures[name] = statistics.median(figures)
    return list(rows.values())


def cri_section(args: argparse.Namespace) -> list[Row]:
    """CRI round trips: CRIClient -> FakeRuntime beside the bare grpc.aio floor."""
    directory = tempfile.mkdtemp(prefix="kcore-bench-cri-")
    servers: list[Server] = []
    try:
        servers = [start_server("fake", directory), start_server("floor", directory)]
        return asyncio.run(measure_cri(servers[0], servers[1], args.calls, args.reps))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def cni_section(args: argparse.Namespace) -> list[Row]:
    """CNI ADD+DEL cycles per second with the real bridge plugin (loopback + bridge +
    host-local in a private namespace) beside /bin/true exec'd through the same runner, six
    execs per cycle as the floor. Needs root and the plugins; prints why when skipped."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import cni_bench

    missing = cni_bench.missing_prerequisites()
    if missing is not None:
        print(f"cni: skipped ({missing})")
        return []
    cycles = 10 if args.quick else 30
    figures = {name: value for name, value, _ in cni_bench.cni_figures(cycles, args.reps)}
    real = figures["cni ADD+DEL, real bridge+loopback+host-local"]
    direct = figures["same plugins exec'd directly, no invoker"]
    floor = figures["exec floor per cycle (floor / 6)"]
    return [
        Row(
            "cni", "ADD+DEL cycles (real bridge)", {"kcore": real, "direct": direct, "floor": floor}
        )
    ]


SECTIONS: list[Callable[[argparse.Namespace], list[Row]]] = [cri_section, cni_section]


# --- report ---------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [name for name in row.figures if name not in columns]
    header = f"{'section':<8}{'workload (ops/s, median)':<34}"
    header += "".join(f"{name:>15}" for name in columns) + f"{'ratio':>18}"
    print(header)
    print("-" * len(header))
    for row in rows:
        line = f"{row.section:<8}{row.workload:<34}"
        line += "".join(
            f"{row.figures[name]:>15,.0f}" if name in row.figures else f"{'':>15}"
            for name in columns
        )
        top, bottom = row.figures.get(row.numerator), row.figures.get(row.denominator)
        if top and bottom:
            line += f"{f'{row.numerator}/{row.denominator} {top / bottom:.2f}':>18}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls per figure")
    parser.add_argument("--reps", type=int, default=3, help="rounds per figure (median)")
    parser.add_argument("--calls", type=int, default=0, help="calls per figure")
    parser.add_argument("--serve", choices=["fake", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve = serve_fake if args.serve == "fake" else serve_floor
        asyncio.run(serve(args.socket))
        return
    args.calls = args.calls or (400 if args.quick else 3000)
    rows: list[Row] = []
    for section in SECTIONS:
        rows += section(args)
    print_table(rows)


if __name__ == "__main__":
    main()
