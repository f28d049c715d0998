"""The generated protobuf Python is committed; this fails when it no longer matches proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_protos_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_etcd_wire_names_and_numbers() -> None:
    from kcore.store._etcdpb import kv_pb2, rpc_pb2

    kv = kv_pb2.KeyValue.DESCRIPTOR
    assert kv.full_name == "mvccpb.KeyValue"
    assert {f.name: f.number for f in kv.fields} == {
        "key": 1,
        "create_revision": 2,
        "mod_revision": 3,
        "version": 4,
        "value": 5,
        "lease": 6,
    }
    services = rpc_pb2.DESCRIPTOR.services_by_name
    assert set(services) == {"KV", "Watch", "Lease", "Maintenance"}
    assert [m.name for m in services["KV"].methods] == [
        "Range",
        "Put",
        "DeleteRange",
        "Txn",
        "Compact",
    ]
    compare = rpc_pb2.Compare.DESCRIPTOR
    assert compare.fields_by_name["range_end"].number == 64
    assert rpc_pb2.WatchResponse.DESCRIPTOR.fields_by_name["events"].number == 11
