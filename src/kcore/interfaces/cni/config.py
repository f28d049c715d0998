"""Network configuration lists: parse, validate, and load them from files and directories.

A ``.conflist`` names a network and lists plugin configs to run in order. Each plugin config is
kept whole (``PluginConf.raw``): the runtime must pass keys it does not know through to the
plugin unchanged, so only the keys the protocol itself uses (``type``, ``capabilities``, and for
convenience ``ipam``/``dns``) are lifted into typed fields. A single-plugin ``.conf`` (or
``.json``) file is wrapped into a one-plugin list, as libcni does.

``load_conf_dir`` reads a directory the way container runtimes do: every ``.conflist``,
``.conf`` and ``.json`` file, in lexical order of file name (the first file is the default
network). Every error names the file and the field (``plugins[1].type``) and says what to do;
nothing is loaded from a file with any error in it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from kcore import errors
from kcore.interfaces.cni._frozen import EMPTY, FrozenJSON, JSONObject, dumps, freeze_object, thaw
from kcore.interfaces.cni.types import CONFIG_VERSIONS, version_key

__all__ = [
    "CONF_EXTENSIONS",
    "NetworkConfigList",
    "PluginConf",
    "find_network",
    "load_conf_dir",
    "load_conflist",
    "validate_name",
]

CONF_EXTENSIONS = (".conflist", ".conf", ".json")
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
"""What libcni accepts for network names and container IDs."""


def validate_name(what: str, value: str) -> None:
    """Refuse a network name or container ID that libcni would refuse (they become file names)."""
    if not value or not NAME_PATTERN.match(value):
        raise errors.InvalidArgumentError(
            f"{what} {value!r} is invalid: it must start with a letter or digit, followed by "
            "letters, digits, '_', '.' or '-'"
        )


class _Problems:
    """Collects field errors for one document so a single error can list all of them."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.causes: list[errors.FieldError] = []

    def add(self, path: str, detail: str, value: object = None) -> None:
        self.causes.append(errors.FieldError(path, detail, value))

    def raise_if_any(self) -> None:
        if self.causes:
            listed = "; ".join(str(cause) for cause in self.causes)
            raise errors.InvalidError(
                f"{self.source}: invalid CNI network configuration: {listed}", self.causes
            )


def _read_bool(doc: Mapping[str, object], key: str, problems: _Problems) -> bool:
    value = doc.get(key, False)
    if isinstance(value, bool):
        return value
    # libcni also takes the strings "true"/"false" (any case); so do we.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.add(key, "must be true or false", value)
    return False


@attrs.frozen
class PluginConf:
    """One plugin's configuration; ``raw`` holds every key as written (read-only)."""

    type: str
    raw: Mapping[str, FrozenJSON] = attrs.field(repr=False)

    @property
    def capabilities(self) -> Mapping[str, bool]:
        """Capabilities the plugin declares (``{"portMappings": true}``)."""
        value = self.raw.get("capabilities")
        if not isinstance(value, Mapping):
            return {}
        return {key: item for key, item in value.items() if isinstance(item, bool)}

    @property
    def ipam(self) -> Mapping[str, FrozenJSON] | None:
        value = self.raw.get("ipam")
        return value if isinstance(value, Mapping) else None

    @property
    def dns(self) -> Mapping[str, FrozenJSON] | None:
        value = self.raw.get("dns")
        return value if isinstance(value, Mapping) else None

    def to_dict(self) -> JSONObject:
        body = thaw(self.raw)
        assert isinstance(body, dict)
        return body

    @classmethod
    def from_dict(
        cls, body: Mapping[str, object], path: str = "", source: str = "<config>"
    ) -> PluginConf:
        problems = _Problems(source)
        plugin = cls._parse(body, path, problems)
        problems.raise_if_any()
        assert plugin is not None
        return plugin

    @classmethod
    def _parse(
        cls, body: Mapping[str, object], path: str, problems: _Problems
    ) -> PluginConf | None:
        prefix = f"{path}." if path else ""
        plugin_type = body.get("type")
        if not isinstance(plugin_type, str) or not plugin_type:
            problems.add(prefix + "type", "is required: the plugin's executable name", plugin_type)
        elif "/" in plugin_type or "\\" in plugin_type or plugin_type in (".", ".."):
            problems.add(prefix + "type", "must be a file name, not a path", plugin_type)
        capabilities = body.get("capabilities")
        if capabilities is not None:
            if not isinstance(capabilities, Mapping):
                problems.add(prefix + "capabilities", "must be an object of name: true/false")
            else:
                for key, enabled in capabilities.items():
                    if not isinstance(enabled, bool):
                        problems.add(
                            f"{prefix}capabilities.{key}", "must be true or false", enabled
                        )
        for key in ("ipam", "dns"):
            if key in body and not isinstance(body[key], Mapping):
                problems.add(prefix + key, "must be a JSON object", body[key])
        ipam = body.get("ipam")
        if isinstance(ipam, Mapping) and not isinstance(ipam.get("type"), str):
            problems.add(
                prefix + "ipam.type", "is required: the IPAM plugin's name", ipam.get("type")
            )
        try:
            raw = freeze_object(body)
        except TypeError as exc:
            problems.add(path or "config", str(exc))
            return None
        return cls(type=plugin_type, raw=raw) if isinstance(plugin_type, str) else None


def _plugins(items: Iterable[PluginConf]) -> tuple[PluginConf, ...]:
    return tuple(items)


@attrs.frozen
class NetworkConfigList:
    """A network: its name, spec version, whether CHECK is disabled, and its plugins in order.

    ``raw`` is the whole document as written; it is what the result cache stores as the
    config, as libcni does. ``source`` is where it came from (a file path), for messages.
    """

    name: str
    cni_version: str
    plugins: tuple[PluginConf, ...] = attrs.field(converter=_plugins)
    disable_check: bool = False
    raw: Mapping[str, FrozenJSON] = attrs.field(default=EMPTY, repr=False)
    source: str = attrs.field(default="<config>", eq=False)

    def to_dict(self) -> JSONObject:
        """The document: keys written in ``raw`` kept, the typed fields' current values on top."""
        body = thaw(self.raw)
        assert isinstance(body, dict)
        body.pop("cniVersions", None)  # resolved into cni_version
        body["cniVersion"] = self.cni_version
        body["name"] = self.name
        if self.disable_check or "disableCheck" in body:
            body["disableCheck"] = self.disable_check
        body["plugins"] = [plugin.to_dict() for plugin in self.plugins]
        return body

    def to_json(self) -> bytes:
        return dumps(self.to_dict())

    @classmethod
    def from_dict(
        cls, doc: Mapping[str, object], source: str = "<config>", allow_single: bool = True
    ) -> NetworkConfigList:
        """Parse a conflist document; with ``allow_single``, a doc with ``type`` and no
        ``plugins`` is a single-plugin .conf and becomes a one-plugin list."""
        if not isinstance(doc, Mapping):
            raise errors.InvalidError(
                f"{source}: a CNI network configuration must be a JSON object"
            )
        problems = _Problems(source)
        name = doc.get("name")
        if not isinstance(name, str) or not name:
            problems.add("name", "is required: the network's name", name)
        elif not NAME_PATTERN.match(name):
            problems.add("name", "must start with a letter or digit, then [a-zA-Z0-9_.-]", name)
        version = cls._version(doc, problems)
        disable_check = _read_bool(doc, "disableCheck", problems)
        plugins: list[PluginConf] = []
        if allow_single and "plugins" not in doc and "type" in doc:
            # A single-plugin .conf: the document is the plugin config.
            plugin = PluginConf._parse(doc, "", problems)
            plugins = [plugin] if plugin is not None else []
            doc = {"cniVersion": version, "name": name, "plugins": [dict(doc)]}
        else:
            listed = doc.get("plugins")
            if not isinstance(listed, list) or not listed:
                problems.add("plugins", "is required: a non-empty list of plugin configs", listed)
            else:
                for index, item in enumerate(listed):
                    if not isinstance(item, Mapping):
                        problems.add(f"plugins[{index}]", "must be a JSON object", item)
                        continue
                    plugin = PluginConf._parse(item, f"plugins[{index}]", problems)
                    if plugin is not None:
                        plugins.append(plugin)
        problems.raise_if_any()
        assert isinstance(name, str)
        return cls(
            name=name,
            cni_version=version,
            plugins=plugins,
            disable_check=disable_check,
            raw=freeze_object(doc),
            source=source,
        )

    @staticmethod
    def _version(doc: Mapping[str, object], problems: _Problems) -> str:
        version = doc.get("cniVersion")
        candidates = doc.get("cniVersions")
        if candidates is not None:
            # The spec's version selection: the highest listed version this runtime speaks.
            if not isinstance(candidates, list) or not all(isinstance(v, str) for v in candidates):
                problems.add("cniVersions", "must be a list of version strings", candidates)
            else:
                usable: list[str] = [v for v in candidates if v in CONFIG_VERSIONS]
                if isinstance(version, str) and version in CONFIG_VERSIONS:
                    usable.append(version)
                if usable:
                    return max(usable, key=version_key)
        if not isinstance(version, str) or not version:
            problems.add("cniVersion", 'is required (for example "1.0.0")', version)
            return ""
        if version not in CONFIG_VERSIONS:
            problems.add(
                "cniVersion",
                f"{version!r} is not a version kcore runs; use one of {', '.join(CONFIG_VERSIONS)}",
                version,
            )
        return version

    @classmethod
    def from_json(
        cls, data: bytes | str, source: str = "<config>", allow_single: bool = True
    ) -> NetworkConfigList:
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise errors.InvalidError(
                f"{source}: not valid JSON: {exc}", [errors.FieldError("", str(exc))]
            ) from None
        if not isinstance(doc, dict):
            raise errors.InvalidError(
                f"{source}: a CNI network configuration must be a JSON object"
            )
        return cls.from_dict(doc, source, allow_single)


def load_conflist(path: str | os.PathLike[str]) -> NetworkConfigList:
    """Load one ``.conflist`` (or a single-plugin ``.conf``/``.json``, wrapped into a list)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise errors.NotFoundError(f"CNI config file {file} does not exist") from None
    except OSError as exc:
        raise errors.InvalidArgumentError(f"CNI config file {file} cannot be read: {exc}") from None
    # A .conflist must be a list; .conf/.json files may be a single plugin's config.
    return NetworkConfigList.from_json(
        data, source=str(file), allow_single=file.suffix != ".conflist"
    )


def load_conf_dir(directory: str | os.PathLike[str]) -> list[NetworkConfigList]:
    """Every network config in ``directory``, in lexical order of file name.

    A missing directory holds no networks (an empty list), as with libcni. One bad file fails
    the whole load with an error naming it: a runtime must not silently pick another network.
    """
    folder = Path(directory)
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise errors.InvalidArgumentError(
            f"CNI config directory {folder} is not a directory"
        ) from None
    return [
        load_conflist(entry.path)
        for entry in entries
        if entry.is_file() and Path(entry.name).suffix in CONF_EXTENSIONS
    ]


def find_network(directory: str | os.PathLike[str], name: str) -> NetworkConfigList:
    """The first network named ``name`` in ``directory`` (lexical file order)."""
    networks = load_conf_dir(directory)
    for net in networks:
        if net.name == name:
            return net
    found = ", ".join(sorted({net.name for net in networks})) or "none"
    raise errors.NotFoundError(
        f"no CNI network named {name!r} in {directory} (networks there: {found})"
    )
