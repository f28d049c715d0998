"""storage.k8s.io/v1 StorageClass: how dynamically provisioned volumes are made and kept.

A StorageClass has no spec or status: its fields sit at the top level, as in Kubernetes, and it
is cluster-scoped. Kubernetes validates it after defaulting, when ``reclaimPolicy`` and
``volumeBindingMode`` are always set; kcore validates what the user submits, so those two are
checked only when present and the defaulter fills them (Delete, Immediate) as the API server's
v1 defaults do.

One quirk of Kubernetes' ``allowedTopologies`` check is kept on purpose: a term with no
``matchLabelExpressions`` is reported as a duplicate, because Kubernetes compares each term with
a list seeded by empty entries and an empty term equals them. Matching it keeps kcore from
accepting a StorageClass a real cluster refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from kcore import errors
from kcore.objects import names
from kcore.objects.defaults import changed, defaulter
from kcore.objects.meta import Object
from kcore.objects.struct import field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "MAX_PARAMETERS",
    "MAX_PARAMETERS_SIZE",
    "RECLAIM_POLICIES",
    "VOLUME_BINDING_MODES",
    "StorageClass",
    "TopologySelectorLabelRequirement",
    "TopologySelectorTerm",
    "validate_topology_selector_term",
]

# Recycle exists for PersistentVolumes but a class may not ask for it.
RECLAIM_POLICIES: Final = ("Delete", "Retain")
VOLUME_BINDING_MODES: Final = ("Immediate", "WaitForFirstConsumer")
# Parameters are handed to the provisioner on every volume; these bounds keep that cheap.
MAX_PARAMETERS: Final = 512
MAX_PARAMETERS_SIZE: Final = 256 * 1024


@struct
class TopologySelectorLabelRequirement:
    key: str = field(default="", omitempty=False)
    values: Sequence[str] = ()


@struct
class TopologySelectorTerm:
    """core/v1 TopologySelectorTerm: all requirements must hold (they are ANDed)."""

    match_label_expressions: Sequence[TopologySelectorLabelRequirement] = ()


@kind(
    "storage.k8s.io/v1",
    "StorageClass",
    plural="storageclasses",
    namespaced=False,
    short_names=("sc",),
)
class StorageClass(Object):
    provisioner: str = field(default="", omitempty=False)
    parameters: Mapping[str, str] = {}
    reclaim_policy: str | None = None
    mount_options: Sequence[str] = ()
    allow_volume_expansion: bool | None = None
    volume_binding_mode: str | None = None
    allowed_topologies: Sequence[TopologySelectorTerm] = ()


@validates(StorageClass)
def _validate_storage_class(sc: StorageClass, problems: Problems) -> None:
    if not sc.provisioner:
        problems.required("provisioner")
    else:
        # Provisioner names are matched case-insensitively, so the rule sees lower case.
        problems.from_messages(
            "provisioner", sc.provisioner, names.is_qualified_name(sc.provisioner.lower())
        )
    _validate_parameters(sc.parameters, "parameters", problems)
    problems.enum("reclaimPolicy", sc.reclaim_policy, RECLAIM_POLICIES)
    problems.enum("volumeBindingMode", sc.volume_binding_mode, VOLUME_BINDING_MODES)
    _validate_allowed_topologies(sc.allowed_topologies, "allowedTopologies", problems)


def _validate_parameters(parameters: Mapping[str, str], path: str, problems: Problems) -> None:
    if len(parameters) > MAX_PARAMETERS:
        problems.causes.append(
            errors.FieldError(
                path,
                f"Too long: may not have more than {MAX_PARAMETERS} parameters "
                f"(has {len(parameters)})",
                None,
                "FieldValueTooLong",
            )
        )
        return
    total = 0
    for key, value in parameters.items():
        if not key:
            problems.invalid(path, key, "field can not be empty.")
        total += len(key.encode()) + len(value.encode())
    if total > MAX_PARAMETERS_SIZE:
        problems.too_long(path, None, MAX_PARAMETERS_SIZE)


def validate_topology_selector_term(
    term: TopologySelectorTerm, path: str, problems: Problems
) -> dict[str, frozenset[str]]:
    """Check one term at ``path``; return its requirements as key → allowed values."""
    requirements: dict[str, frozenset[str]] = {}
    for i, requirement in enumerate(term.match_label_expressions):
        at = f"{path}.matchLabelExpressions[{i}]"
        if not requirement.values:
            problems.required(f"{at}.values", "must specify at least one value")
        seen: set[str] = set()
        for j, value in enumerate(requirement.values):
            if value in seen:
                problems.duplicate(f"{at}.values[{j}]", value)
            seen.add(value)
        problems.from_messages(
            f"{at}.key", requirement.key, names.is_qualified_name(requirement.key)
        )
        if requirement.key in requirements:
            problems.duplicate(f"{at}.key", requirement.key)
        requirements[requirement.key] = frozenset(seen)
    return requirements


def _validate_allowed_topologies(
    terms: Sequence[TopologySelectorTerm], path: str, problems: Problems
) -> None:
    if not terms:
        return
    # Seeded with one empty entry per term, as Kubernetes' check is (see the module notes).
    earlier: list[dict[str, frozenset[str]]] = [{} for _ in terms]
    for i, term in enumerate(terms):
        requirements = validate_topology_selector_term(term, f"{path}[{i}]", problems)
        if any(other == requirements for other in earlier):
            problems.duplicate(f"{path}[{i}].matchLabelExpressions", "")
        earlier.append(requirements)


@defaulter(StorageClass)
def _default_storage_class(sc: StorageClass) -> StorageClass:
    return changed(sc, reclaim_policy="Delete", volume_binding_mode="Immediate")
