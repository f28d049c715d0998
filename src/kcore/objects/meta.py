"""The types every kind shares (meta/v1): ObjectMeta, owner references, selectors, conditions.

``Object`` is the base of every top-level kind; it holds ``metadata``, and ``@kind`` adds the
type information (``api_version``, ``kind``, ``plural``...) as class attributes, so an object
costs no memory for it and ``Pod.kind`` reads without an instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from kcore.objects.struct import field, struct

__all__ = [
    "Condition",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ListMeta",
    "LocalObjectReference",
    "ManagedFieldsEntry",
    "Object",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "TypeMeta",
]

JSON = Any  # free-form JSON, deep-frozen (dicts become FrozenDicts, lists tuples)


@struct
class OwnerReference:
    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None
    block_owner_deletion: bool | None = None


@struct
class ManagedFieldsEntry:
    manager: str | None = None
    operation: str | None = None
    api_version: str | None = None
    time: datetime | None = None
    fields_type: str | None = None
    fields_v1: JSON = field(default=None, wire="fieldsV1")
    subresource: str | None = None


@struct
class ObjectMeta:
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    self_link: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    deletion_grace_period_seconds: int | None = None
    labels: Mapping[str, str] = {}
    annotations: Mapping[str, str] = {}
    owner_references: Sequence[OwnerReference] = ()
    finalizers: Sequence[str] = ()
    managed_fields: Sequence[ManagedFieldsEntry] = ()


@struct
class ListMeta:
    self_link: str = ""
    resource_version: str = ""
    continue_: str = field(default="", wire="continue")
    remaining_item_count: int | None = None


@struct
class TypeMeta:
    api_version: str = ""
    kind: str = ""


@struct
class LabelSelectorRequirement:
    key: str = ""
    operator: str = ""
    values: Sequence[str] = ()


@struct
class LabelSelector:
    match_labels: Mapping[str, str] = {}
    match_expressions: Sequence[LabelSelectorRequirement] = ()


@struct
class Condition:
    """meta/v1 Condition, the shape newer kinds and custom kinds use for status conditions."""

    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    observed_generation: int = 0
    last_transition_time: datetime | None = field(default=None, omitempty=False)
    reason: str = field(default="", omitempty=False)
    message: str = field(default="", omitempty=False)


@struct
class ObjectReference:
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


@struct
class LocalObjectReference:
    name: str = ""


@struct
class Object:
    """Base of every top-level kind (built-in or custom); subclass it and apply ``@kind``."""

    api_version: ClassVar[str]
    kind: ClassVar[str]
    group: ClassVar[str]
    version: ClassVar[str]
    plural: ClassVar[str]
    namespaced: ClassVar[bool]
    has_status: ClassVar[bool]

    metadata: ObjectMeta = field(default=ObjectMeta(), omitempty=False)
