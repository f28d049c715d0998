"""List: one consistent revision, limit/continue paging, and label and field selectors.

kube-apiserver serves every page of a paged list at the revision of the first page, so the
pages concatenate to one snapshot however the objects change in between; the continue token
stops working (410 Gone) once that revision is compacted.
"""

from __future__ import annotations

from typing import Any

import pytest

from kcore import errors
from kcore.api import Client
from kcore.objects import ObjectMeta, evolve
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_pod import Pod
from tests.api._support import config_map, pod, revision, unchanged

pytestmark = pytest.mark.anyio


def names(items: Any) -> list[str]:
    return [o.metadata.name for o in items]


async def make(client: Client, count: int) -> list[str]:
    made = [f"cm-{i:02d}" for i in range(count)]
    for name in made:
        await client.create(config_map(name, {"n": name}))
    return made


async def test_list_returns_every_object_at_the_current_revision(client: Client) -> None:
    made = await make(client, 5)
    listed = await client.list(ConfigMap)
    assert names(listed) == made  # key order, which is name order within a namespace
    assert listed.resource_version == str(await revision(client.store))
    assert listed.continue_ == "" and listed.remaining_item_count is None
    assert all(o.metadata.resource_version for o in listed)
    assert listed.items[2] == await client.get(ConfigMap, "cm-02")


async def test_list_in_one_namespace_or_all(client: Client) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name="team")))
    await client.create(config_map("a"))
    await client.create(config_map("b"), namespace="team")
    assert names(await client.list(ConfigMap, "default")) == ["a"]
    assert names(await client.list(ConfigMap, "team")) == ["b"]
    everywhere = await client.list(ConfigMap)
    assert sorted((o.metadata.namespace, o.metadata.name) for o in everywhere) == [
        ("default", "a"),
        ("team", "b"),
    ]
    assert names(await client.list(Namespace)) == ["default", "team"]


async def test_list_at_an_older_resource_version(client: Client) -> None:
    await make(client, 3)
    then = await client.list(ConfigMap)
    await client.delete(ConfigMap, "cm-00")
    await client.create(config_map("cm-99"))
    old = await client.list(ConfigMap, resource_version=then.resource_version)
    assert names(old) == names(then) and old.resource_version == then.resource_version


async def test_pages_concatenate_to_one_snapshot_despite_writes(client: Client) -> None:
    made = await make(client, 25)
    snapshot = await client.list(ConfigMap)
    first = await client.list(ConfigMap, limit=10)
    assert names(first) == made[:10]
    assert first.continue_ and first.remaining_item_count == 15
    assert first.resource_version == snapshot.resource_version
    # Writes between pages: none of them may show up in the rest of this list.
    await client.delete(ConfigMap, "cm-15")
    await client.create(config_map("cm-12a"))
    late = await client.get(ConfigMap, "cm-20")
    await client.update(evolve(late, data={"n": "changed"}))
    pages = [first]
    for _ in range(10):
        if not pages[-1].continue_:
            break
        pages.append(await client.list(ConfigMap, limit=10, continue_=pages[-1].continue_))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert pages[1].remaining_item_count == 5
    assert pages[-1].continue_ == "" and pages[-1].remaining_item_count is None
    assert {p.resource_version for p in pages} == {first.resource_version}
    combined = [o for p in pages for o in p]
    assert combined == list(snapshot.items)
    assert next(o for o in combined if o.metadata.name == "cm-20").data == {"n": "cm-20"}


async def test_a_page_that_ends_the_list_has_no_continue(client: Client) -> None:
    made = await make(client, 4)
    page = await client.list(ConfigMap, limit=4)
    assert names(page) == made and page.continue_ == ""
    bigger = await client.list(ConfigMap, limit=100)
    assert names(bigger) == made and bigger.continue_ == ""


async def test_paging_with_a_selector_counts_matching_objects(client: Client) -> None:
    for i in range(12):
        labels = {"parity": "even" if i % 2 == 0 else "odd"}
        await client.create(config_map(f"cm-{i:02d}", labels=labels))
    pages = [await client.list(ConfigMap, label_selector="parity=even", limit=4)]
    while pages[-1].continue_ and len(pages) < 10:
        token = pages[-1].continue_
        pages.append(await client.list(ConfigMap, label_selector="parity=even", continue_=token))
    assert len(pages[0]) == 4
    assert [n for p in pages for n in names(p)] == [f"cm-{i:02d}" for i in range(0, 12, 2)]


async def test_a_bad_continue_token_is_a_bad_request(client: Client) -> None:
    await make(client, 3)
    for token in ("not-base64!", "eyJ4IjoxfQ", "e30"):
        with pytest.raises(errors.InvalidArgumentError) as caught:
            await client.list(ConfigMap, limit=1, continue_=token)
        assert caught.value.code == 400
        assert "continue" in str(caught.value)


async def test_a_continue_token_past_compaction_is_gone(client: Client) -> None:
    await make(client, 5)
    first = await client.list(ConfigMap, limit=2)
    await client.create(config_map("later"))
    await client.store.compact(await revision(client.store))
    with pytest.raises(errors.GoneError) as caught:
        await client.list(ConfigMap, limit=2, continue_=first.continue_)
    assert (caught.value.reason, caught.value.code) == ("Expired", 410)
    assert str(caught.value).startswith(
        "The provided continue parameter is too old to display a consistent list result."
    )
    # A fresh list works and sees the newer object.
    assert "later" in names(await client.list(ConfigMap))


async def test_a_compacted_resource_version_is_gone(client: Client) -> None:
    await make(client, 2)
    old = await client.list(ConfigMap)
    await client.create(config_map("later"))
    await client.store.compact(await revision(client.store))
    with pytest.raises(errors.GoneError):
        await client.list(ConfigMap, resource_version=old.resource_version)


async def test_negative_limit_is_refused(client: Client) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        await client.list(ConfigMap, limit=-1)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-1", "web-2"]),
        ("app==web,tier=front", ["web-1"]),
        ("app!=web", ["db", "plain"]),
        ("app in (web,db)", ["db", "web-1", "web-2"]),
        ("app notin (web)", ["db", "plain"]),
        ("tier", ["db", "web-1"]),
        ("!tier", ["plain", "web-2"]),
        ({"app": "web", "tier": "front"}, ["web-1"]),
        ("", ["db", "plain", "web-1", "web-2"]),
    ],
)
async def test_label_selectors(client: Client, selector: Any, expected: list[str]) -> None:
    await client.create(config_map("web-1", labels={"app": "web", "tier": "front"}))
    await client.create(config_map("web-2", labels={"app": "web"}))
    await client.create(config_map("db", labels={"app": "db", "tier": "back"}))
    await client.create(config_map("plain"))
    assert names(await client.list(ConfigMap, label_selector=selector)) == expected


async def test_field_selectors(client: Client) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name="team")))
    await client.create(pod("a", node_name="node-1"))
    await client.create(pod("b", node_name="node-2"))
    await client.create(pod("c"), namespace="team")
    assert names(await client.list(Pod, field_selector="spec.nodeName=node-1")) == ["a"]
    assert names(await client.list(Pod, field_selector="spec.nodeName=")) == ["c"]
    assert names(await client.list(Pod, field_selector="metadata.name!=a")) == ["b", "c"]
    assert names(await client.list(Pod, field_selector="metadata.namespace=team")) == ["c"]
    both = await client.list(
        Pod, field_selector="status.phase=Pending,spec.nodeName=node-2", label_selector=""
    )
    assert names(both) == ["b"]


async def test_an_unsupported_field_is_a_bad_request(client: Client) -> None:
    await client.create(config_map("a"))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidArgumentError) as caught:
            await client.list(ConfigMap, field_selector="data.key=value")
    assert caught.value.code == 400
    assert 'field label not supported: "data.key"' in str(caught.value)


async def test_a_malformed_label_selector_is_a_bad_request(client: Client) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        await client.list(ConfigMap, label_selector="app in (web")
