"""The ADD-result cache: libcni's path and format, legacy entries, damage, removal."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from kcore import errors
from kcore.interfaces.cni import (
    IPConfig,
    NetworkConfigList,
    Result,
    ResultCache,
    RuntimeConf,
)

pytestmark = pytest.mark.anyio

NET = NetworkConfigList.from_dict(
    {"cniVersion": "0.4.0", "name": "net1", "plugins": [{"type": "bridge"}]}
)
RT = RuntimeConf(
    "ctr-1", "/var/run/netns/n1", "eth0", args={"K": "V"}, capability_args={"mac": "aa:aa"}
)
RESULT = Result(ips=[IPConfig("10.5.0.2/24", "10.5.0.1")])


async def test_entry_uses_libcnis_path_and_format(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    path = await cache.store(NET, RT, RESULT)
    assert path == tmp_path / "results" / "net1-ctr-1-eth0"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_bytes())
    assert doc["kind"] == "cniCacheV1"
    assert (doc["containerId"], doc["ifName"], doc["networkName"]) == ("ctr-1", "eth0", "net1")
    assert doc["netns"] == "/var/run/netns/n1"
    assert doc["cniArgs"] == [["K", "V"]]
    assert doc["capabilityArgs"] == {"mac": "aa:aa"}
    assert json.loads(base64.b64decode(doc["config"]))["name"] == "net1"
    # the result is written in the network's version (0.4.0 carries "version" in ips)
    assert doc["result"]["cniVersion"] == "0.4.0"
    assert doc["result"]["ips"][0]["version"] == "4"
    assert list((tmp_path / "results").iterdir()) == [path]  # no temporary files left


async def test_load_gives_back_the_result_and_parameters(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    await cache.store(NET, RT, RESULT)
    entry = await cache.load(NET, RT)
    assert entry is not None
    assert entry.result == RESULT
    assert entry.netns == RT.netns and entry.args == (("K", "V"),)
    assert json.loads(entry.config)["plugins"] == [{"type": "bridge"}]
    other = RuntimeConf("ctr-2", "/n", "eth0")
    assert await cache.load(NET, other) is None


async def test_legacy_bare_result_files_are_read(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    path = cache.path("net1", "ctr-1", "eth0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(RESULT.to_dict("0.4.0")))
    entry = await cache.load(NET, RT)
    assert entry is not None and entry.result == RESULT


async def test_damaged_entries_raise_naming_the_file(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    path = cache.path("net1", "ctr-1", "eth0")
    path.parent.mkdir(parents=True)
    for content in (
        "{not json",
        '{"kind": "cniCacheV1"}',
        '{"kind":"cniCacheV1","result":{"cniVersion":"0.4.0","ips":[{"address":"x"}]}}',
    ):
        path.write_text(content)
        with pytest.raises(errors.InvalidError, match=r"net1-ctr-1-eth0.*damaged"):
            await cache.load(NET, RT)


async def test_remove_is_idempotent(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    await cache.store(NET, RT, RESULT)
    await cache.remove(NET, RT)
    await cache.remove(NET, RT)
    assert await cache.load(NET, RT) is None


@pytest.mark.parametrize(("network", "container"), [("../x", "c"), ("n", "a/b"), ("n", "")])
def test_names_that_would_escape_the_directory_are_refused(network: str, container: str) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        ResultCache("/tmp/unused").path(network, container, "eth0")
