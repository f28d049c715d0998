"""Delete: preconditions, finalizers and deletionTimestamp, propagation policy, graceful Pods.

kube-apiserver deletes an object at once unless something must happen first: finalizers (the
object is marked with ``deletionTimestamp`` and stays until the last one is removed) or a
graceful Pod deletion (a Pod bound to a node is marked ``now + grace`` and stays until the
kubelet deletes it with grace 0).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kcore import errors
from kcore.api import Client, object_key
from kcore.objects import ObjectMeta, evolve, info_for
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_pod import Pod
from tests.api._support import Widget, config_map, pod, unchanged, widget
from tests.api.conftest import ApiBackend

pytestmark = pytest.mark.anyio

HOLD = "example.com/hold"


def now(client: Client) -> datetime:
    return datetime.fromtimestamp(int(client.clock.wall()), UTC)


async def gone(client: Client, cls: type[object], name: str, namespace: str = "default") -> bool:
    """True when the object is gone from the API and from the store."""
    try:
        await client.get(cls, name, namespace)
    except errors.NotFoundError:
        info = info_for(cls)
        key = object_key(info, namespace if info.namespaced else "", name)
        return not (await client.store.range(key)).kvs
    return False


async def test_delete_removes_the_object_and_returns_its_last_state(client: Client) -> None:
    created = await client.create(config_map("cm", {"a": "b"}))
    deleted = await client.delete(ConfigMap, "cm")
    assert deleted.data == {"a": "b"} and deleted.metadata.uid == created.metadata.uid
    assert await gone(client, ConfigMap, "cm")
    with pytest.raises(errors.NotFoundError) as caught:
        await client.get(ConfigMap, "cm")
    assert str(caught.value) == 'configmaps "cm" not found'


async def test_delete_of_a_missing_object_is_not_found(client: Client) -> None:
    async with unchanged(client.store):
        with pytest.raises(errors.NotFoundError):
            await client.delete(ConfigMap, "ghost")


async def test_delete_preconditions(client: Client) -> None:
    created = await client.create(config_map("cm"))
    rv, uid = created.metadata.resource_version, created.metadata.uid
    async with unchanged(client.store):
        with pytest.raises(errors.ConflictError) as by_uid:
            await client.delete(ConfigMap, "cm", uid="0000")
        with pytest.raises(errors.ConflictError) as by_rv:
            await client.delete(ConfigMap, "cm", resource_version=str(int(rv) - 1))
    assert str(by_uid.value) == (
        'Operation cannot be fulfilled on configmaps "cm": Precondition failed: UID in '
        f"precondition: 0000, UID in object meta: {uid}"
    )
    assert str(by_rv.value) == (
        'Operation cannot be fulfilled on configmaps "cm": Precondition failed: '
        f"ResourceVersion in precondition: {int(rv) - 1}, ResourceVersion in object meta: {rv}"
    )
    await client.delete(ConfigMap, "cm", uid=uid, resource_version=rv)
    assert await gone(client, ConfigMap, "cm")


async def test_finalizers_hold_a_deleted_object_until_the_last_is_removed(
    client: Client,
) -> None:
    created = await client.create(evolve(widget("w"), metadata__finalizers=(HOLD, "b.io/x")))
    marked = await client.delete(Widget, "w")
    assert marked.metadata.deletion_timestamp == now(client)
    assert marked.metadata.deletion_grace_period_seconds == 0
    assert marked.metadata.generation == created.metadata.generation + 1
    assert (await client.get(Widget, "w")) == marked
    # Deleting again changes nothing.
    async with unchanged(client.store):
        again = await client.delete(Widget, "w")
    assert again == marked
    # Other changes are still allowed; the deletion mark stays.
    edited = await client.update(evolve(marked, metadata__finalizers=("b.io/x",)))
    assert edited.metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    assert not await gone(client, Widget, "w")
    await client.update(evolve(edited, metadata__finalizers=()))
    assert await gone(client, Widget, "w")


async def test_a_finalizer_cannot_be_added_while_deleting(client: Client) -> None:
    await client.create(config_map("cm", finalizers=[HOLD]))
    marked = await client.delete(ConfigMap, "cm")
    async with unchanged(client.store):
        with pytest.raises(errors.KcoreError) as caught:
            await client.update(evolve(marked, metadata__finalizers=(HOLD, "b.io/late")))
    assert "no new finalizers can be added" in str(caught.value)
    assert "b.io/late" in str(caught.value)


async def test_a_finalizer_added_while_deleting_is_an_invalid_field(client: Client) -> None:
    await client.create(config_map("cm", finalizers=[HOLD]))
    marked = await client.delete(ConfigMap, "cm")
    with pytest.raises(errors.InvalidError) as caught:
        await client.update(evolve(marked, metadata__finalizers=(HOLD, "b.io/late")))
    assert [(c.path, c.reason) for c in caught.value.causes] == [
        ("metadata.finalizers", "FieldValueForbidden")
    ]


@pytest.mark.parametrize(
    ("policy", "finalizer"), [("Orphan", "orphan"), ("Foreground", "foregroundDeletion")]
)
async def test_propagation_policy_adds_the_garbage_collector_finalizer(
    client: Client, policy: str, finalizer: str
) -> None:
    await client.create(config_map("cm"))
    marked = await client.delete(ConfigMap, "cm", propagation_policy=policy)
    assert marked.metadata.finalizers == (finalizer,)
    assert marked.metadata.deletion_timestamp == now(client)
    assert (await client.get(ConfigMap, "cm")).metadata.finalizers == (finalizer,)
    await client.update(evolve(marked, metadata__finalizers=()))
    assert await gone(client, ConfigMap, "cm")


async def test_background_policy_drops_the_orphan_finalizer_and_deletes(client: Client) -> None:
    await client.create(config_map("cm"))
    await client.delete(ConfigMap, "cm", propagation_policy="Orphan")
    await client.delete(ConfigMap, "cm", propagation_policy="Background")
    assert await gone(client, ConfigMap, "cm")


async def test_background_policy_keeps_other_finalizers(client: Client) -> None:
    await client.create(config_map("cm", finalizers=[HOLD]))
    marked = await client.delete(ConfigMap, "cm", propagation_policy="Background")
    assert marked.metadata.finalizers == (HOLD,)


async def test_unknown_propagation_policy_is_refused(client: Client) -> None:
    await client.create(config_map("cm"))
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidArgumentError):
            await client.delete(ConfigMap, "cm", propagation_policy="Sideways")
        with pytest.raises(errors.InvalidArgumentError):
            await client.delete(ConfigMap, "cm", grace_period_seconds=-1)


async def test_a_pod_on_a_node_is_deleted_gracefully(client: Client) -> None:
    await client.create(pod("web", node_name="node-1"))
    marked = await client.delete(Pod, "web")
    # The grace period is the Pod's terminationGracePeriodSeconds, 30 by default.
    assert marked.metadata.deletion_grace_period_seconds == 30
    assert marked.metadata.deletion_timestamp == now(client) + timedelta(seconds=30)
    assert (await client.get(Pod, "web")).metadata.deletion_timestamp is not None
    await client.delete(Pod, "web", grace_period_seconds=0)
    assert await gone(client, Pod, "web")


async def test_the_request_or_the_pod_sets_the_grace_period(client: Client) -> None:
    await client.create(pod("short", node_name="node-1", grace=10))
    await client.create(pod("asked", node_name="node-1"))
    short = await client.delete(Pod, "short")
    asked = await client.delete(Pod, "asked", grace_period_seconds=5)
    assert short.metadata.deletion_timestamp == now(client) + timedelta(seconds=10)
    assert asked.metadata.deletion_timestamp == now(client) + timedelta(seconds=5)
    assert asked.metadata.deletion_grace_period_seconds == 5


async def test_an_unscheduled_or_finished_pod_is_deleted_at_once(client: Client) -> None:
    await client.create(pod("pending"))
    await client.delete(Pod, "pending")
    assert await gone(client, Pod, "pending")
    done = await client.create(pod("done", node_name="node-1"))
    await client.update_status(evolve(done, status__phase="Succeeded"))
    await client.delete(Pod, "done")
    assert await gone(client, Pod, "done")


async def test_a_graceful_deletion_can_only_be_shortened(
    client: Client, api_backend: ApiBackend
) -> None:
    await client.create(pod("web", node_name="node-1"))
    marked = await client.delete(Pod, "web")
    await api_backend.clock.advance(2)
    async with unchanged(client.store):
        longer = await client.delete(Pod, "web", grace_period_seconds=60)
    assert longer.metadata.deletion_timestamp == marked.metadata.deletion_timestamp
    shorter = await client.delete(Pod, "web", grace_period_seconds=5)
    assert shorter.metadata.deletion_grace_period_seconds == 5
    first, second = marked.metadata.deletion_timestamp, shorter.metadata.deletion_timestamp
    assert first is not None and second is not None and second < first


async def test_a_shortened_grace_period_counts_from_the_first_request(
    client: Client, api_backend: ApiBackend
) -> None:
    await client.create(pod("web", node_name="node-1"))
    first_request = now(client)
    await client.delete(Pod, "web")
    await api_backend.clock.advance(2)
    shorter = await client.delete(Pod, "web", grace_period_seconds=5)
    assert shorter.metadata.deletion_timestamp == first_request + timedelta(seconds=5)


async def test_a_terminating_pod_survives_its_status_updates(client: Client) -> None:
    await client.create(pod("web", node_name="node-1"))
    marked = await client.delete(Pod, "web")
    reported = await client.update_status(evolve(marked, status__phase="Running"))
    assert reported.status.phase == "Running"
    assert (await client.get(Pod, "web")).metadata.deletion_timestamp is not None


async def test_namespace_delete_waits_for_spec_finalizers(client: Client) -> None:
    ns = Namespace(metadata=ObjectMeta(name="team"))
    await client.create(evolve(ns, spec__finalizers=("kubernetes",)))
    marked = await client.delete(Namespace, "team")
    assert marked.status.phase == "Terminating"
    assert marked.metadata.deletion_timestamp == now(client)
    assert (await client.get(Namespace, "team")).status.phase == "Terminating"
