"""etcdctl runs one script against real etcd 3.4 and against kcore's server: same transcript.

The script is ``etcdctl_script.sh`` (beside this file): put/get with ``--prefix``, ``--rev``,
``--limit``, sorting, ``-w json`` and ``-w fields``; del; txn from stdin (plain, ``-w json``
and ``--interactive``); watches with ``--rev``, ``--prefix``, ``--prev-kv`` and ``-w json``
(history, live, and one canceled by compaction), each stopped by PID after the expected number
of lines; lease grant/put with a lease/timetolive/keep-alive ``--once``/list/revoke and lease
errors; compaction (also ``--physical`` and refused ones); endpoint status (simple, json,
table) and health. It runs once against a fresh real etcd (``EtcdProcess``) and once against
``python -m kcore.store.server --listen 127.0.0.1:0`` (a subprocess, as a user would start it).

What is normalised before the two transcripts are compared, and why:

* the endpoint address (``127.0.0.1:<port>``) -> ``<endpoint>``: random ports;
* cluster and member IDs (JSON ``cluster_id``/``member_id``/``leader``, ``-w fields``
  ``ClusterID``/``MemberID``, the ID column of endpoint status) -> ``<id>``: per cluster;
* raft fields (``raft_term``, ``raftTerm``, ``raftIndex``, ``raftAppliedIndex`` and the
  table/simple columns RAFT TERM, RAFT INDEX, RAFT APPLIED INDEX) -> ``<raft>``: kcore has no
  raft log; its index is the revision;
* lease IDs (hex in text, decimal in JSON) -> ``<lease-N>``, numbered by grant order: the
  server chooses them;
* database sizes (``dbSize``, ``dbSizeInUse``, the DB SIZE column) -> ``<size>``: bbolt pages
  versus an in-memory estimate;
* version strings (``3.4.23`` versus ``3.4.23-kcore``) -> ``<version>``;
* a lease's remaining TTL (``remaining(Ns)``, JSON ``ttl`` beside ``granted-ttl``) -> ``<ok>``
  when it is within 2 s of the granted TTL (real time passes), left as it is otherwise;
* etcdctl's own client log lines (``{"level":"warn",...,"msg":"retrying of unary invoker
  failed",...}``): the timestamp and connection target (a random client ID and the port) are
  dropped; the message and the gRPC error (code and text) are kept and compared;
* ``endpoint health``'s "took = <duration>" -> ``<duration>``; table borders and column
  padding (they follow the normalised cells' widths).

Everything else — keys, values, revisions, versions, counts, ``more``, events, error texts,
exit statuses — must be equal.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from kcore.testing.etcd import EtcdProcess
from tests.conftest import require_peer

pytestmark = [pytest.mark.anyio, pytest.mark.peers]

SCRIPT = Path(__file__).with_name("etcdctl_script.sh")
TIMEOUT = 60.0  # the script takes a few seconds; every wait is bounded by this

_RAFT_KEYS = {"raft_term", "raftTerm", "raftIndex", "raftAppliedIndex"}
_ID_KEYS = {"cluster_id", "member_id", "leader"}
_SIZE_KEYS = {"dbSize", "dbSizeInUse"}
_TTL_SLACK = 2  # seconds a remaining TTL may be below the granted one


async def run_script(endpoint: str) -> str:
    """The script's transcript (stdout and stderr) against ``endpoint``."""
    etcdctl = require_peer("etcdctl")
    env = {**os.environ, "ETCDCTL": etcdctl, "ETCDCTL_API": "3"}
    with anyio.fail_after(TIMEOUT):
        done = await anyio.run_process(
            ["bash", str(SCRIPT), endpoint], env=env, check=False, stderr=None
        )
    assert done.returncode == 0, f"the script failed ({done.returncode}) against {endpoint}"
    return str(done.stdout.decode())


async def etcd_transcript() -> str:
    require_peer("etcd")
    async with EtcdProcess() as etcd:
        return normalise(await run_script(etcd.endpoint), etcd.endpoint)


async def kcore_transcript() -> str:
    """Against ``python -m kcore.store.server`` (a fresh in-memory store), stopped by PID."""
    process = await anyio.open_process(
        [sys.executable, "-m", "kcore.store.server", "--listen", "127.0.0.1:0"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stderr=None,
    )
    try:
        assert process.stdout is not None
        line = b""
        with anyio.fail_after(TIMEOUT):
            while not line.endswith(b"\n"):  # bounded by the timeout
                line += await process.stdout.receive(1)
        match = re.search(r"http://(127\.0\.0\.1:\d+)", line.decode())
        assert match, f"kcore's server did not say where it listens: {line!r}"
        endpoint = match.group(1)
        return normalise(await run_script(endpoint), endpoint)
    finally:
        await stop(process)


async def stop(process: anyio.abc.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            with anyio.fail_after(10):
                await process.wait()
        except TimeoutError:
            process.kill()
            with anyio.fail_after(10):
                await process.wait()


# --- normalising ------------------------------------------------------------------------------


class Normaliser:
    """Takes out of a transcript what legitimately differs between the servers (module doc)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.leases: dict[str, str] = {}  # hex ID -> <lease-N>
        self.lease_numbers: dict[int, str] = {}  # decimal ID -> <lease-N>

    def learn_leases(self, text: str) -> None:
        for lease in re.findall(r"lease ([0-9a-f]+) granted with", text):
            name = self.leases.setdefault(lease, f"<lease-{len(self.leases) + 1}>")
            self.lease_numbers[int(lease, 16)] = name

    def line(self, line: str) -> str:
        line = line.replace(self.endpoint, "<endpoint>")
        stripped = line.strip()
        if stripped.startswith(("{", "[")):
            try:
                data = json.loads(stripped)
            except ValueError:
                pass
            else:
                return self.json_line(data)
        for lease, name in self.leases.items():
            line = re.sub(rf"\b{lease}\b", name, line)
        line = re.sub(r'^"(ClusterID|MemberID)" : \d+$', r'"\1" : <id>', line)
        line = re.sub(r'^"RaftTerm" : \d+$', '"RaftTerm" : <raft>', line)
        line = re.sub(r"took = \S+$", "took = <duration>", line)
        if line.startswith("<endpoint>, "):  # endpoint status, simple format
            return ", ".join(self.status_cells(line.split(", ")))
        if line.startswith("|"):  # a table row
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells and cells[0] == "<endpoint>":
                cells = self.status_cells(cells)
            return "| " + " | ".join(cells) + " |"
        if re.fullmatch(r"\+[-+]+\+", line):  # a table border
            return "+-+"
        return line

    @staticmethod
    def status_cells(cells: list[str]) -> list[str]:
        """ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, IS LEARNER, RAFT TERM, RAFT INDEX,
        RAFT APPLIED INDEX, ERRORS."""
        out = list(cells)
        if len(out) >= 9:
            out[1], out[2], out[3] = "<id>", "<version>", "<size>"
            out[6] = out[7] = out[8] = "<raft>"
        return out

    def json_line(self, data: Any) -> str:
        if isinstance(data, dict) and data.get("msg") and "level" in data:
            # etcdctl's client log: keep what happened, not when or on which connection
            return f"(etcdctl log: {data['msg']}: {data.get('error', '')})"
        return json.dumps(self.json_value(data), sort_keys=True)

    def json_value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            out = {k: self.json_value(v, k) for k, v in value.items()}
            if "granted-ttl" in out and isinstance(out.get("ttl"), int):
                granted = out["granted-ttl"]
                if granted - _TTL_SLACK <= out["ttl"] <= granted:
                    out["ttl"] = "<ok>"
            return out
        if isinstance(value, list):
            return [self.json_value(v, key) for v in value]
        if key in _ID_KEYS:
            return "<id>"
        if key in _RAFT_KEYS:
            return "<raft>"
        if key in _SIZE_KEYS:
            return "<size>"
        if key == "version" and isinstance(value, str):  # (a key-value's version is an int)
            return "<version>"
        if key in ("id", "lease", "ID") and value in self.lease_numbers:
            return self.lease_numbers[value]
        return value


def normalise(transcript: str, endpoint: str) -> str:
    n = Normaliser(endpoint)
    n.learn_leases(transcript)
    lines = [n.line(line) for line in transcript.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"granted with TTL\((\d+)s\), remaining\((\d+)s\)", _remaining_ok, text)


def _remaining_ok(match: re.Match[str]) -> str:
    granted, remaining = int(match.group(1)), int(match.group(2))
    shown = "<ok>" if granted - _TTL_SLACK <= remaining <= granted else str(remaining)
    return f"granted with TTL({granted}s), remaining({shown}s)"


# --- the test ---------------------------------------------------------------------------------


async def test_etcdctl_script_same_on_etcd_and_kcore() -> None:
    etcd = await etcd_transcript()
    kcore = await kcore_transcript()
    lines = etcd.count("\n") + 1
    commands = etcd.count("\n$ etcdctl ") + etcd.startswith("$ etcdctl ")
    print(f"etcdctl script: {commands} commands, {lines} transcript lines compared")
    if kcore != etcd:
        diff = "\n".join(
            difflib.unified_diff(
                etcd.splitlines(), kcore.splitlines(), "etcd 3.4.23", "kcore", lineterm="", n=2
            )
        )
        raise AssertionError(f"etcdctl transcripts differ (normalised, see module doc):\n{diff}")
