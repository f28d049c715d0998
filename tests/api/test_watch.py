"""Watch: typed ADDED/MODIFIED/DELETED in order, initial state, selector transitions, bookmarks.

A watch from a resourceVersion sees exactly the changes after it, in order, each carrying the
object at that revision; one without starts with ADDED for what exists. With a selector, the
watcher's view stays the matching set: an object that starts matching arrives as ADDED, one
that stops matching as DELETED. Compacted history is 410 Gone.
"""

from __future__ import annotations

import pytest

from kcore import errors
from kcore.api import Client, WatchEventType
from kcore.objects import ObjectMeta, evolve
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_pod import Pod
from tests.api._support import collect, config_map, next_event, pod, revision, stored

pytestmark = pytest.mark.anyio

ADDED, MODIFIED, DELETED, BOOKMARK = (
    WatchEventType.ADDED,
    WatchEventType.MODIFIED,
    WatchEventType.DELETED,
    WatchEventType.BOOKMARK,
)


async def test_watch_from_a_resource_version_sees_each_change_in_order(client: Client) -> None:
    start = str(await revision(client.store))
    async with client.watch(ConfigMap, resource_version=start) as watcher:
        created = await client.create(config_map("cm", {"v": "1"}))
        updated = await client.update(evolve(created, data={"v": "2"}))
        deleted_at = await revision(client.store) + 1
        await client.delete(ConfigMap, "cm")
        events = await collect(watcher, 3)
    assert [e.type for e in events] == [ADDED, MODIFIED, DELETED]
    assert all(isinstance(e.object, ConfigMap) for e in events)
    assert events[0].object == created
    assert events[1].object == updated
    # The deleted object's last state, versioned at the deletion.
    assert events[2].object.data == {"v": "2"}
    assert events[2].object.metadata.resource_version == str(deleted_at)
    assert watcher.resource_version == str(deleted_at)


async def test_watch_starts_right_after_its_resource_version(client: Client) -> None:
    await client.create(config_map("before"))
    start = str(await revision(client.store))
    await client.create(config_map("after"))
    async with client.watch(ConfigMap, resource_version=start) as watcher:
        event = await next_event(watcher)
    assert (event.type, event.object.metadata.name) == (ADDED, "after")


async def test_watch_without_resource_version_starts_with_the_current_state(
    client: Client,
) -> None:
    await client.create(config_map("b"))
    await client.create(config_map("a"))
    async with client.watch(ConfigMap) as watcher:
        initial = await collect(watcher, 2)
        await client.create(config_map("c"))
        later = await next_event(watcher)
    assert [(e.type, e.object.metadata.name) for e in initial] == [(ADDED, "a"), (ADDED, "b")]
    assert (later.type, later.object.metadata.name) == (ADDED, "c")
    assert later.object.metadata.resource_version == str(
        (await stored(client, ConfigMap, "c")).mod_revision
    )


async def test_watch_of_one_namespace(client: Client) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name="team")))
    start = str(await revision(client.store))
    async with client.watch(ConfigMap, "team", resource_version=start) as watcher:
        await client.create(config_map("elsewhere"))
        await client.create(config_map("here"), namespace="team")
        event = await next_event(watcher)
    assert (event.object.metadata.namespace, event.object.metadata.name) == ("team", "here")


async def test_a_watch_resumes_from_its_last_event(client: Client) -> None:
    start = str(await revision(client.store))
    async with client.watch(ConfigMap, resource_version=start) as watcher:
        await client.create(config_map("one"))
        await next_event(watcher)
        resume_at = watcher.resource_version
    await client.create(config_map("two"))
    async with client.watch(ConfigMap, resource_version=resume_at) as resumed:
        event = await next_event(resumed)
    assert event.object.metadata.name == "two"


async def test_selector_transitions_become_added_and_deleted(client: Client) -> None:
    start = str(await revision(client.store))
    async with client.watch(ConfigMap, label_selector="app=web", resource_version=start) as w:
        other = await client.create(config_map("cm", labels={"app": "db"}))
        joined = await client.update(evolve(other, metadata__labels={"app": "web"}))
        edited = await client.update(evolve(joined, data={"k": "v"}))
        left = await client.update(evolve(edited, metadata__labels={"app": "db"}))
        await client.delete(ConfigMap, "cm")  # no longer matching: not seen
        sentinel = await client.create(config_map("last", labels={"app": "web"}))
        events = await collect(w, 4)
    assert [(e.type, e.object.metadata.name) for e in events] == [
        (ADDED, "cm"),
        (MODIFIED, "cm"),
        (DELETED, "cm"),
        (ADDED, "last"),
    ]
    assert events[0].object == joined and events[1].object == edited
    assert events[2].object.metadata.resource_version == left.metadata.resource_version
    assert events[3].object == sentinel


async def test_a_selector_transition_delete_carries_the_last_matching_state(
    client: Client,
) -> None:
    matching = await client.create(config_map("cm", {"k": "old"}, labels={"app": "web"}))
    start = matching.metadata.resource_version
    async with client.watch(ConfigMap, label_selector="app=web", resource_version=start) as w:
        left = await client.update(evolve(matching, metadata__labels={"app": "db"}))
        event = await next_event(w)
    assert event.type == DELETED
    assert event.object.metadata.labels == {"app": "web"}
    assert event.object.metadata.resource_version == left.metadata.resource_version


async def test_field_selector_watch(client: Client) -> None:
    start = str(await revision(client.store))
    async with client.watch(
        Pod, field_selector="spec.nodeName=node-1", resource_version=start
    ) as w:
        await client.create(pod("elsewhere", node_name="node-2"))
        await client.create(pod("here", node_name="node-1"))
        event = await next_event(w)
    assert (event.type, event.object.metadata.name) == (ADDED, "here")


async def test_a_requested_bookmark_carries_the_current_revision(client: Client) -> None:
    await client.create(config_map("a"))
    start = str(await revision(client.store))
    async with client.watch(ConfigMap, resource_version=start, allow_bookmarks=True) as w:
        await client.create(config_map("b"))
        added = await next_event(w)
        await w.request_bookmark()
        bookmark = await next_event(w)
    assert added.type == ADDED
    assert bookmark.type == BOOKMARK
    assert isinstance(bookmark.object, ConfigMap)
    assert bookmark.object.metadata.resource_version == str(await revision(client.store))
    assert bookmark.object.metadata.name == "" and bookmark.object.data == {}
    assert w.resource_version == bookmark.object.metadata.resource_version


async def test_no_bookmarks_unless_allowed(client: Client) -> None:
    start = str(await revision(client.store))
    async with client.watch(ConfigMap, resource_version=start) as w:
        await w.request_bookmark()
        await client.create(config_map("next"))
        event = await next_event(w)
    assert (event.type, event.object.metadata.name) == (ADDED, "next")


async def test_watch_from_a_compacted_revision_is_gone(client: Client) -> None:
    start = str(await revision(client.store))
    await client.create(config_map("a"))
    await client.create(config_map("b"))
    await client.store.compact(await revision(client.store))
    async with client.watch(ConfigMap, resource_version=start) as w:
        with pytest.raises(errors.GoneError) as caught:
            await next_event(w)
    assert (caught.value.reason, caught.value.code) == ("Expired", 410)
    assert "too old resource version" in str(caught.value)


async def test_a_bad_resource_version_is_a_bad_request(client: Client) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        async with client.watch(ConfigMap, resource_version="yesterday"):
            pass
