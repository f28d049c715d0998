"""Custom kinds: a user's ``@kind`` class gets the same API semantics as a built-in kind.

``Widget`` (namespaced, spec + status, a validation rule) is declared in ``_support``; ``Gadget``
below is cluster-scoped and has no status. Both are declared exactly as a user would.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from kcore import errors
from kcore.api import Client, WatchEventType
from kcore.objects import Object, ObjectMeta, evolve, kind
from tests.api._support import (
    Widget,
    WidgetStatus,
    collect,
    revision,
    stored,
    unchanged,
    widget,
)

pytestmark = pytest.mark.anyio


@kind("example.com/v1", "Gadget", plural="gadgets", namespaced=False)
class Gadget(Object):
    settings: Mapping[str, str] = {}


async def test_a_custom_kind_goes_through_create_get_update_status_list_watch(
    client: Client,
) -> None:
    start = str(await revision(client.store))
    async with client.watch(Widget, resource_version=start) as watcher:
        created = await client.create(widget("w1", 2, labels={"app": "x"}))
        await client.create(widget("w2", 3))
        ready = await client.update_status(evolve(created, status=WidgetStatus(phase="Ready")))
        bigger = await client.update(evolve(ready, spec__size=4))
        await client.delete(Widget, "w2")
        events = await collect(watcher, 5)
    assert [(e.type, e.object.metadata.name) for e in events] == [
        (WatchEventType.ADDED, "w1"),
        (WatchEventType.ADDED, "w2"),
        (WatchEventType.MODIFIED, "w1"),
        (WatchEventType.MODIFIED, "w1"),
        (WatchEventType.DELETED, "w2"),
    ]
    assert all(isinstance(e.object, Widget) for e in events)
    assert events[3].object == bigger
    assert (await client.get(Widget, "w1")) == bigger
    assert bigger.status.phase == "Ready" and bigger.metadata.generation == 2
    listed = await client.list(Widget, label_selector="app=x")
    assert [w.metadata.name for w in listed] == ["w1"]
    kv = await stored(client, Widget, "w1")
    assert kv.key == b"/registry/example.com/widgets/default/w1"
    assert bigger.metadata.resource_version == str(kv.mod_revision)


async def test_a_custom_kinds_validation_runs_on_every_write(client: Client) -> None:
    created = await client.create(widget("w", 1))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidError) as on_create:
            await client.create(widget("bad", -1))
        with pytest.raises(errors.InvalidError) as on_update:
            await client.update(evolve(created, spec__size=-5))
        with pytest.raises(errors.InvalidError):
            await client.patch(Widget, "w", {"spec": {"size": -2}})
    assert [c.path for c in on_create.value.causes] == ["spec.size"]
    assert [c.path for c in on_update.value.causes] == ["spec.size"]


async def test_a_cluster_scoped_custom_kind_without_status(client: Client) -> None:
    created = await client.create(Gadget(metadata=ObjectMeta(name="g"), settings={"a": "b"}))
    assert created.metadata.namespace == ""
    kv = await stored(client, Gadget, "g")
    assert kv.key == b"/registry/example.com/gadgets/g"
    changed = await client.update(evolve(created, settings={"a": "c"}))
    assert changed.metadata.generation == 2  # no spec field: everything but metadata is spec
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError):
            await client.update_status(changed)
    assert [g.metadata.name for g in await client.list(Gadget)] == ["g"]
    assert [g.metadata.name for g in await client.list(Gadget, field_selector="metadata.name=g")]


async def test_an_unregistered_class_is_refused(client: Client) -> None:
    class NotAKind(Object):
        pass

    async with unchanged(client.store):
        with pytest.raises(errors.InvalidTypeError) as caught:
            await client.create(NotAKind(metadata=ObjectMeta(name="x")))
    assert "not a registered kind" in str(caught.value)
