"""``kcore.run(*controllers)``: the one call that runs controllers, for scripts and examples.

With no store it runs on a fresh in-memory store (a sandbox: create objects through
``client=`` or another task); pass ``store=EtcdStore(...)`` or ``DurableStore(path)`` to work on
real data. It creates the "default" namespace if missing, runs a Manager until Ctrl-C or
SIGTERM, and shuts down gracefully.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from kcore.api import Client
from kcore.reconcile.controller import Controller
from kcore.reconcile.manager import Manager
from kcore.store import MemoryStore, Store

__all__ = ["run", "run_async"]


async def run_async(
    *controllers: Controller[Any],
    store: Store | None = None,
    client: Client | None = None,
    setup: Callable[[Client], Awaitable[None]] | None = None,
    **manager_options: Any,
) -> None:
    """Run ``controllers`` until cancelled or signalled; ``setup(client)`` runs first."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            if store is None:
                store = await stack.enter_async_context(MemoryStore())
            assert store is not None
            client = Client(store)
        await client.ensure_namespaces("default")
        manager = Manager(client, **manager_options).add(*controllers)
        async with anyio.create_task_group() as group:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        manager.stop()
                        return

            group.start_soon(stop_on_signal)
            if setup is not None:
                await setup(client)
            await manager.run()
            group.cancel_scope.cancel()


def run(*controllers: Controller[Any], **options: Any) -> None:
    """Run ``controllers`` (see :func:`run_async` for the options) until Ctrl-C."""
    anyio.run(lambda: run_async(*controllers, **options))
