"""A walk-through of kcore's embedded store: etcd v3 semantics inside a Python object.

In order, it shows: puts and the revision/version each one gets; a compare-and-swap txn that
succeeds and one that fails; a watch started from an old revision replaying history; a
compaction, after which a read below it fails with etcd's own message; and a lease expiring,
its keys deleted in one revision, seen by a watch. Time is a VirtualClock, so the lease's
10 seconds pass instantly. Run it with ``make demo``.
"""

from __future__ import annotations

import anyio

from kcore.clock import VirtualClock
from kcore.errors import CompactedError
from kcore.store import (
    Compare,
    CompareResult,
    CompareTarget,
    MemoryStore,
    PutRequest,
    RangeRequest,
    Watch,
    WatchResponse,
    prefix_end,
)

COLOR = b"/config/color"


async def next_response(watch: Watch) -> WatchResponse:
    with anyio.fail_after(5):  # a demo never hangs: the watch answers or we fail loudly
        return await watch.__anext__()


async def main() -> None:
    clock = VirtualClock()
    async with MemoryStore(clock=clock) as store:
        print("1. Puts: every change adds one revision; a key's version counts its puts.")
        for key, value in [(COLOR, b"blue"), (b"/config/size", b"large"), (COLOR, b"green")]:
            rev = (await store.put(key, value)).header.revision
            kv = (await store.range(key)).kvs[0]
            print(f"   put {key.decode()}={value.decode()} -> revision {rev}, version {kv.version}")

        print("2. A txn: compare-and-swap on the key's mod_revision.")
        seen = (await store.range(COLOR)).kvs[0].mod_revision
        for attempt, value in [("first", b"red"), ("second", b"yellow")]:
            resp = await store.txn(
                compare=[Compare(COLOR, CompareTarget.MOD, CompareResult.EQUAL, mod_revision=seen)],
                success=[PutRequest(COLOR, value)],
                failure=[RangeRequest(COLOR)],
            )
            if resp.succeeded:
                print(f"   {attempt} CAS (mod_revision == {seen}) succeeded: {value.decode()}")
            else:
                now = resp.responses[0].kvs[0]  # the failure branch's range
                print(
                    f"   {attempt} CAS (mod_revision == {seen}) failed: color is "
                    f"{now.value.decode()} since revision {now.mod_revision}"
                )

        print("3. A watch from revision 2 replays the history since then.")
        async with await store.watch(b"/config/", prefix_end(b"/config/"), start_revision=2) as w:
            current = (await store.status()).header.revision
            last = 1
            while last < current:
                for ev in (await next_response(w)).events:
                    kv, last = ev.kv, ev.kv.mod_revision
                    change = f"{kv.key.decode()}={kv.value.decode()}"
                    print(f"   revision {last}: {ev.type.name} {change}")

        print("4. Compaction frees history below a revision.")
        await store.compact(4)
        print("   compacted at revision 4")
        try:
            await store.range(COLOR, revision=3)
        except CompactedError as e:
            print(f"   reading {COLOR.decode()} at revision 3 fails: {e}")

        print("5. A lease: keys attached to it vanish together when it expires.")
        lease = await store.lease_grant(10)
        for node in (b"/nodes/a", b"/nodes/b"):
            await store.put(node, b"ready", lease=lease.id)
        print(f"   lease {lease.id:x} granted for {lease.ttl}s; /nodes/a and /nodes/b attached")
        async with await store.watch(b"/nodes/", prefix_end(b"/nodes/")) as w:
            await clock.advance(11)
            print("   11 seconds later (virtual time) the lease expires:")
            deleted = 0
            while deleted < 2:
                for ev in (await next_response(w)).events:
                    deleted += 1
                    print(f"   revision {ev.kv.mod_revision}: {ev.type.name} {ev.kv.key.decode()}")
        left = (await store.range(b"/nodes/", prefix_end(b"/nodes/"))).count
        print(f"   keys left under /nodes/: {left}")


if __name__ == "__main__":
    anyio.run(main, backend="asyncio")
