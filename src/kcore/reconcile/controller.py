"""Controllers: level-based reconcile loops fed by shared informers through a work queue.

A controller watches one primary kind (``for_``), optionally the kinds it owns (an owned
object's change enqueues its controlling owner, found through ``ownerReferences``) and other
kinds through map functions. Every change becomes a :class:`Request` — a namespace/name key —
in a :class:`~kcore.reconcile.queue.WorkQueue`, so a burst of changes to one object is one
reconcile, and one key is never reconciled by two workers at once. The reconcile function gets
a :class:`Context` and the request and returns ``None`` (done), ``Result(requeue_after=s)``,
``Result(requeue=True)``, or raises: an exception retries with per-key exponential backoff
(``TerminalError`` does not retry). A reconcile that runs longer than ``reconcile_timeout``
of clock time is cancelled, reported, and retried with backoff, so a hung reconcile never
blocks its key forever.

This module is the level-based contract; ``kcore.reconcile.edge`` has the edge-triggered
convenience on the same machinery.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import attrs

from kcore import errors
from kcore.objects import info_for
from kcore.reconcile.context import Context
from kcore.reconcile.predicates import Predicate
from kcore.reconcile.queue import Priority, QueueShutDown, WorkQueue
from kcore.reconcile.ratelimit import RateLimiter, default_controller_rate_limiter
from kcore.reconcile.types import Request, Result, TerminalError

if TYPE_CHECKING:
    from kcore.reconcile.manager import Manager

__all__ = ["Builder", "Controller", "Reconciler", "controller"]

T = TypeVar("T")
logger = logging.getLogger("kcore.reconcile.controller")

Reconciler = Callable[[Context, Request], Awaitable[Result | None]]
MapFunc = Callable[[Any], Iterable[Request] | Awaitable[Iterable[Request]]]


@attrs.frozen
class _Watch:
    kind: type[Any]
    map_fn: MapFunc | None  # None: the primary kind itself
    owned: bool = False


class Controller(Generic[T]):
    """One reconcile loop; add it to a :class:`~kcore.reconcile.manager.Manager` to run it."""

    def __init__(
        self,
        name: str,
        for_: type[T],
        reconcile: Reconciler,
        *,
        owns: Sequence[type[Any]] = (),
        watches: Sequence[tuple[type[Any], MapFunc]] = (),
        predicates: Sequence[Predicate] = (),
        max_concurrent: int = 1,
        rate_limiter: RateLimiter | None = None,
        reconcile_timeout: float = 600.0,
        namespace: str | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise errors.InvalidArgumentError(
                f"controller {name!r}: max_concurrent must be 1 or more, got {max_concurrent}"
            )
        if not (reconcile_timeout > 0):
            raise errors.InvalidArgumentError(
                f"controller {name!r}: reconcile_timeout must be > 0, got {reconcile_timeout}"
            )
        info_for(for_)  # a registered kind, or a clear error now rather than at run time
        self.name = name
        self.for_ = for_
        self.reconcile_fn = reconcile
        self.max_concurrent = max_concurrent
        self.reconcile_timeout = reconcile_timeout
        self.namespace = namespace
        self.predicates = tuple(predicates)
        self._rate_limiter = rate_limiter
        self._watches = [_Watch(for_, None)]
        self._watches += [_Watch(kind, None, owned=True) for kind in owns]
        self._watches += [_Watch(kind, fn) for kind, fn in watches]
        self.queue: WorkQueue[Request] | None = None
        self.manager: Manager | None = None
        self._watchdog = _Watchdog(None, reconcile_timeout)
        self._cancelled: type[BaseException] = BaseException
        self.stats = {"reconciles": 0, "errors": 0, "terminal": 0, "timeouts": 0, "requeues": 0}

    def __repr__(self) -> str:
        return f"<Controller {self.name} for {self.for_.__name__}>"

    # --- wiring ------------------------------------------------------------------------------

    def setup(self, manager: Manager) -> None:
        """Create the queue and register handlers on the manager's shared informers."""
        self.manager = manager
        limiter = self._rate_limiter or default_controller_rate_limiter(manager.clock)
        self.queue = WorkQueue(
            manager.clock, rate_limiter=limiter, metrics=manager.queue_metrics(self.name),
            name=self.name,
        )  # fmt: skip
        for watch in self._watches:
            self._register(watch, manager.informer(watch.kind, namespace=self.namespace))

    def _register(self, watch: _Watch, informer: Any) -> None:
        async def on_add(obj: Any) -> None:
            await self._on_event(watch, None, obj, informer)

        async def on_update(old: Any, new: Any) -> None:
            await self._on_event(watch, old, new, informer)

        async def on_delete(obj: Any) -> None:
            await self._on_event(watch, obj, None, informer)

        informer.add_handler(on_add=on_add, on_update=on_update, on_delete=on_delete)

    async def _on_event(self, watch: _Watch, old: Any, new: Any, informer: Any) -> None:
        obj = new if new is not None else old
        if not self._passes(old, new):
            return
        resync = old is new
        fresh = informer.has_synced and not resync
        priority = Priority.NORMAL if fresh else Priority.LOW
        try:
            for request in await self._requests_for(watch, obj):
                assert self.queue is not None
                self.queue.add(request, priority=priority)
        except Exception:  # a failing map function must not stop the informer
            self.stats["errors"] += 1
            logger.exception(
                "controller %s: mapping %s %s to requests failed",
                self.name,
                type(obj).__name__,
                _name_of(obj),
            )

    def _passes(self, old: Any, new: Any) -> bool:
        for predicate in self.predicates:
            if old is None and not predicate.create(new):
                return False
            if new is None and not predicate.delete(old):
                return False
            if old is not None and new is not None and not predicate.update(old, new):
                return False
        return True

    async def _requests_for(self, watch: _Watch, obj: Any) -> list[Request]:
        if watch.map_fn is None and not watch.owned:
            return [Request(obj.metadata.name, obj.metadata.namespace)]
        if watch.owned:
            owner: Any = self.for_
            for ref in obj.metadata.owner_references:
                # Group and kind, any version (as controller-runtime matches owners).
                group = ref.api_version.rpartition("/")[0]
                if ref.controller and ref.kind == owner.kind and group == owner.group:
                    namespace = obj.metadata.namespace if info_for(owner).namespaced else ""
                    return [Request(ref.name, namespace)]
            return []
        assert watch.map_fn is not None
        mapped = watch.map_fn(obj)
        if inspect.isawaitable(mapped):
            mapped = await mapped
        requests = list(mapped)
        for request in requests:
            if not isinstance(request, Request):
                raise errors.InvalidTypeError(
                    f"map function returned {request!r}; return kcore.reconcile.Request values"
                )
        return requests

    # --- running -----------------------------------------------------------------------------

    def enqueue_all(self) -> None:
        """Queue every cached primary object (low priority), as a fresh start does: a manager
        that regains leadership re-checks everything, including reconciles it lost mid-way."""
        assert self.manager is not None and self.queue is not None
        informer = self.manager.informer(self.for_, namespace=self.namespace)
        for obj in informer.cache.list():
            meta = obj.metadata  # type: ignore[attr-defined]
            self.queue.add(Request(meta.name, meta.namespace), priority=Priority.LOW)

    async def run(self) -> None:
        """Run ``max_concurrent`` workers until cancelled or the queue shuts down."""
        assert self.manager is not None
        self._watchdog = _Watchdog(self.manager.clock, self.reconcile_timeout)
        self._cancelled = anyio.get_cancelled_exc_class()
        async with anyio.create_task_group() as group:
            group.start_soon(self._watchdog.run)
            async with anyio.create_task_group() as workers:
                for _ in range(self.max_concurrent):
                    workers.start_soon(self._worker)
            group.cancel_scope.cancel()  # workers are done: so is the watchdog

    async def _worker(self) -> None:
        """Take keys until the queue shuts down. A reconcile past its timeout is cancelled by
        cancelling this worker's scope (no timer per reconcile); the worker then starts over."""
        queue = self.queue
        assert queue is not None
        for _ in iter(int, 1):
            with anyio.CancelScope() as scope:
                for _ in iter(int, 1):  # until the queue shuts down or the watchdog cancels
                    try:
                        request = await queue.get()
                    except QueueShutDown:
                        return
                    try:
                        await self._reconcile_one(request, scope)
                    finally:
                        queue.done(request)

    async def _reconcile_one(self, request: Request, scope: anyio.CancelScope) -> None:
        queue, manager, watchdog = self.queue, self.manager, self._watchdog
        assert queue is not None and manager is not None
        ctx = Context(manager, self, request)
        self.stats["reconciles"] += 1
        started = manager.clock.now()
        outcome = "success"
        try:
            result: Any = None
            watchdog.begin(scope)
            try:
                result = await self.reconcile_fn(ctx, request)
            except self._cancelled:
                if watchdog.expired(scope):
                    outcome = "timeout"
                    self._timed_out(request)
                raise
            finally:
                watchdog.end(scope)
            if result is None:
                queue.forget(request)
            elif isinstance(result, Result):
                if result.requeue_after is not None:
                    queue.forget(request)
                    queue.add_after(request, result.requeue_after)
                    outcome = "requeue_after"
                elif result.requeue:
                    queue.add_rate_limited(request)
                    outcome = "requeue"
                else:
                    queue.forget(request)
                self.stats["requeues"] += outcome != "success"
            else:
                raise errors.InvalidTypeError(
                    f"reconcile returned {result!r}; return None, Result(...) or raise"
                )
        except TerminalError as err:
            outcome = "terminal"
            self.stats["terminal"] += 1
            queue.forget(request)
            logger.error(
                "controller %s: %s: terminal error, not retrying: %s", self.name, request, err
            )
        except Exception:
            outcome = "error"
            self.stats["errors"] += 1
            queue.add_rate_limited(request)
            logger.exception(
                "controller %s: reconcile of %s failed (retry %d)",
                self.name,
                request,
                queue.num_requeues(request),
            )
        finally:
            manager.record_reconcile(self.name, outcome, manager.clock.now() - started)

    def _timed_out(self, request: Any) -> None:
        assert self.queue is not None
        self.stats["timeouts"] += 1
        self.queue.add_rate_limited(request)
        logger.error(_timed_out_message(self.name, request, self.reconcile_timeout))


def _timed_out_message(name: str, request: Any, timeout: float) -> str:
    return (
        f"controller {name}: reconcile of {request} did not finish within {timeout} s (clock "
        "time) and was cancelled; will retry with backoff"
    )


class _Watchdog:
    """Cancels reconciles that run past the timeout: one sleeping task per controller rather
    than a timer per reconcile. Every reconcile gets the same timeout, so deadlines come in
    the order reconciles start and the oldest one is always the next to expire; the watchdog
    is woken only when it sleeps with nothing to watch."""

    def __init__(self, clock: Any, timeout: float) -> None:
        self._clock = clock
        self._timeout = timeout
        self._running: dict[anyio.CancelScope, float] = {}
        self._expired: set[anyio.CancelScope] = set()
        self._wake = anyio.Event()
        self._armed = False

    def begin(self, scope: anyio.CancelScope) -> None:
        self._running[scope] = self._clock.now() + self._timeout
        if not self._armed:
            self._wake.set()

    def end(self, scope: anyio.CancelScope) -> None:
        self._running.pop(scope, None)

    def expired(self, scope: anyio.CancelScope) -> bool:
        if scope in self._expired:
            self._expired.discard(scope)
            return True
        return False

    async def run(self) -> None:
        for _ in iter(int, 1):  # until cancelled with its controller
            if not self._running:
                self._armed = False
                self._wake = anyio.Event()
                await self._wake.wait()
                # Stay armed one timeout period even if that reconcile is already over, so a
                # stream of quick reconciles does not wake the watchdog once each.
                self._armed = True
                await self._clock.sleep_until(self._clock.now() + self._timeout)
                continue
            scope, deadline = next(iter(self._running.items()))
            if self._clock.now() >= deadline:
                self._running.pop(scope, None)
                self._expired.add(scope)
                scope.cancel()
                continue
            self._armed = True  # sleeping toward a deadline: new reconciles need no wake-up
            await self._clock.sleep_until(deadline)


def _name_of(obj: Any) -> str:
    meta = getattr(obj, "metadata", None)
    if meta is None:
        return "?"
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name


class Builder:
    """controller-runtime's builder: ``Builder().for_(Kind).owns(Other).complete(reconcile)``."""

    def __init__(self, name: str | None = None) -> None:
        self._name = name
        self._for: type[Any] | None = None
        self._owns: list[type[Any]] = []
        self._watches: list[tuple[type[Any], MapFunc]] = []
        self._predicates: list[Predicate] = []
        self._options: dict[str, Any] = {}

    def named(self, name: str) -> Builder:
        self._name = name
        return self

    def for_(self, kind: type[Any]) -> Builder:
        self._for = kind
        return self

    def owns(self, kind: type[Any]) -> Builder:
        self._owns.append(kind)
        return self

    def watches(self, kind: type[Any], map_fn: MapFunc) -> Builder:
        self._watches.append((kind, map_fn))
        return self

    def with_predicates(self, *predicates: Predicate) -> Builder:
        self._predicates += predicates
        return self

    def max_concurrent(self, n: int) -> Builder:
        self._options["max_concurrent"] = n
        return self

    def with_options(self, **options: Any) -> Builder:
        """``rate_limiter``, ``reconcile_timeout``, ``namespace``."""
        self._options.update(options)
        return self

    def complete(self, reconcile: Reconciler) -> Controller[Any]:
        if self._for is None:
            raise errors.InvalidArgumentError("Builder: call for_(Kind) before complete()")
        name = self._name or f"{self._for.__name__.lower()}-controller"
        return Controller(
            name,
            self._for,
            reconcile,
            owns=self._owns,
            watches=self._watches,
            predicates=self._predicates,
            **self._options,
        )


def controller(
    for_: type[Any],
    *,
    owns: Sequence[type[Any]] = (),
    watches: Sequence[tuple[type[Any], MapFunc]] = (),
    predicates: Sequence[Predicate] = (),
    name: str | None = None,
    **options: Any,
) -> Callable[[Reconciler], Controller[Any]]:
    """Decorator form: ``@controller(Website, owns=[ConfigMap])`` on ``async def reconcile``."""

    def build(reconcile: Reconciler) -> Controller[Any]:
        return Controller(
            name or str(getattr(reconcile, "__name__", f"{for_.__name__.lower()}-controller")),
            for_,
            reconcile,
            owns=owns,
            watches=watches,
            predicates=predicates,
            **options,
        )

    return build
