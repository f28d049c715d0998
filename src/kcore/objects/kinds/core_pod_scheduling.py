"""core/v1 scheduling constraints: node selectors, affinity, tolerations, taints, spreading.

These are the types the scheduler reads from a pod spec. They live apart from the rest of the
pod because other kinds share them without needing a pod: a Node carries ``Taint``s and a
PersistentVolume's node affinity is a ``NodeSelector``. This module imports nothing but meta/v1,
so those kinds can import it (through ``core_pod``) without a cycle.

Field order and JSON names follow ``k8s.io/api/core/v1``; a Go value field written without
``omitempty`` (``key``, ``effect``, ``topologyKey``, ``weight``...) is always written here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from kcore.objects.meta import LabelSelector
from kcore.objects.struct import field, struct

__all__ = [
    "NODE_INCLUSION_POLICIES",
    "NODE_SELECTOR_OPERATORS",
    "TAINT_EFFECTS",
    "TOLERATION_OPERATORS",
    "UNSATISFIABLE_CONSTRAINT_ACTIONS",
    "Affinity",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "PodAffinity",
    "PodAffinityTerm",
    "PodAntiAffinity",
    "PreferredSchedulingTerm",
    "Taint",
    "Toleration",
    "TopologySpreadConstraint",
    "WeightedPodAffinityTerm",
]

# Enumerations, in the order Kubernetes lists them in its "supported values" messages.
NODE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Equal", "Exists")
UNSATISFIABLE_CONSTRAINT_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
NODE_INCLUSION_POLICIES = ("Honor", "Ignore")


@struct
class NodeSelectorRequirement:
    """``key <operator> values`` against a node's labels (or, in matchFields, its fields)."""

    key: str = field(default="", omitempty=False)
    operator: str = field(default="", omitempty=False)
    values: Sequence[str] = ()


@struct
class NodeSelectorTerm:
    """Requirements that must all hold (ANDed); a NodeSelector ORs its terms."""

    match_expressions: Sequence[NodeSelectorRequirement] = ()
    match_fields: Sequence[NodeSelectorRequirement] = ()


@struct
class NodeSelector:
    node_selector_terms: Sequence[NodeSelectorTerm] = ()


@struct
class PreferredSchedulingTerm:
    weight: int = field(default=0, omitempty=False)
    preference: NodeSelectorTerm = field(default=NodeSelectorTerm(), omitempty=False)


@struct
class NodeAffinity:
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: Sequence[PreferredSchedulingTerm] = ()


@struct
class PodAffinityTerm:
    label_selector: LabelSelector | None = None
    namespaces: Sequence[str] = ()
    topology_key: str = field(default="", omitempty=False)
    namespace_selector: LabelSelector | None = None
    match_label_keys: Sequence[str] = ()
    mismatch_label_keys: Sequence[str] = ()


@struct
class WeightedPodAffinityTerm:
    weight: int = field(default=0, omitempty=False)
    pod_affinity_term: PodAffinityTerm = field(default=PodAffinityTerm(), omitempty=False)


@struct
class PodAffinity:
    required_during_scheduling_ignored_during_execution: Sequence[PodAffinityTerm] = ()
    preferred_during_scheduling_ignored_during_execution: Sequence[WeightedPodAffinityTerm] = ()


@struct
class PodAntiAffinity:
    required_during_scheduling_ignored_during_execution: Sequence[PodAffinityTerm] = ()
    preferred_during_scheduling_ignored_during_execution: Sequence[WeightedPodAffinityTerm] = ()


@struct
class Affinity:
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


@struct
class Toleration:
    """Lets a pod onto nodes with a matching taint; an empty key with Exists tolerates all."""

    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None


@struct
class Taint:
    """A node's repellent (``spec.taints`` of a Node); pods need a matching Toleration."""

    key: str = field(default="", omitempty=False)
    value: str = ""
    effect: str = field(default="", omitempty=False)
    time_added: datetime | None = None


@struct
class TopologySpreadConstraint:
    max_skew: int = field(default=0, omitempty=False)
    topology_key: str = field(default="", omitempty=False)
    when_unsatisfiable: str = field(default="", omitempty=False)
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    match_label_keys: Sequence[str] = ()
