"""Create: the fields kube-apiserver sets, generateName, scope, and the namespace lifecycle rules.

Every test runs on each store backend (``client`` is parametrized) and reads the store itself
to check what the API layer claims: ``resourceVersion`` is the key's mod revision, a refused
create leaves the revision where it was.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kcore import errors
from kcore.api import Client
from kcore.objects import ObjectMeta, evolve
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_node import Node
from kcore.objects.kinds.rbac import ClusterRole
from tests.api._support import config_map, revision, stored, unchanged
from tests.api.conftest import ApiBackend

pytestmark = pytest.mark.anyio

# kube-apiserver's generated-name suffix: 5 characters, no vowels, no look-alikes.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)  # the VirtualClock's default wall time at start


def wall(client: Client) -> datetime:
    return datetime.fromtimestamp(int(client.clock.wall()), UTC)


async def test_create_assigns_uid_and_creation_timestamp_from_the_clock(
    client: Client, api_backend: ApiBackend
) -> None:
    first = await client.create(config_map("a", {"k": "v"}))
    assert uuid.UUID(first.metadata.uid).version == 4
    assert first.metadata.creation_timestamp == EPOCH == wall(client)
    await api_backend.clock.advance(90.7)
    second = await client.create(config_map("b"))
    # Kubernetes timestamps have whole seconds: 90.7 s later reads as 90 s later.
    assert second.metadata.creation_timestamp == EPOCH + timedelta(seconds=90)
    assert second.metadata.uid != first.metadata.uid
    assert (await client.get(ConfigMap, "a")) == first
    assert first.metadata.namespace == "default"
    assert first.data == {"k": "v"}


async def test_fields_the_server_owns_are_replaced_on_create(client: Client) -> None:
    forged = evolve(
        config_map("forged"),
        metadata__uid="not-a-uuid",
        metadata__creation_timestamp=datetime(1999, 1, 1, tzinfo=UTC),
        metadata__generation=7,
        metadata__deletion_timestamp=datetime(2000, 1, 1, tzinfo=UTC),
        metadata__deletion_grace_period_seconds=5,
    )
    created = await client.create(forged)
    meta = created.metadata
    assert meta.uid != "not-a-uuid" and uuid.UUID(meta.uid)
    assert meta.creation_timestamp == wall(client)
    assert meta.deletion_timestamp is None and meta.deletion_grace_period_seconds is None
    assert meta.generation == 1
    assert (await client.get(ConfigMap, "forged")) == created


async def test_create_with_a_resource_version_is_refused(client: Client) -> None:
    with_version = evolve(config_map("versioned"), metadata__resource_version="12345")
    async with unchanged(client.store):
        with pytest.raises(errors.KcoreError, match="resourceVersion should not be set"):
            await client.create(with_version)


async def test_resource_version_is_the_mod_revision_of_the_key(client: Client) -> None:
    created = await client.create(config_map("rv", {"n": "0"}))
    kv = await stored(client, ConfigMap, "rv")
    assert created.metadata.resource_version == str(kv.mod_revision)
    assert kv.mod_revision == kv.create_revision == await revision(client.store)
    updated = await client.update(evolve(created, data={"n": "1"}))
    kv = await stored(client, ConfigMap, "rv")
    assert updated.metadata.resource_version == str(kv.mod_revision)
    assert kv.mod_revision > kv.create_revision and kv.version == 2
    assert (await client.get(ConfigMap, "rv")).metadata.resource_version == str(kv.mod_revision)


async def test_stored_value_has_no_resource_version(client: Client) -> None:
    # kube-apiserver never writes metadata.resourceVersion into etcd: it is the mod revision.
    await client.create(config_map("plain", {"k": "v"}))
    kv = await stored(client, ConfigMap, "plain")
    assert b"resourceVersion" not in kv.value
    assert b'"uid"' in kv.value and b'"creationTimestamp"' in kv.value


async def test_generate_name_is_the_prefix_and_five_random_characters(client: Client) -> None:
    names = set()
    for _ in range(5):
        created = await client.create(config_map(generate_name="job-"))
        name = created.metadata.name
        assert re.fullmatch(f"job-[{SUFFIX_ALPHABET}]{{5}}", name), name
        assert created.metadata.generate_name == "job-"
        await stored(client, ConfigMap, name)  # stored under the generated name
        names.add(name)
    assert len(names) == 5


async def test_generate_name_prefix_is_cut_to_leave_room_for_the_suffix(client: Client) -> None:
    created = await client.create(config_map(generate_name="x" * 80))
    assert len(created.metadata.name) == 63
    assert created.metadata.name.startswith("x" * 58)


async def test_a_bad_generate_name_is_reported_at_generate_name(client: Client) -> None:
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidError) as caught:
            await client.create(config_map(generate_name="Bad_"))
    assert "metadata.generateName" in [c.path for c in caught.value.causes]


async def test_an_explicit_name_wins_over_generate_name(client: Client) -> None:
    created = await client.create(config_map("fixed", generate_name="gen-"))
    assert created.metadata.name == "fixed"


async def test_create_of_an_existing_name_is_already_exists(client: Client) -> None:
    await client.create(config_map("dup", {"a": "1"}))
    async with unchanged(client.store):
        with pytest.raises(errors.AlreadyExistsError) as caught:
            await client.create(config_map("dup", {"a": "2"}))
    assert str(caught.value) == 'configmaps "dup" already exists'
    assert (caught.value.reason, caught.value.code) == ("AlreadyExists", 409)
    assert (await client.get(ConfigMap, "dup")).data == {"a": "1"}


async def test_namespaced_objects_get_the_request_or_default_namespace(client: Client) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name="team")))
    in_default = await client.create(config_map("cm"))
    in_team = await client.create(config_map("cm"), namespace="team")
    from_meta = await client.create(config_map("other", namespace="team"))
    assert in_default.metadata.namespace == "default"
    assert in_team.metadata.namespace == "team" and from_meta.metadata.namespace == "team"
    assert in_default.metadata.uid != in_team.metadata.uid
    assert (await client.get(ConfigMap, "cm", "team")) == in_team
    assert (await client.get(ConfigMap, "cm")) == in_default


async def test_cluster_scoped_kinds_have_no_namespace(client: Client) -> None:
    # A namespace on a cluster-scoped object is cleared, as kube-apiserver does.
    for obj in (
        Namespace(metadata=ObjectMeta(name="scoped", namespace="default")),
        Node(metadata=ObjectMeta(name="node-1", namespace="default")),
        ClusterRole(metadata=ObjectMeta(name="reader", namespace="default")),
    ):
        created = await client.create(obj)
        assert created.metadata.namespace == ""
        again = await client.get(type(obj), obj.metadata.name, "ignored")
        assert again == created


async def test_namespace_argument_and_object_namespace_must_agree(client: Client) -> None:
    await client.create(Namespace(metadata=ObjectMeta(name="team")))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidArgumentError) as caught:
            await client.create(config_map("cm", namespace="default"), namespace="team")
    assert "does not match the namespace" in str(caught.value)
    assert caught.value.code == 400


async def test_create_in_a_missing_namespace_is_not_found(client: Client) -> None:
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError) as caught:
            await client.create(config_map("cm"), namespace="nowhere")
    assert str(caught.value) == 'namespaces "nowhere" not found'
    assert (caught.value.reason, caught.value.code) == ("NotFound", 404)


async def test_create_in_a_terminating_namespace_is_forbidden(client: Client) -> None:
    held = Namespace(metadata=ObjectMeta(name="leaving", finalizers=("example.com/hold",)))
    await client.create(held)
    await client.create(config_map("before"), namespace="leaving")
    marked = await client.delete(Namespace, "leaving")
    assert marked.metadata.deletion_timestamp == wall(client)
    async with unchanged(client.store):
        with pytest.raises(errors.ForbiddenError) as caught:
            await client.create(config_map("after"), namespace="leaving")
    assert str(caught.value) == (
        "unable to create new content in namespace leaving because it is being terminated"
    )
    assert (caught.value.reason, caught.value.code) == ("Forbidden", 403)
    # What was there before stays readable and writable.
    before = await client.get(ConfigMap, "before", "leaving")
    await client.update(evolve(before, data={"still": "here"}))


async def test_create_over_an_object_being_deleted_says_so(client: Client) -> None:
    await client.create(config_map("going", finalizers=["example.com/hold"]))
    await client.delete(ConfigMap, "going")
    with pytest.raises(errors.AlreadyExistsError) as caught:
        await client.create(config_map("going"))
    assert str(caught.value) == 'object is being deleted: configmaps "going" already exists'
