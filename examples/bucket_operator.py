"""A fuller controller: owned objects, status, and a finalizer — run in a virtual-time cluster.

A ``Bucket`` asks for ``shards`` storage shards. The controller:

* adds its finalizer first, so a deleted Bucket waits for its cleanup;
* keeps one ConfigMap per shard, owned by the Bucket (``ctx.own``);
* writes ``status`` (phase, readyShards, observedGeneration) through the status subresource;
* on deletion archives and removes the shards, then removes its finalizer, and the Bucket goes.

``python examples/bucket_operator.py`` (or ``make demo``) plays a short story in a
``kcore.testing.Cluster`` and prints what the controller does, stamped with virtual time.
"""

from __future__ import annotations

import anyio

import kcore
from kcore import ObjectMeta, evolve
from kcore.kinds import ConfigMap
from kcore.testing.cluster import Cluster

FINALIZER = "example.com/archive-shards"


@kcore.struct
class BucketSpec:
    shards: int = 1


@kcore.struct
class BucketStatus:
    phase: str = ""
    ready_shards: int = 0
    observed_generation: int = 0


@kcore.kind("example.com/v1", "Bucket")
class Bucket(kcore.Object):
    spec: BucketSpec = BucketSpec()
    status: BucketStatus = BucketStatus()


def say(ctx: kcore.Context, text: str) -> None:
    print(f"[t={ctx.clock.now():7.3f}s] {text}")


@kcore.controller(Bucket, owns=[ConfigMap])
async def buckets(ctx: kcore.Context, req: kcore.Request) -> kcore.Result | None:
    bucket: Bucket | None = ctx.object
    if bucket is None:
        return None
    meta = bucket.metadata
    if meta.deletion_timestamp is not None:
        if FINALIZER in meta.finalizers:
            shards = await ctx.list(ConfigMap, meta.namespace, label_selector={"bucket": req.name})
            say(ctx, f"bucket {req.name}: archiving {len(shards)} shard(s) before deletion")
            await ctx.own(ConfigMap, [])
            finalizers = [f for f in meta.finalizers if f != FINALIZER]
            await ctx.client.update(evolve(bucket, metadata__finalizers=finalizers))
            say(ctx, f"bucket {req.name}: finalizer removed; the bucket can go")
        return None
    if FINALIZER not in meta.finalizers:
        await ctx.client.update(evolve(bucket, metadata__finalizers=[*meta.finalizers, FINALIZER]))
        say(ctx, f"bucket {req.name}: finalizer added")
        return None  # the update is a change of its own: the next reconcile continues
    shards = [
        ConfigMap(
            metadata=ObjectMeta(name=f"{req.name}-shard-{i}", labels={"bucket": req.name}),
            data={"shard": str(i)},
        )
        for i in range(bucket.spec.shards)
    ]
    owned = await ctx.own(ConfigMap, shards)
    status = BucketStatus(
        phase="Ready", ready_shards=len(owned), observed_generation=meta.generation
    )
    if bucket.status != status:
        await ctx.update_status(evolve(bucket, status=status))
        say(ctx, f"bucket {req.name}: {len(owned)} shard(s) ready (generation {meta.generation})")
    return kcore.Result(requeue_after=300)  # look again every 5 minutes even if nothing changes


async def main() -> None:
    async with Cluster(buckets) as cluster:
        client = cluster.client

        async def shard_count() -> int:
            listed = await client.list(ConfigMap, "default", label_selector="bucket=photos")
            return len(listed)

        async def status_is(shards: int) -> bool:
            bucket = await client.get(Bucket, "photos")
            return bucket.status.ready_shards == shards and bucket.status.phase == "Ready"

        print("creating bucket photos with 2 shards")
        await client.create(Bucket(metadata=ObjectMeta(name="photos"), spec=BucketSpec(shards=2)))
        await cluster.wait_for(lambda: status_is(2), timeout=60)
        print(f"shards: {await shard_count()}")

        print("scaling bucket photos to 4 shards")
        bucket = await client.get(Bucket, "photos")
        await client.update(evolve(bucket, spec__shards=4))
        await cluster.wait_for(lambda: status_is(4), timeout=60)
        print(f"shards: {await shard_count()}")

        print("letting 10 minutes pass (the controller re-checks every 5)")
        await cluster.advance(600)

        print("deleting bucket photos")
        await client.delete(Bucket, "photos")

        async def gone() -> bool:
            try:
                await client.get(Bucket, "photos")
            except kcore.errors.NotFoundError:
                return True
            return False

        await cluster.wait_for(gone, timeout=60)
        print(f"bucket photos deleted; shards left: {await shard_count()}")
        print(f"reconciles: {buckets.stats['reconciles']}, errors: {buckets.stats['errors']}")


if __name__ == "__main__":
    anyio.run(main)
