"""Edge-triggered handlers: on_create / on_update / on_delete with the old and new objects.

This is a convenience, not the reconcile contract: each change is delivered once as it
happened (a burst of updates is a burst of calls), unlike a level-based reconcile that sees
only the latest state of a key. It runs on the same machinery — shared informers, a work queue,
workers, per-event exponential backoff when a handler raises (``TerminalError`` drops the
event), a timeout per call — so it gets the same logs, metrics and shutdown. Events of one
object may be handled concurrently when ``max_concurrent`` > 1; keep it 1 to keep their order.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import anyio
import attrs

from kcore.reconcile.controller import Controller, _Watch
from kcore.reconcile.types import Request, TerminalError

__all__ = ["EdgeHandlers"]

logger = logging.getLogger("kcore.reconcile.edge")
Handler = Callable[..., Any]


@attrs.frozen(eq=False)  # every change is its own queue item: no deduplication
class _Change:
    old: Any
    new: Any


async def _never(ctx: Any, request: Request) -> None:  # EdgeHandlers do not reconcile keys
    return None


class EdgeHandlers(Controller[Any]):
    """``EdgeHandlers(Kind, on_create=f, on_update=g, on_delete=h)``; add it to a Manager."""

    def __init__(
        self,
        kind: type[Any],
        *,
        on_create: Handler | None = None,
        on_update: Handler | None = None,
        on_delete: Handler | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(name or f"{kind.__name__.lower()}-edge", kind, _never, **options)
        self._handlers = (on_create, on_update, on_delete)

    async def _on_event(self, watch: _Watch, old: Any, new: Any, informer: Any) -> None:
        if old is not None and old is new:
            return  # a resync is not a change
        if not self._passes(old, new):
            return
        assert self.queue is not None
        self.queue.add(_Change(old, new))  # type: ignore[arg-type]

    async def _reconcile_one(self, request: Any, scope: anyio.CancelScope) -> None:
        change: _Change = request
        queue, manager = self.queue, self.manager
        assert queue is not None and manager is not None
        on_create, on_update, on_delete = self._handlers
        args: tuple[Any, ...]
        if change.old is None:
            handler, args = on_create, (change.new,)
        elif change.new is None:
            handler, args = on_delete, (change.old,)
        else:
            handler, args = on_update, (change.old, change.new)
        if handler is None:
            return
        started = manager.clock.now()
        outcome = "success"
        obj = change.new if change.new is not None else change.old
        what = f"{handler.__name__} for {type(obj).__name__} {obj.metadata.name}"

        watchdog = self._watchdog
        try:
            watchdog.begin(scope)
            try:
                result = handler(*args)
                if inspect.isawaitable(result):
                    await result
            except self._cancelled:
                if watchdog.expired(scope):
                    outcome = "timeout"
                    self._timed_out(request)
                raise
            finally:
                watchdog.end(scope)
            queue.forget(request)
        except TerminalError as err:
            outcome = "terminal"
            self.stats["terminal"] += 1
            queue.forget(request)
            logger.error("%s: %s: terminal error, dropped: %s", self.name, what, err)
        except Exception:
            outcome = "error"
            self.stats["errors"] += 1
            queue.add_rate_limited(request)
            logger.exception("%s: %s failed; will retry with backoff", self.name, what)
        finally:
            self.stats["reconciles"] += 1
            manager.record_reconcile(self.name, outcome, manager.clock.now() - started)
