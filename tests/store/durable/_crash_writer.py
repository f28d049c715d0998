"""The crash test's victim: writes to a DurableStore and reports each acknowledgement.

    python _crash_writer.py DATA_DIR SEED

Runs until killed. Several concurrent tasks do puts, deletes, multi-key txns, lease grants
(and puts under them) and revocations; after each call returns, one JSON line on stdout
says what was acknowledged and at which revision. The line is flushed before the task goes
on, so the parent never hears of a write that was not acknowledged.
"""

from __future__ import annotations

import json
import random
import sys

import anyio

from kcore.store import DeleteRangeRequest, PutRequest
from kcore.store.durable import DurableStore

TASKS = 6


def report(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def worker(store: DurableStore, rng: random.Random, name: str) -> None:
    leases: list[int] = []
    for i in range(1_000_000):  # bounded; the parent kills it long before
        token = f"{name}.{i}"
        roll = rng.random()
        key = f"/c/{rng.randrange(40)}".encode()
        if roll < 0.4:
            lease = rng.choice(leases) if leases and rng.random() < 0.3 else 0
            resp = await store.put(key, token.encode(), lease=lease)
            report(op="put", key=key.decode(), value=token, rev=resp.header.revision)
        elif roll < 0.55:
            r = await store.delete_range(key)
            report(op="delete", key=key.decode(), rev=r.header.revision, deleted=r.deleted)
        elif roll < 0.8:
            n = rng.randrange(2, 5)
            keys = sorted({f"/x/{rng.randrange(40)}" for _ in range(n)})
            value = f"txn:{token}:{len(keys)}"
            ops = [PutRequest(k.encode(), value.encode()) for k in keys]
            t = await store.txn([], [*ops, DeleteRangeRequest(b"/gone/" + token.encode())], [])
            report(op="txn", keys=keys, value=value, rev=t.header.revision)
        elif roll < 0.9 or not leases:
            g = await store.lease_grant(3600)
            leases.append(g.id)
            report(op="grant", id=g.id)
        else:
            lease_id = leases.pop(rng.randrange(len(leases)))
            sys.stdout.write(json.dumps({"op": "revoking", "id": lease_id}) + "\n")
            sys.stdout.flush()
            r = await store.lease_revoke(lease_id)
            report(op="revoke", id=lease_id, rev=r.header.revision)


async def main(path: str, seed: int) -> None:
    async with DurableStore(path, snapshot_every=200) as store:
        report(op="ready", rev=(await store.status()).header.revision)
        async with anyio.create_task_group() as tg:
            for t in range(TASKS):
                tg.start_soon(worker, store, random.Random(seed * 100 + t), f"s{seed}t{t}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], int(sys.argv[2]))
