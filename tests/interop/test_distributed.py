"""EtcdStore on a real 3-member etcd cluster while a member is killed (by PID) and restarted.

A writer puts unique keys one after another and a watcher watches their prefix, both through
one EtcdStore given all three endpoints, while one member — a follower in one test, the
leader in the other — is killed with SIGKILL and later restarted on the same data dir. The
victim is the client's first endpoint, so the writes and the watch start on it and must fail
over when it dies. Then:

* every acknowledged write is readable, with its value and the revision it was acknowledged
  at, and is in the store's history at that revision;
* a write that raised ``OutcomeUnknownError`` (or was cut off by its own timeout) is read
  back and counted as applied or not, never assumed; one refused as certainly unsent
  (``UnavailableError``) must not have happened;
* acknowledged revisions only grow (one writer, one write at a time);
* every member, the restarted one included (once it caught up), serves the same keys at the
  final revision;
* ``kcore.testing.watchcheck`` finds no violation of etcd's watch guarantees in what the
  watcher received (its ``WriteLog`` is synced from the cluster's history at the end, and the
  watch is drained up to the final revision).

Each phase is bounded in time and in writes; the counts are printed.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import attrs
import pytest

from kcore import errors as e
from kcore.store.etcd import EtcdStore
from kcore.store.etcd_watch import EtcdWatch
from kcore.store.types import prefix_end
from kcore.testing.etcd import EtcdCluster, EtcdProcess
from kcore.testing.watchcheck import WatchChecker, WriteLog, assert_watches_ok, watch_until
from tests.conftest import require_peer

pytestmark = [pytest.mark.anyio, pytest.mark.peers]

PREFIX = b"/dist/"
MAX_WRITES = 2_000  # the writer never does more than this
WRITES_PER_PHASE = 40  # acknowledged writes before the kill, while down, after the restart
PHASE_SECONDS = 2.0  # and at least this long while the member is down, and after it is back
PHASE_TIMEOUT = 30.0  # each phase must reach its count within this
WRITE_TIMEOUT = 10.0  # one write, failover included
MAX_RESUMES = 5  # watches re-created by hand (EtcdWatch resumes by itself first)


@attrs.define
class Writes:
    acked: dict[bytes, tuple[bytes, int]] = attrs.Factory(dict)  # key -> (value, revision)
    unknown: dict[bytes, bytes] = attrs.Factory(dict)  # key -> value: may have happened
    refused: dict[bytes, bytes] = attrs.Factory(dict)  # certainly sent nowhere
    errors: list[str] = attrs.Factory(list)
    revisions: list[int] = attrs.Factory(list)  # acknowledged, in order
    attempts: int = 0
    progress: anyio.Event = attrs.Factory(anyio.Event)  # set on every acknowledgement

    async def wait_for(self, acked: int, at_least: float = 0.0) -> None:
        """Until ``acked`` writes were acknowledged and ``at_least`` seconds passed."""
        began = time.monotonic()
        with anyio.fail_after(PHASE_TIMEOUT):
            while len(self.acked) < acked:  # bounded by the timeout
                self.progress = anyio.Event()
                await self.progress.wait()
        await anyio.sleep(max(0.0, at_least - (time.monotonic() - began)))


async def writer(store: EtcdStore, writes: Writes, stop: anyio.Event, done: anyio.Event) -> None:
    try:
        await _write(store, writes, stop)
    finally:
        done.set()


async def _write(store: EtcdStore, writes: Writes, stop: anyio.Event) -> None:
    for i in range(MAX_WRITES):
        if stop.is_set():
            return
        key, value = PREFIX + b"%05d" % i, b"value-%d" % i
        writes.attempts += 1
        try:
            with anyio.fail_after(WRITE_TIMEOUT):
                response = await store.put(key, value)
        except e.OutcomeUnknownError as exc:
            writes.unknown[key] = value
            writes.errors.append(f"{key!r}: outcome unknown: {exc}")
        except TimeoutError:  # our own deadline cut it off: it may have been applied
            writes.unknown[key] = value
            writes.errors.append(f"{key!r}: no answer in {WRITE_TIMEOUT} s")
        except e.UnavailableError as exc:  # no endpoint took it: certainly not applied
            writes.refused[key] = value
            writes.errors.append(f"{key!r}: refused: {exc}")
            await anyio.sleep(0.05)
        else:
            writes.acked[key] = (value, response.header.revision)
            writes.revisions.append(response.header.revision)
            writes.progress.set()
        await anyio.sleep(0.005)


@attrs.define
class Watcher:
    """Feeds every response of the watch on PREFIX to the checker; re-creates it if it ends."""

    store: EtcdStore
    checker: WatchChecker
    watch: EtcdWatch | None = None
    resumes: int = 0
    failures: list[str] = attrs.Factory(list)

    async def open(self, start: int) -> None:
        with anyio.fail_after(PHASE_TIMEOUT):
            self.watch = await self.store.watch(PREFIX, prefix_end(PREFIX), start_revision=start)

    async def reopen(self, why: str) -> None:
        self.failures.append(why)
        if self.resumes >= MAX_RESUMES:
            raise AssertionError(f"the watch ended {self.resumes + 1} times: {self.failures}")
        self.resumes += 1
        await self.open(self.checker.resume())

    async def run(self) -> None:
        """Until cancelled."""
        while True:  # bounded by MAX_RESUMES
            assert self.watch is not None
            try:
                async for response in self.watch:
                    self.checker.feed(response)
            except e.KcoreError as exc:
                await self.reopen(f"{type(exc).__name__}: {exc}")
            else:
                await self.reopen("the watch ended")

    async def drain(self, revision: int) -> None:
        for _ in range(MAX_RESUMES + 1):
            assert self.watch is not None
            try:
                with anyio.fail_after(PHASE_TIMEOUT):
                    if await watch_until(self.watch, self.checker, revision):
                        return
            except e.KcoreError as exc:
                await self.reopen(f"{type(exc).__name__}: {exc}")
                continue
            await self.reopen("the watch ended while draining")
        raise AssertionError(f"the watch did not reach revision {revision}: {self.failures}")


async def pick_victim(cluster: EtcdCluster, role: str) -> EtcdProcess:
    """The leader, or a follower (by raft status, bounded)."""
    leader = await cluster.leader()
    if role == "leader":
        return leader
    return next(m for m in cluster.members if m is not leader)


async def member_has(member: EtcdProcess, revision: int, expected: dict[bytes, Any]) -> list[str]:
    """Whether the member alone serves (serializable) the same PREFIX at ``revision``."""
    async with member.store(timeout=5.0) as alone:
        with anyio.fail_after(PHASE_TIMEOUT):
            while True:  # bounded by the timeout: a restarted member catches up
                got = await alone.range(PREFIX, prefix_end(PREFIX), serializable=True)
                if got.header.revision >= revision:
                    break
                await anyio.sleep(0.1)
            got = await alone.range(
                PREFIX, prefix_end(PREFIX), revision=revision, serializable=True
            )
    kvs = {kv.key: kv for kv in got.kvs}
    if kvs != expected:
        missing = sorted(expected.keys() - kvs.keys())[:5]
        return [
            f"{member.name} serves {len(kvs)} keys at {revision}, not {len(expected)}: "
            f"missing e.g. {missing}"
        ]
    return []


@pytest.mark.parametrize("role", ["follower", "leader"])
async def test_member_killed_and_restarted(role: str) -> None:
    require_peer("etcd")
    began = time.monotonic()
    async with EtcdCluster(3) as cluster:
        # The member to kill is the client's first endpoint: the writes and the watch start on
        # it, so both must fail over when it dies.
        victim = await pick_victim(cluster, role)
        endpoints = [victim.client_url] + [m.client_url for m in cluster.members if m is not victim]
        store = EtcdStore(endpoints, timeout=WRITE_TIMEOUT, reconnect_timeout=PHASE_TIMEOUT)
        async with store:
            await run_scenario(cluster, store, victim, role, began)


async def run_scenario(
    cluster: EtcdCluster, store: EtcdStore, victim: EtcdProcess, role: str, began: float
) -> None:
    log = WriteLog()  # a fresh cluster: revision 1, nothing written
    checker = WatchChecker(log, PREFIX, prefix_end(PREFIX), start_revision=2, name=role)
    watcher = Watcher(store, checker)
    await watcher.open(2)
    writes = Writes()
    stop, stopped = anyio.Event(), anyio.Event()
    timeline: list[str] = []

    def note(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:6.2f}s {what} ({len(writes.acked)} acked)")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watcher.run)
        tasks.start_soon(writer, store, writes, stop, stopped)
        await writes.wait_for(WRITES_PER_PHASE)
        if role == "leader" and victim is not await pick_victim(cluster, role):
            note(f"leadership moved away from {victim.name} meanwhile; killing it anyway")
        streams = watcher.watch.endpoint if watcher.watch else "-"
        note(
            f"kill {role} {victim.name} (pid {victim.pid}, port {victim.client_port}); the "
            f"watch streams from {streams}"
        )
        await victim.kill()
        await writes.wait_for(2 * WRITES_PER_PHASE, PHASE_SECONDS)
        note(f"the watch streams from {watcher.watch.endpoint if watcher.watch else '-'}")
        note(f"restart {victim.name}")
        with anyio.fail_after(PHASE_TIMEOUT + 30):
            await victim.restart()
        note(f"{victim.name} is back (pid {victim.pid})")
        await writes.wait_for(3 * WRITES_PER_PHASE, PHASE_SECONDS)
        stop.set()
        with anyio.fail_after(WRITE_TIMEOUT + 5):
            await stopped.wait()  # its last write returned (and was counted)
        note("writer stopped")
        tasks.cancel_scope.cancel()

    with anyio.fail_after(PHASE_TIMEOUT):
        final = (await store.range(b"\0", count_only=True)).header.revision
        await log.sync(store)
    await watcher.drain(final)
    note(f"watch drained to revision {final}")

    # Every acknowledged write is there, as acknowledged, and in the history.
    problems: list[str] = []
    with anyio.fail_after(PHASE_TIMEOUT):
        current = {kv.key: kv for kv in (await store.range(PREFIX, prefix_end(PREFIX))).kvs}
    for key, (value, revision) in writes.acked.items():
        kv = current.get(key)
        if kv is None or kv.value != value or kv.mod_revision != revision:
            problems.append(f"acknowledged {key!r}={value!r} at {revision}, read {kv!r}")
        event = log.event(revision, key)
        if event is None or event.kv.value != value:
            problems.append(f"acknowledged {key!r} at {revision} is not in the history there")
    applied = {k for k, v in writes.unknown.items() if k in current and current[k].value == v}
    for key in writes.refused:
        if key in current:
            problems.append(f"{key!r} was refused as unsent, yet it is in the store")
    if writes.revisions != sorted(set(writes.revisions)):
        problems.append(f"acknowledged revisions do not only grow: {writes.revisions}")
    problems += [f"history anomaly: {a}" for a in log.anomalies]
    for member in cluster.members:  # the restarted one too, once it caught up
        problems += await member_has(member, final, current)

    summary = (
        f"distributed ({role} killed): {writes.attempts} writes attempted, "
        f"{len(writes.acked)} acknowledged (all read back), {len(writes.unknown)} outcome "
        f"unknown ({len(applied)} found applied, {len(writes.unknown) - len(applied)} not), "
        f"{len(writes.refused)} refused unsent; watch: {len(checker.responses)} responses, "
        f"{len(checker.events)} events through revision {final}, {watcher.resumes} re-created "
        f"by hand; {time.monotonic() - began:.1f} s\n  "
        + "\n  ".join(timeline)
        + "".join(f"\n  write error: {x:.300}" for x in writes.errors[:10])
        + "".join(f"\n  watch ended: {x:.300}" for x in watcher.failures)
    )
    print(summary)
    assert not problems, "\n".join(problems) + "\n" + summary
    assert_watches_ok(checker, through=final)
    assert len(checker.events) == len(writes.acked) + len(applied), summary
