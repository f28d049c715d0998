"""Defaults of the apps/v1 kinds, as kube-apiserver applies them (pkg/apis/apps/v1/defaults.go).

Each defaulter returns its input unchanged (the same instance) when nothing was missing, so
defaulting a stored object costs no allocation. The pod template gets the pod defaults
(``default_pod_spec``), and a StatefulSet's claim templates get the PersistentVolumeClaim
defaults, as the generated Kubernetes defaulters do.

Feature-gated defaults follow the gates' state in current Kubernetes: a StatefulSet's claim
retention policy is defaulted (StatefulSetAutoDeletePVC is GA); its rolling update's
``maxUnavailable`` is not (MaxUnavailableStatefulSet is not enabled by default).
"""

from __future__ import annotations

from typing import TypeVar

from kcore.objects.defaults import apply_defaults, changed, defaulter, map_items
from kcore.objects.kinds.apps import (
    ORDERED_READY,
    RETAIN,
    ROLLING_UPDATE,
    DaemonSet,
    DaemonSetSpec,
    DaemonSetUpdateStrategy,
    Deployment,
    DeploymentSpec,
    DeploymentStrategy,
    ReplicaSet,
    ReplicaSetSpec,
    RollingUpdateDaemonSet,
    RollingUpdateDeployment,
    RollingUpdateStatefulSetStrategy,
    StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec,
    StatefulSetUpdateStrategy,
)
from kcore.objects.kinds.core_pod import PodTemplateSpec, default_pod_spec
from kcore.objects.struct import evolve

__all__ = ["default_pod_template"]

S = TypeVar("S", ReplicaSetSpec, DeploymentSpec, StatefulSetSpec, DaemonSetSpec)

DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_DEPLOYMENT_MAX_SURGE = "25%"
DEFAULT_DEPLOYMENT_MAX_UNAVAILABLE = "25%"


def default_pod_template(template: PodTemplateSpec) -> PodTemplateSpec:
    """The template with the pod defaults applied to its spec (itself when none were missing)."""
    spec = default_pod_spec(template.spec)
    # Equal counts as unchanged too, so a stored object keeps its identity even if the pod
    # defaulter hands back an equal copy.
    if spec is template.spec or spec == template.spec:
        return template
    return evolve(template, spec=spec)


@defaulter(ReplicaSet)
def _default_replica_set(rs: ReplicaSet) -> ReplicaSet:
    spec = changed(rs.spec, replicas=1)
    spec = _with_template(spec, spec.template)
    return rs if spec is rs.spec else evolve(rs, spec=spec)


@defaulter(Deployment)
def _default_deployment(deployment: Deployment) -> Deployment:
    spec = changed(
        deployment.spec,
        replicas=1,
        revision_history_limit=DEFAULT_REVISION_HISTORY_LIMIT,
        progress_deadline_seconds=DEFAULT_PROGRESS_DEADLINE_SECONDS,
    )
    strategy = _default_deployment_strategy(spec.strategy)
    if strategy is not spec.strategy:
        spec = evolve(spec, strategy=strategy)
    spec = _with_template(spec, spec.template)
    return deployment if spec is deployment.spec else evolve(deployment, spec=spec)


def _default_deployment_strategy(strategy: DeploymentStrategy) -> DeploymentStrategy:
    strategy = changed(strategy, type=ROLLING_UPDATE)
    if strategy.type != ROLLING_UPDATE:
        return strategy
    rolling = changed(
        strategy.rolling_update or RollingUpdateDeployment(),
        max_unavailable=DEFAULT_DEPLOYMENT_MAX_UNAVAILABLE,
        max_surge=DEFAULT_DEPLOYMENT_MAX_SURGE,
    )
    if rolling is strategy.rolling_update:
        return strategy
    return evolve(strategy, rolling_update=rolling)


@defaulter(StatefulSet)
def _default_stateful_set(sts: StatefulSet) -> StatefulSet:
    spec = changed(
        sts.spec,
        pod_management_policy=ORDERED_READY,
        replicas=1,
        revision_history_limit=DEFAULT_REVISION_HISTORY_LIMIT,
    )
    strategy = _default_stateful_set_strategy(spec.update_strategy)
    if strategy is not spec.update_strategy:
        spec = evolve(spec, update_strategy=strategy)
    retention = changed(
        spec.persistent_volume_claim_retention_policy
        or StatefulSetPersistentVolumeClaimRetentionPolicy(),
        when_deleted=RETAIN,
        when_scaled=RETAIN,
    )
    if retention is not spec.persistent_volume_claim_retention_policy:
        spec = evolve(spec, persistent_volume_claim_retention_policy=retention)
    claims = map_items(spec.volume_claim_templates, apply_defaults)
    if claims is not None:
        spec = evolve(spec, volume_claim_templates=claims)
    spec = _with_template(spec, spec.template)
    return sts if spec is sts.spec else evolve(sts, spec=spec)


def _default_stateful_set_strategy(
    strategy: StatefulSetUpdateStrategy,
) -> StatefulSetUpdateStrategy:
    # Kubernetes creates the rollingUpdate block only when it also fills in the type; an
    # explicit "RollingUpdate" without the block keeps it absent (partition reads as 0).
    if not strategy.type:
        strategy = evolve(
            strategy,
            type=ROLLING_UPDATE,
            rolling_update=strategy.rolling_update or RollingUpdateStatefulSetStrategy(),
        )
    rolling = strategy.rolling_update
    if strategy.type != ROLLING_UPDATE or rolling is None:
        return strategy
    filled = changed(rolling, partition=0)
    return strategy if filled is rolling else evolve(strategy, rolling_update=filled)


@defaulter(DaemonSet)
def _default_daemon_set(ds: DaemonSet) -> DaemonSet:
    spec: DaemonSetSpec = changed(ds.spec, revision_history_limit=DEFAULT_REVISION_HISTORY_LIMIT)
    strategy = _default_daemon_set_strategy(spec.update_strategy)
    if strategy is not spec.update_strategy:
        spec = evolve(spec, update_strategy=strategy)
    spec = _with_template(spec, spec.template)
    return ds if spec is ds.spec else evolve(ds, spec=spec)


def _default_daemon_set_strategy(strategy: DaemonSetUpdateStrategy) -> DaemonSetUpdateStrategy:
    strategy = changed(strategy, type=ROLLING_UPDATE)
    if strategy.type != ROLLING_UPDATE:
        return strategy
    rolling = changed(
        strategy.rolling_update or RollingUpdateDaemonSet(), max_unavailable=1, max_surge=0
    )
    if rolling is strategy.rolling_update:
        return strategy
    return evolve(strategy, rolling_update=rolling)


def _with_template(spec: S, template: PodTemplateSpec) -> S:
    defaulted = default_pod_template(template)
    return spec if defaulted is template else evolve(spec, template=defaulted)
