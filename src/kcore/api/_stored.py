"""Objects as the store holds them, and the apiserver rules for turning one version into the next.

Stored values are the object's compact JSON without ``metadata.resourceVersion``: the version
is the key's mod revision, filled in on every read, as kube-apiserver does. The pure rules of
an update (what a client may not change, when generation moves) and of a delete (finalizers,
propagation policy, graceful pod deletion) live here so the client only sequences I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from kcore import errors
from kcore.api.keys import object_key
from kcore.objects import KindInfo, ObjectMeta, evolve, from_dict, info_for, to_dict
from kcore.store import Compare, CompareResult, CompareTarget, KeyValue, Store

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


def qualified(info: KindInfo) -> str:
    """``pods``, ``deployments.apps``: how kube-apiserver names a resource in messages."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


@attrs.frozen
class Stored:
    key: bytes
    data: bytes
    mod_revision: int
    obj: Any

    def unchanged(self) -> Compare:
        """A txn compare that holds only while the key is still at this revision."""
        return Compare(
            self.key, CompareTarget.MOD, CompareResult.EQUAL, mod_revision=self.mod_revision
        )


def encode(obj: Any) -> bytes:
    document = to_dict(obj)
    document["metadata"].pop("resourceVersion", None)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def decode(info: KindInfo, kv: KeyValue) -> Any:
    document = json.loads(kv.value)
    document.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return from_dict(document, info.cls, strict=False, share=True)


def with_version(obj: Any, revision: int) -> Any:
    return evolve(obj, metadata__resource_version=str(revision))


def namespace_of(info: KindInfo, meta: ObjectMeta, namespace: str | None) -> str:
    if not info.namespaced:
        return ""
    if namespace and meta.namespace and namespace != meta.namespace:
        raise errors.InvalidArgumentError(
            f"the namespace of the provided object ({meta.namespace}) does not match the "
            f"namespace sent on the request ({namespace})"
        )
    return namespace or meta.namespace or "default"


def request_namespace(info: KindInfo, namespace: str | None) -> str:
    return (namespace or "default") if info.namespaced else ""


async def read(store: Store, info: KindInfo, namespace: str, name: str) -> Stored:
    key = object_key(info, namespace, name)
    response = await store.range(key)
    if not response.kvs:
        raise errors.NotFoundError(f'{qualified(info)} "{name}" not found')
    kv = response.kvs[0]
    return Stored(key, kv.value, kv.mod_revision, decode(info, kv))


def conflict(info: KindInfo, name: str) -> errors.ConflictError:
    return errors.ConflictError(
        f'Operation cannot be fulfilled on {qualified(info)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )


# --- create ----------------------------------------------------------------------------------

_initial_status: dict[str, Callable[[Any], Any]] = {}


def initial_status(kind: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register how a kind's status starts on create (default: empty)."""

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _initial_status[kind] = fn
        return fn

    return register


@initial_status("Pod")
def _pod_status(status_cls: Any) -> Any:
    return status_cls(phase="Pending")


def _job_selector(job: Any) -> Any:
    from kcore.objects.kinds.batch import generate_selector

    return generate_selector(job)


# Kind-specific steps of kube-apiserver's PrepareForCreate, run once name and uid are known.
_create_hooks: dict[tuple[str, str], Callable[[Any], Any]] = {("batch/v1", "Job"): _job_selector}


def prepare_for_create(obj: Any) -> Any:
    hook = _create_hooks.get((type(obj).api_version, type(obj).kind))
    return hook(obj) if hook is not None else obj


def reset_status(obj: Any) -> Any:
    """Create ignores a submitted status, as it does for kinds with a status subresource."""
    status_cls = type(obj.status)
    make = _initial_status.get(type(obj).kind)
    if make is not None:
        return evolve(obj, status=make(status_cls))
    # The field's shared default instance, so an untouched status is not written as {}.
    return evolve(obj, status=attrs.fields_dict(type(obj))["status"].default)


# --- update ----------------------------------------------------------------------------------


def merge_update(old: Any, new: Any, subresource: str) -> Any:
    """What an update may change: status only (status), or all but status and server fields."""
    if subresource == "status":
        return evolve(old, status=new.status)
    old_meta: ObjectMeta = old.metadata
    new_meta: ObjectMeta = new.metadata
    if new_meta.uid and new_meta.uid != old_meta.uid:
        # The object's uid is a precondition of the update, as in kube-apiserver.
        raise errors.ConflictError(
            f'Operation cannot be fulfilled on {qualified(info_for(type(old)))} "{old_meta.name}": '
            f"Precondition failed: UID in precondition: {new_meta.uid}, UID in object meta: "
            f"{old_meta.uid}"
        )
    meta = evolve(
        new_meta,
        name=old_meta.name,
        namespace=old_meta.namespace,
        uid=old_meta.uid,
        creation_timestamp=old_meta.creation_timestamp,
        deletion_timestamp=old_meta.deletion_timestamp,
        deletion_grace_period_seconds=old_meta.deletion_grace_period_seconds,
        generation=old_meta.generation,
        resource_version="",
        self_link="",
    )
    merged = evolve(new, metadata=meta)
    if type(old).has_status:
        merged = evolve(merged, status=old.status)
    return merged


# Kinds whose generation also moves on annotation changes (kube-apiserver's Deployment
# strategy: rollback and pause annotations are part of what the controller acts on).
_ANNOTATIONS_BUMP = {("apps/v1", "Deployment")}


def bump_generation(old: Any, new: Any) -> Any:
    """Generation moves by one when anything but metadata and status changed."""
    cls = type(new)
    if (cls.api_version, cls.kind) in _ANNOTATIONS_BUMP and (
        old.metadata.annotations != new.metadata.annotations
    ):
        return evolve(new, metadata__generation=old.metadata.generation + 1)
    for field in attrs.fields(type(new)):
        if field.name in ("metadata", "status", "_unknown"):
            continue
        if getattr(old, field.name) != getattr(new, field.name):
            return evolve(new, metadata__generation=old.metadata.generation + 1)
    return new


def check_same_identity(info: KindInfo, name: str, namespace: str, obj: Any) -> None:
    """A patch may not rename or move the object it applies to."""
    meta: ObjectMeta = obj.metadata
    if meta.name != name:
        raise errors.InvalidArgumentError(
            f"the name of the object ({meta.name}) does not match the name on the URL ({name})"
        )
    if info.namespaced and meta.namespace and meta.namespace != namespace:
        raise errors.InvalidArgumentError(
            f"the namespace of the object ({meta.namespace}) does not match the namespace on "
            f"the URL ({namespace})"
        )


def already_exists(info: KindInfo, name: str, response: Any) -> errors.AlreadyExistsError:
    """AlreadyExists, saying so when the existing object is only waiting to be deleted."""
    prefix = ""
    ranged = response.responses[0] if response.responses else None
    kvs = getattr(ranged, "kvs", ())
    if kvs:
        existing = decode(info, kvs[0])
        if existing.metadata.deletion_timestamp is not None:
            prefix = "object is being deleted: "
    return errors.AlreadyExistsError(f'{prefix}{qualified(info)} "{name}" already exists')


def pending_finalizers(obj: Any) -> tuple[str, ...]:
    """What still holds a deleted object: its finalizers, and a Namespace's spec.finalizers."""
    held = tuple(obj.metadata.finalizers)
    if type(obj).kind == "Namespace" and type(obj).api_version == "v1":
        held += tuple(obj.spec.finalizers)
    return held


def check_no_new_finalizers(info: KindInfo, old: Any, new: Any) -> None:
    added = [f for f in new.metadata.finalizers if f not in old.metadata.finalizers]
    if added:
        detail = (
            "Forbidden: no new finalizers can be added if the object is being deleted, found "
            f"new finalizers {added}"
        )
        raise errors.InvalidError(
            f'{type(new).kind} "{new.metadata.name}" is invalid: metadata.finalizers: {detail}',
            [errors.FieldError("metadata.finalizers", detail, added, "FieldValueForbidden")],
        )


def deletes_on_update(old: Any, new: Any) -> bool:
    """An update that leaves a deleted object with nothing holding it removes it — unless a
    graceful deletion is still running (a Pod's kubelet confirms that with grace period 0)."""
    grace = old.metadata.deletion_grace_period_seconds
    return not pending_finalizers(new) and not grace


# --- delete ----------------------------------------------------------------------------------


def check_preconditions(
    info: KindInfo, obj: Any, mod_revision: int, uid: str | None, resource_version: str | None
) -> None:
    meta: ObjectMeta = obj.metadata
    if uid is not None and uid != meta.uid:
        raise errors.ConflictError(
            f'Operation cannot be fulfilled on {qualified(info)} "{meta.name}": Precondition '
            f"failed: UID in precondition: {uid}, UID in object meta: {meta.uid}"
        )
    if resource_version is not None and resource_version != str(mod_revision):
        raise errors.ConflictError(
            f'Operation cannot be fulfilled on {qualified(info)} "{meta.name}": Precondition '
            f"failed: ResourceVersion in precondition: {resource_version}, ResourceVersion in "
            f"object meta: {mod_revision}"
        )


def _pod_grace(obj: Any, grace_period_seconds: int | None) -> int | None:
    """Seconds of graceful deletion for a Pod bound to a node, or None to delete at once."""
    if type(obj).kind != "Pod" or type(obj).api_version != "v1":
        return None
    if not obj.spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
        return None
    grace = grace_period_seconds
    if grace is None:
        grace = obj.spec.termination_grace_period_seconds
    if grace is None:
        grace = 30
    return grace or None


def mark_for_deletion(
    obj: Any, now: datetime, policy: str | None, grace_period_seconds: int | None
) -> Any | None:
    """None: delete now. ``obj`` itself: nothing to change. Otherwise the marked object."""
    meta: ObjectMeta = obj.metadata
    finalizers = list(meta.finalizers)
    if policy is not None:
        finalizers = [f for f in finalizers if f not in (ORPHAN, FOREGROUND)]
        if policy == "Orphan":
            finalizers.append(ORPHAN)
        elif policy == "Foreground":
            finalizers.append(FOREGROUND)
    grace = _pod_grace(obj, grace_period_seconds)
    namespace_held = type(obj).kind == "Namespace" and bool(obj.spec.finalizers)
    if not finalizers and grace is None and not namespace_held:
        return None
    if meta.deletion_timestamp is not None:
        timestamp = meta.deletion_timestamp
        period = meta.deletion_grace_period_seconds
        if grace is not None and (period is None or grace < period):
            # Shortening counts from the first request, never into the past.
            start = timestamp - timedelta(seconds=period or 0)
            timestamp = max(start + timedelta(seconds=grace), now)
            period = grace
        elif grace_period_seconds == 0 and period:
            timestamp, period = min(timestamp, now), 0  # "delete now", finalizers permitting
        if tuple(finalizers) == tuple(meta.finalizers) and timestamp == meta.deletion_timestamp:
            return obj
        return evolve(
            obj,
            metadata=evolve(
                meta,
                finalizers=finalizers,
                deletion_timestamp=timestamp,
                deletion_grace_period_seconds=period,
            ),
        )
    marked = evolve(
        obj,
        metadata=evolve(
            meta,
            finalizers=finalizers,
            deletion_timestamp=now + timedelta(seconds=grace or 0),
            deletion_grace_period_seconds=grace or 0,
            generation=meta.generation + 1 if meta.generation > 0 else meta.generation,
        ),
    )
    if type(obj).kind == "Namespace":
        marked = evolve(marked, status__phase="Terminating")
    return marked
