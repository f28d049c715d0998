"""Admission: defaults, mutating plugins, validation, validating plugins — before any write.

The chain runs as kube-apiserver's: defaulting, mutating plugins in order, the kind's
validation, validating plugins. A plugin applies only to its kinds and operations; a refusal
names the plugin and its reason; a plugin that crashes refuses the request; and whatever
refuses, the store's revision does not move.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from kcore import errors
from kcore.api import AdmissionRequest, Client, Denied, Operation, UserInfo
from kcore.objects import evolve
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap, Secret
from kcore.objects.kinds.rbac import ClusterRole
from tests.api._support import (
    Widget,
    WidgetStatus,
    config_map,
    deployment,
    stored,
    unchanged,
    widget,
)

pytestmark = pytest.mark.anyio


async def test_defaults_are_applied_on_create(client: Client) -> None:
    created = await client.create(deployment("web", 2))
    strategy = created.spec.strategy
    assert strategy.type == "RollingUpdate"
    assert strategy.rolling_update is not None
    assert (strategy.rolling_update.max_surge, strategy.rolling_update.max_unavailable) == (
        "25%",
        "25%",
    )
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600
    assert b'"maxSurge":"25%"' in (await stored(client, Deployment, "web")).value


async def test_validation_failure_is_invalid_with_causes(client: Client) -> None:
    bad = config_map("settings", {"bad key": "x", "good": "y", "": "z"})
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidError) as caught:
            await client.create(bad)
    assert (caught.value.reason, caught.value.code) == ("Invalid", 422)
    assert sorted(c.path for c in caught.value.causes) == ["data[]", "data[bad key]"]
    assert all(c.reason == "FieldValueInvalid" for c in caught.value.causes)
    assert str(caught.value).startswith('ConfigMap "settings" is invalid: ')


async def test_an_invalid_message_reads_like_kube_apiservers(client: Client) -> None:
    with pytest.raises(errors.InvalidError) as caught:
        await client.create(deployment("web", -1))
    assert str(caught.value) == (
        'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0"
    )


async def test_a_mutating_plugin_changes_the_object_for_its_kind_and_operation(
    client: Client,
) -> None:
    seen: list[tuple[str, str]] = []

    def add_team_label(request: AdmissionRequest) -> Any:
        seen.append((request.operation, request.kind))
        labels = {**request.object.metadata.labels, "team": "blue"}
        return evolve(request.object, metadata__labels=labels)

    client.admission.mutating(add_team_label, kinds=[ConfigMap], operations=[Operation.CREATE])
    created = await client.create(config_map("cm", {"a": "1"}))
    assert created.metadata.labels == {"team": "blue"}
    assert (await client.get(ConfigMap, "cm")).metadata.labels == {"team": "blue"}
    updated = await client.update(evolve(created, metadata__labels={}, data={"a": "2"}))
    assert updated.metadata.labels == {}  # not an UPDATE plugin
    await client.create(Secret(metadata=config_map("s").metadata))  # not a Secret plugin
    await client.delete(ConfigMap, "cm")
    assert seen == [("CREATE", "ConfigMap")]


async def test_mutating_plugins_run_in_order_and_see_each_others_work(client: Client) -> None:
    def first(request: AdmissionRequest) -> Any:
        return evolve(request.object, data={**request.object.data, "order": "first"})

    def second(request: AdmissionRequest) -> Any:
        assert request.object.data["order"] == "first"
        return evolve(request.object, data={**request.object.data, "order": "first,second"})

    def nothing(request: AdmissionRequest) -> None:
        return None  # "no change"

    client.admission.mutating(first)
    client.admission.mutating(nothing)
    client.admission.mutating(second)
    created = await client.create(config_map("cm"))
    assert created.data == {"order": "first,second"}


async def test_a_mutation_is_validated_like_the_callers_object(client: Client) -> None:
    def breaks_it(request: AdmissionRequest) -> Any:
        return evolve(request.object, spec__size=-1)

    client.admission.mutating(breaks_it, kinds=[Widget])
    async with unchanged(client.store):
        with pytest.raises(errors.InvalidError) as caught:
            await client.create(widget("w", 3))
    assert [c.path for c in caught.value.causes] == ["spec.size"]


async def test_a_mutating_plugin_must_return_the_same_kind(client: Client) -> None:
    client.admission.mutating(lambda request: ClusterRole(), kinds=[ConfigMap], name="wrong-kind")
    async with unchanged(client.store):
        with pytest.raises(errors.KcoreError) as caught:
            await client.create(config_map("cm"))
    assert 'admission plugin "wrong-kind"' in str(caught.value)
    assert "ClusterRole" in str(caught.value)


async def test_a_validating_plugin_denies_with_its_reason(client: Client) -> None:
    def no_production(request: AdmissionRequest) -> None:
        if request.object.metadata.labels.get("env") == "prod":
            raise Denied("production config is managed elsewhere")

    client.admission.validating(no_production, kinds=[ConfigMap], name="no-prod")
    await client.create(config_map("dev", labels={"env": "dev"}))
    async with unchanged(client.store):
        with pytest.raises(errors.ForbiddenError) as caught:
            await client.create(config_map("prod", labels={"env": "prod"}))
    assert str(caught.value) == (
        'admission plugin "no-prod" denied the request: production config is managed elsewhere'
    )
    assert (caught.value.reason, caught.value.code) == ("Forbidden", 403)
    with pytest.raises(errors.NotFoundError):
        await client.get(ConfigMap, "prod")


async def test_a_validating_plugin_sees_the_defaulted_and_mutated_object(client: Client) -> None:
    seen: list[Any] = []
    client.admission.mutating(
        lambda r: evolve(r.object, metadata__annotations={"mutated": "yes"}), kinds=[Deployment]
    )
    client.admission.validating(seen.append, kinds=[Deployment])
    await client.create(deployment("web"))
    (request,) = seen
    assert request.object.metadata.annotations == {"mutated": "yes"}
    assert request.object.spec.strategy.type == "RollingUpdate"
    assert request.object.metadata.uid  # server fields are set before admission


async def test_a_validating_plugin_can_refuse_a_delete(client: Client) -> None:
    def keep(request: AdmissionRequest) -> None:
        assert request.object is None and request.old_object.metadata.name == "precious"
        raise Denied("this one stays")

    client.admission.validating(keep, kinds=[ConfigMap], operations=["DELETE"], name="keeper")
    await client.create(config_map("precious"))
    async with unchanged(client.store):
        with pytest.raises(errors.ForbiddenError, match='"keeper" denied the request: this one'):
            await client.delete(ConfigMap, "precious")


async def test_plugins_for_other_kinds_and_operations_are_not_called(client: Client) -> None:
    calls: list[str] = []
    client.admission.mutating(lambda r: calls.append("secret-mutate"), kinds=[Secret])
    client.admission.validating(lambda r: calls.append("secret-validate"), kinds=[Secret])
    client.admission.validating(
        lambda r: calls.append("cm-delete"), kinds=[ConfigMap], operations=["DELETE"]
    )
    client.admission.validating(
        lambda r: calls.append(f"cm-{r.operation.lower()}"),
        kinds=[ConfigMap],
        operations=["CREATE", "UPDATE"],
    )
    created = await client.create(config_map("cm"))
    await client.update(evolve(created, data={"a": "b"}))
    await client.delete(ConfigMap, "cm")
    await client.create(deployment("web"))
    assert calls == ["cm-create", "cm-update", "cm-delete"]


async def test_async_plugins_work(client: Client) -> None:
    async def mutate(request: AdmissionRequest) -> Any:
        await anyio.sleep(0)
        return evolve(request.object, data={"async": "yes"})

    async def validate(request: AdmissionRequest) -> None:
        await anyio.sleep(0)
        if request.name == "refused":
            raise Denied("async says no")

    client.admission.mutating(mutate, kinds=[ConfigMap])
    client.admission.validating(validate, kinds=[ConfigMap], name="async-check")
    assert (await client.create(config_map("cm"))).data == {"async": "yes"}
    async with unchanged(client.store):
        with pytest.raises(errors.ForbiddenError, match="async says no"):
            await client.create(config_map("refused"))


@pytest.mark.parametrize("stage", ["mutating", "validating"])
async def test_a_crashing_plugin_refuses_the_request(client: Client, stage: str) -> None:
    def buggy(request: AdmissionRequest) -> Any:
        raise RuntimeError("kaput")

    getattr(client.admission, stage)(buggy, kinds=[ConfigMap], name="buggy")
    async with unchanged(client.store):
        with pytest.raises(errors.KcoreError) as caught:
            await client.create(config_map("cm"))
    assert str(caught.value) == 'admission plugin "buggy" failed: RuntimeError: kaput'
    assert isinstance(caught.value.__cause__, RuntimeError)


async def test_the_request_describes_the_operation(client: Client) -> None:
    requests: list[AdmissionRequest] = []
    client.admission.validating(requests.append, kinds=[Widget])
    created = await client.create(widget("w"))
    await client.update_status(evolve(created, status=WidgetStatus(phase="Ready")))
    await client.as_user("alice", ["dev"]).delete(Widget, "w")
    create, status, delete = requests
    assert (create.operation, create.kind, create.namespace, create.name) == (
        Operation.CREATE,
        "Widget",
        "default",
        "w",
    )
    assert create.old_object is None and create.subresource == "" and create.user is None
    assert status.operation == Operation.UPDATE and status.subresource == "status"
    assert status.old_object.status == WidgetStatus()
    assert status.object.status == WidgetStatus(phase="Ready")
    assert delete.operation == Operation.DELETE and delete.object is None
    assert delete.user == UserInfo("alice", ("dev",))
