"""RBAC: a table of who may do what, checked against kube-apiserver's rules and messages.

One world of namespaces, objects, Roles, ClusterRoles and bindings is built by the admin client
(which is never checked); each row of the table then makes one request as one user and expects
it allowed (it takes effect) or denied (Forbidden, in kube-apiserver's words, nothing written).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pytest

from kcore import errors
from kcore.api import Client, UserInfo
from kcore.objects import ObjectMeta, evolve
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_node import Node
from kcore.objects.kinds.core_pod import Pod
from kcore.objects.kinds.rbac import (
    ClusterRole,
    ClusterRoleBinding,
    PolicyRule,
    Role,
    RoleBinding,
    RoleRef,
    Subject,
)
from tests.api._support import config_map, deployment, pod, unchanged
from tests.api.conftest import ApiBackend

pytestmark = pytest.mark.anyio

CM = "configmaps"


def rule(verbs: Sequence[str], resources: Sequence[str], names: Sequence[str] = ()) -> PolicyRule:
    return PolicyRule(
        verbs=tuple(verbs),
        api_groups=("",),
        resources=tuple(resources),
        resource_names=tuple(names),
    )


def user(name: str) -> Subject:
    return Subject(kind="User", name=name)


def role_binding(name: str, ns: str, ref_kind: str, ref: str, *subjects: Subject) -> RoleBinding:
    return RoleBinding(
        metadata=ObjectMeta(name=name, namespace=ns),
        role_ref=RoleRef(kind=ref_kind, name=ref),
        subjects=subjects,
    )


async def build_world(admin: Client) -> None:
    for ns in ("team-a", "team-b"):
        await admin.create(Namespace(metadata=ObjectMeta(name=ns)))
        await admin.create(config_map("cm", {"v": "0"}), namespace=ns)
        await admin.create(config_map("other"), namespace=ns)
    await admin.create(pod("p", node_name="node-1"), namespace="team-a")
    await admin.create(Node(metadata=ObjectMeta(name="node-1")))

    def role(name: str, ns: str, *rules: PolicyRule) -> Role:
        return Role(metadata=ObjectMeta(name=name, namespace=ns), rules=rules)

    def cluster_role(name: str, *rules: PolicyRule) -> ClusterRole:
        return ClusterRole(metadata=ObjectMeta(name=name), rules=rules)

    for obj in (
        role("cm-reader", "team-a", rule(["get", "list", "watch"], [CM])),
        role("cm-writer", "team-a", rule(["create", "update", "patch", "delete"], [CM])),
        role("one-cm", "team-a", rule(["get", "update"], [CM], ["cm"])),
        role("pod-status", "team-a", rule(["update"], ["pods/status"]), rule(["get"], ["pods"])),
        role("pod-editor", "team-a", rule(["update"], ["pods"])),
        cluster_role("cm-admin", rule(["*"], [CM])),
        cluster_role("node-reader", rule(["get", "list"], ["nodes"])),
        role_binding("alice", "team-a", "Role", "cm-reader", user("alice")),
        role_binding("dave", "team-a", "Role", "one-cm", user("dave")),
        role_binding("erin", "team-a", "Role", "pod-status", user("erin")),
        role_binding("frank", "team-a", "Role", "pod-editor", user("frank")),
        role_binding("carol", "team-b", "ClusterRole", "cm-admin", user("carol")),
        role_binding(
            "robot",
            "team-a",
            "Role",
            "cm-writer",
            Subject(kind="ServiceAccount", name="robot", namespace="team-a"),
        ),
        # A RoleBinding's service account without a namespace is in the binding's namespace.
        role_binding(
            "builder",
            "team-b",
            "ClusterRole",
            "cm-admin",
            Subject(kind="ServiceAccount", name="builder"),
        ),
        role_binding("ghost", "team-a", "Role", "no-such-role", user("henry")),
        ClusterRoleBinding(
            metadata=ObjectMeta(name="bob"),
            role_ref=RoleRef(kind="ClusterRole", name="cm-admin"),
            subjects=(user("bob"),),
        ),
        ClusterRoleBinding(
            metadata=ObjectMeta(name="auditors"),
            role_ref=RoleRef(kind="ClusterRole", name="node-reader"),
            subjects=(Subject(kind="Group", name="auditors"),),
        ),
    ):
        await admin.create(obj)


@attrs.frozen
class Case:
    who: str
    verb: str
    resource: str = CM
    namespace: str | None = "team-a"
    name: str = "cm"
    subresource: str = ""
    allowed: bool = True
    groups: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        where = self.namespace or "cluster"
        sub = f"/{self.subresource}" if self.subresource else ""
        verdict = "allowed" if self.allowed else "denied"
        return f"{self.who}-{self.verb}-{self.resource}{sub}-{self.name or '*'}-{where}-{verdict}"


SA_ROBOT = "system:serviceaccount:team-a:robot"
CASES = [
    # deny by default
    Case("nobody", "get", allowed=False),
    Case("nobody", "list", "nodes", None, "", allowed=False),
    Case("nobody", "watch", name="", allowed=False),
    # Role + RoleBinding: in its namespace only, only its verbs
    *(Case("alice", v, name=n) for v, n in (("get", "cm"), ("list", ""), ("watch", ""))),
    Case("alice", "get", namespace="team-b", allowed=False),
    Case("alice", "list", namespace=None, name="", allowed=False),
    *(Case("alice", v, allowed=False) for v in ("create", "update", "patch", "delete")),
    # ClusterRole + ClusterRoleBinding: everywhere
    Case("bob", "get", namespace="team-b"),
    Case("bob", "list", namespace=None, name=""),
    Case("bob", "create", namespace="team-b", name="new"),
    Case("bob", "delete"),
    Case("bob", "get", "nodes", None, "node-1", allowed=False),
    # ClusterRole through a RoleBinding: only in the binding's namespace
    Case("carol", "update", namespace="team-b"),
    Case("carol", "patch", namespace="team-b"),
    Case("carol", "get", namespace="team-a", allowed=False),
    Case("carol", "list", namespace=None, name="", allowed=False),
    # groups
    Case("gina", "list", "nodes", None, "", groups=("auditors",)),
    Case("gina", "get", "nodes", None, "node-1", groups=("auditors",)),
    Case("gina", "get", "nodes", None, "node-1", allowed=False),
    Case("gina", "list", "nodes", None, "", groups=("auditors", "x"), allowed=True),
    # service accounts
    *(Case(SA_ROBOT, v, name="new" if v == "create" else "cm") for v in ("create", "update")),
    Case(SA_ROBOT, "delete"),
    Case(SA_ROBOT, "get", allowed=False),
    Case("system:serviceaccount:team-b:robot", "create", name="new", allowed=False),
    Case("system:serviceaccount:team-b:builder", "get", namespace="team-b"),
    Case("system:serviceaccount:team-a:builder", "get", namespace="team-b", allowed=False),
    # resourceNames: only the named object, never list or create
    Case("dave", "get"),
    Case("dave", "update"),
    Case("dave", "get", name="other", allowed=False),
    Case("dave", "list", name="", allowed=False),
    # subresources
    Case("erin", "update", "pods", name="p", subresource="status"),
    Case("erin", "update", "pods", name="p", allowed=False),
    Case("erin", "patch", "pods", name="p", subresource="status", allowed=False),
    Case("frank", "update", "pods", name="p"),
    Case("frank", "update", "pods", name="p", subresource="status", allowed=False),
    # a binding to a missing role grants nothing
    Case("henry", "get", allowed=False),
    # system:masters may do anything
    Case("root", "delete", namespace="team-b", groups=("system:masters",)),
    Case("root", "list", "nodes", None, "", groups=("system:masters",)),
]


def forbidden_message(case: Case) -> str:
    """kube-apiserver's Forbidden text for a core-group request (so plural == qualified).

    A create, list or watch is a request on the collection: it carries no object name.
    """
    resource = f"{case.resource}/{case.subresource}" if case.subresource else case.resource
    named = case.name and case.verb not in ("create", "list", "watch")
    target = f'{case.resource} "{case.name}"' if named else case.resource
    where = f'in the namespace "{case.namespace}"' if case.namespace else "at the cluster scope"
    return (
        f'{target} is forbidden: User "{case.who}" cannot {case.verb} resource "{resource}" '
        f'in API group "" {where}'
    )


async def perform(admin: Client, actor: Client, case: Case) -> None:
    ns, name = case.namespace, case.name
    if case.resource == "nodes":
        if case.verb == "get":
            await actor.get(Node, name)
        else:
            await actor.list(Node)
    elif case.resource == "pods":
        stored_pod = await admin.get(Pod, name, ns)
        if case.verb == "patch":
            await actor.patch(
                Pod, name, {"status": {"message": "x"}}, namespace=ns, subresource="status"
            )
        elif case.subresource == "status":
            await actor.update_status(evolve(stored_pod, status__message="reported"))
        else:
            await actor.update(evolve(stored_pod, metadata__labels={"edited": "yes"}))
    elif case.verb == "get":
        await actor.get(ConfigMap, name, ns)
    elif case.verb == "list":
        await actor.list(ConfigMap, ns)
    elif case.verb == "watch":
        async with actor.watch(ConfigMap, ns):
            pass
    elif case.verb == "create":
        await actor.create(config_map(name), namespace=ns)
    elif case.verb == "update":
        current = await admin.get(ConfigMap, name, ns)
        await actor.update(evolve(current, data={"v": "updated"}))
    elif case.verb == "patch":
        await actor.patch(ConfigMap, name, {"data": {"v": "patched"}}, namespace=ns)
    elif case.verb == "delete":
        await actor.delete(ConfigMap, name, ns)
    else:  # pragma: no cover - a typo in the table
        raise AssertionError(f"unknown verb {case.verb}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_rbac(api_backend: ApiBackend, case: Case) -> None:
    admin = api_backend.client(authorization=True)
    await build_world(admin)
    actor = admin.as_user(case.who, case.groups)
    if case.allowed:
        await perform(admin, actor, case)
        return
    async with unchanged(api_backend.store):
        with pytest.raises(errors.ForbiddenError) as caught:
            await perform(admin, actor, case)
    assert str(caught.value) == forbidden_message(case)
    assert (caught.value.reason, caught.value.code) == ("Forbidden", 403)


async def test_the_constructed_client_is_never_checked(api_backend: ApiBackend) -> None:
    admin = api_backend.client(authorization=True)
    await admin.create(config_map("cm"))
    await admin.list(Node)
    await admin.delete(ConfigMap, "cm")


async def test_service_account_user_info(api_backend: ApiBackend) -> None:
    admin = api_backend.client(authorization=True)
    await build_world(admin)
    sa = UserInfo.service_account("team-a", "robot")
    assert sa.name == SA_ROBOT
    assert "system:serviceaccounts:team-a" in sa.groups
    robot = admin.as_user(sa.name, sa.groups)
    created = await robot.create(config_map("by-robot"), namespace="team-a")
    assert created.metadata.namespace == "team-a"


async def test_rbac_changes_apply_to_the_next_request(api_backend: ApiBackend) -> None:
    admin = api_backend.client(authorization=True)
    await build_world(admin)
    alice = admin.as_user("alice")
    with pytest.raises(errors.ForbiddenError):
        await alice.create(config_map("late"), namespace="team-a")
    reader = await admin.get(Role, "cm-reader", "team-a")
    widened = evolve(reader, rules=(*reader.rules, rule(["create"], [CM])))
    await admin.update(widened)
    await alice.create(config_map("late"), namespace="team-a")
    await admin.delete(RoleBinding, "alice", "team-a")
    with pytest.raises(errors.ForbiddenError):
        await alice.get(ConfigMap, "late", "team-a")


async def test_without_authorization_users_are_not_checked(api_backend: ApiBackend) -> None:
    open_client = api_backend.client()
    stranger = open_client.as_user("stranger")
    await stranger.create(config_map("cm"))
    assert (await stranger.get(ConfigMap, "cm")).metadata.name == "cm"


async def test_forbidden_names_the_group_qualified_resource(api_backend: ApiBackend) -> None:
    admin = api_backend.client(authorization=True)
    await admin.create(deployment("web"))
    with pytest.raises(errors.ForbiddenError) as caught:
        await admin.as_user("nobody").get(Deployment, "web")
    assert str(caught.value) == (
        'deployments.apps "web" is forbidden: User "nobody" cannot get resource "deployments" '
        'in API group "apps" in the namespace "default"'
    )
