"""The exec path: plugins as real executables (small Python scripts in a tmp CNI_PATH),
including the bad ones — garbage, silent failures, hangs, other spec versions — and the
guarantee that no plugin process outlives its call."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest

from kcore import errors
from kcore.interfaces.cni import (
    CniInvoker,
    CniPluginError,
    FakeHost,
    IncompatibleVersionError,
    NetworkConfigList,
    PluginRegistry,
    RuntimeConf,
)
from tests.interfaces.cni.conftest import ScriptWriter

pytestmark = pytest.mark.anyio

RT = RuntimeConf("ctr9", "/var/run/netns/x", "eth1", args={"A": "1", "B": "2"})
RESULT_100 = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth1", "sandbox": "/var/run/netns/x"}],
    "ips": [{"address": "10.3.0.9/16", "gateway": "10.3.0.1", "interface": 0}],
}


def net_of(*types: str, version: str = "1.0.0", **plugin_keys: object) -> NetworkConfigList:
    return NetworkConfigList.from_dict(
        {
            "cniVersion": version,
            "name": "execnet",
            "plugins": [{"type": t, **plugin_keys} for t in types],
        }
    )


@pytest.fixture
def exec_invoker(tmp_path: Path) -> CniInvoker:
    return CniInvoker([tmp_path / "bin"], cache_dir=tmp_path / "cache", timeout=20)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone: it has stopped running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def wait_gone(pid: int) -> bool:
    for _ in range(100):  # bounded: 100 x 50 ms
        if not alive(pid):
            return True
        await anyio.sleep(0.05)
    return False


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_well_behaved_script_sees_the_protocol(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter, tmp_path: Path
) -> None:
    record = tmp_path / "calls.jsonl"
    write_plugin(
        "recorder",
        f"""
        config = json.load(sys.stdin)
        env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
        with open({str(record)!r}, "a") as log:
            log.write(json.dumps({{"env": env, "config": config}}) + "\\n")
        if env["CNI_COMMAND"] == "ADD":
            print(json.dumps({json.dumps(RESULT_100)}))
        """,
    )
    net = net_of("recorder", capabilities={"mac": True}, extra={"k": [1]})
    rt = RuntimeConf(
        "ctr9", "/var/run/netns/x", "eth1", args={"A": "1"}, capability_args={"mac": "m"}
    )
    result = await exec_invoker.add(net, rt)
    assert str(result.ips[0].address) == "10.3.0.9/16"
    await exec_invoker.check(net, rt)
    await exec_invoker.delete(net, rt)
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert [c["env"]["CNI_COMMAND"] for c in calls] == ["ADD", "CHECK", "DEL"]
    add = calls[0]
    assert add["env"] == {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "ctr9",
        "CNI_NETNS": "/var/run/netns/x",
        "CNI_IFNAME": "eth1",
        "CNI_ARGS": "A=1",
        "CNI_PATH": str(tmp_path / "bin"),
    }
    assert add["config"] == {
        "type": "recorder",
        "extra": {"k": [1]},
        "cniVersion": "1.0.0",
        "name": "execnet",
        "runtimeConfig": {"mac": "m"},
    }
    assert calls[1]["config"]["prevResult"]["ips"][0]["address"] == "10.3.0.9/16"
    assert calls[2]["config"]["prevResult"] == calls[1]["config"]["prevResult"]


async def test_garbage_output_is_a_clear_error(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter
) -> None:
    path = write_plugin("garbage", 'print("Segmentation fault? no: just text")')
    with pytest.raises(CniPluginError) as caught:
        await exec_invoker.add(net_of("garbage"), RT)
    message = str(caught.value)
    assert f"'garbage' ({path}) ADD" in message
    assert "printed invalid JSON" in message and "just text" in message
    assert caught.value.exit_status == 0


async def test_nonzero_exit_without_json(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter
) -> None:
    write_plugin("dies", 'sys.stderr.write("cannot open /dev/kmsg\\n"); sys.exit(3)')
    with pytest.raises(CniPluginError) as caught:
        await exec_invoker.add(net_of("dies"), RT)
    assert caught.value.exit_status == 3 and caught.value.cni_code is None
    assert "failed without printing a CNI error" in str(caught.value)
    assert "cannot open /dev/kmsg" in str(caught.value)


async def test_cni_error_json_is_read(exec_invoker: CniInvoker, write_plugin: ScriptWriter) -> None:
    body = {"cniVersion": "1.0.0", "code": 7, "msg": "Invalid Configuration", "details": "/31"}
    write_plugin("refuses", f"print(json.dumps({body!r})); sys.exit(1)")
    with pytest.raises(CniPluginError) as caught:
        await exec_invoker.add(net_of("refuses"), RT)
    assert caught.value.cni_code == 7 and caught.value.error is not None
    assert caught.value.error.details == "/31"
    assert "7 (invalid network config): Invalid Configuration (/31)" in str(caught.value)
    assert caught.value.grpc_code == "INVALID_ARGUMENT"


async def test_huge_output_is_capped_in_the_message(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter
) -> None:
    write_plugin("chatty", 'sys.stdout.write("x" * 9_000_000); sys.stderr.write("y" * 2_000_000)')
    with pytest.raises(CniPluginError) as caught:
        await exec_invoker.add(net_of("chatty"), RT)
    assert len(str(caught.value)) < 2000
    assert len(caught.value.stdout) == 4 * 1024 * 1024  # kept up to the cap, rest drained


async def test_a_plugin_that_ignores_stdin(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter
) -> None:
    # It answers before reading a config bigger than the pipe buffer: not an error for us.
    write_plugin("hasty", f"print(json.dumps({json.dumps(RESULT_100)}))")
    net = net_of("hasty", padding="p" * 1_000_000)
    assert (await exec_invoker.add(net, RT)).ips[0].interface == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_hanging_plugin_is_killed_with_its_children(
    tmp_path: Path, write_plugin: ScriptWriter
) -> None:
    pids = tmp_path / "pids"
    write_plugin(
        "hangs",
        f"""
        import subprocess
        child = subprocess.Popen(["sleep", "300"])
        with open({str(pids)!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(300)
        """,
    )
    invoker = CniInvoker([tmp_path / "bin"], cache_dir=tmp_path / "c", timeout=1.5)
    with pytest.raises(errors.TimeoutError) as caught:
        await invoker.add(net_of("hangs"), RT)
    assert "'hangs'" in str(caught.value) and "ADD" in str(caught.value)
    assert "1.5s" in str(caught.value) and "killed" in str(caught.value)
    plugin_pid, child_pid = map(int, pids.read_text().split())
    assert await wait_gone(plugin_pid)
    assert await wait_gone(child_pid)


async def test_cancelling_the_caller_kills_the_plugin(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    write_plugin("slow", f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(300)")
    with anyio.move_on_after(30) as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(exec_invoker.add, net_of("slow"), RT)
            for _ in range(200):  # bounded: until the plugin has started
                if pid_file.exists() and pid_file.read_text():
                    break
                await anyio.sleep(0.05)
            group.cancel_scope.cancel()
    assert not scope.cancelled_caught
    assert await wait_gone(int(pid_file.read_text()))


async def test_an_older_version_result_is_converted(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter
) -> None:
    old = {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "eth1", "sandbox": "/var/run/netns/x"}],
        "ips": [{"version": "4", "address": "10.3.0.9/16", "gateway": "10.3.0.1", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0"}],
    }
    write_plugin("old", f"print(json.dumps({old!r}))")
    result = await exec_invoker.add(net_of("old"), RT)
    assert result.cni_version == "1.0.0"
    assert result.to_dict()["ips"] == [
        {"interface": 0, "address": "10.3.0.9/16", "gateway": "10.3.0.1"}
    ]
    cached = await exec_invoker.cached_result(net_of("old"), RT)
    assert cached == result


@pytest.mark.parametrize("version", ["0.2.0", "3.0.0"])
async def test_a_result_of_an_unknown_version_is_refused(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter, version: str
) -> None:
    body = {"cniVersion": version, "ip4": {"ip": "10.3.0.9/16"}}
    write_plugin("odd", f"print(json.dumps({body!r}))")
    with pytest.raises(CniPluginError, match=rf"'odd' .* spec version '{version}'.*cannot read"):
        await exec_invoker.add(net_of("odd"), RT)
    assert await exec_invoker.cached_result(net_of("odd"), RT) is None


async def test_version_negotiation_with_binaries(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter
) -> None:
    write_plugin(
        "ancient",
        """
        if os.environ["CNI_COMMAND"] == "VERSION":
            print(json.dumps({"code": 4, "msg": "unknown CNI_COMMAND: VERSION"}))
            sys.exit(1)
        print("{}")
        """,
        answer_version=False,
    )
    with pytest.raises(IncompatibleVersionError, match=r"'ancient'.*supports 0.1.0"):
        await exec_invoker.add(net_of("ancient"), RT)
    info = await exec_invoker.version_info("ancient")
    assert info.supported_versions == ("0.1.0",)

    write_plugin("modern", "print('{}')")  # answers VERSION: 0.4.0 and 1.0.0
    with pytest.raises(IncompatibleVersionError, match=r"cniVersion '1.1.0'.*0.4.0, 1.0.0"):
        await exec_invoker.add(net_of("modern", version="1.1.0"), RT)
    assert (await exec_invoker.version_info("modern")).supports("0.4.0")


async def test_plugin_lookup_in_cni_path(tmp_path: Path, write_plugin: ScriptWriter) -> None:
    second = tmp_path / "second"
    second.mkdir()
    (second / "noexec").write_text("#!/bin/sh\n")  # not executable: not a plugin
    write_plugin("found", f"print(json.dumps({json.dumps(RESULT_100)}))")
    invoker = CniInvoker(
        f"{second}{os.pathsep}{tmp_path / 'bin'}", cache_dir=tmp_path / "c", timeout=20
    )
    assert invoker.cni_path == (str(second), str(tmp_path / "bin"))
    assert (await invoker.add(net_of("found"), RT)).ips
    with pytest.raises(errors.NotFoundError, match=r"'noexec' not found in CNI_PATH"):
        await invoker.add(net_of("noexec"), RT)


async def test_fake_bridge_delegates_ipam_to_a_binary(
    tmp_path: Path, write_plugin: ScriptWriter, registry: PluginRegistry, host: FakeHost
) -> None:
    log = tmp_path / "ipam.log"
    write_plugin(
        "script-ipam",
        f"""
        config = json.load(sys.stdin)
        with open({str(log)!r}, "a") as f:
            f.write(os.environ["CNI_COMMAND"] + " " + config["name"] + "\\n")
        if os.environ["CNI_COMMAND"] == "ADD":
            ip = {{"address": "192.168.7.7/24", "gateway": "192.168.7.1"}}
            print(json.dumps({{"cniVersion": "1.0.0", "ips": [ip]}}))
        """,
    )
    registry.unregister("host-local")
    invoker = CniInvoker(
        [tmp_path / "bin"], cache_dir=tmp_path / "c", timeout=20, registry=registry
    )
    net = NetworkConfigList.from_dict(
        {
            "cniVersion": "1.0.0",
            "name": "mixed",
            "plugins": [{"type": "bridge", "bridge": "b0", "ipam": {"type": "script-ipam"}}],
        }
    )
    result = await invoker.add(net, RT)
    assert [(str(ip.address), ip.interface) for ip in result.ips] == [("192.168.7.7/24", 2)]
    assert host.addresses(RT.netns) == ["192.168.7.7/24"]
    await invoker.delete(net, RT)
    assert log.read_text().split("\n")[:2] == ["ADD mixed", "DEL mixed"]


async def test_a_file_that_cannot_be_executed(exec_invoker: CniInvoker, tmp_path: Path) -> None:
    broken = tmp_path / "bin" / "notabinary"
    broken.parent.mkdir(exist_ok=True)
    broken.write_bytes(b"\x00\x01 not an executable format")
    broken.chmod(0o755)
    with pytest.raises(CniPluginError, match=r"'notabinary' .* could not be started"):
        await exec_invoker.add(net_of("notabinary"), RT)


async def test_stderr_of_a_successful_plugin_is_logged(
    exec_invoker: CniInvoker, write_plugin: ScriptWriter, caplog: pytest.LogCaptureFixture
) -> None:
    write_plugin("talks", f'sys.stderr.write("hello log"); print(json.dumps({RESULT_100!r}))')
    with caplog.at_level("INFO", logger="kcore.interfaces.cni"):
        await exec_invoker.add(net_of("talks"), RT)
    assert any(
        "'talks'" in r.getMessage() and "hello log" in r.getMessage() for r in caplog.records
    )
