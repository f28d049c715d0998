"""CNI results, error bodies and runtime arguments: JSON both ways, version conversion."""

from __future__ import annotations

import ipaddress
import json

import pytest

from kcore import errors
from kcore.interfaces.cni import (
    DNS,
    CniPluginError,
    ErrorCode,
    ErrorResult,
    Interface,
    IPConfig,
    Result,
    Route,
    RuntimeConf,
)

RESULT_100 = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "cni0", "mac": "aa:bb:cc:00:00:01"},
        {"name": "veth1", "mac": "aa:bb:cc:00:00:02", "mtu": 1450},
        {"name": "eth0", "mac": "aa:bb:cc:00:00:03", "sandbox": "/var/run/netns/x"},
    ],
    "ips": [
        {"interface": 2, "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
        {"interface": 2, "address": "fd00::5/64"},
    ],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}, {"dst": "fd00:1::/64", "priority": 5}],
    "dns": {"nameservers": ["10.1.0.10"], "domain": "cluster.local", "search": ["a", "b"]},
}

RESULT_040 = {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:00:00:03", "sandbox": "/n"}],
    "ips": [{"version": "4", "interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


def test_result_100_round_trips_field_for_field() -> None:
    result = Result.from_dict(RESULT_100)
    assert result.interfaces[1] == Interface("veth1", "aa:bb:cc:00:00:02", mtu=1450)
    assert result.ips[0].address == ipaddress.ip_interface("10.1.0.5/24")
    assert result.ips[0].gateway == ipaddress.ip_address("10.1.0.1")
    assert result.ips[1].gateway is None
    assert result.routes[1] == Route("fd00:1::/64", priority=5)
    assert result.dns == DNS(["10.1.0.10"], "cluster.local", ["a", "b"])
    assert result.to_dict() == RESULT_100
    assert Result.from_json(result.to_json()) == result


def test_result_040_is_converted_to_the_100_model() -> None:
    result = Result.from_dict(RESULT_040)
    assert result.cni_version == "1.0.0"
    body = result.to_dict()
    assert "version" not in body["ips"][0]
    assert body["ips"][0] == {"interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}


def test_result_written_as_040_has_ip_versions_and_no_100_only_fields() -> None:
    result = Result(
        interfaces=[Interface("eth0", "aa:bb:cc:00:00:03", mtu=9000, sandbox="/n")],
        ips=[IPConfig("fd00::7/64", interface=0), IPConfig("10.0.0.7/8", "10.0.0.1", 0)],
    )
    body = result.to_dict("0.4.0")
    assert body["cniVersion"] == "0.4.0"
    assert [ip["version"] for ip in body["ips"]] == ["6", "4"]
    assert "mtu" not in body["interfaces"][0]
    # reading it back gives the same model, less what 0.4.0 cannot carry
    back = Result.from_dict(body)
    assert back.ips == result.ips
    assert back.interfaces == (Interface("eth0", "aa:bb:cc:00:00:03", sandbox="/n"),)


def test_missing_cni_version_takes_the_default_version() -> None:
    body = {key: value for key, value in RESULT_040.items() if key != "cniVersion"}
    assert Result.from_dict(body, default_version="0.4.0").ips[0].interface == 0
    with pytest.raises(errors.InvalidError, match=r"cniVersion"):
        Result.from_dict(body)


@pytest.mark.parametrize("version", ["0.2.0", "0.1.0", "2.0.0", "1.0", 4])
def test_unknown_result_versions_are_refused(version: object) -> None:
    with pytest.raises(errors.InvalidError, match=r"not one kcore reads") as caught:
        Result.from_dict({**RESULT_100, "cniVersion": version})
    assert caught.value.causes[0].path == "cniVersion"


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"ips": [{"address": "10.1.0.500/24"}]}, "ips[0].address"),
        ({"ips": [{"address": "10.1.0.5/24", "gateway": "nope"}]}, "ips[0].gateway"),
        ({"ips": [{"address": 17}]}, "ips[0].address"),
        ({"ips": [{"address": "10.1.0.5/24", "interface": 7}]}, "ips[0].interface"),
        ({"interfaces": [{"mac": "x"}]}, "interfaces[0].name"),
        ({"interfaces": [{"name": "a", "mtu": "big"}]}, "interfaces[0].mtu"),
        ({"routes": [{"dst": "default"}]}, "routes[0].dst"),
        ({"routes": "x"}, "result.routes"),
        ({"dns": {"nameservers": [1]}}, "dns.nameservers[0]"),
    ],
)
def test_malformed_result_fields_are_named(patch: dict[str, object], path: str) -> None:
    with pytest.raises(errors.InvalidError) as caught:
        Result.from_dict({**RESULT_100, **patch})
    assert caught.value.causes[0].path == path
    assert path in str(caught.value)


def test_result_from_json_refuses_non_objects() -> None:
    with pytest.raises(errors.InvalidError, match=r"not JSON"):
        Result.from_json(b"{oops")
    with pytest.raises(errors.InvalidError, match=r"JSON object"):
        Result.from_json(b"[1]")


def test_results_are_immutable() -> None:
    result = Result.from_dict(RESULT_100)
    with pytest.raises(AttributeError):
        result.ips = ()  # type: ignore[misc]
    assert isinstance(result.interfaces, tuple)


def test_error_body_round_trip_and_well_known_codes() -> None:
    body = {"cniVersion": "1.0.0", "code": 7, "msg": "Invalid Configuration", "details": "x"}
    error = ErrorResult.from_json(json.dumps(body))
    assert error == ErrorResult(7, "Invalid Configuration", "x", "1.0.0")
    assert error.well_known is ErrorCode.INVALID_NETWORK_CONFIG
    assert json.loads(error.to_json()) == body
    assert ErrorResult(120, "mine").well_known is None
    assert json.loads(ErrorResult(120, "mine").to_json()) == {"code": 120, "msg": "mine"}


def test_error_codes_are_the_specs() -> None:
    assert {code.name: int(code) for code in ErrorCode} == {
        "INCOMPATIBLE_VERSION": 1,
        "UNSUPPORTED_FIELD": 2,
        "UNKNOWN_CONTAINER": 3,
        "INVALID_ENVIRONMENT": 4,
        "IO_FAILURE": 5,
        "DECODE_FAILURE": 6,
        "INVALID_NETWORK_CONFIG": 7,
        "TRY_AGAIN_LATER": 11,
        "PLUGIN_NOT_AVAILABLE": 50,
        "PLUGIN_NOT_AVAILABLE_LIMITED_CONNECTIVITY": 51,
    }


@pytest.mark.parametrize("body", [b"{}", b'{"code": "7"}', b'{"code": true}', b"[]", b"x"])
def test_error_body_needs_an_integer_code(body: bytes) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        ErrorResult.from_json(body)


def test_plugin_error_names_everything_and_maps_codes() -> None:
    error = CniPluginError(
        "failed",
        plugin="bridge",
        command="ADD",
        path="/usr/lib/cni/bridge",
        exit_status=1,
        error=ErrorResult(11, "busy", "lock held"),
        stderr=b"x" * 1000,
    )
    text = str(error)
    for part in (
        "'bridge'",
        "/usr/lib/cni/bridge",
        "ADD",
        "exit status 1",
        "11 (try again later)",
        "busy",
        "lock held",
        "more characters",
    ):
        assert part in text
    assert error.retryable and error.grpc_code == "UNAVAILABLE"
    assert isinstance(error, errors.PeerError)
    unknown = CniPluginError("failed", plugin="p", command="DEL", error=ErrorResult(3, "gone"))
    assert unknown.grpc_code == "NOT_FOUND" and not unknown.retryable


def test_runtime_conf_args_and_capabilities() -> None:
    rt = RuntimeConf(
        "c1",
        "/n",
        args={"K8S_POD_NAME": "p", "IgnoreUnknown": "1"},
        capability_args={"portMappings": [{"hostPort": 80}]},
    )
    assert rt.cni_args == "K8S_POD_NAME=p;IgnoreUnknown=1"
    assert rt.ifname == "eth0"
    with pytest.raises(TypeError):
        rt.capability_args["x"] = 1  # type: ignore[index]
    assert RuntimeConf("c", "/n", args=[("A", "1")]).cni_args == "A=1"
