"""Lists as kube-apiserver serves them: one revision, selectors, limit/continue pagination.

A paged list reads every page at the revision of the first one, so the pages together are one
consistent snapshot. The continue token carries that revision and the next key (relative to the
resource prefix), base64-encoded JSON as kube-apiserver's is; once the revision is compacted the
token is refused with Gone and the caller lists afresh.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from kcore import errors
from kcore.api._stored import decode
from kcore.api.keys import list_prefix
from kcore.api.types import ObjectList
from kcore.objects import KindInfo
from kcore.objects.fields import FieldSelector
from kcore.objects.fieldsets import fields_of, selectable_fields
from kcore.objects.selectors import as_field_selector, as_label_selector
from kcore.store import Store, prefix_end

_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter."
)


def field_selector_of(info: KindInfo, value: Any) -> FieldSelector | None:
    """The field selector, refusing fields the kind does not expose (as kube-apiserver)."""
    selector = as_field_selector(value)
    if selector is None:
        return None
    supported = selectable_fields(info.cls)
    for name in sorted(selector.fields()):
        if name not in supported:
            raise errors.InvalidArgumentError(
                f'field label not supported: "{name}" for {info.plural}; supported: '
                f"{', '.join(supported)}"
            )
    return selector


def matcher(
    info: KindInfo, label_selector: Any, field_selector: Any
) -> Callable[[Any], bool] | None:
    """A predicate for the selectors, or None when they select everything."""
    labels = as_label_selector(label_selector)
    fields = field_selector_of(info, field_selector)
    if labels is None and fields is None:
        return None
    names = sorted(fields.fields()) if fields is not None else []

    def matches(obj: Any) -> bool:
        if labels is not None and not labels.matches(obj.metadata.labels):
            return False
        return fields is None or fields.matches(fields_of(obj, names))

    return matches


def encode_continue(revision: int, start: str) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start})
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        revision, start = data["rv"], data["start"]
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(revision, int):
            raise ValueError("unknown version")
        if not isinstance(start, str) or revision <= 0 or start.startswith("/"):
            raise ValueError("bad fields")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.InvalidArgumentError(
            f"continue key is not valid: {token[:40]!r}; pass the continue_ value a previous "
            "list returned"
        ) from None
    return revision, start


async def list_objects(
    store: Store,
    info: KindInfo,
    namespace: str | None,
    *,
    label_selector: Any,
    field_selector: Any,
    limit: int,
    continue_: str | None,
    resource_version: str | None,
) -> ObjectList[Any]:
    if limit < 0:
        raise errors.InvalidArgumentError("limit must be 0 (no limit) or more")
    matches = matcher(info, label_selector, field_selector)
    prefix = list_prefix(info, namespace)
    end = prefix_end(prefix)
    start = prefix
    revision = 0
    if continue_:
        revision, suffix = decode_continue(continue_)
        start = prefix + suffix.encode()
    elif resource_version not in (None, "", "0"):
        try:
            revision = int(str(resource_version))
        except ValueError:
            raise errors.InvalidArgumentError(
                f"resourceVersion {resource_version!r} is not a valid revision"
            ) from None
    items: list[Any] = []
    next_key: bytes | None = None
    batch = 0 if not limit else (limit if matches is None else max(limit, 256))
    for _ in range(1_000_000):  # bounded: each round either fills the page or ends the range
        try:
            response = await store.range(start, end, limit=batch, revision=revision)
        except errors.CompactedError:
            if continue_:
                raise errors.GoneError(_TOO_OLD) from None
            raise errors.GoneError(
                f"too old resource version: {revision}; list without resource_version"
            ) from None
        revision = revision or response.header.revision
        for kv in response.kvs:
            obj = decode(info, kv)
            if matches is None or matches(obj):
                items.append(obj)
                if limit and len(items) == limit:
                    next_key = kv.key + b"\0"
                    break
        if next_key is not None or not response.more or not response.kvs:
            break
        start = response.kvs[-1].key + b"\0"
    token = ""
    remaining: int | None = None
    if next_key is not None:
        rest = await store.range(next_key, end, revision=revision, count_only=True)
        if rest.count:
            token = encode_continue(revision, next_key[len(prefix) :].decode())
            remaining = rest.count if matches is None else None
    return ObjectList(tuple(items), str(revision), token, remaining)
