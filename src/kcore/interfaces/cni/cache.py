"""The on-disk cache of ADD results, in libcni's layout and format.

DEL and CHECK must hand the plugins the result of the ADD they undo or verify, possibly after
the runtime restarted, so the final ADD result is written to
``<cache_dir>/results/<network>-<containerID>-<ifname>``, a JSON document with
``kind: "cniCacheV1"``, the attachment's parameters, the network config (base64, as Go writes
bytes) and the result. Using libcni's layout and format means kcore and a containerd on the same
host read each other's entries, and an operator finds them where they expect. Files written
before that format (a bare result) are read too.

Writes go to a temporary file renamed into place, so a crash never leaves half an entry. File
I/O runs in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from pathlib import Path

import anyio.to_thread
import attrs

from kcore import errors
from kcore.interfaces.cni._frozen import JSONObject, thaw
from kcore.interfaces.cni.config import NetworkConfigList, validate_name
from kcore.interfaces.cni.types import Result, RuntimeConf

__all__ = ["CACHE_KIND", "DEFAULT_CACHE_DIR", "CachedAttachment", "ResultCache"]

DEFAULT_CACHE_DIR = "/var/lib/cni"
CACHE_KIND = "cniCacheV1"


@attrs.frozen
class CachedAttachment:
    """One cache entry: the result of the last ADD and the parameters it was made with."""

    result: Result
    config: bytes = b""
    netns: str = ""
    args: tuple[tuple[str, str], ...] = ()


class ResultCache:
    """Reads and writes ADD results under ``<cache_dir>/results``."""

    def __init__(self, cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR) -> None:
        self.cache_dir = Path(cache_dir)

    def path(self, network: str, container_id: str, ifname: str) -> Path:
        """Where the entry for one attachment lives (libcni's file name)."""
        validate_name("network name", network)
        validate_name("container ID", container_id)
        if not ifname or "/" in ifname:
            raise errors.InvalidArgumentError(f"interface name {ifname!r} is invalid")
        return self.cache_dir / "results" / f"{network}-{container_id}-{ifname}"

    async def store(self, net: NetworkConfigList, rt: RuntimeConf, result: Result) -> Path:
        """Record ``result`` as the attachment's ADD result (in the network's spec version)."""
        path = self.path(net.name, rt.container_id, rt.ifname)
        entry: JSONObject = {
            "kind": CACHE_KIND,
            "containerId": rt.container_id,
            "config": base64.b64encode(net.to_json()).decode(),
            "ifName": rt.ifname,
            "networkName": net.name,
        }
        if rt.netns:
            entry["netns"] = rt.netns
        if rt.args:
            entry["cniArgs"] = [[key, value] for key, value in rt.args]
        if rt.capability_args:
            entry["capabilityArgs"] = thaw(rt.capability_args)
        entry["result"] = result.to_dict(net.cni_version)
        data = json.dumps(entry).encode()
        await anyio.to_thread.run_sync(_write_atomically, path, data)
        return path

    async def load(self, net: NetworkConfigList, rt: RuntimeConf) -> CachedAttachment | None:
        """The cached entry, or None if there is none; a damaged entry is an InvalidError."""
        path = self.path(net.name, rt.container_id, rt.ifname)
        try:
            data = await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise errors.InvalidError(f"CNI result cache {path} cannot be read: {exc}") from None
        return _decode(path, data, net.cni_version)

    async def remove(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """Forget the attachment; removing an absent entry succeeds."""
        path = self.path(net.name, rt.container_id, rt.ifname)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


def _decode(path: Path, data: bytes, version: str) -> CachedAttachment:
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        if doc.get("kind") != CACHE_KIND:
            # Written before libcni recorded the attachment: the file is the bare result.
            return CachedAttachment(result=Result.from_dict(doc, version))
        raw_result = doc.get("result")
        if not isinstance(raw_result, dict):
            raise ValueError("'result' is missing")
        config = doc.get("config") or ""
        args = doc.get("cniArgs") or []
        return CachedAttachment(
            result=Result.from_dict(raw_result, version),
            config=base64.b64decode(config, validate=True) if isinstance(config, str) else b"",
            netns=str(doc.get("netns") or ""),
            args=tuple((str(pair[0]), str(pair[1])) for pair in args if len(pair) == 2),
        )
    except (ValueError, TypeError, binascii.Error, errors.InvalidError) as exc:
        raise errors.InvalidError(
            f"CNI result cache {path} is damaged ({exc}); DEL removes it, or delete the file"
        ) from None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
