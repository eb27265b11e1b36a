"""enable-auto-stop against flysim's cost-known scenario and a real Prefect server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError

from flows.enable_auto_stop import ARTIFACT_KEY, enable_auto_stop
from tests.flows.cost_sim import (  # noqa: F401  (fixtures)
    artifacts_of,
    cost_sim_fixture,
    cost_sim_server_fixture,
    prices,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

BACKGROUND = ["hotdash-agent-service", "hotdash-llamaindex-mcp"]


def services(state: dict, app: str) -> dict[str, list[tuple]]:
    """machine id -> [(autostop, autostart, min_machines_running)] per service."""
    return {
        m["id"]: [
            (s["autostop"], s["autostart"], s["min_machines_running"])
            for s in m["config"].get("services", [])
        ]
        for m in state["apps"][app]["machines"]
    }


def audit_records() -> list[dict]:
    path = Path(os.environ["HOTDASH_STATE_DIR"]) / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_dry_run_shows_exact_changes_and_saving_and_changes_nothing(cost_sim) -> None:
    before = cost_sim.state()
    state = await enable_auto_stop(return_state=True)
    assert state.is_completed(), state.message
    after = cost_sim.state()
    assert after["apps"] == before["apps"]
    assert after["mutations"] == []
    assert audit_records() == []

    p = prices()
    agent = p.presets["shared"][1] + 0.75 * p.extra_ram_per_gb_month
    saving = (agent - p.stopped_rootfs_gb * p.stopped_rootfs_per_gb_month) * 0.5
    assert state.message == (
        f"dry run: 1 machine(s) would change, saving about ${saving:,.2f}/month"
    )
    report = (await artifacts_of(state))[ARTIFACT_KEY]
    assert "dry run: nothing changed" in report
    assert (
        "| hotdash-agent-service | agtrun000001 | started | 8002 | "
        "autostop=off, autostart=True, min_machines_running=1 | "
        "autostop=stop, autostart=True, min_machines_running=0 |"
    ) in report
    assert (
        "| hotdash-llamaindex-mcp | mcprun000001 | started | | already set | no change |" in report
    )
    # Default: the inventory's background services only.
    assert "hotdash-staging" not in report and "hotdash-chatwoot" not in report


async def test_applying_sets_every_machine_and_a_rerun_changes_nothing(cost_sim) -> None:
    state = await enable_auto_stop(dry_run=False, requested_by="Dana Ops", return_state=True)
    assert state.is_completed(), state.message
    after = cost_sim.state()
    for app in BACKGROUND:
        for machine, settings in services(after, app).items():
            assert settings == [("stop", True, 0)], (app, machine)
    # A release carrying the changed config, rolled out to the one machine.
    assert [(m["app"], m["kind"]) for m in after["mutations"]] == [
        ("hotdash-agent-service", "deploy"), ("hotdash-agent-service", "machine_update"),
    ]  # fmt: skip
    agent_app = after["apps"]["hotdash-agent-service"]
    assert agent_app["releases"][-1]["status"] == "complete"
    assert agent_app["config"]["http_service"]["auto_stop_machines"] == "stop"
    assert agent_app["config"]["http_service"]["min_machines_running"] == 0
    # Nothing else in the machine's config changed.
    [agent] = agent_app["machines"]
    assert agent["config"]["guest"] == {"cpu_kind": "shared", "cpus": 1, "memory_mb": 1024}
    assert agent["config"]["services"][0]["internal_port"] == 8002
    assert agent["config"]["services"][0]["checks"][0]["path"] == "/health"
    assert agent["config"]["image"] == agent_app["releases"][0]["image"]  # the running image
    started, record = audit_records()
    assert (record["actor"], record["action"], record["target"]) == (
        "Dana Ops",
        "autostop.enable",
        "hotdash-agent-service",
    )
    assert started["action"] == "autostop.enable.started"
    assert record["detail"]["version"] == 2 and record["detail"]["max_unavailable"] == 1
    assert record["detail"]["settings"] == {
        "autostop": "stop", "autostart": True, "min_machines_running": 0,
    }  # fmt: skip

    again = await enable_auto_stop(dry_run=False, return_state=True)
    assert again.is_completed(), again.message
    assert again.message.startswith("0 machine(s) updated")
    assert len(cost_sim.state()["mutations"]) == 2
    assert len(audit_records()) == 2


async def test_min_machines_running_on_chosen_apps_including_stopped_machines(cost_sim) -> None:
    state = await enable_auto_stop(
        apps=["hotdash-staging"], min_machines_running=1, dry_run=False, return_state=True
    )
    assert state.is_completed(), state.message
    assert services(cost_sim.state(), "hotdash-staging") == {
        "stgrun000001": [("stop", True, 1)],
        "stgstop00001": [("stop", True, 1)],
    }
    # flyctl updates a stopped machine with skip_launch: it stays stopped.
    machines = cost_sim.state()["apps"]["hotdash-staging"]["machines"]
    assert {m["id"]: m["state"] for m in machines} == {
        "stgrun000001": "started", "stgstop00001": "stopped",
    }  # fmt: skip
    # Keeping one machine running where none had to: a cost, shown as a negative saving.
    assert "saving about -$" in state.message


async def test_an_unknown_or_unreadable_app_changes_nothing(cost_sim) -> None:
    # Not in the inventory: refused with the known apps before anything runs.
    state = await enable_auto_stop(
        apps=["hotdash-agent-service", "hotdash-nope"], dry_run=False, return_state=True
    )
    assert state.is_failed()
    assert "apps: app 'hotdash-nope' is not in the inventory (known: hotdash-staging" in (
        state.message
    )
    # In the inventory but unreadable on Fly: nothing changes either.
    cost_sim.patch_app("hotdash-chatwoot", fault={"mode": "500", "scope": "reads"})
    state = await enable_auto_stop(
        apps=["hotdash-agent-service", "hotdash-chatwoot"], dry_run=False, return_state=True
    )
    assert state.is_failed()
    assert "nothing changed, could not read hotdash-chatwoot" in state.message
    assert cost_sim.state()["mutations"] == []


async def test_a_bad_app_name_is_refused_before_anything(cost_sim) -> None:
    with pytest.raises(ParameterTypeError, match="is not a Fly app name"):
        await enable_auto_stop(apps=["Bad_App"], dry_run=False)
    assert cost_sim.state()["mutations"] == []
