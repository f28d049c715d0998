"""Fixtures for the CNI tests: an invoker over in-process fakes, and a recording plugin."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from kcore.interfaces.cni import (
    CniInvoker,
    FakeHost,
    Interface,
    NetworkConfigList,
    PluginRegistry,
    PluginRequest,
    PythonPlugin,
    Result,
    fake_registry,
)


@attrs.define
class Call:
    plugin: str
    command: str
    request: PluginRequest


class Recorder(PythonPlugin):
    """Appends an interface named after itself to prevResult; records every call in ``log``."""

    def __init__(self, name: str, log: list[Call], versions: tuple[str, ...] | None = None):
        self.name = name
        self.log = log
        if versions is not None:
            self.supported_versions = versions

    async def add(self, request: PluginRequest) -> Result:
        self.log.append(Call(self.name, "ADD", request))
        prev = request.prev_result or Result()
        mine = Interface(self.name, sandbox=request.netns)
        return attrs.evolve(prev, interfaces=(*prev.interfaces, mine))

    async def delete(self, request: PluginRequest) -> None:
        self.log.append(Call(self.name, "DEL", request))

    async def check(self, request: PluginRequest) -> None:
        self.log.append(Call(self.name, "CHECK", request))


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture
def registry(host: FakeHost) -> PluginRegistry:
    return fake_registry(host)


@pytest.fixture
def invoker(tmp_path: Path, registry: PluginRegistry) -> CniInvoker:
    # An empty CNI_PATH directory: only registered fakes can run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return CniInvoker([bin_dir], cache_dir=tmp_path / "cache", timeout=10, registry=registry)


def bridge_network(subnet: str = "10.88.0.0/24", version: str = "1.0.0", **extra: object):
    """loopback + bridge (host-local IPAM) + tuning (mac capability), like a real conflist."""
    return NetworkConfigList.from_dict(
        {
            "cniVersion": version,
            "name": "testnet",
            "plugins": [
                {"type": "loopback"},
                {
                    "type": "bridge",
                    "bridge": "cni-test0",
                    "isGateway": True,
                    "ipam": {"type": "host-local", "subnet": subnet},
                },
                {"type": "tuning", "capabilities": {"mac": True}},
            ],
            **extra,
        }
    )


ScriptWriter = Callable[..., Path]

VERSION_ANSWER = """
if os.environ.get("CNI_COMMAND") == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
    sys.exit(0)
"""


@pytest.fixture
def write_plugin(tmp_path: Path) -> ScriptWriter:
    """``write_plugin(name, body, answer_version=True)``: an executable Python script in
    ``tmp_path/bin``; by default it answers VERSION with 0.4.0 and 1.0.0 before ``body``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)

    def write(name: str, body: str, answer_version: bool = True) -> Path:
        path = bin_dir / name
        script = f"#!{sys.executable}\nimport json, os, sys, time\n"
        script += (VERSION_ANSWER if answer_version else "") + textwrap.dedent(body)
        # Write to a temporary name and rename, so no open write handle meets an exec.
        tmp = path.with_suffix(".tmp")
        tmp.write_text(script)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
        return path

    return write
