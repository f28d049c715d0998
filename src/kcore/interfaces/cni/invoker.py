"""Run a network's plugins the way libcni does: ADD, CHECK, DEL and VERSION.

``CniInvoker`` is what a node agent calls to attach a container to a network and detach it.
For each plugin of a network config list it finds the plugin (a registered in-process plugin
first, else an executable named ``type`` in the CNI_PATH directories), derives the plugin's
request config (the plugin's own keys, plus the network's ``cniVersion`` and ``name``, a
``runtimeConfig`` holding only the capability arguments the plugin declares, and the
``prevResult``, with ``capabilities`` removed), sets the CNI_* environment, and reads the answer
with the shared decoding in ``_run``.

* ADD runs the plugins in order, each getting the previous one's result, and caches the final
  result (``cache.ResultCache``, libcni's layout). It does not undo earlier plugins when a later
  one fails: like libcni, it leaves that to the caller's DEL, which every plugin must tolerate.
* DEL runs them in reverse with the cached ADD result and then forgets it; a DEL with nothing
  cached still runs every plugin (without prevResult), so repeating DEL succeeds.
* CHECK runs them in order with the cached result; it is skipped when ``disableCheck`` is set.
* Before a plugin first runs, the invoker asks it (VERSION) which spec versions it accepts and
  refuses a config version it does not, instead of letting it fail obscurely. Answers are
  remembered per binary (path, inode, mtime), so replacing a plugin asks again.

Every invocation has a timeout; a plugin that does not answer in time is killed with its
process group and the call raises ``kcore.errors.TimeoutError`` naming it. Network names,
container IDs and interface names are checked before anything runs, as libcni checks them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import anyio

from kcore import errors
from kcore.interfaces.cni._frozen import JSONObject, dumps, thaw
from kcore.interfaces.cni._run import (
    PluginOutput,
    PluginTarget,
    decode_result,
    decode_version,
    find_plugin,
    raise_for_failure,
    run_executable,
)
from kcore.interfaces.cni.cache import DEFAULT_CACHE_DIR, ResultCache
from kcore.interfaces.cni.codes import IncompatibleVersionError, excerpt
from kcore.interfaces.cni.config import NetworkConfigList, PluginConf, validate_name
from kcore.interfaces.cni.plugin import InProcessPlugin, PluginRegistry
from kcore.interfaces.cni.types import SPEC_VERSION, Result, RuntimeConf, VersionInfo, version_key

__all__ = ["DEFAULT_CNI_PATH", "DEFAULT_TIMEOUT", "CniInvoker", "request_config"]

log = logging.getLogger("kcore.interfaces.cni")

DEFAULT_CNI_PATH = ("/opt/cni/bin",)
DEFAULT_TIMEOUT = 60.0
"""Seconds one plugin invocation may take; bridge+host-local answer in milliseconds."""

_MAX_IFNAME = 15  # the kernel's IFNAMSIZ - 1


def _validate_ifname(ifname: str) -> None:
    bad = (
        not ifname
        or len(ifname) > _MAX_IFNAME
        or ifname in (".", "..")
        or any(ch in "/:" or ch.isspace() for ch in ifname)
    )
    if bad:
        raise errors.InvalidArgumentError(
            f"interface name {ifname!r} is invalid: it must be 1-{_MAX_IFNAME} characters "
            "without '/', ':' or whitespace, and not '.' or '..'"
        )


def request_config(
    net: NetworkConfigList, plugin: PluginConf, rt: RuntimeConf | None, prev: Result | None
) -> bytes:
    """The stdin one plugin gets: its config with the runtime's injections (spec section 3)."""
    body = plugin.to_dict()
    body["cniVersion"] = net.cni_version
    body["name"] = net.name
    body.pop("capabilities", None)
    if rt is not None:
        offered: JSONObject = {
            name: thaw(rt.capability_args[name])
            for name, enabled in plugin.capabilities.items()
            if enabled and name in rt.capability_args
        }
        if offered:
            body["runtimeConfig"] = offered
    if prev is not None:
        body["prevResult"] = prev.to_dict(net.cni_version)
    return dumps(body)


class CniInvoker:
    """Attach and detach containers to CNI networks (async; anyio, asyncio or trio)."""

    def __init__(
        self,
        cni_path: Sequence[str | os.PathLike[str]] = DEFAULT_CNI_PATH,
        *,
        cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
        timeout: float = DEFAULT_TIMEOUT,
        registry: PluginRegistry | None = None,
        inherit_env: bool = True,
        check_versions: bool = True,
    ) -> None:
        if isinstance(cni_path, str):
            cni_path = [part for part in cni_path.split(os.pathsep) if part]
        if timeout <= 0:
            raise errors.InvalidArgumentError(f"timeout must be positive seconds, got {timeout}")
        self.cni_path = tuple(str(part) for part in cni_path)
        self.cache = ResultCache(cache_dir)
        self.timeout = timeout
        self.registry = registry if registry is not None else PluginRegistry()
        self.inherit_env = inherit_env
        self.check_versions = check_versions
        self._versions: dict[tuple[object, ...], VersionInfo] = {}

    # --- operations ------------------------------------------------------------------------

    async def add(self, net: NetworkConfigList, rt: RuntimeConf) -> Result:
        """Run ADD through the chain; cache and return the final result."""
        self._validate(net, rt)
        result: Result | None = None
        for plugin in net.plugins:
            target, local = self._resolve(plugin.type, net, rt)
            await self._ensure_supported(target, local, net)
            stdin = request_config(net, plugin, rt, result)
            output = await self._run(target, local, "ADD", stdin, self._env("ADD", rt))
            result = decode_result(target, "ADD", output, net.cni_version)
        assert result is not None  # a config list has at least one plugin
        await self.cache.store(net, rt, result)
        return result

    async def delete(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """Run DEL through the chain in reverse with the cached ADD result; forget it."""
        self._validate(net, rt)
        prev: Result | None = None
        if version_key(net.cni_version) >= (0, 4, 0):  # prevResult on DEL arrived in 0.4.0
            try:
                cached = await self.cache.load(net, rt)
            except errors.InvalidError:
                # A damaged entry must not block cleanup: drop it and delete without it.
                await self.cache.remove(net, rt)
                cached = None
            prev = cached.result if cached is not None else None
        for plugin in reversed(net.plugins):
            target, local = self._resolve(plugin.type, net, rt)
            await self._ensure_supported(target, local, net)
            stdin = request_config(net, plugin, rt, prev)
            output = await self._run(target, local, "DEL", stdin, self._env("DEL", rt))
            raise_for_failure(target, "DEL", output)
        await self.cache.remove(net, rt)

    async def check(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """Run CHECK through the chain with the cached ADD result (no-op with disableCheck)."""
        self._validate(net, rt)
        if version_key(net.cni_version) < (0, 4, 0):
            raise errors.InvalidArgumentError(
                f"network {net.name!r} ({net.source}) has cniVersion {net.cni_version}; "
                "CHECK needs 0.4.0 or later"
            )
        if net.disable_check:
            return
        cached = await self.cache.load(net, rt)
        if cached is None:
            raise errors.NotFoundError(
                f"no cached ADD result for network {net.name!r}, container {rt.container_id!r}, "
                f"interface {rt.ifname!r} in {self.cache.cache_dir}; CHECK needs a prior ADD"
            )
        for plugin in net.plugins:
            target, local = self._resolve(plugin.type, net, rt)
            await self._ensure_supported(target, local, net)
            stdin = request_config(net, plugin, rt, cached.result)
            output = await self._run(target, local, "CHECK", stdin, self._env("CHECK", rt))
            raise_for_failure(target, "CHECK", output)

    async def cached_result(self, net: NetworkConfigList, rt: RuntimeConf) -> Result | None:
        """The cached result of the attachment's last ADD, or None."""
        cached = await self.cache.load(net, rt)
        return cached.result if cached is not None else None

    async def version_info(self, plugin_type: str, cni_version: str = SPEC_VERSION) -> VersionInfo:
        """Ask a plugin (always afresh) which spec versions it supports."""
        target, local = self._resolve(plugin_type, None, None)
        return await self._query_version(target, local, cni_version)

    async def validate(self, net: NetworkConfigList) -> tuple[str, ...]:
        """Check every plugin exists and supports the network's version; return the
        capabilities the network declares (sorted), as libcni's ValidateNetworkList does."""
        capabilities: set[str] = set()
        for plugin in net.plugins:
            target, local = self._resolve(plugin.type, net, None)
            info = await self._query_version(target, local, net.cni_version)
            self._require(info, target, net)
            capabilities.update(name for name, on in plugin.capabilities.items() if on)
        return tuple(sorted(capabilities))

    # --- mechanics -------------------------------------------------------------------------

    def _validate(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        validate_name("network name", net.name)
        validate_name("container ID", rt.container_id)
        _validate_ifname(rt.ifname)

    def _resolve(
        self, plugin_type: str, net: NetworkConfigList | None, rt: RuntimeConf | None
    ) -> tuple[PluginTarget, InProcessPlugin | None]:
        context = ""
        if net is not None:
            context = f"for network {net.name!r}"
            if rt is not None:
                context += f", container {rt.container_id!r}, interface {rt.ifname!r}"
        local = self.registry.get(plugin_type)
        if local is not None:
            return PluginTarget(plugin_type, "", context), local
        return PluginTarget(
            plugin_type, str(find_plugin(plugin_type, self.cni_path)), context
        ), None

    def _env(self, command: str, rt: RuntimeConf) -> dict[str, str]:
        env = dict(os.environ) if self.inherit_env else {}
        env.update(
            CNI_COMMAND=command,
            CNI_CONTAINERID=rt.container_id,
            CNI_NETNS=rt.netns,
            CNI_IFNAME=rt.ifname,
            CNI_ARGS=rt.cni_args,
            CNI_PATH=os.pathsep.join(self.cni_path),
        )
        return env

    async def _run(
        self,
        target: PluginTarget,
        local: InProcessPlugin | None,
        command: str,
        stdin: bytes,
        env: Mapping[str, str],
    ) -> PluginOutput:
        if local is None:
            output = await run_executable(target, command, stdin, env, self.timeout)
        else:
            try:
                with anyio.fail_after(self.timeout):
                    output = await local(stdin, env, self._delegate)
            except TimeoutError:
                raise errors.TimeoutError(
                    f"{target.describe(command)}: no answer within {self.timeout:g}s; it was "
                    "cancelled. Raise the invoker's timeout if the plugin is just slow"
                ) from None
        if output.exit_status == 0 and output.stderr.strip():
            # stderr is the plugin's log (libcni passes it on); failures carry it in the error.
            log.info("%s logged: %s", target.describe(command), excerpt(output.stderr))
        return output

    async def _delegate(
        self, plugin_type: str, stdin: bytes, env: Mapping[str, str]
    ) -> PluginOutput:
        """How an in-process plugin runs its IPAM plugin: registry first, then CNI_PATH."""
        target, local = self._resolve(plugin_type, None, None)
        return await self._run(target, local, env.get("CNI_COMMAND", ""), stdin, env)

    async def _query_version(
        self, target: PluginTarget, local: InProcessPlugin | None, cni_version: str
    ) -> VersionInfo:
        env = dict(os.environ) if self.inherit_env else {}
        # Placeholders for plugins built with old skel code, which insists on these (libcni).
        env.update(
            CNI_COMMAND="VERSION",
            CNI_CONTAINERID="",
            CNI_NETNS="dummy",
            CNI_IFNAME="dummy",
            CNI_ARGS="",
            CNI_PATH=os.pathsep.join(self.cni_path) or "dummy",
        )
        stdin = dumps({"cniVersion": cni_version})
        output = await self._run(target, local, "VERSION", stdin, env)
        return decode_version(target, output)

    def _version_key(
        self, target: PluginTarget, local: InProcessPlugin | None
    ) -> tuple[object, ...]:
        if local is not None:
            return ("in-process", target.plugin_type, id(local))
        stat = os.stat(target.path)
        return (target.path, stat.st_ino, stat.st_mtime_ns, stat.st_size)

    async def _ensure_supported(
        self, target: PluginTarget, local: InProcessPlugin | None, net: NetworkConfigList
    ) -> None:
        if not self.check_versions:
            return
        key = self._version_key(target, local)
        info = self._versions.get(key)
        if info is None:
            info = await self._query_version(target, local, net.cni_version)
            self._versions[key] = info
        self._require(info, target, net)

    @staticmethod
    def _require(info: VersionInfo, target: PluginTarget, net: NetworkConfigList) -> None:
        if info.supports(net.cni_version):
            return
        raise IncompatibleVersionError(
            f"CNI plugin {target.plugin_type!r} ({target.path or 'in-process'}) does not support "
            f"cniVersion {net.cni_version!r} of network {net.name!r} ({net.source}); it supports "
            f"{', '.join(info.supported_versions) or 'nothing'}. Set the network's cniVersion to "
            "one of those, or install a plugin that speaks it",
            plugin=target.plugin_type,
            version=net.cni_version,
            supported=info.supported_versions,
        )
