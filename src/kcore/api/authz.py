"""RBAC authorization over the Roles and bindings stored in the cluster, deny by default.

A request (user, groups, verb, resource, subresource, namespace, name) is allowed when some
ClusterRoleBinding, or some RoleBinding in the request's namespace, names the user, one of its
groups or its service account, and the role it refers to has a rule allowing the request (rule
matching is ``kcore.objects.kinds.rbac.rule_allows``, Kubernetes' own). The group
``system:masters`` is always allowed, as in kube-apiserver. A refusal says who, which verb,
which resource and which namespace, in kube-apiserver's words.

Bindings and roles are read through the API layer on every check: always current, and simple;
a cached evaluator fed by informers can replace this when it shows up in profiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kcore import errors
from kcore.api._stored import qualified
from kcore.api.types import UserInfo
from kcore.objects import KindInfo

if TYPE_CHECKING:
    from kcore.api.client import Client

__all__ = ["Authorizer", "subject_matches"]

SUPERUSER_GROUP = "system:masters"
RBAC_GROUP = "rbac.authorization.k8s.io"


def subject_matches(subject: Any, user: UserInfo, binding_namespace: str) -> bool:
    if subject.kind == "User":
        return bool(subject.name == user.name)
    if subject.kind == "Group":
        return subject.name in user.groups
    if subject.kind == "ServiceAccount":
        namespace = subject.namespace or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{subject.name}"
    return False


class Authorizer:
    """Decides requests of ``as_user`` clients from the RBAC objects ``client`` can read."""

    def __init__(self, client: Client) -> None:
        self._admin = client  # the constructing client: unrestricted, user None

    async def authorize(
        self,
        user: UserInfo,
        verb: str,
        info: KindInfo,
        namespace: str,
        name: str = "",
        subresource: str = "",
    ) -> None:
        if SUPERUSER_GROUP in user.groups:
            return
        if await self.allowed(user, verb, info.group, info.plural, subresource, namespace, name):
            return
        resource = f"{info.plural}/{subresource}" if subresource else info.plural
        target = f'{qualified(info)} "{name}"' if name else qualified(info)
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        raise errors.ForbiddenError(
            f'{target} is forbidden: User "{user.name}" cannot {verb} resource "{resource}" '
            f'in API group "{info.group}" {where}'
        )

    async def allowed(
        self,
        user: UserInfo,
        verb: str,
        group: str,
        resource: str,
        subresource: str,
        namespace: str,
        name: str,
    ) -> bool:
        from kcore.objects.kinds.rbac import (
            ClusterRole,
            ClusterRoleBinding,
            Role,
            RoleBinding,
            rule_allows,
        )

        admin = self._admin

        async def rules_of(ref: Any, binding_namespace: str) -> list[Any]:
            try:
                if ref.kind == "ClusterRole":
                    return list((await admin.get(ClusterRole, ref.name)).rules)
                if ref.kind == "Role" and binding_namespace:
                    return list((await admin.get(Role, ref.name, binding_namespace)).rules)
            except errors.NotFoundError:
                return []  # a binding to a missing role grants nothing
            return []

        def grants(rules: list[Any]) -> bool:
            return any(
                rule_allows(rule, verb, group, resource, subresource, name) for rule in rules
            )

        for cluster_binding in await admin.list(ClusterRoleBinding):
            if any(subject_matches(s, user, "") for s in cluster_binding.subjects) and grants(
                await rules_of(cluster_binding.role_ref, "")
            ):
                return True
        if not namespace:
            return False
        for binding in await admin.list(RoleBinding, namespace):
            if any(subject_matches(s, user, namespace) for s in binding.subjects) and grants(
                await rules_of(binding.role_ref, namespace)
            ):
                return True
        return False
