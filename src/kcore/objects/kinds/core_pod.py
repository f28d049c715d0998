"""core/v1 Pod and the pod template every workload kind embeds.

SKELETON written by the lead so other kind modules can import PodTemplateSpec while this module
is filled in; the shapes and function names here are the contract.
"""

from __future__ import annotations

from collections.abc import Sequence

from kcore.objects.meta import Object, ObjectMeta
from kcore.objects.struct import kind, struct
from kcore.objects.validation import Problems


@struct
class Container:
    name: str = ""
    image: str | None = None


@struct
class PodSpec:
    containers: Sequence[Container] = ()


@struct
class PodTemplateSpec:
    metadata: ObjectMeta = ObjectMeta()
    spec: PodSpec = PodSpec()


@struct
class PodStatus:
    phase: str | None = None


@kind("v1", "Pod")
class Pod(Object):
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()


def default_pod_spec(spec: PodSpec) -> PodSpec:
    """Kubernetes' SetDefaults for a pod spec (shared by Pod and every template)."""
    return spec


def validate_pod_spec(spec: PodSpec, path: str, problems: Problems) -> None:
    """Kubernetes' ValidatePodSpec at ``path`` (e.g. ``spec.template.spec``)."""


def validate_pod_template_spec(template: PodTemplateSpec, path: str, problems: Problems) -> None:
    """Labels of the template's metadata and its pod spec, at ``path`` (``spec.template``)."""
