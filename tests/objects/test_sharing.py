"""Sharing decode (``share=True``): equal parts become one object, and nothing else changes.

What it must keep: the same equality, the same dicts and JSON (key order included), the same
errors, private objects when ``share`` is off, and no object kept alive by a sharing table.
"""

from __future__ import annotations

import copy
import gc
import json
import weakref
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore import errors
from kcore.api import _stored
from kcore.objects import (
    FrozenDict,
    _share,
    all_kinds,
    from_dict,
    from_json,
    from_yaml,
    info_for,
    struct,
    to_dict,
    to_json,
)
from kcore.objects.kinds.core_pod import Pod
from kcore.objects.kinds.core_service import Service
from kcore.store import KeyValue
from tests.objects.strategies import structs

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "uid": "uid-1",
        "creationTimestamp": "2024-05-01T12:00:00Z",
        "labels": {"app": "web", "tier": "frontend"},
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-1"}
        ],
    },
    "spec": {
        "containers": [
            {
                "name": "web",
                "image": "registry.example.com/web:1.2",
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "MODE", "value": "production"}],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
        "nodeName": "node-1",
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.1",
        "startTime": "2024-05-01T12:00:01Z",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T12:00:09Z"}
        ],
    },
}


@pytest.fixture(autouse=True)
def _fresh_hit_rates() -> None:
    # Which parts get shared depends on each class's recent hit rate (a class seldom found
    # shared enters few new objects); tests that assert identity start from a clean slate.
    _share.forget_hit_rates()


@pytest.fixture(params=["hashed", "colliding"])
def hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test twice: as is, and with every sharing hash equal (freshly compiled decoders),
    so each lookup finds a candidate and only the field-by-field check can refuse it."""
    if request.param == "colliding":
        monkeypatch.setattr(_share, "_shared_decoders", {})
        monkeypatch.setattr(_share, "_tables", dict(_share._tables))
        monkeypatch.setattr(_share, "_hit_rates", [])
        monkeypatch.setitem(_share._RUNTIME, "hash", lambda value: 0)
        monkeypatch.setattr(_share, "hash", lambda value: 0, raising=False)
    return str(request.param)


def pod_doc(number: int, **spec: Any) -> dict[str, Any]:
    """POD with its own name, uid, IP and start time (as Pods of one ReplicaSet differ)."""
    doc = copy.deepcopy(POD)
    doc["metadata"].update(name=f"web-{number}", uid=f"uid-{number}")
    doc["status"].update(podIP=f"10.0.{number // 200}.{number % 200}")
    doc["status"]["startTime"] = f"2024-05-01T12:{number // 60 % 60:02d}:{number % 60:02d}Z"
    doc["spec"].update(spec)
    return doc


def test_alike_pods_share_their_parts_but_not_their_identity() -> None:
    one = from_dict(pod_doc(1), share=True)
    two = from_dict(pod_doc(2), share=True)
    assert one.spec is two.spec
    assert one.spec.containers[0] is two.spec.containers[0]
    assert one.spec.volumes is two.spec.volumes
    assert one.metadata.labels is two.metadata.labels
    assert isinstance(two.metadata.labels, FrozenDict)
    with pytest.raises(TypeError):
        two.metadata.labels["app"] = "db"
    assert one.metadata.owner_references[0] is two.metadata.owner_references[0]
    assert one.status.conditions[0] is two.status.conditions[0]
    assert one.metadata.creation_timestamp is two.metadata.creation_timestamp
    assert one.metadata is not two.metadata and one.status is not two.status
    assert (one.metadata.name, two.metadata.name) == ("web-1", "web-2")
    assert (one.metadata.uid, two.metadata.uid) == ("uid-1", "uid-2")
    assert one.status.pod_ip != two.status.pod_ip
    assert one.status.start_time != two.status.start_time


def test_a_changed_part_is_private_and_the_rest_still_shared(hashing: str) -> None:
    one = from_dict(pod_doc(1), share=True)
    changed = copy.deepcopy(POD["spec"]["containers"])
    changed[0]["image"] = "registry.example.com/web:1.3"
    two = from_dict(pod_doc(2, containers=changed), share=True)
    assert two.spec is not one.spec
    assert two.spec.containers[0].image == "registry.example.com/web:1.3"
    assert one.spec.containers[0].image == "registry.example.com/web:1.2"
    # Lists are shared through their owner; in a new owner, their items still are.
    assert two.spec.volumes is not one.spec.volumes
    assert two.spec.volumes[0] is one.spec.volumes[0]
    assert two.spec.containers[0].ports[0] is one.spec.containers[0].ports[0]
    assert two.spec.containers[0].resources is one.spec.containers[0].resources


def test_strings_of_private_parts_are_interned() -> None:
    one = from_dict(pod_doc(1), share=True)
    two = from_dict(pod_doc(2), share=True)
    assert one.metadata.namespace is two.metadata.namespace
    assert one.status.phase is two.status.phase


def test_sharing_is_off_by_default() -> None:
    one = from_dict(pod_doc(1))
    two = from_dict(pod_doc(2))
    assert one.spec == two.spec and one.spec is not two.spec
    assert one.metadata.labels is not two.metadata.labels
    assert type(one.metadata.labels) is FrozenDict


def test_shared_objects_equal_and_encode_as_unshared_ones(hashing: str) -> None:
    images = ["web:1", "web:2", "web:1"]
    for number in range(3):
        doc = pod_doc(number, containers=[{"name": "web", "image": images[number]}])
        shared, private = from_dict(doc, share=True), from_dict(doc)
        assert shared == private
        assert to_dict(shared) == to_dict(private) == _normal(doc)
        assert to_json(shared) == to_json(private)


def _normal(doc: dict[str, Any]) -> dict[str, Any]:
    # Quantities and timestamps are written in their canonical form; POD uses those already.
    normal: dict[str, Any] = json.loads(json.dumps(doc))
    return normal


def test_map_order_is_kept_and_equal_maps_in_another_order_are_not_shared(hashing: str) -> None:
    one = from_dict(pod_doc(1), share=True)
    reordered = pod_doc(2)
    reordered["metadata"]["labels"] = {"tier": "frontend", "app": "web"}
    two = from_dict(reordered, share=True)
    assert one.metadata.labels == two.metadata.labels
    assert one.metadata.labels is not two.metadata.labels
    assert list(to_dict(two)["metadata"]["labels"]) == ["tier", "app"]
    assert list(to_dict(one)["metadata"]["labels"]) == ["app", "tier"]


def test_a_spelled_out_empty_struct_is_not_shared_with_the_default(hashing: str) -> None:
    spelled = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
    spelled["status"] = {"loadBalancer": {}}
    absent = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}, "status": {}}
    for first, second in ((spelled, absent), (absent, spelled)):
        decoded = [from_dict(doc, Service, share=True) for doc in (first, second)]
        for doc, obj in zip((first, second), decoded, strict=True):
            assert to_dict(obj) == doc


def test_unknown_fields_keep_an_object_private(hashing: str) -> None:
    plain = {"name": "web", "image": "nginx"}
    extra = {"name": "web", "image": "nginx", "futureField": {"x": 1}}
    docs = [pod_doc(1, containers=[plain]), pod_doc(2, containers=[extra])]
    one, two = (from_dict(doc, strict=False, share=True) for doc in docs)
    assert one.spec.containers[0] == two.spec.containers[0]  # unknown fields are not compared
    assert one.spec.containers[0] is not two.spec.containers[0]
    assert "futureField" not in to_dict(one)["spec"]["containers"][0]
    assert to_dict(two)["spec"]["containers"][0]["futureField"] == {"x": 1}
    again = from_dict(docs[1], strict=False, share=True)
    assert to_dict(again) == to_dict(two)


def test_timestamps_in_another_offset_keep_their_offset(hashing: str) -> None:
    utc = pod_doc(1)
    utc["status"]["conditions"][0]["lastTransitionTime"] = "2024-05-01T12:00:09Z"
    offset = pod_doc(2)
    offset["status"]["conditions"][0]["lastTransitionTime"] = "2024-05-01T14:00:09+02:00"
    one, two = (from_dict(doc, share=True) for doc in (utc, offset))
    first, second = one.status.conditions[0], two.status.conditions[0]
    assert first == second and first is not second
    assert first.last_transition_time.utcoffset() == timedelta(0)
    assert second.last_transition_time.utcoffset() == timedelta(hours=2)


@struct
class Counts:
    values: Mapping[str, int] = {}


@struct
class Flags:
    values: Mapping[str, bool] = {}


@struct
class Ratio:
    value: float = 0.0
    label: str = ""


def test_equal_values_of_another_type_are_never_substituted(hashing: str) -> None:
    counts = from_dict({"values": {"a": 1}}, Counts, share=True)
    flags = from_dict({"values": {"a": True}}, Flags, share=True)
    assert to_json(counts) == '{"values":{"a":1}}'
    assert to_json(flags) == '{"values":{"a":true}}'
    whole = from_dict({"value": 1, "label": "x"}, Ratio, share=True)
    fraction = from_dict({"value": 1.0, "label": "x"}, Ratio, share=True)
    assert to_json(whole) == '{"value":1,"label":"x"}'
    assert to_json(fraction) == '{"value":1.0,"label":"x"}'


def test_errors_are_the_same_with_and_without_sharing() -> None:
    bad = pod_doc(1)
    bad["metadata"]["labels"] = {"app": 3, "tier": "frontend"}
    bad["metadata"]["annotations"] = {1: "one", 2: ["two"]}  # YAML reads `1:` as a number
    bad["spec"]["containers"][0]["ports"] = [{"containerPort": "x"}]
    bad["status"]["startTime"] = "yesterday"
    bad["spec"]["surprise"] = True
    with pytest.raises(errors.DecodeError) as private:
        from_dict(bad)
    with pytest.raises(errors.DecodeError) as shared:
        from_dict(bad, share=True)
    assert str(shared.value) == str(private.value)
    assert [(c.path, c.reason) for c in shared.value.causes] == [
        (c.path, c.reason) for c in private.value.causes
    ]
    assert {c.path for c in shared.value.causes} >= {
        "metadata.labels[app]",
        "metadata.annotations[1]",
        "metadata.annotations[2]",
        "spec.containers[0].ports[0].containerPort",
        "status.startTime",
        "spec.surprise",
    }


def test_tables_do_not_keep_dropped_objects_alive() -> None:
    gc.collect()
    table = _share._tables["kcore.objects.kinds.core_pod_container.Container"]
    doc = pod_doc(1, containers=[{"name": "only-here", "image": "example/once:1"}])
    doc["metadata"]["labels"] = {"only": "here"}
    before = len(table)
    pod = from_dict(doc, share=True)
    container = weakref.ref(pod.spec.containers[0])
    labels = weakref.ref(pod.metadata.labels)
    assert len(table) == before + 1
    del pod
    gc.collect()
    assert container() is None and labels() is None
    assert len(table) == before


def test_value_tables_stay_within_their_bound() -> None:
    for number in range(_share.LIMIT + 50):
        seconds = f"{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
        doc: dict[str, Any] = {
            "metadata": {"name": "x", "creationTimestamp": f"2020-01-01T{seconds}Z"},
            "spec": {"terminationGracePeriodSeconds": 1000 + number},
        }
        from_dict(doc, Pod, share=True)
    sizes = _share.table_sizes()
    assert sizes["times"] <= _share.LIMIT and sizes["ints"] <= _share.LIMIT + 50


def test_a_class_seldom_shared_stops_entering_new_objects() -> None:
    gc.collect()
    name = "kcore.objects.kinds.core_pod.PodIP"
    before = _share.table_sizes().get(name, 0)
    held = []
    for number in range(2000):
        doc = pod_doc(number)
        doc["status"]["podIPs"] = [{"ip": f"10.9.{number // 200}.{number % 200}"}]
        held.append(from_dict(doc, share=True))
    entered = _share.table_sizes()[name] - before
    assert 0 < entered < 400  # unique IPs: about one in PROBE after a short warm-up
    assert all(pod.spec is held[0].spec for pod in held)


MANIFESTS = sorted((Path(__file__).parent / "manifests").rglob("*.yaml"))


def test_every_corpus_manifest_decodes_alike_with_sharing() -> None:
    for path in MANIFESTS:
        text = path.read_text()
        private = from_yaml(text)
        first, second = from_yaml(text, share=True), from_yaml(text, share=True)
        assert first == private == second, path
        assert [to_json(o) for o in first] == [to_json(o) for o in private], path
        assert [to_json(o) for o in second] == [to_json(o) for o in private], path
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
        for obj in first:
            assert from_json(to_json(obj), share=True) == obj, (path, documents[0].get("kind"))


KINDS = [info.cls for info in all_kinds()]


@pytest.mark.parametrize("cls", KINDS, ids=[c.__name__ for c in KINDS])
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_shared_decode_round_trips(cls: type[Any], data: st.DataObject) -> None:
    obj = data.draw(structs(cls))
    as_dict = to_dict(obj)
    first = from_dict(as_dict, share=True)
    second = from_dict(as_dict, share=True)
    assert first == obj and second == obj
    assert to_dict(first) == as_dict and to_dict(second) == as_dict
    assert to_json(second) == to_json(obj)
    assert from_json(to_json(obj), share=True) == obj


def test_api_reads_decode_with_sharing() -> None:
    info = info_for(Pod)
    values = [json.dumps(pod_doc(n)).encode() for n in (1, 2)]
    one, two = (
        _stored.decode(info, KeyValue(key=b"/registry/pods/shop/x", mod_revision=7 + n, value=v))
        for n, v in enumerate(values)
    )
    assert one.spec is two.spec
    assert one.metadata.resource_version == "7" and two.metadata.resource_version == "8"


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_shared_decode_runs_under_any_event_loop(anyio_backend: str) -> None:
    one = from_dict(pod_doc(1), share=True)
    two = from_dict(pod_doc(2), share=True)
    assert one.spec is two.spec and to_dict(two) == _normal(pod_doc(2))
