"""What the API tests share: a custom kind, object builders, revision checks and bounded waits.

The API suite states kube-apiserver's behaviour once and runs it on every store backend, so its
helpers read the store only through the ``Store`` protocol (a revision, a dump of all keys) and
never through a backend's internals. Every wait is bounded by ``TIMEOUT`` so a broken watch
fails a test instead of hanging the run (it is a guard, not a speed assertion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio

from kcore.api import Client, Watcher, WatchEvent, object_key
from kcore.objects import Object, ObjectMeta, from_dict, info_for, kind, struct, validates
from kcore.objects.kinds.apps import Deployment
from kcore.objects.kinds.core_config import ConfigMap
from kcore.objects.kinds.core_pod import Pod
from kcore.objects.validation import Problems
from kcore.store import KeyValue, Store

__all__ = [
    "TIMEOUT",
    "Widget",
    "WidgetSpec",
    "WidgetStatus",
    "collect",
    "config_map",
    "deployment",
    "dump",
    "next_event",
    "pod",
    "revision",
    "stored",
    "unchanged",
    "widget",
]

TIMEOUT = 15.0


# --- a custom kind, declared the way a user declares one --------------------------------------


@struct
class WidgetSpec:
    size: int = 0
    color: str = ""
    count: int = 0


@struct
class WidgetStatus:
    phase: str = ""
    ready: int = 0


@kind("example.com/v1", "Widget", plural="widgets")
class Widget(Object):
    spec: WidgetSpec = WidgetSpec()
    status: WidgetStatus = WidgetStatus()


@validates(Widget)
def _validate_widget(widget: Widget, problems: Problems) -> None:
    problems.non_negative("spec.size", widget.spec.size)


# --- builders ----------------------------------------------------------------------------------


def config_map(
    name: str = "",
    data: Mapping[str, str] | None = None,
    *,
    namespace: str = "",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    finalizers: Sequence[str] = (),
    generate_name: str = "",
) -> ConfigMap:
    meta = ObjectMeta(
        name=name,
        namespace=namespace,
        generate_name=generate_name,
        labels=dict(labels or {}),
        annotations=dict(annotations or {}),
        finalizers=tuple(finalizers),
    )
    return ConfigMap(metadata=meta, data=dict(data or {}))


def widget(name: str, size: int = 1, *, labels: Mapping[str, str] | None = None) -> Widget:
    return Widget(
        metadata=ObjectMeta(name=name, labels=dict(labels or {})), spec=WidgetSpec(size=size)
    )


def pod(name: str, *, node_name: str = "", grace: int | None = None, **meta: Any) -> Pod:
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **meta},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
    }
    if node_name:
        document["spec"]["nodeName"] = node_name
    if grace is not None:
        document["spec"]["terminationGracePeriodSeconds"] = grace
    return from_dict(document, Pod)


def deployment(name: str, replicas: int = 1, **meta: Any) -> Deployment:
    labels = {"app": name}
    return from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, **meta},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
                },
            },
        },
        Deployment,
    )


# --- the store, read through the protocol only -------------------------------------------------


async def revision(store: Store) -> int:
    """The store's current revision (a range that reads nothing, so it changes nothing)."""
    return (await store.range(b"\0", b"\0", count_only=True)).header.revision


async def dump(store: Store) -> tuple[int, tuple[KeyValue, ...]]:
    """The revision and every live key: two equal dumps mean nothing was written."""
    response = await store.range(b"\0", b"\0")
    return response.header.revision, response.kvs


async def stored(client: Client, cls: type[Any], name: str, namespace: str = "default") -> KeyValue:
    """The key-value the store holds for an object (asserting there is one)."""
    info = info_for(cls)
    key = object_key(info, namespace if info.namespaced else "", name)
    response = await client.store.range(key)
    assert len(response.kvs) == 1, f"{key!r} is not in the store"
    return response.kvs[0]


class unchanged:  # used like a function: ``async with unchanged(store): ...``
    """Assert that the block wrote nothing: same revision, same keys, same values."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.before: tuple[int, tuple[KeyValue, ...]] | None = None

    async def __aenter__(self) -> unchanged:
        self.before = await dump(self.store)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        after = await dump(self.store)
        assert self.before is not None
        assert after[0] == self.before[0], "a refused request moved the store's revision"
        assert after == self.before, "a refused request changed the store"


# --- watches -----------------------------------------------------------------------------------


async def next_event(watcher: Watcher[Any], timeout: float = TIMEOUT) -> WatchEvent[Any]:
    """The watcher's next event; fails the test instead of hanging when none comes."""
    with anyio.fail_after(timeout):
        return await watcher.__anext__()


async def collect(
    watcher: Watcher[Any], count: int, timeout: float = TIMEOUT
) -> list[WatchEvent[Any]]:
    """The watcher's next ``count`` events, within one bounded wait."""
    events: list[WatchEvent[Any]] = []
    with anyio.fail_after(timeout):
        while len(events) < count:
            events.append(await watcher.__anext__())
    return events
