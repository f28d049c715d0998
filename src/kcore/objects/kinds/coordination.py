"""coordination.k8s.io/v1 Lease: a named, renewable claim used for leader election and heartbeats.

Controllers elect a leader by writing ``holderIdentity`` and renewing ``renewTime``; kubelets
heartbeat through a Lease per node in ``kube-node-lease``. Both times are MicroTime (written
with microseconds), because renewals every few seconds need finer stamps than whole seconds.
A Lease has a spec and no status, and Kubernetes applies no defaults to it.

``strategy`` belongs to coordinated leader election: an unprefixed name must be one Kubernetes
defines, a prefixed one (``example.com/fastest``) is any qualified name, and ``preferredHolder``
only means something once a strategy is set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from kcore.objects import names
from kcore.objects.meta import Object
from kcore.objects.struct import field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = ["LEASE_STRATEGIES", "Lease", "LeaseSpec"]

# The strategies Kubernetes itself defines (prefixed names are for other implementations).
LEASE_STRATEGIES: Final = ("OldestEmulationVersion",)


@struct
class LeaseSpec:
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: datetime | None = field(default=None, micro=True)
    renew_time: datetime | None = field(default=None, micro=True)
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


@kind("coordination.k8s.io/v1", "Lease", plural="leases")
class Lease(Object):
    # Go writes a struct-valued field even when it is empty, so a fresh lease shows spec: {}.
    spec: LeaseSpec = field(default=LeaseSpec(), omitempty=False)


@validates(Lease)
def _validate_lease(lease: Lease, problems: Problems) -> None:
    spec = lease.spec
    if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
        problems.invalid(
            "spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0"
        )
    problems.non_negative("spec.leaseTransitions", spec.lease_transitions)
    if spec.strategy is not None:
        _validate_strategy(spec.strategy, "spec.strategy", problems)
    if spec.preferred_holder and not spec.strategy:
        problems.forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined")


def _validate_strategy(strategy: str, path: str, problems: Problems) -> None:
    if "/" not in strategy:
        if strategy not in LEASE_STRATEGIES:
            problems.not_supported(path, strategy, LEASE_STRATEGIES)
    else:
        problems.from_messages(path, strategy, names.is_qualified_name(strategy))
