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
    """``QueueMetrics`` (kcore.reconcile.queue) feeding one queue's series.

    The labelled children are looked up once: a label lookup per call was the biggest cost
    of a queued item."""

    def __init__(self, metrics: Metrics, name: str) -> None:
        self.enabled = metrics.enabled
        if not self.enabled:
            return
        self._adds = metrics.adds.labels(name)
        self._latency = metrics.queue_latency.labels(name)
        self._work = metrics.work_duration.labels(name)
        self._retries = metrics.retries.labels(name)
        self._depth = metrics.depth.labels(name)

    def add(self, item: Hashable) -> None:
        if self.enabled:
            self._adds.inc()

    def get(self, item: Hashable, wait_seconds: float) -> None:
        if self.enabled:
            self._latency.observe(wait_seconds)

    def done(self, item: Hashable, work_seconds: float) -> None:
        if self.enabled:
            self._work.observe(work_seconds)

    def retry(self, item: Hashable) -> None:
        if self.enabled:
            self._retries.inc()

    def depth(self, n: int) -> None:
        if self.enabled:
            self._depth.set(n)


class Metrics:
    """The metrics of one manager; ``enabled`` is False without prometheus_client."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = False
        self.registry: Any = None
        self._children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
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
        children = self._children.get((controller, outcome))
        if children is None:
            children = self._children[(controller, outcome)] = (
                self.reconciles.labels(controller, outcome),
                self.reconcile_errors.labels(controller),
                self.reconcile_time.labels(controller),
            )
        total, failures, duration = children
        total.inc()
        if outcome in ("error", "timeout", "terminal"):
            failures.inc()
        duration.observe(max(0.0, seconds))

    def text(self) -> str:
        """The registry in Prometheus' text exposition format ("" when disabled)."""
        if not self.enabled:
            return ""
        import prometheus_client as prom

        return str(prom.generate_latest(self.registry).decode())
