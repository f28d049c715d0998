"""Bad input: each refusal is a Kubernetes-style error (reason, code, field paths), writes nothing.

Each row is one bad request against a store holding a few objects; the test checks the error's
class, Kubernetes status reason and HTTP code, a telling part of its message, and that the
store's revision and contents are exactly as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest

from kcore import errors
from kcore.api import Client
from kcore.objects import ObjectMeta, evolve, from_dict
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_pod import Pod
from kcore.objects.kinds.rbac import RoleBinding, RoleRef
from tests.api._support import config_map, deployment, unchanged

pytestmark = pytest.mark.anyio

Request = Callable[[Client], Awaitable[Any]]
BadArgument = errors.InvalidArgumentError


@attrs.frozen
class Bad:
    id: str
    request: Request
    error: type[errors.KcoreError]
    reason: str
    code: int
    says: str = ""  # a part of the message
    paths: tuple[str, ...] = ()  # the field paths of the causes, for Invalid


async def existing(client: Client) -> ConfigMap:
    return await client.get(ConfigMap, "cm")


async def update_existing(client: Client, **changes: Any) -> Any:
    return await client.update(evolve(await existing(client), **changes))


async def status_of_config_map(client: Client) -> Any:
    return await client.update_status(await existing(client))


def mismatched_deployment() -> Deployment:
    d = deployment("web")
    return evolve(d, spec__selector__match_labels={"app": "other"})


def podless_pod() -> Pod:
    return from_dict({"metadata": {"name": "p"}, "spec": {}}, Pod)


def bad_role_binding() -> RoleBinding:
    return RoleBinding(metadata=ObjectMeta(name="rb"), role_ref=RoleRef(kind="Pod", name="x"))


def namespace(name: str) -> Namespace:
    return Namespace(metadata=ObjectMeta(name=name))


def invalid(id_: str, request: Request, says: str = "", *paths: str) -> Bad:
    return Bad(id_, request, errors.InvalidError, "Invalid", 422, says, paths)


def bad_request(
    id_: str, request: Request, says: str = "", error: type[errors.KcoreError] = BadArgument
) -> Bad:
    return Bad(id_, request, error, "BadRequest", 400, says)


CASES = [
    invalid(
        "config-key",
        lambda c: c.create(config_map("x", {"no spaces": "v"})),
        "is invalid",
        "data[no spaces]",
    ),
    invalid("update", lambda c: update_existing(c, data={"$bad": "v"}), "", "data[$bad]"),
    invalid("selector-mismatch", lambda c: c.create(mismatched_deployment()), "selector"),
    invalid("pod-without-containers", lambda c: c.create(podless_pod()), "", "spec.containers"),
    invalid("role-ref", lambda c: c.create(bad_role_binding()), "roleRef"),
    invalid(
        "name-too-long",
        lambda c: c.create(config_map("x" * 254)),
        "no more than 253 characters",
        "metadata.name",
    ),
    invalid(
        "namespace-name-too-long",
        lambda c: c.create(namespace("n" * 64)),
        "no more than 63 characters",
        "metadata.name",
    ),
    invalid(
        "uppercase-name", lambda c: c.create(config_map("Upper")), "lowercase", "metadata.name"
    ),
    invalid(
        "no-name",
        lambda c: c.create(config_map()),
        "name or generateName is required",
        "metadata.name",
    ),
    invalid("generate-name", lambda c: c.create(config_map(generate_name="Bad_")), "Bad_"),
    invalid(
        "label-value",
        lambda c: c.create(config_map("x", labels={"a": "not valid!"})),
        "",
        "metadata.labels[a]",
    ),
    invalid(
        "update-without-name",
        lambda c: c.update(config_map("", {"a": "b"})),
        "metadata.name",
        "metadata.name",
    ),
    invalid(
        "patch-makes-it-invalid",
        lambda c: c.patch(ConfigMap, "cm", {"data": {"a b": "c"}}),
        "",
        "data[a b]",
    ),
    bad_request(
        "create-a-dict",
        lambda c: c.create({"kind": "ConfigMap"}),
        "not a registered kind",
        errors.InvalidTypeError,
    ),
    bad_request(
        "create-object-meta",
        lambda c: c.create(ObjectMeta(name="x")),
        "not a registered kind",
        errors.InvalidTypeError,
    ),
    bad_request(
        "get-a-non-kind",
        lambda c: c.get(dict, "x"),
        "not a registered kind",
        errors.InvalidTypeError,
    ),
    bad_request(
        "malformed-patch-json", lambda c: c.patch(ConfigMap, "cm", "{not json"), "malformed JSON"
    ),
    bad_request(
        "json-patch-not-a-list",
        lambda c: c.patch(ConfigMap, "cm", {"op": "add"}, patch_type="json"),
        "array of operations",
    ),
    bad_request(
        "json-patch-unknown-op",
        lambda c: c.patch(ConfigMap, "cm", [{"op": "frob", "path": "/data"}], patch_type="json"),
        "unknown op",
    ),
    bad_request(
        "json-patch-missing-path",
        lambda c: c.patch(
            ConfigMap, "cm", [{"op": "replace", "path": "/data/x", "value": "1"}], patch_type="json"
        ),
        "path not found",
    ),
    bad_request(
        "patch-replaces-the-document", lambda c: c.patch(ConfigMap, "cm", '"text"'), "not an object"
    ),
    bad_request("bad-label-selector", lambda c: c.list(ConfigMap, label_selector="a in (b")),
    bad_request(
        "bad-selector-type",
        lambda c: c.list(ConfigMap, label_selector=42),
        "",
        errors.InvalidTypeError,
    ),
    bad_request(
        "unsupported-field",
        lambda c: c.list(Pod, field_selector="spec.image=x"),
        "field label not supported",
    ),
    Bad(
        "status-of-config-map",
        status_of_config_map,
        errors.NotFoundError,
        "NotFound",
        404,
        "configmaps/status",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_bad_input_is_refused_and_writes_nothing(client: Client, case: Bad) -> None:
    await client.create(config_map("cm", {"a": "1"}))
    await client.create(deployment("existing"))
    async with unchanged(client.store):
        with pytest.raises(case.error) as caught:
            await case.request(client)
    err = caught.value
    assert (err.reason, err.code) == (case.reason, case.code), str(err)
    assert case.says in str(err)
    if case.paths:
        assert isinstance(err, errors.InvalidError)
        assert set(case.paths) <= {c.path for c in err.causes}, err.causes
    if isinstance(err, errors.InvalidError):
        assert err.causes, "an Invalid error must say which fields are wrong"
        assert all(c.reason.startswith("FieldValue") for c in err.causes)
