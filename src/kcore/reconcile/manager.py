"""The manager: shared informers and controllers in one anyio task group, with leader election.

``Manager(client).add(controller...)`` then ``await manager.run()``: informers start at once (a
standby replica keeps warm caches), controllers' workers start once the caches have synced and,
with ``leader_election=True``, only while this manager holds the Lease. Losing the Lease cancels
every worker before another manager can take it (see ``kcore.reconcile.leader``); the manager
then contends again. ``stop()`` shuts down gracefully: queues stop taking work, in-flight
reconciles finish (up to ``shutdown_timeout`` of clock time), then everything is cancelled.

``healthy()`` and ``ready()`` are the liveness and readiness checks; ``metrics.text()`` is the
Prometheus exposition of queue and reconcile metrics (with prometheus_client installed).
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import anyio
import anyio.abc

from kcore.api import Client
from kcore.clock import Clock
from kcore.reconcile.controller import Controller
from kcore.reconcile.factory import InformerFactory
from kcore.reconcile.handlers import within
from kcore.reconcile.informer import Informer
from kcore.reconcile.leader import LeaderElector
from kcore.reconcile.metrics import Metrics
from kcore.reconcile.queue import QueueMetrics

__all__ = ["Manager"]

T = TypeVar("T")
logger = logging.getLogger("kcore.reconcile.manager")


class Manager:
    """Runs controllers over shared informers of one API client."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        leader_election: bool = False,
        lease_name: str = "kcore-manager",
        lease_namespace: str = "default",
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        metrics: bool = True,
        shutdown_timeout: float = 30.0,
    ) -> None:
        self.client = client
        self.clock: Clock = clock if clock is not None else client.clock
        self.factory = InformerFactory(client, self.clock)
        self.controllers: list[Controller[Any]] = []
        self.metrics = Metrics(metrics)
        self.shutdown_timeout = shutdown_timeout
        self.elector: LeaderElector | None = None
        if leader_election:
            self.elector = LeaderElector(
                client,
                lease_name,
                namespace=lease_namespace,
                identity=identity,
                lease_duration=lease_duration,
                renew_deadline=renew_deadline,
                retry_period=retry_period,
                clock=self.clock,
            )
        self._stop = anyio.Event()
        self._running = False
        self._leading = False
        self._task_group: anyio.abc.TaskGroup | None = None
        self._controllers_group: anyio.abc.TaskGroup | None = None
        self._led_before = False

    # --- wiring ------------------------------------------------------------------------------

    def add(self, *controllers: Controller[Any]) -> Manager:
        """Add controllers; returns the manager for chaining. Controllers added while the
        manager runs start once their informers have synced (and while it leads)."""
        for controller in controllers:
            controller.setup(self)
            self.controllers.append(controller)
            if self._task_group is not None:
                self._task_group.start_soon(self._start_late, controller)
        return self

    async def _start_late(self, controller: Controller[Any]) -> None:
        assert self._task_group is not None
        await self.factory.start(self._task_group)
        await self.factory.wait_synced()
        if self._controllers_group is not None:
            self._controllers_group.start_soon(controller.run)

    def informer(self, kind: type[T], *, namespace: str | None = None) -> Informer[T]:
        """The shared informer for ``kind`` (created on first use)."""
        return self.factory.informer(kind, namespace=namespace)

    def cached(self, kind: type[T]) -> Informer[T] | None:
        """A running shared informer caching every object of ``kind``, if there is one."""
        for informer in self.factory.informers():
            if (
                informer.kind is kind
                and informer.namespace is None
                and informer.label_selector is None
                and informer.field_selector is None
            ):
                return informer
        return None

    def queue_metrics(self, name: str) -> QueueMetrics:
        return self.metrics.queue(name)

    def record_reconcile(self, controller: str, outcome: str, seconds: float) -> None:
        self.metrics.reconcile(controller, outcome, seconds)

    # --- health ------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Liveness: the manager is running and has not been asked to stop."""
        return self._running and not self._stop.is_set()

    def ready(self) -> bool:
        """Readiness: running and every informer has synced."""
        return self.healthy() and all(i.has_synced for i in self.factory.informers())

    @property
    def leading(self) -> bool:
        """Whether this manager's controllers are running (always, without leader election)."""
        return self._leading

    async def wait_for(self, resource_version: str | int, timeout: float | None = None) -> None:
        """Wait until every informer has seen ``resource_version`` (read your own writes)."""
        for informer in self.factory.informers():
            await informer.wait_for(resource_version, timeout)

    async def wait_synced(self, timeout: float | None = None) -> None:
        await self.factory.wait_synced(timeout)

    # --- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until ``stop()`` (graceful) or cancellation."""
        if self._running:
            raise RuntimeError("Manager.run() is already running")
        self._running = True
        try:
            async with anyio.create_task_group() as group:
                self._task_group = group
                await self.factory.start(group)
                group.start_soon(self._lead_or_run)
                await self._stop.wait()
                await self._drain()
                group.cancel_scope.cancel()
        finally:
            self._running = False
            self._leading = False
            self._task_group = None

    def stop(self) -> None:
        """Ask ``run()`` to finish gracefully."""
        self._stop.set()

    async def _drain(self) -> None:
        async def drain_all() -> None:
            for controller in self.controllers:
                if controller.queue is not None:
                    await controller.queue.shut_down_with_drain()

        try:
            await within(self.clock, self.shutdown_timeout, drain_all, "graceful shutdown")
        except Exception as exc:  # a reconcile that will not finish is cancelled below
            logger.warning("manager: %s; cancelling what is still running", exc)

    async def _lead_or_run(self) -> None:
        if self.elector is None:
            await self._run_controllers()
            return
        while not self._stop.is_set():
            await self.elector.run(self._run_controllers)
            logger.warning("manager: leadership lost; controllers stopped, contending again")

    async def _run_controllers(self) -> None:
        await self.factory.wait_synced()
        if self._led_before:
            for controller in self.controllers:
                controller.enqueue_all()  # work lost with the last leadership is redone
        self._led_before = True
        self._leading = True
        try:
            async with anyio.create_task_group() as group:
                self._controllers_group = group
                for controller in self.controllers:
                    group.start_soon(controller.run)
                await self._stop.wait()
                await self._drain()
                group.cancel_scope.cancel()
        finally:
            self._controllers_group = None
            self._leading = False
