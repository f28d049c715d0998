"""Structs and kinds: immutability, evolve, registration, metadata validation."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping, Sequence

import attrs
import pytest

from kcore import errors
from kcore.objects import (
    FrozenDict,
    Object,
    ObjectMeta,
    OwnerReference,
    evolve,
    from_dict,
    info_for,
    kind,
    lookup,
    lookup_resource,
    problems_of,
    struct,
    to_dict,
    validate,
)


@struct
class Item:
    name: str = ""
    tags: Sequence[str] = ()


@struct
class WebsiteSpec:
    replicas: int | None = None
    items: Sequence[Item] = ()
    labels: Mapping[str, str] = {}


@struct
class WebsiteStatus:
    ready: int = 0


@kind("struct.example.com/v1", "Website", short_names=("ws",))
class Website(Object):
    spec: WebsiteSpec = WebsiteSpec()
    status: WebsiteStatus = WebsiteStatus()


@kind("struct.example.com/v1", "Note")
class Note(Object):
    text: str = ""


def test_objects_cannot_be_changed_in_place() -> None:
    site = Website(
        metadata=ObjectMeta(name="a", labels={"x": "y"}),
        spec=WebsiteSpec(items=[Item(name="i", tags=["t"])]),
    )
    assert isinstance(site.metadata.labels, FrozenDict)
    assert site.spec.items == (Item(name="i", tags=("t",)),)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        site.spec = WebsiteSpec()  # type: ignore[misc]
    with pytest.raises(TypeError, match="immutable"):
        site.metadata.labels["x"] = "z"  # type: ignore[index]
    with pytest.raises(TypeError, match="immutable"):
        site.metadata.labels.update(x="z")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        site.spec.items.append(Item())  # type: ignore[attr-defined]


def test_evolve_copies_only_the_changed_path() -> None:
    site = from_dict(
        {
            "apiVersion": "struct.example.com/v1",
            "kind": "Website",
            "metadata": {"name": "a", "labels": {"x": "y"}},
            "spec": {"replicas": 1, "items": [{"name": "i"}]},
        }
    )
    changed = evolve(site, spec__replicas=3, metadata__labels={"x": "z"})
    assert changed.spec.replicas == 3 and site.spec.replicas == 1
    assert changed.metadata.labels == {"x": "z"} and site.metadata.labels == {"x": "y"}
    assert isinstance(changed.metadata.labels, FrozenDict)
    assert changed.spec.items is site.spec.items  # shared, not copied
    assert changed.status is site.status
    with pytest.raises(TypeError, match="no_such"):
        evolve(site, spec__no_such=1)
    with pytest.raises(TypeError, match="replaced and changed inside"):
        evolve(site, spec=WebsiteSpec(), spec__replicas=2)


def test_objects_are_hashable_copyable_and_picklable() -> None:
    site = Website(metadata=ObjectMeta(name="a", labels={"k": "v"}))
    assert hash(site) == hash(Website(metadata=ObjectMeta(name="a", labels={"k": "v"})))
    assert copy.deepcopy(site) == site
    assert pickle.loads(pickle.dumps(site)) == site


def test_custom_kind_is_registered_like_a_built_in() -> None:
    info = lookup("struct.example.com/v1", "Website")
    assert info.cls is Website and info_for(Website()) is info
    assert (Website.kind, Website.api_version, Website.group, Website.version) == (
        "Website",
        "struct.example.com/v1",
        "struct.example.com",
        "v1",
    )
    assert Website.plural == "websites" and Website.namespaced and Website.has_status
    assert info.short_names == ("ws",)
    assert lookup_resource("struct.example.com", "websites") is info
    assert not Note.has_status  # no status field, no status subresource
    assert to_dict(Note(metadata=ObjectMeta(name="n"), text="hi")) == {
        "apiVersion": "struct.example.com/v1",
        "kind": "Note",
        "metadata": {"name": "n"},
        "text": "hi",
    }


def test_registration_errors_are_clear() -> None:
    with pytest.raises(TypeError, match=r"must subclass kcore\.objects\.Object"):

        @kind("struct.example.com/v1", "Loose")
        class Loose:
            pass

    with pytest.raises(ValueError, match="already registered"):

        @kind("struct.example.com/v1", "Website")
        class Impostor(Object):
            pass

    with pytest.raises(ValueError, match="expected 'group/version'"):
        kind("a/b/c", "X")
    with pytest.raises(errors.InvalidTypeError, match="not a registered kind"):
        info_for(Item)


def test_metadata_rules_report_every_problem() -> None:
    site = Website(
        metadata=ObjectMeta(
            name="Not_Valid",
            namespace="Bad NS",
            labels={"-bad": "ok", "good": "bad value!"},
            annotations={"Bad Key": "v"},
            finalizers=["ok.io/finalizer", "no spaces allowed"],
            owner_references=[
                OwnerReference(api_version="v1", kind="A", name="a", uid="1", controller=True),
                OwnerReference(api_version="v1", kind="B", name="b", uid="2", controller=True),
                OwnerReference(kind="C"),
            ],
        )
    )
    paths = sorted({c.path for c in problems_of(site)})
    assert paths == [
        "metadata.annotations",
        "metadata.finalizers[1]",
        "metadata.labels",
        "metadata.labels[good]",
        "metadata.name",
        "metadata.namespace",
        "metadata.ownerReferences",
        "metadata.ownerReferences[2].apiVersion",
        "metadata.ownerReferences[2].name",
        "metadata.ownerReferences[2].uid",
    ]
    with pytest.raises(errors.InvalidError) as caught:
        validate(site)
    assert str(caught.value).startswith('Website.struct.example.com "Not_Valid" is invalid: [')
    assert caught.value.code == 422


def test_name_or_generate_name_is_required() -> None:
    assert [c.path for c in problems_of(Website())] == ["metadata.name"]
    validate(Website(metadata=ObjectMeta(generate_name="web-")))
    assert [c.path for c in problems_of(Website(metadata=ObjectMeta(generate_name="Web-")))] == [
        "metadata.generateName"
    ]
