"""In-process CNI plugins: the same contract as a binary, without exec'ing one.

A ``PluginRegistry`` maps plugin type names to Python plugins; an invoker given a registry runs
a registered type in-process instead of looking for a binary in CNI_PATH. The contract is the
binary one, byte for byte: a plugin gets the CNI_* environment and the request config as stdin
bytes, and gives back stdout, stderr and an exit status, which the invoker reads with the very
code it uses for binaries. So tests without root exercise the real decoding, error and version
paths, and a fake cannot accept anything a real plugin could not print.

``PythonPlugin`` is the convenient way to write one: it parses the environment and config into
a ``PluginRequest``, answers VERSION, refuses config versions it does not support (code 1),
dispatches ADD/DEL/CHECK to methods, prints the result in the request's spec version, and turns
a raised ``PluginFailure`` into the CNI error JSON with a non-zero exit. ``request.delegate``
runs another plugin (an IPAM plugin, by ``ipam.type``) with the same environment and config,
the way a main plugin calls its IPAM plugin; the invoker resolves it (registry first, then
CNI_PATH), so a fake main plugin can even delegate to the real host-local binary.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import attrs

from kcore import errors
from kcore.interfaces.cni._frozen import FrozenJSON, freeze_object, thaw_object
from kcore.interfaces.cni._run import PluginOutput, PluginTarget, decode_result, raise_for_failure
from kcore.interfaces.cni.codes import (
    GENERIC_PLUGIN_ERROR,
    CniPluginError,
    ErrorCode,
    ErrorResult,
)
from kcore.interfaces.cni.types import Result

__all__ = [
    "Delegate",
    "InProcessPlugin",
    "PluginFailure",
    "PluginOutput",
    "PluginRegistry",
    "PluginRequest",
    "PythonPlugin",
]

Delegate = Callable[[str, bytes, Mapping[str, str]], Awaitable[PluginOutput]]
"""``await delegate(plugin_type, stdin, env)``: run another plugin, get what it printed."""


class InProcessPlugin(Protocol):
    """Anything the registry can run: stdin and environment in, output and exit status out."""

    async def __call__(
        self, stdin: bytes, env: Mapping[str, str], delegate: Delegate
    ) -> PluginOutput: ...


class PluginRegistry:
    """Plugin type name -> in-process plugin; consulted before CNI_PATH."""

    def __init__(self, plugins: Mapping[str, InProcessPlugin] | None = None) -> None:
        self._plugins: dict[str, InProcessPlugin] = dict(plugins or {})

    def register(self, plugin_type: str, plugin: InProcessPlugin) -> None:
        if not plugin_type or "/" in plugin_type:
            raise errors.InvalidArgumentError(
                f"plugin type {plugin_type!r} must be a plain name (what configs put in 'type')"
            )
        self._plugins[plugin_type] = plugin

    def unregister(self, plugin_type: str) -> None:
        self._plugins.pop(plugin_type, None)

    def get(self, plugin_type: str) -> InProcessPlugin | None:
        return self._plugins.get(plugin_type)

    def __contains__(self, plugin_type: object) -> bool:
        return plugin_type in self._plugins

    def types(self) -> list[str]:
        return sorted(self._plugins)


class PluginFailure(Exception):
    """Raise inside a ``PythonPlugin`` to answer with a CNI error (code, msg, details)."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(f"{msg}: {details}" if details else msg)
        self.code = code
        self.msg = msg
        self.details = details


def _parse_cni_args(text: str) -> Mapping[str, str]:
    pairs: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        key, sep, value = item.partition("=")
        if not sep:
            raise PluginFailure(
                ErrorCode.INVALID_ENVIRONMENT, "CNI_ARGS invalid", f"{item!r} has no '='"
            )
        pairs[key] = value
    return pairs


@attrs.frozen
class PluginRequest:
    """One call of a ``PythonPlugin``, parsed from its environment and stdin."""

    command: str
    container_id: str
    netns: str
    ifname: str
    args: Mapping[str, str]
    path: tuple[str, ...]
    config: Mapping[str, FrozenJSON] = attrs.field(repr=False)
    cni_version: str
    network_name: str
    prev_result: Result | None
    runtime_config: Mapping[str, FrozenJSON]
    stdin: bytes = attrs.field(repr=False)
    env: Mapping[str, str] = attrs.field(repr=False)
    _delegate: Delegate = attrs.field(repr=False, alias="delegate_fn")

    async def delegate(self, plugin_type: str, command: str | None = None) -> Result | None:
        """Run ``plugin_type`` with this request's env (``command`` overrides CNI_COMMAND) and
        config; the ADD result, None for other commands; its failure raises PluginFailure."""
        command = command or self.command
        env = {**self.env, "CNI_COMMAND": command}
        try:
            output = await self._delegate(plugin_type, self.stdin, env)
        except errors.KcoreError as exc:  # not found, timed out, could not start
            raise PluginFailure(GENERIC_PLUGIN_ERROR, f"{plugin_type}: {exc}") from None
        target = PluginTarget(plugin_type, "delegated")
        try:
            if command == "ADD":
                return decode_result(target, command, output, self.cni_version)
            raise_for_failure(target, command, output)
        except CniPluginError as exc:
            code = exc.cni_code if exc.cni_code is not None else GENERIC_PLUGIN_ERROR
            msg = exc.error.msg if exc.error is not None else exc.problem
            raise PluginFailure(code, f"{plugin_type}: {msg}", str(exc)) from None
        return None


class PythonPlugin:
    """Base class for in-process plugins: override ``add``, ``delete`` and ``check``."""

    supported_versions: tuple[str, ...] = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")

    async def add(self, request: PluginRequest) -> Result:
        raise PluginFailure(ErrorCode.INVALID_ENVIRONMENT, "ADD is not supported by this plugin")

    async def delete(self, request: PluginRequest) -> None:
        return None

    async def check(self, request: PluginRequest) -> None:
        return None

    async def __call__(
        self, stdin: bytes, env: Mapping[str, str], delegate: Delegate
    ) -> PluginOutput:
        version = ""
        try:
            config = self._config(stdin)
            requested = config.get("cniVersion")
            version = requested if isinstance(requested, str) else ""
            command = env.get("CNI_COMMAND", "")
            if command == "VERSION":
                answer = {"cniVersion": version, "supportedVersions": list(self.supported_versions)}
                return PluginOutput(json.dumps(answer).encode())
            request = self._request(command, config, version, stdin, env, delegate)
            if command == "ADD":
                result = await self.add(request)
                return PluginOutput(result.to_json(version))
            await (self.delete(request) if command == "DEL" else self.check(request))
            return PluginOutput(b"")
        except PluginFailure as failure:
            body = ErrorResult(failure.code, failure.msg, failure.details, version)
            return PluginOutput(body.to_json(), f"{failure}\n".encode(), 1)
        except Exception:
            # A bug in the plugin: what a crashing binary does (nothing on stdout, the trace on
            # stderr, exit status 2), so the invoker reports it the same way.
            return PluginOutput(b"", traceback.format_exc().encode(), 2)

    @staticmethod
    def _config(stdin: bytes) -> Mapping[str, FrozenJSON]:
        try:
            doc = json.loads(stdin)
        except ValueError as exc:
            raise PluginFailure(ErrorCode.DECODE_FAILURE, "config is not JSON", str(exc)) from None
        if not isinstance(doc, dict):
            raise PluginFailure(ErrorCode.DECODE_FAILURE, "config must be a JSON object")
        return freeze_object(doc)

    def _request(
        self,
        command: str,
        config: Mapping[str, FrozenJSON],
        version: str,
        stdin: bytes,
        env: Mapping[str, str],
        delegate: Delegate,
    ) -> PluginRequest:
        if command not in ("ADD", "DEL", "CHECK"):
            raise PluginFailure(ErrorCode.INVALID_ENVIRONMENT, f"unknown CNI_COMMAND: {command}")
        if version not in self.supported_versions:
            raise PluginFailure(
                ErrorCode.INCOMPATIBLE_VERSION,
                "incompatible CNI versions",
                f"config is {version!r}, plugin supports {list(self.supported_versions)}",
            )
        missing = [name for name in ("CNI_CONTAINERID", "CNI_IFNAME") if not env.get(name)]
        if command != "DEL" and not env.get("CNI_NETNS"):
            missing.append("CNI_NETNS")
        if missing:
            raise PluginFailure(
                ErrorCode.INVALID_ENVIRONMENT, "required env variables missing", ", ".join(missing)
            )
        prev = config.get("prevResult")
        prev_result = None
        if isinstance(prev, Mapping):
            try:
                prev_result = Result.from_dict(thaw_object(prev), version)
            except errors.InvalidError as exc:
                raise PluginFailure(
                    ErrorCode.DECODE_FAILURE, "prevResult unreadable", str(exc)
                ) from None
        runtime_config = config.get("runtimeConfig")
        name = config.get("name")
        return PluginRequest(
            command=command,
            container_id=env["CNI_CONTAINERID"],
            netns=env.get("CNI_NETNS", ""),
            ifname=env["CNI_IFNAME"],
            args=_parse_cni_args(env.get("CNI_ARGS", "")),
            path=tuple(filter(None, env.get("CNI_PATH", "").split(":"))),
            config=config,
            cni_version=version,
            network_name=name if isinstance(name, str) else "",
            prev_result=prev_result,
            runtime_config=runtime_config if isinstance(runtime_config, Mapping) else {},
            stdin=stdin,
            env=dict(env),
            delegate_fn=delegate,
        )
