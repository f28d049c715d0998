"""Typed Kubernetes API objects: kinds, codec, validation, defaults, selectors, quantities.

Objects are immutable attrs classes with Kubernetes' own field names (snake_case in Python,
camelCase on the wire); change one with :func:`evolve`. See ``kcore.objects.struct`` for why
objects are immutable and what that costs.
"""

from kcore.objects import kinds as _kinds  # noqa: F401  (registers the built-in kinds)
from kcore.objects._frozen import FrozenDict
from kcore.objects.codec import from_dict, from_json, from_yaml, to_dict, to_json, to_yaml
from kcore.objects.defaults import apply_defaults, defaulter
from kcore.objects.meta import (
    Condition,
    LabelSelector,
    LabelSelectorRequirement,
    ListMeta,
    LocalObjectReference,
    ManagedFieldsEntry,
    Object,
    ObjectMeta,
    ObjectReference,
    OwnerReference,
    TypeMeta,
)
from kcore.objects.registry import KindInfo, info_for, lookup, lookup_resource
from kcore.objects.registry import kinds as all_kinds
from kcore.objects.struct import evolve, field, kind, struct, unknown_fields
from kcore.objects.validation import Problems, problems_of, validate, validates

__all__ = [
    "Condition",
    "FrozenDict",
    "KindInfo",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ListMeta",
    "LocalObjectReference",
    "ManagedFieldsEntry",
    "Object",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "Problems",
    "TypeMeta",
    "all_kinds",
    "apply_defaults",
    "defaulter",
    "evolve",
    "field",
    "from_dict",
    "from_json",
    "from_yaml",
    "info_for",
    "kind",
    "lookup",
    "lookup_resource",
    "problems_of",
    "struct",
    "to_dict",
    "to_json",
    "to_yaml",
    "unknown_fields",
    "validate",
    "validates",
]
