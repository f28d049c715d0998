"""RBAC kinds: wire shape, defaults, validation, name rule, and Kubernetes' rule matching."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.objects import (
    LabelSelector,
    LabelSelectorRequirement,
    ObjectMeta,
    apply_defaults,
    from_dict,
    info_for,
    problems_of,
    to_dict,
)
from kcore.objects.fieldsets import fields_of, selectable_fields
from kcore.objects.kinds.rbac import (
    GROUP_NAME,
    AggregationRule,
    ClusterRole,
    ClusterRoleBinding,
    PolicyRule,
    Role,
    RoleBinding,
    RoleRef,
    Subject,
    is_path_segment_name,
    rule_allows,
    rule_allows_non_resource,
)

NS = ObjectMeta(name="r", namespace="default")
CLUSTER = ObjectMeta(name="r")
REF = RoleRef(api_group=GROUP_NAME, kind="ClusterRole", name="view")


def _problems(obj: Any) -> list[tuple[str, str]]:
    return [(c.path, c.detail) for c in problems_of(obj)]


# --- registration and wire shape -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "plural", "namespaced"),
    [
        (Role, "roles", True),
        (ClusterRole, "clusterroles", False),
        (RoleBinding, "rolebindings", True),
        (ClusterRoleBinding, "clusterrolebindings", False),
    ],
)
def test_kinds_are_registered_as_kubernetes_serves_them(
    cls: type[Any], plural: str, namespaced: bool
) -> None:
    info = info_for(cls)
    assert (info.group, info.version, info.plural) == ("rbac.authorization.k8s.io", "v1", plural)
    assert info.namespaced is namespaced
    assert info.has_status is False


def test_policy_rule_wire_names() -> None:
    rule = PolicyRule(verbs=("get",), api_groups=("",), resources=("pods",), resource_names=("a",))
    assert to_dict(Role(metadata=NS, rules=(rule,)))["rules"] == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}
    ]
    urls = PolicyRule(verbs=("get",), non_resource_urls=("/healthz",))
    assert to_dict(ClusterRole(metadata=CLUSTER, rules=(urls,)))["rules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    ]


def test_role_ref_fields_are_always_written_and_empty_lists_are_not() -> None:
    # Go writes roleRef's three strings without omitempty; an empty resourceNames disappears.
    binding = to_dict(RoleBinding(metadata=NS))
    assert binding["roleRef"] == {"apiGroup": "", "kind": "", "name": ""}
    assert "subjects" not in binding
    role = from_dict(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r", "namespace": "d"},
            "rules": [
                {"verbs": ["get"], "apiGroups": [""], "resources": ["x"], "resourceNames": []}
            ],
        }
    )
    assert "resourceNames" not in to_dict(role)["rules"][0]


def test_subject_writes_kind_and_name_even_when_empty() -> None:
    encoded = to_dict(RoleBinding(metadata=NS, subjects=(Subject(),), role_ref=REF))
    assert encoded["subjects"] == [{"kind": "", "name": ""}]


def test_only_metadata_fields_are_selectable() -> None:
    assert selectable_fields(RoleBinding) == ["metadata.name", "metadata.namespace"]
    assert fields_of(Role(metadata=NS)) == {"metadata.name": "r", "metadata.namespace": "default"}


# --- defaults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "api_group", "expected"),
    [
        ("User", "", GROUP_NAME),
        ("Group", "", GROUP_NAME),
        ("ServiceAccount", "", ""),
        ("Robot", "", ""),  # unknown kinds are left for validation to refuse
        ("User", "other.example.com", "other.example.com"),  # set values are kept
    ],
)
def test_subject_api_group_defaults(kind: str, api_group: str, expected: str) -> None:
    for cls in (RoleBinding, ClusterRoleBinding):
        binding = cls(
            metadata=CLUSTER,
            subjects=(Subject(kind=kind, api_group=api_group, name="x", namespace="n"),),
            role_ref=REF,
        )
        assert apply_defaults(binding).subjects[0].api_group == expected


@pytest.mark.parametrize("cls", [RoleBinding, ClusterRoleBinding])
def test_role_ref_api_group_defaults_to_rbac(cls: type[Any]) -> None:
    binding = cls(metadata=CLUSTER, role_ref=RoleRef(kind="ClusterRole", name="view"))
    defaulted = apply_defaults(binding)
    assert defaulted.role_ref == RoleRef(api_group=GROUP_NAME, kind="ClusterRole", name="view")
    assert binding.role_ref.api_group == ""  # the input is untouched


def test_defaulting_a_defaulted_binding_returns_the_same_object() -> None:
    binding = RoleBinding(
        metadata=NS,
        subjects=(Subject(kind="User", name="jane"), Subject(kind="ServiceAccount", name="sa")),
        role_ref=RoleRef(kind="Role", name="r"),
    )
    once = apply_defaults(binding)
    assert once is not binding
    assert apply_defaults(once) is once
    # A binding with nothing to fill is returned as is.
    complete = RoleBinding(metadata=NS, role_ref=REF)
    assert apply_defaults(complete) is complete


def test_roles_have_no_defaults() -> None:
    role = Role(metadata=NS, rules=(PolicyRule(verbs=("get",)),))
    assert apply_defaults(role) is role


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("view", []),
        ("system:controller:job-controller", []),
        ("Mixed.Case_Name", []),
        (".hidden", []),
        ("...", []),
        (".", ["may not be '.'"]),
        ("..", ["may not be '..'"]),
        ("a/b", ["may not contain '/'"]),
        ("100%", ["may not contain '%'"]),
        ("%/", ["may not contain '/'", "may not contain '%'"]),
    ],
)
def test_is_path_segment_name(name: str, messages: list[str]) -> None:
    assert is_path_segment_name(name) == messages


def test_rbac_kinds_use_the_path_segment_rule_for_names() -> None:
    # A colon is not allowed in a DNS subdomain, but is in RBAC names.
    assert _problems(ClusterRole(metadata=ObjectMeta(name="system:auth-delegator"))) == []
    assert _problems(Role(metadata=ObjectMeta(name="a/b", namespace="d"))) == [
        ("metadata.name", "Invalid value: \"a/b\": may not contain '/'")
    ]
    prefixed = ObjectMeta(generate_name="Reader:", namespace="d")
    assert _problems(RoleBinding(metadata=prefixed, role_ref=REF)) == []


# --- validation ------------------------------------------------------------------------------


def _role_rule_problems(rule: PolicyRule, *, namespaced: bool) -> list[tuple[str, str]]:
    if namespaced:
        return _problems(Role(metadata=NS, rules=(rule,)))
    return _problems(ClusterRole(metadata=CLUSTER, rules=(rule,)))


@pytest.mark.parametrize("namespaced", [True, False])
@pytest.mark.parametrize(
    "rule",
    [
        PolicyRule(verbs=("get",), api_groups=("",), resources=("pods",)),
        PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",)),
        PolicyRule(verbs=("get",), api_groups=("",), resources=("pods", "pods/log")),
        # Names with several resources are allowed (the rule simply applies to each).
        PolicyRule(
            verbs=("get",), api_groups=("",), resources=("pods", "secrets"), resource_names=("a",)
        ),
    ],
)
def test_valid_resource_rules(rule: PolicyRule, namespaced: bool) -> None:
    assert _role_rule_problems(rule, namespaced=namespaced) == []


@pytest.mark.parametrize(
    ("rule", "namespaced", "expected"),
    [
        (
            PolicyRule(api_groups=("",), resources=("pods",)),
            True,
            [("rules[0].verbs", "Required value: verbs must contain at least one value")],
        ),
        (
            PolicyRule(verbs=("get",), resources=("pods",)),
            False,
            [
                (
                    "rules[0].apiGroups",
                    "Required value: resource rules must supply at least one api group",
                )
            ],
        ),
        (
            PolicyRule(verbs=("get",), api_groups=("",)),
            False,
            [
                (
                    "rules[0].resources",
                    "Required value: resource rules must supply at least one resource",
                )
            ],
        ),
        (
            PolicyRule(verbs=("get",), non_resource_urls=("/healthz",)),
            True,
            [
                (
                    "rules[0].nonResourceURLs",
                    'Invalid value: ["/healthz"]: '
                    "namespaced rules cannot apply to non-resource URLs",
                )
            ],
        ),
        (PolicyRule(verbs=("get",), non_resource_urls=("/healthz",)), False, []),
        (
            PolicyRule(verbs=("get",), resource_names=("x",), non_resource_urls=("/metrics",)),
            False,
            [
                (
                    "rules[0].nonResourceURLs",
                    'Invalid value: ["/metrics"]: rules cannot apply to both regular resources '
                    "and non-resource URLs",
                )
            ],
        ),
    ],
)
def test_rule_validation(
    rule: PolicyRule, namespaced: bool, expected: list[tuple[str, str]]
) -> None:
    assert _role_rule_problems(rule, namespaced=namespaced) == expected


def test_aggregation_rule_needs_valid_selectors() -> None:
    empty = ClusterRole(metadata=CLUSTER, aggregation_rule=AggregationRule())
    assert [p for p, _ in _problems(empty)] == ["aggregationRule.clusterRoleSelectors"]
    good = AggregationRule(
        cluster_role_selectors=(LabelSelector(match_labels={"example.com/agg": "true"}),)
    )
    assert _problems(ClusterRole(metadata=CLUSTER, aggregation_rule=good)) == []
    bad = AggregationRule(
        cluster_role_selectors=(
            LabelSelector(
                match_expressions=(LabelSelectorRequirement(key="k", operator="In", values=()),)
            ),
        )
    )
    assert _problems(ClusterRole(metadata=CLUSTER, aggregation_rule=bad)) == [
        (
            "aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        )
    ]
    by_reason = problems_of(ClusterRole(metadata=CLUSTER, aggregation_rule=bad))
    assert by_reason[0].reason == "FieldValueRequired"


def _binding_problems(
    subject: Subject, *, namespaced: bool, ref: RoleRef = REF
) -> list[tuple[str, str]]:
    if namespaced:
        return _problems(RoleBinding(metadata=NS, subjects=(subject,), role_ref=ref))
    return _problems(ClusterRoleBinding(metadata=CLUSTER, subjects=(subject,), role_ref=ref))


@pytest.mark.parametrize(
    ("subject", "namespaced", "expected"),
    [
        (Subject(kind="ServiceAccount", name="builder", namespace="ci"), False, []),
        (Subject(kind="ServiceAccount", name="builder"), True, []),
        (
            Subject(kind="ServiceAccount", name="builder"),
            False,
            [("subjects[0].namespace", "Required value")],
        ),
        (
            Subject(kind="ServiceAccount", api_group=GROUP_NAME, name="b", namespace="n"),
            True,
            [
                (
                    "subjects[0].apiGroup",
                    'Unsupported value: "rbac.authorization.k8s.io": supported values: ""',
                )
            ],
        ),
        (
            Subject(kind="ServiceAccount", name="Not_A_Name", namespace="n"),
            True,
            [("subjects[0].name", "a lowercase RFC 1123 subdomain")],
        ),
        (Subject(kind="User", name="Jane Doe <jane@example.com>"), False, []),
        (Subject(kind="User", api_group=GROUP_NAME, name="jane"), True, []),
        (Subject(kind="Group", name="system:masters"), False, []),
        (
            Subject(kind="Group", api_group="groups.example.com", name="devs"),
            True,
            [("subjects[0].apiGroup", 'Unsupported value: "groups.example.com"')],
        ),
        (
            Subject(kind="Robot", name="r2"),
            True,
            [
                (
                    "subjects[0].kind",
                    'Unsupported value: "Robot": supported values: "ServiceAccount", "User", '
                    '"Group"',
                )
            ],
        ),
        (Subject(kind="User"), True, [("subjects[0].name", "Required value")]),
    ],
)
def test_subject_validation(
    subject: Subject, namespaced: bool, expected: list[tuple[str, str]]
) -> None:
    found = _binding_problems(subject, namespaced=namespaced)
    assert len(found) == len(expected), found
    for (path, detail), (want_path, want_text) in zip(found, expected, strict=True):
        assert path == want_path and want_text in detail


@pytest.mark.parametrize(
    ("ref", "namespaced", "expected"),
    [
        (RoleRef(api_group=GROUP_NAME, kind="Role", name="r"), True, []),
        (RoleRef(kind="ClusterRole", name="view"), False, []),  # the group is defaulted
        (
            RoleRef(api_group=GROUP_NAME, kind="Role", name="r"),
            False,
            [("roleRef.kind", 'Unsupported value: "Role": supported values: "ClusterRole"')],
        ),
        (
            RoleRef(api_group="example.com", kind="Widget", name=""),
            True,
            [
                (
                    "roleRef.apiGroup",
                    'Unsupported value: "example.com": supported values: '
                    '"rbac.authorization.k8s.io"',
                ),
                (
                    "roleRef.kind",
                    'Unsupported value: "Widget": supported values: "Role", "ClusterRole"',
                ),
                ("roleRef.name", "Required value"),
            ],
        ),
        (
            RoleRef(api_group=GROUP_NAME, kind="ClusterRole", name=".."),
            False,
            [("roleRef.name", "Invalid value: \"..\": may not be '..'")],
        ),
    ],
)
def test_role_ref_validation(
    ref: RoleRef, namespaced: bool, expected: list[tuple[str, str]]
) -> None:
    cls: type[Any] = RoleBinding if namespaced else ClusterRoleBinding
    binding = cls(metadata=NS if namespaced else CLUSTER, role_ref=ref)
    assert _problems(binding) == expected


def test_defaulted_bindings_still_validate() -> None:
    binding = ClusterRoleBinding(
        metadata=CLUSTER,
        subjects=(Subject(kind="Group", name="devs"), Subject(kind="User", name="jane")),
        role_ref=RoleRef(kind="ClusterRole", name="edit"),
    )
    defaulted = apply_defaults(binding)
    assert _problems(defaulted) == []
    assert {s.api_group for s in defaulted.subjects} == {GROUP_NAME}


# --- matching --------------------------------------------------------------------------------

PODS_READER = PolicyRule(verbs=("get", "list"), api_groups=("",), resources=("pods",))


@pytest.mark.parametrize(
    ("rule", "request_", "allowed"),
    [
        # verb, group, resource, subresource, name
        (PODS_READER, ("get", "", "pods", "", "web-1"), True),
        (PODS_READER, ("list", "", "pods", "", ""), True),
        (PODS_READER, ("delete", "", "pods", "", "web-1"), False),
        (PODS_READER, ("get", "apps", "pods", "", "web-1"), False),
        (PODS_READER, ("get", "", "services", "", "x"), False),
        # A resource does not grant its subresources...
        (PODS_READER, ("get", "", "pods", "log", "web-1"), False),
        # ...they are named "resource/subresource"...
        (
            PolicyRule(verbs=("get",), api_groups=("",), resources=("pods/log",)),
            ("get", "", "pods", "log", "web-1"),
            True,
        ),
        # ...which in turn does not grant the resource itself or another subresource.
        (
            PolicyRule(verbs=("get",), api_groups=("",), resources=("pods/log",)),
            ("get", "", "pods", "", "web-1"),
            False,
        ),
        (
            PolicyRule(verbs=("get",), api_groups=("",), resources=("pods/log",)),
            ("get", "", "pods", "exec", "web-1"),
            False,
        ),
        # "*/scale": one subresource of every resource, nothing else.
        (
            PolicyRule(verbs=("update",), api_groups=("apps",), resources=("*/scale",)),
            ("update", "apps", "deployments", "scale", "web"),
            True,
        ),
        (
            PolicyRule(verbs=("update",), api_groups=("apps",), resources=("*/scale",)),
            ("update", "apps", "deployments", "", "web"),
            False,
        ),
        (
            PolicyRule(verbs=("update",), api_groups=("apps",), resources=("*/scale",)),
            ("update", "apps", "deployments", "status", "web"),
            False,
        ),
        (
            PolicyRule(verbs=("update",), api_groups=("apps",), resources=("*/scale",)),
            ("update", "apps", "deployments", "xscale", "web"),
            False,
        ),
        # "*" as a resource covers subresources too.
        (
            PolicyRule(verbs=("get",), api_groups=("",), resources=("*",)),
            ("get", "", "pods", "log", "web-1"),
            True,
        ),
        # Wildcard verbs and groups.
        (
            PolicyRule(verbs=("*",), api_groups=("*",), resources=("deployments",)),
            ("patch", "apps", "deployments", "", "web"),
            True,
        ),
        (
            PolicyRule(verbs=("*",), api_groups=("apps", "extensions"), resources=("*",)),
            ("delete", "batch", "jobs", "", "j"),
            False,
        ),
        # "" is the core group, not a wildcard.
        (
            PolicyRule(verbs=("get",), api_groups=("",), resources=("*",)),
            ("get", "apps", "deployments", "", "web"),
            False,
        ),
        # resourceNames: only those names, and never nameless requests (list, create).
        (
            PolicyRule(
                verbs=("get", "list"),
                api_groups=("",),
                resources=("configmaps",),
                resource_names=("settings",),
            ),
            ("get", "", "configmaps", "", "settings"),
            True,
        ),
        (
            PolicyRule(
                verbs=("get", "list"),
                api_groups=("",),
                resources=("configmaps",),
                resource_names=("settings",),
            ),
            ("get", "", "configmaps", "", "other"),
            False,
        ),
        (
            PolicyRule(
                verbs=("get", "list"),
                api_groups=("",),
                resources=("configmaps",),
                resource_names=("settings",),
            ),
            ("list", "", "configmaps", "", ""),
            False,
        ),
        # Matching is exact: no case folding, no prefix matching of resource names.
        (PODS_READER, ("GET", "", "pods", "", "x"), False),
        (PODS_READER, ("get", "", "pod", "", "x"), False),
        # A rule with no verbs or no groups allows nothing.
        (PolicyRule(api_groups=("*",), resources=("*",)), ("get", "", "pods", "", "x"), False),
        (PolicyRule(verbs=("*",), resources=("*",)), ("get", "", "pods", "", "x"), False),
    ],
)
def test_rule_allows(
    rule: PolicyRule, request_: tuple[str, str, str, str, str], allowed: bool
) -> None:
    verb, group, resource, subresource, name = request_
    assert rule_allows(rule, verb, group, resource, subresource, name) is allowed


def test_resource_rules_never_allow_non_resource_urls_and_back() -> None:
    everything = PolicyRule(verbs=("*",), api_groups=("*",), resources=("*",))
    assert rule_allows_non_resource(everything, "get", "/healthz") is False
    urls = PolicyRule(verbs=("*",), non_resource_urls=("*",))
    assert rule_allows(urls, "get", "", "pods", "", "x") is False


@pytest.mark.parametrize(
    ("urls", "verb", "path", "allowed"),
    [
        (("/healthz",), "get", "/healthz", True),
        (("/healthz",), "post", "/healthz", False),
        (("/healthz",), "get", "/healthz/etcd", False),
        (("/healthz",), "get", "/health", False),
        (("/healthz/*",), "get", "/healthz/etcd", True),
        (("/healthz/*",), "get", "/healthz/", True),
        (("/healthz/*",), "get", "/healthz", False),
        # The star is a plain prefix match, not a path-segment one.
        (("/api*",), "get", "/apis/apps/v1", True),
        (("/api*",), "get", "/ap", False),
        (("/logs/**",), "get", "/logs/kube.log", True),  # every trailing star is dropped
        (("*",), "get", "/anything/at/all", True),
        (("/metrics", "/version"), "get", "/version", True),
        # A star elsewhere is literal.
        (("/a/*/b",), "get", "/a/x/b", False),
        (("/a/*/b",), "get", "/a/*/b", True),
        ((), "get", "/healthz", False),
    ],
)
def test_rule_allows_non_resource(
    urls: tuple[str, ...], verb: str, path: str, allowed: bool
) -> None:
    rule = PolicyRule(verbs=("get",), non_resource_urls=urls)
    assert rule_allows_non_resource(rule, verb, path) is allowed


def test_wildcard_verb_applies_to_non_resource_urls() -> None:
    rule = PolicyRule(verbs=("*",), non_resource_urls=("/debug/*",))
    assert rule_allows_non_resource(rule, "put", "/debug/flags/v")
    assert not rule_allows_non_resource(PolicyRule(non_resource_urls=("*",)), "get", "/")
