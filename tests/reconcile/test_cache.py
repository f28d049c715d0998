"""The informer cache: keys, reads, label-selected lists, and incrementally kept indexes.

Index maintenance is checked two ways: by hand on the cases that matter (an update that moves
an object between index values, a delete, an index added after objects are cached), and by a
property test that runs random adds, updates and deletes and compares every index with one
rebuilt from scratch from the cache's contents.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore import errors
from kcore.objects import ObjectMeta, OwnerReference, evolve, from_yaml
from kcore.objects.kinds.core_config import ConfigMap, Namespace
from kcore.objects.kinds.core_pod import Pod
from kcore.objects.labels import selector_from_set
from kcore.reconcile.cache import (
    NAMESPACE_INDEX,
    Cache,
    by_field,
    by_label,
    by_namespace,
    by_owner_uid,
    key_of,
    split_key,
)


def config_map(
    name: str,
    namespace: str = "default",
    labels: dict[str, str] | None = None,
    owners: tuple[str, ...] = (),
    rv: str = "1",
) -> ConfigMap:
    refs = tuple(OwnerReference(api_version="v1", kind="X", name=u, uid=u) for u in owners)
    meta = ObjectMeta(
        name=name,
        namespace=namespace,
        labels=labels or {},
        owner_references=refs,
        resource_version=rv,
    )
    return ConfigMap(metadata=meta)


def pod(name: str, node: str, namespace: str = "default") -> Pod:
    (obj,) = from_yaml(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{nodeName: "{node}", containers: [{{name: c, image: busybox}}]}}
"""
    )
    assert isinstance(obj, Pod)
    return obj


def test_keys_follow_namespace_slash_name() -> None:
    assert key_of(config_map("a", "ns1")) == "ns1/a"
    assert key_of(Namespace(metadata=ObjectMeta(name="ns1"))) == "ns1"
    assert split_key("ns1/a") == ("ns1", "a")
    assert split_key("ns1") == ("", "ns1")
    for bad in ("ns/", "a/b/c"):
        with pytest.raises(errors.InvalidArgumentError, match="namespace/name"):
            split_key(bad)


def test_reads_return_the_stored_objects_themselves() -> None:
    cache: Cache[Any] = Cache()
    a = config_map("a", "ns1")
    cluster = Namespace(metadata=ObjectMeta(name="ns1"))
    assert cache.upsert(a) is None
    assert cache.upsert(cluster) is None
    assert cache.get("a", "ns1") is a
    assert cache.get_by_key("ns1/a") is a
    assert cache.get("ns1") is cluster  # cluster-scoped: no namespace
    assert cache.get("a") is None  # a namespaced object needs its namespace
    assert cache.get("a", "other") is None
    assert cache.list("ns1") == [a]
    assert cache.list()[0] is a
    assert sorted(cache.keys()) == ["ns1", "ns1/a"]
    assert len(cache) == 2
    assert "ns1/a" in cache and "ns1/b" not in cache


def test_upsert_replaces_and_returns_the_old_object() -> None:
    cache: Cache[ConfigMap] = Cache()
    v1 = config_map("a", rv="1")
    v2 = evolve(v1, metadata=evolve(v1.metadata, resource_version="2"))
    cache.upsert(v1)
    assert cache.upsert(v2) is v1
    assert cache.get("a", "default") is v2
    assert len(cache) == 1
    assert cache.remove("default/a") is v2
    assert cache.remove("default/a") is None
    assert len(cache) == 0 and cache.list() == []


def test_list_by_namespace_and_label_selector_in_every_form() -> None:
    cache: Cache[ConfigMap] = Cache()
    web1 = config_map("w1", "ns1", {"app": "web", "tier": "front"})
    web2 = config_map("w2", "ns2", {"app": "web"})
    db = config_map("d1", "ns1", {"app": "db"})
    for obj in (web1, web2, db):
        cache.upsert(obj)
    assert cache.list(label_selector="app=web") == [web1, web2]
    assert cache.list(label_selector={"app": "web"}) == [web1, web2]
    assert cache.list(label_selector=selector_from_set({"app": "web"})) == [web1, web2]
    assert cache.list("ns1", label_selector="app in (web,db),tier!=front") == [db]
    assert cache.list("ns1", "") == [web1, db]
    assert cache.list("nowhere") == []
    with pytest.raises(errors.InvalidArgumentError):
        cache.list(label_selector="app in (")
    with pytest.raises(errors.InvalidTypeError):
        cache.list(label_selector=42)  # type: ignore[arg-type]


def test_built_in_indexes() -> None:
    cache: Cache[Any] = Cache(
        {
            "app": by_label("app"),
            "owner": by_owner_uid,
        }
    )
    cache.add_indexers({"ns": by_namespace})
    owned_twice = config_map("x", "ns1", {"app": "web"}, owners=("u1", "u2"))
    owned_once = config_map("y", "ns2", owners=("u1",))
    cache.upsert(owned_twice)
    cache.upsert(owned_once)
    assert cache.index_keys("owner", "u1") == ["ns1/x", "ns2/y"]
    assert cache.by_index("owner", "u2") == [owned_twice]
    assert cache.by_index("app", "web") == [owned_twice]
    assert cache.index_values("app") == ["web"]  # y has no app label: not indexed
    assert cache.by_index("ns", "ns2") == [owned_once]
    assert cache.by_index(NAMESPACE_INDEX, "ns1") == [owned_twice]


def test_an_index_function_that_raises_changes_nothing() -> None:
    def team(obj: ConfigMap) -> list[str]:
        return [obj.metadata.labels["team"]]  # KeyError without the label

    cache: Cache[ConfigMap] = Cache({"team": team})
    a = config_map("a", labels={"team": "x"})
    cache.upsert(a)
    with pytest.raises(
        errors.InvalidArgumentError, match="cache index 'team' failed on 'default/b'"
    ):
        cache.upsert(config_map("b"))
    assert "default/b" not in cache
    with pytest.raises(errors.InvalidArgumentError, match="KeyError"):
        cache.upsert(config_map("a", rv="2"))  # an update the index cannot take
    assert cache.get("a", "default") is a
    assert cache.by_index("team", "x") == [a]
    assert cache.index_keys(NAMESPACE_INDEX, "default") == ["default/a"]


def test_by_field_indexes_pods_by_node() -> None:
    cache: Cache[Pod] = Cache({"node": by_field(lambda p: p.spec.node_name)})
    a, b, c = pod("a", "n1"), pod("b", "n2"), pod("c", "")
    for obj in (a, b, c):
        cache.upsert(obj)
    assert cache.by_index("node", "n1") == [a]
    assert cache.index_values("node") == ["n1", "n2"]  # "" means not indexed
    moved = evolve(a, spec=evolve(a.spec, node_name="n2"))
    cache.upsert(moved)
    assert cache.by_index("node", "n1") == []
    assert cache.by_index("node", "n2") == [b, moved]
    assert cache.index_values("node") == ["n2"]  # no empty bucket left behind


def test_index_added_after_objects_indexes_them() -> None:
    cache: Cache[ConfigMap] = Cache()
    a = config_map("a", labels={"team": "x"})
    cache.upsert(a)
    cache.add_indexers({"team": by_label("team")})
    assert cache.by_index("team", "x") == [a]


def test_index_errors() -> None:
    cache: Cache[ConfigMap] = Cache({"team": by_label("team")})
    with pytest.raises(errors.InvalidArgumentError, match="'team' already exists"):
        cache.add_indexers({"other": by_namespace, "team": by_namespace})
    assert "other" not in cache.indexers()  # nothing of a refused call is added
    with pytest.raises(errors.InvalidArgumentError, match="'namespace' already exists"):
        cache.add_indexers({NAMESPACE_INDEX: by_namespace})
    with pytest.raises(errors.NotFoundError, match="'nope' does not exist"):
        cache.by_index("nope", "x")
    with pytest.raises(errors.InvalidTypeError, match="must be callable"):
        cache.add_indexers({"bad": "not a function"})  # type: ignore[dict-item]
    cache.add_indexers({"number": lambda obj: [1]})
    with pytest.raises(errors.InvalidTypeError, match="returned 1"):
        cache.upsert(config_map("a"))
    assert len(cache) == 0


def test_an_index_value_listed_twice_counts_once() -> None:
    cache: Cache[ConfigMap] = Cache({"twice": lambda obj: ["v", "v"]})
    a = config_map("a")
    cache.upsert(a)
    assert cache.by_index("twice", "v") == [a]
    cache.remove("default/a")
    assert cache.index_values("twice") == []


def test_clear_keeps_indexes_defined() -> None:
    cache: Cache[ConfigMap] = Cache({"team": by_label("team")})
    cache.upsert(config_map("a", labels={"team": "x"}))
    cache.clear()
    assert len(cache) == 0
    assert cache.by_index("team", "x") == []
    assert cache.index_values(NAMESPACE_INDEX) == []


# --- property: incremental indexes equal indexes rebuilt from scratch ------------------------

NAMES = st.sampled_from(["a", "b", "c", "d"])
NAMESPACES = st.sampled_from(["ns1", "ns2"])
LABELS = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]))
OWNERS = st.lists(st.sampled_from(["u1", "u2", "u3"]), max_size=3).map(tuple)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), NAMES, NAMESPACES, LABELS, OWNERS),
        st.tuples(st.just("del"), NAMES, NAMESPACES),
    ),
    max_size=40,
)


def rebuilt(cache: Cache[Any], name: str) -> dict[str, list[str]]:
    func = cache.indexers()[name]
    index: dict[str, set[str]] = {}
    for key in cache.keys():  # noqa: SIM118 (a Cache iterates nothing; keys() is the API)
        obj = cache.get_by_key(key)
        for value in func(obj):
            index.setdefault(value, set()).add(key)
    return {value: sorted(keys) for value, keys in index.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_incremental_indexes_match_a_full_rebuild(ops: list[tuple[Any, ...]]) -> None:
    cache: Cache[ConfigMap] = Cache({"app": by_label("app"), "owner": by_owner_uid})
    model: dict[str, ConfigMap] = {}
    for op in ops:
        if op[0] == "put":
            _, name, namespace, labels, owners = op
            obj = config_map(name, namespace, labels, owners)
            assert cache.upsert(obj) is model.get(f"{namespace}/{name}")
            model[f"{namespace}/{name}"] = obj
        else:
            _, name, namespace = op
            assert cache.remove(f"{namespace}/{name}") is model.pop(f"{namespace}/{name}", None)
    assert sorted(cache.keys()) == sorted(model)
    for name in ("app", "owner", NAMESPACE_INDEX):
        actual = {v: sorted(cache.index_keys(name, v)) for v in cache.index_values(name)}
        assert actual == rebuilt(cache, name)
