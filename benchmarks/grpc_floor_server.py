"""The floor for the etcd-API benchmark: a bare grpc.aio server that only stores into a dict.

It answers etcd's KV.Put and KV.Range (single key) with the same protobuf messages and no
MVCC, validation, watch or bookkeeping at all, so it shows what one grpc.aio process costs by
itself. kcore's etcd-API server is measured against it (and against real etcd) by
benchmarks/etcd_bench.py.

Usage: python benchmarks/grpc_floor_server.py --listen 127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import grpc

from kcore.store._etcdpb import kv_pb2, rpc_pb2


async def serve(listen: str) -> None:
    data: dict[bytes, bytes] = {}
    revision = 1

    async def put(request: rpc_pb2.PutRequest, context: Any) -> rpc_pb2.PutResponse:
        nonlocal revision
        revision += 1
        data[request.key] = request.value
        return rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=revision))

    async def range_(request: rpc_pb2.RangeRequest, context: Any) -> rpc_pb2.RangeResponse:
        value = data.get(request.key)
        kvs = [kv_pb2.KeyValue(key=request.key, value=value)] if value is not None else []
        return rpc_pb2.RangeResponse(
            header=rpc_pb2.ResponseHeader(revision=revision), kvs=kvs, count=len(kvs)
        )

    handlers = {
        "Put": grpc.unary_unary_rpc_method_handler(
            put, rpc_pb2.PutRequest.FromString, rpc_pb2.PutResponse.SerializeToString
        ),
        "Range": grpc.unary_unary_rpc_method_handler(
            range_, rpc_pb2.RangeRequest.FromString, rpc_pb2.RangeResponse.SerializeToString
        ),
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("etcdserverpb.KV", handlers),)
    )
    server.add_insecure_port(listen)
    await server.start()
    print(f"floor server listening on {listen}", flush=True)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    asyncio.run(serve(parser.parse_args().listen))


if __name__ == "__main__":
    main()
