"""The ten-line controller in examples/website_pages.py, run in a virtual-time cluster.

The example ends with ``kcore.run(websites)``; here that call is intercepted to take the
controller, which then runs inside ``kcore.testing.Cluster``.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

import kcore
from kcore.kinds import ConfigMap
from kcore.testing.cluster import Cluster

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "website_pages.py"


def load_example(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    captured: list[Any] = []
    monkeypatch.setattr(kcore, "run", lambda *controllers, **_: captured.extend(controllers))
    namespace = runpy.run_path(str(EXAMPLE), run_name="website_pages")
    assert len(captured) == 1, "the example should hand one controller to kcore.run"
    return namespace["Website"], captured[0]


def test_the_example_is_at_most_ten_lines() -> None:
    lines = [line for line in EXAMPLE.read_text().splitlines() if line.strip()]
    assert len(lines) <= 10, "\n".join(lines)


@pytest.mark.anyio
async def test_websites_keep_one_config_map_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    website_cls, controller = load_example(monkeypatch)
    async with Cluster(controller) as cluster:
        client = cluster.client
        site = await client.create(website_cls(metadata=kcore.ObjectMeta(name="shop"), pages=3))

        async def names() -> list[str]:
            listed = await client.list(ConfigMap, "default")
            return sorted(cm.metadata.name for cm in listed)

        async def pages_are(expected: list[str]) -> bool:
            return await names() == expected

        await cluster.wait_for(lambda: pages_are(["shop-0", "shop-1", "shop-2"]), timeout=60)
        page = await client.get(ConfigMap, "shop-1")
        (ref,) = page.metadata.owner_references
        assert (ref.kind, ref.name, ref.uid, ref.controller) == (
            "Website",
            "shop",
            site.metadata.uid,
            True,
        )

        await client.update(kcore.evolve(site, pages=1))
        await cluster.wait_for(lambda: pages_are(["shop-0"]), timeout=60)

        # A page deleted by hand comes back: the controller owns the set of pages.
        await client.delete(ConfigMap, "shop-0")
        await cluster.wait_for(lambda: pages_are(["shop-0"]), timeout=60)
        assert controller.stats["errors"] == 0
