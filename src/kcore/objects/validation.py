"""Validation with Kubernetes' rules, reporting every problem at once with its field path.

Each kind registers checks with ``@validates(Kind)``; a check receives the object and a
:class:`Problems` collector and adds what is wrong (it never raises). ``validate(obj)`` runs the
shared metadata rules and then the kind's checks, and raises one :class:`kcore.errors.InvalidError`
whose ``causes`` carry Kubernetes-style paths (``spec.template.spec.containers[0].image``) and
messages (``Required value``, ``Invalid value: -1: must be greater than or equal to 0``,
``Unsupported value: "Sometimes": supported values: "Always", "Never"``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from kcore import errors
from kcore.objects import names
from kcore.objects.meta import ObjectMeta, OwnerReference

__all__ = [
    "Problems",
    "problems_of",
    "validate",
    "validate_labels",
    "validate_object_meta",
    "validates",
]

T = TypeVar("T")
Check = Callable[[Any, "Problems"], None]

_checks: dict[type[Any], list[Check]] = {}
_name_rules: dict[type[Any], Callable[[str], list[str]]] = {}


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Problems:
    """Collects field errors; paths are plain strings built by the caller."""

    __slots__ = ("causes",)

    def __init__(self) -> None:
        self.causes: list[errors.FieldError] = []

    def __bool__(self) -> bool:
        return bool(self.causes)

    def required(self, path: str, detail: str = "") -> None:
        text = f"Required value: {detail}" if detail else "Required value"
        self.causes.append(errors.FieldError(path, text, None, "FieldValueRequired"))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.causes.append(
            errors.FieldError(
                path, f"Invalid value: {_show(value)}: {detail}", value, "FieldValueInvalid"
            )
        )

    def not_supported(self, path: str, value: Any, supported: Iterable[str]) -> None:
        allowed = ", ".join(f'"{s}"' for s in supported)
        self.causes.append(
            errors.FieldError(
                path,
                f"Unsupported value: {_show(value)}: supported values: {allowed}",
                value,
                "FieldValueNotSupported",
            )
        )

    def duplicate(self, path: str, value: Any) -> None:
        self.causes.append(
            errors.FieldError(
                path, f"Duplicate value: {_show(value)}", value, "FieldValueDuplicate"
            )
        )

    def too_long(self, path: str, value: Any, limit: int, unit: str = "bytes") -> None:
        self.causes.append(
            errors.FieldError(
                path, f"Too long: may not be more than {limit} {unit}", None, "FieldValueTooLong"
            )
        )

    def forbidden(self, path: str, detail: str) -> None:
        self.causes.append(
            errors.FieldError(path, f"Forbidden: {detail}", None, "FieldValueForbidden")
        )

    def from_messages(self, path: str, value: Any, messages: Iterable[str]) -> None:
        """Turn a validator's message list (``kcore.objects.names``) into Invalid causes."""
        for message in messages:
            self.invalid(path, value, message)

    def enum(self, path: str, value: str | None, supported: Sequence[str]) -> None:
        """``value`` (when set) must be one of ``supported``."""
        if value is not None and value != "" and value not in supported:
            self.not_supported(path, value, supported)

    def non_negative(self, path: str, value: int | None) -> None:
        if value is not None and value < 0:
            self.invalid(path, value, "must be greater than or equal to 0")

    def port(self, path: str, value: int | None, required: bool = True) -> None:
        if value is None or value == 0:
            if required:
                self.required(path)
            return
        self.from_messages(path, value, names.is_valid_port_num(value))


def validates(
    cls: type[Any], *, name_rule: Callable[[str], list[str]] | None = None
) -> Callable[[Check], Check]:
    """Register a check for ``cls``; ``name_rule`` sets how ``metadata.name`` is validated
    (default: a DNS-1123 subdomain, as for most kinds)."""
    if name_rule is not None:
        _name_rules[cls] = name_rule

    def register(check: Check) -> Check:
        _checks.setdefault(cls, []).append(check)
        return check

    return register


def validate_labels(labels: Mapping[str, str], path: str, problems: Problems) -> None:
    for key, value in labels.items():
        problems.from_messages(path, key, names.is_qualified_name(key))
        problems.from_messages(f"{path}[{key}]", value, names.is_valid_label_value(value))


def validate_object_meta(
    meta: ObjectMeta,
    problems: Problems,
    *,
    namespaced: bool,
    name_rule: Callable[[str], list[str]] = names.is_dns1123_subdomain,
    path: str = "metadata",
) -> None:
    """The metadata rules every kind shares (Kubernetes' ValidateObjectMeta)."""
    if meta.generate_name:
        # generateName is a prefix: checked with the prefix rule (a trailing dash is fine)
        for message in name_rule(names.mask_generate_name(meta.generate_name)):
            problems.invalid(f"{path}.generateName", meta.generate_name, message)
    if not meta.name:
        if not meta.generate_name:
            problems.required(f"{path}.name", "name or generateName is required")
    else:
        problems.from_messages(f"{path}.name", meta.name, name_rule(meta.name))
    if namespaced:
        if meta.namespace:
            problems.from_messages(
                f"{path}.namespace", meta.namespace, names.is_dns1123_label(meta.namespace)
            )
    elif meta.namespace:
        problems.forbidden(f"{path}.namespace", "not allowed on this type (it is cluster-scoped)")
    if meta.generation < 0:
        problems.invalid(
            f"{path}.generation", meta.generation, "must be greater than or equal to 0"
        )
    validate_labels(meta.labels, f"{path}.labels", problems)
    for key in meta.annotations:
        problems.from_messages(f"{path}.annotations", key, names.is_qualified_name(key.lower()))
    for message in names.validate_annotations_size(meta.annotations):
        problems.causes.append(
            errors.FieldError(
                f"{path}.annotations", f"Too long: {message}", None, "FieldValueTooLong"
            )
        )
    _validate_owner_references(meta.owner_references, f"{path}.ownerReferences", problems)
    for i, finalizer in enumerate(meta.finalizers):
        problems.from_messages(
            f"{path}.finalizers[{i}]", finalizer, names.is_qualified_name(finalizer)
        )


def _validate_owner_references(
    refs: Sequence[OwnerReference], path: str, problems: Problems
) -> None:
    controllers = 0
    for i, ref in enumerate(refs):
        at = f"{path}[{i}]"
        if not ref.api_version:
            problems.invalid(f"{at}.apiVersion", ref.api_version, "version must not be empty")
        if not ref.kind:
            problems.invalid(f"{at}.kind", ref.kind, "kind must not be empty")
        if not ref.name:
            problems.invalid(f"{at}.name", ref.name, "name must not be empty")
        if not ref.uid:
            problems.invalid(f"{at}.uid", ref.uid, "uid must not be empty")
        if ref.controller:
            controllers += 1
    if controllers > 1:
        problems.invalid(
            path, [r.name for r in refs], "Only one reference can have Controller set to true"
        )


def problems_of(obj: Any) -> list[errors.FieldError]:
    """Every validation problem of ``obj`` (empty when valid)."""
    from kcore.objects.registry import info_for

    problems = Problems()
    cls = type(obj)
    info = info_for(cls)
    validate_object_meta(
        obj.metadata,
        problems,
        namespaced=info.namespaced,
        name_rule=_name_rules.get(cls, names.is_dns1123_subdomain),
    )
    for check in _checks.get(cls, ()):
        check(obj, problems)
    return problems.causes


def validate(obj: Any) -> None:
    """Raise :class:`kcore.errors.InvalidError` listing every problem of ``obj``, if any."""
    causes = problems_of(obj)
    if causes:
        cls = type(obj)
        name = obj.metadata.name or obj.metadata.generate_name
        kind = f"{cls.kind}.{cls.group}" if cls.group else cls.kind
        listed = ", ".join(str(c) for c in causes[:20])
        more = f" (and {len(causes) - 20} more)" if len(causes) > 20 else ""
        # One cause reads bare, several in brackets: kube-apiserver's wording.
        shown = listed if len(causes) == 1 else f"[{listed}]{more}"
        raise errors.InvalidError(f'{kind} "{name}" is invalid: {shown}', causes)
