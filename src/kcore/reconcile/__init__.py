"""Control-loop runtime: informers, work queues, rate limits, controllers, manager, leader election.

The reconcile contract (ARCHITECTURE.md): a reconcile gets a key, reads current state from a
shared cache, converges, and returns done, requeue-after, or raises (backoff); a key is never
reconciled by two workers at once. ``EdgeHandlers`` is the clearly separate edge-triggered
convenience on the same machinery.
"""

from kcore.reconcile.cache import Cache, by_field, by_label, by_namespace, by_owner_uid
from kcore.reconcile.context import Context, controller_reference
from kcore.reconcile.controller import Builder, Controller, Reconciler, controller
from kcore.reconcile.edge import EdgeHandlers
from kcore.reconcile.factory import InformerFactory
from kcore.reconcile.informer import Informer
from kcore.reconcile.leader import LeaderElector
from kcore.reconcile.manager import Manager
from kcore.reconcile.predicates import (
    Predicate,
    annotations_changed,
    generation_changed,
    labels_changed,
    predicate,
    resource_version_changed,
)
from kcore.reconcile.queue import Priority, QueueShutDown, WorkQueue
from kcore.reconcile.ratelimit import (
    ItemExponential,
    MaxOf,
    RateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)
from kcore.reconcile.types import Request, Result, TerminalError

__all__ = [
    "Builder",
    "Cache",
    "Context",
    "Controller",
    "EdgeHandlers",
    "Informer",
    "InformerFactory",
    "ItemExponential",
    "LeaderElector",
    "Manager",
    "MaxOf",
    "Predicate",
    "Priority",
    "QueueShutDown",
    "RateLimiter",
    "Reconciler",
    "Request",
    "Result",
    "TerminalError",
    "TokenBucket",
    "WorkQueue",
    "annotations_changed",
    "by_field",
    "by_label",
    "by_namespace",
    "by_owner_uid",
    "controller",
    "controller_reference",
    "default_controller_rate_limiter",
    "generation_changed",
    "labels_changed",
    "predicate",
    "resource_version_changed",
]
