"""Call recording and error injection for fakes: the test controls, apart from any protocol.

A fake runtime's handlers call ``_enter(rpc_name, request)`` first; that records a copy of the
request and raises the error a test injected for that RPC, before the handler changes any
state, so an injected failure leaves the fake exactly as it was (as a refused call would).
Kept apart from ``fake.py`` because it is the same mechanism whatever the fake serves.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

import attrs
from google.protobuf.message import Message

from kcore import errors

__all__ = ["Call", "CallRecorder", "copy_message"]

M = TypeVar("M", bound=Message)


def copy_message(message: M) -> M:
    """A deep copy of a protobuf message (so later edits by the caller do not show through)."""
    duplicate = type(message)()
    duplicate.CopyFrom(message)
    return duplicate


@attrs.frozen
class Call:
    """One RPC a fake received: its name (``"RunPodSandbox"``) and a copy of the request."""

    method: str
    request: Message


@attrs.define
class _Injected:
    error: Exception
    remaining: int | None  # None: every call fails until cleared


class CallRecorder:
    """``calls``, ``calls_to``, ``inject_error`` and ``clear_errors`` over a set of RPC names."""

    def __init__(self, rpc_names: Collection[str]) -> None:
        self.calls: list[Call] = []
        self._rpc_names = tuple(rpc_names)
        self._injected: dict[str, _Injected] = {}

    def inject_error(self, rpc_name: str, error: Exception, *, times: int | None = 1) -> None:
        """Fail the next ``times`` calls of an RPC (None: all, until ``clear_errors``) with
        ``error``; a kcore error keeps its gRPC code. Failed calls change nothing."""
        if rpc_name not in self._rpc_names:
            raise errors.InvalidArgumentError(
                f"inject_error: {rpc_name!r} is not an RPC this fake serves; use one of "
                f"{', '.join(self._rpc_names)}"
            )
        if times is not None and times < 1:
            raise errors.InvalidArgumentError(
                f"inject_error: times={times} must be at least 1 (or None for every call)"
            )
        self._injected[rpc_name] = _Injected(error, times)

    def clear_errors(self) -> None:
        """Stop failing calls: every injected error is dropped."""
        self._injected.clear()

    def calls_to(self, rpc_name: str) -> list[Message]:
        """The requests of every recorded call of one RPC, oldest first."""
        return [call.request for call in self.calls if call.method == rpc_name]

    def _enter(self, rpc_name: str, request: Message) -> None:
        """Record the call, then fail it if an error is injected for it."""
        self.calls.append(Call(rpc_name, copy_message(request)))
        injected = self._injected.get(rpc_name)
        if injected is None:
            return
        if injected.remaining is not None:
            injected.remaining -= 1
            if injected.remaining <= 0:
                del self._injected[rpc_name]
        raise injected.error
