"""Concurrent writers: optimistic concurrency loses no update, and the server retries its own races.

Clients doing read-modify-write with the read's resourceVersion get Conflict when someone wrote
in between, re-read and retry; no increment may be lost and every successful update is exactly
one write. Writes that carry no resourceVersion (blind updates, patches) are retried by the
server itself, as kube-apiserver's GuaranteedUpdate does, so they never surface a Conflict.

The tasks yield between read and write, so they really interleave on every backend (the memory
store answers without suspending); an admission plugin acting as a barrier pins down the one
interleaving the server-side retry tests need.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from kcore import errors
from kcore.api import AdmissionRequest, Client
from kcore.objects import evolve
from kcore.objects.kinds.core_config import ConfigMap
from tests.api._support import TIMEOUT, Widget, WidgetStatus, config_map, stored, widget

pytestmark = pytest.mark.anyio

TASKS = 20
INCREMENTS = 10
MAX_RETRIES = 1000  # per increment: bounded, far above what 20 writers need


class Counter:
    conflicts = 0


async def increment_config_map(client: Client, counter: Counter) -> None:
    for _ in range(MAX_RETRIES):
        current = await client.get(ConfigMap, "counter")
        await anyio.sleep(0)  # let the other writers read the same version
        value = int(current.data["n"]) + 1
        try:
            await client.update(evolve(current, data={"n": str(value)}))
            return
        except errors.ConflictError:
            counter.conflicts += 1
    raise AssertionError(f"no increment after {MAX_RETRIES} tries")


async def increment_widget_status(client: Client, counter: Counter) -> None:
    for _ in range(MAX_RETRIES):
        current = await client.get(Widget, "counter")
        await anyio.sleep(0)
        status = WidgetStatus(phase="Counting", ready=current.status.ready + 1)
        try:
            await client.update_status(evolve(current, status=status))
            return
        except errors.ConflictError:
            counter.conflicts += 1
    raise AssertionError(f"no increment after {MAX_RETRIES} tries")


async def test_concurrent_read_modify_write_loses_no_increment(client: Client) -> None:
    await client.create(config_map("counter", {"n": "0"}))
    counter = Counter()

    async def worker() -> None:
        for _ in range(INCREMENTS):
            await increment_config_map(client, counter)

    async with anyio.create_task_group() as tg:
        for _ in range(TASKS):
            tg.start_soon(worker)
    final = await client.get(ConfigMap, "counter")
    assert final.data["n"] == str(TASKS * INCREMENTS)
    assert counter.conflicts > 0, "the writers never raced: the test proved nothing"
    # One write per successful increment, none for the refused ones.
    assert (await stored(client, ConfigMap, "counter")).version == 1 + TASKS * INCREMENTS


async def test_concurrent_status_updates_lose_no_increment(client: Client) -> None:
    await client.create(widget("counter"))
    counter = Counter()

    async def worker() -> None:
        for _ in range(INCREMENTS):
            await increment_widget_status(client, counter)

    async with anyio.create_task_group() as tg:
        for _ in range(TASKS):
            tg.start_soon(worker)
    final = await client.get(Widget, "counter")
    assert final.status.ready == TASKS * INCREMENTS
    assert final.metadata.generation == 1
    assert counter.conflicts > 0


async def test_concurrent_creates_of_one_name_make_one_object(client: Client) -> None:
    outcomes: list[str] = []

    async def create(i: int) -> None:
        await anyio.sleep(0)
        try:
            await client.create(config_map("only", {"by": str(i)}))
            outcomes.append("created")
        except errors.AlreadyExistsError:
            outcomes.append("exists")

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(create, i)
    assert sorted(outcomes) == ["created"] + ["exists"] * 9
    assert (await stored(client, ConfigMap, "only")).version == 1


def barrier(client: Client, parties: int) -> None:
    """Hold each ConfigMap UPDATE in admission until ``parties`` requests have read the object."""
    arrived = 0
    everyone = anyio.Event()

    async def wait_for_the_others(request: AdmissionRequest) -> Any:
        nonlocal arrived
        arrived += 1
        if arrived >= parties:
            everyone.set()
        with anyio.fail_after(TIMEOUT):
            await everyone.wait()
        return None

    client.admission.mutating(wait_for_the_others, kinds=[ConfigMap], operations=["UPDATE"])


async def test_blind_updates_that_race_are_retried_by_the_server(client: Client) -> None:
    created = await client.create(config_map("cm", {"n": "0"}))
    barrier(client, 2)
    results: list[ConfigMap] = []

    async def blind(value: str) -> None:
        update = evolve(created, data={"n": value}, metadata__resource_version="")
        results.append(await client.update(update))

    async with anyio.create_task_group() as tg:
        tg.start_soon(blind, "a")
        tg.start_soon(blind, "b")
    assert len(results) == 2
    final = await client.get(ConfigMap, "cm")
    assert final == results[-1] and final.data["n"] in ("a", "b")
    assert (await stored(client, ConfigMap, "cm")).version == 3


async def test_patches_that_race_are_retried_by_the_server(client: Client) -> None:
    await client.create(config_map("cm", {"n": "0"}))
    barrier(client, 2)

    async def patch(key: str) -> None:
        await client.patch(ConfigMap, "cm", {"data": {key: "set"}})

    async with anyio.create_task_group() as tg:
        tg.start_soon(patch, "a")
        tg.start_soon(patch, "b")
    final = await client.get(ConfigMap, "cm")
    assert final.data == {"n": "0", "a": "set", "b": "set"}
