"""Shared informers: one informer (one watch, one cache) per kind and selection, for everyone.

Controllers that care about the same kind should not each list and watch it: the store would
serve every watch and the process would hold every object several times. A factory hands out
one ``Informer`` per (kind, namespace, label selector, field selector); asking again returns
the same informer, and its cache is shared safely because objects are immutable.

Selectors are compared by meaning, not spelling: ``"a=1,b=2"``, ``"b=2,a=1"``,
``{"a": "1", "b": "2"}`` and the equivalent ``Selector`` name the same informer.

As with client-go's factory, ``start()`` starts the informers that exist at that moment;
informers asked for afterwards are started by the next ``start()`` call.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import anyio
import anyio.abc

from kcore.api import Client
from kcore.clock import Clock
from kcore.objects import info_for
from kcore.objects.fields import FieldSelector
from kcore.objects.labels import Selector
from kcore.objects.selectors import as_field_selector, as_label_selector
from kcore.reconcile.handlers import within
from kcore.reconcile.informer import Informer

__all__ = ["InformerFactory"]

T = TypeVar("T")

_Key = tuple[type[Any], str | None, Selector | None, FieldSelector | None]


class InformerFactory:
    """Hands out shared informers over ``client``; ``clock`` defaults to the client's."""

    def __init__(self, client: Client, clock: Clock | None = None) -> None:
        self.client = client
        self.clock: Clock = clock if clock is not None else client.clock
        self._informers: dict[_Key, Informer[Any]] = {}
        self._started: set[Informer[Any]] = set()

    def informer(
        self,
        kind: type[T],
        *,
        namespace: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
        resync_period: float | None = None,
    ) -> Informer[T]:
        """The shared informer for ``kind`` and this selection (created on first request).

        A shared informer resyncs at the shortest ``resync_period`` anyone asked for before it
        started.
        """
        info = info_for(kind)
        labels = as_label_selector(label_selector)
        fields = as_field_selector(field_selector)
        ns = (namespace or None) if info.namespaced else None
        key: _Key = (kind, ns, labels, fields)
        found = self._informers.get(key)
        if found is None:
            found = Informer(
                self.client,
                kind,
                namespace=ns,
                label_selector=labels,
                field_selector=fields,
                resync_period=resync_period,
                clock=self.clock,
            )
            self._informers[key] = found
        elif resync_period is not None and (
            found.resync_period is None or resync_period < found.resync_period
        ):
            found.resync_period = resync_period
        return cast(Informer[T], found)

    def informers(self) -> list[Informer[Any]]:
        """Every informer handed out so far."""
        return list(self._informers.values())

    async def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Run, in ``task_group``, every informer handed out so far and not yet started."""
        for informer in self._informers.values():
            if informer not in self._started:
                self._started.add(informer)
                task_group.start_soon(informer.run)

    async def run(self) -> None:
        """Start every informer handed out so far and run them until cancelled."""
        async with anyio.create_task_group() as task_group:
            await self.start(task_group)
            await anyio.sleep_forever()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until every informer handed out so far has synced (TimeoutError on timeout)."""
        informers = self.informers()

        async def all_synced() -> None:
            for informer in informers:
                await informer.wait_synced()

        await within(self.clock, timeout, all_synced, f"{len(informers)} shared informers' sync")
