"""A flysim serving deployments/scenarios/cost-known.yaml (known machines and volumes) and
helpers the cost flow tests share: prices from the inventory, artifacts of a run.

Import the fixtures into a test module: `from tests.flows.cost_sim import cost_sim_fixture,
cost_sim_server_fixture  # noqa: F401`; tests then ask for `cost_sim`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotdash_ops.cost.pricing import PriceTable, load_prices
from hotdash_ops.inventory import load_inventory
from tests import artifacts
from tests.conftest import ROOT, Flysim, FlysimLauncher

SCENARIO = ROOT / "deployments/scenarios/cost-known.yaml"
INVENTORY = ROOT / "deployments/inventory.yaml"
APPS = [
    "hotdash-staging",
    "hotdash-production",
    "hotdash-agent-service",
    "hotdash-llamaindex-mcp",
    "hotdash-chatwoot",
    "hotdash-old-preview",
]


def prices() -> PriceTable:
    return load_prices(load_inventory(INVENTORY).prices)


@pytest.fixture(scope="session", name="cost_sim_server")
def cost_sim_server_fixture(flysim_launcher: FlysimLauncher) -> Flysim:
    return flysim_launcher.get(SCENARIO)


@pytest.fixture(name="cost_sim")
def cost_sim_fixture(
    cost_sim_server: Flysim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Flysim]:
    """The cost-known scenario in its starting state, the environment pointing at it."""
    cost_sim_server.reset()
    for key, value in cost_sim_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOTDASH_INVENTORY", str(INVENTORY))
    monkeypatch.setenv("HOTDASH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOTDASH_PAUSE_POLL_SECONDS", "1")
    yield cost_sim_server
    cost_sim_server.reset()


async def artifacts_of(state: Any) -> dict[str, Any]:
    """The run's keyed artifacts: key -> data (tables parsed from JSON)."""
    out: dict[str, Any] = {}
    for key, a in (await artifacts.artifacts_of(state)).items():
        data = a.data
        if a.type == "table" and isinstance(data, str):
            data = json.loads(data)
        out[key] = data
    return out


def volumes_of(state: dict[str, Any], app: str) -> dict[str, dict[str, Any]]:
    """flysim's volumes of one app, by id (from /_sim/state)."""
    return {v["id"]: v for v in state["apps"][app]["volumes"]}
