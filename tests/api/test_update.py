"""Update and update_status: optimistic concurrency, generation, status as a subresource.

kube-apiserver's rules: a stale ``resourceVersion`` is a Conflict, none means "whatever is
stored"; ``generation`` moves only when the desired state (not metadata, not status) changes;
``update`` keeps the stored status and ``update_status`` keeps everything but the status; an
update that changes nothing writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kcore import errors
from kcore.api import Client
from kcore.objects import evolve
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap
from tests.api._support import (
    Widget,
    WidgetStatus,
    config_map,
    deployment,
    revision,
    stored,
    unchanged,
    widget,
)

pytestmark = pytest.mark.anyio

CONFLICT = (
    'Operation cannot be fulfilled on configmaps "cm": the object has been modified; please '
    "apply your changes to the latest version and try again"
)


async def test_update_with_a_stale_resource_version_is_a_conflict(client: Client) -> None:
    first = await client.create(config_map("cm", {"v": "1"}))
    await client.update(evolve(first, data={"v": "2"}))
    async with unchanged(client.store):
        with pytest.raises(errors.ConflictError) as caught:
            await client.update(evolve(first, data={"v": "stale"}))
    assert str(caught.value) == CONFLICT
    assert (caught.value.reason, caught.value.code) == ("Conflict", 409)
    assert (await client.get(ConfigMap, "cm")).data == {"v": "2"}


async def test_update_with_the_current_resource_version_applies(client: Client) -> None:
    first = await client.create(config_map("cm", {"v": "1"}))
    second = await client.update(evolve(first, data={"v": "2"}))
    third = await client.update(evolve(second, data={"v": "3"}))
    assert int(third.metadata.resource_version) > int(second.metadata.resource_version)
    assert (await client.get(ConfigMap, "cm")) == third


async def test_update_without_resource_version_applies_to_what_is_stored(client: Client) -> None:
    first = await client.create(config_map("cm", {"v": "1"}))
    await client.update(evolve(first, data={"v": "2"}))
    blind = evolve(first, data={"v": "blind"}, metadata__resource_version="")
    result = await client.update(blind)
    assert result.data == {"v": "blind"}
    kv = await stored(client, ConfigMap, "cm")
    assert result.metadata.resource_version == str(kv.mod_revision) and kv.version == 3


async def test_update_of_a_missing_object_is_not_found(client: Client) -> None:
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError) as caught:
            await client.update(config_map("ghost", {"a": "b"}))
    assert str(caught.value) == 'configmaps "ghost" not found'


async def test_an_update_that_changes_nothing_writes_nothing(client: Client) -> None:
    created = await client.create(config_map("same", {"a": "b"}))
    async with unchanged(client.store):
        result = await client.update(created)
        blind = await client.update(evolve(created, metadata__resource_version=""))
    assert result.metadata.resource_version == created.metadata.resource_version
    assert blind.metadata.resource_version == created.metadata.resource_version


async def test_generation_moves_only_when_the_spec_changes(client: Client) -> None:
    created = await client.create(widget("w", 1))
    assert created.metadata.generation == 1
    relabeled = await client.update(
        evolve(created, metadata__labels={"tier": "x"}, metadata__annotations={"note": "y"})
    )
    assert relabeled.metadata.generation == 1
    assert relabeled.metadata.resource_version != created.metadata.resource_version
    resized = await client.update(evolve(relabeled, spec__size=2))
    assert resized.metadata.generation == 2
    with_status = await client.update_status(evolve(resized, status=WidgetStatus(phase="Ready")))
    assert with_status.metadata.generation == 2
    recolored = await client.update(evolve(with_status, spec__color="red"))
    assert recolored.metadata.generation == 3
    assert (await client.get(Widget, "w")).metadata.generation == 3


async def test_deployment_generation_ignores_labels_and_status(client: Client) -> None:
    created = await client.create(deployment("web", 1))
    assert created.metadata.generation == 1
    labeled = await client.update(evolve(created, metadata__labels={"team": "a"}))
    assert labeled.metadata.generation == 1
    scaled = await client.update(evolve(labeled, spec__replicas=3))
    assert scaled.metadata.generation == 2
    reported = await client.update_status(evolve(scaled, status__observed_generation=2))
    assert reported.metadata.generation == 2
    assert reported.status.observed_generation == 2


async def test_deployment_generation_moves_when_annotations_change(client: Client) -> None:
    created = await client.create(deployment("web", 1))
    annotated = await client.update(evolve(created, metadata__annotations={"a": "b"}))
    assert annotated.metadata.generation == 2


async def test_a_client_cannot_set_generation(client: Client) -> None:
    created = await client.create(widget("w", 1))
    forced = await client.update(evolve(created, metadata__generation=40, spec__size=5))
    assert forced.metadata.generation == 2


async def test_update_keeps_the_stored_status(client: Client) -> None:
    created = await client.create(widget("w", 1))
    ready = await client.update_status(evolve(created, status=WidgetStatus(phase="Ready")))
    changed = await client.update(
        evolve(ready, spec__size=9, status=WidgetStatus(phase="Hacked", ready=99))
    )
    assert changed.spec.size == 9
    assert changed.status == WidgetStatus(phase="Ready")
    assert (await client.get(Widget, "w")) == changed


async def test_status_submitted_on_create_is_dropped(client: Client) -> None:
    created = await client.create(evolve(widget("w", 1), status=WidgetStatus(phase="Fake")))
    assert created.status == WidgetStatus()


async def test_update_status_changes_only_the_status(client: Client) -> None:
    created = await client.create(widget("w", 1, labels={"a": "1"}))
    attempt = evolve(
        created,
        spec__size=50,
        metadata__labels={"a": "2"},
        metadata__finalizers=("example.com/x",),
        status=WidgetStatus(phase="Running", ready=3),
    )
    result = await client.update_status(attempt)
    assert result.status == WidgetStatus(phase="Running", ready=3)
    assert result.spec == created.spec
    assert result.metadata.labels == {"a": "1"} and result.metadata.finalizers == ()
    assert result.metadata.generation == 1
    assert (await client.get(Widget, "w")) == result


async def test_update_status_with_a_stale_resource_version_is_a_conflict(
    client: Client,
) -> None:
    created = await client.create(widget("w", 1))
    await client.update(evolve(created, spec__size=2))
    async with unchanged(client.store):
        with pytest.raises(errors.ConflictError) as caught:
            await client.update_status(evolve(created, status=WidgetStatus(phase="Late")))
    assert 'on widgets.example.com "w": the object has been modified' in str(caught.value)


async def test_update_status_of_a_kind_without_status_is_not_found(client: Client) -> None:
    created = await client.create(config_map("cm", {"a": "b"}))
    before = await revision(client.store)
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError) as caught:
            await client.update_status(evolve(created, data={"a": "changed"}))
    assert (caught.value.reason, caught.value.code) == ("NotFound", 404)
    assert "configmaps/status" in str(caught.value)
    assert await revision(client.store) == before


async def test_an_update_cannot_remove_a_deletion_timestamp(client: Client) -> None:
    await client.create(config_map("held", finalizers=["example.com/hold"]))
    marked = await client.delete(ConfigMap, "held")
    revived = await client.update(
        evolve(marked, metadata__deletion_timestamp=None, data={"a": "b"})
    )
    assert revived.metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    assert revived.data == {"a": "b"}


async def test_an_update_with_another_uid_is_refused(client: Client) -> None:
    created = await client.create(config_map("cm", {"a": "b"}))
    async with unchanged(client.store):
        with pytest.raises(errors.KcoreError):
            await client.update(evolve(created, metadata__uid="someone-else", data={"x": "y"}))


async def test_an_update_with_another_uid_is_a_precondition_conflict(client: Client) -> None:
    created = await client.create(config_map("cm", {"a": "b"}))
    with pytest.raises(errors.ConflictError) as caught:
        await client.update(evolve(created, metadata__uid="someone-else"))
    assert "Precondition failed: UID in precondition: someone-else" in str(caught.value)


async def test_an_update_ignores_a_changed_creation_timestamp(client: Client) -> None:
    created = await client.create(config_map("cm", {"a": "b"}))
    moved = evolve(
        created, metadata__creation_timestamp=datetime(2001, 1, 1, tzinfo=UTC), data={"a": "c"}
    )
    result = await client.update(moved)
    assert result.metadata.creation_timestamp == created.metadata.creation_timestamp
    assert result.data == {"a": "c"}


async def test_update_of_a_deployment_is_validated(client: Client) -> None:
    created = await client.create(deployment("web", 1))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidError) as caught:
            await client.update(evolve(created, spec__replicas=-1))
    assert any(c.path == "spec.replicas" for c in caught.value.causes)
    assert (await client.get(Deployment, "web")).spec.replicas == 1
