"""The reconcile contract's values: what a reconcile is asked (Request) and answers (Result)."""

from __future__ import annotations

from typing import NamedTuple

import attrs

from kcore import errors

__all__ = ["Request", "Result", "TerminalError"]


class Request(NamedTuple):
    """The key of one object to reconcile: its name and namespace ("" if cluster-scoped).

    A named tuple: hashed many times on each trip through the work queue, and a tuple of two
    strings hashes in C."""

    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@attrs.frozen
class Result:
    """``requeue_after``: reconcile again after that many seconds of clock time;
    ``requeue``: again soon, with the per-key backoff. Returning None means done."""

    requeue_after: float | None = None
    requeue: bool = False


class TerminalError(errors.KcoreError):
    """Raised by a reconcile for a problem retrying cannot fix: logged, counted, not retried
    (the key is reconciled again only when something about it changes)."""

    reason = "Terminal"
