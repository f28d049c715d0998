"""Compaction really frees memory in MemoryStore (measured with tracemalloc, not estimated)."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from kcore.store import MemoryStore

pytestmark = pytest.mark.anyio


async def test_compaction_frees_superseded_versions() -> None:
    store = MemoryStore()
    tracemalloc.start()
    try:
        for i in range(20_000):  # 100 keys, 200 versions each, 1 KiB values
            await store.put(b"key-%03d" % (i % 100), b"%07d" % i + b"x" * 1017)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        head = (await store.status()).header.revision
        await store.compact(head)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert before > 20_000 * 1024  # the history really was held
    assert after < before / 20, f"compaction freed too little: {before} -> {after} bytes"
    latest = await store.range(b"key-", b"key.")
    assert latest.count == 100  # the latest version of every key survives
    assert all(kv.version == 200 for kv in latest.kvs)
