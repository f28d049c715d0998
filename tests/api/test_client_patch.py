"""Client.patch: merge and JSON patches through the API layer, on objects and their status.

The patch formats themselves are tested in ``test_patch.py``; here the question is what the API
layer does with them: a patch is an update (generation, status subresource, validation,
resourceVersion preconditions all apply), and a patch that fails writes nothing.
"""

from __future__ import annotations

import pytest

from kcore import errors
from kcore.api import Client
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap
from tests.api._support import Widget, config_map, deployment, stored, unchanged, widget

pytestmark = pytest.mark.anyio


async def test_merge_patch_on_spec(client: Client) -> None:
    created = await client.create(deployment("web", 1))
    patched = await client.patch(Deployment, "web", {"spec": {"replicas": 3}})
    assert patched.spec.replicas == 3
    assert patched.metadata.generation == created.metadata.generation + 1
    assert patched.spec.template == created.spec.template
    kv = await stored(client, Deployment, "web")
    assert patched.metadata.resource_version == str(kv.mod_revision)
    assert (await client.get(Deployment, "web")) == patched


async def test_merge_patch_null_removes_a_member(client: Client) -> None:
    await client.create(config_map("cm", {"a": "1", "b": "2"}, labels={"x": "1", "y": "2"}))
    patched = await client.patch(
        ConfigMap, "cm", {"data": {"a": None, "c": "3"}, "metadata": {"labels": {"x": None}}}
    )
    assert patched.data == {"b": "2", "c": "3"}
    assert patched.metadata.labels == {"y": "2"}


async def test_json_patch_on_spec(client: Client) -> None:
    await client.create(deployment("web", 1))
    patched = await client.patch(
        Deployment,
        "web",
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "add", "path": "/metadata/labels", "value": {"tier": "front"}},
        ],
        patch_type="json",
    )
    assert patched.spec.replicas == 5 and patched.metadata.labels == {"tier": "front"}


async def test_a_patch_body_may_be_json_text(client: Client) -> None:
    await client.create(config_map("cm", {"a": "1"}))
    patched = await client.patch(
        ConfigMap, "cm", '{"data": {"a": "2"}}', patch_type="application/merge-patch+json"
    )
    assert patched.data == {"a": "2"}


async def test_status_patch_changes_only_the_status(client: Client) -> None:
    created = await client.create(widget("w", 1))
    patched = await client.patch(
        Widget,
        "w",
        {"status": {"phase": "Ready", "ready": 2}, "spec": {"size": 40}},
        subresource="status",
    )
    assert (patched.status.phase, patched.status.ready) == ("Ready", 2)
    assert patched.spec == created.spec
    assert patched.metadata.generation == created.metadata.generation
    json_patched = await client.patch(
        Widget,
        "w",
        [{"op": "replace", "path": "/status/ready", "value": 3}],
        patch_type="json",
        subresource="status",
    )
    assert json_patched.status.ready == 3


async def test_a_main_resource_patch_leaves_the_status_alone(client: Client) -> None:
    await client.create(widget("w", 1))
    await client.patch(Widget, "w", {"status": {"phase": "Ready"}}, subresource="status")
    patched = await client.patch(Widget, "w", {"status": {"phase": "Hacked"}, "spec": {"size": 2}})
    assert patched.status.phase == "Ready" and patched.spec.size == 2


async def test_a_failing_test_operation_writes_nothing(client: Client) -> None:
    await client.create(deployment("web", 1))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidArgumentError) as caught:
            await client.patch(
                Deployment,
                "web",
                [
                    {"op": "replace", "path": "/spec/replicas", "value": 9},
                    {"op": "test", "path": "/spec/replicas", "value": 2},
                ],
                patch_type="json",
            )
    assert "test failed" in str(caught.value)
    assert (await client.get(Deployment, "web")).spec.replicas == 1


async def test_a_patch_to_a_missing_path_writes_nothing(client: Client) -> None:
    await client.create(config_map("cm", {"a": "1"}))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidArgumentError):
            await client.patch(
                ConfigMap, "cm", [{"op": "remove", "path": "/data/nope"}], patch_type="json"
            )


async def test_a_patch_that_makes_the_object_invalid_writes_nothing(client: Client) -> None:
    await client.create(deployment("web", 1))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidError) as caught:
            await client.patch(Deployment, "web", {"spec": {"replicas": -3}})
    assert caught.value.code == 422
    assert [c.path for c in caught.value.causes] == ["spec.replicas"]


async def test_a_patch_with_the_wrong_type_writes_nothing(client: Client) -> None:
    await client.create(deployment("web", 1))
    async with unchanged(client.store):
        with pytest.raises(errors.KcoreError) as caught:
            await client.patch(Deployment, "web", {"spec": {"replicas": "three"}})
    assert caught.value.code in (400, 422)


async def test_a_patch_with_a_stale_resource_version_is_a_conflict(client: Client) -> None:
    created = await client.create(config_map("cm", {"a": "1"}))
    await client.patch(ConfigMap, "cm", {"data": {"a": "2"}})
    stale = {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"a": "x"}}
    async with unchanged(client.store):
        with pytest.raises(errors.ConflictError) as caught:
            await client.patch(ConfigMap, "cm", stale)
    assert 'on configmaps "cm": the object has been modified' in str(caught.value)
    current = await client.get(ConfigMap, "cm")
    fresh = {"metadata": {"resourceVersion": current.metadata.resource_version}, "data": {"a": "y"}}
    assert (await client.patch(ConfigMap, "cm", fresh)).data == {"a": "y"}


async def test_patch_of_a_missing_object_is_not_found(client: Client) -> None:
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError):
            await client.patch(ConfigMap, "ghost", {"data": {"a": "1"}})


async def test_status_patch_of_a_kind_without_status_is_not_found(client: Client) -> None:
    await client.create(config_map("cm", {"a": "1"}))
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError):
            await client.patch(ConfigMap, "cm", {"data": {"a": "2"}}, subresource="status")
        with pytest.raises(errors.NotFoundError):
            await client.patch(ConfigMap, "cm", {"data": {"a": "2"}}, subresource="scale")


async def test_unsupported_patch_types_are_refused(client: Client) -> None:
    await client.create(config_map("cm", {"a": "1"}))
    async with unchanged(client.store):
        for patch_type in ("strategic", "apply", "xml"):
            with pytest.raises(errors.InvalidArgumentError):
                await client.patch(ConfigMap, "cm", {"data": {"a": "2"}}, patch_type=patch_type)


async def test_a_patch_cannot_rename_the_object(client: Client) -> None:
    await client.create(config_map("cm", {"a": "1"}))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidArgumentError, match="does not match the name"):
            await client.patch(ConfigMap, "cm", {"metadata": {"name": "other"}, "data": {}})
