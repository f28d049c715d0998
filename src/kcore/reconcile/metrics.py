"""Prometheus metrics for queues and reconciles, when prometheus_client is installed.

Metric names follow controller-runtime's (``workqueue_*``, ``controller_runtime_reconcile_*``)
with a ``kcore_`` prefix, so dashboards translate directly. Each manager gets its own registry
(several managers in one test process must not collide); ``Metrics.text()`` renders it in the
Prometheus exposition format. Without prometheus_client (``pip install kcore[metrics]``) the
same calls count nothing, and a manager runs the same.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

__all__ = ["Metrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _QueueMetrics:
    """``QueueMetrics`` (kcore.reconcile.queue) feeding one queue's series."""

    def __init__(self, metrics: Metrics, name: str) -> None:
        self._m = metrics
        self._name = name

    def add(self, item: Hashable) -> None:
        if self._m.enabled:
            self._m.adds.labels(self._name).inc()

    def get(self, item: Hashable, wait_seconds: float) -> None:
        if self._m.enabled:
            self._m.queue_latency.labels(self._name).observe(wait_seconds)

    def done(self, item: Hashable, work_seconds: float) -> None:
        if self._m.enabled:
            self._m.work_duration.labels(self._name).observe(work_seconds)

    def retry(self, item: Hashable) -> None:
        if self._m.enabled:
            self._m.retries.labels(self._name).inc()

    def depth(self, n: int) -> None:
        if self._m.enabled:
            self._m.depth.labels(self._name).set(n)


class Metrics:
    """The metrics of one manager; ``enabled`` is False without prometheus_client."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = False
        self.registry: Any = None
        if not enabled:
            return
        try:
            import prometheus_client as prom
        except ImportError:
            return
        self.enabled = True
        self.registry = registry = prom.CollectorRegistry()
        label = ["name"]
        self.depth = prom.Gauge("kcore_workqueue_depth", "Items waiting", label, registry=registry)
        self.adds = prom.Counter(
            "kcore_workqueue_adds_total", "Items added", label, registry=registry
        )
        self.retries = prom.Counter(
            "kcore_workqueue_retries_total", "Delayed or rate-limited re-adds", label,
            registry=registry,
        )  # fmt: skip
        self.queue_latency = prom.Histogram(
            "kcore_workqueue_queue_duration_seconds", "Time an item waited before a worker took it",
            label, buckets=_BUCKETS, registry=registry,
        )  # fmt: skip
        self.work_duration = prom.Histogram(
            "kcore_workqueue_work_duration_seconds", "Time a worker spent on an item", label,
            buckets=_BUCKETS, registry=registry,
        )  # fmt: skip
        self.reconciles = prom.Counter(
            "kcore_reconcile_total", "Reconciles by outcome", ["controller", "result"],
            registry=registry,
        )  # fmt: skip
        self.reconcile_errors = prom.Counter(
            "kcore_reconcile_errors_total", "Reconciles that raised or timed out", ["controller"],
            registry=registry,
        )  # fmt: skip
        self.reconcile_time = prom.Histogram(
            "kcore_reconcile_time_seconds", "Reconcile duration (clock time)", ["controller"],
            buckets=_BUCKETS, registry=registry,
        )  # fmt: skip

    def queue(self, name: str) -> _QueueMetrics:
        return _QueueMetrics(self, name)

    def reconcile(self, controller: str, outcome: str, seconds: float) -> None:
        if not self.enabled:
            return
        self.reconciles.labels(controller, outcome).inc()
        if outcome in ("error", "timeout", "terminal"):
            self.reconcile_errors.labels(controller).inc()
        self.reconcile_time.labels(controller).observe(max(0.0, seconds))

    def text(self) -> str:
        """The registry in Prometheus' text exposition format ("" when disabled)."""
        if not self.enabled:
            return ""
        import prometheus_client as prom

        return str(prom.generate_latest(self.registry).decode())
