"""Crash test: a writer process is SIGKILLed at seeded random moments, again and again.

Each run starts ``_crash_writer.py`` on the same data dir (so every run also recovers from
the previous crash), waits for a seeded number of acknowledgements (sometimes none: the
kill then lands during start-up or recovery), kills the process by its PID, reads every
acknowledgement it reported, then opens the store here and checks:

* every acknowledged put, delete and txn is in the history at the revision it was
  acknowledged at; acknowledged lease grants exist unless a revoke was attempted,
  acknowledged revokes are gone;
* the revision never goes back: the next run starts exactly at the revision checked here,
  and it is at least every acknowledged revision;
* no txn is half-applied: a txn writes the same ``txn:<id>:<n>`` value to n keys, and in
  every retained revision each such value appears on exactly n keys or not at all;
* the watch validator passes over the whole retained history (a watch with prev_kv from
  the oldest retained revision), and the history has no anomalies.

History is compacted to the last 300 revisions after each check, to keep the checks cheap
and to exercise compaction + snapshot under crashes too. ``KCORE_CRASH_RUNS`` sets the
number of runs (default 100, about a minute). Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

from kcore.store.durable import DurableStore
from kcore.testing.watchcheck import WatchChecker, WriteLog, assert_watches_ok, watch_until

WRITER = Path(__file__).with_name("_crash_writer.py")
RUNS = int(os.environ.get("KCORE_CRASH_RUNS", "100"))
SEED = int(os.environ.get("KCORE_CRASH_SEED", "20261128"))
RUN_TIMEOUT = 20.0  # seconds for one run's writer to produce what it was asked for


def _pump(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _run_writer(data: Path, seed: int, want: int, extra: float, errlog: Path) -> list[Any]:
    """Start the writer, kill it after ``want`` acknowledgements (+ ``extra`` seconds)."""
    with open(errlog, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(data), str(seed)],
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdout is not None
    lines: queue.Queue[bytes | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    got: list[bytes] = []
    ended = False
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while len(got) < want + 1:  # +1: the "ready" line
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                ended = True
                break
            got.append(line)
        if extra:
            time.sleep(extra)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    reader.join(timeout=10)
    assert not reader.is_alive()
    while (line := lines.get(timeout=1)) is not None:
        got.append(line)
    assert not ended or proc.returncode == -signal.SIGKILL, errlog.read_text()[-3000:]
    assert proc.returncode == -signal.SIGKILL, errlog.read_text()[-3000:]
    acks = []
    for raw in got:
        try:
            acks.append(json.loads(raw))
        except ValueError:
            assert raw is got[-1], raw  # only the very last line can be cut by the kill
    return acks


async def _check(
    data: Path, acks: list[dict[str, Any]], revoking: set[int], last_rev: int
) -> tuple[int, int]:
    """Verify the store after a crash; return (its revision, writes checked)."""
    checked = 0
    with anyio.fail_after(60):
        async with DurableStore(data) as store:
            status = await store.status()
            rev, compact = status.header.revision, status.compact_revision
            assert rev >= last_rev, f"revision went back from {last_rev} to {rev}"
            for ack in acks:
                op = ack["op"]
                if op == "ready":
                    assert ack["rev"] == last_rev
                    continue
                if op == "revoking":
                    continue
                checked += 1
                if "rev" in ack:
                    assert ack["rev"] <= rev
                if op == "put":
                    resp = await store.range(ack["key"].encode(), revision=ack["rev"])
                    assert [(kv.value, kv.mod_revision) for kv in resp.kvs] == [
                        (ack["value"].encode(), ack["rev"])
                    ], ack
                elif op == "delete":
                    resp = await store.range(ack["key"].encode(), revision=ack["rev"])
                    assert resp.kvs == (), ack
                elif op == "txn":
                    for key in ack["keys"]:
                        resp = await store.range(key.encode(), revision=ack["rev"])
                        assert [(kv.value, kv.mod_revision) for kv in resp.kvs] == [
                            (ack["value"].encode(), ack["rev"])
                        ], ack
                elif op == "grant":
                    ttl = await store.lease_time_to_live(ack["id"])
                    assert ttl.ttl > 0 or ack["id"] in revoking, ack
                elif op == "revoke":
                    assert (await store.lease_time_to_live(ack["id"])).ttl == -1, ack

            # the retained history: atomic txns, and the watch validator over all of it
            log = WriteLog() if compact <= 1 else await WriteLog.starting_at(store, compact)
            await log.sync(store)
            assert log.anomalies == []
            for r in range(log.first_revision, rev + 1):
                counts = Counter(
                    e.kv.value for e in log.events_at(r) if e.kv.value.startswith(b"txn:")
                )
                for value, n in counts.items():
                    assert n == int(value.rsplit(b":", 1)[1]), (r, value, n)
            start = log.first_revision
            checker = WatchChecker(log, b"\0", b"\0", start_revision=start, prev_kv=True)
            async with await store.watch(b"\0", b"\0", start_revision=start, prev_kv=True) as w:
                await watch_until(w, checker, rev)
            assert_watches_ok(checker, through=rev)
            if rev - 300 > max(compact, 1):
                await store.compact(rev - 300)
    return rev, checked


@pytest.mark.anyio
async def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data = tmp_path / "data"
    last_rev = 1
    total_checked = 0
    revoking: set[int] = set()
    started = time.monotonic()
    for run in range(RUNS):
        seed = rng.randrange(1 << 30)
        want = rng.choice([0, rng.randrange(1, 30), rng.randrange(1, 300)])
        extra = rng.choice([0.0, 0.0, rng.uniform(0, 0.05)]) if want else rng.uniform(0, 0.3)
        acks = await anyio.to_thread.run_sync(
            _run_writer, data, seed, want, extra, tmp_path / "writer.err"
        )
        revoking.update(a["id"] for a in acks if a["op"] == "revoking")
        if want:
            assert acks and acks[0]["op"] == "ready", f"run {run}: writer never got ready"
        last_rev, checked = await _check(data, acks, revoking, last_rev)
        total_checked += checked
    elapsed = time.monotonic() - started
    print(
        f"crash test: {RUNS} SIGKILLed runs, {total_checked} acknowledged writes checked, "
        f"final revision {last_rev}, {elapsed:.1f} s"
    )
    assert total_checked > RUNS  # the runs really wrote
