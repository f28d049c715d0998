"""Network config lists: parsing, validation errors naming file and field, file/dir loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kcore import errors
from kcore.interfaces.cni import (
    NetworkConfigList,
    PluginConf,
    find_network,
    load_conf_dir,
    load_conflist,
)

CONFLIST = {
    "cniVersion": "1.0.0",
    "name": "mynet",
    "disableCheck": True,
    "vendorKey": {"kept": True},
    "plugins": [
        {
            "type": "bridge",
            "bridge": "cni0",
            "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"},
            "dns": {"nameservers": ["10.22.0.10"]},
            "someFutureKey": [1, 2, {"x": None}],
        },
        {"type": "portmap", "capabilities": {"portMappings": True, "bandwidth": False}},
    ],
}


def write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_conflist_fields_and_every_plugin_key_kept() -> None:
    net = NetworkConfigList.from_dict(CONFLIST)
    assert (net.name, net.cni_version, net.disable_check) == ("mynet", "1.0.0", True)
    assert [plugin.type for plugin in net.plugins] == ["bridge", "portmap"]
    bridge, portmap = net.plugins
    assert bridge.ipam is not None and bridge.ipam["subnet"] == "10.22.0.0/16"
    assert bridge.dns is not None and bridge.dns["nameservers"] == ("10.22.0.10",)
    assert bridge.to_dict() == CONFLIST["plugins"][0]
    assert portmap.capabilities == {"portMappings": True, "bandwidth": False}
    assert net.to_dict() == CONFLIST
    assert NetworkConfigList.from_json(net.to_json()) == net


def test_configs_are_read_only_all_the_way_down() -> None:
    net = NetworkConfigList.from_dict(CONFLIST)
    with pytest.raises(TypeError):
        net.plugins[0].raw["bridge"] = "evil"  # type: ignore[index]
    ipam = net.plugins[0].ipam
    assert ipam is not None
    with pytest.raises(TypeError):
        ipam["subnet"] = "0.0.0.0/0"  # type: ignore[index]
    # editing an exported copy leaves the config as it was
    exported = net.to_dict()
    exported["plugins"][0]["ipam"]["subnet"] = "changed"
    assert net.plugins[0].to_dict()["ipam"]["subnet"] == "10.22.0.0/16"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("FALSE", False), (False, False)])
def test_disable_check_takes_booleans_and_their_strings(value: object, expected: bool) -> None:
    assert (
        NetworkConfigList.from_dict({**CONFLIST, "disableCheck": value}).disable_check is expected
    )


def test_cni_versions_picks_the_highest_version_kcore_runs() -> None:
    doc = {**CONFLIST, "cniVersions": ["0.4.0", "1.0.0", "9.9.9"], "cniVersion": "0.3.1"}
    assert NetworkConfigList.from_dict(doc).cni_version == "1.0.0"


def test_every_error_in_a_document_is_listed_with_its_field() -> None:
    doc = {
        "cniVersion": "0.2.0",
        "name": "bad name",
        "disableCheck": "maybe",
        "plugins": [
            {"bridge": "x"},
            {"type": "a/b"},
            {"type": "p", "capabilities": {"mac": "yes"}, "ipam": {"subnet": "x"}},
            "nope",
        ],
    }
    with pytest.raises(errors.InvalidError) as caught:
        NetworkConfigList.from_dict(doc, source="/etc/cni/net.d/10-bad.conflist")
    paths = [cause.path for cause in caught.value.causes]
    assert paths == [
        "name",
        "cniVersion",
        "disableCheck",
        "plugins[0].type",
        "plugins[1].type",
        "plugins[2].capabilities.mac",
        "plugins[2].ipam.type",
        "plugins[3]",
    ]
    message = str(caught.value)
    assert message.startswith("/etc/cni/net.d/10-bad.conflist: ")
    assert "plugins[1].type: must be a file name" in message


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"name": "n", "plugins": [{"type": "x"}]}, "cniVersion"),
        ({"cniVersion": "1.0.0", "plugins": [{"type": "x"}]}, "name"),
        ({"cniVersion": "1.0.0", "name": "n", "plugins": []}, "plugins"),
        ({"cniVersion": "1.0.0", "name": "n"}, "plugins"),
        (
            {"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "x", "dns": 1}]},
            "plugins[0].dns",
        ),
    ],
)
def test_missing_or_bad_top_level_fields(doc: dict[str, object], path: str) -> None:
    with pytest.raises(errors.InvalidError) as caught:
        NetworkConfigList.from_dict(doc)
    assert [cause.path for cause in caught.value.causes] == [path]


def test_single_conf_is_wrapped_into_a_list(tmp_path: Path) -> None:
    conf = {"cniVersion": "0.4.0", "name": "single", "type": "bridge", "bridge": "br9"}
    net = load_conflist(write(tmp_path / "10-single.conf", conf))
    assert net.name == "single" and net.cni_version == "0.4.0"
    assert len(net.plugins) == 1 and net.plugins[0].type == "bridge"
    assert net.plugins[0].raw["bridge"] == "br9"
    assert net.to_dict()["plugins"] == [conf]
    assert net.source == str(tmp_path / "10-single.conf")


def test_a_conflist_file_must_have_plugins(tmp_path: Path) -> None:
    path = write(tmp_path / "10-x.conflist", {"cniVersion": "1.0.0", "name": "x", "type": "b"})
    with pytest.raises(errors.InvalidError, match=r"10-x.conflist: .*plugins"):
        load_conflist(path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match=r"nothere.conflist"):
        load_conflist(tmp_path / "nothere.conflist")
    broken = write(tmp_path / "broken.conflist", "{not json")
    with pytest.raises(errors.InvalidError, match=r"broken.conflist: not valid JSON"):
        load_conflist(broken)
    array = write(tmp_path / "array.conflist", "[]")
    with pytest.raises(errors.InvalidError, match=r"array.conflist: .*JSON object"):
        load_conflist(array)


def test_directory_is_read_in_lexical_order_with_all_extensions(tmp_path: Path) -> None:
    def doc(name: str) -> dict[str, object]:
        return {"cniVersion": "1.0.0", "name": name, "plugins": [{"type": "bridge"}]}

    write(tmp_path / "20-b.conflist", doc("b"))
    write(tmp_path / "10-a.conf", {"cniVersion": "1.0.0", "name": "a", "type": "ptp"})
    write(tmp_path / "99-z.json", doc("z"))
    write(tmp_path / "15-ignored.txt", "not a config")
    (tmp_path / "05-dir.conflist").mkdir()
    nets = load_conf_dir(tmp_path)
    assert [net.name for net in nets] == ["a", "b", "z"]
    assert find_network(tmp_path, "b").source.endswith("20-b.conflist")
    with pytest.raises(errors.NotFoundError, match=r"'nope' .*a, b, z"):
        find_network(tmp_path, "nope")


def test_missing_directory_has_no_networks_and_a_bad_file_fails_the_load(tmp_path: Path) -> None:
    assert load_conf_dir(tmp_path / "absent") == []
    write(tmp_path / "10-ok.conflist", CONFLIST)
    write(tmp_path / "20-bad.conflist", {"cniVersion": "1.0.0", "name": "bad", "plugins": [{}]})
    with pytest.raises(errors.InvalidError, match=r"20-bad.conflist: .*plugins\[0\].type"):
        load_conf_dir(tmp_path)


def test_plugin_conf_alone() -> None:
    plugin = PluginConf.from_dict({"type": "macvlan", "master": "eth0"})
    assert plugin.capabilities == {} and plugin.ipam is None
    with pytest.raises(errors.InvalidError, match=r"type"):
        PluginConf.from_dict({"master": "eth0"})
