"""The typed client: kube-apiserver's semantics in-process, over any kcore store.

Every request goes the way it goes through kube-apiserver: authorization (when on), then for
writes the server-set fields (uid, creationTimestamp, generation, resourceVersion), admission
(defaults, mutating plugins, validation, validating plugins), then one store transaction whose
compare makes the write conditional on what was read, so concurrent writers get Conflict
instead of lost updates. ``resourceVersion`` is the store's mod revision of the object's key.

Reads (``get``, ``list``) and ``watch`` live in ``kcore.api._read`` and ``kcore.api.watch``;
this module holds the client and its writes.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs

from kcore import errors
from kcore.api import _read, _stored
from kcore.api._stored import Stored, qualified
from kcore.api.admission import Admission
from kcore.api.authz import Authorizer
from kcore.api.keys import object_key
from kcore.api.patch import apply_patch
from kcore.api.types import AdmissionRequest, ObjectList, Operation, UserInfo
from kcore.api.watch import Watcher
from kcore.clock import Clock, RealClock
from kcore.objects import KindInfo, ObjectMeta, evolve, from_dict, info_for, to_dict
from kcore.objects.names import generate_name
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    Store,
)

__all__ = ["Client"]

T = TypeVar("T")

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
_PROPAGATION = ("Orphan", "Background", "Foreground")
_MAX_RETRIES = 32  # unconditional writes retry on a lost race; bounded so nothing spins


class Client:
    """An API client with kube-apiserver's semantics over ``store``.

    ``authorization=True`` turns RBAC on: clients from :meth:`as_user` are then checked against
    the Roles and bindings stored in the cluster (deny by default); the client you construct
    acts as a cluster administrator, as a loopback client of kube-apiserver does.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        admission: Admission | None = None,
        authorization: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock: Clock = clock or RealClock()
        # uids and generated names come from here: seed it for runs that repeat exactly
        self.rng = rng or random.Random()
        self.admission = admission or Admission()
        self._authorizer = Authorizer(self) if authorization else None
        self.user: UserInfo | None = None

    def as_user(self, name: str, groups: Iterable[str] = ()) -> Client:
        """A client whose every request is made, and authorized, as ``name`` in ``groups``."""
        other = object.__new__(Client)
        other.__dict__.update(self.__dict__)
        other.user = UserInfo(name, tuple(groups))
        return other

    # --- helpers -----------------------------------------------------------------------------

    async def _authorize(
        self, verb: str, info: KindInfo, namespace: str, name: str = "", subresource: str = ""
    ) -> None:
        if self._authorizer is not None and self.user is not None:
            await self._authorizer.authorize(self.user, verb, info, namespace, name, subresource)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(int(self.clock.wall()), UTC)

    async def _admit(self, request: AdmissionRequest) -> Any:
        return await self.admission.admit(attrs.evolve(request, user=self.user))

    # --- create ------------------------------------------------------------------------------

    async def create(self, obj: T, *, namespace: str | None = None) -> T:
        """Create ``obj``; returns it as stored (uid, creationTimestamp, resourceVersion set)."""
        info = info_for(obj)
        meta: ObjectMeta = obj.metadata  # type: ignore[attr-defined]
        ns = _stored.namespace_of(info, meta, namespace)
        await self._authorize("create", info, ns)
        if meta.resource_version:
            raise errors.InvalidArgumentError(
                "resourceVersion should not be set on objects to be created"
            )
        server_meta = evolve(
            meta,
            namespace=ns,
            uid=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            creation_timestamp=self._now(),
            generation=1,
            resource_version="",
            self_link="",
            deletion_timestamp=None,
            deletion_grace_period_seconds=None,
        )
        fresh: Any = evolve(obj, metadata=server_meta)
        if info.has_status:
            fresh = _stored.reset_status(fresh)
        for _ in range(_MAX_RETRIES):
            candidate: Any = fresh
            if not server_meta.name and server_meta.generate_name:
                name = generate_name(server_meta.generate_name, self.rng)
                candidate = evolve(fresh, metadata=evolve(server_meta, name=name))
            candidate = _stored.prepare_for_create(candidate)
            admitted = await self._admit(
                AdmissionRequest(
                    Operation.CREATE,
                    info.kind,
                    ns,
                    candidate.metadata.name,
                    candidate,
                )
            )
            name = admitted.metadata.name
            if info.namespaced:
                await self._check_namespace(ns)
            key = object_key(info, ns, name)
            data = _stored.encode(admitted)
            response = await self.store.txn(
                compare=[
                    Compare(key, CompareTarget.CREATE, CompareResult.EQUAL, create_revision=0)
                ],
                success=[PutRequest(key, data)],
                failure=[RangeRequest(key)],
            )
            if response.succeeded:
                return _stored.with_version(admitted, response.header.revision)  # type: ignore[no-any-return]
            if server_meta.name or not server_meta.generate_name:
                raise _stored.already_exists(info, name, response)
        raise errors.AlreadyExistsError(
            f"{qualified(info)}: could not find a free name for generateName "
            f"{server_meta.generate_name!r} after {_MAX_RETRIES} tries"
        )

    async def _check_namespace(self, namespace: str) -> None:
        from kcore.objects.kinds.core_config import Namespace

        ns_info = info_for(Namespace)
        response = await self.store.range(object_key(ns_info, "", namespace))
        if not response.kvs:
            raise errors.NotFoundError(f'namespaces "{namespace}" not found')
        ns_obj = _stored.decode(ns_info, response.kvs[0])
        phase = getattr(getattr(ns_obj, "status", None), "phase", None)
        if ns_obj.metadata.deletion_timestamp is not None or phase == "Terminating":
            raise errors.ForbiddenError(
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated"
            )

    async def ensure_namespaces(self, *names: str) -> None:
        """Create each namespace that does not exist yet (a fresh store has none)."""
        from kcore.objects.kinds.core_config import Namespace

        for name in names:
            with contextlib.suppress(errors.AlreadyExistsError):
                await self.create(Namespace(metadata=ObjectMeta(name=name)))

    # --- reads -------------------------------------------------------------------------------

    async def get(self, kind: type[T], name: str, namespace: str | None = None) -> T:
        """The object ``name`` of ``kind`` (in ``namespace``, default "default")."""
        info = info_for(kind)
        ns = _stored.request_namespace(info, namespace)
        await self._authorize("get", info, ns, name)
        stored = await _stored.read(self.store, info, ns, name)
        return stored.obj  # type: ignore[no-any-return]

    async def list(
        self,
        kind: type[T],
        namespace: str | None = None,
        *,
        label_selector: Any = None,
        field_selector: Any = None,
        limit: int = 0,
        continue_: str | None = None,
        resource_version: str | None = None,
    ) -> ObjectList[T]:
        """Objects of ``kind`` (in ``namespace``, or all namespaces when None) at one revision.

        ``limit`` pages the result; pass the returned ``continue_`` to get the next page at
        the same revision (GoneError once that revision is compacted: list afresh).
        """
        info = info_for(kind)
        ns = namespace if info.namespaced else None
        await self._authorize("list", info, ns or "")
        return await _read.list_objects(
            self.store,
            info,
            ns,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_=continue_,
            resource_version=resource_version,
        )

    def watch(
        self,
        kind: type[T],
        namespace: str | None = None,
        *,
        label_selector: Any = None,
        field_selector: Any = None,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
    ) -> Watcher[T]:
        """Changes to ``kind`` as typed events; use ``async with client.watch(...) as w``.

        Without ``resource_version`` (or with "0") the watch starts with an ADDED event for
        every existing object; with one it starts right after it, and raises GoneError when
        that history was compacted (relist, as informers do).
        """
        info = info_for(kind)
        ns = namespace if info.namespaced else None
        return Watcher(
            self,
            info,
            ns,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
            allow_bookmarks=allow_bookmarks,
        )

    # --- update ------------------------------------------------------------------------------

    async def update(self, obj: T, *, namespace: str | None = None) -> T:
        """Replace the object with ``obj`` (its status is kept as stored: use update_status).

        With ``metadata.resourceVersion`` set, the update applies only to that version
        (Conflict otherwise); without it, it applies to whatever is stored.
        """
        return await self._update(obj, namespace, subresource="")

    async def update_status(self, obj: T, *, namespace: str | None = None) -> T:
        """Replace only the status of the stored object with ``obj.status``."""
        return await self._update(obj, namespace, subresource="status")

    async def _update(self, obj: T, namespace: str | None, subresource: str) -> T:
        info = info_for(obj)
        meta: ObjectMeta = obj.metadata  # type: ignore[attr-defined]
        ns = _stored.namespace_of(info, meta, namespace)
        if subresource == "status" and not info.has_status:
            raise errors.NotFoundError(
                f"the server could not find the requested resource ({qualified(info)}/status): "
                f"{info.kind} has no status subresource"
            )
        if not meta.name:
            raise errors.InvalidError(
                f"{info.kind} is invalid: metadata.name: Required value",
                [errors.FieldError("metadata.name", "Required value", None, "FieldValueRequired")],
            )
        await self._authorize("update", info, ns, meta.name, subresource)
        for _ in range(_MAX_RETRIES):
            current = await _stored.read(self.store, info, ns, meta.name)
            if meta.resource_version and meta.resource_version != str(current.mod_revision):
                raise _stored.conflict(info, meta.name)
            result = await self._write_update(info, ns, current, obj, subresource)
            if result is not None:
                return result  # type: ignore[no-any-return]
            if meta.resource_version:
                raise _stored.conflict(info, meta.name)
        raise _stored.conflict(info, meta.name)

    async def _write_update(
        self, info: KindInfo, ns: str, current: Stored, obj: Any, subresource: str
    ) -> Any | None:
        """One attempt: the merged object as stored, or None if the store moved meanwhile."""
        old = current.obj
        new = _stored.merge_update(old, obj, subresource)
        admitted = await self._admit(
            AdmissionRequest(
                Operation.UPDATE, info.kind, ns, old.metadata.name, new, old, subresource
            )
        )
        if subresource != "status":
            admitted = _stored.bump_generation(old, admitted)
        if old.metadata.deletion_timestamp is not None:
            _stored.check_no_new_finalizers(info, old, admitted)
            if _stored.deletes_on_update(old, admitted):
                return await self._delete_now(info, current)
        data = _stored.encode(admitted)
        if data == current.data:
            return old  # nothing changed: no write, same resourceVersion (as kube-apiserver)
        response = await self.store.txn(
            compare=[current.unchanged()], success=[PutRequest(current.key, data)]
        )
        if not response.succeeded:
            return None
        return _stored.with_version(admitted, response.header.revision)

    # --- patch -------------------------------------------------------------------------------

    async def patch(
        self,
        kind: type[T],
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: str = "merge",
        subresource: str = "",
    ) -> T:
        """Apply a JSON merge patch (``patch_type="merge"``) or JSON patch (``"json"``).

        The patch applies to the object's JSON form as stored; a ``metadata.resourceVersion``
        in the result makes it conditional. ``subresource="status"`` patches the status.
        """
        info = info_for(kind)
        ns = _stored.request_namespace(info, namespace)
        await self._authorize("patch", info, ns, name, subresource)
        if subresource not in ("", "status"):
            raise errors.NotFoundError(f"{qualified(info)} has no subresource {subresource!r}")
        for _ in range(_MAX_RETRIES):
            current = await _stored.read(self.store, info, ns, name)
            document = to_dict(current.obj)
            # Without its resourceVersion, so one in the result can only come from the patch:
            # that (and only that) makes the patch conditional; otherwise a lost race retries.
            document["metadata"].pop("resourceVersion", None)
            patched = apply_patch(document, patch, patch_type)
            if not isinstance(patched, Mapping):
                raise errors.InvalidArgumentError("the patch result is not an object")
            target = from_dict(patched, kind)
            _stored.check_same_identity(info, name, ns, target)
            wanted = target.metadata.resource_version  # type: ignore[attr-defined]
            if wanted and wanted != str(current.mod_revision):
                raise _stored.conflict(info, name)
            target = evolve(target, metadata__resource_version=str(current.mod_revision))
            if subresource == "status" and not info.has_status:
                raise errors.NotFoundError(
                    f"the server could not find the requested resource ({qualified(info)}/status)"
                )
            result = await self._write_update(info, ns, current, target, subresource)
            if result is not None:
                return result  # type: ignore[no-any-return]
            if wanted:
                raise _stored.conflict(info, name)
        raise _stored.conflict(info, name)

    # --- delete ------------------------------------------------------------------------------

    async def delete(
        self,
        kind: type[T],
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> T:
        """Delete ``name``; returns the object as last stored.

        With finalizers (or ``propagation_policy`` Orphan/Foreground, which add the
        ``orphan``/``foregroundDeletion`` finalizer), the object gets ``deletionTimestamp``
        and stays until its finalizers are removed. A Pod bound to a node is deleted
        gracefully: it is marked and stays until deleted again with grace period 0.
        ``uid`` and ``resource_version`` are preconditions (Conflict when they differ).
        """
        info = info_for(kind)
        ns = _stored.request_namespace(info, namespace)
        if propagation_policy is not None and propagation_policy not in _PROPAGATION:
            raise errors.InvalidArgumentError(
                f"propagationPolicy {propagation_policy!r} is not supported; use one of "
                f"{', '.join(_PROPAGATION)}"
            )
        if grace_period_seconds is not None and grace_period_seconds < 0:
            raise errors.InvalidArgumentError("gracePeriodSeconds must be 0 or more")
        await self._authorize("delete", info, ns, name)
        for _ in range(_MAX_RETRIES):
            current = await _stored.read(self.store, info, ns, name)
            old = current.obj
            _stored.check_preconditions(info, old, current.mod_revision, uid, resource_version)
            await self._admit(AdmissionRequest(Operation.DELETE, info.kind, ns, name, None, old))
            marked = _stored.mark_for_deletion(
                old, self._now(), propagation_policy, grace_period_seconds
            )
            if marked is None:
                deleted = await self._delete_now(info, current)
                if deleted is not None:
                    return deleted  # type: ignore[no-any-return]
                continue
            if marked is old:
                return old  # type: ignore[no-any-return]
            response = await self.store.txn(
                compare=[current.unchanged()],
                success=[PutRequest(current.key, _stored.encode(marked))],
            )
            if response.succeeded:
                return _stored.with_version(marked, response.header.revision)  # type: ignore[no-any-return]
        raise _stored.conflict(info, name)

    async def _delete_now(self, info: KindInfo, current: Stored) -> Any | None:
        response = await self.store.txn(
            compare=[current.unchanged()],
            success=[DeleteRangeRequest(current.key)],
            failure=[RangeRequest(current.key)],
        )
        if not response.succeeded:
            return None
        return _stored.with_version(current.obj, response.header.revision)
