"""CNI results and runtime arguments as frozen attrs classes, with the spec's JSON both ways.

One model, the spec 1.0.0 ``Result``, stands for every result kcore reads: 0.3.0, 0.3.1 and
0.4.0 results (which carry a ``version`` of "4"/"6" inside each IP and no ``mtu`` on
interfaces) are converted on the way in, and written back in that older shape when a network
config of that version needs a ``prevResult``. 1.1.0 results have the 1.0.0 shape plus optional
fields this model also keeps. Results of 0.1.0/0.2.0 (``ip4``/``ip6``) or of unknown versions
are refused with an error naming the version, rather than guessed at.

Addresses are ``ipaddress`` objects, so a malformed address is caught when a result is read,
not when a caller later tries to use it. Field errors name the JSON path (``ips[0].address``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeAlias

import attrs

from kcore import errors
from kcore.interfaces.cni._frozen import EMPTY, FrozenJSON, JSONObject, freeze_object

__all__ = [
    "CONFIG_VERSIONS",
    "DNS",
    "LEGACY_RESULT_VERSIONS",
    "RESULT_VERSIONS",
    "SPEC_VERSION",
    "IPAddress",
    "IPConfig",
    "IPInterface",
    "IPNetwork",
    "Interface",
    "Result",
    "Route",
    "RuntimeConf",
    "VersionInfo",
    "version_key",
]

SPEC_VERSION = "1.0.0"
"""The spec kcore writes results in by default (Debian's plugins 1.1.1 speak up to 1.0.0)."""

LEGACY_RESULT_VERSIONS = ("0.3.0", "0.3.1", "0.4.0")
"""Result versions with ``version`` inside each IP: read and converted."""

RESULT_VERSIONS = (*LEGACY_RESULT_VERSIONS, "1.0.0", "1.1.0")
"""Every result version kcore reads."""

CONFIG_VERSIONS = RESULT_VERSIONS
"""Network config versions kcore runs (older ones need the ip4/ip6 result kcore doesn't read)."""

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface: TypeAlias = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


def version_key(version: str) -> tuple[int, int, int]:
    """``"0.4.0"`` -> ``(0, 4, 0)`` for ordering; anything else is an InvalidArgumentError."""
    parts = version.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise errors.InvalidArgumentError(
            f"CNI version {version!r} is not MAJOR.MINOR.PATCH (for example '1.0.0')"
        )
    return int(parts[0]), int(parts[1]), int(parts[2])


def _invalid(path: str, detail: str, value: object = None) -> errors.InvalidError:
    return errors.InvalidError(
        f"CNI result: {path}: {detail}", [errors.FieldError(path, detail, value)]
    )


def _field(body: Mapping[str, object], key: str, kind: type, path: str, default: object) -> object:
    value = body.get(key, default)
    if value is None or value is default:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _invalid(
            f"{path}.{key}", f"must be {kind.__name__}, got {type(value).__name__}", value
        )
    return value


def _str(body: Mapping[str, object], key: str, path: str) -> str:
    return str(_field(body, key, str, path, ""))


def _opt_int(body: Mapping[str, object], key: str, path: str) -> int | None:
    value = _field(body, key, int, path, None)
    return value if isinstance(value, int) else None


def _strings(body: Mapping[str, object], key: str, path: str) -> tuple[str, ...]:
    value = _field(body, key, list, path, [])
    assert isinstance(value, list)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _invalid(f"{path}.{key}[{index}]", "must be a string", item)
    return tuple(value)


def _objects(body: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    value = _field(body, key, list, "result", [])
    assert isinstance(value, list)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _invalid(f"{key}[{index}]", "must be a JSON object", item)
    return value


def _network(value: str | IPNetwork) -> IPNetwork:
    return ipaddress.ip_network(value, strict=False)


def _strs(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(items)


def _interfaces(items: Iterable[Interface]) -> tuple[Interface, ...]:
    return tuple(items)


def _ips(items: Iterable[IPConfig]) -> tuple[IPConfig, ...]:
    return tuple(items)


def _routes(items: Iterable[Route]) -> tuple[Route, ...]:
    return tuple(items)


def _text(kind: str, value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _invalid(path, f"must be a string ({kind}), got {type(value).__name__}", value)
    return value


def _parse_cidr(value: object, path: str) -> IPInterface:
    try:
        return ipaddress.ip_interface(_text("CIDR", value, path))
    except ValueError:
        raise _invalid(path, f"{value!r} is not an address in CIDR form", value) from None


def _parse_network(value: object, path: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(_text("CIDR", value, path), strict=False)
    except ValueError:
        raise _invalid(path, f"{value!r} is not a network in CIDR form", value) from None


def _parse_ip(value: object, path: str) -> IPAddress | None:
    if value is None or value == "":
        return None
    try:
        return ipaddress.ip_address(_text("IP address", value, path))
    except ValueError:
        raise _invalid(path, f"{value!r} is not an IP address", value) from None


@attrs.frozen
class Interface:
    """An interface the attachment created; ``sandbox`` is the netns path, "" on the host."""

    name: str
    mac: str = ""
    mtu: int = 0
    sandbox: str = ""
    socket_path: str = ""
    pci_id: str = ""

    def to_dict(self, legacy: bool = False) -> JSONObject:
        body: JSONObject = {"name": self.name}
        if self.mac:
            body["mac"] = self.mac
        if self.mtu and not legacy:
            body["mtu"] = self.mtu
        if self.sandbox:
            body["sandbox"] = self.sandbox
        if self.socket_path and not legacy:
            body["socketPath"] = self.socket_path
        if self.pci_id and not legacy:
            body["pciID"] = self.pci_id
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, object], path: str) -> Interface:
        if not isinstance(body.get("name"), str):
            raise _invalid(f"{path}.name", "is required and must be a string", body.get("name"))
        return cls(
            name=_str(body, "name", path),
            mac=_str(body, "mac", path),
            mtu=_opt_int(body, "mtu", path) or 0,
            sandbox=_str(body, "sandbox", path),
            socket_path=_str(body, "socketPath", path),
            pci_id=_str(body, "pciID", path),
        )


@attrs.frozen
class IPConfig:
    """An address in CIDR form, its gateway, and the index of its interface in ``interfaces``."""

    address: IPInterface = attrs.field(converter=ipaddress.ip_interface)
    gateway: IPAddress | None = attrs.field(
        default=None, converter=attrs.converters.optional(ipaddress.ip_address)
    )
    interface: int | None = None

    def to_dict(self, legacy: bool = False) -> JSONObject:
        body: JSONObject = {}
        if legacy:
            body["version"] = str(self.address.version)
        if self.interface is not None:
            body["interface"] = self.interface
        body["address"] = str(self.address)
        if self.gateway is not None:
            body["gateway"] = str(self.gateway)
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, object], path: str) -> IPConfig:
        address = _parse_cidr(body.get("address"), f"{path}.address")
        gateway = body.get("gateway")
        index = _opt_int(body, "interface", path)
        if index is not None and index < 0:
            raise _invalid(f"{path}.interface", "must not be negative", index)
        return cls(
            address=address,
            gateway=_parse_ip(gateway, f"{path}.gateway"),
            interface=index,
        )


@attrs.frozen
class Route:
    """A route: destination network, next hop (absent: the IP's gateway), optional attributes."""

    dst: IPNetwork = attrs.field(converter=_network)
    gw: IPAddress | None = attrs.field(
        default=None, converter=attrs.converters.optional(ipaddress.ip_address)
    )
    mtu: int | None = None
    advmss: int | None = None
    priority: int | None = None
    table: int | None = None
    scope: int | None = None

    _OPTIONAL = ("mtu", "advmss", "priority", "table", "scope")

    def to_dict(self) -> JSONObject:
        body: JSONObject = {"dst": str(self.dst)}
        if self.gw is not None:
            body["gw"] = str(self.gw)
        for key in self._OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, object], path: str) -> Route:
        dst = _parse_network(body.get("dst"), f"{path}.dst")
        gw = body.get("gw")
        extra = {key: _opt_int(body, key, path) for key in cls._OPTIONAL}
        return cls(
            dst=dst,
            gw=_parse_ip(gw, f"{path}.gw"),
            **extra,
        )


@attrs.frozen
class DNS:
    """Resolver settings a plugin learned for the network."""

    nameservers: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    domain: str = ""
    search: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    options: tuple[str, ...] = attrs.field(default=(), converter=_strs)

    def to_dict(self) -> JSONObject:
        body: JSONObject = {}
        if self.nameservers:
            body["nameservers"] = list(self.nameservers)
        if self.domain:
            body["domain"] = self.domain
        if self.search:
            body["search"] = list(self.search)
        if self.options:
            body["options"] = list(self.options)
        return body

    @classmethod
    def from_dict(cls, body: Mapping[str, object], path: str = "dns") -> DNS:
        return cls(
            nameservers=_strings(body, "nameservers", path),
            domain=_str(body, "domain", path),
            search=_strings(body, "search", path),
            options=_strings(body, "options", path),
        )


@attrs.frozen
class Result:
    """What ADD returns: interfaces, IPs, routes and DNS, in spec 1.0.0's model."""

    cni_version: str = SPEC_VERSION
    interfaces: tuple[Interface, ...] = attrs.field(default=(), converter=_interfaces)
    ips: tuple[IPConfig, ...] = attrs.field(default=(), converter=_ips)
    routes: tuple[Route, ...] = attrs.field(default=(), converter=_routes)
    dns: DNS = DNS()

    def to_dict(self, version: str | None = None) -> JSONObject:
        """The result as ``version`` (default its own) would print it; 0.3.x/0.4.0 legacy shape."""
        version = version or self.cni_version
        if version not in RESULT_VERSIONS:
            raise errors.InvalidArgumentError(
                f"cannot write a CNI result as version {version!r}; "
                f"kcore writes {', '.join(RESULT_VERSIONS)}"
            )
        legacy = version in LEGACY_RESULT_VERSIONS
        body: JSONObject = {"cniVersion": version}
        if self.interfaces:
            body["interfaces"] = [item.to_dict(legacy) for item in self.interfaces]
        if self.ips:
            body["ips"] = [item.to_dict(legacy) for item in self.ips]
        if self.routes:
            body["routes"] = [item.to_dict() for item in self.routes]
        body["dns"] = self.dns.to_dict()
        return body

    def to_json(self, version: str | None = None) -> bytes:
        return json.dumps(self.to_dict(version)).encode()

    @classmethod
    def from_dict(cls, body: Mapping[str, object], default_version: str = "") -> Result:
        """Read a result of any version in ``RESULT_VERSIONS`` (converted to the 1.0.0 model).

        ``default_version`` stands in for a missing ``cniVersion`` (libcni assumes the config's).
        Unknown versions and malformed fields raise ``InvalidError`` naming the field.
        """
        version = body.get("cniVersion") or default_version
        if not isinstance(version, str) or version not in RESULT_VERSIONS:
            raise _invalid(
                "cniVersion",
                f"result version {version!r} is not one kcore reads "
                f"({', '.join(RESULT_VERSIONS)}; 0.1.0/0.2.0 ip4/ip6 results are not supported)",
                version,
            )
        interfaces = [
            Interface.from_dict(item, f"interfaces[{i}]")
            for i, item in enumerate(_objects(body, "interfaces"))
        ]
        ips = [
            IPConfig.from_dict(item, f"ips[{i}]") for i, item in enumerate(_objects(body, "ips"))
        ]
        for i, ip in enumerate(ips):
            if ip.interface is not None and interfaces and ip.interface >= len(interfaces):
                raise _invalid(
                    f"ips[{i}].interface",
                    f"index {ip.interface} is past the {len(interfaces)} interfaces",
                    ip.interface,
                )
        routes = [
            Route.from_dict(item, f"routes[{i}]") for i, item in enumerate(_objects(body, "routes"))
        ]
        dns = body.get("dns") or {}
        if not isinstance(dns, dict):
            raise _invalid("dns", "must be a JSON object", dns)
        # Older versions convert to the current model; the version read is not kept.
        return cls(
            cni_version=SPEC_VERSION if version in LEGACY_RESULT_VERSIONS else version,
            interfaces=interfaces,
            ips=ips,
            routes=routes,
            dns=DNS.from_dict(dns),
        )

    @classmethod
    def from_json(cls, data: bytes | str, default_version: str = "") -> Result:
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise _invalid("result", f"is not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise _invalid("result", f"must be a JSON object, got {type(body).__name__}")
        return cls.from_dict(body, default_version)


@attrs.frozen
class VersionInfo:
    """A plugin's answer to VERSION: the spec versions it accepts configs in."""

    cni_version: str
    supported_versions: tuple[str, ...] = attrs.field(converter=_strs)

    def supports(self, version: str) -> bool:
        return version in self.supported_versions

    def to_dict(self) -> JSONObject:
        return {"cniVersion": self.cni_version, "supportedVersions": list(self.supported_versions)}


def _capability_args(value: Mapping[str, object]) -> Mapping[str, FrozenJSON]:
    return freeze_object(value) if value else EMPTY


def _cni_args(value: Sequence[tuple[str, str]] | Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    pairs = value.items() if isinstance(value, Mapping) else value
    return tuple((str(key), str(item)) for key, item in pairs)


@attrs.frozen
class RuntimeConf:
    """One attachment's parameters: container, netns, interface, CNI_ARGS, capability args.

    ``args`` become ``CNI_ARGS`` (``K=V;K2=V2``); ``capability_args`` are offered to each
    plugin as ``runtimeConfig``, filtered to the capabilities that plugin declares.
    """

    container_id: str
    netns: str
    ifname: str = "eth0"
    args: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_cni_args)
    capability_args: Mapping[str, FrozenJSON] = attrs.field(
        default=EMPTY, converter=_capability_args
    )

    @property
    def cni_args(self) -> str:
        return ";".join(f"{key}={value}" for key, value in self.args)
