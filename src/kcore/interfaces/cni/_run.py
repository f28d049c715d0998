"""Running one plugin executable, and reading what any plugin (executable or in-process) printed.

Both kinds of plugin produce the same ``PluginOutput`` (stdout, stderr, exit status), and the
same functions here turn it into a ``Result``, a ``VersionInfo`` or a ``CniPluginError``, so an
in-process fake is held to exactly the contract a binary is.

An executable runs in a new session (its own process group), so on a timeout or a cancellation
the whole group is killed by its PID: a plugin that delegated to IPAM and hung leaves no child
behind. stdout and stderr are drained concurrently (a plugin that fills one pipe while we read
the other would deadlock), and kept up to a cap so a runaway plugin cannot exhaust memory.
Timeouts use the event loop's real clock: they bound a real process, which a virtual clock
cannot stop.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import anyio.abc
import attrs

from kcore import errors
from kcore.interfaces.cni.codes import CniPluginError, ErrorResult, excerpt
from kcore.interfaces.cni.types import RESULT_VERSIONS, Result, VersionInfo

__all__ = [
    "MAX_OUTPUT",
    "PluginOutput",
    "PluginTarget",
    "decode_result",
    "decode_version",
    "find_plugin",
    "raise_for_failure",
    "run_executable",
]

MAX_OUTPUT = 4 * 1024 * 1024
"""Bytes kept from each of stdout and stderr; results are a few KiB, so more is a broken plugin."""

_EXEC_RETRIES = 5  # "text file busy": the binary is being replaced right now; libcni retries too
_REAP_TIMEOUT = 5.0  # after SIGKILL the kernel reaps at once; this only bounds the wait


@attrs.frozen
class PluginOutput:
    """What one plugin run produced."""

    stdout: bytes
    stderr: bytes = b""
    exit_status: int = 0


@attrs.frozen
class PluginTarget:
    """Who runs a plugin type: an executable path, or (``path`` empty) an in-process plugin."""

    plugin_type: str
    path: str = ""
    context: str = ""
    """Which attachment the call was for ("for network 'n', container 'c', eth0"), for messages."""

    def describe(self, command: str) -> str:
        """``CNI plugin 'bridge' (/usr/lib/cni/bridge) ADD for network 'n', ...``"""
        where = f"CNI plugin {self.plugin_type!r} ({self.path or 'in-process'}) {command}"
        return f"{where} {self.context}" if self.context else where

    def error(
        self,
        problem: str,
        command: str,
        output: PluginOutput | None = None,
        error: ErrorResult | None = None,
    ) -> CniPluginError:
        return CniPluginError(
            problem,
            plugin=self.plugin_type,
            command=command,
            path=self.path or "in-process",
            context=self.context,
            exit_status=output.exit_status if output is not None else None,
            error=error,
            stdout=output.stdout if output is not None else b"",
            stderr=output.stderr if output is not None else b"",
        )


def find_plugin(plugin_type: str, search_path: Sequence[str | os.PathLike[str]]) -> Path:
    """The first executable named ``plugin_type`` in the ``search_path`` directories."""
    if not plugin_type or "/" in plugin_type or plugin_type in (".", ".."):
        raise errors.InvalidArgumentError(
            f"CNI plugin type {plugin_type!r} must be a plain file name found in CNI_PATH"
        )
    for directory in search_path:
        candidate = Path(directory) / plugin_type
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    dirs = os.pathsep.join(str(d) for d in search_path) or "(empty)"
    raise errors.NotFoundError(
        f"CNI plugin {plugin_type!r} not found in CNI_PATH {dirs}; install it there "
        "or add the directory holding it to the invoker's cni_path"
    )


async def run_executable(
    target: PluginTarget, command: str, stdin: bytes, env: Mapping[str, str], timeout: float
) -> PluginOutput:
    """Run the plugin binary with ``env`` and ``stdin``; kill its process group on timeout."""
    process = await _start(target, command, env)
    stdout, stderr = bytearray(), bytearray()
    finished = False
    try:
        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as group:
                group.start_soon(_drain, process.stdout, stdout)
                group.start_soon(_drain, process.stderr, stderr)
                await _feed(process.stdin, stdin)
            status = await process.wait()
        finished = True
    except TimeoutError:
        raise errors.TimeoutError(
            f"{target.describe(command)}: no answer within {timeout:g}s; killed it "
            f"(pid {process.pid}) and its process group. "
            f"stderr so far: {excerpt(bytes(stderr))!r}. Raise the invoker's timeout if the "
            "plugin is just slow"
        ) from None
    finally:
        await _stop(process, kill=not finished)
    return PluginOutput(bytes(stdout), bytes(stderr), status)


async def _start(target: PluginTarget, command: str, env: Mapping[str, str]) -> anyio.abc.Process:
    for attempt in range(_EXEC_RETRIES + 1):
        try:
            return await anyio.open_process(
                [target.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env),
                start_new_session=True,
            )
        except OSError as exc:
            if exc.errno == errno.ETXTBSY and attempt < _EXEC_RETRIES:
                await anyio.sleep(0.05 * (attempt + 1))
                continue
            raise CniPluginError(
                f"could not be started ({exc.strerror or exc})",
                plugin=target.plugin_type,
                command=command,
                path=target.path,
                context=target.context,
            ) from None
    raise AssertionError("unreachable")  # the loop returns or raises


async def _feed(stream: anyio.abc.ByteSendStream | None, data: bytes) -> None:
    if stream is None:
        return
    # A plugin may exit without reading stdin (a VERSION answer, an early error): not our error.
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        await stream.send(data)
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        await stream.aclose()


async def _drain(stream: anyio.abc.ByteReceiveStream | None, into: bytearray) -> None:
    if stream is None:
        return
    with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
        while True:
            chunk = await stream.receive()
            # Keep reading past the cap (so the plugin never blocks on a full pipe) but drop it.
            if len(into) < MAX_OUTPUT:
                into.extend(chunk[: MAX_OUTPUT - len(into)])


async def _stop(process: anyio.abc.Process, kill: bool) -> None:
    """Close the pipes; unless the plugin finished on its own, kill its group and reap it."""
    with anyio.CancelScope(shield=True):
        if kill:
            # The group id is the plugin's pid (new session), so this also ends the delegates
            # it started (an IPAM plugin), even ones still holding our pipes after it exited.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with anyio.move_on_after(_REAP_TIMEOUT):
                await process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()


def _error_body(output: PluginOutput) -> ErrorResult | None:
    try:
        return ErrorResult.from_json(output.stdout)
    except errors.InvalidArgumentError:
        return None


def raise_for_failure(target: PluginTarget, command: str, output: PluginOutput) -> None:
    """Raise the plugin's error if it exited non-zero (with its error JSON when readable)."""
    if output.exit_status == 0:
        return
    body = _error_body(output)
    if body is not None:
        raise target.error("failed", command, output, body)
    problem = (
        "failed without printing a CNI error"
        if not output.stdout.strip()
        else ("failed and printed something that is not a CNI error")
    )
    raise target.error(problem, command, output)


def _json_object(target: PluginTarget, command: str, output: PluginOutput) -> dict[str, object]:
    try:
        doc = json.loads(output.stdout)
    except ValueError as exc:
        what = "printed nothing" if not output.stdout.strip() else f"printed invalid JSON ({exc})"
        raise target.error(f"{what} where a JSON answer was expected", command, output) from None
    if not isinstance(doc, dict):
        raise target.error("printed JSON that is not an object", command, output)
    return doc


def decode_result(
    target: PluginTarget, command: str, output: PluginOutput, config_version: str
) -> Result:
    """The ``Result`` a successful ADD printed, converted from older spec versions."""
    raise_for_failure(target, command, output)
    doc = _json_object(target, command, output)
    version = doc.get("cniVersion") or config_version
    if version not in RESULT_VERSIONS:
        raise target.error(
            f"returned a result for CNI spec version {version!r}, which kcore cannot read "
            f"(it reads {', '.join(RESULT_VERSIONS)})",
            command,
            output,
        )
    try:
        return Result.from_dict(doc, config_version)
    except errors.InvalidError as exc:
        raise target.error(f"returned a malformed result ({exc})", command, output) from None


def decode_version(target: PluginTarget, output: PluginOutput) -> VersionInfo:
    """The plugin's VERSION answer; a plugin too old to know VERSION speaks only 0.1.0."""
    if output.exit_status != 0:
        body = _error_body(output)
        if body is not None and body.msg == "unknown CNI_COMMAND: VERSION":
            return VersionInfo("0.1.0", ("0.1.0",))
    raise_for_failure(target, "VERSION", output)
    doc = _json_object(target, "VERSION", output)
    supported = doc.get("supportedVersions")
    if not isinstance(supported, list) or not all(isinstance(v, str) for v in supported):
        raise target.error("answered VERSION without a 'supportedVersions' list", "VERSION", output)
    version = doc.get("cniVersion")
    return VersionInfo(version if isinstance(version, str) else "", tuple(supported))
