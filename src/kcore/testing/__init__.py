"""kcore.testing: helpers for testing kcore and programs built on it.

``watchcheck`` checks a watch's responses against what a store committed — etcd's six watch
guarantees plus prev_kv and filter correctness — for any ``kcore.store.Store`` backend (the
memory store, a real etcd, kcore's etcd-API server). ``etcd`` runs real etcd members and
3-member clusters on loopback for tests (random ports, private data dirs, stopped by PID);
``containerd`` does the same for containerd 1.6. ``cluster`` is the in-process cluster on a
virtual clock for testing controllers (and the ``cluster`` pytest fixture, in
``pytest_plugin``).
"""

from kcore.testing.cluster import Cluster, wait_all_idle
from kcore.testing.containerd import ContainerdProcess, ContainerdStartError
from kcore.testing.etcd import EtcdCluster, EtcdProcess, EtcdStartError, EtcdTLS, free_port
from kcore.testing.watchcheck import (
    LogIncompleteError,
    WatchChecker,
    WriteLog,
    assert_watches_ok,
    watch_until,
)

__all__ = [
    "Cluster",
    "ContainerdProcess",
    "ContainerdStartError",
    "EtcdCluster",
    "EtcdProcess",
    "EtcdStartError",
    "EtcdTLS",
    "LogIncompleteError",
    "WatchChecker",
    "WriteLog",
    "assert_watches_ok",
    "free_port",
    "wait_all_idle",
    "watch_until",
]
