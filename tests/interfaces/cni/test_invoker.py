"""The invoker over in-process plugins: chaining, prevResult, runtimeConfig, DEL in reverse,
the result cache, CHECK, version negotiation, and how plugin failures surface."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from kcore import errors
from kcore.interfaces.cni import (
    CniInvoker,
    CniPluginError,
    ErrorCode,
    FakeHost,
    IncompatibleVersionError,
    NetworkConfigList,
    PluginFailure,
    PluginOutput,
    PluginRegistry,
    PluginRequest,
    PythonPlugin,
    Result,
    RuntimeConf,
    request_config,
)
from tests.interfaces.cni.conftest import Call, Recorder, bridge_network

pytestmark = pytest.mark.anyio

RT = RuntimeConf("ctr1", "/var/run/netns/pod1", "eth0", args={"K8S_POD_NAME": "web"})


def chain(*types: str, version: str = "1.0.0", **extra: object) -> NetworkConfigList:
    return NetworkConfigList.from_dict(
        {"cniVersion": version, "name": "chain", "plugins": [{"type": t} for t in types], **extra}
    )


def recorders(invoker: CniInvoker, *names: str, **kw: object) -> list[Call]:
    log: list[Call] = []
    for name in names:
        invoker.registry.register(name, Recorder(name, log, **kw))  # type: ignore[arg-type]
    return log


# --- a realistic chain on the fakes ------------------------------------------------------------


async def test_add_check_del_with_fake_bridge_loopback_tuning(
    invoker: CniInvoker, host: FakeHost
) -> None:
    net = bridge_network()
    rt = RuntimeConf("c1", "/var/run/netns/a", capability_args={"mac": "02:00:00:00:00:aa"})
    result = await invoker.add(net, rt)
    assert [i.name for i in result.interfaces] == ["cni-test0", result.interfaces[1].name, "eth0"]
    assert result.interfaces[2].sandbox == "/var/run/netns/a"
    assert result.interfaces[2].mac == "02:00:00:00:00:aa"  # tuning changed prevResult
    assert [(str(ip.address), str(ip.gateway), ip.interface) for ip in result.ips] == [
        ("10.88.0.2/24", "10.88.0.1", 2)
    ]
    assert sorted(host.addresses("/var/run/netns/a")) == ["10.88.0.2/24", "127.0.0.1/8", "::1/128"]
    assert host.host_links["cni-test0"].addresses == ["10.88.0.1/24"]
    assert await invoker.cached_result(net, rt) == result

    await invoker.check(net, rt)

    other = await invoker.add(net, RuntimeConf("c2", "/var/run/netns/b"))
    assert str(other.ips[0].address) == "10.88.0.3/24"

    await invoker.delete(net, rt)
    assert "eth0" not in host.namespaces["/var/run/netns/a"]
    assert await invoker.cached_result(net, rt) is None
    # the address went back to the pool: a new container gets the next one round-robin,
    # and the released one again once the range wraps
    assert await invoker.delete(net, rt) is None  # repeated DEL succeeds
    again = await invoker.add(net, RuntimeConf("c3", "/var/run/netns/c"))
    assert str(again.ips[0].address) == "10.88.0.4/24"


async def test_check_finds_what_broke(invoker: CniInvoker, host: FakeHost) -> None:
    net = bridge_network()
    rt = RuntimeConf("c1", "/var/run/netns/a")
    await invoker.add(net, rt)
    host.namespaces["/var/run/netns/a"]["eth0"].addresses.clear()
    with pytest.raises(
        CniPluginError, match=r"'bridge' \(in-process\) CHECK .*10.88.0.2/24 missing"
    ):
        await invoker.check(net, rt)


async def test_check_is_skipped_with_disable_check_and_needs_a_cached_add(
    invoker: CniInvoker,
) -> None:
    log = recorders(invoker, "a")
    await invoker.check(chain("a", disableCheck=True), RT)
    assert log == []
    with pytest.raises(errors.NotFoundError, match=r"no cached ADD result .*'chain'.*'ctr1'"):
        await invoker.check(chain("a"), RT)
    with pytest.raises(errors.InvalidArgumentError, match=r"CHECK needs 0.4.0"):
        await invoker.check(chain("a", version="0.3.1"), RT)


# --- protocol mechanics ---------------------------------------------------------------------


async def test_add_chains_prev_results_and_del_runs_in_reverse(invoker: CniInvoker) -> None:
    log = recorders(invoker, "a", "b", "c")
    net = chain("a", "b", "c")
    result = await invoker.add(net, RT)
    assert [i.name for i in result.interfaces] == ["a", "b", "c"]
    adds = [call for call in log if call.command == "ADD"]
    assert [call.plugin for call in adds] == ["a", "b", "c"]
    assert adds[0].request.prev_result is None
    assert [i.name for i in adds[1].request.prev_result.interfaces] == ["a"]  # type: ignore[union-attr]
    assert [i.name for i in adds[2].request.prev_result.interfaces] == ["a", "b"]  # type: ignore[union-attr]

    log.clear()
    await invoker.check(net, RT)
    assert [(c.plugin, c.command) for c in log] == [("a", "CHECK"), ("b", "CHECK"), ("c", "CHECK")]
    assert all(c.request.prev_result == result for c in log)

    log.clear()
    await invoker.delete(net, RT)
    assert [(c.plugin, c.command) for c in log] == [("c", "DEL"), ("b", "DEL"), ("a", "DEL")]
    assert all(c.request.prev_result == result for c in log)

    log.clear()
    await invoker.delete(net, RT)  # nothing cached any more: plugins run without prevResult
    assert [c.plugin for c in log] == ["c", "b", "a"]
    assert all(c.request.prev_result is None for c in log)


async def test_environment_seen_by_plugins(invoker: CniInvoker) -> None:
    log = recorders(invoker, "a")
    await invoker.add(chain("a"), RT)
    env = log[0].request.env
    assert env["CNI_COMMAND"] == "ADD"
    assert env["CNI_CONTAINERID"] == "ctr1"
    assert env["CNI_NETNS"] == "/var/run/netns/pod1"
    assert env["CNI_IFNAME"] == "eth0"
    assert env["CNI_ARGS"] == "K8S_POD_NAME=web"
    assert env["CNI_PATH"] == invoker.cni_path[0]
    assert log[0].request.args == {"K8S_POD_NAME": "web"}


async def test_request_config_injections() -> None:
    net = NetworkConfigList.from_dict(
        {
            "cniVersion": "1.0.0",
            "name": "n",
            "plugins": [
                {
                    "type": "portmap",
                    "cniVersion": "0.1.0",
                    "name": "ignored",
                    "capabilities": {"portMappings": True, "bandwidth": False, "mac": True},
                    "snat": True,
                }
            ],
        }
    )
    rt = RuntimeConf(
        "c",
        "/n",
        capability_args={"portMappings": [{"hostPort": 8080}], "bandwidth": {"r": 1}, "ips": []},
    )
    prev = Result(cni_version="1.0.0")
    body = json.loads(request_config(net, net.plugins[0], rt, prev))
    assert body == {
        "type": "portmap",
        "cniVersion": "1.0.0",
        "name": "n",
        "snat": True,
        # only capabilities the plugin declares *and enables*, and only those the caller gave
        "runtimeConfig": {"portMappings": [{"hostPort": 8080}]},
        "prevResult": {"cniVersion": "1.0.0", "dns": {}},
    }
    # no capability args -> no runtimeConfig; no prev -> no prevResult
    assert set(json.loads(request_config(net, net.plugins[0], RuntimeConf("c", "/n"), None))) == {
        "type",
        "cniVersion",
        "name",
        "snat",
    }


async def test_legacy_config_gets_prev_result_in_its_own_version(invoker: CniInvoker) -> None:
    log = recorders(invoker, "a", "b", versions=("0.3.1", "0.4.0"))
    registry_bridge = bridge_network(version="0.4.0")
    assert registry_bridge.cni_version == "0.4.0"
    net = chain("a", "b", version="0.4.0")
    await invoker.add(net, RuntimeConf("c", "/n"))
    # what "b" read on stdin: the prevResult written as 0.4.0
    stdin = json.loads(log[1].request.stdin)
    assert stdin["cniVersion"] == "0.4.0" and stdin["prevResult"]["cniVersion"] == "0.4.0"


async def test_version_negotiation_refuses_unsupported_config(invoker: CniInvoker) -> None:
    log = recorders(invoker, "old", versions=("0.3.1", "0.4.0"))
    with pytest.raises(IncompatibleVersionError) as caught:
        await invoker.add(chain("old"), RT)
    assert caught.value.supported == ("0.3.1", "0.4.0") and caught.value.version == "1.0.0"
    assert "'old'" in str(caught.value) and "0.3.1, 0.4.0" in str(caught.value)
    assert log == []  # never run with a config it cannot read
    info = await invoker.version_info("old")
    assert info.supported_versions == ("0.3.1", "0.4.0")
    assert await invoker.add(chain("old", version="0.4.0"), RT)


async def test_version_is_asked_once_per_plugin(invoker: CniInvoker) -> None:
    asked: list[str] = []

    class Counting(PythonPlugin):
        async def __call__(self, stdin, env, delegate):  # type: ignore[no-untyped-def]
            asked.append(env["CNI_COMMAND"])
            return await super().__call__(stdin, env, delegate)

        async def add(self, request: PluginRequest) -> Result:
            return Result()

    invoker.registry.register("counting", Counting())
    for container in ("c1", "c2", "c3"):
        await invoker.add(chain("counting"), RuntimeConf(container, "/n"))
    assert asked == ["VERSION", "ADD", "ADD", "ADD"]


async def test_validate_reports_capabilities_and_missing_plugins(invoker: CniInvoker) -> None:
    net = bridge_network()
    assert await invoker.validate(net) == ("mac",)
    with pytest.raises(errors.NotFoundError, match=r"'nosuch' not found in CNI_PATH"):
        await invoker.validate(chain("loopback", "nosuch"))


async def test_invalid_attachment_parameters_run_nothing(invoker: CniInvoker) -> None:
    log = recorders(invoker, "a")
    for rt in (
        RuntimeConf("bad/id", "/n"),
        RuntimeConf("", "/n"),
        RuntimeConf("c", "/n", ifname="much-too-long-ifname"),
        RuntimeConf("c", "/n", ifname="a b"),
    ):
        with pytest.raises(errors.InvalidArgumentError):
            await invoker.add(chain("a"), rt)
    assert log == []


# --- failures ---------------------------------------------------------------------------


class Failing(PythonPlugin):
    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    async def add(self, request: PluginRequest) -> Result:
        raise self.failure


async def test_plugin_error_stops_the_chain_and_names_the_plugin(invoker: CniInvoker) -> None:
    log = recorders(invoker, "a", "c")
    invoker.registry.register(
        "b", Failing(PluginFailure(ErrorCode.TRY_AGAIN_LATER, "busy", "lock"))
    )
    with pytest.raises(CniPluginError) as caught:
        await invoker.add(chain("a", "b", "c"), RT)
    error = caught.value
    assert (error.plugin, error.command, error.cni_code, error.exit_status) == ("b", "ADD", 11, 1)
    assert error.retryable
    assert "for network 'chain', container 'ctr1', interface 'eth0'" in str(error)
    assert [c.plugin for c in log] == ["a"]  # c never ran
    assert await invoker.cached_result(chain("a", "b", "c"), RT) is None  # nothing cached


async def test_a_crashing_python_plugin_reports_like_a_crashing_binary(invoker: CniInvoker) -> None:
    invoker.registry.register("buggy", Failing(ZeroDivisionError("oops")))
    with pytest.raises(CniPluginError) as caught:
        await invoker.add(chain("buggy"), RT)
    assert caught.value.exit_status == 2 and caught.value.cni_code is None
    assert "without printing a CNI error" in str(caught.value)
    assert "ZeroDivisionError" in str(caught.value)


async def test_raw_in_process_plugins_get_the_binary_treatment(invoker: CniInvoker) -> None:
    async def garbage(stdin: bytes, env: object, delegate: object) -> PluginOutput:
        if stdin[-21:] == b'"cniVersion":"1.0.0"}':  # VERSION query
            return PluginOutput(b'{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}')
        return PluginOutput(b"<html>not json</html>")

    invoker.registry.register("garbage", garbage)  # type: ignore[arg-type]
    with pytest.raises(CniPluginError, match=r"printed invalid JSON.*<html>"):
        await invoker.add(chain("garbage"), RT)


async def test_a_hanging_in_process_plugin_times_out(
    tmp_path: Path, registry: PluginRegistry
) -> None:
    class Hanging(PythonPlugin):
        async def add(self, request: PluginRequest) -> Result:
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

    registry.register("hang", Hanging())
    invoker = CniInvoker([tmp_path], cache_dir=tmp_path / "c", timeout=0.2, registry=registry)
    with pytest.raises(errors.TimeoutError, match=r"'hang' \(in-process\) ADD .*0.2s"):
        await invoker.add(chain("hang"), RT)


async def test_ipam_failure_in_bridge_undoes_nothing_it_did_not_do(
    invoker: CniInvoker, host: FakeHost
) -> None:
    net = bridge_network(subnet="10.99.0.0/30")  # room for exactly one container (.2)
    await invoker.add(net, RuntimeConf("c1", "/var/run/netns/a"))
    with pytest.raises(CniPluginError, match=r"no addresses left") as caught:
        await invoker.add(net, RuntimeConf("c2", "/var/run/netns/b"))
    assert caught.value.plugin == "bridge"
    assert "eth0" not in host.namespaces.get("/var/run/netns/b", {})
    await invoker.delete(net, RuntimeConf("c1", "/var/run/netns/a"))
    again = await invoker.add(net, RuntimeConf("c2", "/var/run/netns/b"))
    assert str(again.ips[0].address) == "10.99.0.2/30"


async def test_damaged_cache_does_not_block_delete(invoker: CniInvoker) -> None:
    log = recorders(invoker, "a")
    net = chain("a")
    await invoker.add(net, RT)
    invoker.cache.path("chain", "ctr1", "eth0").write_text("{damaged")
    await invoker.delete(net, RT)
    assert [c.command for c in log] == ["ADD", "DEL"] and log[1].request.prev_result is None
    assert not invoker.cache.path("chain", "ctr1", "eth0").exists()


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_plugins_run_on_trio_too(invoker: CniInvoker, host: FakeHost) -> None:
    rt = RuntimeConf("t1", "/var/run/netns/t")
    result = await invoker.add(bridge_network(), rt)
    await invoker.check(bridge_network(), rt)
    await invoker.delete(bridge_network(), rt)
    assert [str(ip.address) for ip in result.ips] == ["10.88.0.2/24"]
    assert "eth0" not in host.namespaces["/var/run/netns/t"]


async def test_a_missing_ipam_plugin_is_the_main_plugins_error(
    invoker: CniInvoker, registry: PluginRegistry
) -> None:
    registry.unregister("host-local")
    with pytest.raises(CniPluginError) as caught:
        await invoker.add(bridge_network(), RuntimeConf("c1", "/var/run/netns/a"))
    assert caught.value.plugin == "bridge" and caught.value.exit_status == 1
    assert "'host-local' not found in CNI_PATH" in str(caught.value)
