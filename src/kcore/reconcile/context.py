"""What a reconcile works with: the request's object from the cache, reads, and idempotent writes.

``ctx.object`` is the primary object as the shared cache holds it (None once it is gone).
``ctx.get``/``ctx.list`` read from a shared informer's cache when the manager runs one for that
kind, and from the API otherwise. ``ctx.apply(obj)`` creates or updates an object so that it
matches ``obj`` (and is controlled by the primary object), writing nothing when it already does;
``ctx.own(Kind, objs)`` makes the set of owned objects of a kind exactly ``objs``. Both are safe
to repeat, which is what a level-based reconcile needs.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from kcore import errors
from kcore.objects import OwnerReference, evolve, info_for

if TYPE_CHECKING:
    from kcore.reconcile.controller import Controller
    from kcore.reconcile.manager import Manager
    from kcore.reconcile.types import Request

__all__ = ["Context", "controller_reference"]

T = TypeVar("T")
_PRIMARY = object()


def controller_reference(owner: Any) -> OwnerReference:
    """The ownerReference that makes ``owner`` the controller of another object."""
    return OwnerReference(
        api_version=type(owner).api_version,
        kind=type(owner).kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


class Context:
    """Passed to every reconcile with the :class:`~kcore.reconcile.types.Request`."""

    def __init__(self, manager: Manager, controller: Controller[Any], request: Request) -> None:
        self.manager = manager
        self.controller = controller
        self.request = request
        self.client = manager.client
        self.clock = manager.clock

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """A logger named after the controller, carrying the request (made on first use)."""
        return logging.LoggerAdapter(
            logging.getLogger(f"kcore.controller.{self.controller.name}"),
            {"request": str(self.request)},
        )

    @property
    def object(self) -> Any:
        """The primary object from the cache, or None if it no longer exists."""
        informer = self.manager.informer(self.controller.for_, namespace=self.controller.namespace)
        return informer.cache.get(self.request.name, self.request.namespace or None)

    async def get(self, kind: type[T], name: str, namespace: str | None = None) -> T | None:
        """An object from the cache (the API if no informer caches ``kind``); None if absent."""
        ns = self._namespace(kind, namespace)
        informer = self.manager.cached(kind)
        if informer is not None:
            found: T | None = informer.cache.get(name, ns or None)
            return found
        try:
            return await self.client.get(kind, name, ns or None)
        except errors.NotFoundError:
            return None

    async def list(
        self, kind: type[T], namespace: str | None = None, *, label_selector: Any = None
    ) -> builtins.list[T]:
        """Objects of ``kind`` (in ``namespace``; None: every namespace), cache first."""
        informer = self.manager.cached(kind)
        if informer is not None:
            return list(informer.cache.list(namespace, label_selector))
        listed = await self.client.list(kind, namespace, label_selector=label_selector)
        return list(listed.items)

    def _namespace(self, kind: type[Any], namespace: str | None) -> str:
        if not info_for(kind).namespaced:
            return ""
        return namespace or self.request.namespace or "default"

    async def apply(self, obj: T, *, owner: Any = _PRIMARY) -> T:
        """Create ``obj``, or update the stored one to match it; returns what is stored.

        ``owner`` (default: the primary object) becomes the object's controller through an
        ownerReference, so its changes requeue the owner (``owns=[Kind]``). Fields other than
        metadata and status are taken from ``obj``; its labels and annotations are merged into
        the stored ones. Nothing is written when the stored object already matches.
        """
        meta = obj.metadata  # type: ignore[attr-defined]
        namespace = self._namespace(type(obj), meta.namespace or None)
        if owner is _PRIMARY:
            owner = self.object
        if owner is not None:
            refs = [r for r in meta.owner_references if r.uid != owner.metadata.uid]
            meta = evolve(meta, owner_references=[*refs, controller_reference(owner)])
        if info_for(type(obj)).namespaced:
            meta = evolve(meta, namespace=namespace)
        desired: Any = evolve(obj, metadata=meta)
        try:
            current: Any = await self.client.get(type(obj), meta.name, namespace or None)
        except errors.NotFoundError:
            return await self.client.create(desired)
        merged = _merged(current, desired)
        if merged == current:
            return current  # type: ignore[no-any-return]
        return await self.client.update(merged)

    async def own(
        self, kind: type[T], objs: Iterable[T], *, owner: Any = _PRIMARY
    ) -> builtins.list[T]:
        """Make the objects of ``kind`` controlled by ``owner`` exactly ``objs``: apply each,
        delete the ones no longer wanted. Does nothing once the owner is gone."""
        if owner is _PRIMARY:
            owner = self.object
        if owner is None:
            return []  # the owner is gone: what it owned goes with it (ownerReferences)
        wanted = [await self.apply(obj, owner=owner) for obj in objs]
        names = {o.metadata.name for o in wanted}  # type: ignore[attr-defined]
        namespace = owner.metadata.namespace or None
        for existing in await self.list(kind, namespace):
            meta = existing.metadata  # type: ignore[attr-defined]
            controlled = any(
                r.controller and r.uid == owner.metadata.uid for r in meta.owner_references
            )
            if controlled and meta.name not in names and meta.deletion_timestamp is None:
                with contextlib.suppress(errors.NotFoundError):
                    await self.client.delete(kind, meta.name, meta.namespace or None)
        return wanted

    async def update_status(self, obj: T) -> T:
        return await self.client.update_status(obj)

    async def wait_for(self, resource_version: str | int, timeout: float | None = None) -> None:
        """Wait until every cache has seen ``resource_version`` (read your own writes)."""
        await self.manager.wait_for(resource_version, timeout)


def _merged(current: Any, desired: Any) -> Any:
    """``current`` with everything but metadata and status from ``desired``, and desired's
    labels, annotations and ownerReferences merged into current's metadata."""
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(current)):
        if field.name in ("metadata", "status", "_unknown") or not field.init:
            continue
        wanted = getattr(desired, field.name)
        if getattr(current, field.name) != wanted:
            changes[field.name] = wanted
    cur, want = current.metadata, desired.metadata
    labels = {**cur.labels, **want.labels}
    annotations = {**cur.annotations, **want.annotations}
    known = {r.uid for r in cur.owner_references}
    refs = [*cur.owner_references, *(r for r in want.owner_references if r.uid not in known)]
    if (
        labels != cur.labels
        or annotations != cur.annotations
        or len(refs) != len(cur.owner_references)
    ):
        changes["metadata"] = evolve(
            cur, labels=labels, annotations=annotations, owner_references=refs
        )
    return evolve(current, **changes) if changes else current
