"""``python -m kcore.store.server``: serve a kcore store on etcd's gRPC API from a shell.

    python -m kcore.store.server --listen 127.0.0.1:2379 [--cert F --key F [--cacert F]]

Serves an in-memory store (everything is lost on exit), or with ``--data-dir DIR`` the
durable store kept in DIR (write-ahead log + snapshots; acknowledged writes survive a
crash). Prints one line saying where it listens and with which backend, then serves until
SIGINT or SIGTERM, and exits 0 after a clean shutdown (asyncio only, like the server). A
data dir it cannot start from (damaged, from a newer kcore, in use) exits 1 with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from kcore.errors import KcoreError
from kcore.store.durable import DurableStore
from kcore.store.memory import MemoryStore
from kcore.store.server import EtcdServer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kcore.store.server",
        description="Serve a kcore store on etcd v3's gRPC API (etcdctl works against it).",
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:2379",
        metavar="HOST:PORT",
        help="address to listen on (port 0 picks a free one; default %(default)s)",
    )
    p.add_argument("--cert", help="server certificate (PEM) for TLS; needs --key")
    p.add_argument("--key", help="server private key (PEM) for TLS; needs --cert")
    p.add_argument(
        "--cacert", help="CA (PEM) that client certificates must be signed by (mutual TLS)"
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep data in DIR with the durable store (created if missing); default: in memory",
    )
    return p


async def _serve(args: argparse.Namespace) -> int:
    if args.data_dir is not None:
        store: MemoryStore = DurableStore(args.data_dir)
        backend = f"DurableStore (data dir {args.data_dir})"
    else:
        store = MemoryStore()
        backend = "MemoryStore (in memory; data is lost on exit)"
    async with store:
        server = EtcdServer(
            store, args.listen, cert_file=args.cert, key_file=args.key, ca_file=args.cacert
        )
        async with server:
            scheme = "https" if server.tls else "http"
            tls = " with mutual TLS" if args.cacert else (" with TLS" if server.tls else "")
            print(
                f"kcore etcd-API server listening on {scheme}://{server.address}{tls}, "
                f"backend: {backend}",
                flush=True,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.cert is None) != (args.key is None):
        parser.error("--cert and --key go together")
    if args.cacert is not None and args.cert is None:
        parser.error("--cacert (client certificate checking) needs --cert and --key")
    try:
        return asyncio.run(_serve(args))
    except KcoreError as err:
        print(f"kcore: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # unreadable certificate or key file
        print(f"kcore: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
